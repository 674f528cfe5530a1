//! Invoking an app behind another sidecar: the caller side of Go's
//! `pkg/messaging/direct_messaging.go`.
//!
//! The target's app ID (and namespace) is resolved through the configured
//! name resolver to the remote sidecar's internal gRPC address; the call
//! goes there as `ServiceInvocation/CallLocalStream` (Go's streaming
//! invocation, see [`super::wire`]), so request and response bodies stream
//! in chunks under HTTP/2 flow control and memory stays bounded whatever
//! their size. The remote sidecar calls its app and streams the answer back.
//!
//! The connections are the worker's pool of h2 connections to other
//! sidecars ([`Remotes`], in `channel::sidecar`).
//!
//! [`Remotes`]: crate::channel::sidecar::Remotes
//!
//! As in Go, a request whose body is in memory is retried on the built-in
//! policy (`DaprBuiltInServiceRetries`: 3 retries, 1 s apart) when the
//! remote sidecar is unavailable; a streamed body is not (it cannot be
//! replayed). The request carries Go's headers: `dapr-caller-app-id`,
//! `dapr-caller-namespace`, `dapr-callee-app-id`, `destination-app-id` and
//! `X-Forwarded-For` / `X-Forwarded-Host` / `Forwarded`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2::client::ResponseFuture;
use h2::{RecvStream, SendStream};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use prost::Message;

use super::wire::{self, Metadata};
use super::{invoke_error, Remote, CALLEE, CALLER};
use crate::api::{Ctx, API_TOKEN_HEADER, APP_ID_HEADER};
use crate::channel::sidecar::CallError;
use crate::channel::trace::ensure_traceparent;
use crate::components::nameresolution::{ResolveRequest, Resolver};
use crate::grpc::frame::Decoder;
use crate::grpc::server::Status;
use crate::grpc::status::GrpcCode;
use crate::http::body::{BodyStream, StreamError};
use crate::http::client::{strip_hop_by_hop, OutBody};
use crate::http::h2::{next_chunk, send_data};
use crate::http::message::{Request, Response};
use crate::proto::dapr::proto::common::v1 as common;
use crate::proto::dapr::proto::internals::v1 as internals;

/// Go's `DaprBuiltInServiceRetries`: retries and the constant interval.
const RETRIES: u32 = 3;
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Responses up to this size (by `Content-Length`) are collected whole.
const COLLECT_LIMIT: u64 = 64 * 1024;

// === Invocation (process-wide) ===

/// What every worker needs to invoke remote apps: the name resolver and
/// this sidecar's identity as peers see it. Built once at start-up.
#[derive(Debug)]
pub struct Invocation {
    /// The configured name resolver.
    pub resolver: Resolver,
    /// The internal gRPC port this sidecar listens on.
    pub internal_port: u16,
    /// This sidecar's namespace (`NAMESPACE`, else `default`).
    pub namespace: String,
    /// The host's address (Go's `GetHostAddress`), for `X-Forwarded-For`.
    pub host_address: Option<String>,
    /// The host name, for `X-Forwarded-Host`.
    pub host_name: Option<String>,
}

impl Invocation {
    /// Go's `addForwardedHeadersToMetadata`: appends `X-Forwarded-For`,
    /// `X-Forwarded-Host` and sets an RFC 7239 `Forwarded` value.
    pub fn add_forwarded(&self, md: &mut Metadata) {
        let mut forwarded = String::new();
        if let Some(addr) = &self.host_address {
            wire::append(md, "X-Forwarded-For", addr.clone());
            // RFC 7239: IPv6 addresses are quoted and bracketed.
            let fwd = if addr.contains(':') {
                format!("\"[{addr}]\"")
            } else {
                addr.clone()
            };
            forwarded = format!("for={fwd};by={fwd}");
        }
        if let Some(host) = &self.host_name {
            wire::append(md, "X-Forwarded-Host", host.clone());
            if !forwarded.is_empty() {
                forwarded.push(';');
            }
            forwarded.push_str("host=");
            forwarded.push_str(host);
        }
        wire::append(md, "Forwarded", forwarded);
    }
}

