//! Talking to the app: the channels daprd uses to call it.

pub mod http;
pub mod trace;
