//! The gRPC front end: one h2 stream = one call, dispatched by `:path`.
//!
//! This module owns the wire rules — content type, the 5-byte framing,
//! compression, `grpc-timeout`, message size, trailers — and hands the
//! decoded request bytes to [`crate::api::grpc`], which routes the method to
//! the same building-block logic the HTTP API uses.

use std::io::Read;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::{HeaderMap, HeaderValue};

use super::frame::{self, Decoder, FrameError};
use super::status::GrpcCode;
use crate::api::error::ApiError;
use crate::api::Ctx;
use crate::http::h2::{next_chunk, StreamHandler};

/// `application/grpc`
const GRPC_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/grpc");

/// A decoded unary request.
pub struct Call {
    /// Full method path, e.g. `/dapr.proto.runtime.v1.Dapr/GetMetadata`.
    pub path: String,
    /// Request metadata (headers).
    pub metadata: HeaderMap,
    /// The request message, uncompressed.
    pub message: Bytes,
}

/// The outcome of a call: a response message, or a status.
pub type Reply = Result<Bytes, Status>;

/// A non-OK gRPC status.
#[derive(Debug, Clone)]
pub struct Status {
    /// The code.
    pub code: GrpcCode,
    /// `grpc-message`.
    pub message: String,
    /// Encoded `google.rpc.Status` for `grpc-status-details-bin`, if any.
    pub details: Option<Bytes>,
}

impl Status {
    /// A status without details.
    pub fn new(code: GrpcCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Self {
        Self {
            code: e.grpc_code(),
            details: crate::api::grpc::status_details(&e),
            message: e.message().to_owned(),
        }
    }
}

/// The gRPC API service for the h2 loop.
pub struct GrpcApi {
    ctx: Rc<Ctx>,
    max_message: usize,
}

impl GrpcApi {
    /// The gRPC API on this worker.
    pub fn new(ctx: Rc<Ctx>, max_message: usize) -> Self {
        Self { ctx, max_message }
    }
}

impl StreamHandler for GrpcApi {
    async fn handle(&self, req: http::Request<RecvStream>, mut respond: SendResponse<Bytes>) {
        let started = Instant::now();
        let (parts, mut body) = req.into_parts();
        let path = parts.uri.path().to_owned();

        if !is_grpc_content_type(parts.headers.get(http::header::CONTENT_TYPE)) {
            // gRPC over HTTP/2: a non-gRPC content type is answered with 415.
            let mut head = http::Response::new(());
            *head.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
            let _ = respond.send_response(head, true);
            return;
        }
        let deadline = parts
            .headers
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(frame::parse_timeout);
        let gzip = parts
            .headers
            .get("grpc-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));

        let work = async {
            // Method and token first: nothing is buffered for a call we refuse.
            crate::api::grpc::precheck(&self.ctx, &path, &parts.headers)?;
            let message = read_unary(&mut body, self.max_message, gzip).await?;
            let recv = message.len() as u64;
            let call = Call {
                path: path.clone(),
                metadata: parts.headers,
                message,
            };
            let reply = crate::api::grpc::call(&self.ctx, call).await;
            Ok::<_, Status>((reply?, recv))
        };
        let outcome = match deadline {
            Some(d) => match monoio::time::timeout(d, work).await {
                Ok(r) => r,
                Err(_) => Err(Status::new(
                    GrpcCode::DeadlineExceeded,
                    "context deadline exceeded",
                )),
            },
            None => work.await,
        };

        let (code, recv, sent) = match outcome {
            Ok((msg, recv)) => {
                let sent = msg.len() as u64;
                send_ok(&mut respond, msg);
                (GrpcCode::Ok, recv, sent)
            }
            Err(status) => {
                let code = status.code;
                send_status(&mut respond, &status);
                (code, 0, 0)
            }
        };
        self.ctx
            .metrics
            .record_grpc(&path, code.name(), started.elapsed(), recv, sent);
        if self.ctx.shared.api_logging {
            tracing::info!(target: "daprd::api_log", method = %path, code = code.name(), "gRPC API Called");
        }
    }
}

fn is_grpc_content_type(ct: Option<&HeaderValue>) -> bool {
    ct.and_then(|v| v.to_str().ok()).is_some_and(|s| {
        s == "application/grpc"
            || s.starts_with("application/grpc+")
            || s.starts_with("application/grpc;")
    })
}

/// Reads exactly one request message from the stream.
async fn read_unary(body: &mut RecvStream, max: usize, gzip: bool) -> Result<Bytes, Status> {
    let mut decoder = Decoder::new(max);
    let mut message = None;
    while let Some(chunk) = next_chunk(body).await {
        let chunk =
            chunk.map_err(|e| Status::new(GrpcCode::Cancelled, format!("stream error: {e}")))?;
        decoder.push(&chunk);
        while let Some(m) = decoder.next_message().map_err(frame_status)? {
            if message.is_some() {
                return Err(Status::new(
                    GrpcCode::Unimplemented,
                    "grpc: received more than one message for a unary method",
                ));
            }
            message = Some(m);
        }
    }
    decoder.finish().map_err(frame_status)?;
    let m = message.ok_or_else(|| {
        Status::new(
            GrpcCode::Internal,
            "grpc: no request message received for a unary method",
        )
    })?;
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

fn send_ok(respond: &mut SendResponse<Bytes>, msg: Bytes) {
    let mut head = http::Response::new(());
    head.headers_mut()
        .insert(http::header::CONTENT_TYPE, GRPC_CONTENT_TYPE);
    let Ok(mut stream) = respond.send_response(head, false) else {
        return;
    };
    if stream.send_data(frame::encode(&msg), false).is_err() {
        return;
    }
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let _ = stream.send_trailers(trailers);
}

/// A trailers-only response carrying `status`.
fn send_status(respond: &mut SendResponse<Bytes>, status: &Status) {
    let mut head = http::Response::new(());
    let h = head.headers_mut();
    h.insert(http::header::CONTENT_TYPE, GRPC_CONTENT_TYPE);
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
    let _ = respond.send_response(head, true);
}

/// `grpc-message` is percent-encoded outside printable ASCII (and `%`).
const GRPC_MESSAGE_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');
