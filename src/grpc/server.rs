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

/// HTTP/2 keepalive of a standalone gRPC service: a PING every `every`,
/// answered within `timeout` (the only liveness check Dapr's control-plane
/// clients get).
#[derive(Clone, Copy, Debug)]
pub struct Keepalive {
    /// Time between pings.
    pub every: Duration,
    /// How long a ping may go unanswered.
    pub timeout: Duration,
}

/// How a standalone gRPC service (`placement`, `scheduler`) serves each
/// h2c connection.
#[derive(Clone, Copy, Debug)]
pub struct ConnSettings {
    /// The keepalive.
    pub keepalive: Keepalive,
    /// h2's allowance of small unread DATA frames (`None`: h2's default).
    pub data_frame_budget: Option<usize>,
    /// Largest request message.
    pub max_message: usize,
}

/// Why [`serve_h2c`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnEnd {
    /// The peer closed, the connection broke, or the drain finished it.
    Closed,
    /// The peer missed a keepalive ping; its streams were dropped.
    KeepaliveMissed,
}

/// Serves one h2c connection of a standalone gRPC service: each stream a
/// call of `handler` in its own task, the keepalive, and a graceful GOAWAY
/// once `drain` closes.
pub async fn serve_h2c<H: Handler + 'static>(
    io: monoio::net::TcpStream,
    peer: std::net::SocketAddr,
    handler: Rc<H>,
    settings: ConnSettings,
    drain: Drain,
) -> ConnEnd {
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(1000)
        .max_pending_accept_reset_streams(100)
        .max_header_list_size(16 * 1024);
    if let Some(budget) = settings.data_frame_budget {
        builder.data_frame_budget(budget);
    }
    let handshake = builder.handshake::<_, Bytes>(monoio_compat::StreamWrapper::new(io));
    let mut conn = match handshake.await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "h2 handshake failed");
            return ConnEnd::Closed;
        }
    };
    let mut alive = std::pin::pin!(pings(conn.ping_pong(), settings.keepalive));
    let mut draining = false;
    loop {
        let next = monoio::select! {
            n = conn.accept() => n,
            // Dropping the connection fails its streams: they disconnect.
            _ = &mut alive => return ConnEnd::KeepaliveMissed,
            _ = drain.closing(), if !draining => {
                conn.graceful_shutdown();
                draining = true;
                continue;
            }
        };
        match next {
            Some(Ok((req, respond))) => {
                let handler = handler.clone();
                monoio::spawn(async move {
                    let _ = serve(&*handler, req, respond, settings.max_message).await;
                });
            }
            Some(Err(e)) => {
                tracing::debug!(%peer, error = %e, "h2 connection error");
                return ConnEnd::Closed;
            }
            None => return ConnEnd::Closed,
        }
    }
}

/// Resolves when the peer missed a keepalive ping (or the connection broke).
async fn pings(pong: Option<h2::PingPong>, k: Keepalive) {
    let Some(mut pong) = pong else {
        return std::future::pending().await;
    };
    loop {
        monoio::time::sleep(k.every).await;
        match monoio::time::timeout(k.timeout, pong.ping(h2::Ping::opaque())).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return,
        }
    }
}
