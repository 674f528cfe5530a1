//! HTTP adapter for the configuration API (Go: `pkg/api/http/http.go`),
//! served under both `/v1.0/` and `/v1.0-alpha1/`:
//!
//! - `GET /configuration/{storeName}?key=a&key=b&metadata.x=y` → 200
//!   `{"a":{"value","version","metadata"}}` (empty fields left out), 204
//!   when nothing matched; no `key` reads every item;
//! - `GET /configuration/{storeName}/subscribe?key=…` → 200 `{"id":"…"}`;
//!   changes are then POSTed to the app (see [`super::AppUpdates`]); with no
//!   app channel the answer is 500 `ERR_APP_CHANNEL_NIL`;
//! - `GET /configuration/{storeName}/{configurationSubscribeID}/unsubscribe`
//!   → 200 `{"ok":true}`, or 500 `{"message":"failed to unsubscribe to
//!   configuration request <id>: <why>"}` (Go's `ok` is `omitempty`).
//!
//! Bodies are Go's `encoding/json` output: keys sorted, `<`, `>` and `&`
//! escaped, a trailing newline.

use std::rc::Rc;

use http::StatusCode;
use serde::Serialize;

use super::AppUpdates;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::router::Match;
use crate::api::{query_metadata, Ctx};
use crate::components::configuration::SubscribeRequest;
use crate::http::message::{Request, Response};

/// `GET /v1.0/configuration/{storeName}`.
pub async fn get_configuration(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let store = m.param_or_empty("storeName");
    let keys: Vec<String> = req.query_values("key").collect();
    match super::get(ctx, &store, keys, query_metadata(req)).await {
        Ok(items) if items.is_empty() => Response::no_content(),
        Ok(items) => Response::json(StatusCode::OK, crate::api::go_json(&items)),
        Err(e) => e.into(),
    }
}

/// `GET /v1.0/configuration/{storeName}/subscribe`.
pub async fn subscribe_configuration(ctx: &Rc<Ctx>, m: &Match<'_>, req: &Request) -> Response {
    let name = m.param_or_empty("storeName");
    let store = match super::store(ctx, &name) {
        Ok(s) => s,
        Err(e) => return e.into(),
    };
    if ctx.app.is_none() {
        return ApiError::new(
            ErrorCode::AppChannelNil,
            "app channel is not initialized. cannot subscribe to configuration updates",
        )
        .into();
    }
    let keys: Vec<String> = req.query_values("key").collect();
    let handler = Rc::new(AppUpdates::new(ctx.clone(), name.clone()));
    let sub = SubscribeRequest {
        keys: keys.clone(),
        metadata: query_metadata(req),
        drain: ctx.drain.clone(),
    };
    match super::subscribe_store(ctx, &name, &*store, sub, handler).await {
        Ok(id) => {
            #[derive(Serialize)]
            struct Subscribed {
                id: String,
            }
            Response::json(StatusCode::OK, crate::api::go_json(&Subscribed { id }))
        }
        Err(e) => {
            let e = super::subscribe_error(&keys, &name, &e);
            tracing::debug!("{e}");
            e.into()
        }
    }
}

/// `GET /v1.0/configuration/{storeName}/{configurationSubscribeID}/unsubscribe`.
pub async fn unsubscribe_configuration(ctx: &Ctx, m: &Match<'_>) -> Response {
    let name = m.param_or_empty("storeName");
    let store = match super::store(ctx, &name) {
        Ok(s) => s,
        Err(e) => return e.into(),
    };
    let id = m.param_or_empty("configurationSubscribeID");
    #[derive(Serialize)]
    struct Unsubscribed {
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        ok: bool,
        #[serde(skip_serializing_if = "String::is_empty")]
        message: String,
    }
    match super::unsubscribe_store(ctx, &name, &*store, &id) {
        Ok(()) => Response::json(
            StatusCode::OK,
            crate::api::go_json(&Unsubscribed {
                ok: true,
                message: String::new(),
            }),
        ),
        Err(e) => {
            let message = format!("failed to unsubscribe to configuration request {id}: {e}");
            tracing::debug!("{}: {message}", ErrorCode::ConfigurationUnsubscribe.tag());
            Response::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::api::go_json(&Unsubscribed { ok: false, message }),
            )
        }
    }
}
