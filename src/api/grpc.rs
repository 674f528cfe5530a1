//! gRPC adapter: `dapr.proto.runtime.v1.Dapr` methods → building-block logic.
//!
//! [`GRPC_METHODS`] lists every method of the `Dapr` service with its
//! operation id (the same ids the HTTP route table uses). [`call`] checks
//! the API token, decodes the request message, runs the shared logic and
//! encodes the response; a method whose building block is not built yet
//! answers `UNIMPLEMENTED` naming the method.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::HeaderMap;
use prost::Message;

use super::error::ApiError;
use super::invoke::proxy;
use super::routes::{Op, ROUTES};
use super::{metadata, pubsub, state, Ctx, API_TOKEN_HEADER};
use crate::components::state::Concurrency;
use crate::grpc::reflection;
use crate::grpc::server::{self, Call, Reply, Status};
use crate::grpc::status::GrpcCode;
use crate::grpc::stream::{Incoming, Outgoing};
use crate::http::h2::StreamHandler;
use crate::net::shutdown::Drain;
use crate::proto::dapr::proto::common::v1 as common;
use crate::proto::dapr::proto::runtime::v1 as pb;
use crate::proto::google::rpc;

pub use crate::proto::DAPR_SERVICE;

/// The gRPC API on one worker: the `Dapr` service, server reflection, and
/// transparent proxying of other services to apps (the h2 loop's handler).
pub struct GrpcApi {
    ctx: Rc<Ctx>,
    max_message: usize,
}

impl GrpcApi {
    /// The gRPC API on this worker; messages up to `max_message` bytes.
    pub fn new(ctx: Rc<Ctx>, max_message: usize) -> Self {
        Self { ctx, max_message }
    }
}

impl StreamHandler for GrpcApi {
    async fn handle(&self, req: http::Request<RecvStream>, respond: SendResponse<Bytes>) {
        let started = Instant::now();
        let path = req.uri().path().to_owned();
        if proxy::wanted(&path, req.headers()) {
            // Go's stream interceptor meters a proxied call only when it carries `dapr-app-id`.
            let metered = req.headers().contains_key(super::APP_ID_HEADER);
            let code = proxy::proxy(&self.ctx, req, respond).await;
            let latency = started.elapsed();
            if metered {
                self.ctx
                    .metrics
                    .record_grpc_proxied(&path, code.go_name(), latency);
            }
            self.ctx.metrics.record_served(latency);
            return;
        }
        let Some(outcome) = server::serve(self, req, respond, self.max_message).await else {
            return;
        };
        let code = outcome.code;
        self.ctx.metrics.record_grpc(
            &path,
            code.go_name(),
            started.elapsed(),
            outcome.received,
            outcome.sent,
        );
        if self.ctx.shared.api_logging {
            tracing::info!(target: "daprd::api_log", method = %path, code = code.name(), "gRPC API Called");
        }
    }
}

/// The streaming methods served; every other path is a unary call of the
/// `Dapr` service (or unknown, which `precheck` answers).
pub enum Streaming {
    /// `grpc.reflection.{v1,v1alpha}.ServerReflection/ServerReflectionInfo`.
    Reflection,
    /// `dapr.proto.runtime.v1.Dapr/SubscribeTopicEventsAlpha1`.
    SubscribeTopicEvents,
    /// `dapr.proto.runtime.v1.Dapr/SubscribeConfiguration` and its `Alpha1`
    /// twin (server streaming), by method name.
    SubscribeConfiguration(&'static str),
}

impl server::Handler for GrpcApi {
    type Streaming = Streaming;

    fn streaming_method(&self, path: &str) -> Option<Result<Streaming, Status>> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        if service == DAPR_SERVICE && method == "SubscribeTopicEventsAlpha1" {
            return Some(Ok(Streaming::SubscribeTopicEvents));
        }
        if service == DAPR_SERVICE {
            for name in ["SubscribeConfiguration", "SubscribeConfigurationAlpha1"] {
                if method == name {
                    return Some(Ok(Streaming::SubscribeConfiguration(name)));
                }
            }
        }
        if !reflection::SERVICES.contains(&service) {
            return None;
        }
        Some(if method == reflection::METHOD {
            Ok(Streaming::Reflection)
        } else {
            Err(Status::new(
                GrpcCode::Unimplemented,
                format!("unknown method {method} for service {service}"),
            ))
        })
    }

