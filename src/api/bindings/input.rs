//! Input bindings: from a binding's events to the app (Go:
//! `pkg/runtime/processor/binding/send.go`).
//!
//! [`start`] runs once the app is reachable, on worker 0 (every input
//! binding reads on that one worker, so the app never sees an event twice),
//! and stops with that worker's drain latch. For each input binding:
//!
//! 1. Is the app subscribed? With `direction` metadata naming `input`, yes.
//!    Otherwise an HTTP app is asked `OPTIONS /<route>` (route = metadata
//!    `route`, else the binding's name; `--app-binding-options-timeout`):
//!    2xx or 405 means yes, anything else no. A gRPC app is asked once,
//!    `ListInputBindings`, and subscribed bindings are those it lists (an
//!    error lists none).
//! 2. Events are delivered as Go delivers them. HTTP: `POST /<route>`,
//!    `Content-Type: application/json`, the raw payload as the body, the
//!    event metadata as headers; a 2xx is success and its body goes back to
//!    the binding, anything else is the error `fails to send binding event
//!    to http app channel, status code: <n> body: <body>`. gRPC:
//!    `OnBindingEvent`; the response's `data` goes back to the binding, and
//!    when it lists output bindings in `to`, its `data` (re-encoded as Go's
//!    `json.Marshal` of the decoded JSON; `null` when it is not JSON) is sent
//!    to each with operation `create` — in order, stopping at the first
//!    failure (`SEQUENTIAL`), or all at once (`PARALLEL`).
//!
//! An app that cannot be reached at discovery time costs that binding only
//! (logged); Go stops starting the remaining ones.

use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use prost::Message;

use super::send_to_output_binding;
use crate::api::Ctx;
use crate::channel::grpc::GrpcChannel;
use crate::channel::http::HttpChannel;
use crate::channel::AppCall;
use crate::components::bindings::{
    failure, go_marshal, BindingHandler, InvokeRequest, ReadEvent, CREATE,
};
use crate::components::state::LocalFuture;
use crate::components::ComponentError;
use crate::http::client::{ClientRequest, OutBody};
use crate::proto::dapr::proto::runtime::v1 as pb;

const LIST_INPUT_BINDINGS: &str = "/dapr.proto.runtime.v1.AppCallback/ListInputBindings";
const ON_BINDING_EVENT: &str = "/dapr.proto.runtime.v1.AppCallback/OnBindingEvent";

/// Starts every input binding the app subscribes to (worker 0, once the app
/// is reachable).
pub async fn start(ctx: Rc<Ctx>) {
    if ctx.components.input_bindings.is_empty() {
        return;
    }
    let Some(app) = ctx.app.as_ref() else {
        tracing::warn!("input bindings need an app channel (--app-port); none started");
        return;
    };
    let mut names: Vec<&String> = ctx.components.input_bindings.keys().collect();
    names.sort();
    let mut grpc_list: Option<Vec<String>> = None;
    for name in names {
        if ctx.drain.is_closing() {
            return;
        }
        let Some(input) = ctx.components.input_bindings.get(name) else {
            continue;
        };
        let subscribed = if input.explicit_input {
            true
        } else {
            let asked = Subscribed {
                ctx: &ctx,
                name,
                route: &input.route,
                grpc_list: &mut grpc_list,
            };
            match app.call(asked).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(binding = %name, "could not invoke OPTIONS method on input binding subscription endpoint {:?}: {e}", input.route);
                    continue;
                }
            }
        };
        if !subscribed {
            tracing::info!("app has not subscribed to binding {name}.");
            continue;
        }
        let handler = Rc::new(Deliverer {
            ctx: Rc::downgrade(&ctx),
            name: name.clone(),
            target: target(&input.route),
        });
        match input.binding.read(handler, ctx.drain.clone()).await {
            Ok(()) => tracing::info!(binding = %name, "reading from input binding"),
            Err(e) => tracing::error!("error reading from input binding {name}: {e}"),
        }
    }
}

