//! Service invocation over HTTP: `/v1.0/invoke/{id}/method/{method...}`
//! and the `dapr-app-id` header form.
//!
//! A call for our own app id goes to the app over this worker's app
//! channel ([`AppChannel`]); to an HTTP app bodies stream both ways when
//! they are large. A call for
//! another app id (or `id.namespace` other than ours) is resolved through
//! the name resolver and sent to that app's sidecar over its internal gRPC
//! port ([`remote`]); [`internal`] is the other end, serving such calls
//! from other sidecars.
//!
//! [`AppChannel`]: crate::channel::AppChannel

pub mod external;
pub mod grpc;
pub mod internal;
pub mod internal_server;
pub mod proxy;
pub mod remote;
pub mod wire;

use std::rc::Rc;

use http::{header, HeaderName, HeaderValue};

use super::error::{ApiError, ErrorCode};
use super::{Ctx, API_TOKEN_HEADER, APP_ID_HEADER};
use crate::channel::grpc::GrpcChannel;
use crate::channel::http::HttpChannel;
use crate::channel::trace::ensure_traceparent;
use crate::channel::AppCall;
use crate::http::client::{strip_hop_by_hop, ClientRequest, OutBody};
use crate::http::message::{Request, Response};

/// `dapr-caller-app-id`
pub(crate) const CALLER: HeaderName = HeaderName::from_static("dapr-caller-app-id");
/// `dapr-callee-app-id`
pub(crate) const CALLEE: HeaderName = HeaderName::from_static("dapr-callee-app-id");

/// An answer's `Content-Type` as text (empty when absent or not text), as
/// an `InvokeResponse` carries it.
pub(crate) fn content_type(headers: &http::HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// This sidecar's identity as header values, validated once per worker
/// instead of on every call to the app.
pub struct LocalHeaders {
    /// Our app id (`dapr-caller-app-id` and `dapr-callee-app-id` on local calls).
    app_id: Option<HeaderValue>,
    /// Our namespace (`dapr-caller-namespace`).
    namespace: Option<HeaderValue>,
    /// `APP_API_TOKEN`, sent as `dapr-api-token`.
    app_token: Option<HeaderValue>,
}

impl LocalHeaders {
    /// The values for `app_id`, `namespace` and the app token, when they are
    /// valid header values.
    pub fn new(app_id: &str, namespace: &str, app_token: Option<&str>) -> Self {
        Self {
            app_id: HeaderValue::from_str(app_id).ok(),
            namespace: HeaderValue::from_str(namespace).ok(),
            app_token: app_token.and_then(|t| HeaderValue::from_str(t).ok()),
        }
    }

    /// Adds what Go's channel adds to a local call to the app: the app
    /// token, the caller and callee ids (both ours), our namespace, and a
    /// trace context when the caller sent none.
    pub fn add_to(&self, headers: &mut http::HeaderMap) {
        if let Some(v) = &self.app_token {
            headers.insert(API_TOKEN_HEADER, v.clone());
        }
        if let Some(v) = &self.app_id {
            headers.insert(CALLER, v.clone());
            headers.insert(CALLEE, v.clone());
        }
        if let Some(v) = &self.namespace {
            headers.insert(wire::CALLER_NAMESPACE, v.clone());
        }
        ensure_traceparent(headers);
    }
}

pub(crate) fn invoke_error(id: &str, err: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::DirectInvoke,
        format!("failed to invoke, id: {id}, err: {err}"),
    )
}

/// An app behind another sidecar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// Its app id.
    pub id: String,
    /// Its namespace.
    pub namespace: String,
}

/// Where an invocation goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target<'t> {
    /// This sidecar's app (its id).
    Local(&'t str),
    /// Another app, through its sidecar.
    Remote(Remote),
}

/// Go's `requestAppIDAndNamespace` and local check: `target` is `id` (our
/// namespace) or `id.namespace`; it is local when both are ours.
pub fn resolve_target<'t>(ctx: &Ctx, target: &'t str) -> Result<Target<'t>, ApiError> {
    let opts = &ctx.shared.opts;
    let ours = opts.namespace.as_deref().unwrap_or("default");
    let (id, namespace) = match target.split_once('.') {
        None if target.is_empty() => return Err(invoke_error(target, "app id is empty")),
        None => (target, ours),
        Some((_, ns)) if ns.contains('.') => {
            return Err(invoke_error(target, format!("invalid app id {target}")))
        }
        Some((id, ns)) => (id, ns),
    };
    if id == opts.app_id && namespace == ours {
        Ok(Target::Local(id))
    } else {
        Ok(Target::Remote(Remote {
            id: id.to_owned(),
            namespace: namespace.to_owned(),
        }))
    }
}

/// Invokes `method` (raw path, without the leading `/`) on app `target`
/// (`id` or `id.namespace`), or on an external endpoint (an HTTPEndpoint's
/// name, or a URL: [`external`]).
pub async fn invoke(ctx: &Rc<Ctx>, target: &str, method: &str, req: Request) -> Response {
    if let Some(ext) = external::lookup(ctx, target) {
        return external::invoke(ctx, target, ext, method, req).await;
    }
    let id = match resolve_target(ctx, target) {
        Ok(Target::Local(id)) => id,
        Ok(Target::Remote(r)) => return remote::http_invoke(ctx, target, r, method, req).await,
        Err(e) => return e.into(),
    };
    if !ctx.shared.app_health.is_healthy() {
        return invoke_error(id, crate::channel::health::UNHEALTHY_ERROR).into();
    }
    let Some(app) = ctx.app.as_ref() else {
        return invoke_error(id, "app channel not initialized").into();
    };
    app.call(LocalInvoke {
        ctx,
        id,
        method,
        req,
    })
    .await
}

