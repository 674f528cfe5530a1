//! The gRPC front end: one h2 stream = one call, dispatched by `:path`.
//!
//! This module owns the wire rules — content type, the 5-byte framing,
//! compression, `grpc-timeout`, message size, trailers — and dispatches
//! through a [`Handler`] it defines, as the HTTP/1.1 loop dispatches through
//! its `Service`: unary calls hand the handler the decoded request bytes,
//! streaming methods get the call's [`Incoming`] messages and [`Outgoing`]
//! sink. It never names the API above it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::{HeaderMap, HeaderValue};

use super::frame;
use super::status::GrpcCode;
use super::stream::{status_fields, Incoming, Outgoing, GRPC_CONTENT_TYPE};
use crate::net::shutdown::Drain;

/// A decoded unary request.
pub struct Call {
    /// Full method path, e.g. `/dapr.proto.runtime.v1.Dapr/GetMetadata`.
    pub path: String,
    /// Request metadata (headers).
    pub metadata: HeaderMap,
    /// The request message, uncompressed.
    pub message: Bytes,
    /// Response metadata the handler sets (sent as headers, or with the
    /// status of a trailers-only answer, as grpc-go's `SetHeader`).
    pub reply_metadata: Rc<RefCell<HeaderMap>>,
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

/// What the server dispatches a call to: the service behind it (the Dapr
/// API, for one) answers these, and this module keeps the wire rules.
#[allow(async_fn_in_trait)] // thread-per-core: the futures are intentionally !Send
pub trait Handler {
    /// A streaming method the handler serves.
    type Streaming;

    /// What [`Handler::precheck`] learned about a unary call's method, handed
    /// to [`Handler::unary`] so that it is looked up once.
    type Unary;

    /// The streaming method at `path` (or an error for an unknown method of
    /// a streaming-only service); `None` makes it a unary call.
    fn streaming_method(&self, path: &str) -> Option<Result<Self::Streaming, Status>>;

    /// Checks made before a unary request's message is read: nothing is
    /// buffered for a call the handler refuses (unknown method, bad token).
    fn precheck(&self, path: &str, metadata: &HeaderMap) -> Result<Self::Unary, Status>;

    /// Runs one unary call that passed [`Handler::precheck`].
    async fn unary(&self, method: Self::Unary, call: Call) -> Reply;

    /// Runs one streaming call over its messages and sink.
    async fn streaming(
        &self,
        method: Self::Streaming,
        metadata: &HeaderMap,
        incoming: &mut Incoming,
        outgoing: &mut Outgoing,
    ) -> Result<(), Status>;

    /// The worker's drain latch: streams end at a message boundary once it closes.
    fn drain(&self) -> &Drain;
}

/// How a served call ended, for metrics and logs.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// The status sent.
    pub code: GrpcCode,
    /// Request message bytes received.
    pub received: u64,
    /// Response message bytes sent.
    pub sent: u64,
}

/// Serves one call: the content type, `grpc-timeout` and compression, then
/// the handler's unary or streaming method, then the status. `None` when
/// the request was not gRPC at all (answered 415, no status to report).
pub async fn serve<H: Handler>(
    handler: &H,
    req: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    max_message: usize,
) -> Option<Outcome> {
    let (parts, body) = req.into_parts();
    let (deadline, gzip) = call_head(&parts.headers, &mut respond)?;
    let incoming = Incoming::new(body, max_message, gzip);
    let path = parts.uri.path();
    Some(match handler.streaming_method(path) {
        Some(method) => {
            let outgoing = Outgoing::new(respond);
            streaming(
                handler,
                method,
                &parts.headers,
                incoming,
                outgoing,
                deadline,
            )
            .await
        }
        None => {
            let metadata = parts.headers;
            unary(handler, path, metadata, incoming, &mut respond, deadline).await
        }
    })
}

/// A unary call: the handler's checks, one request message, one reply.
async fn unary<H: Handler>(
    handler: &H,
    path: &str,
    metadata: HeaderMap,
    mut incoming: Incoming,
    respond: &mut SendResponse<Bytes>,
    deadline: Option<Duration>,
) -> Outcome {
    let reply_metadata = Rc::new(RefCell::new(HeaderMap::new()));
    let work = async {
        let method = handler.precheck(path, &metadata)?;
        let message = incoming.unary().await?;
        let received = message.len() as u64;
        let call = Call {
            path: path.to_owned(),
            metadata,
            message,
            reply_metadata: reply_metadata.clone(),
        };
        Ok::<_, Status>((handler.unary(method, call).await?, received))
    };
    let result = with_deadline(deadline, std::pin::pin!(work)).await;
    let extra = reply_metadata.take();
    match result {
        Ok((msg, received)) => {
            let sent = msg.len() as u64;
            send_ok(respond, msg, extra);
            Outcome {
                code: GrpcCode::Ok,
                received,
                sent,
            }
        }
        Err(status) => {
            send_status(respond, &status, extra);
            Outcome {
                code: status.code,
                received: 0,
                sent: 0,
            }
        }
    }
}

