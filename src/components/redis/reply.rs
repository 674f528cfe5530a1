//! What every Redis connection shares: its errors, and the reader that
//! decodes replies as they arrive and hands them on (to the pipelined
//! [`super::client::Client`] or a [`super::subscriber::Subscriber`]).

use std::fmt;
use std::time::Duration;

use bytes::BytesMut;
use local_sync::oneshot;
use redis_protocol::resp2::decode::decode_bytes_mut;

use super::dial::Reader;
use super::Frame;

/// Room made in a connection's read buffer before each read.
const READ_RESERVE: usize = 16 * 1024;

/// Why a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No connection (refused, reset, closed).
    Unavailable,
    /// No reply within the read timeout.
    Timeout,
    /// Redis sent something that is not RESP.
    Protocol,
}

/// A failed call.
#[derive(Clone, Debug)]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What happened, naming the Redis address.
    pub message: String,
}

impl Error {
    /// `redis at {host} is unreachable: {why}`.
    pub fn unreachable(kind: ErrorKind, host: &str, why: &str) -> Error {
        Error {
            kind,
            message: format!("redis at {host} is unreachable: {why}"),
        }
    }

    /// `redis at {host} did not answer within {limit}`.
    pub fn timeout(host: &str, limit: Duration) -> Error {
        Error {
            kind: ErrorKind::Timeout,
            message: format!("redis at {host} did not answer within {limit:?}"),
        }
    }
}

/// A failed call as components report it: a timeout, an outage, or other.
impl From<Error> for crate::components::ComponentError {
    fn from(e: Error) -> Self {
        use crate::components::ComponentErrorKind as Kind;
        let kind = match e.kind {
            ErrorKind::Timeout => Kind::Timeout,
            ErrorKind::Unavailable => Kind::Unavailable,
            ErrorKind::Protocol => Kind::Other,
        };
        Self::new(kind, e.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a connection's reader stopped.
pub(super) enum ReadEnd {
    /// The owner is gone (or the sink stopped with nothing to report).
    Quiet,
    /// The connection failed, or sent what it should not have.
    Failed(ErrorKind, String),
}

/// A connection's reader: decodes replies as they arrive and hands each
/// to `sink` (an `Err` stops it), until the owner drops the receiver of
/// `alive` or the connection fails.
pub(super) async fn read_replies(
    mut rd: Reader,
    alive: &mut oneshot::Sender<()>,
    mut sink: impl FnMut(Frame) -> Result<(), ReadEnd>,
) -> ReadEnd {
    let mut buf = BytesMut::with_capacity(READ_RESERVE);
    loop {
        loop {
            match decode_bytes_mut(&mut buf) {
                Ok(Some((frame, _, _))) => {
                    if let Err(end) = sink(frame) {
                        return end;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return ReadEnd::Failed(ErrorKind::Protocol, format!("malformed reply: {e}"))
                }
            }
        }
        let res = monoio::select! {
            r = rd.read(&mut buf, READ_RESERVE) => r,
            _ = alive.closed() => return ReadEnd::Quiet,
        };
        match res {
            Ok(0) => {
                return ReadEnd::Failed(
                    ErrorKind::Unavailable,
                    "connection closed by server".to_owned(),
                )
            }
            Ok(_) => {}
            Err(e) => return ReadEnd::Failed(ErrorKind::Unavailable, e.to_string()),
        }
    }
}