/// `/` + Go's `path.Clean(route)`.
fn target(route: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in route.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn base_headers(ctx: &Ctx) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    crate::channel::add_app_token(&mut h, &ctx.shared.opts);
    h
}

/// Whether the app subscribes to binding `name`: an HTTP app is asked
/// `OPTIONS /<route>` (an error is the caller's to log); a gRPC app's
/// `ListInputBindings` answer is asked for once and kept in `grpc_list`.
struct Subscribed<'a> {
    ctx: &'a Ctx,
    name: &'a String,
    route: &'a str,
    grpc_list: &'a mut Option<Vec<String>>,
}

impl AppCall for Subscribed<'_> {
    type Output = Result<bool, String>;

    async fn over_http(self, app: &HttpChannel) -> Result<bool, String> {
        probe_http(self.ctx, app, self.route).await
    }

    async fn over_grpc(self, app: &GrpcChannel) -> Result<bool, String> {
        if self.grpc_list.is_none() {
            *self.grpc_list = Some(list_grpc(self.ctx, app).await);
        }
        Ok(self
            .grpc_list
            .as_ref()
            .is_some_and(|l| l.contains(self.name)))
    }
}

/// `OPTIONS /<route>`: 2xx or 405 means subscribed.
async fn probe_http(ctx: &Ctx, app: &HttpChannel, route: &str) -> Result<bool, String> {
    let mut headers = base_headers(ctx);
    crate::channel::trace::ensure_traceparent(&mut headers);
    let req = ClientRequest {
        method: Method::OPTIONS,
        target: target(route),
        headers,
        body: OutBody::Full(Bytes::new()),
    };
    let limit = ctx.shared.opts.app_binding_options_timeout;
    match monoio::time::timeout(limit, app.call(req)).await {
        Ok(Ok(resp)) => {
            let code = resp.status.as_u16();
            Ok(resp.status.is_success() || code == 405)
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("context deadline exceeded".into()),
    }
}

/// `ListInputBindings` (an error lists none, as Go).
async fn list_grpc(ctx: &Ctx, app: &GrpcChannel) -> Vec<String> {
    let mut md = HeaderMap::new();
    crate::channel::add_app_token(&mut md, &ctx.shared.opts);
    let limit = ctx.shared.opts.app_binding_options_timeout;
    match monoio::time::timeout(limit, app.unary(LIST_INPUT_BINDINGS, md, &[])).await {
        Ok(Ok(bytes)) => pb::ListInputBindingsResponse::decode(&bytes[..])
            .map(|r| r.bindings)
            .unwrap_or_default(),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "ListInputBindings failed; no input bindings");
            Vec::new()
        }
        Err(_) => Vec::new(),
    }
}

/// Delivers one binding's events to the app.
struct Deliverer {
    ctx: Weak<Ctx>,
    name: String,
    target: String,
}

impl BindingHandler for Deliverer {
    fn handle(&self, event: ReadEvent) -> LocalFuture<'_, Result<Bytes, ComponentError>> {
        Box::pin(async move {
            let Some(ctx) = self.ctx.upgrade() else {
                return Err(failure("input binding is closed"));
            };
            let started = Instant::now();
            let result = match ctx.app.as_ref() {
                Some(app) => {
                    let delivery = Delivery {
                        deliverer: self,
                        ctx: &ctx,
                        event,
                    };
                    app.call(delivery).await
                }
                None => Err(failure("error invoking app: no app channel")),
            };
            ctx.metrics
                .record_input_binding(&self.name, result.is_ok(), started.elapsed());
            if let Err(e) = &result {
                tracing::debug!("error from app consumer for binding [{}]: {e}", self.name);
            }
            result
        })
    }
}

/// One event of a binding to the app: `POST /<route>` or `OnBindingEvent`.
struct Delivery<'a> {
    deliverer: &'a Deliverer,
    ctx: &'a Ctx,
    event: ReadEvent,
}

impl AppCall for Delivery<'_> {
    type Output = Result<Bytes, ComponentError>;

    async fn over_http(self, app: &HttpChannel) -> Self::Output {
        self.deliverer.deliver_http(self.ctx, app, self.event).await
    }

    async fn over_grpc(self, app: &GrpcChannel) -> Self::Output {
        self.deliverer.deliver_grpc(self.ctx, app, self.event).await
    }
}