/// An HTTP API invocation of this sidecar's app: `method` (raw path) with
/// the caller's request.
struct LocalInvoke<'a> {
    ctx: &'a Rc<Ctx>,
    id: &'a str,
    method: &'a str,
    req: Request,
}

impl AppCall for LocalInvoke<'_> {
    type Output = Response;

    /// The request as it came, to `/<method>?<query>`; the app's answer as it is.
    async fn over_http(self, channel: &HttpChannel) -> Response {
        let LocalInvoke {
            ctx,
            id,
            method,
            mut req,
        } = self;
        // Headers: the caller's, minus hop-by-hop and Dapr's own, plus the
        // caller/callee ids, the app token, and a trace context.
        let mut headers = std::mem::take(&mut req.headers);
        strip_hop_by_hop(&mut headers);
        headers.remove(APP_ID_HEADER);
        headers.remove(API_TOKEN_HEADER);
        ctx.local_headers.add_to(&mut headers);

        let mut target_path = String::with_capacity(method.len() + req.query().len() + 2);
        target_path.push('/');
        target_path.push_str(method.trim_start_matches('/'));
        if let Some(q) = req.uri.query() {
            target_path.push('?');
            target_path.push_str(q);
        }
        let body = match req.stream.take() {
            Some(s) => OutBody::Stream(s),
            None => OutBody::Full(std::mem::take(&mut req.body)),
        };
        let app_req = ClientRequest {
            method: req.method.clone(),
            target: target_path,
            headers,
            body,
        };
        match channel.call(app_req).await {
            Ok(r) => to_response(r),
            Err(e) => invoke_error(id, e).into(),
        }
    }

    /// The request wrapped in an `InvokeRequest` to `OnInvoke`.
    async fn over_grpc(self, channel: &GrpcChannel) -> Response {
        grpc::http_to_grpc_app(self.ctx, channel, self.id, self.method, self.req).await
    }
}

/// An HTTP server's answer as the API's response: its status, headers
/// (minus `Date`, which our server sets) and body as they came.
pub(crate) fn to_response(mut r: crate::http::client::ClientResponse) -> Response {
    let content_type = r.headers.remove(header::CONTENT_TYPE);
    let mut headers = Vec::with_capacity(r.headers.len());
    let mut last: Option<HeaderName> = None;
    for (name, value) in r.headers {
        // `HeaderMap::into_iter` names only the first of repeated values.
        if let Some(n) = name {
            last = Some(n);
        }
        if let Some(n) = &last {
            if n != header::DATE {
                headers.push((n.clone(), value));
            }
        }
    }
    Response {
        status: r.status,
        content_type,
        headers,
        body: r.body,
        stream: r.stream,
    }
}

/// `/v1.0/invoke/{id}/method/{method...}`
pub async fn http_invoke(ctx: &Rc<Ctx>, m: &super::router::Match<'_>, req: Request) -> Response {
    let id = m.param("id").unwrap_or_default().into_owned();
    let method = m.raw_param("method").unwrap_or_default().to_owned();
    invoke(ctx, &id, &method, req).await
}

/// A path that matches no route, with `dapr-app-id`: the path is the method.
pub async fn header_invoke(ctx: &Rc<Ctx>, path: &str, req: Request) -> Response {
    let Some(id) = req.header_str(APP_ID_HEADER).map(str::to_owned) else {
        if let Some((id, method)) = url_target(req.uri.path()) {
            return invoke(ctx, &id, &method, req).await;
        }
        return ApiError::new(
            ErrorCode::DirectInvoke,
            "failed getting app id either from the URL path or the header dapr-app-id",
        )
        .with_status(404, crate::grpc::status::GrpcCode::NotFound)
        .into();
    };
    let method = path.trim_start_matches('/').to_owned();
    invoke(ctx, &id, &method, req).await
}

/// Go's scan of an invocation path the route table cannot match because
/// its app id is a URL with `/` in it (`/v1.0/invoke/http://host:port/method/m`):
/// the id is what precedes the first `/method/` (percent-decoded), the
/// method what follows (cleaned). `raw` is the path as it came.
fn url_target(raw: &str) -> Option<(String, String)> {
    let rest = raw.trim_start_matches('/').strip_prefix("v1.0/")?;
    let rest = rest.trim_start_matches('/').strip_prefix("invoke/")?;
    let rest = rest.trim_start_matches('/');
    let idx = rest.find("/method/").filter(|&i| i > 0)?;
    let id = percent_encoding::percent_decode_str(&rest[..idx]).decode_utf8_lossy();
    let method = super::router::clean_path(&rest[idx + "/method/".len()..])
        .trim_start_matches('/')
        .to_owned();
    Some((id.into_owned(), method))
}

#[cfg(test)]
mod tests {
    use super::url_target;

    #[test]
    fn url_targets_are_found_as_go_finds_them() {
        let t = url_target;
        assert_eq!(
            t("/v1.0/invoke/http://127.0.0.1:80/method/a/b"),
            Some(("http://127.0.0.1:80".into(), "a/b".into()))
        );
        assert_eq!(
            t("/v1.0/invoke/https://h/v2/method/x/../y"),
            Some(("https://h/v2".into(), "y".into()))
        );
        assert_eq!(
            t("/v1.0/invoke/http%3A%2F%2Fh%3A1/method/m"),
            Some(("http://h:1".into(), "m".into()))
        );
        assert_eq!(t("/v1.0/invoke/x"), None);
        assert_eq!(t("/v1.0/state/x/method/y"), None);
    }
}
