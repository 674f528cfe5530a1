//! Sockets: per-worker `SO_REUSEPORT` listeners and the accept loops.

pub mod detect;
pub mod listener;
pub mod ports;
