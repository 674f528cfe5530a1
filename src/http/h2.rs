//! The HTTP/2 connection loop (h2c), on the upstream `h2` crate.
//!
//! `h2` speaks tokio's I/O traits; `monoio_compat::StreamWrapper` adapts a
//! monoio socket to them. The connection task polls `accept()`, which drives
//! all of the connection's I/O, and runs each stream in its own local task,
//! so handlers need not be `Send`. Limits are explicit rather than h2's
//! defaults: a cap on concurrent streams (high, ≥ 1000, unlike Go's 100), on
//! streams reset before they are accepted (the "rapid reset" defence), on
//! the header list, and larger flow-control windows so that big messages
//! are not throttled by the 64 KiB default.

use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio_compat::StreamWrapper;

use super::h1::Service;
use super::message::{Rejection, Request, Response};
use crate::net::shutdown::Drain;

/// Per-connection HTTP/2 settings.
#[derive(Clone, Debug)]
pub struct H2Limits {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`.
    pub max_concurrent_streams: u32,
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`.
    pub max_header_list: u32,
    /// Largest request body (HTTP) or message (gRPC), bytes.
    pub max_body: usize,
}

/// Streams that were reset by the client before we accepted them; past this
/// the connection is closed with `ENHANCE_YOUR_CALM` (CVE-2023-44487).
const MAX_PENDING_RESETS: usize = 100;
/// Per-stream receive window.
const STREAM_WINDOW: u32 = 1024 * 1024;
/// Connection receive window.
const CONN_WINDOW: u32 = 4 * 1024 * 1024;
/// Framing overhead budgeted per concurrent stream.
const DATA_FRAME_OVERHEAD: usize = 1024;

/// What the connection loop calls for every stream.
#[allow(async_fn_in_trait)] // thread-per-core: futures are intentionally !Send
pub trait StreamHandler {
    /// Serves one stream to completion.
    async fn handle(&self, req: http::Request<RecvStream>, respond: SendResponse<Bytes>);
}

/// Serves HTTP/2 on `io` until the client goes away or shutdown drains it.
pub async fn serve<T, H>(io: T, limits: &H2Limits, handler: Rc<H>, drain: &Drain)
where
    T: AsyncReadRent + AsyncWriteRent + Unpin + 'static,
    H: StreamHandler + 'static,
{
    let io = StreamWrapper::new(io);
    let handshake = h2::server::Builder::new()
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_pending_accept_reset_streams(MAX_PENDING_RESETS)
        .max_header_list_size(limits.max_header_list)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONN_WINDOW)
        // Memory for buffered small DATA frames: enough for every allowed
        // stream to have one in flight, still bounded (flood protection).
        .data_frame_budget(limits.max_concurrent_streams as usize * DATA_FRAME_OVERHEAD)
        .handshake::<_, Bytes>(io);
    let mut conn = match handshake.await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "h2 handshake failed");
            return;
        }
    };
    let mut draining = false;
    loop {
        let next = if draining {
            conn.accept().await
        } else {
            monoio::select! {
                n = conn.accept() => n,
                _ = drain.closing() => {
                    // GOAWAY: no new streams; in-flight ones finish, then accept() ends.
                    conn.graceful_shutdown();
                    draining = true;
                    continue;
                }
            }
        };
        match next {
            Some(Ok((req, respond))) => {
                let handler = handler.clone();
                monoio::spawn(async move { handler.handle(req, respond).await });
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "h2 connection error");
                return;
            }
            None => return,
        }
    }
}

/// Why a body could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Over the limit.
    #[error("body exceeds {0} bytes")]
    TooLarge(usize),
    /// The stream failed (reset, connection lost).
    #[error("stream error: {0}")]
    Stream(#[from] h2::Error),
}

/// Reads the next DATA chunk, releasing its flow-control capacity at once.
pub async fn next_chunk(body: &mut RecvStream) -> Option<Result<Bytes, h2::Error>> {
    let chunk = body.data().await?;
    if let Ok(data) = &chunk {
        // Releasing cannot fail for bytes we were just given.
        let _ = body.flow_control().release_capacity(data.len());
    }
    Some(chunk)
}

