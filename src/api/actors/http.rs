//! HTTP adapter for the actor API (Go: `pkg/api/http/actors.go`):
//!
//! - `GET|POST|PUT|DELETE /v1.0/actors/{type}/{id}/method/{m}` → the
//!   actor's answer (status, headers, body); an actor error flagged by the
//!   app goes back verbatim; other failures `ERR_ACTOR_INVOKE_METHOD` 500;
//! - `POST|PUT …/state` (a transaction) → 204; `GET …/state/{key}` → 200
//!   with the stored bytes, 204 when absent;
//! - `POST|PUT …/timers/{name}` → 204; `DELETE …/timers/{name}` → 204;
//! - `…/reminders/{name}`: validated, then Go's error for a daprd without a
//!   scheduler (reminders live in the scheduler service).

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;

use super::{reject_internal, CallFailure};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::invoke::wire;
use crate::api::router::Match;
use crate::api::Ctx;
use crate::http::message::{Request, Response, APPLICATION_JSON};
use crate::proto::dapr::proto::common::v1 as common;

fn bad_request(message: String) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message)
}

fn malformed(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedRequest,
        format!("failed deserializing HTTP body: {e}"),
    )
}

/// `{type}`, `{id}` from the path.
fn actor(m: &Match<'_>) -> (String, String) {
    (m.param_or_empty("actorType"), m.param_or_empty("actorId"))
}

/// `…/method/{m}`.
pub async fn invoke(ctx: &std::rc::Rc<Ctx>, m: &Match<'_>, req: &Request) -> Response {
    match invoke_inner(ctx, m, req).await {
        Ok(r) => r,
        Err(e) => e.into(),
    }
}

async fn invoke_inner(
    ctx: &std::rc::Rc<Ctx>,
    m: &Match<'_>,
    req: &Request,
) -> Result<Response, ApiError> {
    ctx.shared.actors.check_enabled()?;
    let (actor_type, actor_id) = actor(m);
    let call = super::method_call(
        actor_type,
        actor_id,
        &m.param_or_empty("method"),
        wire::headers_to_metadata(&req.headers, true),
        req.header_str("content-type")
            .unwrap_or_default()
            .to_owned(),
        Some(common::HttpExtension {
            verb: crate::api::invoke::grpc::method_verb(&req.method) as i32,
            querystring: req.query().to_owned(),
        }),
    )
    .map_err(|(super::BadCall::Name(why) | super::BadCall::Method(why))| bad_request(why))?;
    match super::call(ctx, call, req.body.clone()).await {
        Ok(answer) => Ok(answer_response(answer)),
        Err(CallFailure::Actor(answer)) => Ok(answer_response(*answer)),
        Err(CallFailure::Api(e)) => Err(e),
        Err(e) => Err(ApiError::new(
            ErrorCode::ActorInvokeMethod,
            format!("error invoke actor method: {}", e.text()),
        )),
    }
}

/// The actor's answer as the HTTP response: its headers, content type and
/// status (an HTTP app's status as is).
fn answer_response(answer: super::Answer) -> Response {
    let head = answer.head;
    let mut headers: Vec<_> = wire::metadata_to_headers(&head.headers)
        .into_iter()
        .filter_map(|(k, v)| Some((k?, v)))
        .filter(|(k, _)| k != http::header::CONTENT_TYPE && k != http::header::CONTENT_LENGTH)
        .collect();
    headers.shrink_to_fit();
    let content_type = head
        .message
        .as_ref()
        .map(|m| m.content_type.as_str())
        .unwrap_or_default();
    let status = head.status.as_ref().map_or(200, |s| s.code);
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    Response {
        status,
        content_type: HeaderValue::from_str(content_type).ok(),
        headers,
        body: answer.data,
        stream: None,
    }
}

/// One operation of `POST …/state`.
#[derive(Deserialize)]
struct TxItem {
    operation: String,
    request: Option<TxRequest>,
}

#[derive(Deserialize)]
struct TxRequest {
    #[serde(default)]
    key: String,
    value: Option<Box<serde_json::value::RawValue>>,
    etag: Option<String>,
    #[serde(default)]
    metadata: HashMap<String, String>,
}

