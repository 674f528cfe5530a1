//! Service invocation over HTTP: `/v1.0/invoke/{id}/method/{method...}`
//! and the `dapr-app-id` header form.
//!
//! A call for our own app id goes to the app over this worker's
//! [`HttpChannel`]; bodies stream both ways when they are large. Calls for
//! other app ids need name resolution and the internal gRPC port, which are
//! not built yet: they fail as Go fails when it cannot resolve an app.

pub mod grpc;

use std::rc::Rc;

use http::{header, HeaderName, HeaderValue};

use super::error::{ApiError, ErrorCode};
use super::{Ctx, API_TOKEN_HEADER, APP_ID_HEADER};
use crate::channel::http::{strip_hop_by_hop, AppRequest, OutBody};
use crate::channel::trace::ensure_traceparent;
use crate::http::message::{Request, Response};

/// `dapr-caller-app-id`
pub(crate) const CALLER: HeaderName = HeaderName::from_static("dapr-caller-app-id");
/// `dapr-callee-app-id`
pub(crate) const CALLEE: HeaderName = HeaderName::from_static("dapr-callee-app-id");

pub(crate) fn invoke_error(id: &str, err: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::DirectInvoke,
        format!("failed to invoke, id: {id}, err: {err}"),
    )
}

/// The app id of `target` (`id` or `id.namespace`) when it is this
/// sidecar's app; other apps need name resolution, which is not built.
pub fn local_target<'t>(ctx: &Ctx, target: &'t str) -> Result<&'t str, ApiError> {
    let opts = &ctx.shared.opts;
    let (id, namespace) = match target.split_once('.') {
        Some((id, ns)) => (id, Some(ns)),
        None => (target, None),
    };
    let ours = id == opts.app_id
        && namespace.is_none_or(|ns| opts.namespace.as_deref().unwrap_or("default") == ns);
    if ours {
        Ok(id)
    } else {
        Err(invoke_error(
            target,
            format!("couldn't find service: {target}"),
        ))
    }
}

/// Invokes `method` (raw path, without the leading `/`) on app `target`
/// (`id` or `id.namespace`).
pub async fn invoke(ctx: &Rc<Ctx>, target: &str, method: &str, mut req: Request) -> Response {
    let opts = &ctx.shared.opts;
    let id = match local_target(ctx, target) {
        Ok(id) => id,
        Err(e) => return e.into(),
    };
    if !ctx.shared.app_health.is_healthy() {
        return invoke_error(id, crate::channel::health::UNHEALTHY).into();
    }
    if let Some(grpc) = ctx.app_grpc.as_ref() {
        return grpc::http_to_grpc_app(ctx, grpc, id, method, req).await;
    }
    let Some(channel) = ctx.app_http.as_ref() else {
        return invoke_error(id, "app channel not initialized").into();
    };

    // Headers: the caller's, minus hop-by-hop and Dapr's own, plus the
    // caller/callee ids, the app token, and a trace context.
    let mut headers = std::mem::take(&mut req.headers);
    strip_hop_by_hop(&mut headers);
    headers.remove(APP_ID_HEADER);
    headers.remove(API_TOKEN_HEADER);
    crate::channel::add_app_token(&mut headers, opts);
    if let Ok(v) = HeaderValue::from_str(&opts.app_id) {
        headers.insert(CALLER, v.clone());
        headers.insert(CALLEE, v);
    }
    ensure_traceparent(&mut headers);

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
    let app_req = AppRequest {
        method: req.method.clone(),
        target: target_path,
        headers,
        body,
    };
    match channel.call(app_req).await {
        Ok(mut r) => {
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
        Err(e) => invoke_error(id, e).into(),
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
