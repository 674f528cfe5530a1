//! HTTP adapter for the lock API (Go: `pkg/api/http/lock.go`).
//!
//! - `POST /v1.0-alpha1/lock/{storeName}` body `{"resourceId","lockOwner","expiryInSeconds"}`
//!   → 200 `{"success":true|false}` (always emitted);
//! - `POST /v1.0-alpha1/unlock/{storeName}` body `{"resourceId","lockOwner"}`
//!   → 200 `{"status":N}` (0 success, 1 lock does not exist, 2 lock belongs
//!   to others, 3 internal error — numbers, as Go's `UseEnumNumbers`).
//!
//! Bodies are read as protojson reads the request messages: JSON or proto
//! field names, unknown fields ignored, `null` as the default, an int32 as
//! a number or a numeric string; an empty body is an empty message. A body
//! that does not decode answers `ERR_MALFORMED_REQUEST` (400). The store
//! name comes from the path.

use http::StatusCode;
use serde_json::{Map, Value};

use crate::api::error::{ApiError, ErrorCode};
use crate::api::router::Match;
use crate::api::Ctx;
use crate::http::message::{Request, Response};

/// The request body as a JSON object (empty body: no fields).
fn body_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    if req.body.is_empty() {
        return Ok(Map::new());
    }
    let malformed = |e: &dyn std::fmt::Display| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            format!("failed deserializing HTTP body: {e}"),
        )
    };
    match serde_json::from_slice::<Value>(&req.body).map_err(|e| malformed(&e))? {
        Value::Object(m) => Ok(m),
        other => Err(malformed(&format!(
            "proto: syntax error: unexpected token {other}"
        ))),
    }
}

/// A field by JSON name or proto name; `null` counts as absent.
fn field<'a>(obj: &'a Map<String, Value>, json: &str, proto: &str) -> Option<&'a Value> {
    obj.get(json)
        .or_else(|| obj.get(proto))
        .filter(|v| !v.is_null())
}

fn string_field(obj: &Map<String, Value>, json: &str, proto: &str) -> Result<String, String> {
    match field(obj, json, proto) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("invalid value for string field {json}: {other}")),
    }
}

fn int32_field(obj: &Map<String, Value>, json: &str, proto: &str) -> Result<i32, String> {
    let invalid = |v: &Value| format!("invalid value for int32 field {json}: {v}");
    match field(obj, json, proto) {
        None => Ok(0),
        Some(v @ Value::Number(n)) => {
            let whole = n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64));
            whole
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| invalid(v))
        }
        Some(v @ Value::String(s)) => s.trim().parse().map_err(|_| invalid(v)),
        Some(v) => Err(invalid(v)),
    }
}

/// The three request fields every lock call reads.
struct Fields {
    resource_id: String,
    lock_owner: String,
    expiry_in_seconds: i32,
}

fn fields(req: &Request, with_expiry: bool) -> Result<Fields, ApiError> {
    let obj = body_object(req)?;
    let read = || -> Result<Fields, String> {
        // Type-checked like protojson does, though the path names the store.
        string_field(&obj, "storeName", "store_name")?;
        Ok(Fields {
            resource_id: string_field(&obj, "resourceId", "resource_id")?,
            lock_owner: string_field(&obj, "lockOwner", "lock_owner")?,
            expiry_in_seconds: if with_expiry {
                int32_field(&obj, "expiryInSeconds", "expiry_in_seconds")?
            } else {
                0
            },
        })
    };
    read().map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            format!("failed deserializing HTTP body: proto: {e}"),
        )
    })
}

fn store_name(m: &Match<'_>) -> String {
    m.param("storeName")
        .map(|c| c.into_owned())
        .unwrap_or_default()
}

/// `POST /v1.0-alpha1/lock/{storeName}`.
pub async fn try_lock(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let f = match fields(req, true) {
        Ok(f) => f,
        Err(e) => return e.into(),
    };
    let store = store_name(m);
    match super::try_lock(
        ctx,
        &store,
        &f.resource_id,
        &f.lock_owner,
        f.expiry_in_seconds,
    )
    .await
    {
        Ok(success) => Response::json(
            StatusCode::OK,
            if success {
                &b"{\"success\":true}"[..]
            } else {
                &b"{\"success\":false}"[..]
            },
        ),
        Err(e) => e.into(),
    }
}

/// `POST /v1.0-alpha1/unlock/{storeName}`.
pub async fn unlock(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let f = match fields(req, false) {
        Ok(f) => f,
        Err(e) => return e.into(),
    };
    let store = store_name(m);
    match super::unlock(ctx, &store, &f.resource_id, &f.lock_owner).await {
        Ok(status) => Response::json(
            StatusCode::OK,
            format!("{{\"status\":{}}}", status as i32).into_bytes(),
        ),
        Err(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn protojson_field_rules() {
        let o = obj(r#"{"resource_id":"r","lockOwner":null,"expiryInSeconds":"15","x":[1]}"#);
        assert_eq!(string_field(&o, "resourceId", "resource_id").unwrap(), "r");
        assert_eq!(string_field(&o, "lockOwner", "lock_owner").unwrap(), "");
        assert_eq!(
            int32_field(&o, "expiryInSeconds", "expiry_in_seconds").unwrap(),
            15
        );
        let o = obj(r#"{"expiryInSeconds":1e1,"resourceId":5}"#);
        assert_eq!(
            int32_field(&o, "expiryInSeconds", "expiry_in_seconds").unwrap(),
            10
        );
        assert!(string_field(&o, "resourceId", "resource_id").is_err());
        let o = obj(r#"{"expiryInSeconds":3000000000}"#);
        assert!(int32_field(&o, "expiryInSeconds", "expiry_in_seconds").is_err());
        let o = obj(r#"{"expiryInSeconds":1.5}"#);
        assert!(int32_field(&o, "expiryInSeconds", "expiry_in_seconds").is_err());
    }
}
