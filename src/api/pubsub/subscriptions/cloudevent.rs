//! CloudEvents as Dapr writes and reads them (`components-contrib`
//! `pubsub/envelope.go`, daprd `pkg/runtime/pubsub/cloudevents.go`).
//!
//! On publish a payload is wrapped in a CloudEvent 1.0 JSON envelope with
//! Go's field names, defaults and overrides, and its keys in Go's order
//! (sorted, as `encoding/json` writes a map). JSON payloads are embedded as
//! the bytes the client sent, so numbers stay exact without re-encoding. A
//! payload that already is a CloudEvent (`application/cloudevents+json`) is
//! completed instead of wrapped. On delivery the envelope is read back for
//! routing, expiry and trace headers.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

/// `type` when none is given.
pub const DEFAULT_TYPE: &str = "com.dapr.event.sent";
/// `source` when none is given.
pub const DEFAULT_SOURCE: &str = "Dapr";
/// `datacontenttype` when none is given.
pub const DEFAULT_DATA_CONTENT_TYPE: &str = "text/plain";
/// The CloudEvents spec version Dapr writes.
pub const SPEC_VERSION: &str = "1.0";
/// The structured-mode content type.
pub const CLOUDEVENT_CONTENT_TYPE: &str = "application/cloudevents+json";

/// Whether `content_type` is `expected`, ignoring case and parameters
/// (contrib's `isContentType`).
pub fn is_content_type(content_type: &str, expected: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("");
    media.trim().eq_ignore_ascii_case(expected)
}

/// What a publish carries into the envelope.
pub struct Publish<'a> {
    /// The payload.
    pub data: &'a [u8],
    /// The payload's content type (HTTP `Content-Type`, gRPC `data_content_type`).
    pub content_type: &'a str,
    /// Our app id (the default `source`).
    pub app_id: &'a str,
    /// Topic.
    pub topic: &'a str,
    /// Pub/sub component name.
    pub pubsub: &'a str,
    /// W3C traceparent of the publish.
    pub traceparent: &'a str,
    /// W3C tracestate of the publish.
    pub tracestate: &'a str,
    /// Request metadata (`cloudevent.*` overrides, `ttlInSeconds`).
    pub metadata: &'a HashMap<String, String>,
    /// Whether the broker expires messages itself (then no `expiration`).
    pub broker_has_ttl: bool,
}

/// Why an envelope could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot create cloudevent: {0}")]
pub struct EnvelopeError(String);

