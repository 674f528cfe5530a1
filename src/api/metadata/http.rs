//! HTTP adapter for the metadata API: Go daprd's exact JSON.
//!
//! Field order, names and omission follow Go's `metadataResponse` struct:
//! `omitempty` drops empty strings, slices and maps, but never a struct
//! value, so `appConnectionProperties`, `actorRuntime` and `workflows`
//! always appear.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

use super::{snapshot, Snapshot};
use crate::api::router::Match;
use crate::api::Ctx;
use crate::http::message::{Request, Response};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    runtime_version: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    enabled_features: &'a [String],
    #[serde(rename = "actors", skip_serializing_if = "<[_]>::is_empty")]
    active_actors: Vec<ActiveActors<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    components: Vec<Component<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extended: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    subscriptions: Vec<Subscription<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    http_endpoints: Vec<Named<'a>>,
    app_connection_properties: AppConnection<'a>,
    actor_runtime: ActorRuntime<'a>,
    workflows: Workflows,
}

#[derive(Serialize)]
struct Component<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    capabilities: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Subscription<'a> {
    pubsubname: &'a str,
    topic: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    rules: Vec<Rule<'a>>,
    dead_letter_topic: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Rule<'a> {
    #[serde(rename = "match", skip_serializing_if = "str::is_empty")]
    expr: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    path: &'a str,
}

#[derive(Serialize)]
struct Named<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppConnection<'a> {
    #[serde(skip_serializing_if = "is_zero")]
    port: i32,
    #[serde(skip_serializing_if = "str::is_empty")]
    protocol: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    channel_address: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    max_concurrency: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    health: Option<Health<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Health<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    health_check_path: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    health_probe_interval: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    health_probe_timeout: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    health_threshold: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActorRuntime<'a> {
    runtime_status: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    active_actors: Vec<ActiveActors<'a>>,
    host_ready: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    placement: &'a str,
}

/// `{"type","count"}` (protojson of `ActiveActorsCount`).
#[derive(Serialize, Clone)]
struct ActiveActors<'a> {
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    count: i32,
}

#[derive(Serialize)]
struct Workflows {}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// Renders a snapshot as Go's JSON, with `encoding/json`'s trailing newline.
pub fn render(s: &Snapshot) -> Bytes {
    let active: Vec<ActiveActors<'_>> = s
        .active_actors
        .iter()
        .map(|(t, n)| ActiveActors { kind: t, count: *n })
        .collect();
    let body = Body {
        id: &s.id,
        runtime_version: s.runtime_version,
        enabled_features: &s.enabled_features,
        components: s
            .components
            .iter()
            .map(|c| Component {
                name: &c.name,
                kind: &c.kind,
                version: &c.version,
                capabilities: &c.capabilities,
            })
            .collect(),
        extended: &s.extended,
        subscriptions: s
            .subscriptions
            .iter()
            .map(|x| Subscription {
                pubsubname: &x.pubsub,
                topic: &x.topic,
                metadata: &x.metadata,
                rules: x
                    .rules
                    .iter()
                    .map(|(expr, path)| Rule { expr, path })
                    .collect(),
                dead_letter_topic: &x.dead_letter_topic,
                kind: x.kind.as_str(),
            })
            .collect(),
        http_endpoints: s.http_endpoints.iter().map(|n| Named { name: n }).collect(),
        app_connection_properties: AppConnection {
            port: s.app.port,
            protocol: s.app.protocol,
            channel_address: &s.app.channel_address,
            max_concurrency: s.app.max_concurrency,
            health: s.app.health.as_ref().map(|h| Health {
                health_check_path: &h.path,
                health_probe_interval: &h.interval,
                health_probe_timeout: &h.timeout,
                health_threshold: h.threshold,
            }),
        },
        active_actors: active.clone(),
        actor_runtime: ActorRuntime {
            runtime_status: s.actor_runtime_status,
            active_actors: active,
            host_ready: s.actor_host_ready,
            placement: s.actor_placement,
        },
        workflows: Workflows {},
    };
    let mut out = serde_json::to_vec(&body).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// `GET /v1.0/metadata` → 200 JSON.
pub fn get_metadata(ctx: &Ctx) -> Response {
    Response::json(StatusCode::OK, render(&snapshot(ctx)))
}

/// `PUT /v1.0/metadata/{key}` with the raw value as body → 204.
pub fn set_metadata(ctx: &Ctx, m: &Match<'_>, req: Request) -> Response {
    let key = m.param("key").unwrap_or_default();
    let value = match String::from_utf8(req.body.to_vec()) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    super::set_attribute(ctx, &key, value);
    Response::no_content()
}
