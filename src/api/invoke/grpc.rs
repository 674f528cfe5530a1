//! Invocation where gRPC is involved: the gRPC API's `InvokeService`, and
//! HTTP invocation of an app that speaks gRPC (`AppCallback/OnInvoke`).
//!
//! `InvokeService` on an HTTP app becomes an HTTP call (the verb and query
//! string from `http_extension`, POST when none; body and content type
//! from the message); the answer's headers come back as response metadata;
//! a non-2xx answer is a gRPC error with Go's mapping of HTTP statuses to
//! codes and the body in `ErrorInfo` metadata. An HTTPEndpoint name or a
//! URL as the id makes the same HTTP call to that endpoint, through
//! [`external::exchange`]. On a gRPC
//! app the `InvokeRequest` goes to `OnInvoke` as is, and the app's status
//! comes back unchanged. HTTP invocation of a gRPC app wraps the request in
//! an `InvokeRequest` the same way and answers the app's data.

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use prost::Message;

use super::{external, invoke_error, resolve_target, wire, Target};
use crate::api::{Ctx, API_TOKEN_HEADER, APP_ID_HEADER};
use crate::channel::grpc::{AppCallError, GrpcChannel};
use crate::channel::http::HttpChannel;
use crate::channel::AppCall;
use crate::grpc::server::Status;
use crate::grpc::status::GrpcCode;
use crate::http::client::{strip_hop_by_hop, ClientRequest, ClientResponse, OutBody};
use crate::http::message::{Request, Response};
use crate::proto::dapr::proto::common::v1 as common;
use crate::proto::dapr::proto::runtime::v1 as pb;
use crate::proto::google::rpc;
use common::http_extension::Verb;

const ON_INVOKE: &str = "/dapr.proto.runtime.v1.AppCallback/OnInvoke";

/// Go's `CodeFromHTTPStatus` (grpc's HTTP → gRPC status mapping, Dapr's variant).
pub fn code_from_http(status: u16) -> GrpcCode {
    match status {
        200..=299 => GrpcCode::Ok,
        408 => GrpcCode::Cancelled,
        500 => GrpcCode::Unknown,
        400 => GrpcCode::Internal,
        504 => GrpcCode::DeadlineExceeded,
        404 => GrpcCode::NotFound,
        409 => GrpcCode::AlreadyExists,
        403 => GrpcCode::PermissionDenied,
        401 => GrpcCode::Unauthenticated,
        429 => GrpcCode::ResourceExhausted,
        501 => GrpcCode::Unimplemented,
        503 => GrpcCode::Unavailable,
        _ => GrpcCode::Unknown,
    }
}

/// The HTTP method of an `HTTPExtension` verb (none: POST).
pub(crate) fn verb_method(ext: Option<&common::HttpExtension>) -> Method {
    match ext.map(|e| Verb::try_from(e.verb).unwrap_or(Verb::None)) {
        Some(Verb::Get) => Method::GET,
        Some(Verb::Head) => Method::HEAD,
        Some(Verb::Put) => Method::PUT,
        Some(Verb::Delete) => Method::DELETE,
        Some(Verb::Connect) => Method::CONNECT,
        Some(Verb::Options) => Method::OPTIONS,
        Some(Verb::Trace) => Method::TRACE,
        Some(Verb::Patch) => Method::PATCH,
        Some(Verb::Post) | Some(Verb::None) | None => Method::POST,
    }
}

/// The verb of an HTTP method, for an `HTTPExtension`.
pub(crate) fn method_verb(m: &Method) -> Verb {
    match *m {
        Method::GET => Verb::Get,
        Method::HEAD => Verb::Head,
        Method::PUT => Verb::Put,
        Method::DELETE => Verb::Delete,
        Method::CONNECT => Verb::Connect,
        Method::OPTIONS => Verb::Options,
        Method::TRACE => Verb::Trace,
        Method::PATCH => Verb::Patch,
        _ => Verb::Post,
    }
}

/// Caller metadata for the app: the caller's, minus transport and Dapr's
/// own headers, plus caller/callee ids, the app token and a trace context.
fn app_headers(ctx: &Ctx, mut headers: HeaderMap) -> HeaderMap {
    strip_hop_by_hop(&mut headers);
    for h in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::TE,
        header::USER_AGENT,
        header::HOST,
    ] {
        headers.remove(h);
    }
    headers.remove(APP_ID_HEADER);
    headers.remove(API_TOKEN_HEADER);
    let grpc_own: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("grpc-"))
        .cloned()
        .collect();
    for k in grpc_own {
        headers.remove(k);
    }
    ctx.local_headers.add_to(&mut headers);
    headers
}

fn app_status(e: AppCallError) -> Status {
    match e {
        AppCallError::Status { code, message } => Status::new(code, message),
        AppCallError::Unavailable(m) => Status::new(GrpcCode::Unavailable, m),
    }
}

