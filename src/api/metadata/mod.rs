//! The metadata API: what this sidecar is running, and user attributes.
//!
//! [`snapshot`] gathers everything once, protocol-neutrally; the HTTP adapter
//! renders Go daprd's `encoding/json` shape and the gRPC adapter the
//! `GetMetadataResponse` message. Attributes written with
//! `PUT /v1.0/metadata/{key}` live in a concurrent map shared by all workers,
//! so a value written through one core is read back through any other.

pub mod grpc;
pub mod http;

use std::collections::BTreeMap;

use super::Ctx;
use crate::config::AppProtocol;

/// The Dapr API level we implement, with our build as semver build metadata
/// (`1.18.3+rs.0.1.0`): version-checking clients see 1.18.3.
pub use crate::config::RUNTIME_VERSION;

/// A registered component as the metadata API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentInfo {
    /// `metadata.name`
    pub name: String,
    /// `spec.type`, e.g. `state.in-memory`
    pub kind: String,
    /// `spec.version`
    pub version: String,
    /// Capability names (`ETAG`, `TRANSACTIONAL`, …).
    pub capabilities: Vec<String>,
}

/// App health-check settings, when `--enable-app-health-check` is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppHealthInfo {
    /// Probe path (HTTP apps only; empty for gRPC).
    pub path: String,
    /// Probe interval as a Go duration string (`5s`).
    pub interval: String,
    /// Probe timeout as a Go duration string (`500ms`).
    pub timeout: String,
    /// Failures before the app counts as unhealthy.
    pub threshold: i32,
}

/// How the sidecar reaches the app.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppConnectionInfo {
    /// `--app-port`, 0 when none.
    pub port: i32,
    /// `--app-protocol`.
    pub protocol: &'static str,
    /// `--app-channel-address`.
    pub channel_address: String,
    /// `--app-max-concurrency`, 0 when unlimited.
    pub max_concurrency: i32,
    /// Health-check settings.
    pub health: Option<AppHealthInfo>,
}

/// A subscription as the metadata API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionInfo {
    /// Pub/sub component.
    pub pubsub: String,
    /// Topic.
    pub topic: String,
    /// Subscription metadata, sorted.
    pub metadata: BTreeMap<String, String>,
    /// `(match, path)` per rule, in order.
    pub rules: Vec<(String, String)>,
    /// Dead-letter topic (empty when none).
    pub dead_letter_topic: String,
    /// Its source.
    pub kind: crate::api::pubsub::subscriptions::Kind,
}

/// Everything `GET /v1.0/metadata` and gRPC `GetMetadata` report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The app id.
    pub id: String,
    /// [`RUNTIME_VERSION`].
    pub runtime_version: &'static str,
    /// Preview features switched on.
    pub enabled_features: Vec<String>,
    /// Loaded components.
    pub components: Vec<ComponentInfo>,
    /// Attributes, including `daprRuntimeVersion`; sorted by key.
    pub extended: BTreeMap<String, String>,
    /// Subscriptions.
    pub subscriptions: Vec<SubscriptionInfo>,
    /// HTTPEndpoint resource names.
    pub http_endpoints: Vec<String>,
    /// App connection properties.
    pub app: AppConnectionInfo,
    /// Actor runtime status name (`DISABLED`, `INITIALIZING`, `RUNNING`).
    pub actor_runtime_status: &'static str,
    /// Whether the actor host is ready.
    pub actor_host_ready: bool,
    /// `placement: connected` / `placement: disconnected` (empty while initializing).
    pub actor_placement: &'static str,
    /// Active actors per hosted type.
    pub active_actors: Vec<(String, i32)>,
}

