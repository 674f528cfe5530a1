//! HTTP adapter for the state API (`/v1.0/state/*`).
//!
//! Values arrive as JSON and are stored as Go daprd stores them (re-encoded
//! by `json.Marshal`; see [`super::value`]); a GET returns the stored
//! bytes as `application/json` with the ETag in `ETag` and response
//! metadata as `metadata.<key>` headers, or 204 when the key is missing.
//! Field names are matched case-insensitively in their common spellings,
//! as Go's decoder does.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{BulkItem, SaveItem, TxOp};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::router::Match;
use crate::api::Ctx;
use crate::components::state::Concurrency;
use crate::http::message::{Request, Response};

pub use crate::api::query_metadata;

fn malformed(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedRequest,
        format!("failed deserializing HTTP body: {e}"),
    )
}

fn parse_concurrency(v: Option<&str>) -> Result<Concurrency, ApiError> {
    match v.unwrap_or("") {
        "" | "last-write" => Ok(Concurrency::LastWrite),
        "first-write" => Ok(Concurrency::FirstWrite),
        other => Err(ApiError::new(
            ErrorCode::MalformedRequest,
            format!("unrecognized concurrency model '{other}'"),
        )),
    }
}

#[derive(Deserialize, Default)]
struct Options {
    #[serde(default, alias = "Concurrency")]
    concurrency: Option<String>,
    #[serde(default, alias = "Consistency")]
    #[allow(dead_code)] // accepted; both built-in stores are strongly consistent
    consistency: Option<String>,
}

#[derive(Deserialize)]
struct ItemJson {
    #[serde(default, alias = "Key")]
    key: Option<String>,
    #[serde(default, alias = "Value")]
    value: Option<Box<RawValue>>,
    #[serde(default, alias = "ETag", alias = "Etag")]
    etag: Option<String>,
    #[serde(default, alias = "Metadata")]
    metadata: Option<HashMap<String, String>>,
    #[serde(default, alias = "Options")]
    options: Option<Options>,
}

impl ItemJson {
    fn into_save(self, query_md: &HashMap<String, String>) -> Result<SaveItem, ApiError> {
        let key = self.key.filter(|k| !k.is_empty()).ok_or_else(|| {
            ApiError::new(ErrorCode::MalformedRequest, "\"key\" is a required field")
        })?;
        let mut metadata = self.metadata.unwrap_or_default();
        for (k, v) in query_md {
            metadata.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let options = self.options.unwrap_or_default();
        Ok(SaveItem {
            key,
            value: match self.value {
                Some(raw) => match super::value::go_value(raw.get().as_bytes()) {
                    Ok(None) => Bytes::copy_from_slice(raw.get().as_bytes()),
                    Ok(Some(s)) => Bytes::from(s),
                    Err(e) => return Err(malformed(e)),
                },
                None => Bytes::from_static(b"null"),
            },
            etag: self.etag,
            metadata,
            concurrency: parse_concurrency(options.concurrency.as_deref())?,
        })
    }
}

/// `GET /v1.0/state/{storeName}/{key}`.
pub async fn get_state(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let (store, key) = (m.param_or_empty("storeName"), m.param_or_empty("key"));
    match super::get(ctx, &store, &key, query_metadata(req)).await {
        Ok(Some(item)) => {
            let mut resp = Response::json(StatusCode::OK, item.data);
            if let Some(etag) = item.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
                resp.headers.push((http::header::ETAG, etag));
            }
            for (k, v) in item.metadata {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(format!("metadata.{k}").as_bytes()),
                    HeaderValue::from_str(&v),
                ) {
                    resp.headers.push((n, v));
                }
            }
            resp
        }
        Ok(None) => Response::no_content(),
        Err(e) => e.into(),
    }
}

/// `POST/PUT /v1.0/state/{storeName}` with a JSON array of items.
pub async fn save_state(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let store = m.param_or_empty("storeName");
    let items: Vec<ItemJson> = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => return malformed(e).into(),
    };
    let query_md = query_metadata(req);
    let mut save = Vec::with_capacity(items.len());
    for it in items {
        match it.into_save(&query_md) {
            Ok(s) => save.push(s),
            Err(e) => return e.into(),
        }
    }
    match super::save(ctx, &store, save).await {
        Ok(()) => Response::no_content(),
        Err(e) => e.into(),
    }
}

