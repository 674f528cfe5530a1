//! Configuration: the logic behind `/v1.0/configuration/*` (and
//! `/v1.0-alpha1/…`) and the gRPC `GetConfiguration`,
//! `SubscribeConfiguration` and `UnsubscribeConfiguration` methods (with
//! their `Alpha1` twins), written once (Go: `pkg/api/http/http.go`,
//! `pkg/api/grpc/grpc.go`; there is no universal layer for this block).
//!
//! A read names a store and keys (none: every item). No store at all is
//! `ERR_CONFIGURATION_STORE_NOT_CONFIGURED`, an unknown one
//! `ERR_CONFIGURATION_STORE_NOT_FOUND`, a failed read `ERR_CONFIGURATION_GET`
//! with Go's message (`failed to get [a b] from Configuration store s: …`).
//!
//! Subscriptions come two ways. Over HTTP, the app receives each change as
//! `POST /configuration/{store}/{key}` with body `{"id","items":{…}}` (one
//! POST per changed key, the whole event each time, as Go) and ends the
//! subscription with `GET …/{id}/unsubscribe`, which asks the store directly.
//! Over gRPC the changes flow down the `SubscribeConfiguration` stream
//! ([`grpc`]); the stream's ids are kept in [`Streams`] so that
//! `UnsubscribeConfiguration`, which knows only those (Go's compstore), can
//! end the stream from any worker.
//!
//! Each store call (`get`, `subscribe`, `unsubscribe`; a gRPC stream's
//! end unsubscribes) is counted here as Go's `ConfigurationInvoked`
//! (`dapr_component_configuration_*`), through [`subscribe_store`] and
//! [`unsubscribe_store`] for the adapters.

pub mod grpc;
pub mod http;

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use ::http::{HeaderMap, HeaderValue, Method};
use bytes::Bytes;
use dashmap::DashMap;
use prost::Message;

use super::error::{ApiError, ErrorCode};
use super::Ctx;
use crate::channel::grpc::GrpcChannel;
use crate::channel::http::HttpChannel;
use crate::channel::AppCall;
use crate::components::configuration::{
    ConfigurationStoreDyn, GetRequest, Items, SubscribeRequest, UpdateEvent, UpdateHandler,
};
use crate::components::state::LocalFuture;
use crate::components::ComponentError;
use crate::metrics::names::op;
use crate::metrics::Store;
use crate::net::shutdown::Latch;

/// Finds a store: none configured → 500 (`FAILED_PRECONDITION`); unknown →
/// 400 (`INVALID_ARGUMENT`).
pub fn store(ctx: &Ctx, name: &str) -> Result<Rc<dyn ConfigurationStoreDyn>, ApiError> {
    let stores = &ctx.components.configuration;
    if stores.is_empty() {
        return Err(ApiError::new(
            ErrorCode::ConfigurationStoreNotConfigured,
            "configuration stores not configured",
        ));
    }
    stores.get(name).cloned().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ConfigurationStoreNotFound,
            format!("configuration store {name} not found"),
        )
    })
}

/// Go's `%s` of a `[]string`: `[a b]`.
pub fn go_list(keys: &[String]) -> String {
    format!("[{}]", keys.join(" "))
}

/// Reads items from `store_name`.
pub async fn get(
    ctx: &Ctx,
    store_name: &str,
    keys: Vec<String>,
    metadata: HashMap<String, String>,
) -> Result<Items, ApiError> {
    let s = store(ctx, store_name)?;
    let list = go_list(&keys);
    let call = s.get(GetRequest { keys, metadata });
    let result = ctx
        .metrics
        .time_store(Store::Configuration, store_name, op::GET, call)
        .await;
    result.map_err(|e| {
        let e = ApiError::new(
            ErrorCode::ConfigurationGet,
            format!("failed to get {list} from Configuration store {store_name}: {e}"),
        );
        tracing::debug!("{e}");
        e
    })
}

/// Subscribes to `store` (named `store_name`); the call is counted.
pub async fn subscribe_store(
    ctx: &Ctx,
    store_name: &str,
    store: &dyn ConfigurationStoreDyn,
    req: SubscribeRequest,
    handler: Rc<dyn UpdateHandler>,
) -> Result<String, ComponentError> {
    let call = store.subscribe(req, handler);
    ctx.metrics
        .time_store(Store::Configuration, store_name, op::SUBSCRIBE, call)
        .await
}

/// Ends subscription `id` of `store` (named `store_name`); the call is counted.
pub fn unsubscribe_store(
    ctx: &Ctx,
    store_name: &str,
    store: &dyn ConfigurationStoreDyn,
    id: &str,
) -> Result<(), ComponentError> {
    let started = std::time::Instant::now();
    let result = store.unsubscribe(id);
    ctx.metrics.record_store(
        Store::Configuration,
        store_name,
        op::UNSUBSCRIBE,
        result.is_ok(),
        started.elapsed(),
    );
    result
}

