//! HTTP adapter for output bindings (Go: `onOutputBindingMessage`).
//!
//! `POST`/`PUT /v1.0/bindings/{name}` with `{"data": …, "metadata": {…},
//! "operation": "…"}`:
//! - the body is read as Go's `json.Decoder` reads it: the first JSON value
//!   only, field names matched case-insensitively, unknown fields ignored;
//!   an empty body is `failed deserializing HTTP body: EOF`, a wrongly typed
//!   field Go's `json: cannot unmarshal …` (400 `ERR_MALFORMED_REQUEST`);
//! - `data` is re-encoded as Go's `json.Marshal` would (`"abc"` reaches the
//!   binding as the five bytes `"abc"`; no `data` is `null`);
//! - `traceparent` (the caller's, or a new one), `tracestate` and `baggage`
//!   are added to the metadata (a malformed `baggage` header is 400
//!   `ERR_MALFORMED_REQUEST`);
//! - the answer is 200 with the binding's data (`application/json`), 204
//!   when the binding answered nothing, or the error; the binding's
//!   metadata comes back as `metadata.<key>` headers either way.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

use super::Answer;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::router::Match;
use crate::api::Ctx;
use crate::components::bindings::{go_marshal, InvokeRequest};
use crate::http::message::{Request, Response};

/// The decoded body (Go's `OutputBindingRequest`).
#[derive(Debug, Default, PartialEq)]
pub struct OutputBindingRequest {
    /// `data`, as sent (`Null` when absent).
    pub data: Value,
    /// `metadata`.
    pub metadata: HashMap<String, String>,
    /// `operation`.
    pub operation: String,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Decodes the body as Go does; the error is Go's text.
pub fn decode_body(body: &[u8]) -> Result<OutputBindingRequest, String> {
    let first = serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next();
    let value = match first {
        None => return Err("EOF".into()),
        Some(Err(e)) if e.is_eof() => return Err("unexpected EOF".into()),
        Some(Err(e)) => return Err(e.to_string()),
        Some(Ok(v)) => v,
    };
    let mut out = OutputBindingRequest::default();
    let obj = match value {
        Value::Null => return Ok(out),
        Value::Object(o) => o,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type http.OutputBindingRequest",
                kind(&other)
            ))
        }
    };
    // Exact names win over case-insensitive matches, as in Go.
    let field = |name: &str| {
        obj.get(name).or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    };
    let type_error = |field: &str, v: &Value, ty: &str| {
        format!(
            "json: cannot unmarshal {} into Go struct field OutputBindingRequest.{field} of type {ty}",
            kind(v)
        )
    };
    if let Some(v) = field("data") {
        out.data = v.clone();
    }
    match field("operation") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => out.operation = s.clone(),
        Some(v) => return Err(type_error("operation", v, "string")),
    }
    match field("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => {
                        out.metadata.insert(k.clone(), s.clone());
                    }
                    Value::Null => {
                        out.metadata.insert(k.clone(), String::new());
                    }
                    other => return Err(type_error("metadata", other, "string")),
                }
            }
        }
        Some(v) => return Err(type_error("metadata", v, "map[string]string")),
    }
    Ok(out)
}

/// A W3C baggage header the way OpenTelemetry's parser accepts it: list
/// members `key=value` (optionally `;properties`), comma separated.
fn check_baggage(b: &str) -> Result<(), String> {
    if b.len() > 8192 {
        return Err("baggage: baggage-string too large".into());
    }
    for member in b.split(',') {
        let member = member.trim();
        let kv = member.split(';').next().unwrap_or("");
        let ok = kv.split_once('=').is_some_and(|(k, _)| {
            let k = k.trim();
            !k.is_empty()
                && k.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
        });
        if !ok {
            return Err(format!("invalid baggage list-member: {member:?}"));
        }
    }
    Ok(())
}

