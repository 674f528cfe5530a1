//! The callee side of sidecar-to-sidecar invocation: another sidecar's
//! `CallLocal` / `CallLocalStream` request, turned into a call of this
//! sidecar's app (Go: `pkg/api/grpc/daprinternal.go`).
//!
//! An HTTP app gets `<verb> /<method>?<query>` with the caller's headers
//! (Go's metadata rules, see [`super::wire`]), the message's content type,
//! the body as it arrives (`Content-Length` when the caller sent one) and
//! `APP_API_TOKEN`; its status code, headers and body go back unchanged
//! (status code = the HTTP status, as Go). A gRPC app gets the request as
//! an `InvokeRequest` on `AppCallback/OnInvoke` (body collected, bounded by
//! `--max-body-size`); its gRPC status goes back as the code.
//!
//! Failures are Go's: no app channel → `INTERNAL` "app channel is not
//! initialized"; the app unreachable or unhealthy → `INTERNAL` "error
//! invoking app channel: …".

use std::rc::Rc;

use bytes::Bytes;
use http::{header, HeaderValue};
use prost::Message;

use super::wire;
use crate::api::Ctx;
use crate::channel::grpc::{AppCallError, GrpcChannel};
use crate::channel::http::HttpChannel;
use crate::channel::trace::ensure_traceparent;
use crate::channel::AppCall;
use crate::grpc::server::Status;
use crate::grpc::status::GrpcCode;
use crate::http::body::BodyStream;
use crate::http::client::{ClientRequest, OutBody};
use crate::proto::dapr::proto::common::v1 as common;
use crate::proto::dapr::proto::internals::v1 as internals;

const ON_INVOKE: &str = "/dapr.proto.runtime.v1.AppCallback/OnInvoke";

/// The app's answer: the response head (status, headers, message without
/// data) and the body.
pub struct Reply {
    /// Status, headers, and the message with its data taken out.
    pub head: internals::InternalInvokeResponse,
    /// The body.
    pub body: ReplyBody,
}

/// A reply body.
pub enum ReplyBody {
    /// In memory.
    Full(Bytes),
    /// Arriving from the app.
    Stream(BodyStream),
}

impl Reply {
    /// The reply as one `InternalInvokeResponse` with its data (`CallLocal`).
    pub async fn into_unary(self, max: usize) -> Result<internals::InternalInvokeResponse, Status> {
        let Reply { mut head, body } = self;
        let data = match body {
            ReplyBody::Full(b) => b,
            ReplyBody::Stream(s) => s
                .collect(max)
                .await
                .map_err(|e| channel_error(&e.to_string()))?,
        };
        let message = head.message.get_or_insert_with(Default::default);
        let type_url = message.data.take().map(|d| d.type_url).unwrap_or_default();
        message.data = Some(prost_types::Any {
            type_url,
            value: data.to_vec(),
        });
        Ok(head)
    }
}

/// Go's `ErrChannelInvoke`.
fn channel_error(err: &str) -> Status {
    Status::new(
        GrpcCode::Internal,
        format!("error invoking app channel: {err}"),
    )
}

/// The caller's app ID from the request metadata (`unknown` when absent).
pub fn caller_of(req: &internals::InternalInvokeRequest) -> String {
    wire::first(&req.metadata, super::CALLER.as_str())
        .filter(|v| !v.is_empty())
        .unwrap_or("unknown")
        .to_owned()
}

/// The declared body length (`Content-Length` in the metadata).
pub fn content_length(req: &internals::InternalInvokeRequest) -> Option<u64> {
    wire::first(&req.metadata, "content-length").and_then(|v| v.trim().parse().ok())
}

/// Calls this sidecar's app for `req` (whose message carries no data) with
/// `body`.
pub async fn call_app(
    ctx: &Rc<Ctx>,
    req: internals::InternalInvokeRequest,
    body: OutBody,
) -> Result<Reply, Status> {
    let Some(app) = ctx.app.as_ref() else {
        return Err(Status::new(
            GrpcCode::Internal,
            "app channel is not initialized",
        ));
    };
    let Some(message) = req.message else {
        return Err(Status::new(
            GrpcCode::InvalidArgument,
            "parsing InternalInvokeRequest error: field Message is nil",
        ));
    };
    if !ctx.shared.app_health.is_healthy() {
        return Err(channel_error(crate::channel::health::UNHEALTHY_ERROR));
    }
    app.call(LocalCall {
        ctx,
        metadata: req.metadata,
        message,
        body,
    })
    .await
}

/// A call of this sidecar's app for another sidecar.
struct LocalCall<'a> {
    ctx: &'a Ctx,
    metadata: wire::Metadata,
    message: common::InvokeRequest,
    body: OutBody,
}