/// A streaming call: the handler over the message stream and sink, then
/// the status trailers.
async fn streaming<H: Handler>(
    handler: &H,
    method: Result<H::Streaming, Status>,
    metadata: &HeaderMap,
    incoming: Incoming,
    mut outgoing: Outgoing,
    deadline: Option<Duration>,
) -> Outcome {
    // Streams may be long-lived: they end at a message boundary on shutdown.
    let mut incoming = incoming.until_drained(handler.drain().clone());
    let work = async {
        let method = method?;
        handler
            .streaming(method, metadata, &mut incoming, &mut outgoing)
            .await
    };
    let result = with_deadline(deadline, std::pin::pin!(work)).await;
    let code = result.as_ref().err().map_or(GrpcCode::Ok, |s| s.code);
    let (received, sent) = (incoming.received(), outgoing.sent());
    outgoing.finish(result.as_ref().map(|_| ()));
    Outcome {
        code,
        received,
        sent,
    }
}

/// Runs `work` under the call's `grpc-timeout`, if any.
///
/// `work` is lent, pinned in the caller: a call's work is the largest part
/// of its stream's task, and taking it by value would keep it twice in the
/// task's state (16 KiB instead of 9.5 KiB per stream, copied on every spawn).
pub async fn with_deadline<T>(
    deadline: Option<Duration>,
    work: Pin<&mut impl Future<Output = Result<T, Status>>>,
) -> Result<T, Status> {
    match deadline {
        Some(d) => match monoio::time::timeout(d, work).await {
            Ok(r) => r,
            Err(_) => Err(Status::new(
                GrpcCode::DeadlineExceeded,
                "context deadline exceeded",
            )),
        },
        None => work.await,
    }
}

/// A gRPC call's deadline (`grpc-timeout`) and whether its messages are
/// gzip-compressed; `None` after answering 415 to a non-gRPC content type.
pub(crate) fn call_head(
    h: &http::HeaderMap,
    respond: &mut SendResponse<Bytes>,
) -> Option<(Option<Duration>, bool)> {
    if !is_grpc_content_type(h.get(http::header::CONTENT_TYPE)) {
        // gRPC over HTTP/2: a non-gRPC content type is answered with 415.
        let mut head = http::Response::new(());
        *head.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
        let _ = respond.send_response(head, true);
        return None;
    }
    let deadline = h
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(frame::parse_timeout);
    let gzip = h
        .get("grpc-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    Some((deadline, gzip))
}

fn is_grpc_content_type(ct: Option<&HeaderValue>) -> bool {
    ct.and_then(|v| v.to_str().ok()).is_some_and(|s| {
        s == "application/grpc"
            || s.starts_with("application/grpc+")
            || s.starts_with("application/grpc;")
    })
}

/// A unary reply: headers, the message and `grpc-status: 0`, handed to h2
/// at once (h2 buffers what the window does not take yet).
fn send_ok(respond: &mut SendResponse<Bytes>, msg: Bytes, extra: HeaderMap) {
    let mut head = http::Response::new(());
    *head.headers_mut() = extra;
    head.headers_mut()
        .insert(http::header::CONTENT_TYPE, GRPC_CONTENT_TYPE);
    let Ok(mut stream) = respond.send_response(head, false) else {
        return;
    };
    if stream.send_data(frame::encode(&msg), false).is_err() {
        return;
    }
    let mut trailers = HeaderMap::new();
    status_fields(&mut trailers, None);
    let _ = stream.send_trailers(trailers);
}

/// A trailers-only response carrying `status`.
fn send_status(respond: &mut SendResponse<Bytes>, status: &Status, extra: HeaderMap) {
    let mut head = http::Response::new(());
    *head.headers_mut() = extra;
    let h = head.headers_mut();
    h.insert(http::header::CONTENT_TYPE, GRPC_CONTENT_TYPE);
    status_fields(h, Some(status));
    let _ = respond.send_response(head, true);
}
