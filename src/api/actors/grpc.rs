//! gRPC adapter for the actor API (Go: `pkg/api/grpc/grpc.go`,
//! `pkg/api/universal/actors.go`): `InvokeActor`, `GetActorState`,
//! `ExecuteActorStateTransaction`, `RegisterActorTimer`,
//! `UnregisterActorTimer`, and the reminder methods (Go's errors for a
//! daprd without a scheduler).

use std::rc::Rc;

use bytes::Bytes;

use super::{reject_internal, BadCall, CallFailure};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::grpc::{decode, encode};
use crate::api::Ctx;
use crate::grpc::server::{Reply, Status};
use crate::grpc::status::GrpcCode;
use crate::proto::dapr::proto::internals::v1 as internals;
use crate::proto::dapr::proto::runtime::v1 as pb;

/// `InvokeActor`: an actor error's body is the answer, without an error (Go).
pub async fn invoke_actor(ctx: &Rc<Ctx>, message: &[u8]) -> Reply {
    let req: pb::InvokeActorRequest = decode(message)?;
    ctx.shared.actors.check_enabled()?;
    let metadata = req
        .metadata
        .into_iter()
        .map(|(k, v)| (k, internals::ListStringValue { values: vec![v] }))
        .collect();
    let call = super::method_call(
        req.actor_type,
        req.actor_id,
        &req.method,
        metadata,
        String::new(),
        None,
    )
    .map_err(|e| match e {
        BadCall::Name(why) => Status::new(GrpcCode::InvalidArgument, why),
        BadCall::Method(why) => Status::new(
            GrpcCode::InvalidArgument,
            format!("invalid actor method: {why}"),
        ),
    })?;
    match super::call(ctx, call, Bytes::from(req.data)).await {
        Ok(answer) => Ok(encode(&pb::InvokeActorResponse {
            data: answer.data.to_vec(),
        })),
        // Go: an actor error's body is the answer, without an error.
        Err(CallFailure::Actor(answer)) => Ok(encode(&pb::InvokeActorResponse {
            data: answer.data.to_vec(),
        })),
        Err(CallFailure::Api(e)) => Err(e.into()),
        Err(e) => Err(ApiError::new(
            ErrorCode::ActorInvokeMethod,
            format!("error invoke actor method: {}", e.text()),
        )
        .into()),
    }
}

/// `GetActorState`: a missing key is empty data.
pub async fn get_actor_state(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::GetActorStateRequest = decode(message)?;
    reject_internal(&req.actor_type)?;
    ctx.shared.actors.check_enabled()?;
    let item = super::state::get(ctx, &req.actor_type, &req.actor_id, &req.key).await?;
    let (data, metadata) = item.map_or_else(Default::default, |i| (i.data.to_vec(), i.metadata));
    Ok(encode(&pb::GetActorStateResponse { data, metadata }))
}

/// `ExecuteActorStateTransaction`: values are stored as the bytes sent.
pub async fn execute_actor_state_transaction(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::ExecuteActorStateTransactionRequest = decode(message)?;
    reject_internal(&req.actor_type)?;
    ctx.shared.actors.check_enabled()?;
    let mut ops = Vec::with_capacity(req.operations.len());
    for op in req.operations {
        ops.push(match op.operation_type.as_str() {
            "upsert" => super::state::Op::Upsert {
                key: op.key,
                value: op.value.map(|v| Bytes::from(v.value)).unwrap_or_default(),
                etag: None,
                metadata: op.metadata,
            },
            "delete" => super::state::Op::Delete {
                key: op.key,
                etag: None,
            },
            other => {
                return Err(ApiError::new(
                    ErrorCode::NotSupportedStateOperation,
                    format!("operation type {other} not supported"),
                )
                .with_status(500, GrpcCode::Unimplemented)
                .into())
            }
        });
    }
    super::state::transact(ctx, &req.actor_type, &req.actor_id, ops).await?;
    Ok(Bytes::new())
}

/// `RegisterActorTimer`: `data` is kept as Go does, JSON-encoded bytes (a
/// base64 string).
pub fn register_actor_timer(ctx: &Rc<Ctx>, message: &[u8]) -> Reply {
    let req: pb::RegisterActorTimerRequest = decode(message)?;
    reject_internal(&req.actor_type)?;
    super::names::validate_name(&req.name).map_err(|e| ApiError::new(ErrorCode::BadRequest, e))?;
    ctx.shared.actors.check_enabled()?;
    let data = if req.data.is_empty() {
        Bytes::new()
    } else {
        Bytes::from(serde_json::to_vec(&base64_json(&req.data)).unwrap_or_default())
    };
    super::timers::create(
        ctx,
        super::timers::NewTimer {
            actor_type: req.actor_type,
            actor_id: req.actor_id,
            name: req.name,
            due_time: req.due_time,
            period: req.period,
            ttl: req.ttl,
            callback: req.callback,
            data,
        },
    )
    .map_err(|e| {
        ApiError::new(
            ErrorCode::ActorTimerCreate,
            format!("error creating actor timer: {e}"),
        )
    })?;
    Ok(Bytes::new())
}

/// Go's `json.Marshal([]byte)`: the standard base64 text.
fn base64_json(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `UnregisterActorTimer`.
pub fn unregister_actor_timer(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::UnregisterActorTimerRequest = decode(message)?;
    reject_internal(&req.actor_type)?;
    ctx.shared.actors.check_enabled()?;
    ctx.shared
        .actors
        .timers
        .delete(&req.actor_type, &req.actor_id, &req.name);
    Ok(Bytes::new())
}

/// The reminder methods: validated, then Go's answer without a scheduler.
pub fn reminder(ctx: &Ctx, method: &str, message: &[u8]) -> Reply {
    let (actor_type, verb) = match method {
        "RegisterActorReminder" => {
            let r: pb::RegisterActorReminderRequest = decode(message)?;
            if r.name.is_empty() {
                return Err(
                    ApiError::new(ErrorCode::BadRequest, "reminder name cannot be empty").into(),
                );
            }
            super::names::validate_name(&r.name)
                .map_err(|e| ApiError::new(ErrorCode::BadRequest, e))?;
            (r.actor_type, http::Method::POST)
        }
        "GetActorReminder" => {
            let r: pb::GetActorReminderRequest = decode(message)?;
            (r.actor_type, http::Method::GET)
        }
        "UnregisterActorReminder" => {
            let r: pb::UnregisterActorReminderRequest = decode(message)?;
            (r.actor_type, http::Method::DELETE)
        }
        "UnregisterActorRemindersByType" => {
            let r: pb::UnregisterActorRemindersByTypeRequest = decode(message)?;
            (r.actor_type, http::Method::DELETE)
        }
        _ => {
            let r: pb::ListActorRemindersRequest = decode(message)?;
            (r.actor_type, http::Method::GET)
        }
    };
    reject_internal(&actor_type)?;
    ctx.shared.actors.check_enabled()?;
    Err(super::reminders_unavailable(&ctx.shared.actors, &actor_type, &verb).into())
}
