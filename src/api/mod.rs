//! Protocol-neutral building-block handlers and the HTTP entry point.
//!
//! Each building block has a folder: `mod.rs` holds the logic written once,
//! `http.rs` and `grpc.rs` translate a front end's request into it and its
//! result back out. The endpoint table ([`routes`]) names every operation
//! once; [`HttpApi`] (here) and [`grpc::GrpcApi`] dispatch by it. [`HttpApi`]
//! is the HTTP service the connection loop calls; its [`HttpApi::call`] is
//! the one place the middleware order is written down.

pub mod actors;
pub mod bindings;
pub mod configuration;
pub mod context;
pub mod error;
pub mod grpc;
pub mod health;
pub mod invoke;
pub mod lock;
pub mod metadata;
pub mod pubsub;
pub mod router;
pub mod routes;
pub mod secrets;
pub mod shutdown;
pub mod state;

use std::borrow::Cow;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Instant;

use http::{HeaderValue, Method, StatusCode};

use crate::components::middleware::Pipeline;
use crate::http::h1::Service;
use crate::http::message::{Rejection, Request, Response};
pub use context::{Components, Ctx, Shared};
use error::ApiError;
use router::Match;
use routes::{Group, Op};

pub use crate::channel::API_TOKEN_HEADER;
/// The header naming the target app in the fall-through invocation form.
pub const APP_ID_HEADER: &str = "dapr-app-id";

/// `value` as Go's `json.NewEncoder(w).Encode` writes it: HTML-sensitive
/// characters escaped, a trailing newline.
pub fn go_json<T: serde::Serialize>(value: &T) -> bytes::Bytes {
    let mut s = serde_json::to_string(value).unwrap_or_default();
    if s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        s = s
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029");
    }
    s.push('\n');
    bytes::Bytes::from(s)
}

/// `metadata.<k>=<v>` query parameters (first value wins).
pub fn query_metadata(req: &Request) -> std::collections::HashMap<String, String> {
    let mut md = std::collections::HashMap::new();
    for (k, v) in crate::http::message::form_pairs(req.query()) {
        if let Some(name) = k.strip_prefix("metadata.") {
            md.entry(name.to_owned()).or_insert(v);
        }
    }
    md
}

/// Which listener a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// The API port (`--dapr-http-port`): every route, token-protected.
    Api,
    /// `--dapr-public-port`: health and metadata only, no token.
    Public,
}

/// The HTTP API as a [`Service`] for the connection loop.
pub struct HttpApi {
    ctx: Rc<Ctx>,
    surface: Surface,
}

impl HttpApi {
    /// The API served on `surface`.
    pub fn new(ctx: Rc<Ctx>, surface: Surface) -> Self {
        Self { ctx, surface }
    }
}

impl Service for HttpApi {
    /// Middleware order (Go daprd's, minus what is not built):
    /// 1. route: clean the path, match the table (the body limit was enforced by the connection loop);
    /// 2. surface filter: the public port serves only health and metadata;
    /// 3. API token: every route but health needs `dapr-api-token` when `DAPR_API_TOKEN` is set;
    /// 4. handler;
    /// 5. API log line (`--enable-api-logging`), then metrics — both see the final status.
    ///
    /// With a Configuration `httpPipeline` (API port only) the order is Go's
    /// for it: clean the path, API token, the pipeline's middleware (which
    /// may rewrite the path or answer), then route, handler and log line on
    /// what the middleware passed on ([`HttpApi::call_through`]); metrics
    /// see every answer. Without one this is the only check on the path.
    async fn call(&self, req: Request) -> Response {
        if let (Some(pipeline), Surface::Api) = (&self.ctx.shared.http_pipeline, self.surface) {
            return self.call_through(pipeline, req).await;
        }
        let started = Instant::now();
        let method = req.method.clone();
        let req_bytes = req.body.len() as u64;
        // `Uri` is `Bytes`-backed: the clone lets the route borrow the path while `req` moves on.
        let uri = req.uri.clone();
        let path = router::clean_path(uri.path());
        // Routes the Configuration's API lists exclude do not exist (Go does not register them).
        let matched =
            router::find(&method, &path).filter(|m| m.route.allowed(&self.ctx.shared.api_rules));

        let resp = match &matched {
            Some(m) if self.surface == Surface::Public && !routes::is_public(m.route.op) => {
                not_found()
            }
            None if self.surface == Surface::Public => not_found(),
            Some(m) if m.route.op.group() != Some(Group::Healthz) && !self.token_ok(&req) => {
                invalid_token()
            }
            None if !self.token_ok(&req) => invalid_token(),
            Some(m) => dispatch(&self.ctx, m, req).await,
            None => invoke::header_invoke(&self.ctx, &path, req).await,
        };

        let label = matched.as_ref().map_or("", |m| m.metric_label());
        let elapsed = started.elapsed();
        self.api_log(matched.as_ref(), &method, &path, &resp, elapsed);
        self.ctx.metrics.record_http(
            &method,
            label,
            resp.status.as_u16(),
            elapsed,
            req_bytes,
            resp.body.len() as u64,
        );
        resp
    }