/// Go's `ErrorFromHTTPResponseCode`: a non-2xx HTTP status as a gRPC
/// error (status text as message; code and body, ≤ 63 bytes, in
/// `ErrorInfo`); `None` for 2xx.
pub(crate) fn http_error(status: u16, body: &[u8]) -> Option<Status> {
    let code = code_from_http(status);
    if code == GrpcCode::Ok {
        return None;
    }
    let text = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
        .to_owned();
    let detail = String::from_utf8_lossy(&body[..body.len().min(63)]).into_owned();
    let info = rpc::ErrorInfo {
        reason: text.clone(),
        domain: "dapr.io".into(),
        metadata: HashMap::from([
            ("http.code".to_owned(), status.to_string()),
            ("http.error_message".to_owned(), detail),
        ]),
    };
    Some(Status {
        details: Some(crate::api::grpc::status_bytes(code, &text, Some(info))),
        code,
        message: text,
    })
}

/// `Dapr/InvokeService`: the encoded `InvokeResponse`, or the app's error;
/// response metadata (`dapr-http-status`, a remote app's headers) goes to
/// `reply`.
pub async fn invoke_service(
    ctx: &Rc<Ctx>,
    req: pb::InvokeServiceRequest,
    metadata: HeaderMap,
    reply: &std::cell::RefCell<HeaderMap>,
) -> Result<Bytes, Status> {
    // As Go: HTTPEndpoint names and URLs first, before any name resolution.
    if let Some(ext) = external::lookup(ctx, &req.id) {
        let message = req.message.unwrap_or_default();
        return invoke_external(ctx, &req.id, &ext, message, metadata, reply).await;
    }
    let id = match resolve_target(ctx, &req.id)? {
        Target::Local(id) => id,
        Target::Remote(r) => {
            let message = req.message.unwrap_or_default();
            return super::remote::grpc_invoke(ctx, &req.id, r, message, metadata, reply).await;
        }
    };
    if !ctx.shared.app_health.is_healthy() {
        return Err(invoke_error(id, crate::channel::health::UNHEALTHY_ERROR).into());
    }
    let Some(app) = ctx.app.as_ref() else {
        return Err(invoke_error(id, "app channel not initialized").into());
    };
    let message = req.message.unwrap_or_default();
    let headers = app_headers(ctx, metadata);
    app.call(ServiceInvoke {
        ctx,
        id,
        message,
        headers,
        reply,
    })
    .await
}

/// The query string of an `InvokeRequest` (`http_extension.querystring`,
/// without a leading `?`), when there is one.
fn message_query(message: &common::InvokeRequest) -> Option<&str> {
    message
        .http_extension
        .as_ref()
        .map(|e| e.querystring.trim_start_matches('?'))
        .filter(|q| !q.is_empty())
}

/// The message's content type as the HTTP request's (Go: none when empty).
fn set_content_type(headers: &mut HeaderMap, message: &common::InvokeRequest) {
    headers.remove(header::CONTENT_TYPE);
    if let Ok(v) = HeaderValue::from_str(&message.content_type) {
        if !message.content_type.is_empty() {
            headers.insert(header::CONTENT_TYPE, v);
        }
    }
}

/// The message's data as an HTTP body.
fn message_data(message: common::InvokeRequest) -> Bytes {
    message
        .data
        .map(|d| Bytes::from(d.value))
        .unwrap_or_default()
}

/// Go's reading of an HTTP answer to `InvokeService` (an HTTP app's or
/// an external endpoint's): its headers as gRPC metadata (Go's
/// `InternalMetadataToGrpcMetadata`: permanent HTTP names prefixed with
/// `dapr-`) and `dapr-http-status` in `reply`; a non-2xx status as Go's
/// gRPC error; else the body and content type as an `InvokeResponse`.
async fn http_answer(
    ctx: &Ctx,
    id: &str,
    mut resp: ClientResponse,
    reply: &std::cell::RefCell<HeaderMap>,
) -> Result<Bytes, Status> {
    let body = match resp.stream.take() {
        Some(s) => s
            .collect(ctx.shared.opts.max_body_size)
            .await
            .map_err(|e| Status::from(invoke_error(id, e)))?,
        None => resp.body,
    };
    let status = resp.status.as_u16();
    {
        let mut r = reply.borrow_mut();
        let md = wire::headers_to_metadata(&resp.headers, true);
        for (k, v) in &wire::metadata_to_grpc(&md) {
            r.append(k.clone(), v.clone());
        }
        // Go sets `dapr-http-status` on every HTTP answer.
        r.insert("dapr-http-status", HeaderValue::from(status));
    }
    if let Some(e) = http_error(status, &body) {
        return Err(e);
    }
    let content_type = super::content_type(&resp.headers);
    Ok(common::InvokeResponse {
        data: Some(prost_types::Any {
            type_url: String::new(),
            value: body.to_vec(),
        }),
        content_type,
    }
    .encode_to_vec()
    .into())
}

