//! HTTP: the HTTP/1.1 connection loop and the message types it shares with HTTP/2.

pub mod body;
pub mod client;
pub mod date;
pub mod h1;
pub mod h2;
pub mod message;
