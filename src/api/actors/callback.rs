//! Calls into the app for its actors (Go:
//! `pkg/actors/targets/app/transport/http/http.go`): a method is always
//! `PUT /actors/{type}/{id}/method/{method}`; timers and reminders are
//! `PUT …/method/timer/{name}` and `…/method/remind/{name}` with a JSON
//! body; deactivation is `DELETE /actors/{type}/{id}`.
//!
//! The app's answer: 200 is success; 404 is a permanent "actor method not
//! found"; any other status is `error from actor service: (<code>) <body>`;
//! an `X-DaprErrorResponseHeader` header marks an actor error whose answer
//! the caller gets verbatim; `X-DaprReminderCancel: true` on a timer or
//! reminder answer stops it.
//!
//! A gRPC app (or one without an app channel) hosts its actors over
//! `SubscribeActorEventsAlpha1` instead: each callback here then goes over
//! that stream ([`super::stream`]).

use std::rc::Rc;

use bytes::Bytes;
use serde::Serialize;

use super::{Answer, CallFailure};
use crate::api::invoke::{internal, wire};
use crate::api::Ctx;
use crate::http::client::OutBody;
use crate::proto::dapr::proto::common::v1 as common;
use crate::proto::dapr::proto::internals::v1 as internals;

/// Go's `ErrorResponseHeader` as it travels in metadata.
pub const ERROR_HEADER: &str = "X-Daprerrorresponseheader";
/// Go's `ReminderCancelHeader`.
pub const CANCEL_HEADER: &str = "X-Daprremindercancel";

/// Whether the app flagged its answer as an actor error.
pub fn is_actor_error(head: &internals::InternalInvokeResponse) -> bool {
    wire::first(&head.headers, ERROR_HEADER).is_some()
}

fn status_of(head: &internals::InternalInvokeResponse) -> i32 {
    head.status.as_ref().map_or(0, |s| s.code)
}

/// Sends one request to the app and reads its whole answer.
async fn exchange(
    ctx: &Rc<Ctx>,
    req: internals::InternalInvokeRequest,
    data: Bytes,
) -> Result<Answer, CallFailure> {
    let reply = internal::call_app(ctx, req, OutBody::Full(data))
        .await
        .map_err(|s| CallFailure::Permanent(s.message))?;
    let head = reply
        .into_unary(ctx.shared.opts.max_body_size)
        .await
        .map_err(|s| CallFailure::Permanent(s.message))?;
    Ok(Answer::from_response(head))
}

/// Checks the app's answer as Go's transport does.
fn judge(answer: Answer, path: &str) -> Result<Answer, CallFailure> {
    match status_of(&answer.head) {
        404 => Err(CallFailure::Permanent(format!(
            "actor method not found: {path}"
        ))),
        200 => {
            if is_actor_error(&answer.head) {
                Err(CallFailure::Actor(Box::new(answer)))
            } else {
                Ok(answer)
            }
        }
        code => Err(CallFailure::Permanent(format!(
            "error from actor service: ({code}) {}",
            String::from_utf8_lossy(&answer.data)
        ))),
    }
}

/// `actors/{type}/{id}/method/{method}` with the method normalised.
fn method_path(actor_type: &str, actor_id: &str, method: &str) -> Result<String, CallFailure> {
    let clean = super::names::normalize_method(method)
        .map_err(|e| CallFailure::Permanent(format!("invalid method name: {e}")))?;
    Ok(format!("actors/{actor_type}/{actor_id}/method/{clean}"))
}

/// Calls an actor method on the app; `req.message.method` is the method.
pub async fn invoke_method(
    ctx: &Rc<Ctx>,
    actor_type: &str,
    actor_id: &str,
    mut req: internals::InternalInvokeRequest,
    data: Bytes,
) -> Result<Answer, CallFailure> {
    if super::stream::carries_callbacks(&ctx.shared.opts) {
        return super::stream::invoke_method(ctx, actor_type, actor_id, &req, data).await;
    }
    let Some(message) = req.message.as_mut() else {
        return Err(CallFailure::Permanent(
            "actor request has no message".into(),
        ));
    };
    let path = method_path(actor_type, actor_id, &message.method)?;
    message.method.clone_from(&path);
    message.data = None;
    let ext = message.http_extension.get_or_insert_with(Default::default);
    ext.verb = common::http_extension::Verb::Put as i32;
    let answer = exchange(ctx, req, data).await?;
    judge(answer, &path)
}

/// Go's `ReminderResponse` / `TimerResponse` body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FireBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    callback: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a serde_json::value::RawValue>,
    due_time: &'a str,
    period: &'a str,
}