impl Deliverer {
    async fn deliver_http(
        &self,
        ctx: &Ctx,
        app: &HttpChannel,
        event: ReadEvent,
    ) -> Result<Bytes, ComponentError> {
        let mut headers = HeaderMap::new();
        let mut keys: Vec<&String> = event.metadata.keys().collect();
        keys.sort();
        for k in keys {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&event.metadata[k]),
            ) {
                headers.append(n, v);
            }
        }
        for (k, v) in base_headers(ctx) {
            if let Some(k) = k {
                headers.insert(k, v);
            }
        }
        crate::channel::trace::ensure_traceparent(&mut headers);
        let req = ClientRequest {
            method: Method::POST,
            target: self.target.clone(),
            headers,
            body: OutBody::Full(event.data),
        };
        let resp = app
            .call(req)
            .await
            .map_err(|e| failure(format!("error invoking app: {e}")))?;
        let body = match resp.stream {
            None => resp.body,
            Some(s) => s
                .collect(ctx.shared.opts.max_body_size)
                .await
                .map_err(|e| failure(format!("failed to read response body: {e}")))?,
        };
        let code = resp.status.as_u16();
        if !(200..=299).contains(&code) {
            return Err(failure(format!(
                "fails to send binding event to http app channel, status code: {code} body: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(body)
    }

    async fn deliver_grpc(
        &self,
        ctx: &Ctx,
        app: &GrpcChannel,
        event: ReadEvent,
    ) -> Result<Bytes, ComponentError> {
        let mut md = HeaderMap::new();
        if let Some(tp) = event
            .metadata
            .get("traceparent")
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            md.insert("traceparent", tp);
        }
        crate::channel::trace::ensure_traceparent(&mut md);
        crate::channel::add_app_token(&mut md, &ctx.shared.opts);
        let req = pb::BindingEventRequest {
            name: self.name.clone(),
            data: event.data.to_vec(),
            metadata: event.metadata,
        };
        let reply = app
            .unary(ON_BINDING_EVENT, md, &req.encode_to_vec())
            .await
            .map_err(|e| {
                failure(format!(
                    "error invoking app: rpc error: code = {} desc = {e}",
                    e.code().name()
                ))
            })?;
        let resp = pb::BindingEventResponse::decode(&reply[..])
            .map_err(|e| failure(format!("error invoking app: {e}")))?;
        if !resp.to.is_empty() {
            // Go: the data decoded as JSON (`null` when absent or not JSON), re-encoded.
            let value = serde_json::from_slice::<serde_json::Value>(&resp.data)
                .unwrap_or(serde_json::Value::Null);
            let data = Bytes::from(go_marshal(&value));
            let parallel = resp.concurrency
                == pb::binding_event_response::BindingEventConcurrency::Parallel as i32;
            if let Some(ctx) = self.ctx.upgrade() {
                if parallel {
                    for to in resp.to.clone() {
                        let (ctx, data) = (ctx.clone(), data.clone());
                        monoio::spawn(async move {
                            if let Err(e) = send_to_output_binding(&ctx, &to, create(data)).await {
                                tracing::error!("{}", e.error);
                            }
                        });
                    }
                } else {
                    for to in &resp.to {
                        if let Err(e) = send_to_output_binding(&ctx, to, create(data.clone())).await
                        {
                            tracing::error!("error executing app response: {}", e.error);
                            break;
                        }
                    }
                }
            }
        }
        Ok(Bytes::from(resp.data))
    }
}

fn create(data: Bytes) -> InvokeRequest {
    InvokeRequest {
        operation: CREATE.to_owned(),
        data,
        metadata: HashMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::target;

    #[test]
    fn routes_are_cleaned_like_go() {
        assert_eq!(target("checkout"), "/checkout");
        assert_eq!(target("/a//b/./c/"), "/a/b/c");
        assert_eq!(target("../x"), "/x");
        assert_eq!(target(""), "/");
    }
}