/// `POST`/`PUT /v1.0/bindings/{name}`.
pub async fn invoke_binding(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let name = m.param("name").map(|c| c.into_owned()).unwrap_or_default();
    let body = match decode_body(&req.body) {
        Ok(b) => b,
        Err(e) => {
            let e = ApiError::new(
                ErrorCode::MalformedRequest,
                format!("failed deserializing HTTP body: {e}"),
            );
            tracing::debug!("{e}");
            return e.into();
        }
    };
    let mut metadata = body.metadata;
    let (traceparent, tracestate) = crate::channel::trace::context(&req.headers);
    metadata.insert("traceparent".into(), traceparent);
    if !tracestate.is_empty() {
        metadata.insert("tracestate".into(), tracestate);
    }
    let baggage: Vec<&str> = req
        .headers
        .get_all("baggage")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !baggage.is_empty() {
        let joined = baggage.join(",");
        if let Err(e) = check_baggage(&joined) {
            return ApiError::new(
                ErrorCode::MalformedRequest,
                format!("invalid baggage header: {e}"),
            )
            .into();
        }
        metadata.insert("baggage".into(), joined);
    }
    let answer = super::invoke(
        ctx,
        &name,
        InvokeRequest {
            operation: body.operation,
            data: Bytes::from(go_marshal(&body.data)),
            metadata,
        },
    )
    .await;
    respond(answer)
}

/// The answer as Go writes it: metadata headers first, then the body.
fn respond(answer: Answer) -> Response {
    let mut resp = match answer.result {
        Ok(None) => Response::no_content(),
        Ok(Some(data)) => Response::json(StatusCode::OK, data),
        Err(e) => e.into(),
    };
    let mut keys: Vec<&String> = answer.metadata.keys().collect();
    keys.sort();
    for k in keys {
        let Ok(name) = HeaderName::from_bytes(format!("metadata.{k}").as_bytes()) else {
            continue;
        };
        let v = answer.metadata[k].replace(['\r', '\n'], " ");
        if let Ok(value) = HeaderValue::from_str(&v) {
            resp.headers.push((name, value));
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_decode_like_go() {
        assert_eq!(decode_body(b"").unwrap_err(), "EOF");
        assert_eq!(decode_body(b"  ").unwrap_err(), "EOF");
        assert_eq!(decode_body(b"{\"data\":").unwrap_err(), "unexpected EOF");
        let r = decode_body(br#"{"Operation":"create","data":{"b":1,"a":"<"},"metadata":{"key":"k","n":null},"x":1} trailing"#).unwrap();
        assert_eq!(r.operation, "create");
        assert_eq!(go_marshal(&r.data), br#"{"a":"\u003c","b":1}"#);
        assert_eq!(r.metadata["key"], "k");
        assert_eq!(r.metadata["n"], "");
        assert_eq!(
            decode_body(b"null").unwrap(),
            OutputBindingRequest::default()
        );
        assert_eq!(go_marshal(&decode_body(b"{}").unwrap().data), b"null");
        assert_eq!(
            decode_body(br#"{"metadata":{"a":1}}"#).unwrap_err(),
            "json: cannot unmarshal number into Go struct field OutputBindingRequest.metadata of type string"
        );
        assert_eq!(
            decode_body(br#"{"operation":true}"#).unwrap_err(),
            "json: cannot unmarshal bool into Go struct field OutputBindingRequest.operation of type string"
        );
        assert_eq!(
            decode_body(br#"[1]"#).unwrap_err(),
            "json: cannot unmarshal array into Go value of type http.OutputBindingRequest"
        );
        assert!(decode_body(b"{x}").is_err());
    }

    #[test]
    fn baggage_checks() {
        assert!(check_baggage("a=1,b=2;prop").is_ok());
        assert!(check_baggage("novalue").is_err());
        assert!(check_baggage("a b=1").is_err());
    }

    #[test]
    fn metadata_becomes_headers_even_on_error() {
        let r = respond(Answer {
            metadata: HashMap::from([("statusCode".into(), "404".into())]),
            result: Err(ApiError::new(ErrorCode::InvokeOutputBinding, "x")),
        });
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.headers[0].0.as_str(), "metadata.statuscode");
        let r = respond(Answer {
            metadata: HashMap::new(),
            result: Ok(None),
        });
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
}