/// The JSON a fire carries as `data` (Go's `api.ReminderResponse`): an
/// `Any(BytesValue)` inlined as the raw JSON it holds; absent when empty.
fn data_json(
    data: Option<&prost_types::Any>,
) -> Result<Option<Box<serde_json::value::RawValue>>, CallFailure> {
    let Some(any) = data else {
        return Ok(None);
    };
    let raw = if any.type_url.ends_with("google.protobuf.BytesValue") {
        // BytesValue{value=1}: the wrapped bytes.
        <prost::bytes::Bytes as prost::Message>::decode(&any.value[..])
            .map(|b| b.to_vec())
            .map_err(|e| CallFailure::Permanent(e.to_string()))?
    } else {
        any.value.clone()
    };
    if raw.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8(raw).map_err(|e| CallFailure::Permanent(e.to_string()))?;
    serde_json::value::RawValue::from_string(text)
        .map(Some)
        .map_err(|e| CallFailure::Permanent(format!("json: error calling MarshalJSON: {e}")))
}

/// Delivers a timer (`callback` set, possibly empty) or reminder fire; a
/// cancel answer is [`CallFailure::Permanent`] with Go's "reminder
/// canceled" text.
pub async fn invoke_timer(
    ctx: &Rc<Ctx>,
    fire: &internals::Reminder,
    callback: Option<&str>,
) -> Result<(), CallFailure> {
    if super::stream::carries_callbacks(&ctx.shared.opts) {
        return super::stream::invoke_timer(ctx, fire, callback).await;
    }
    let data = data_json(fire.data.as_ref())?;
    let kind = if fire.is_timer { "timer" } else { "remind" };
    let body = serde_json::to_vec(&FireBody {
        callback: fire.is_timer.then_some(callback.unwrap_or_default()),
        data: data.as_deref(),
        due_time: &fire.due_time,
        period: &fire.period,
    })
    .map_err(|e| CallFailure::Permanent(e.to_string()))?;
    let method = format!("{kind}/{}", fire.name);
    let path = method_path(&fire.actor_type, &fire.actor_id, &method)?;
    let req = internals::InternalInvokeRequest {
        ver: 0,
        metadata: Default::default(),
        message: Some(common::InvokeRequest {
            method: path.clone(),
            data: None,
            content_type: "application/json".into(),
            http_extension: Some(common::HttpExtension {
                verb: common::http_extension::Verb::Put as i32,
                querystring: String::new(),
            }),
        }),
        actor: Some(internals::Actor {
            actor_type: fire.actor_type.clone(),
            actor_id: fire.actor_id.clone(),
        }),
    };
    let answer = exchange(ctx, req, Bytes::from(body)).await?;
    let canceled = wire::first(&answer.head.headers, CANCEL_HEADER).is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "y" | "on"
        )
    });
    let answer = judge(answer, &path)?;
    drop(answer);
    if canceled {
        return Err(CallFailure::Permanent(REMINDER_CANCELED.into()));
    }
    Ok(())
}

/// Go's `ErrReminderCanceled` text.
pub const REMINDER_CANCELED: &str = "reminder canceled";

/// `DELETE /actors/{type}/{id}`: failures are logged (Go's
/// `ActorDeactivationFailed`).
pub async fn deactivate(ctx: &Rc<Ctx>, actor_type: &str, actor_id: &str) {
    if super::stream::carries_callbacks(&ctx.shared.opts) {
        return super::stream::deactivate(ctx, actor_type, actor_id).await;
    }
    let req = internals::InternalInvokeRequest {
        ver: 0,
        metadata: Default::default(),
        message: Some(common::InvokeRequest {
            method: format!("actors/{actor_type}/{actor_id}"),
            data: None,
            content_type: String::new(),
            http_extension: Some(common::HttpExtension {
                verb: common::http_extension::Verb::Delete as i32,
                querystring: String::new(),
            }),
        }),
        actor: Some(internals::Actor {
            actor_type: actor_type.to_owned(),
            actor_id: actor_id.to_owned(),
        }),
    };
    match exchange(ctx, req, Bytes::new()).await {
        Ok(a) if status_of(&a.head) == 200 => {
            ctx.metrics.record_actor_deactivated(actor_type);
            tracing::debug!(
                "Deactivated actor '{}'",
                super::actor_key(actor_type, actor_id)
            );
        }
        Ok(a) => {
            ctx.metrics.record_actor_deactivation_failed(
                actor_type,
                &format!("status_code_{}", status_of(&a.head)),
            );
            tracing::warn!(
                "Failed to deactivate actor {}: error from actor service: ({}) {}",
                super::actor_key(actor_type, actor_id),
                status_of(&a.head),
                String::from_utf8_lossy(&a.data)
            );
        }
        Err(e) => {
            ctx.metrics
                .record_actor_deactivation_failed(actor_type, "invoke");
            tracing::warn!(
                "Failed to deactivate actor {}: {}",
                super::actor_key(actor_type, actor_id),
                e.text()
            );
        }
    }
}
