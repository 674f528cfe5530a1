//! Both halves of a gRPC call's message flow, for unary and streaming methods.
//!
//! [`Incoming`] yields the request messages as the client sends them (a
//! unary call reads exactly one; a client- or bidi-streaming call reads until
//! the client half-closes). [`Outgoing`] sends response messages as they are
//! produced — the response headers go with the first one — waiting for the
//! client's flow-control window so a client that stops reading holds back the
//! handler instead of growing a buffer, and ends the call with the
//! `grpc-status` trailers (trailers-only when nothing was sent).
//!
//! The halves are independent values: a handler may read and write in turn
//! (server reflection), or read in one task while it pushes from another.

use std::io::Read;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use http::{HeaderMap, HeaderValue};

use super::frame::{self, Decoder, FrameError, Message};
use super::server::Status;
use super::status::GrpcCode;
use crate::http::h2::next_chunk;
use crate::net::shutdown::Drain;

/// `application/grpc`
pub const GRPC_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/grpc");

// === impl Incoming ===

/// The request messages of one call, decoded as they arrive.
pub struct Incoming {
    body: RecvStream,
    decoder: Decoder,
    max: usize,
    gzip: bool,
    ended: bool,
    drain: Option<Drain>,
    received: u64,
}

impl Incoming {
    /// Messages from `body`, each at most `max` bytes (compressed and not),
    /// gzip-decompressed when the call's `grpc-encoding` is gzip.
    pub fn new(body: RecvStream, max: usize, gzip: bool) -> Self {
        Self {
            body,
            decoder: Decoder::new(max),
            max,
            gzip,
            ended: false,
            drain: None,
            received: 0,
        }
    }

    /// Ends the stream with `UNAVAILABLE` once `drain` closes, at a message
    /// boundary (for long-lived streams: shutdown does not wait for them).
    pub fn until_drained(mut self, drain: Drain) -> Self {
        self.drain = Some(drain);
        self
    }

    /// The next request message (uncompressed); `Ok(None)` once the client
    /// has half-closed after whole messages.
    ///
    /// Cancel-safe: dropping the future loses no bytes, so it can race other
    /// work in `select!`.
    pub async fn message(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some(m) = self.decoder.next_message().map_err(frame_status)? {
                let payload = decompress(m, self.gzip, self.max)?;
                self.received += payload.len() as u64;
                return Ok(Some(payload));
            }
            if self.ended {
                return Ok(None);
            }
            let chunk = match &self.drain {
                // Between messages a closing worker ends the call; inside one,
                // the message is finished first.
                Some(drain) if self.decoder.is_empty() => monoio::select! {
                    c = next_chunk(&mut self.body) => c,
                    _ = drain.closing() => {
                        return Err(Status::new(GrpcCode::Unavailable, "daprd is shutting down"));
                    }
                },
                _ => next_chunk(&mut self.body).await,
            };
            match chunk {
                Some(Ok(data)) => self.decoder.push(&data),
                Some(Err(e)) => {
                    return Err(Status::new(
                        GrpcCode::Cancelled,
                        format!("stream error: {e}"),
                    ))
                }
                None => {
                    self.decoder.finish().map_err(frame_status)?;
                    self.ended = true;
                }
            }
        }
    }

    /// The next request message decoded as `M`; `Ok(None)` at end of stream.
    pub async fn decode<M: prost::Message + Default>(&mut self) -> Result<Option<M>, Status> {
        match self.message().await? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Exactly one message, as a unary (or server-streaming) call sends.
    pub async fn unary(&mut self) -> Result<Bytes, Status> {
        let first = self.message().await?;
        if self.message().await?.is_some() {
            return Err(Status::new(
                GrpcCode::Unimplemented,
                "grpc: received more than one message for a unary method",
            ));
        }
        first.ok_or_else(|| {
            Status::new(
                GrpcCode::Internal,
                "grpc: no request message received for a unary method",
            )
        })
    }

    /// Uncompressed bytes received so far (for metrics).
    pub fn received(&self) -> u64 {
        self.received
    }
}

/// Decodes a request message; a malformed one is `INVALID_ARGUMENT`.
pub fn decode<M: prost::Message + Default>(bytes: &[u8]) -> Result<M, Status> {
    M::decode(bytes).map_err(|e| {
        Status::new(
            GrpcCode::InvalidArgument,
            format!("grpc: error unmarshalling request: {e}"),
        )
    })
}

fn decompress(m: Message, gzip: bool, max: usize) -> Result<Bytes, Status> {
    if !m.compressed {
        return Ok(m.payload);
    }
    if !gzip {
        return Err(Status::new(
            GrpcCode::Internal,
            "grpc: compressed message without a supported grpc-encoding",
        ));
    }
    let mut out = Vec::new();
    // Decompress at most `max + 1` bytes so a zip bomb cannot exhaust memory.
    flate2::read::GzDecoder::new(&m.payload[..])
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            Status::new(
                GrpcCode::Internal,
                format!("grpc: failed to decompress: {e}"),
            )
        })?;
    if out.len() > max {
        return Err(frame_status(FrameError::TooLarge {
            len: out.len(),
            max,
        }));
    }
    Ok(Bytes::from(out))
}