/// One envelope field: a string, JSON kept as written, or a parsed value.
#[derive(Serialize)]
#[serde(untagged)]
enum Field<'a> {
    Str(std::borrow::Cow<'a, str>),
    Raw(&'a RawValue),
}

fn s(v: impl Into<std::borrow::Cow<'static, str>>) -> Field<'static> {
    Field::Str(v.into())
}

/// A `cloudevent.<name>` override, matched case-insensitively as Go's weak decode does.
fn ce_override<'m>(md: &'m HashMap<String, String>, name: &str) -> Option<&'m str> {
    md.iter()
        .find(|(k, _)| {
            k.len() == "cloudevent.".len() + name.len()
                && k[..11].eq_ignore_ascii_case("cloudevent.")
                && k[11..].eq_ignore_ascii_case(name)
        })
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The current time as Go's `time.Now().Format(time.RFC3339)`.
pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `expiration` for a `ttlInSeconds` metadata value, when valid (Go ignores invalid ones).
fn expiration(md: &HashMap<String, String>) -> Option<String> {
    let raw = md
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("ttlInSeconds"))
        .map(|(_, v)| v)?;
    let secs: i64 = raw.trim().parse().ok().filter(|&n| n > 0)?;
    let at = chrono::Utc::now() + chrono::Duration::try_seconds(secs)?;
    Some(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Builds the envelope for a publish; the result is the broker message body.
pub fn envelope(p: &Publish<'_>) -> Result<Bytes, EnvelopeError> {
    if is_content_type(p.content_type, CLOUDEVENT_CONTENT_TYPE) {
        return complete(p);
    }
    let md = p.metadata;
    let traceparent = ce_override(md, "traceparent")
        .or_else(|| ce_override(md, "traceid"))
        .unwrap_or(p.traceparent);
    let tracestate = ce_override(md, "tracestate").unwrap_or(p.tracestate);
    let content_type = match p.content_type {
        "" => DEFAULT_DATA_CONTENT_TYPE,
        ct => ct,
    };
    let mut ce: BTreeMap<&str, Field<'_>> = BTreeMap::new();
    ce.insert(
        "id",
        Field::Str(match ce_override(md, "id") {
            Some(id) => id.into(),
            None => uuid::Uuid::new_v4().to_string().into(),
        }),
    );
    ce.insert("specversion", s(SPEC_VERSION));
    ce.insert("datacontenttype", Field::Str(content_type.into()));
    ce.insert(
        "source",
        Field::Str(
            ce_override(md, "source")
                .or(Some(p.app_id).filter(|a| !a.is_empty()))
                .unwrap_or(DEFAULT_SOURCE)
                .into(),
        ),
    );
    ce.insert(
        "type",
        Field::Str(ce_override(md, "type").unwrap_or(DEFAULT_TYPE).into()),
    );
    ce.insert("topic", Field::Str(p.topic.into()));
    ce.insert("pubsubname", Field::Str(p.pubsub.into()));
    ce.insert("traceid", Field::Str(traceparent.into()));
    ce.insert("traceparent", Field::Str(traceparent.into()));
    ce.insert("tracestate", Field::Str(tracestate.into()));
    ce.insert("time", s(now_rfc3339()));
    if let Some(subject) = ce_override(md, "subject") {
        ce.insert("subject", Field::Str(subject.into()));
    }
    if !p.broker_has_ttl {
        if let Some(exp) = expiration(md) {
            ce.insert("expiration", s(exp));
        }
    }

    let raw_json;
    if is_content_type(content_type, "application/json") {
        // Embedded as written when it is JSON; as a string when it is not (Go's fallback).
        match serde_json::from_slice::<&RawValue>(p.data) {
            Ok(raw) => {
                raw_json = raw;
                ce.insert("data", Field::Raw(raw_json));
            }
            Err(_) => {
                ce.insert("data", Field::Str(String::from_utf8_lossy(p.data)));
            }
        }
    } else if is_content_type(content_type, "application/octet-stream")
        || is_content_type(content_type, "application/cloudevents+protobuf")
    {
        ce.insert(
            "data_base64",
            s(base64::engine::general_purpose::STANDARD.encode(p.data)),
        );
    } else {
        ce.insert("data", Field::Str(String::from_utf8_lossy(p.data)));
    }
    serde_json::to_vec(&ce)
        .map(Bytes::from)
        .map_err(|e| EnvelopeError(e.to_string()))
}

/// Completes a CloudEvent the client sent whole (Go's `FromCloudEvent`):
/// `time`, trace fields, `source`, `type` and `specversion` filled when
/// missing; `topic` and `pubsubname` always ours.
fn complete(p: &Publish<'_>) -> Result<Bytes, EnvelopeError> {
    let mut ce: BTreeMap<String, Box<RawValue>> =
        serde_json::from_slice(p.data).map_err(|e| EnvelopeError(e.to_string()))?;
    let json =
        |v: &str| serde_json::value::to_raw_value(v).map_err(|e| EnvelopeError(e.to_string()));
    let missing =
        |ce: &BTreeMap<String, Box<RawValue>>, k: &str| ce.get(k).is_none_or(|v| v.get() == "null");
    if !ce.contains_key("time") {
        ce.insert("time".into(), json(&now_rfc3339())?);
    }
    if !ce.contains_key("traceid") {
        ce.insert("traceid".into(), json(p.traceparent)?);
        ce.insert("traceparent".into(), json(p.traceparent)?);
    }
    if !ce.contains_key("tracestate") {
        ce.insert("tracestate".into(), json(p.tracestate)?);
    }
    ce.insert("topic".into(), json(p.topic)?);
    ce.insert("pubsubname".into(), json(p.pubsub)?);
    for (k, default) in [
        ("source", DEFAULT_SOURCE),
        ("type", DEFAULT_TYPE),
        ("specversion", SPEC_VERSION),
    ] {
        if missing(&ce, k) {
            ce.insert(k.into(), json(default)?);
        }
    }
    if !p.broker_has_ttl {
        if let Some(exp) = expiration(p.metadata) {
            ce.insert("expiration".into(), json(&exp)?);
        }
    }
    serde_json::to_vec(&ce)
        .map(Bytes::from)
        .map_err(|e| EnvelopeError(e.to_string()))
}

/// The envelope Go builds around raw broker bytes for a `rawPayload`
/// subscription (`FromRawPayload`).
pub fn from_raw_payload(data: &[u8], topic: &str, pubsub: &str) -> Bytes {
    let mut ce: BTreeMap<&str, Field<'_>> = BTreeMap::new();
    ce.insert("id", s(uuid::Uuid::new_v4().to_string()));
    ce.insert("specversion", s(SPEC_VERSION));
    ce.insert("datacontenttype", s("application/octet-stream"));
    ce.insert("source", s(DEFAULT_SOURCE));
    ce.insert("type", s(DEFAULT_TYPE));
    ce.insert("topic", Field::Str(topic.into()));
    ce.insert("pubsubname", Field::Str(pubsub.into()));
    ce.insert(
        "data_base64",
        s(base64::engine::general_purpose::STANDARD.encode(data)),
    );
    // A map of strings always serialises.
    serde_json::to_vec(&ce).map(Bytes::from).unwrap_or_default()
}

/// Whether an `expiration` attribute lies in the past (unparseable: no).
pub fn has_expired(expiration: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(expiration)
        .map(|t| t < chrono::Utc::now())
        .unwrap_or(false)
}

/// A CloudEvent as the `TopicEventRequest` Go sends to gRPC subscribers:
/// `data` decoded from `data_base64`, a string as its text for non-JSON
/// content types, otherwise JSON; attributes other than the core ones go
/// into `extensions`.
pub fn topic_event(
    ev: &serde_json::Value,
    topic: &str,
    pubsub: &str,
    path: &str,
) -> crate::proto::dapr::proto::runtime::v1::TopicEventRequest {
    const CORE: &[&str] = &[
        "id",
        "source",
        "datacontenttype",
        "type",
        "specversion",
        "data",
        "data_base64",
    ];
    let text = |k: &str| ev.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let content_type = text("datacontenttype");
    let data = if let Some(b64) = ev.get("data_base64").and_then(|v| v.as_str()) {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default()
    } else {
        match ev.get("data") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(s))
                if !is_content_type(&content_type, "application/json")
                    && !is_content_type(&content_type, CLOUDEVENT_CONTENT_TYPE) =>
            {
                s.clone().into_bytes()
            }
            Some(v) => serde_json::to_vec(v).unwrap_or_default(),
        }
    };
    let extensions = ev.as_object().map(|m| prost_types::Struct {
        fields: m
            .iter()
            .filter(|(k, _)| !CORE.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), proto_value(v)))
            .collect(),
    });
    crate::proto::dapr::proto::runtime::v1::TopicEventRequest {
        id: text("id"),
        source: text("source"),
        r#type: text("type"),
        spec_version: text("specversion"),
        data_content_type: content_type,
        data,
        topic: topic.to_owned(),
        pubsub_name: pubsub.to_owned(),
        path: path.to_owned(),
        extensions,
    }
}

