//! The gRPC dispatcher: `dapr.proto.runtime.v1.Dapr` methods → the building
//! blocks' gRPC adapters (`api/<block>/grpc.rs`).
//!
//! The endpoint table ([`routes`](super::routes)) maps every method of the
//! `Dapr` service to its operation and says which are streaming.
//! [`precheck`] refuses unknown methods, methods the Configuration's API
//! lists exclude and calls without the API token; [`call`] then dispatches
//! a unary call by operation, as [`dispatch`](super) does for HTTP; a method
//! whose building block is not built yet answers `UNIMPLEMENTED` naming the
//! method.

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
use super::routes::{self, Op};
use super::{
    actors, bindings, configuration, invoke, lock, metadata, pubsub, secrets, shutdown, state, Ctx,
    API_TOKEN_HEADER,
};
use crate::grpc::reflection;
use crate::grpc::server::{self, Call, Reply, Status};
use crate::grpc::status::GrpcCode;
use crate::grpc::stream::{Incoming, Outgoing};
use crate::http::h2::StreamHandler;
use crate::net::shutdown::Drain;
use crate::proto::google::rpc;

pub use crate::grpc::stream::decode;
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

/// A streaming call: server reflection, or a `Dapr` method the endpoint
/// table marks streaming; every other path is a unary call of the `Dapr`
/// service (or unknown, which `precheck` answers).
pub enum Streaming {
    /// `grpc.reflection.{v1,v1alpha}.ServerReflection/ServerReflectionInfo`.
    Reflection,
    /// A streaming `Dapr` method (`SubscribeTopicEventsAlpha1`,
    /// `SubscribeConfiguration`, …), by operation and method name.
    Dapr(Op, &'static str),
}

impl server::Handler for GrpcApi {
    type Streaming = Streaming;

    fn streaming_method(&self, path: &str) -> Option<Result<Streaming, Status>> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        if service == DAPR_SERVICE {
            let (op, method) = routes::grpc_op(method)?;
            return op
                .grpc_streaming()
                .then_some(Ok(Streaming::Dapr(op, method)));
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

    type Unary = (Op, &'static str);

    fn precheck(&self, path: &str, metadata: &HeaderMap) -> Result<(Op, &'static str), Status> {
        precheck(&self.ctx, path, metadata)
    }

    async fn unary(&self, (op, method): (Op, &'static str), c: Call) -> Reply {
        call(&self.ctx, op, method, c).await
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
            Streaming::Dapr(Op::SubscribeTopicEvents, _) => {
                pubsub::subscriptions::streaming::serve(&self.ctx, incoming, outgoing).await
            }
            Streaming::Dapr(Op::SubscribeActorEvents, _) => {
                actors::stream::serve(&self.ctx, incoming, outgoing).await
            }
            Streaming::Dapr(Op::SubscribeConfiguration, method) => {
                configuration::grpc::subscribe(&self.ctx, method, metadata, incoming, outgoing)
                    .await
            }
            Streaming::Dapr(_, method) => Err(not_implemented(method)),
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

/// Checks, before the request body is read, that the method exists and the
/// API token (if required) is present: unknown service or method →
/// `UNIMPLEMENTED` (grpc-go's messages), bad token → `UNAUTHENTICATED`.
pub fn precheck(ctx: &Ctx, path: &str, metadata: &HeaderMap) -> Result<(Op, &'static str), Status> {
    let (service, method) = split_path(path)?;
    if service != DAPR_SERVICE {
        return Err(Status::new(
            GrpcCode::Unimplemented,
            format!("unknown service {service}"),
        ));
    }
    let Some((op, method)) = routes::grpc_op(method) else {
        return Err(Status::new(
            GrpcCode::Unimplemented,
            format!("unknown method {method} for service {service}"),
        ));
    };
    if !routes::grpc_allowed(&ctx.shared.api_rules, op, method) {
        // Go: ErrorFromHTTPResponseCode(501, …) → UNIMPLEMENTED.
        return Err(Status::new(
            GrpcCode::Unimplemented,
            "requested endpoint is not available",
        ));
    }
    check_token(ctx, metadata)?;
    Ok((op, method))
}

/// Runs one unary call of `method` (operation `op`) that passed
/// [`precheck`]: the operation's adapter.
pub async fn call(ctx: &Rc<Ctx>, op: Op, method: &str, call: Call) -> Reply {
    let message = &call.message;
    match op {
        Op::GetMetadata => metadata::grpc::get_metadata(ctx),
        Op::SetMetadata => metadata::grpc::set_metadata(ctx, message),
        Op::Shutdown => shutdown::grpc::shutdown(ctx),
        Op::GetState => state::grpc::get_state(ctx, message).await,
        Op::SaveState => state::grpc::save_state(ctx, message).await,
        Op::DeleteState => state::grpc::delete_state(ctx, message).await,
        Op::DeleteBulkState => state::grpc::delete_bulk_state(ctx, message).await,
        Op::GetBulkState => state::grpc::get_bulk_state(ctx, message).await,
        Op::ExecuteStateTransaction => state::grpc::execute_state_transaction(ctx, &call).await,
        Op::QueryState => state::grpc::query_state(ctx, message),
        Op::InvokeService => {
            let req = decode(message)?;
            // By far the largest adapter future (~6 KiB; the next is ~1 KiB).
            // Held inline it would size every call's stream task, which is
            // copied when spawned; boxed, only invocations pay (one allocation).
            Box::pin(invoke::grpc::invoke_service(
                ctx,
                req,
                call.metadata,
                &call.reply_metadata,
            ))
            .await
        }
        Op::PublishEvent => pubsub::grpc::publish_event(ctx, &call).await,
        Op::BulkPublishEvent => pubsub::grpc::bulk_publish_event(ctx, &call).await,
        Op::InvokeBinding => bindings::grpc::invoke_binding(ctx, call).await,
        Op::GetSecret => secrets::grpc::get_secret(ctx, message).await,
        Op::GetBulkSecret => secrets::grpc::get_bulk_secret(ctx, message).await,
        Op::TryLock => lock::grpc::try_lock(ctx, message).await,
        Op::Unlock => lock::grpc::unlock(ctx, message).await,
        Op::GetConfiguration => configuration::grpc::get(ctx, message).await,
        Op::UnsubscribeConfiguration => configuration::grpc::unsubscribe(ctx, message),
        Op::InvokeActor => Box::pin(actors::grpc::invoke_actor(ctx, message)).await,
        Op::GetActorState => actors::grpc::get_actor_state(ctx, message).await,
        Op::ExecuteActorStateTransaction => {
            actors::grpc::execute_actor_state_transaction(ctx, message).await
        }
        Op::RegisterActorTimer => actors::grpc::register_actor_timer(ctx, message),
        Op::UnregisterActorTimer => actors::grpc::unregister_actor_timer(ctx, message),
        Op::RegisterActorReminder
        | Op::GetActorReminder
        | Op::UnregisterActorReminder
        | Op::UnregisterActorRemindersByType
        | Op::ListActorReminders => actors::grpc::reminder(ctx, method, message),
        _ => Err(not_implemented(method)),
    }
}

/// A `Dapr` method whose building block is not built yet.
fn not_implemented(method: &str) -> Status {
    Status::new(
        GrpcCode::Unimplemented,
        format!("{method} is not implemented by this daprd yet"),
    )
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

/// A response message's bytes.
pub fn encode<M: Message>(m: &M) -> Bytes {
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