fn frame_status(e: FrameError) -> Status {
    let code = match e {
        FrameError::TooLarge { .. } => GrpcCode::ResourceExhausted,
        _ => GrpcCode::Internal,
    };
    Status::new(code, e.to_string())
}

// === impl Outgoing ===

/// The client is gone (stream reset or connection lost): nothing more can be
/// sent on this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client closed the stream")]
pub struct Closed;

impl From<Closed> for Status {
    fn from(_: Closed) -> Self {
        Status::new(GrpcCode::Cancelled, "the client closed the stream")
    }
}

/// The response side of one call.
pub struct Outgoing {
    respond: SendResponse<Bytes>,
    stream: Option<SendStream<Bytes>>,
    /// A message was only partly sent (the send was cancelled or failed).
    partial: bool,
    sent: u64,
}

impl Outgoing {
    /// The response side of the stream behind `respond`.
    pub fn new(respond: SendResponse<Bytes>) -> Self {
        Self {
            respond,
            stream: None,
            partial: false,
            sent: 0,
        }
    }

    /// Sends the response headers now rather than with the first message
    /// (tells a client that a long-lived stream was accepted).
    pub fn send_headers(&mut self) -> Result<(), Closed> {
        self.stream().map(|_| ())
    }

    /// Sends one response message, as fast as the client's window allows.
    pub async fn send(&mut self, msg: &[u8]) -> Result<(), Closed> {
        let data = frame::encode(msg);
        self.send_headers()?;
        let Self {
            stream: Some(stream),
            partial,
            ..
        } = self
        else {
            return Err(Closed);
        };
        *partial = true;
        crate::http::h2::send_data(stream, data)
            .await
            .map_err(|_| Closed)?;
        *partial = false;
        self.sent += msg.len() as u64;
        Ok(())
    }

    /// Encodes and sends one response message.
    pub async fn send_message<M: prost::Message>(&mut self, msg: &M) -> Result<(), Closed> {
        self.send(&msg.encode_to_vec()).await
    }

    /// Resolves once the client has reset the stream or the connection is
    /// gone: a long-lived server stream watches it between messages, since
    /// a client that half-closed after its request sends nothing more.
    /// Cancel-safe.
    pub async fn closed(&mut self) {
        match &mut self.stream {
            Some(stream) => {
                let _ = std::future::poll_fn(|cx| stream.poll_reset(cx)).await;
            }
            None => {
                let _ = std::future::poll_fn(|cx| self.respond.poll_reset(cx)).await;
            }
        }
    }

    /// Uncompressed message bytes sent so far (for metrics).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Ends the call: `grpc-status` trailers (trailers-only when nothing was
    /// sent); a reset if a message was cut short, as trailers would then
    /// end the stream inside a message.
    pub fn finish(mut self, result: Result<(), &Status>) {
        if let Some(stream) = &mut self.stream {
            if self.partial {
                stream.send_reset(h2::Reason::CANCEL);
                return;
            }
            let mut trailers = HeaderMap::new();
            status_fields(&mut trailers, result.err());
            let _ = stream.send_trailers(trailers);
            return;
        }
        let mut head = http::Response::new(());
        let h = head.headers_mut();
        h.insert(http::header::CONTENT_TYPE, GRPC_CONTENT_TYPE);
        status_fields(h, result.err());
        let _ = self.respond.send_response(head, true);
    }

    fn stream(&mut self) -> Result<&mut SendStream<Bytes>, Closed> {
        match &mut self.stream {
            Some(s) => Ok(s),
            slot => {
                let mut head = http::Response::new(());
                head.headers_mut()
                    .insert(http::header::CONTENT_TYPE, GRPC_CONTENT_TYPE);
                let s = self
                    .respond
                    .send_response(head, false)
                    .map_err(|_| Closed)?;
                Ok(slot.insert(s))
            }
        }
    }
}

/// Adds `grpc-status`, `grpc-message` and `grpc-status-details-bin` for
/// `status` (`None` = OK) to trailers or a trailers-only head.
pub fn status_fields(h: &mut HeaderMap, status: Option<&Status>) {
    let Some(status) = status else {
        h.insert("grpc-status", HeaderValue::from_static("0"));
        return;
    };
    h.insert(
        "grpc-status",
        HeaderValue::from(u16::from(status.code.as_u8())),
    );
    let encoded =
        percent_encoding::utf8_percent_encode(&status.message, GRPC_MESSAGE_ESCAPE).to_string();
    if let Ok(v) = HeaderValue::from_str(&encoded) {
        h.insert("grpc-message", v);
    }
    if let Some(details) = &status.details {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(details);
        if let Ok(v) = HeaderValue::from_str(&b64) {
            h.insert("grpc-status-details-bin", v);
        }
    }
}

/// `grpc-message` is percent-encoded outside printable ASCII (and `%`).
const GRPC_MESSAGE_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');