/// `DELETE /v1.0/state/{storeName}/{key}` (`If-Match` carries the ETag).
pub async fn delete_state(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let (store, key) = (m.param_or_empty("storeName"), m.param_or_empty("key"));
    let etag = req.header_str("if-match").map(str::to_owned);
    let concurrency = match parse_concurrency(req.query_values("concurrency").next().as_deref()) {
        Ok(c) => c,
        Err(e) => return e.into(),
    };
    match super::delete(ctx, &store, &key, etag, query_metadata(req), concurrency).await {
        Ok(()) => Response::no_content(),
        Err(e) => e.into(),
    }
}

#[derive(Deserialize)]
struct BulkJson {
    #[serde(default, alias = "Keys")]
    keys: Vec<String>,
    #[serde(default, alias = "Metadata")]
    metadata: Option<HashMap<String, String>>,
}

#[derive(Serialize)]
struct BulkOut<'a> {
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// `POST/PUT /v1.0/state/{storeName}/bulk`.
pub async fn bulk_state(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let store = m.param_or_empty("storeName");
    let body: BulkJson = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => return malformed(e).into(),
    };
    let mut md = body.metadata.unwrap_or_default();
    for (k, v) in query_metadata(req) {
        md.entry(k).or_insert(v);
    }
    let items = match super::bulk_get(ctx, &store, body.keys, md).await {
        Ok(i) => i,
        Err(e) => return e.into(),
    };
    // Stored values are JSON text; anything else is returned as a JSON string.
    let raws: Vec<Option<Box<RawValue>>> = items.iter().map(raw_data).collect();
    let out: Vec<BulkOut<'_>> = items
        .iter()
        .zip(&raws)
        .map(|(it, raw)| BulkOut {
            key: &it.key,
            data: raw.as_deref(),
            etag: it.item.as_ref().and_then(|i| i.etag.as_deref()),
            metadata: it
                .item
                .as_ref()
                .map(|i| &i.metadata)
                .filter(|m| !m.is_empty()),
            error: it.error.as_deref(),
        })
        .collect();
    match serde_json::to_vec(&out) {
        Ok(body) => Response::json(StatusCode::OK, body),
        Err(e) => ApiError::new(ErrorCode::Internal, e.to_string()).into(),
    }
}

fn raw_data(it: &BulkItem) -> Option<Box<RawValue>> {
    let data = &it.item.as_ref()?.data;
    let text = String::from_utf8_lossy(data);
    serde_json::from_str::<Box<RawValue>>(&text)
        .ok()
        .or_else(|| {
            serde_json::to_string(&text)
                .ok()
                .and_then(|s| RawValue::from_string(s).ok())
        })
}

#[derive(Deserialize)]
struct TxJson {
    #[serde(default, alias = "Operations")]
    operations: Vec<TxOpJson>,
    #[serde(default, alias = "Metadata")]
    metadata: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct TxOpJson {
    #[serde(alias = "Operation")]
    operation: String,
    #[serde(alias = "Request")]
    request: ItemJson,
}

/// `POST/PUT /v1.0/state/{storeName}/transaction`.
pub async fn transaction(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let store = m.param_or_empty("storeName");
    let body: TxJson = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => return malformed(e).into(),
    };
    let none = HashMap::new();
    let mut ops = Vec::with_capacity(body.operations.len());
    for op in body.operations {
        let item = match op.request.into_save(&none) {
            Ok(i) => i,
            Err(e) => return e.into(),
        };
        match TxOp::parse(&op.operation, item) {
            Ok(op) => ops.push(op),
            Err(e) => return e.into(),
        }
    }
    let mut md = body.metadata.unwrap_or_default();
    for (k, v) in query_metadata(req) {
        md.entry(k).or_insert(v);
    }
    let (traceparent, tracestate) = crate::channel::trace::context(&req.headers);
    let origin = super::outbox::Origin {
        http: true,
        traceparent,
        tracestate,
    };
    match super::transact(ctx, &store, ops, md, &origin).await {
        Ok(()) => Response::no_content(),
        Err(e) => e.into(),
    }
}