impl AppCall for LocalCall<'_> {
    type Output = Result<Reply, Status>;

    /// `<verb> /<method>?<query>` with the caller's headers; the app's
    /// status, headers and body as they are.
    async fn over_http(self, channel: &HttpChannel) -> Result<Reply, Status> {
        let LocalCall {
            ctx,
            metadata,
            message,
            body,
        } = self;
        // <verb> /<method>?<query>; Go cleans the method path first.
        let ext = message.http_extension.clone().unwrap_or_default();
        let method = super::grpc::verb_method(Some(&ext));
        let clean = clean_method(&message.method);
        let mut target = String::with_capacity(clean.len() + ext.querystring.len() + 2);
        target.push('/');
        target.push_str(clean.trim_start_matches('/'));
        if !ext.querystring.is_empty() {
            target.push('?');
            target.push_str(&ext.querystring);
        }
        let mut headers = wire::metadata_to_headers(&metadata);
        let has_type_url = message
            .data
            .as_ref()
            .is_some_and(|d| !d.type_url.is_empty());
        let content_type = if has_type_url {
            "application/x-protobuf"
        } else {
            message.content_type.as_str()
        };
        if let Ok(v) = HeaderValue::from_str(content_type) {
            if !content_type.is_empty() {
                headers.insert(header::CONTENT_TYPE, v);
            }
        }
        crate::channel::add_app_token(&mut headers, &ctx.shared.opts);
        ensure_traceparent(&mut headers);
        let app_req = ClientRequest {
            method,
            target,
            headers,
            body,
        };
        let resp = channel
            .call(app_req)
            .await
            .map_err(|e| channel_error(&e.to_string()))?;

        let mut md = wire::Metadata::with_capacity(resp.headers.keys_len() + 1);
        for (k, v) in wire::headers_to_metadata(&resp.headers, true) {
            md.insert(k, v);
        }
        let len = match &resp.stream {
            Some(s) => s.len,
            None => Some(resp.body.len() as u64),
        };
        if let Some(n) = len {
            wire::set(&mut md, "Content-Length", itoa::Buffer::new().format(n));
        }
        let content_type = super::content_type(&resp.headers);
        let head = internals::InternalInvokeResponse {
            status: Some(internals::Status {
                code: i32::from(resp.status.as_u16()),
                message: String::new(),
                details: Vec::new(),
            }),
            headers: md,
            trailers: Default::default(),
            message: Some(common::InvokeResponse {
                data: None,
                content_type,
            }),
        };
        let body = match resp.stream {
            Some(s) => ReplyBody::Stream(s),
            None => ReplyBody::Full(resp.body),
        };
        Ok(Reply { head, body })
    }

    async fn over_grpc(self, channel: &GrpcChannel) -> Result<Reply, Status> {
        call_grpc_app(self.ctx, channel, &self.metadata, self.message, self.body).await
    }
}

/// A gRPC app: the request (body collected) to `OnInvoke`; its status as the code.
async fn call_grpc_app(
    ctx: &Ctx,
    grpc: &GrpcChannel,
    md: &wire::Metadata,
    mut message: common::InvokeRequest,
    body: OutBody,
) -> Result<Reply, Status> {
    let data = match body {
        OutBody::Full(b) => b,
        OutBody::Stream(s) => s
            .collect(ctx.shared.opts.max_body_size)
            .await
            .map_err(|e| channel_error(&e.to_string()))?,
    };
    let type_url = message.data.take().map(|d| d.type_url).unwrap_or_default();
    message.data = Some(prost_types::Any {
        type_url,
        value: data.to_vec(),
    });
    let mut metadata = wire::metadata_to_grpc(md);
    for h in [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::TE] {
        metadata.remove(h);
    }
    crate::channel::add_app_token(&mut metadata, &ctx.shared.opts);
    ensure_traceparent(&mut metadata);
    let (status, response) = match grpc
        .unary(ON_INVOKE, metadata, &message.encode_to_vec())
        .await
    {
        Ok(bytes) => match common::InvokeResponse::decode(&bytes[..]) {
            Ok(r) => (internals::Status::default(), r),
            Err(e) => {
                return Err(channel_error(&format!(
                    "invalid InvokeResponse from the app: {e}"
                )))
            }
        },
        // Go: the app's status (a transport failure as UNAVAILABLE) is the answer.
        Err(e) => {
            let code = match &e {
                AppCallError::Status { code, .. } => *code,
                AppCallError::Unavailable(_) => GrpcCode::Unavailable,
            };
            let status = internals::Status {
                code: i32::from(code.as_u8()),
                message: e.to_string(),
                details: Vec::new(),
            };
            (status, common::InvokeResponse::default())
        }
    };
    let mut message = response;
    let data = message
        .data
        .as_mut()
        .map(|d| Bytes::from(std::mem::take(&mut d.value)))
        .unwrap_or_default();
    Ok(Reply {
        head: internals::InternalInvokeResponse {
            status: Some(status),
            headers: Default::default(),
            trailers: Default::default(),
            message: Some(message),
        },
        body: ReplyBody::Full(data),
    })
}

/// Go's `path.Clean` of the method (`a/../b` → `b`, `.` → empty), so a
/// caller cannot step outside the app's paths.
fn clean_method(method: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in method.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_cleaned() {
        assert_eq!(clean_method("echo/a%20b"), "echo/a%20b");
        assert_eq!(clean_method("a/../../etc/passwd"), "etc/passwd");
        assert_eq!(clean_method("./x//y/"), "x/y");
        assert_eq!(clean_method("."), "");
    }
}