/// Go's `ErrConfigurationSubscribe` message.
pub fn subscribe_error(keys: &[String], store_name: &str, e: &dyn std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::ConfigurationSubscribe,
        format!(
            "failed to subscribe {} from Configuration store {store_name}: {e}",
            go_list(keys)
        ),
    )
}

// === impl Streams ===

/// The gRPC subscription streams open on every worker: id → stop latch
/// (Go's compstore configuration-subscribe map). A deliberate cross-core
/// structure, touched only when a stream opens or ends and on unsubscribe.
#[derive(Default)]
pub struct Streams {
    open: DashMap<String, Arc<Latch>>,
}

impl Streams {
    /// Registers a stream; its latch opens when it should end.
    pub fn add(&self, id: &str) -> Arc<Latch> {
        let latch = Arc::new(Latch::default());
        self.open.insert(id.to_owned(), latch.clone());
        latch
    }

    /// Ends the stream `id`; false when there is none.
    pub fn stop(&self, id: &str) -> bool {
        match self.open.remove(id) {
            Some((_, latch)) => {
                latch.trigger();
                true
            }
            None => false,
        }
    }

    /// Forgets `id` (its stream ended).
    pub fn remove(&self, id: &str) {
        self.open.remove(id);
    }
}

// === impl AppUpdates ===

/// `/configuration/{store}/{key}` path escaping: what cannot stand in a
/// request target as is.
const PATH_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Hands an HTTP subscription's changes to the app (Go's
/// `configurationEventHandler.updateEventHandler`): one `POST` per changed
/// key, the whole event as JSON; an answer other than 200 is logged.
pub struct AppUpdates {
    ctx: Rc<Ctx>,
    store: String,
}

impl AppUpdates {
    /// Updates of `store` for this worker's app channel.
    pub fn new(ctx: Rc<Ctx>, store: String) -> Self {
        Self { ctx, store }
    }

    async fn deliver(&self, event: UpdateEvent) {
        let body = crate::api::go_json(&event);
        for key in event.items.keys() {
            let path = format!(
                "/configuration/{}/{}",
                self.store,
                percent_encoding::utf8_percent_encode(key, PATH_ESCAPE)
            );
            if let Err(e) = self.post(&path, &body).await {
                tracing::error!("error sending configuration item to the app: {e}");
            }
        }
    }

    async fn post(&self, path: &str, body: &Bytes) -> Result<(), String> {
        let ctx = &self.ctx;
        let mut headers = HeaderMap::new();
        crate::channel::add_app_token(&mut headers, &ctx.shared.opts);
        match &ctx.app {
            Some(app) => {
                app.call(UpdateCall {
                    path,
                    body,
                    headers,
                })
                .await
            }
            None => Err(format!(
                "app channel is nil. unable to send configuration update from {}",
                self.store
            )),
        }
    }
}

/// One updated item to the app: `POST /configuration/<store>/<key>`, or
/// that as an `InvokeRequest` to `OnInvoke`.
struct UpdateCall<'a> {
    path: &'a str,
    body: &'a Bytes,
    headers: HeaderMap,
}

impl AppCall for UpdateCall<'_> {
    type Output = Result<(), String>;

    async fn over_http(self, channel: &HttpChannel) -> Result<(), String> {
        let mut headers = self.headers;
        headers.insert(
            ::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let req = crate::http::client::ClientRequest {
            method: Method::POST,
            target: self.path.to_owned(),
            headers,
            body: crate::http::client::OutBody::Full(self.body.clone()),
        };
        let resp = channel.call(req).await.map_err(|e| e.to_string())?;
        if resp.status != ::http::StatusCode::OK {
            return Err(format!(
                "error sending configuration item to application, status {}",
                resp.status.as_u16()
            ));
        }
        Ok(())
    }

    async fn over_grpc(self, channel: &GrpcChannel) -> Result<(), String> {
        use crate::proto::dapr::proto::common::v1 as common;
        let message = common::InvokeRequest {
            method: self.path.trim_start_matches('/').to_owned(),
            data: Some(prost_types::Any {
                type_url: String::new(),
                value: self.body.to_vec(),
            }),
            content_type: "application/json".into(),
            http_extension: Some(common::HttpExtension {
                verb: common::http_extension::Verb::Post as i32,
                querystring: String::new(),
            }),
        };
        channel
            .unary(
                "/dapr.proto.runtime.v1.AppCallback/OnInvoke",
                self.headers,
                &message.encode_to_vec(),
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

impl UpdateHandler for AppUpdates {
    fn update(&self, event: UpdateEvent) -> LocalFuture<'_, ()> {
        Box::pin(self.deliver(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_print_like_go() {
        assert_eq!(go_list(&[]), "[]");
        assert_eq!(go_list(&["a".into(), "b".into()]), "[a b]");
    }

    #[test]
    fn streams_stop_once() {
        let s = Streams::default();
        let latch = s.add("id");
        assert!(s.stop("id"));
        assert!(latch.is_triggered());
        assert!(!s.stop("id"));
    }
}
