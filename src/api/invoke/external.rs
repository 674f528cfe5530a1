//! Service invocation of services outside Dapr: an HTTPEndpoint resource
//! called by name, or a URL (`http://…`, `https://…`) as the app id (Go's
//! `invokeHTTPEndpoint` and its HTTP endpoint channels).
//!
//! As Go: the target's app-id part (before a `.namespace`) is looked up
//! among the HTTPEndpoints first, so an endpoint's name shadows an app id;
//! the app's health does not gate these calls; nothing is retried. The
//! request goes to the base URL + `/` + the method, with the caller's
//! headers minus hop-by-hop ones, `dapr-app-id` and `dapr-api-token`, then
//! the endpoint's `spec.headers` (replacing the caller's of the same name)
//! and a `traceparent` when the caller sent none. No `dapr-caller-*`
//! headers. Bodies stream both ways. The endpoint's answer comes back as
//! it is. A failed call is `500 ERR_DIRECT_INVOKE` with Go's client text:
//! `failed to invoke, id: <target>, err: Post "http://…/m": dial tcp …:
//! connect: connection refused`.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method};

use super::{invoke_error, to_response};
use crate::api::error::ApiError;
use crate::api::{Ctx, API_TOKEN_HEADER, APP_ID_HEADER};
use crate::channel::endpoint::Endpoint;
use crate::channel::trace::ensure_traceparent;
use crate::http::client::{strip_hop_by_hop, ClientError, ClientRequest, ClientResponse, OutBody};
use crate::http::message::{Request, Response};

/// An external target.
pub enum External {
    /// An HTTPEndpoint resource.
    Named(Arc<Endpoint>),
    /// A URL given as the app id.
    Url(Result<Endpoint, String>),
}

/// Whether `target` is external (Go's check, before any name resolution).
pub fn lookup(ctx: &Ctx, target: &str) -> Option<External> {
    if target.starts_with("http://") || target.starts_with("https://") {
        return Some(External::Url(Endpoint::for_url(target)));
    }
    let endpoints = &ctx.shared.http_endpoints;
    if endpoints.is_empty() {
        return None;
    }
    // `id` or `id.namespace`: the id part names the endpoint.
    let mut parts = target.split('.');
    let id = parts.next()?;
    if parts.nth(1).is_some() {
        return None;
    }
    endpoints.get(id).cloned().map(External::Named)
}

/// Calls `method` (raw path, no leading `/`) on the external target.
pub async fn invoke(
    ctx: &Rc<Ctx>,
    target: &str,
    external: External,
    method: &str,
    mut req: Request,
) -> Response {
    let body = match req.stream.take() {
        Some(s) => OutBody::Stream(s),
        None => OutBody::Full(std::mem::take(&mut req.body)),
    };
    let call = Call {
        method: req.method.clone(),
        path: method,
        query: req.uri.query(),
        headers: std::mem::take(&mut req.headers),
        body,
    };
    match exchange(ctx, target, &external, call).await {
        Ok(r) => to_response(r),
        Err(e) => e.into(),
    }
}

/// One request to an external target, as the caller asked for it.
pub struct Call<'a> {
    /// The HTTP verb.
    pub method: Method,
    /// The invoked method: a raw path, appended to the base URL after `/`.
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The caller's headers (hop-by-hop ones, `dapr-app-id` and
    /// `dapr-api-token` are dropped here).
    pub headers: HeaderMap,
    /// The body.
    pub body: OutBody,
}

/// The exchange with an external target that the HTTP and gRPC APIs share:
/// the endpoint's answer as it came, or Go's `ERR_DIRECT_INVOKE` naming
/// `target`.
pub async fn exchange(
    ctx: &Rc<Ctx>,
    target: &str,
    external: &External,
    call: Call<'_>,
) -> Result<ClientResponse, ApiError> {
    let (ep, by_url): (&Endpoint, bool) = match external {
        External::Named(e) => (e, false),
        External::Url(Ok(e)) => (e, true),
        External::Url(Err(e)) => return Err(invoke_error(target, e)),
    };

    let mut headers = call.headers;
    strip_hop_by_hop(&mut headers);
    headers.remove(APP_ID_HEADER);
    headers.remove(API_TOKEN_HEADER);
    for (name, value) in &ep.headers {
        headers.insert(name.clone(), value.clone());
    }
    ensure_traceparent(&mut headers);

    let path = ep.target(call.path.trim_start_matches('/'), call.query);
    let url = ep.url_of(&path);
    // Go's `url.Error` names the verb as `Post`, `Get`, …
    let verb = call.method.as_str();
    let op = verb
        .get(..1)
        .map(|f| f.to_owned() + &verb[1..].to_ascii_lowercase())
        .unwrap_or_default();
    let fail = |cause: String| invoke_error(target, format!("{op} \"{url}\": {cause}"));

    let client = ctx
        .externals
        .client(ep, by_url, ctx.shared.opts.max_body_size)
        .await
        .map_err(fail)?;
    let mut out = ClientRequest {
        method: call.method.clone(),
        target: path.clone(),
        headers,
        body: call.body,
    };
    ctx.metrics.record_invocation_sent(&ep.name, "unary");
    let started = Instant::now();
    match client.send(&mut out).await {
        Ok(r) => {
            ctx.metrics.record_invocation_response(
                &ep.name,
                i32::from(r.status.as_u16()),
                "unary",
                started.elapsed(),
            );
            Ok(r)
        }
        Err(e) => Err(fail(client_error_text(e))),
    }
}

/// Go's `net/http` client texts for a failed exchange.
fn client_error_text(e: ClientError) -> String {
    match e {
        ClientError::Connect { addr, source } => format!(
            "dial tcp {addr}: connect: {}",
            crate::components::bindings::os_error_text(&source)
        ),
        ClientError::Broken(m) if m.starts_with("connection closed") => "EOF".to_owned(),
        other => other.to_string(),
    }
}