    /// Invocation bodies stream through; everything else is collected.
    fn streams_body(&self, head: &monoio_http::common::request::RequestHead) -> bool {
        if self.surface == Surface::Public {
            return false;
        }
        let path = router::clean_path(head.uri.path());
        match router::find(&head.method, &path) {
            Some(m) => m.route.op == Op::InvokeService,
            // Also a URL as the app id (`/v1.0/invoke/http://…/method/…`),
            // which the table cannot match.
            None => head.headers.contains_key(APP_ID_HEADER) || path.starts_with("/v1.0/invoke/"),
        }
    }

    /// Refused requests get Dapr's JSON errors (`ERR_BODY_TOO_LARGE`, …).
    fn reject(&self, rejection: Rejection) -> Response {
        ApiError::from(rejection).into()
    }
}

impl HttpApi {
    /// [`Service::call`] with the `httpPipeline` middleware.
    async fn call_through(&self, pipeline: &Pipeline, mut req: Request) -> Response {
        let started = Instant::now();
        let method = req.method.clone();
        let req_bytes = req.body.len() as u64;
        // Go cleans the path before any middleware sees it.
        if let Cow::Owned(clean) = router::clean_path(req.uri.path()) {
            let target = match req.uri.query() {
                Some(q) => format!("{clean}?{q}"),
                None => clean,
            };
            if let Ok(uri) = target.parse() {
                req.uri = uri;
            }
        }
        let health = router::find(&method, req.uri.path())
            .is_some_and(|m| m.route.op.group() == Some(Group::Healthz));
        let mut label = String::new();
        let resp = if !health && !self.token_ok(&req) {
            invalid_token()
        } else {
            let routed = pipeline
                .run(req, |req| async {
                    Ok::<_, Infallible>(self.route_after_pipeline(req, started, &mut label).await)
                })
                .await;
            match routed {
                Ok(resp) => resp,
                Err(never) => match never {},
            }
        };
        self.ctx.metrics.record_http(
            &method,
            &label,
            resp.status.as_u16(),
            started.elapsed(),
            req_bytes,
            resp.body.len() as u64,
        );
        resp
    }

    /// Routing, the handler and the API log line for a request the
    /// pipeline passed on (the token was checked before it); `label` gets
    /// the route's metric label.
    async fn route_after_pipeline(
        &self,
        req: Request,
        started: Instant,
        label: &mut String,
    ) -> Response {
        let method = req.method.clone();
        let uri = req.uri.clone();
        let path = router::clean_path(uri.path());
        let matched =
            router::find(&method, &path).filter(|m| m.route.allowed(&self.ctx.shared.api_rules));
        let resp = match &matched {
            Some(m) => dispatch(&self.ctx, m, req).await,
            None => invoke::header_invoke(&self.ctx, &path, req).await,
        };
        if let Some(m) = &matched {
            m.metric_label().clone_into(label);
        }
        self.api_log(matched.as_ref(), &method, &path, &resp, started.elapsed());
        resp
    }

