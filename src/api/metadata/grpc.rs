//! gRPC adapter for the metadata API (Go: `pkg/api/grpc/metadata.go`):
//! `GetMetadata` renders the [`snapshot`](super::snapshot) as
//! `GetMetadataResponse`; `SetMetadata` sets one attribute.

use bytes::Bytes;

use crate::api::grpc::{decode, encode};
use crate::api::pubsub::subscriptions::Kind;
use crate::api::Ctx;
use crate::grpc::server::Reply;
use crate::proto::dapr::proto::runtime::v1 as pb;

/// `GetMetadata`.
pub fn get_metadata(ctx: &Ctx) -> Reply {
    Ok(encode(&response(&super::snapshot(ctx))))
}

/// `SetMetadata`.
pub fn set_metadata(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::SetMetadataRequest = decode(message)?;
    super::set_attribute(ctx, &req.key, req.value);
    Ok(Bytes::new())
}

/// The snapshot as `GetMetadataResponse`.
fn response(s: &super::Snapshot) -> pb::GetMetadataResponse {
    let active: Vec<pb::ActiveActorsCount> = s
        .active_actors
        .iter()
        .map(|(t, n)| pb::ActiveActorsCount {
            r#type: t.clone(),
            count: *n,
        })
        .collect();
    #[allow(deprecated)]
    pb::GetMetadataResponse {
        id: s.id.clone(),
        runtime_version: s.runtime_version.to_string(),
        enabled_features: s.enabled_features.clone(),
        registered_components: s
            .components
            .iter()
            .map(|c| pb::RegisteredComponents {
                name: c.name.clone(),
                r#type: c.kind.clone(),
                version: c.version.clone(),
                capabilities: c.capabilities.clone(),
            })
            .collect(),
        extended_metadata: s
            .extended
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        subscriptions: s
            .subscriptions
            .iter()
            .map(|x| pb::PubsubSubscription {
                pubsub_name: x.pubsub.clone(),
                topic: x.topic.clone(),
                metadata: x
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                rules: Some(pb::PubsubSubscriptionRules {
                    rules: x
                        .rules
                        .iter()
                        .map(|(expr, path)| pb::PubsubSubscriptionRule {
                            r#match: expr.clone(),
                            path: path.clone(),
                        })
                        .collect(),
                }),
                dead_letter_topic: x.dead_letter_topic.clone(),
                r#type: match x.kind {
                    Kind::Declarative => pb::PubsubSubscriptionType::Declarative,
                    Kind::Programmatic => pb::PubsubSubscriptionType::Programmatic,
                    Kind::Streaming => pb::PubsubSubscriptionType::Streaming,
                } as i32,
            })
            .collect(),
        http_endpoints: s
            .http_endpoints
            .iter()
            .map(|n| pb::MetadataHttpEndpoint { name: n.clone() })
            .collect(),
        app_connection_properties: Some(pb::AppConnectionProperties {
            port: s.app.port,
            protocol: s.app.protocol.to_string(),
            channel_address: s.app.channel_address.clone(),
            max_concurrency: s.app.max_concurrency,
            health: s
                .app
                .health
                .as_ref()
                .map(|h| pb::AppConnectionHealthProperties {
                    health_check_path: h.path.clone(),
                    health_probe_interval: h.interval.clone(),
                    health_probe_timeout: h.timeout.clone(),
                    health_threshold: h.threshold,
                }),
        }),
        active_actors_count: active.clone(),
        actor_runtime: Some(pb::ActorRuntime {
            runtime_status: match s.actor_runtime_status {
                "RUNNING" => pb::actor_runtime::ActorRuntimeStatus::Running,
                "INITIALIZING" => pb::actor_runtime::ActorRuntimeStatus::Initializing,
                _ => pb::actor_runtime::ActorRuntimeStatus::Disabled,
            } as i32,
            active_actors: active,
            host_ready: s.actor_host_ready,
            placement: s.actor_placement.to_owned(),
        }),
        ..Default::default()
    }
}
