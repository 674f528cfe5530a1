//! Finding subscriptions: declarative `Subscription` resources and the
//! app's programmatic list (`GET /dapr/subscribe`).
//!
//! Both are read as Go reads them: field names case-insensitively (Go's
//! `encoding/json`), rules in order with the default route (`routes.default`,
//! else v1 `route`) appended as the catch-all, and a subscription that ends
//! up with no rule dropped with a warning. A pubsub/topic pair subscribed
//! twice keeps its first definition (declarative before programmatic).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;

use super::rules::{Matcher, Rule};
use super::{Kind, Subscription};
use crate::channel::grpc::{AppCallError, GrpcChannel};
use crate::channel::http::HttpChannel;
use crate::channel::{AppCall, AppChannel};
use crate::config::resources::RawResource;
use crate::grpc::status::GrpcCode;
use crate::http::client::{ClientRequest, OutBody};

/// A field of a JSON object, by name, case-insensitively.
fn field<'v>(obj: &'v Value, name: &str) -> Option<&'v Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn string_field(obj: &Value, name: &str) -> String {
    match field(obj, name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn string_map(v: Option<&Value>) -> HashMap<String, String> {
    let Some(Value::Object(m)) = v else {
        return HashMap::new();
    };
    m.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// One subscription from its JSON (or YAML-as-JSON) form: `pubsubname`,
/// `topic`, `route` / `routes {rules [{match, path}], default}`,
/// `metadata`, `deadLetterTopic`.
pub fn parse_one(v: &Value, kind: Kind) -> Result<Subscription, String> {
    let pubsub = string_field(v, "pubsubname");
    let topic = string_field(v, "topic");
    if pubsub.is_empty() || topic.is_empty() {
        return Err("a subscription needs both pubsubname and topic".into());
    }
    let mut rules = Vec::new();
    let routes = field(v, "routes");
    if let Some(list) = routes
        .and_then(|r| field(r, "rules"))
        .and_then(Value::as_array)
    {
        for r in list {
            let path = string_field(r, "path");
            let expr = string_field(r, "match");
            if path.is_empty() {
                continue;
            }
            let matcher = if expr.is_empty() {
                None
            } else {
                Some(Matcher::compile(&expr).map_err(|e| {
                    format!("invalid match expression {expr:?} for topic {topic}: {e}")
                })?)
            };
            rules.push(Rule::new(matcher, &path));
        }
    }
    let default = routes
        .map(|r| string_field(r, "default"))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| string_field(v, "route"));
    if !default.is_empty() {
        rules.push(Rule::new(None, &default));
    }
    if rules.is_empty() {
        return Err(format!(
            "subscription to topic {topic} on {pubsub} has no route; skipped"
        ));
    }
    let dead_letter_topic = Some(string_field(v, "deadLetterTopic")).filter(|s| !s.is_empty());
    Ok(Subscription {
        pubsub,
        topic,
        rules,
        dead_letter_topic,
        metadata: string_map(field(v, "metadata")),
        kind,
    })
}

/// Declarative subscriptions from the loaded resources (scopes were applied
/// by the loader). Invalid ones are logged and skipped, as Go does.
pub fn declarative(resources: &[RawResource]) -> Vec<Subscription> {
    let mut out = Vec::new();
    for r in resources.iter().filter(|r| r.kind == "Subscription") {
        let parsed = serde_json::to_value(&r.document)
            .map_err(|e| e.to_string())
            .and_then(|doc| {
                let spec = field(&doc, "spec").cloned().unwrap_or(Value::Null);
                parse_one(&spec, Kind::Declarative)
            });
        match parsed {
            Ok(s) => out.push(s),
            Err(e) => tracing::warn!(
                file = %r.source.display(),
                subscription = %r.name,
                "invalid Subscription: {e}"
            ),
        }
    }
    out
}

/// The app's answer to `GET /dapr/subscribe`.
pub fn programmatic(body: &[u8]) -> Result<Vec<Subscription>, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("GET /dapr/subscribe returned invalid JSON: {e}"))?;
    let Value::Array(items) = v else {
        return Err("GET /dapr/subscribe did not return a JSON array".into());
    };
    let mut out = Vec::new();
    for item in &items {
        match parse_one(item, Kind::Programmatic) {
            Ok(s) => out.push(s),
            Err(e) => tracing::warn!("programmatic subscription ignored: {e}"),
        }
    }
    Ok(out)
}

/// Asks the app for its subscriptions, with Go's init retry (3 retries
/// with exponential back-off) on transport errors.
pub async fn fetch(app: &AppChannel, app_id: &str) -> Vec<Subscription> {
    app.call(Discovery { app_id }).await
}

/// The app's subscription list: `GET /dapr/subscribe` or
/// `AppCallback/ListTopicSubscriptions`.
struct Discovery<'a> {
    app_id: &'a str,
}

impl AppCall for Discovery<'_> {
    type Output = Vec<Subscription>;

    async fn over_http(self, channel: &HttpChannel) -> Vec<Subscription> {
        fetch_http(channel, self.app_id).await
    }

    async fn over_grpc(self, channel: &GrpcChannel) -> Vec<Subscription> {
        fetch_grpc(channel).await
    }
}

