//! Streamed bodies: what service invocation passes through without holding
//! a whole body in memory.
//!
//! A [`BodyStream`] is the receiving end of a small bounded channel of
//! `Bytes` chunks; whoever reads the bytes off a socket (the server's
//! connection loop, the app channel's response reader) is the sender and
//! waits when the receiver falls behind, so memory per stream stays at a
//! few chunks whatever the body's size.

use std::future::Future;
use std::io;

use bytes::{Bytes, BytesMut};
use local_sync::mpsc::bounded;
use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;
use monoio_codec::{Decoded, Decoder};
use monoio_http::h1::codec::decoder::ChunkedBodyDecoder;

/// Chunks in flight per stream.
pub const STREAM_DEPTH: usize = 4;
/// Read size while pumping.
const READ_CHUNK: usize = 64 * 1024;

/// Why a streamed body ended early.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The peer closed or reset the connection mid-body.
    #[error("connection closed mid-body")]
    Closed,
    /// Malformed framing (chunked encoding).
    #[error("malformed body framing")]
    Malformed,
    /// Longer than allowed.
    #[error("body exceeds {0} bytes")]
    TooLarge(usize),
    /// No bytes arrived in time.
    #[error("body read timed out")]
    Timeout,
}

/// The sending half: feeds a [`BodyStream`].
pub type BodySender = bounded::Tx<Result<Bytes, StreamError>>;

/// A body arriving in chunks.
pub struct BodyStream {
    rx: bounded::Rx<Result<Bytes, StreamError>>,
    /// The total length, when the sender knows it (`content-length`).
    pub len: Option<u64>,
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream")
            .field("len", &self.len)
            .finish()
    }
}

impl BodyStream {
    /// A stream and its sender.
    pub fn channel(len: Option<u64>) -> (BodySender, BodyStream) {
        let (tx, rx) = bounded::channel(STREAM_DEPTH);
        (tx, BodyStream { rx, len })
    }

    /// The next chunk; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<Bytes, StreamError>> {
        self.rx.recv().await
    }

    /// Collects the rest, up to `max` bytes.
    pub async fn collect(mut self, max: usize) -> Result<Bytes, StreamError> {
        let mut out = BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > max {
                return Err(StreamError::TooLarge(max));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }
}

/// How a body on the wire is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes.
    Length(u64),
    /// `transfer-encoding: chunked`.
    Chunked,
    /// Until the peer closes (responses only).
    Close,
}

/// What a pump left behind.
#[derive(Debug, PartialEq, Eq)]
pub enum Pumped {
    /// The whole body was read and delivered.
    Done,
    /// The receiver went away first; the rest of the body is unread.
    Abandoned,
    /// The body could not be read; the receiver was told.
    Failed(StreamError),
}

/// Where a body's bytes are read from: a socket, or a TLS session over one.
pub trait Source {
    /// Appends what arrives (at most about `want` bytes) to `buf`; `Ok(0)`
    /// at the end of the stream.
    fn fill(&mut self, buf: &mut BytesMut, want: usize) -> impl Future<Output = io::Result<usize>>;
}

impl<T: AsyncReadRent> Source for T {
    async fn fill(&mut self, buf: &mut BytesMut, want: usize) -> io::Result<usize> {
        if buf.capacity() - buf.len() < want / 2 {
            buf.reserve(want);
        }
        let owned = std::mem::take(buf);
        let (len, cap) = (owned.len(), owned.capacity());
        let (res, slice) = self.read(owned.slice_mut(len..cap)).await;
        *buf = slice.into_inner();
        res
    }
}

/// Reads a body framed as `framing` from `io` (after what `buf` already
/// holds) into `tx`, chunk by chunk. Bytes after the body stay in `buf`.
pub async fn pump<S: Source>(
    io: &mut S,
    buf: &mut BytesMut,
    framing: Framing,
    max: usize,
    read_timeout: std::time::Duration,
    tx: BodySender,
) -> Pumped {
    let mut sent: u64 = 0;
    let mut chunked = ChunkedBodyDecoder::default();
    loop {
        // 1. hand over what is buffered
        loop {
            let chunk = match framing {
                Framing::Length(n) => {
                    let want = (n - sent).min(buf.len() as u64) as usize;
                    if want == 0 {
                        if sent == n {
                            return Pumped::Done;
                        }
                        break;
                    }
                    buf.split_to(want).freeze()
                }
                Framing::Close => {
                    if buf.is_empty() {
                        break;
                    }
                    buf.split().freeze()
                }
                Framing::Chunked => match chunked.decode(buf) {
                    Ok(Decoded::Some(Some(c))) => c,
                    Ok(Decoded::Some(None)) => return Pumped::Done,
                    Ok(_) => break,
                    Err(_) => return fail(&tx, StreamError::Malformed).await,
                },
            };
            sent += chunk.len() as u64;
            if sent > max as u64 {
                return fail(&tx, StreamError::TooLarge(max)).await;
            }
            if tx.send(Ok(chunk)).await.is_err() {
                return Pumped::Abandoned;
            }
        }
        // 2. read more
        if tx.is_closed() {
            return Pumped::Abandoned;
        }
        match monoio::time::timeout(read_timeout, io.fill(buf, READ_CHUNK)).await {
            Ok(res) => match res {
                Ok(0) if framing == Framing::Close => return Pumped::Done,
                Ok(0) | Err(_) => return fail(&tx, StreamError::Closed).await,
                Ok(_) => {}
            },
            Err(_) => return fail(&tx, StreamError::Timeout).await,
        }
    }
}

async fn fail(tx: &BodySender, e: StreamError) -> Pumped {
    let _ = tx.send(Err(e.clone())).await;
    Pumped::Failed(e)
}