    fn precheck(&self, path: &str, metadata: &HeaderMap) -> Result<(), Status> {
        precheck(&self.ctx, path, metadata)
    }

    async fn unary(&self, c: Call) -> Reply {
        call(&self.ctx, c).await
    }

    async fn streaming(
        &self,
        method: Streaming,
        metadata: &HeaderMap,
        incoming: &mut Incoming,
        outgoing: &mut Outgoing,
    ) -> Result<(), Status> {
        check_token(&self.ctx, metadata)?;
        match method {
            Streaming::Reflection => reflection::serve(incoming, outgoing).await,
            Streaming::SubscribeTopicEvents => {
                crate::api::pubsub::subscriptions::streaming::serve(&self.ctx, incoming, outgoing)
                    .await
            }
            Streaming::SubscribeConfiguration(method) => {
                super::configuration::grpc::subscribe(
                    &self.ctx, method, metadata, incoming, outgoing,
                )
                .await
            }
        }
    }

    fn drain(&self) -> &Drain {
        &self.ctx.drain
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Self {
        Self {
            code: e.grpc_code(),
            details: status_details(&e),
            message: e.message().to_owned(),
        }
    }
}

/// Every method of `dapr.proto.runtime.v1.Dapr` (Dapr 1.18) and its operation.
/// `None` marks methods of blocks we have no operation id for yet.
pub static GRPC_METHODS: &[(&str, Option<Op>)] = &[
    ("InvokeService", Some(Op::InvokeService)),
    ("GetState", Some(Op::GetState)),
    ("GetBulkState", Some(Op::GetBulkState)),
    ("SaveState", Some(Op::SaveState)),
    ("QueryStateAlpha1", Some(Op::QueryState)),
    ("DeleteState", Some(Op::DeleteState)),
    ("DeleteBulkState", Some(Op::DeleteState)),
    ("ExecuteStateTransaction", Some(Op::ExecuteStateTransaction)),
    ("PublishEvent", Some(Op::PublishEvent)),
    ("BulkPublishEventAlpha1", Some(Op::BulkPublishEvent)),
    ("BulkPublishEvent", Some(Op::BulkPublishEvent)),
    ("SubscribeTopicEventsAlpha1", None),
    ("InvokeBinding", Some(Op::InvokeBinding)),
    ("GetSecret", Some(Op::GetSecret)),
    ("GetBulkSecret", Some(Op::GetBulkSecret)),
    ("RegisterActorTimer", Some(Op::RegisterActorTimer)),
    ("UnregisterActorTimer", Some(Op::UnregisterActorTimer)),
    ("RegisterActorReminder", Some(Op::RegisterActorReminder)),
    ("UnregisterActorReminder", Some(Op::UnregisterActorReminder)),
    ("UnregisterActorRemindersByType", None),
    ("ListActorReminders", None),
    ("GetActorState", Some(Op::GetActorState)),
    ("GetActorReminder", Some(Op::GetActorReminder)),
    (
        "ExecuteActorStateTransaction",
        Some(Op::ExecuteActorStateTransaction),
    ),
    ("InvokeActor", Some(Op::InvokeActor)),
    ("SubscribeActorEventsAlpha1", None),
    ("GetConfigurationAlpha1", Some(Op::GetConfiguration)),
    ("GetConfiguration", Some(Op::GetConfiguration)),
    (
        "SubscribeConfigurationAlpha1",
        Some(Op::SubscribeConfiguration),
    ),
    ("SubscribeConfiguration", Some(Op::SubscribeConfiguration)),
    (
        "UnsubscribeConfigurationAlpha1",
        Some(Op::UnsubscribeConfiguration),
    ),
    (
        "UnsubscribeConfiguration",
        Some(Op::UnsubscribeConfiguration),
    ),
    ("TryLockAlpha1", Some(Op::TryLock)),
    ("UnlockAlpha1", Some(Op::Unlock)),
    ("EncryptAlpha1", Some(Op::Encrypt)),
    ("DecryptAlpha1", Some(Op::Decrypt)),
    ("GetMetadata", Some(Op::GetMetadata)),
    ("SetMetadata", Some(Op::SetMetadata)),
    ("SubtleGetKeyAlpha1", Some(Op::SubtleCrypto)),
    ("SubtleEncryptAlpha1", Some(Op::SubtleCrypto)),
    ("SubtleDecryptAlpha1", Some(Op::SubtleCrypto)),
    ("SubtleWrapKeyAlpha1", Some(Op::SubtleCrypto)),
    ("SubtleUnwrapKeyAlpha1", Some(Op::SubtleCrypto)),
    ("SubtleSignAlpha1", Some(Op::SubtleCrypto)),
    ("SubtleVerifyAlpha1", Some(Op::SubtleCrypto)),
    ("StartWorkflowAlpha1", Some(Op::StartWorkflow)),
    ("GetWorkflowAlpha1", Some(Op::GetWorkflow)),
    ("PurgeWorkflowAlpha1", Some(Op::PurgeWorkflow)),
    ("TerminateWorkflowAlpha1", Some(Op::TerminateWorkflow)),
    ("PauseWorkflowAlpha1", Some(Op::PauseWorkflow)),
    ("ResumeWorkflowAlpha1", Some(Op::ResumeWorkflow)),
    ("RaiseEventWorkflowAlpha1", Some(Op::RaiseEventWorkflow)),
    ("StartWorkflowBeta1", Some(Op::StartWorkflow)),
    ("GetWorkflowBeta1", Some(Op::GetWorkflow)),
    ("PurgeWorkflowBeta1", Some(Op::PurgeWorkflow)),
    ("TerminateWorkflowBeta1", Some(Op::TerminateWorkflow)),
    ("PauseWorkflowBeta1", Some(Op::PauseWorkflow)),
    ("ResumeWorkflowBeta1", Some(Op::ResumeWorkflow)),
    ("RaiseEventWorkflowBeta1", Some(Op::RaiseEventWorkflow)),
    ("Shutdown", Some(Op::Shutdown)),
    ("ScheduleJobAlpha1", Some(Op::ScheduleJob)),
    ("GetJobAlpha1", Some(Op::GetJob)),
    ("DeleteJobAlpha1", Some(Op::DeleteJob)),
    ("DeleteJobsByPrefixAlpha1", None),
    ("ListJobsAlpha1", None),
    ("ScheduleJob", Some(Op::ScheduleJob)),
    ("GetJob", Some(Op::GetJob)),
    ("DeleteJob", Some(Op::DeleteJob)),
    ("DeleteJobsByPrefix", None),
    ("ListJobs", None),
    ("ConverseAlpha1", Some(Op::Converse)),
    ("ConverseAlpha2", Some(Op::Converse)),
];

/// Checks, before the request body is read, that the method exists and the
/// API token (if required) is present: unknown service or method →
/// `UNIMPLEMENTED` (grpc-go's messages), bad token → `UNAUTHENTICATED`.
pub fn precheck(ctx: &Ctx, path: &str, metadata: &HeaderMap) -> Result<(), Status> {
    let (service, method) = split_path(path)?;
    if service != DAPR_SERVICE {
        return Err(Status::new(
            GrpcCode::Unimplemented,
            format!("unknown service {service}"),
        ));
    }
    let Some((_, op)) = GRPC_METHODS.iter().find(|(m, _)| *m == method) else {
        return Err(Status::new(
            GrpcCode::Unimplemented,
            format!("unknown method {method} for service {service}"),
        ));
    };
    let group = op
        .and_then(|op| ROUTES.iter().find(|r| r.op == op))
        .map(|r| r.group.name());
    if !ctx.shared.api_rules.grpc_allows(method, group) {
        // Go: ErrorFromHTTPResponseCode(501, …) → UNIMPLEMENTED.
        return Err(Status::new(
            GrpcCode::Unimplemented,
            "requested endpoint is not available",
        ));
    }
    check_token(ctx, metadata)
}

/// Runs one unary call that passed [`precheck`].
pub async fn call(ctx: &Rc<Ctx>, call: Call) -> Reply {
    let (_, method) = split_path(&call.path)?;
    match method {
        "GetMetadata" => {
            let snapshot = metadata::snapshot(ctx);
            Ok(encode(&metadata_response(&snapshot)))
        }
        "SetMetadata" => {
            let req: pb::SetMetadataRequest = decode(&call.message)?;
            metadata::set_attribute(ctx, &req.key, req.value);
            Ok(Bytes::new())
        }
        "Shutdown" => {
            super::shutdown::shutdown(ctx);
            Ok(Bytes::new())
        }
        "GetState" => {
            let req: pb::GetStateRequest = decode(&call.message)?;
            let item = state::get(ctx, &req.store_name, &req.key, req.metadata).await?;
            Ok(encode(&match item {
                Some(i) => pb::GetStateResponse {
                    data: i.data.to_vec(),
                    etag: i.etag.unwrap_or_default(),
                    metadata: i.metadata,
                },
                None => pb::GetStateResponse::default(),
            }))
        }
        "SaveState" => {
            let req: pb::SaveStateRequest = decode(&call.message)?;
            let mut items = Vec::with_capacity(req.states.len());
            for st in req.states {
                items.push(save_item(st)?);
            }
            state::save(ctx, &req.store_name, items).await?;
            Ok(Bytes::new())
        }
        "DeleteState" => {
            let req: pb::DeleteStateRequest = decode(&call.message)?;
            let concurrency = concurrency(req.options.as_ref());
            let etag = req.etag.map(|e| e.value).filter(|v| !v.is_empty());
            state::delete(
                ctx,
                &req.store_name,
                &req.key,
                etag,
                req.metadata,
                concurrency,
            )
            .await?;
            Ok(Bytes::new())
        }
        "DeleteBulkState" => {
            let req: pb::DeleteBulkStateRequest = decode(&call.message)?;
            for st in req.states {
                let concurrency = concurrency(st.options.as_ref());
                let etag = st.etag.map(|e| e.value).filter(|v| !v.is_empty());
                state::delete(
                    ctx,
                    &req.store_name,
                    &st.key,
                    etag,
                    st.metadata,
                    concurrency,
                )
                .await?;
            }
            Ok(Bytes::new())
        }
        "GetBulkState" => {
            let req: pb::GetBulkStateRequest = decode(&call.message)?;
            let items = state::bulk_get(ctx, &req.store_name, req.keys, req.metadata).await?;
            Ok(encode(&pb::GetBulkStateResponse {
                items: items
                    .into_iter()
                    .map(|b| {
                        let item = b.item.unwrap_or_default();
                        pb::BulkStateItem {
                            key: b.key,
                            data: item.data.to_vec(),
                            etag: item.etag.unwrap_or_default(),
                            error: b.error.unwrap_or_default(),
                            metadata: item.metadata,
                        }
                    })
                    .collect(),
            }))
        }
        "ExecuteStateTransaction" => {
            let req: pb::ExecuteStateTransactionRequest = decode(&call.message)?;
            let mut ops = Vec::with_capacity(req.operations.len());
            for op in req.operations {
                let item = save_item(op.request.unwrap_or_default())?;
                ops.push(match op.operation_type.as_str() {
                    "upsert" => state::TxOp::Upsert(item),
                    "delete" => state::TxOp::Delete {
                        key: item.key,
                        etag: item.etag,
                        metadata: item.metadata,
                        concurrency: item.concurrency,
                    },
                    other => {
                        return Err(Status::new(
                            GrpcCode::Unimplemented,
                            format!("operation type {other} not supported"),
                        ))
                    }
                });
            }
            state::transact(ctx, &req.store_name, ops, req.metadata).await?;
            Ok(Bytes::new())
        }
        "QueryStateAlpha1" => {
            let req: pb::QueryStateRequest = decode(&call.message)?;
            state::store(ctx, &req.store_name)?;
            Err(ApiError::new(
                super::error::ErrorCode::StateStoreNotSupported,
                format!("state store {} doesn't support query", req.store_name),
            )
            .with_status(500, GrpcCode::Internal)
            .with_reason("DAPR_STATE_QUERYING_NOT_SUPPORTED")
            .into())
        }
        "InvokeService" => {
            let req: pb::InvokeServiceRequest = decode(&call.message)?;
            super::invoke::grpc::invoke_service(ctx, req, call.metadata, &call.reply_metadata).await
        }
        "PublishEvent" => {
            let req: pb::PublishEventRequest = decode(&call.message)?;
            let (traceparent, tracestate) = crate::channel::trace::context(&call.metadata);
            pubsub::publish(
                ctx,
                pubsub::PublishInput {
                    pubsub: req.pubsub_name,
                    topic: req.topic,
                    data: Bytes::from(req.data),
                    content_type: req.data_content_type,
                    metadata: req.metadata,
                    traceparent,
                    tracestate,
                },
            )
            .await?;
            Ok(Bytes::new())
        }
        "BulkPublishEvent" | "BulkPublishEventAlpha1" => {
            let req: pb::BulkPublishRequest = decode(&call.message)?;
            let (traceparent, tracestate) = crate::channel::trace::context(&call.metadata);
            let entries = req
                .entries
                .into_iter()
                .map(|e| pubsub::BulkEntry {
                    entry_id: e.entry_id,
                    event: Bytes::from(e.event),
                    content_type: e.content_type,
                    metadata: e.metadata,
                })
                .collect();
            let result = pubsub::bulk_publish(
                ctx,
                &req.pubsub_name,
                &req.topic,
                entries,
                req.metadata,
                &traceparent,
                &tracestate,
            )
            .await;
            // Go answers a partial failure with OK and the failed entries.
            match result {
                Ok(()) => Ok(encode(&pb::BulkPublishResponse::default())),
                Err(f) if f.failed.is_empty() => Err(f.error.into()),
                Err(f) => Ok(encode(&pb::BulkPublishResponse {
                    failed_entries: f
                        .failed
                        .into_iter()
                        .map(|(entry_id, error)| pb::BulkPublishResponseFailedEntry {
                            entry_id,
                            error,
                        })
                        .collect(),
                })),
            }
        }
        "InvokeBinding" => super::bindings::grpc::invoke_binding(ctx, call).await,
        "GetSecret" => {
            let req: pb::GetSecretRequest = decode(&call.message)?;
            let data = super::secrets::get(ctx, &req.store_name, &req.key, req.metadata).await?;
            Ok(encode(&pb::GetSecretResponse { data }))
        }
        "GetBulkSecret" => {
            let req: pb::GetBulkSecretRequest = decode(&call.message)?;
            let all = super::secrets::bulk_get(ctx, &req.store_name, req.metadata).await?;
            Ok(encode(&pb::GetBulkSecretResponse {
                data: all
                    .into_iter()
                    .map(|(name, secrets)| (name, pb::SecretResponse { secrets }))
                    .collect(),
            }))
        }
        "TryLockAlpha1" => {
            let req: pb::TryLockRequest = decode(&call.message)?;
            let success = super::lock::try_lock(
                ctx,
                &req.store_name,
                &req.resource_id,
                &req.lock_owner,
                req.expiry_in_seconds,
            )
            .await?;
            Ok(encode(&pb::TryLockResponse { success }))
        }
        "UnlockAlpha1" => {
            let req: pb::UnlockRequest = decode(&call.message)?;
            let status =
                super::lock::unlock(ctx, &req.store_name, &req.resource_id, &req.lock_owner)
                    .await?;
            Ok(encode(&pb::UnlockResponse {
                status: status as i32,
            }))
        }
        "GetConfiguration" | "GetConfigurationAlpha1" => {
            super::configuration::grpc::get(ctx, &call.message).await
        }
        "UnsubscribeConfiguration" | "UnsubscribeConfigurationAlpha1" => {
            super::configuration::grpc::unsubscribe(ctx, &call.message)
        }
        other => Err(Status::new(
            GrpcCode::Unimplemented,
            format!("{other} is not implemented by this daprd yet"),
        )),
    }
}

/// A gRPC `StateItem` as a save: values are stored as the raw bytes sent.
fn save_item(st: common::StateItem) -> Result<state::SaveItem, Status> {
    if st.key.is_empty() {
        return Err(Status::new(
            GrpcCode::InvalidArgument,
            "state key cannot be empty",
        ));
    }
    Ok(state::SaveItem {
        concurrency: concurrency(st.options.as_ref()),
        key: st.key,
        value: Bytes::from(st.value),
        etag: st.etag.map(|e| e.value).filter(|v| !v.is_empty()),
        metadata: st.metadata,
    })
}

fn concurrency(o: Option<&common::StateOptions>) -> Concurrency {
    match o.map(|o| o.concurrency) {
        Some(c) if c == common::state_options::StateConcurrency::ConcurrencyFirstWrite as i32 => {
            Concurrency::FirstWrite
        }
        _ => Concurrency::LastWrite,
    }
}

fn split_path(path: &str) -> Result<(&str, &str), Status> {
    path.strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .ok_or_else(|| {
            Status::new(
                GrpcCode::Unimplemented,
                format!("malformed method name: {path:?}"),
            )
        })
}

/// `dapr-api-token` metadata, as Go: `Unauthenticated` with an ErrorInfo.
pub fn check_token(ctx: &Ctx, metadata: &HeaderMap) -> Result<(), Status> {
    let Some(token) = &ctx.shared.opts.api_token else {
        return Ok(());
    };
    let given = metadata.get(API_TOKEN_HEADER).map(|v| v.as_bytes());
    if given.is_some_and(|g| super::constant_time_eq(g, token.as_bytes())) {
        return Ok(());
    }
    let message = "authentication error: api token mismatch";
    let info = rpc::ErrorInfo {
        reason: "Unauthorized".into(),
        domain: "dapr.io".into(),
        metadata: HashMap::from([
            ("http.code".to_string(), "401".to_string()),
            ("http.error_message".to_string(), message.to_string()),
        ]),
    };
    Err(Status {
        code: GrpcCode::Unauthenticated,
        message: "Unauthorized".into(),
        details: Some(status_bytes(
            GrpcCode::Unauthenticated,
            "Unauthorized",
            Some(info),
        )),
    })
}

fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, Status> {
    M::decode(bytes).map_err(|e| {
        Status::new(
            GrpcCode::InvalidArgument,
            format!("grpc: error unmarshalling request: {e}"),
        )
    })
}

fn encode<M: Message>(m: &M) -> Bytes {
    Bytes::from(m.encode_to_vec())
}

/// `grpc-status-details-bin` for a rich error: a `google.rpc.Status` with
/// an `ErrorInfo` (domain `dapr.io`); legacy errors carry none, as in Go.
pub fn status_details(e: &ApiError) -> Option<Bytes> {
    let reason = e.reason()?;
    let info = rpc::ErrorInfo {
        reason: reason.to_string(),
        domain: "dapr.io".into(),
        metadata: HashMap::new(),
    };
    Some(status_bytes(e.grpc_code(), e.message(), Some(info)))
}

pub(crate) fn status_bytes(code: GrpcCode, message: &str, info: Option<rpc::ErrorInfo>) -> Bytes {
    let details = info
        .map(|i| prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
            value: i.encode_to_vec(),
        })
        .into_iter()
        .collect();
    encode(&rpc::Status {
        code: i32::from(code.as_u8()),
        message: message.to_string(),
        details,
    })
}

/// The snapshot as `GetMetadataResponse`.
pub fn metadata_response(s: &metadata::Snapshot) -> pb::GetMetadataResponse {
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
                    crate::api::pubsub::subscriptions::Kind::Declarative => {
                        pb::PubsubSubscriptionType::Declarative
                    }
                    crate::api::pubsub::subscriptions::Kind::Programmatic => {
                        pb::PubsubSubscriptionType::Programmatic
                    }
                    crate::api::pubsub::subscriptions::Kind::Streaming => {
                        pb::PubsubSubscriptionType::Streaming
                    }
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
        actor_runtime: Some(pb::ActorRuntime {
            runtime_status: pb::actor_runtime::ActorRuntimeStatus::Disabled as i32,
            active_actors: Vec::new(),
            host_ready: s.actor_host_ready,
            placement: String::new(),
        }),
        ..Default::default()
    }
}