/// Collects a whole body up to `max` bytes.
pub async fn collect_body(body: &mut RecvStream, max: usize) -> Result<Bytes, BodyError> {
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    while let Some(chunk) = next_chunk(body).await {
        let chunk = chunk?;
        let total = first.as_ref().map_or(0, Bytes::len) + buf.len() + chunk.len();
        if total > max {
            return Err(BodyError::TooLarge(max));
        }
        // One chunk is passed through without copying; more are joined.
        match first.take() {
            None if buf.is_empty() => first = Some(chunk),
            Some(f) => {
                buf.extend_from_slice(&f);
                buf.extend_from_slice(&chunk);
            }
            None => buf.extend_from_slice(&chunk),
        }
    }
    Ok(first.unwrap_or_else(|| buf.freeze()))
}

/// Serves the HTTP API over h2c: each stream becomes one [`Request`] for the
/// same [`Service`] the HTTP/1.1 loop calls.
pub struct HttpOverH2<S> {
    svc: Rc<S>,
    max_body: usize,
    peer: Option<std::net::SocketAddr>,
}

impl<S> HttpOverH2<S> {
    /// Wraps an HTTP service.
    pub fn new(svc: Rc<S>, max_body: usize) -> Self {
        Self {
            svc,
            max_body,
            peer: None,
        }
    }

    /// The same service for one connection from `peer`.
    pub fn for_peer(&self, peer: Option<std::net::SocketAddr>) -> Self {
        Self {
            svc: self.svc.clone(),
            max_body: self.max_body,
            peer,
        }
    }
}

impl<S: Service> StreamHandler for HttpOverH2<S> {
    async fn handle(&self, req: http::Request<RecvStream>, mut respond: SendResponse<Bytes>) {
        let (parts, mut body) = req.into_parts();
        let resp = match collect_body(&mut body, self.max_body).await {
            Ok(bytes) => {
                let req = Request {
                    method: parts.method,
                    uri: parts.uri,
                    version: parts.version,
                    headers: parts.headers,
                    body: bytes,
                    stream: None,
                    remote: self.peer,
                };
                self.svc.call(req).await
            }
            Err(BodyError::TooLarge(max)) => self.svc.reject(Rejection::BodyTooLarge(max)),
            Err(BodyError::Stream(_)) => return,
        };
        if resp.stream.is_some() {
            send_streamed(&mut respond, resp).await;
        } else {
            send_response(&mut respond, resp);
        }
    }
}

/// Sends a [`Response`] with a streamed body, chunk by chunk as the peer's
/// flow-control window allows (so memory stays bounded).
async fn send_streamed(respond: &mut SendResponse<Bytes>, mut resp: Response) {
    let Some(mut body) = resp.stream.take() else {
        return send_response(respond, resp);
    };
    let Ok(mut out) = respond.send_response(response_head(resp), false) else {
        return;
    };
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            out.send_reset(h2::Reason::INTERNAL_ERROR);
            return;
        };
        if send_data(&mut out, chunk).await.is_err() {
            return;
        }
    }
    let _ = out.send_data(Bytes::new(), true);
}

/// The peer reset the stream or the connection is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamGone;

/// Sends `data` (not ending the stream) as fast as the peer's flow-control
/// window allows, so a slow reader holds the sender back instead of
/// growing a buffer.
pub async fn send_data(out: &mut SendStream<Bytes>, mut data: Bytes) -> Result<(), StreamGone> {
    while !data.is_empty() {
        out.reserve_capacity(data.len());
        match std::future::poll_fn(|cx| out.poll_capacity(cx)).await {
            Some(Ok(n)) if n > 0 => {
                let part = data.split_to(n.min(data.len()));
                out.send_data(part, false).map_err(|_| StreamGone)?;
            }
            // Capacity is assigned, just not yet granted by the peer.
            Some(Ok(_)) => {}
            _ => return Err(StreamGone),
        }
    }
    Ok(())
}

/// Sends a collected [`Response`] on an h2 stream.
pub fn send_response(respond: &mut SendResponse<Bytes>, resp: Response) {
    let body = resp.body.clone();
    let end = body.is_empty();
    match respond.send_response(response_head(resp), end) {
        Ok(mut stream) if !end => {
            let _ = stream.send_data(body, true);
        }
        _ => {}
    }
}

fn response_head(resp: Response) -> http::Response<()> {
    let mut head = http::Response::new(());
    *head.status_mut() = resp.status;
    let headers = head.headers_mut();
    if let Some(ct) = resp.content_type {
        headers.insert(http::header::CONTENT_TYPE, ct);
    }
    for (name, value) in resp.headers {
        if !is_connection_specific(&name) {
            headers.append(name, value);
        }
    }
    head
}

/// Headers HTTP/2 forbids (RFC 9113 §8.2.2).
fn is_connection_specific(name: &http::HeaderName) -> bool {
    use http::header;
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}