// === one call ===

/// The remote sidecar's answer: its response head (status, headers, the
/// message without data) and the body.
pub struct Inbound {
    /// Status, headers and message (without data).
    pub head: internals::InternalInvokeResponse,
    /// The body, whole (small) or as it arrives.
    pub body: Inflow,
}

/// A response body.
pub enum Inflow {
    /// Collected.
    Full(Bytes),
    /// Arriving.
    Stream(BodyStream),
}

impl Inflow {
    /// The whole body, up to `max` bytes.
    pub async fn collect(self, max: usize) -> Result<Bytes, StreamError> {
        match self {
            Inflow::Full(b) => Ok(b),
            Inflow::Stream(s) => s.collect(max).await,
        }
    }
}

/// Reads `InternalInvokeResponseStream` messages off a response body.
struct Chunks {
    recv: RecvStream,
    decoder: Decoder,
    ended: bool,
    next_seq: u64,
}

impl Chunks {
    /// The next message; `Ok(None)` at the end (after checking the status
    /// trailers).
    async fn message(
        &mut self,
    ) -> Result<Option<internals::InternalInvokeResponseStream>, CallError> {
        loop {
            if let Some(m) = self.decoder.next_message().map_err(CallError::internal)? {
                if m.compressed {
                    return Err(CallError::internal(
                        "compressed response message without grpc-encoding",
                    ));
                }
                return internals::InternalInvokeResponseStream::decode(m.payload)
                    .map(Some)
                    .map_err(CallError::invalid_message);
            }
            if self.ended {
                return Ok(None);
            }
            match next_chunk(&mut self.recv).await {
                Some(Ok(data)) => self.decoder.push(&data),
                Some(Err(e)) => return Err(CallError::receiving(e)),
                None => {
                    self.decoder.finish().map_err(CallError::internal)?;
                    self.ended = true;
                    end_status(&mut self.recv).await?;
                }
            }
        }
    }

    /// The next payload chunk of the body (sequence checked); `None` at the end.
    async fn payload(
        &mut self,
        first: &mut Option<common::StreamPayload>,
    ) -> Option<Result<Bytes, String>> {
        loop {
            let p = match first.take() {
                Some(p) => p,
                None => match self.message().await {
                    Ok(Some(m)) => {
                        if m.response.is_some() {
                            return Some(
                                Err("response metadata found in non-leading chunk".into()),
                            );
                        }
                        match m.payload {
                            Some(p) => p,
                            None => continue,
                        }
                    }
                    Ok(None) => return None,
                    Err(e) => return Some(Err(e.to_string())),
                },
            };
            if let Err(e) = wire::check_seq(p.seq, &mut self.next_seq) {
                return Some(Err(e));
            }
            if !p.data.is_empty() {
                return Some(Ok(Bytes::from(p.data)));
            }
        }
    }
}

/// `grpc-status` / `grpc-message` of a head or trailers.
fn grpc_status(h: &HeaderMap) -> Option<Result<(), CallError>> {
    Some(match crate::grpc::status::peer_status(h)? {
        (GrpcCode::Ok, _) => Ok(()),
        (code, message) => Err(CallError { code, message }),
    })
}

/// Reads the trailers that end a response body: a non-OK status in them
/// is the call's error.
async fn end_status(recv: &mut RecvStream) -> Result<(), CallError> {
    let trailers = recv
        .trailers()
        .await
        .map_err(CallError::receiving)?
        .unwrap_or_default();
    match grpc_status(&trailers) {
        Some(Err(e)) => Err(e),
        _ => Ok(()),
    }
}