/// `InvokeService` of an HTTPEndpoint or URL (Go's `invokeHTTPEndpoint`
/// through its HTTP endpoint channel): the verb and query string from
/// `http_extension` (POST when none, as for HTTP apps), the caller's
/// metadata as HTTP headers by Go's rules (`grpc-*` as `dapr-grpc-*`), the
/// message's content type and data; the answer read as an HTTP app's.
async fn invoke_external(
    ctx: &Rc<Ctx>,
    id: &str,
    ext: &external::External,
    message: common::InvokeRequest,
    metadata: HeaderMap,
    reply: &std::cell::RefCell<HeaderMap>,
) -> Result<Bytes, Status> {
    let mut headers = wire::metadata_to_headers(&wire::headers_to_metadata(&metadata, false));
    set_content_type(&mut headers, &message);
    let method = verb_method(message.http_extension.as_ref());
    let query = message_query(&message).map(str::to_owned);
    let path = message.method.clone();
    let call = external::Call {
        method,
        path: &path,
        query: query.as_deref(),
        headers,
        body: OutBody::Full(message_data(message)),
    };
    let resp = external::exchange(ctx, id, ext, call).await?;
    http_answer(ctx, id, resp, reply).await
}

/// `InvokeService` of this sidecar's app: the message, the caller's
/// metadata made app headers, and where response metadata goes.
struct ServiceInvoke<'a> {
    ctx: &'a Ctx,
    id: &'a str,
    message: common::InvokeRequest,
    headers: HeaderMap,
    reply: &'a std::cell::RefCell<HeaderMap>,
}

impl AppCall for ServiceInvoke<'_> {
    type Output = Result<Bytes, Status>;

    /// An HTTP call (verb and query from `http_extension`); a non-2xx
    /// answer as Go's gRPC error.
    async fn over_http(self, channel: &HttpChannel) -> Result<Bytes, Status> {
        let ServiceInvoke {
            ctx,
            id,
            message,
            headers,
            reply,
        } = self;
        let mut target = format!("/{}", message.method.trim_start_matches('/'));
        if let Some(q) = message_query(&message) {
            target.push('?');
            target.push_str(q);
        }
        let mut headers = headers;
        set_content_type(&mut headers, &message);
        let app_req = ClientRequest {
            method: verb_method(message.http_extension.as_ref()),
            target,
            headers,
            body: OutBody::Full(message_data(message)),
        };
        let resp = channel
            .call(app_req)
            .await
            .map_err(|e| Status::from(invoke_error(id, e)))?;
        http_answer(ctx, id, resp, reply).await
    }

    /// The message to `OnInvoke` as it is; the app's status unchanged.
    async fn over_grpc(self, channel: &GrpcChannel) -> Result<Bytes, Status> {
        channel
            .unary(ON_INVOKE, self.headers, &self.message.encode_to_vec())
            .await
            .map_err(app_status)
    }
}

/// HTTP invocation of a gRPC app: the request as an `InvokeRequest` to
/// `OnInvoke`; the reply's data and content type as the response.
pub async fn http_to_grpc_app(
    ctx: &Rc<Ctx>,
    grpc: &GrpcChannel,
    id: &str,
    method: &str,
    mut req: Request,
) -> Response {
    let max = ctx.shared.opts.max_body_size;
    let body = match req.stream.take() {
        Some(s) => match s.collect(max).await {
            Ok(b) => b,
            Err(e) => return invoke_error(id, e).into(),
        },
        None => std::mem::take(&mut req.body),
    };
    let content_type = req.header_str("content-type").unwrap_or("").to_owned();
    let message = common::InvokeRequest {
        method: method.to_owned(),
        data: Some(prost_types::Any {
            type_url: String::new(),
            value: body.to_vec(),
        }),
        content_type,
        http_extension: Some(common::HttpExtension {
            verb: method_verb(&req.method) as i32,
            querystring: req.uri.query().unwrap_or("").to_owned(),
        }),
    };
    let headers = app_headers(ctx, std::mem::take(&mut req.headers));
    match grpc
        .unary(ON_INVOKE, headers, &message.encode_to_vec())
        .await
    {
        Ok(bytes) => match common::InvokeResponse::decode(&bytes[..]) {
            Ok(r) => {
                let mut resp = Response::status(StatusCode::OK);
                resp.content_type = HeaderValue::from_str(&r.content_type)
                    .ok()
                    .filter(|_| !r.content_type.is_empty());
                resp.body = r.data.map(|d| Bytes::from(d.value)).unwrap_or_default();
                resp
            }
            Err(e) => invoke_error(id, format!("invalid InvokeResponse from the app: {e}")).into(),
        },
        Err(AppCallError::Unavailable(m)) => invoke_error(id, m).into(),
        Err(AppCallError::Status { code, message }) => {
            // Go answers the app's status as JSON, with the matching HTTP status.
            let body = serde_json::json!({"code": code.as_u8(), "message": message, "details": []});
            let status =
                StatusCode::from_u16(code.to_http()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Response::json(status, serde_json::to_vec(&body).unwrap_or_default())
        }
    }
}
