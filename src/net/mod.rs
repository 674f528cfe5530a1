//! Sockets: per-worker `SO_REUSEPORT` listeners and the accept loops.

pub mod detect;
pub mod host;
pub mod listener;
pub mod ports;
pub mod shutdown;
pub mod tls;
