//! HTTP adapter for the secrets API (Go: `pkg/api/http/secrets.go`).
//!
//! - `GET /v1.0/secrets/{secretStoreName}/{key}` → 200 `{"<k>":"<v>",…}`
//! - `GET /v1.0/secrets/{secretStoreName}/bulk` → 200 `{"<secret>":{"<k>":"<v>"}}`
//!
//! `metadata.<k>` query parameters become request metadata. Bodies are Go's
//! `encoding/json` output: keys sorted, `<`, `>` and `&` escaped, a trailing
//! newline. Go's handlers are "universal" ones, which decode a request body
//! (even on a GET) as the gRPC request message before the path overrides
//! it; a body that does not decode answers `ERR_MALFORMED_REQUEST`, as there.

use std::collections::{BTreeMap, HashMap};

use http::StatusCode;
use serde::Deserialize;

use crate::api::error::{ApiError, ErrorCode};
use crate::api::query_metadata;
use crate::api::router::Match;
use crate::api::Ctx;
use crate::http::message::{Request, Response};

/// The fields of `GetSecretRequest` / `GetBulkSecretRequest` in protojson
/// form (JSON or proto names); unknown fields are ignored, as Go discards them.
#[derive(Deserialize)]
#[allow(dead_code)] // decoded only to refuse what Go refuses; the path wins
struct BodyJson {
    #[serde(default, alias = "store_name", rename = "storeName")]
    store_name: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
}

/// A non-empty body must decode as the request message.
fn check_body(req: &Request) -> Result<(), ApiError> {
    if req.body.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<BodyJson>(&req.body)
        .map(drop)
        .map_err(|e| {
            ApiError::new(
                ErrorCode::MalformedRequest,
                format!("failed deserializing HTTP body: {e}"),
            )
        })
}

/// `GET /v1.0/secrets/{secretStoreName}/{key}`.
pub async fn get_secret(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    if let Err(e) = check_body(req) {
        return e.into();
    }
    let (store, key) = (m.param_or_empty("secretStoreName"), m.param_or_empty("key"));
    match super::get(ctx, &store, &key, query_metadata(req)).await {
        Ok(data) => {
            let sorted: BTreeMap<&str, &str> =
                data.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Response::json(StatusCode::OK, crate::api::go_json(&sorted))
        }
        Err(e) => e.into(),
    }
}

/// `GET /v1.0/secrets/{secretStoreName}/bulk`.
pub async fn bulk_secret(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    if let Err(e) = check_body(req) {
        return e.into();
    }
    let store = m.param_or_empty("secretStoreName");
    match super::bulk_get(ctx, &store, query_metadata(req)).await {
        Ok(all) => {
            let sorted: BTreeMap<&str, BTreeMap<&str, &str>> = all
                .iter()
                .map(|(name, values)| {
                    let values = values
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    (name.as_str(), values)
                })
                .collect();
            Response::json(StatusCode::OK, crate::api::go_json(&sorted))
        }
        Err(e) => e.into(),
    }
}