/// Gathers the metadata snapshot.
pub fn snapshot(ctx: &Ctx) -> Snapshot {
    let opts = &ctx.shared.opts;
    let mut extended: BTreeMap<String, String> = ctx
        .shared
        .attributes
        .iter()
        .map(|e| (e.key().clone(), e.value().clone()))
        .collect();
    extended.insert("daprRuntimeVersion".into(), RUNTIME_VERSION.into());
    let health = opts.app_health.enabled.then(|| AppHealthInfo {
        path: match opts.app_protocol {
            AppProtocol::Http | AppProtocol::Https | AppProtocol::H2c => {
                opts.app_health.path.clone()
            }
            _ => String::new(),
        },
        interval: go_duration(opts.app_health.interval),
        timeout: go_duration(opts.app_health.timeout),
        threshold: i32::try_from(opts.app_health.threshold).unwrap_or(i32::MAX),
    });
    Snapshot {
        id: opts.app_id.clone(),
        runtime_version: RUNTIME_VERSION,
        enabled_features: Vec::new(),
        components: ctx
            .shared
            .factories
            .components
            .iter()
            .map(|r| ComponentInfo {
                name: r.name.clone(),
                kind: r.kind.clone(),
                version: r.version.clone(),
                capabilities: capabilities(ctx, &r.name),
            })
            .collect(),
        extended,
        subscriptions: ctx
            .shared
            .subscriptions
            .list()
            .iter()
            .map(|s| SubscriptionInfo {
                pubsub: s.pubsub.clone(),
                topic: s.topic.clone(),
                metadata: s
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                rules: s
                    .rules
                    .iter()
                    .map(|r| {
                        let expr = r.matcher.as_ref().map_or("", |m| m.source());
                        (expr.to_owned(), r.path.clone())
                    })
                    .collect(),
                dead_letter_topic: s.dead_letter_topic.clone().unwrap_or_default(),
                kind: s.kind,
            })
            .collect(),
        http_endpoints: ctx.shared.http_endpoints.names(),
        app: AppConnectionInfo {
            port: opts.app_port.map_or(0, i32::from),
            protocol: opts.app_protocol.as_str(),
            channel_address: opts.app_channel_address.clone(),
            max_concurrency: opts
                .app_max_concurrency
                .map_or(0, |c| i32::try_from(c).unwrap_or(i32::MAX)),
            health,
        },
        ..actor_runtime(ctx)
    }
}

/// Go's `actors.RuntimeStatus`.
fn actor_runtime(ctx: &Ctx) -> Snapshot {
    let actors = &ctx.shared.actors;
    let disabled = |mut s: Snapshot| {
        s.actor_runtime_status = "DISABLED";
        s.actor_placement = "placement: disconnected";
        s
    };
    let mut s = Snapshot::empty();
    if actors.placement_addresses().is_none() {
        return disabled(s);
    }
    if !actors.hosting_known() {
        s.actor_runtime_status = "INITIALIZING";
        return s;
    }
    let ready = actors.table.is_ready();
    s.actor_runtime_status = "RUNNING";
    s.actor_host_ready = ready;
    s.actor_placement = if ready {
        "placement: connected"
    } else {
        "placement: disconnected"
    };
    s.active_actors = actors
        .active_counts()
        .into_iter()
        .map(|(t, n)| (t, i32::try_from(n).unwrap_or(i32::MAX)))
        .collect();
    s
}

impl Snapshot {
    fn empty() -> Snapshot {
        Snapshot {
            id: String::new(),
            runtime_version: RUNTIME_VERSION,
            enabled_features: Vec::new(),
            components: Vec::new(),
            extended: BTreeMap::new(),
            subscriptions: Vec::new(),
            http_endpoints: Vec::new(),
            app: AppConnectionInfo::default(),
            actor_runtime_status: "DISABLED",
            actor_host_ready: false,
            actor_placement: "",
            active_actors: Vec::new(),
        }
    }
}

/// A component's capability names, whatever its block.
fn capabilities(ctx: &Ctx, name: &str) -> Vec<String> {
    let c = &ctx.components;
    if let Some(s) = c.state.get(name) {
        return s.store.features().names();
    }
    if let Some(p) = c.pubsub.get(name) {
        return p.broker.features().names();
    }
    if let Some(s) = c.secrets.get(name) {
        return s.features().names();
    }
    // Go: INPUT_BINDING, then OUTPUT_BINDING.
    let mut caps = Vec::new();
    if c.input_bindings.contains_key(name) {
        caps.push("INPUT_BINDING".to_owned());
    }
    if c.output_bindings.contains_key(name) {
        caps.push("OUTPUT_BINDING".to_owned());
    }
    caps
}

/// Stores a user attribute. An empty key is a no-op, as in Go.
pub fn set_attribute(ctx: &Ctx, key: &str, value: String) {
    if key.is_empty() {
        return;
    }
    ctx.shared.attributes.insert(key.to_owned(), value);
}

/// Go's `time.Duration.String()` (kept under this name for the runtime's log lines).
pub use crate::config::options::format_go_duration as go_duration;

#[cfg(test)]
mod tests {
    use super::go_duration;
    use std::time::Duration;

    #[test]
    fn go_duration_strings() {
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }
}