/// `GET /dapr/subscribe`; 404 means none.
async fn fetch_http(channel: &HttpChannel, app_id: &str) -> Vec<Subscription> {
    let mut delay = Duration::from_millis(500);
    for attempt in 0..4 {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(app_id) {
            headers.insert(crate::api::APP_ID_HEADER, v);
        }
        let req = ClientRequest {
            method: Method::GET,
            target: "/dapr/subscribe".into(),
            headers,
            body: OutBody::Full(Default::default()),
        };
        match channel.call(req).await {
            Ok(resp) if resp.status == StatusCode::NOT_FOUND => return Vec::new(),
            Ok(resp) if resp.status.is_success() => {
                return programmatic(&resp.body).unwrap_or_else(|e| {
                    tracing::error!("{e}");
                    Vec::new()
                })
            }
            Ok(resp) => {
                tracing::error!(
                    status = resp.status.as_u16(),
                    "GET /dapr/subscribe failed; no programmatic subscriptions"
                );
                return Vec::new();
            }
            Err(e) if attempt < 3 => {
                tracing::debug!(error = %e, "GET /dapr/subscribe failed; retrying");
                monoio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => tracing::error!(error = %e, "GET /dapr/subscribe failed"),
        }
    }
    Vec::new()
}

/// `AppCallback/ListTopicSubscriptions`; UNIMPLEMENTED means none. Rules
/// keep their paths as written; with none, the default path is empty, as
/// Go sends it.
async fn fetch_grpc(channel: &GrpcChannel) -> Vec<Subscription> {
    use crate::proto::dapr::proto::runtime::v1 as pb;
    use prost::Message;
    let mut delay = Duration::from_millis(500);
    let mut reply = None;
    for attempt in 0..4 {
        let call = channel
            .unary(
                "/dapr.proto.runtime.v1.AppCallback/ListTopicSubscriptions",
                HeaderMap::new(),
                &[],
            )
            .await;
        match call {
            Ok(bytes) => {
                reply = Some(bytes);
                break;
            }
            Err(e) if e.code() == GrpcCode::Unimplemented => return Vec::new(),
            Err(e @ AppCallError::Status { .. }) => {
                tracing::error!(error = %e, "ListTopicSubscriptions failed; no programmatic subscriptions");
                return Vec::new();
            }
            Err(e) if attempt < 3 => {
                tracing::debug!(error = %e, "ListTopicSubscriptions failed; retrying");
                monoio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => tracing::error!(error = %e, "ListTopicSubscriptions failed"),
        }
    }
    let Some(bytes) = reply else {
        return Vec::new();
    };
    let list = match pb::ListTopicSubscriptionsResponse::decode(&bytes[..]) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "ListTopicSubscriptions returned an invalid message");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for s in list.subscriptions {
        if s.pubsub_name.is_empty() || s.topic.is_empty() {
            tracing::warn!(
                "programmatic subscription ignored: it needs both pubsub name and topic"
            );
            continue;
        }
        let routes = s.routes.unwrap_or_default();
        let mut rules = Vec::new();
        let mut bad = None;
        for r in routes.rules {
            if r.r#match.is_empty() {
                rules.push(Rule {
                    matcher: None,
                    path: r.path,
                });
                continue;
            }
            match Matcher::compile(&r.r#match) {
                Ok(m) => rules.push(Rule {
                    matcher: Some(m),
                    path: r.path,
                }),
                Err(e) => bad = Some(e),
            }
        }
        if let Some(e) = bad {
            tracing::warn!(topic = %s.topic, "programmatic subscription ignored: invalid match expression: {e}");
            continue;
        }
        rules.push(Rule {
            matcher: None,
            path: routes.default,
        });
        out.push(Subscription {
            pubsub: s.pubsub_name,
            topic: s.topic,
            rules,
            dead_letter_topic: Some(s.dead_letter_topic).filter(|t| !t.is_empty()),
            metadata: s.metadata,
            kind: Kind::Programmatic,
        });
    }
    out
}

/// Declarative first, then programmatic; a pubsub/topic pair seen twice keeps the first.
pub fn merge(declarative: Vec<Subscription>, programmatic: Vec<Subscription>) -> Vec<Subscription> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for s in declarative.into_iter().chain(programmatic) {
        if seen.insert((s.pubsub.clone(), s.topic.clone())) {
            out.push(s);
        } else {
            tracing::warn!(pubsub = %s.pubsub, topic = %s.topic, kind = s.kind.as_str(), "topic already subscribed; duplicate subscription ignored");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programmatic_forms() {
        let body = br#"[
            {"pubsubname":"ps","topic":"a","route":"orders"},
            {"pubsubName":"ps","topic":"b","routes":{"rules":[{"match":"event.type == \"x\"","path":"/x"}],"default":"/d"},
             "deadLetterTopic":"dead","metadata":{"rawPayload":"true"}},
            {"pubsubname":"ps","topic":"c"},
            {"pubsubname":"ps","topic":"bad","routes":{"rules":[{"match":"((","path":"/x"}]}}
        ]"#;
        let subs = programmatic(body).unwrap();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].rules[0].path, "/orders");
        assert_eq!(subs[1].rules.len(), 2);
        assert_eq!(subs[1].rules[1].path, "/d");
        assert_eq!(subs[1].dead_letter_topic.as_deref(), Some("dead"));
        assert!(subs[1].raw_payload());
        assert!(programmatic(b"{}").is_err());
    }

    #[test]
    fn merge_keeps_first() {
        let v = |t: &str, k| {
            parse_one(
                &serde_json::json!({"pubsubname":"p","topic":t,"route":"/r"}),
                k,
            )
            .unwrap()
        };
        let m = merge(
            vec![v("a", Kind::Declarative)],
            vec![v("a", Kind::Programmatic), v("b", Kind::Programmatic)],
        );
        assert_eq!(
            m.iter()
                .map(|s| (s.topic.as_str(), s.kind))
                .collect::<Vec<_>>(),
            [("a", Kind::Declarative), ("b", Kind::Programmatic)]
        );
    }
}