/// JSON as `google.protobuf.Value`.
fn proto_value(v: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(proto_value).collect(),
        }),
        serde_json::Value::Object(m) => Kind::StructValue(prost_types::Struct {
            fields: m.iter().map(|(k, v)| (k.clone(), proto_value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish<'a>(data: &'a [u8], ct: &'a str, md: &'a HashMap<String, String>) -> Publish<'a> {
        Publish {
            data,
            content_type: ct,
            app_id: "app",
            topic: "orders",
            pubsub: "ps",
            traceparent: "00-aa-bb-01",
            tracestate: "",
            metadata: md,
            broker_has_ttl: false,
        }
    }

    fn parse(b: &[u8]) -> serde_json::Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn json_payload_is_embedded_as_written_with_sorted_keys() {
        let md = HashMap::new();
        let out = envelope(&publish(
            br#"{"n": 12345678901234567890}"#,
            "application/json",
            &md,
        ))
        .unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        assert!(
            text.starts_with(
                r#"{"data":{"n": 12345678901234567890},"datacontenttype":"application/json","id":""#
            ),
            "{text}"
        );
        let v = parse(&out);
        assert_eq!(v["source"], "app");
        assert_eq!(v["type"], DEFAULT_TYPE);
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["topic"], "orders");
        assert_eq!(v["pubsubname"], "ps");
        assert_eq!(v["traceid"], "00-aa-bb-01");
        assert_eq!(v["traceparent"], "00-aa-bb-01");
        assert!(v.get("expiration").is_none());
        assert_eq!(v["id"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn text_binary_and_invalid_json() {
        let md = HashMap::new();
        let v = parse(&envelope(&publish(b"hi", "", &md)).unwrap());
        assert_eq!(
            (v["data"].as_str(), v["datacontenttype"].as_str()),
            (Some("hi"), Some("text/plain"))
        );
        let v = parse(&envelope(&publish(b"\x00\x01", "application/octet-stream", &md)).unwrap());
        assert_eq!(v["data_base64"], "AAE=");
        assert!(v.get("data").is_none());
        let v = parse(&envelope(&publish(b"{nope", "application/json", &md)).unwrap());
        assert_eq!(v["data"], "{nope");
    }

    #[test]
    fn overrides_and_ttl() {
        let md: HashMap<String, String> = [
            ("CloudEvent.Id", "my-id"),
            ("cloudevent.type", "t"),
            ("cloudevent.source", "src"),
            ("cloudevent.subject", "subj"),
            ("cloudevent.traceparent", "00-cc-dd-01"),
            ("ttlInSeconds", "60"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let v = parse(&envelope(&publish(b"x", "text/plain", &md)).unwrap());
        assert_eq!(v["id"], "my-id");
        assert_eq!(v["type"], "t");
        assert_eq!(v["source"], "src");
        assert_eq!(v["subject"], "subj");
        assert_eq!(v["traceid"], "00-cc-dd-01");
        assert!(!has_expired(v["expiration"].as_str().unwrap()));
        let mut p = publish(b"x", "text/plain", &md);
        p.broker_has_ttl = true;
        assert!(parse(&envelope(&p).unwrap()).get("expiration").is_none());
    }

    #[test]
    fn cloudevent_input_is_completed_not_wrapped() {
        let md = HashMap::new();
        let body = br#"{"id":"1","type":"mine","data":{"a":1},"topic":"other"}"#;
        let v = parse(
            &envelope(&publish(
                body,
                "application/cloudevents+json; charset=utf-8",
                &md,
            ))
            .unwrap(),
        );
        assert_eq!(v["id"], "1");
        assert_eq!(v["type"], "mine");
        assert_eq!(v["topic"], "orders");
        assert_eq!(v["source"], DEFAULT_SOURCE);
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["data"]["a"], 1);
        assert!(envelope(&publish(b"[1]", CLOUDEVENT_CONTENT_TYPE, &md)).is_err());
    }

    #[test]
    fn topic_events_as_go() {
        let ev = serde_json::json!({"id":"1","source":"s","type":"t","specversion":"1.0",
            "datacontenttype":"application/json","data":{"a":1},"topic":"x","traceparent":"tp"});
        let te = topic_event(&ev, "orders", "ps", "/");
        assert_eq!(
            (te.id.as_str(), te.r#type.as_str(), te.path.as_str()),
            ("1", "t", "/")
        );
        assert_eq!(te.data, br#"{"a":1}"#);
        let ext = te.extensions.unwrap();
        assert!(ext.fields.contains_key("traceparent") && !ext.fields.contains_key("data"));
        let ev = serde_json::json!({"datacontenttype":"text/plain","data":"hi"});
        assert_eq!(topic_event(&ev, "t", "p", "/").data, b"hi");
        let ev = serde_json::json!({"data_base64":"AAE="});
        assert_eq!(topic_event(&ev, "t", "p", "/").data, [0, 1]);
    }

    #[test]
    fn expiry() {
        assert!(has_expired("2000-01-01T00:00:00Z"));
        assert!(!has_expired("2999-01-01T00:00:00+01:00"));
        assert!(!has_expired("garbage"));
        let raw = from_raw_payload(b"\xff", "t", "p");
        assert_eq!(parse(&raw)["data_base64"], "/w==");
    }
}