    /// Go's API log line (`--enable-api-logging`), once the answer is known.
    fn api_log(
        &self,
        matched: Option<&Match<'_>>,
        method: &Method,
        path: &str,
        resp: &Response,
        elapsed: std::time::Duration,
    ) {
        if self.ctx.shared.api_logging {
            tracing::info!(
                target: "daprd::api_log",
                operation = matched.map_or("InvokeService", |m| m.route.op.name()),
                method = %method,
                path = %path,
                code = resp.status.as_u16(),
                duration_ms = elapsed.as_secs_f64() * 1e3,
                "HTTP API Called"
            );
        }
    }

    fn token_ok(&self, req: &Request) -> bool {
        match &self.ctx.shared.opts.api_token {
            None => true,
            Some(token) => req
                .headers
                .get(API_TOKEN_HEADER)
                .is_some_and(|v| constant_time_eq(v.as_bytes(), token.as_bytes())),
        }
    }
}

/// Calls the handler of a matched route.
async fn dispatch(ctx: &Rc<Ctx>, m: &Match<'_>, req: Request) -> Response {
    match m.route.op {
        Op::Healthz => health::http::healthz(ctx, &req),
        Op::HealthzOutbound => health::http::outbound(ctx),
        Op::GetMetadata => metadata::http::get_metadata(ctx),
        Op::SetMetadata => metadata::http::set_metadata(ctx, m, req),
        Op::Shutdown => shutdown::http::shutdown(ctx, &req),
        Op::GetState => state::http::get_state(ctx, m, &req).await,
        Op::SaveState => state::http::save_state(ctx, m, &req).await,
        Op::DeleteState => state::http::delete_state(ctx, m, &req).await,
        Op::GetBulkState => state::http::bulk_state(ctx, m, &req).await,
        Op::ExecuteStateTransaction => state::http::transaction(ctx, m, &req).await,
        Op::InvokeService => invoke::http_invoke(ctx, m, req).await,
        Op::PublishEvent => pubsub::http::publish(ctx, m, &req).await,
        Op::BulkPublishEvent => pubsub::http::bulk_publish(ctx, m, &req).await,
        Op::GetSecret => secrets::http::get_secret(ctx, m, &req).await,
        Op::GetBulkSecret => secrets::http::bulk_secret(ctx, m, &req).await,
        Op::InvokeBinding => bindings::http::invoke_binding(ctx, m, &req).await,
        Op::TryLock => lock::http::try_lock(ctx, m, &req).await,
        Op::Unlock => lock::http::unlock(ctx, m, &req).await,
        Op::GetConfiguration => configuration::http::get_configuration(ctx, m, &req).await,
        Op::SubscribeConfiguration => {
            configuration::http::subscribe_configuration(ctx, m, &req).await
        }
        Op::UnsubscribeConfiguration => {
            configuration::http::unsubscribe_configuration(ctx, m).await
        }
        Op::InvokeActor => actors::http::invoke(ctx, m, &req).await,
        Op::ExecuteActorStateTransaction => actors::http::transaction(ctx, m, &req).await,
        Op::GetActorState => actors::http::get_state(ctx, m).await,
        Op::RegisterActorTimer => actors::http::create_timer(ctx, m, &req).await,
        Op::UnregisterActorTimer => actors::http::delete_timer(ctx, m),
        Op::RegisterActorReminder | Op::GetActorReminder | Op::UnregisterActorReminder => {
            actors::http::reminder(ctx, m, &req).await
        }
        op => ApiError::unimplemented(op.name()).into(),
    }
}

/// Go's `http.Error(w, "invalid api token", 401)`.
fn invalid_token() -> Response {
    Response::text(StatusCode::UNAUTHORIZED, "invalid api token\n").with_header(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    )
}

/// chi's default 404.
fn not_found() -> Response {
    Response::text(StatusCode::NOT_FOUND, "404 page not found\n")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    #[test]
    fn go_json_is_sorted_escaped_and_newline_terminated() {
        let m: BTreeMap<&str, &str> = [("b", "<&>"), ("a", "x\u{2028}")].into_iter().collect();
        assert_eq!(
            &super::go_json(&m)[..],
            b"{\"a\":\"x\\u2028\",\"b\":\"\\u003c\\u0026\\u003e\"}\n"
        );
    }
}