/// The head of a gRPC call of `path` to another sidecar.
pub fn grpc_head(path: &str) -> http::request::Parts {
    let mut req = http::Request::new(());
    *req.method_mut() = Method::POST;
    *req.uri_mut() = http::Uri::from_maybe_shared(Bytes::copy_from_slice(path.as_bytes()))
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    let h = req.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h.insert(header::TE, HeaderValue::from_static("trailers"));
    req.into_parts().0
}

/// Sends the request head and body as `CallLocalStream` chunks.
async fn upload(
    mut send: SendStream<Bytes>,
    request: internals::InternalInvokeRequest,
    body: OutBody,
) {
    let head = internals::InternalInvokeRequestStream {
        request: Some(request),
        payload: None,
    };
    if send_data(&mut send, wire::frame(&head)).await.is_err() {
        return;
    }
    let mut seq = 0u64;
    let mut put = |data: Bytes| {
        let m = internals::InternalInvokeRequestStream {
            request: None,
            payload: Some(common::StreamPayload {
                data: data.to_vec(),
                seq,
            }),
        };
        seq += 1;
        wire::frame(&m)
    };
    match body {
        OutBody::Full(b) => {
            for c in wire::chunks(b) {
                if send_data(&mut send, put(c)).await.is_err() {
                    return;
                }
            }
        }
        OutBody::Stream(mut s) => {
            while let Some(chunk) = s.next().await {
                let Ok(chunk) = chunk else {
                    // The caller's body broke: the callee must not see a short body as complete.
                    send.send_reset(h2::Reason::CANCEL);
                    return;
                };
                for c in wire::chunks(chunk) {
                    if send_data(&mut send, put(c)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
    let _ = send.send_data(Bytes::new(), true);
}

/// One `CallLocalStream` call to `addr`.
async fn call_stream(
    ctx: &Ctx,
    addr: &str,
    request: internals::InternalInvokeRequest,
    body: OutBody,
) -> Result<Inbound, CallError> {
    let max = ctx.shared.opts.max_body_size;
    let (response, send) = ctx
        .remotes
        .open(addr, grpc_head(wire::CALL_LOCAL_STREAM))
        .await?;
    monoio::spawn(upload(send, request, body));
    let response = response.await.map_err(CallError::receiving)?;
    let (parts, recv) = response.into_parts();
    if recv.is_end_stream() {
        // Trailers-only: the callee refused the call.
        return Err(match grpc_status(&parts.headers) {
            Some(Err(e)) => e,
            _ => CallError::no_message(),
        });
    }
    let mut chunks = Chunks {
        recv,
        decoder: Decoder::new(max.saturating_add(1024)),
        ended: false,
        next_seq: 0,
    };
    let first = match chunks.message().await {
        Ok(Some(m)) => m,
        Ok(None) => return Err(CallError::no_message()),
        Err(e) => return Err(e),
    };
    let Some(head) = first.response.filter(|r| r.status.is_some()) else {
        return Err(CallError::internal(
            "response does not contain the required fields in the leading chunk",
        ));
    };
    let mut pending = first.payload;
    let len =
        wire::first(&head.headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if len.is_some_and(|n| n <= COLLECT_LIMIT) {
        let mut buf = BytesMut::new();
        while let Some(chunk) = chunks.payload(&mut pending).await {
            let chunk = chunk.map_err(CallError::internal)?;
            if buf.len() + chunk.len() > max {
                return Err(CallError::internal(format!("body exceeds {max} bytes")));
            }
            buf.extend_from_slice(&chunk);
        }
        return Ok(Inbound {
            head,
            body: Inflow::Full(buf.freeze()),
        });
    }
    let (tx, stream) = BodyStream::channel(None);
    monoio::spawn(async move {
        while let Some(chunk) = chunks.payload(&mut pending).await {
            match chunk {
                Ok(c) => {
                    if tx.send(Ok(c)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "remote response body failed");
                    let _ = tx.send(Err(StreamError::Closed)).await;
                    return;
                }
            }
        }
    });
    Ok(Inbound {
        head,
        body: Inflow::Stream(stream),
    })
}

/// One unary `CallLocal` call (Go's fallback for sidecars without streaming).
async fn call_unary(
    ctx: &Ctx,
    addr: &str,
    mut request: internals::InternalInvokeRequest,
    body: Bytes,
) -> Result<Inbound, CallError> {
    if let Some(m) = request.message.as_mut() {
        let type_url = m.data.take().map(|d| d.type_url).unwrap_or_default();
        m.data = Some(prost_types::Any {
            type_url,
            value: body.to_vec(),
        });
    }
    let mut head: internals::InternalInvokeResponse =
        unary(ctx, addr, wire::CALL_LOCAL, &request).await?;
    let data = head
        .message
        .as_mut()
        .and_then(|m| m.data.as_mut())
        .map(|d| Bytes::from(std::mem::take(&mut d.value)))
        .unwrap_or_default();
    Ok(Inbound {
        head,
        body: Inflow::Full(data),
    })
}

/// One unary call of `path` on the sidecar at `addr` (its internal gRPC
/// port): `request` in, one `R` out, failures as grpc-go shows them.
pub async fn unary<M: Message, R: Message + Default>(
    ctx: &Ctx,
    addr: &str,
    path: &str,
    request: &M,
) -> Result<R, CallError> {
    let (response, mut send) = ctx.remotes.open(addr, grpc_head(path)).await?;
    send.send_data(wire::frame(request), true)
        .map_err(|e| CallError::unavailable(format!("error sending message: {e}")))?;
    let response = response.await.map_err(CallError::receiving)?;
    let (parts, mut recv) = response.into_parts();
    if let Some(Err(e)) = grpc_status(&parts.headers) {
        return Err(e);
    }
    let max = ctx.shared.opts.max_body_size.saturating_add(1024);
    let mut decoder = Decoder::new(max);
    let mut reply = None;
    while let Some(chunk) = next_chunk(&mut recv).await {
        let chunk = chunk.map_err(CallError::receiving)?;
        decoder.push(&chunk);
        while let Some(m) = decoder.next_message().map_err(CallError::internal)? {
            reply.get_or_insert(m.payload);
        }
    }
    end_status(&mut recv).await?;
    let reply = reply.ok_or_else(CallError::no_message)?;
    R::decode(reply).map_err(CallError::invalid_message)
}

/// The internal gRPC address of app `target`'s sidecar, from the name resolver.
async fn resolve(ctx: &Ctx, target: &Remote) -> Result<String, String> {
    let inv = &ctx.shared.invocation;
    inv.resolver
        .resolve(&ResolveRequest {
            id: &target.id,
            namespace: &target.namespace,
            port: inv.internal_port,
        })
        .await
        .map_err(|e| e.to_string())
}

/// Calls app `target` through its sidecar: resolution, then
/// `CallLocalStream` with Go's built-in retries for a replayable body.
/// Errors are the text Go puts after `failed to invoke, id: …, err: `.
pub async fn invoke(
    ctx: &Ctx,
    target: &Remote,
    request: internals::InternalInvokeRequest,
    body: OutBody,
) -> Result<Inbound, String> {
    let addr = resolve(ctx, target).await?;
    if addr.is_empty() {
        return Err(format!(
            "resolver returned empty address for app id {}/{}",
            target.namespace, target.id
        ));
    }
    let metrics = &ctx.metrics;
    let replay = match &body {
        OutBody::Full(b) => Some(b.clone()),
        OutBody::Stream(_) => None,
    };
    let mut body = Some(body);
    let mut attempt = 0;
    loop {
        let this_body = match (&replay, body.take()) {
            (_, Some(b)) => b,
            (Some(b), None) => OutBody::Full(b.clone()),
            // Not replayable: the loop never comes back here.
            (None, None) => return Err("request body already consumed".into()),
        };
        // Go counts every attempt (`ServiceInvocationRequestSent` in `invokeRemote`).
        let started = Instant::now();
        metrics.record_invocation_sent(&target.id, "unary");
        let result = call_stream(ctx, &addr, request.clone(), this_body).await;
        let result = match result {
            // Go: a sidecar without CallLocalStream gets the call as CallLocal when it can be replayed.
            Err(e) if e.code == GrpcCode::Unimplemented => match &replay {
                Some(b) => {
                    tracing::warn!("App {} does not support streaming-based service invocation (most likely because it's using an older version of Dapr); falling back to unary calls", target.id);
                    call_unary(ctx, &addr, request.clone(), b.clone()).await
                }
                None => {
                    return Err(format!("target app '{}' is running a version of Dapr that does not support streaming-based service invocation", target.id));
                }
            },
            r => r,
        };
        match result {
            Ok(inbound) => {
                let code = inbound.head.status.as_ref().map_or(0, |s| s.code);
                metrics.record_invocation_response(&target.id, code, "unary", started.elapsed());
                return Ok(inbound);
            }
            Err(e) if matches!(e.code, GrpcCode::Unavailable | GrpcCode::Unauthenticated) => {
                ctx.remotes.forget(&addr);
                if replay.is_none() {
                    return Err(e.to_string());
                }
                attempt += 1;
                if attempt > RETRIES {
                    return Err(format!(
                        "failed to invoke target {} after {RETRIES} retries. Error: {e}",
                        target.id
                    ));
                }
                monoio::time::sleep(RETRY_INTERVAL).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

// === front ends ===

/// The metadata every remote call carries besides the caller's own:
/// forwarded headers, the destination, caller and callee IDs.
fn stamp(ctx: &Ctx, target: &Remote, md: &mut Metadata) {
    let inv = &ctx.shared.invocation;
    inv.add_forwarded(md);
    wire::set(md, wire::DESTINATION_ID, &target.id);
    wire::set(md, wire::CALLER_NAMESPACE, &inv.namespace);
    wire::set(md, CALLER.as_str(), &ctx.shared.opts.app_id);
    wire::set(md, CALLEE.as_str(), &target.id);
}

/// HTTP invocation of a remote app (`/v1.0/invoke/{id}/method/…` and the
/// `dapr-app-id` form): `raw` is the ID as the caller wrote it.
pub async fn http_invoke(
    ctx: &Rc<Ctx>,
    raw: &str,
    target: Remote,
    method: &str,
    mut req: Request,
) -> Response {
    let mut headers = std::mem::take(&mut req.headers);
    strip_hop_by_hop(&mut headers);
    headers.remove(APP_ID_HEADER);
    headers.remove(API_TOKEN_HEADER);
    headers.remove(header::HOST);
    ensure_traceparent(&mut headers);
    let content_type = headers
        .remove(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .unwrap_or_default();
    let body = match req.stream.take() {
        Some(s) => OutBody::Stream(s),
        None => OutBody::Full(std::mem::take(&mut req.body)),
    };
    let len = match &body {
        OutBody::Full(b) => Some(b.len() as u64),
        OutBody::Stream(s) => s.len,
    };
    let mut md = wire::headers_to_metadata(&headers, true);
    if !content_type.is_empty() {
        wire::set(&mut md, "Content-Type", &content_type);
    }
    if let Some(n) = len.filter(|&n| n > 0) {
        wire::set(&mut md, "Content-Length", itoa::Buffer::new().format(n));
    }
    stamp(ctx, &target, &mut md);
    let request = internals::InternalInvokeRequest {
        ver: internals::ApiVersion::V1 as i32,
        metadata: md,
        message: Some(common::InvokeRequest {
            method: method.to_owned(),
            data: None,
            content_type,
            http_extension: Some(common::HttpExtension {
                verb: super::grpc::method_verb(&req.method) as i32,
                querystring: req.uri.query().unwrap_or("").to_owned(),
            }),
        }),
        actor: None,
    };
    let inbound = match invoke(ctx, &target, request, body).await {
        Ok(i) => i,
        Err(e) => return invoke_error(raw, e).into(),
    };
    http_response(inbound)
}

/// The HTTP response for a remote sidecar's answer (Go's `onDirectMessage`):
/// an HTTP app's status, headers and body as they are; a gRPC app's
/// non-OK status as JSON with the matching HTTP status.
fn http_response(inbound: Inbound) -> Response {
    let Inbound { head, body } = inbound;
    let status = head.status.clone().unwrap_or_default();
    let mut headers = Vec::with_capacity(head.headers.len());
    for (name, value) in &wire::metadata_to_headers(&head.headers) {
        if name != header::DATE {
            headers.push((name.clone(), value.clone()));
        }
    }
    let message = head.message.unwrap_or_default();
    let content_type = if message
        .data
        .as_ref()
        .is_some_and(|d| !d.type_url.is_empty())
    {
        Some(HeaderValue::from_static("application/x-protobuf"))
    } else {
        HeaderValue::from_str(&message.content_type)
            .ok()
            .filter(|_| !message.content_type.is_empty())
    };
    let mut resp = if status.code >= 100 {
        Response::status(
            u16::try_from(status.code)
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
    } else {
        let code = GrpcCode::from_number(u32::try_from(status.code).unwrap_or(2));
        let http =
            StatusCode::from_u16(code.to_http()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if code != GrpcCode::Ok {
            let mut r = Response::json(http, wire::status_json(status.code, &status.message));
            r.headers = headers;
            return r;
        }
        Response::status(http)
    };
    resp.headers = headers;
    resp.content_type = content_type;
    match body {
        Inflow::Full(b) => resp.body = b,
        Inflow::Stream(s) => resp.stream = Some(s),
    }
    resp
}

/// gRPC metadata for a remote call: the caller's, minus the API token and
/// what the transport sets.
fn grpc_metadata(mut metadata: HeaderMap) -> HeaderMap {
    strip_hop_by_hop(&mut metadata);
    metadata.remove(API_TOKEN_HEADER);
    for h in [
        header::HOST,
        header::CONTENT_LENGTH,
        HeaderName::from_static("grpc-timeout"),
        HeaderName::from_static("grpc-encoding"),
        HeaderName::from_static("grpc-accept-encoding"),
    ] {
        metadata.remove(h);
    }
    metadata
}

/// `Dapr/InvokeService` for a remote app: the encoded `InvokeResponse`, or
/// the app's error as Go maps it; response headers go to `reply`.
pub async fn grpc_invoke(
    ctx: &Rc<Ctx>,
    raw: &str,
    target: Remote,
    mut message: common::InvokeRequest,
    metadata: HeaderMap,
    reply: &RefCell<HeaderMap>,
) -> Result<Bytes, Status> {
    let mut md = wire::headers_to_metadata(&grpc_metadata(metadata), false);
    if !md.contains_key("traceparent") {
        wire::set(
            &mut md,
            "traceparent",
            &crate::channel::trace::new_traceparent(),
        );
    }
    stamp(ctx, &target, &mut md);
    let data = message.data.take().unwrap_or_default();
    message.data = Some(prost_types::Any {
        type_url: data.type_url,
        value: Vec::new(),
    });
    let request = internals::InternalInvokeRequest {
        ver: internals::ApiVersion::V1 as i32,
        metadata: md,
        message: Some(message),
        actor: None,
    };
    let inbound = invoke(
        ctx,
        &target,
        request,
        OutBody::Full(Bytes::from(data.value)),
    )
    .await
    .map_err(|e| Status::from(invoke_error(raw, e)))?;
    let Inbound { head, body } = inbound;
    let body = body
        .collect(ctx.shared.opts.max_body_size)
        .await
        .map_err(|e| Status::from(invoke_error(raw, e)))?;
    {
        let mut r = reply.borrow_mut();
        for (k, v) in &wire::metadata_to_grpc(&head.headers) {
            r.append(k.clone(), v.clone());
        }
    }
    let status = head.status.unwrap_or_default();
    let message = head.message.unwrap_or_default();
    if status.code >= 100 {
        let code = u16::try_from(status.code).unwrap_or(500);
        if let Ok(v) = HeaderValue::from_str(itoa::Buffer::new().format(code)) {
            reply.borrow_mut().insert("dapr-http-status", v);
        }
        if let Some(e) = super::grpc::http_error(code, &body) {
            return Err(e);
        }
    } else if status.code != 0 {
        let code = GrpcCode::from_number(u32::try_from(status.code).unwrap_or(2));
        let details = (!status.details.is_empty()).then(|| {
            Bytes::from(
                crate::proto::google::rpc::Status {
                    code: status.code,
                    message: status.message.clone(),
                    details: status.details.clone(),
                }
                .encode_to_vec(),
            )
        });
        return Err(Status {
            code,
            message: status.message,
            details,
        });
    }
    let type_url = message.data.map(|d| d.type_url).unwrap_or_default();
    Ok(common::InvokeResponse {
        data: Some(prost_types::Any {
            type_url,
            value: body.to_vec(),
        }),
        content_type: message.content_type,
    }
    .encode_to_vec()
    .into())
}

/// Opens a transparent proxy stream to app `target`'s sidecar, which
/// relays it to its app: the caller's metadata (minus the API token) plus
/// `dapr-caller-app-id` and `dapr-callee-app-id`, on the original path.
pub async fn open_proxy(
    ctx: &Ctx,
    target: &Remote,
    mut head: http::request::Parts,
) -> Result<(ResponseFuture, SendStream<Bytes>), String> {
    let addr = resolve(ctx, target).await?;
    strip_hop_by_hop(&mut head.headers);
    head.headers.remove(API_TOKEN_HEADER);
    // Go ≥ 1.16 forwards no `dapr-app-id`: the callee's sidecar finds the
    // target by `dapr-callee-app-id`, and the app never sees it.
    head.headers.remove(APP_ID_HEADER);
    head.headers
        .insert(header::TE, HeaderValue::from_static("trailers"));
    if let Ok(v) = HeaderValue::from_str(&ctx.shared.opts.app_id) {
        head.headers.insert(CALLER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&target.id) {
        head.headers.insert(CALLEE, v);
    }
    ctx.metrics.record_invocation_sent(&target.id, "streaming");
    ctx.remotes
        .open(&addr, head)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_headers_are_gos() {
        let inv = Invocation {
            resolver: Resolver::Kubernetes(
                crate::components::nameresolution::kubernetes::Kubernetes::new(&Default::default())
                    .unwrap(),
            ),
            internal_port: 50002,
            namespace: "default".into(),
            host_address: Some("10.1.2.3".into()),
            host_name: Some("node-1".into()),
        };
        let mut md = Metadata::new();
        wire::append(&mut md, "X-Forwarded-For", "192.168.0.9".into());
        inv.add_forwarded(&mut md);
        assert_eq!(md["X-Forwarded-For"].values, ["192.168.0.9", "10.1.2.3"]);
        assert_eq!(md["X-Forwarded-Host"].values, ["node-1"]);
        assert_eq!(
            md["Forwarded"].values,
            ["for=10.1.2.3;by=10.1.2.3;host=node-1"]
        );
        let inv6 = Invocation {
            host_address: Some("fd00::1".into()),
            host_name: None,
            ..inv
        };
        let mut md = Metadata::new();
        inv6.add_forwarded(&mut md);
        assert_eq!(
            md["Forwarded"].values,
            ["for=\"[fd00::1]\";by=\"[fd00::1]\""]
        );
    }
}