/// `POST|PUT …/state`.
pub async fn transaction(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let run = async {
        let (actor_type, actor_id) = actor(m);
        reject_internal(&actor_type)?;
        ctx.shared.actors.check_enabled()?;
        let items: Vec<TxItem> = serde_json::from_slice(&req.body).map_err(|e| malformed(&e))?;
        let save_error = |why: &str| {
            ApiError::new(
                ErrorCode::ActorStateTransactionSave,
                format!("error saving actor transaction state: {why}"),
            )
        };
        let mut ops = Vec::with_capacity(items.len());
        for item in items {
            let Some(r) = item.request else {
                return Err(save_error("request data is empty"));
            };
            ops.push(match item.operation.as_str() {
                "upsert" => {
                    let raw = r.value.as_ref().map_or("null", |v| v.get());
                    let value = match crate::api::state::value::go_value(raw.as_bytes()) {
                        Ok(Some(canonical)) => Bytes::from(canonical),
                        Ok(None) => Bytes::copy_from_slice(raw.as_bytes()),
                        Err(e) => return Err(save_error(&e)),
                    };
                    super::state::Op::Upsert {
                        key: r.key,
                        value,
                        etag: r.etag,
                        metadata: r.metadata,
                    }
                }
                "delete" => super::state::Op::Delete {
                    key: r.key,
                    etag: r.etag,
                },
                "" => return Err(save_error("operation is empty")),
                other => return Err(save_error(&format!("operation type {other} not supported"))),
            });
        }
        super::state::transact(ctx, &actor_type, &actor_id, ops).await
    };
    match run.await {
        Ok(()) => Response::no_content(),
        Err(e) => e.into(),
    }
}

/// `GET …/state/{key}`.
pub async fn get_state(ctx: &Ctx, m: &Match<'_>) -> Response {
    let run = async {
        let (actor_type, actor_id) = actor(m);
        reject_internal(&actor_type)?;
        ctx.shared.actors.check_enabled()?;
        super::state::get(ctx, &actor_type, &actor_id, &m.param_or_empty("key")).await
    };
    match run.await {
        Ok(Some(item)) if !item.data.is_empty() => {
            let mut r = Response::json(StatusCode::OK, item.data);
            r.content_type = Some(APPLICATION_JSON);
            for (k, v) in item.metadata {
                if let (Ok(name), Ok(value)) = (
                    http::HeaderName::from_bytes(format!("metadata.{k}").as_bytes()),
                    HeaderValue::from_str(&v),
                ) {
                    r.headers.push((name, value));
                }
            }
            r
        }
        Ok(_) => Response::no_content(),
        Err(e) => e.into(),
    }
}

/// The body of `POST …/timers/{name}` (Go's `CreateTimerRequest`).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TimerBody {
    due_time: String,
    period: String,
    ttl: String,
    callback: String,
    data: Option<Box<serde_json::value::RawValue>>,
}

/// `POST|PUT …/timers/{name}`.
pub async fn create_timer(ctx: &std::rc::Rc<Ctx>, m: &Match<'_>, req: &Request) -> Response {
    let run = || {
        let (actor_type, actor_id) = actor(m);
        reject_internal(&actor_type)?;
        let body: TimerBody = serde_json::from_slice(&req.body).map_err(|e| malformed(&e))?;
        let name = m.param_or_empty("name");
        super::names::validate_name(&name).map_err(bad_request)?;
        ctx.shared.actors.check_enabled()?;
        let data = body
            .data
            .as_ref()
            .map(|d| Bytes::copy_from_slice(d.get().as_bytes()))
            .filter(|d| &d[..] != b"null")
            .unwrap_or_default();
        super::timers::create(
            ctx,
            super::timers::NewTimer {
                actor_type,
                actor_id,
                name,
                due_time: body.due_time,
                period: body.period,
                ttl: body.ttl,
                callback: body.callback,
                data,
            },
        )
        .map_err(|e| {
            ApiError::new(
                ErrorCode::ActorTimerCreate,
                format!("error creating actor timer: {e}"),
            )
        })
    };
    match run() {
        Ok(()) => Response::no_content(),
        Err(e) => e.into(),
    }
}

/// `DELETE …/timers/{name}`.
pub fn delete_timer(ctx: &Ctx, m: &Match<'_>) -> Response {
    let (actor_type, actor_id) = actor(m);
    if let Err(e) = reject_internal(&actor_type).and_then(|()| ctx.shared.actors.check_enabled()) {
        return e.into();
    }
    ctx.shared
        .actors
        .timers
        .delete(&actor_type, &actor_id, &m.param_or_empty("name"));
    Response::no_content()
}

/// `…/reminders/{name}` (any verb): validated, then the reminder store
/// (the scheduler service, not built yet) answers Go's error.
pub async fn reminder(ctx: &Ctx, m: &Match<'_>, req: &Request) -> Response {
    let run = || {
        let (actor_type, _) = actor(m);
        reject_internal(&actor_type)?;
        let creating = req.method == http::Method::POST || req.method == http::Method::PUT;
        if creating {
            serde_json::from_slice::<serde_json::Value>(&req.body).map_err(|e| malformed(&e))?;
            super::names::validate_name(&m.param_or_empty("name")).map_err(bad_request)?;
        }
        ctx.shared.actors.check_enabled()?;
        Err::<(), _>(super::reminders_unavailable(
            &ctx.shared.actors,
            &actor_type,
            &req.method,
        ))
    };
    match run() {
        Ok(()) => Response::no_content(),
        Err(e) => e.into(),
    }
}
