//! The gRPC front end: one h2 stream = one call, dispatched by `:path`.
//!
//! This module owns the wire rules — content type, the 5-byte framing,
//! compression, `grpc-timeout`, message size, trailers. Unary calls hand the
//! decoded request bytes to [`crate::api::grpc`], which routes the method to
//! the same building-block logic the HTTP API uses. Streaming methods (server
//! reflection) get the call's [`Incoming`] messages and [`Outgoing`] sink.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::{HeaderMap, HeaderValue};

use super::frame;
use super::reflection;
use super::status::GrpcCode;
use super::stream::{status_fields, Incoming, Outgoing, GRPC_CONTENT_TYPE};
use crate::api::error::ApiError;
use crate::api::Ctx;
use crate::http::h2::StreamHandler;

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

    /// A unary call: method and token checks, one request message, one reply.
    async fn unary(
        &self,
        path: &str,
        metadata: HeaderMap,
        mut incoming: Incoming,
        respond: &mut SendResponse<Bytes>,
        deadline: Option<Duration>,
    ) -> (GrpcCode, u64, u64) {
        let reply_metadata = Rc::new(RefCell::new(HeaderMap::new()));
        let work = async {
            // Method and token first: nothing is buffered for a call we refuse.
            crate::api::grpc::precheck(&self.ctx, path, &metadata)?;
            let message = incoming.unary().await?;
            let recv = message.len() as u64;
            let call = Call {
                path: path.to_owned(),
                metadata,
                message,
                reply_metadata: reply_metadata.clone(),
            };
            let reply = crate::api::grpc::call(&self.ctx, call).await;
            Ok::<_, Status>((reply?, recv))
        };
        let result = with_deadline(deadline, std::pin::pin!(work)).await;
        let extra = reply_metadata.take();
        match result {
            Ok((msg, recv)) => {
                let sent = msg.len() as u64;
                send_ok(respond, msg, extra);
                (GrpcCode::Ok, recv, sent)
            }
            Err(status) => {
                let code = status.code;
                send_status(respond, &status, extra);
                (code, 0, 0)
            }
        }
    }

    /// A streaming call: token check, then the method's handler over the
    /// message stream and sink, then the status trailers.
    async fn streaming(
        &self,
        method: Result<Streaming, Status>,
        metadata: &HeaderMap,
        incoming: Incoming,
        mut outgoing: Outgoing,
        deadline: Option<Duration>,
    ) -> (GrpcCode, u64, u64) {
        // Streams may be long-lived: they end at a message boundary on shutdown.
        let mut incoming = incoming.until_drained(self.ctx.drain.clone());
        let work = async {
            let method = method?;
            crate::api::grpc::check_token(&self.ctx, metadata)?;
            match method {
                Streaming::Reflection => reflection::serve(&mut incoming, &mut outgoing).await,
                Streaming::SubscribeTopicEvents => {
                    crate::subscriptions::streaming::serve(&self.ctx, &mut incoming, &mut outgoing)
                        .await
                }
                Streaming::SubscribeConfiguration(method) => {
                    crate::api::configuration::grpc::subscribe(
                        &self.ctx,
                        method,
                        metadata,
                        &mut incoming,
                        &mut outgoing,
                    )
                    .await
                }
            }
        };
        let result = with_deadline(deadline, std::pin::pin!(work)).await;
        let code = result.as_ref().err().map_or(GrpcCode::Ok, |s| s.code);
        let (recv, sent) = (incoming.received(), outgoing.sent());
        outgoing.finish(result.as_ref().map(|_| ()));
        (code, recv, sent)
    }
}

impl StreamHandler for GrpcApi {
    async fn handle(&self, req: http::Request<RecvStream>, mut respond: SendResponse<Bytes>) {
        let started = Instant::now();
        let path = req.uri().path().to_owned();
        if super::proxy::wanted(&path, req.headers()) {
            // Go's stream interceptor meters a proxied call only when it carries `dapr-app-id`.
            let metered = req.headers().contains_key(crate::api::APP_ID_HEADER);
            let code = super::proxy::proxy(&self.ctx, req, respond).await;
            let latency = started.elapsed();
            if metered {
                self.ctx
                    .metrics
                    .record_grpc_proxied(&path, code.go_name(), latency);
            }
            self.ctx.metrics.record_served(latency);
            return;
        }
        let (parts, body) = req.into_parts();

        let Some((deadline, gzip)) = call_head(&parts.headers, &mut respond) else {
            return;
        };
        let incoming = Incoming::new(body, self.max_message, gzip);

        let (code, recv, sent) = match streaming_method(&path) {
            Some(method) => {
                let outgoing = Outgoing::new(respond);
                self.streaming(method, &parts.headers, incoming, outgoing, deadline)
                    .await
            }
            None => {
                self.unary(&path, parts.headers, incoming, &mut respond, deadline)
                    .await
            }
        };
        self.ctx
            .metrics
            .record_grpc(&path, code.go_name(), started.elapsed(), recv, sent);
        if self.ctx.shared.api_logging {
            tracing::info!(target: "daprd::api_log", method = %path, code = code.name(), "gRPC API Called");
        }
    }
}

/// The streaming methods served; every other path is a unary call of the
/// `Dapr` service (or unknown, which `precheck` answers).
enum Streaming {
    /// `grpc.reflection.{v1,v1alpha}.ServerReflection/ServerReflectionInfo`.
    Reflection,
    /// `dapr.proto.runtime.v1.Dapr/SubscribeTopicEventsAlpha1`.
    SubscribeTopicEvents,
    /// `dapr.proto.runtime.v1.Dapr/SubscribeConfiguration` and its `Alpha1`
    /// twin (server streaming), by method name.
    SubscribeConfiguration(&'static str),
}

/// The streaming method at `path`, an error for an unknown method of a
/// streaming-only service, `None` for the unary table.
fn streaming_method(path: &str) -> Option<Result<Streaming, Status>> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    if service == crate::api::grpc::DAPR_SERVICE && method == "SubscribeTopicEventsAlpha1" {
        return Some(Ok(Streaming::SubscribeTopicEvents));
    }
    if service == crate::api::grpc::DAPR_SERVICE {
        for name in ["SubscribeConfiguration", "SubscribeConfigurationAlpha1"] {
            if method == name {
                return Some(Ok(Streaming::SubscribeConfiguration(name)));
            }
        }
    }
    if !reflection::SERVICES.contains(&service) {
        return None;
    }
    Some(if method == reflection::METHOD {
        Ok(Streaming::Reflection)
    } else {
        Err(Status::new(
            GrpcCode::Unimplemented,
            format!("unknown method {method} for service {service}"),
        ))
    })
}

/// Runs `work` under the call's `grpc-timeout`, if any.
///
/// `work` is lent, pinned in the caller: a call's work is the largest part
/// of its stream's task, and taking it by value would keep it twice in the
/// task's state (16 KiB instead of 9.5 KiB per stream, copied on every spawn).
async fn with_deadline<T>(
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
