//! HTTP adapter for publishing: `POST|PUT /v1.0/publish/{pubsubname}/{topic...}`
//! and the bulk routes (`/v1.0-alpha1/publish/bulk/…`, `/v1.0/publish/bulk/…`).
//!
//! The body is the payload and `Content-Type` its content type;
//! `metadata.*` query parameters are the request metadata. Success is 204.
//! A bulk body is a JSON array of `{entryId, event, contentType, metadata}`;
//! a partial failure answers 500 with the failed entries, and Go's
//! `metadata.responseData` / `metadata.error` headers.

use std::collections::HashMap;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{BulkEntry, PublishInput};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::pubsub::subscriptions::cloudevent::is_content_type;
use crate::api::query_metadata;
use crate::api::router::Match;
use crate::api::Ctx;
use crate::http::message::{Request, Response};

fn trace_headers(req: &Request) -> (String, String) {
    crate::channel::trace::context(&req.headers)
}

/// `POST /v1.0/publish/{pubsubname}/{topic...}`
pub async fn publish(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let (traceparent, tracestate) = trace_headers(req);
    let input = PublishInput {
        pubsub: m.param_or_empty("pubsubname"),
        topic: m.param_or_empty("topic"),
        data: req.body.clone(),
        content_type: req.header_str("content-type").unwrap_or("").to_owned(),
        metadata: query_metadata(req),
        traceparent,
        tracestate,
    };
    match super::publish(ctx, input).await {
        Ok(()) => Response::no_content(),
        Err(e) => e.into(),
    }
}

#[derive(Deserialize)]
struct EntryJson {
    #[serde(default, alias = "EntryId", alias = "entryID")]
    #[serde(rename = "entryId")]
    entry_id: String,
    #[serde(default)]
    event: Option<Box<RawValue>>,
    #[serde(default, rename = "contentType", alias = "ContentType")]
    content_type: String,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
}

#[derive(Serialize)]
struct FailedEntry<'a> {
    #[serde(rename = "entryId")]
    entry_id: &'a str,
    error: &'a str,
}

#[derive(Serialize)]
struct BulkResponse<'a> {
    #[serde(rename = "failedEntries")]
    failed_entries: Vec<FailedEntry<'a>>,
    #[serde(rename = "errorCode")]
    error_code: &'a str,
}

/// Go's `ConvertEventToBytes`: the entry's event as the bytes to publish.
fn event_bytes(event: Option<&RawValue>, content_type: &str) -> Result<Bytes, String> {
    let raw = event.map_or("null", RawValue::get);
    let as_string = || serde_json::from_str::<String>(raw).ok();
    let mismatch = || "error: mismatch between contentType and event".to_owned();
    if is_content_type(content_type, "application/octet-stream") {
        let s = as_string().ok_or_else(mismatch)?;
        return base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Bytes::from)
            .map_err(|e| format!("error: {e}"));
    }
    let lower = content_type.to_ascii_lowercase();
    if lower.starts_with("text/") || is_content_type(content_type, "application/xml") {
        return as_string().map(Bytes::from).ok_or_else(mismatch);
    }
    if is_content_type(content_type, "application/json")
        || is_content_type(content_type, "application/cloudevents+json")
    {
        return Ok(Bytes::copy_from_slice(raw.as_bytes()));
    }
    Err(format!(
        "error: cannot convert data with content type {content_type}"
    ))
}

/// `POST /v1.0-alpha1/publish/bulk/{pubsubname}/{topic...}` (and `/v1.0/…`).
pub async fn bulk_publish(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let pubsub = m.param_or_empty("pubsubname");
    let topic = m.param_or_empty("topic");
    // Names first, as Go validates before reading the body.
    if let Err(e) = super::broker(ctx, &pubsub, &topic) {
        return e.into();
    }
    let metadata = query_metadata(req);
    if let Err(e) = super::raw_payload(&metadata) {
        return e.into();
    }
    let parsed: Vec<EntryJson> = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            return ApiError::new(
                ErrorCode::PubsubEventsSer,
                format!(
                    "error when unmarshaling the request for topic {topic} pubsub {pubsub}: {e}"
                ),
            )
            .into()
        }
    };
    let mut entries = Vec::with_capacity(parsed.len());
    for e in parsed {
        let event = match event_bytes(e.event.as_deref(), &e.content_type) {
            Ok(b) => b,
            Err(err) => {
                return ApiError::new(
                    ErrorCode::PubsubEventsSer,
                    format!("error when marshalling cloud event envelope for topic {topic} pubsub {pubsub}: {err}"),
                )
                .into()
            }
        };
        entries.push(BulkEntry {
            entry_id: e.entry_id,
            event,
            content_type: e.content_type,
            metadata: e.metadata.unwrap_or_default(),
        });
    }
    let (traceparent, tracestate) = trace_headers(req);
    match super::bulk_publish(
        ctx,
        &pubsub,
        &topic,
        entries,
        metadata,
        &traceparent,
        &tracestate,
    )
    .await
    {
        Ok(()) => Response::no_content(),
        Err(f) if f.failed.is_empty() => f.error.into(),
        Err(f) => {
            let body = BulkResponse {
                failed_entries: f
                    .failed
                    .iter()
                    .map(|(id, e)| FailedEntry {
                        entry_id: id,
                        error: e,
                    })
                    .collect(),
                error_code: f.error.code().tag(),
            };
            let data = serde_json::to_vec(&body).unwrap_or_default();
            let mut resp = Response::json(StatusCode::INTERNAL_SERVER_ERROR, data.clone());
            for (name, value) in [
                (
                    "metadata.responsedata",
                    String::from_utf8_lossy(&data).into_owned(),
                ),
                ("metadata.error", f.error.message().to_owned()),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    resp = resp.with_header(HeaderName::from_static(name), v);
                }
            }
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn events_convert_by_content_type() {
        assert_eq!(
            event_bytes(Some(&raw(r#""aGk=""#)), "application/octet-stream").unwrap(),
            "hi"
        );
        assert_eq!(
            event_bytes(Some(&raw(r#""hi""#)), "text/plain").unwrap(),
            "hi"
        );
        assert_eq!(
            event_bytes(Some(&raw(r#"{"a": 1}"#)), "application/json").unwrap(),
            r#"{"a": 1}"#
        );
        assert!(event_bytes(Some(&raw("1")), "text/plain").is_err());
        assert!(event_bytes(Some(&raw(r#""x""#)), "image/png").is_err());
        assert!(event_bytes(Some(&raw(r#""!!""#)), "application/octet-stream").is_err());
    }
}
