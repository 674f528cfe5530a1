//! gRPC apps host actors over `SubscribeActorEventsAlpha1` (Dapr 1.18; Go:
//! `pkg/api/grpc/actorcallbacks.go`, `pkg/actors/callbackstream`,
//! `pkg/actors/targets/app/transport/grpc`).
//!
//! The app dials daprd's gRPC API and opens the bidi stream; its first
//! message registers the actor types it hosts, with the settings an HTTP
//! app gives in `GET /dapr/config` (read by the same rules,
//! [`AppConfig::hosting`]), and daprd answers `initial_response`. From then
//! on the actor runtime's callbacks — a method call, a timer or reminder
//! firing, a deactivation — go down the stream as requests numbered per
//! stream, and the app answers each with its number. Whenever the app
//! channel is gRPC (or there is none), this stream is the only way
//! callbacks reach the app, as in Go; an HTTP app keeps `/dapr/config` and
//! HTTP callbacks, and is refused the stream.
//!
//! The stream lives on the worker that accepted it while callbacks come
//! from any worker: the process-wide [`Hub`] (in [`super::Actors`]) holds
//! each registered stream as the sending end of a multi-thread channel. A
//! caller sends its request with a one-shot reply channel; the stream's
//! task numbers it, writes it, and hands the app's answer back by number.
//! The newest stream gets new callbacks (Go's rolling-restart rule). When a
//! stream ends (the app closed it, an error, daprd draining) its waiting
//! callers fail at once, its actor types are unregistered (Go's
//! `UnRegisterHosted`) and their local actors deactivated.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;

use super::hosting::{AppConfig, EntityConfig, Reentrancy};
use super::{Answer, CallFailure, Hosting};
use crate::api::invoke::wire;
use crate::api::Ctx;
use crate::config::options::AppProtocol;
use crate::config::Options;
use crate::grpc::server::Status;
use crate::grpc::status::GrpcCode;
use crate::grpc::stream::{Incoming, Outgoing};
use crate::proto::dapr::proto::common::v1 as common;
use crate::proto::dapr::proto::internals::v1 as internals;
use crate::proto::dapr::proto::runtime::v1 as pb;
use pb::subscribe_actor_events_request_alpha1::RequestType as FromApp;
use pb::subscribe_actor_events_response_alpha1::ResponseType as ToApp;

/// Go's `callbackstream.ErrNoConnection`.
pub const NO_CONNECTION: &str = "actor host is not connected";
/// Go's `callbackstream.ErrDisconnected`.
pub const DISCONNECTED: &str = "actor host disconnected before responding";
/// Waiting callers after which the stream forgets those that gave up.
const PRUNE_AT: usize = 1024;

/// Whether callbacks go over the stream: the app channel is gRPC, or there
/// is none (Go's `newInvoker`; an HTTP app gets HTTP callbacks).
pub fn carries_callbacks(opts: &Options) -> bool {
    opts.app_port.is_none() || opts.app_protocol == AppProtocol::Grpc
}

/// One callback on its way to a stream, and where the answer goes.
struct Outbound {
    /// The request (its id is set by the stream).
    msg: ToApp,
    reply: flume::Sender<FromApp>,
}

/// A registered stream.
struct Conn {
    id: u64,
    /// The actor types it registered.
    entities: Vec<String>,
    tx: flume::Sender<Outbound>,
}

/// The registered streams, newest last (process-wide).
#[derive(Default)]
pub struct Hub {
    conns: ArcSwap<Vec<Arc<Conn>>>,
    next: AtomicU64,
}

impl Hub {
    /// Whether an app is connected.
    pub fn is_connected(&self) -> bool {
        !self.conns.load().is_empty()
    }

    fn register(&self, entities: Vec<String>) -> (u64, flume::Receiver<Outbound>) {
        let (tx, rx) = flume::unbounded();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn { id, entities, tx });
        self.conns.rcu(|cs| {
            let mut v = Vec::clone(cs);
            v.push(conn.clone());
            v
        });
        (id, rx)
    }

    /// Forgets stream `id`; returns its types that no other stream claims.
    fn remove(&self, id: u64) -> Vec<String> {
        let mut removed = None;
        self.conns.rcu(|cs| {
            let mut v = Vec::clone(cs);
            if let Some(i) = v.iter().position(|c| c.id == id) {
                removed = Some(v.remove(i));
            }
            v
        });
        let Some(removed) = removed else {
            return Vec::new();
        };
        let live = self.conns.load();
        let claimed: HashSet<&str> = live
            .iter()
            .flat_map(|c| c.entities.iter().map(String::as_str))
            .collect();
        removed
            .entities
            .iter()
            .filter(|t| !claimed.contains(t.as_str()))
            .cloned()
            .collect()
    }

    /// Sends `msg` over the newest stream and waits for the app's answer
    /// (Go's `Manager.Send`); the error is Go's text.
    async fn send(&self, msg: ToApp) -> Result<FromApp, String> {
        let Some(tx) = self.conns.load().last().map(|c| c.tx.clone()) else {
            return Err(NO_CONNECTION.into());
        };
        let (reply, answer) = flume::bounded(1);
        let sent = tx.send(Outbound { msg, reply });
        // Not held while waiting: once the stream is gone and every sender
        // dropped, what it never took is dropped too, and so is our reply
        // sender, so the wait below ends.
        drop(tx);
        sent.map_err(|_| DISCONNECTED.to_owned())?;
        answer
            .recv_async()
            .await
            .map_err(|_| DISCONNECTED.to_owned())
    }
}

/// Go's `initialToAppConfig`: the registration as the `/dapr/config`
/// answer it stands for.
fn app_config(init: &pb::SubscribeActorEventsRequestInitialAlpha1) -> AppConfig {
    AppConfig {
        entities: init.entities.clone(),
        actor_idle_timeout: duration(init.actor_idle_timeout.as_ref()),
        drain_ongoing_call_timeout: duration(init.drain_ongoing_call_timeout.as_ref()),
        drain_rebalanced_actors: init.drain_rebalanced_actors.unwrap_or(false),
        reentrancy: reentrancy(init.reentrancy.as_ref()),
        entities_config: init
            .entities_config
            .iter()
            .map(|ec| EntityConfig {
                entities: ec.entities.clone(),
                actor_idle_timeout: duration(ec.actor_idle_timeout.as_ref()),
                drain_ongoing_call_timeout: duration(ec.drain_ongoing_call_timeout.as_ref()),
                reentrancy: reentrancy(ec.reentrancy.as_ref()),
            })
            .collect(),
    }
}

/// A protobuf duration as a Go duration string ("" when unset, as Go's
/// `durationToString`): whole nanoseconds, saturated as Go's `AsDuration`.
fn duration(d: Option<&prost_types::Duration>) -> String {
    let Some(d) = d else {
        return String::new();
    };
    let nanos = i128::from(d.seconds) * 1_000_000_000 + i128::from(d.nanos);
    let nanos = nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    format!("{nanos}ns")
}

fn reentrancy(r: Option<&pb::ActorReentrancyConfig>) -> Reentrancy {
    r.map_or_else(Reentrancy::default, |r| Reentrancy {
        enabled: r.enabled,
        max_stack_depth: r.max_stack_depth.map(i64::from),
    })
}

/// While a stream is registered; on drop (however the call ends) its
/// types are unregistered and their local actors deactivated.
struct Registered<'a> {
    ctx: &'a Rc<Ctx>,
    conn: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let actors = &self.ctx.shared.actors;
        let gone = actors.streams.remove(self.conn);
        tracing::info!(types = ?gone, "actor callback stream ended");
        if gone.is_empty() {
            return;
        }
        actors.unregister_hosted(&gone);
        if self.ctx.drain.is_closing() {
            // Shutdown: the placement loop deactivates every actor.
            return;
        }
        let halted = actors.take_active(|a| gone.contains(&a.actor_type));
        if halted.is_empty() {
            return;
        }
        let ctx = self.ctx.clone();
        monoio::spawn(async move { super::deactivate_all(&ctx, halted).await });
    }
}

/// Serves one `SubscribeActorEventsAlpha1` call.
pub async fn serve(
    ctx: &Rc<Ctx>,
    incoming: &mut Incoming,
    outgoing: &mut Outgoing,
) -> Result<(), Status> {
    if !carries_callbacks(&ctx.shared.opts) {
        return Err(Status::new(
            GrpcCode::FailedPrecondition,
            "actor callback streaming requires a gRPC app channel",
        ));
    }
    // grpc-go answers a handler's `io.EOF` as UNKNOWN "EOF".
    let first = incoming
        .decode::<pb::SubscribeActorEventsRequestAlpha1>()
        .await?
        .ok_or_else(|| Status::new(GrpcCode::Unknown, "EOF"))?;
    let Some(FromApp::InitialRequest(init)) = first.request_type else {
        return Err(Status::new(
            GrpcCode::InvalidArgument,
            "first message must be SubscribeActorEventsRequestInitialAlpha1",
        ));
    };
    let actors = &ctx.shared.actors;
    // Go registers nothing while the runtime is off; without an actor
    // store hosting is suspended (here: not registered, as for HTTP apps).
    let hosting = if actors.placement_addresses().is_some() && actors.store.is_some() {
        app_config(&init)
            .hosting(actors.disseminate_timeout)
            .map_err(|e| {
                Status::new(
                    GrpcCode::Internal,
                    format!("failed to register hosted actors: {e}"),
                )
            })?
    } else {
        Hosting::default()
    };
    let (conn, rx) = actors.streams.register(hosting.entities());
    let registered = Registered { ctx, conn };
    tracing::debug!(conn, entities = ?init.entities, "registered actor callback stream");
    actors.register_hosted(hosting);
    outgoing
        .send_message(&pb::SubscribeActorEventsResponseAlpha1 {
            response_type: Some(ToApp::InitialResponse(
                pb::SubscribeActorEventsResponseInitialAlpha1 {},
            )),
        })
        .await?;
    let result = pump(ctx, incoming, outgoing, &rx).await;
    drop(registered);
    result
}

/// Callbacks down, answers up, until the stream ends.
async fn pump(
    ctx: &Ctx,
    incoming: &mut Incoming,
    outgoing: &mut Outgoing,
    rx: &flume::Receiver<Outbound>,
) -> Result<(), Status> {
    let mut waiting: HashMap<String, flume::Sender<FromApp>> = HashMap::new();
    let mut next_id: u64 = 0;
    loop {
        monoio::select! {
            msg = incoming.decode::<pb::SubscribeActorEventsRequestAlpha1>() => match msg {
                Ok(Some(m)) => deliver(&mut waiting, m),
                Ok(None) => return Ok(()),
                // Go ends the stream without an error when daprd closes.
                Err(_) if ctx.drain.is_closing() => return Ok(()),
                Err(e) => return Err(e),
            },
            out = rx.recv_async() => {
                let Ok(Outbound { mut msg, reply }) = out else {
                    return Ok(());
                };
                next_id += 1;
                let id = next_id.to_string();
                set_id(&mut msg, &id);
                outgoing
                    .send_message(&pb::SubscribeActorEventsResponseAlpha1 {
                        response_type: Some(msg),
                    })
                    .await?;
                if waiting.len() >= PRUNE_AT {
                    waiting.retain(|_, r| !r.is_disconnected());
                }
                waiting.insert(id, reply);
            },
            _ = ctx.drain.closing() => return Ok(()),
        }
    }
}

fn set_id(msg: &mut ToApp, id: &str) {
    let slot = match msg {
        ToApp::InitialResponse(_) => return,
        ToApp::InvokeRequest(r) => &mut r.id,
        ToApp::ReminderRequest(r) => &mut r.id,
        ToApp::TimerRequest(r) => &mut r.id,
        ToApp::DeactivateRequest(r) => &mut r.id,
    };
    id.clone_into(slot);
}

/// Hands an answer to the caller waiting for its id (Go's `Deliver`).
fn deliver(
    waiting: &mut HashMap<String, flume::Sender<FromApp>>,
    msg: pb::SubscribeActorEventsRequestAlpha1,
) {
    let id = match &msg.request_type {
        Some(FromApp::InvokeResponse(r)) => r.id.clone(),
        Some(FromApp::ReminderResponse(r) | FromApp::TimerResponse(r)) => r.id.clone(),
        Some(FromApp::DeactivateResponse(r)) => r.id.clone(),
        Some(FromApp::RequestFailed(r)) => r.id.clone(),
        Some(FromApp::InitialRequest(_)) | None => {
            tracing::warn!("Dropping actor callback response without correlation id");
            return;
        }
    };
    let (Some(reply), Some(answer)) = (waiting.remove(&id), msg.request_type) else {
        tracing::warn!("Dropping actor callback response with unknown id={id}");
        return;
    };
    // The caller may have given up: nothing to do then.
    let _ = reply.send(answer);
}

/// The error of a `request_failed` answer.
fn failed(f: &pb::SubscribeActorEventsRequestFailedAlpha1) -> CallFailure {
    CallFailure::Permanent(format!("error from actor service: {}", f.message))
}

/// An actor method call over the stream (Go's transport `Invoke`).
pub async fn invoke_method(
    ctx: &Ctx,
    actor_type: &str,
    actor_id: &str,
    req: &internals::InternalInvokeRequest,
    data: Bytes,
) -> Result<Answer, CallFailure> {
    let method = req
        .message
        .as_ref()
        .map(|m| m.method.clone())
        .unwrap_or_default();
    // Go's flattenFirstValue.
    let metadata = req
        .metadata
        .iter()
        .filter_map(|(k, v)| v.values.first().map(|f| (k.clone(), f.clone())))
        .collect();
    let answer = ctx
        .shared
        .actors
        .streams
        .send(ToApp::InvokeRequest(
            pb::SubscribeActorEventsResponseInvokeRequestAlpha1 {
                id: String::new(),
                actor_type: actor_type.to_owned(),
                actor_id: actor_id.to_owned(),
                method: method.clone(),
                data: data.to_vec(),
                metadata,
            },
        ))
        .await
        .map_err(CallFailure::Permanent)?;
    let resp = match answer {
        FromApp::InvokeResponse(r) => r,
        FromApp::RequestFailed(f) if f.code == u32::from(GrpcCode::NotFound.as_u8()) => {
            return Err(CallFailure::Permanent(format!(
                "actor method not found: {method}"
            )))
        }
        FromApp::RequestFailed(f) => return Err(failed(&f)),
        _ => {
            return Err(CallFailure::Permanent(
                "actor host returned an unexpected response type for invoke".into(),
            ))
        }
    };
    // Go's buildInternalResponse: status 200, the metadata as headers, and
    // the actor-error marker when the app flagged one.
    let mut headers: wire::Metadata = resp
        .metadata
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                internals::ListStringValue {
                    values: vec![v.clone()],
                },
            )
        })
        .collect();
    if resp.error {
        headers.insert(
            super::callback::ERROR_HEADER.to_owned(),
            internals::ListStringValue {
                values: vec!["true".into()],
            },
        );
    }
    let answer = Answer {
        head: internals::InternalInvokeResponse {
            status: Some(internals::Status {
                code: 200,
                ..Default::default()
            }),
            headers,
            message: Some(common::InvokeResponse {
                data: None,
                content_type: resp
                    .metadata
                    .get("content-type")
                    .cloned()
                    .unwrap_or_default(),
            }),
            ..Default::default()
        },
        data: Bytes::from(resp.data),
    };
    if resp.error {
        return Err(CallFailure::Actor(Box::new(answer)));
    }
    Ok(answer)
}

/// A timer (`callback` set) or reminder firing over the stream; a cancel
/// answer is [`CallFailure::Permanent`] with Go's "reminder canceled".
pub async fn invoke_timer(
    ctx: &Ctx,
    fire: &internals::Reminder,
    callback: Option<&str>,
) -> Result<(), CallFailure> {
    let msg = if fire.is_timer {
        ToApp::TimerRequest(pb::SubscribeActorEventsResponseTimerRequestAlpha1 {
            id: String::new(),
            actor_type: fire.actor_type.clone(),
            actor_id: fire.actor_id.clone(),
            name: fire.name.clone(),
            due_time: fire.due_time.clone(),
            period: fire.period.clone(),
            callback: callback.unwrap_or_default().to_owned(),
            data: fire.data.clone(),
        })
    } else {
        ToApp::ReminderRequest(pb::SubscribeActorEventsResponseReminderRequestAlpha1 {
            id: String::new(),
            actor_type: fire.actor_type.clone(),
            actor_id: fire.actor_id.clone(),
            name: fire.name.clone(),
            due_time: fire.due_time.clone(),
            period: fire.period.clone(),
            data: fire.data.clone(),
        })
    };
    let answer = ctx
        .shared
        .actors
        .streams
        .send(msg)
        .await
        .map_err(CallFailure::Permanent)?;
    let resp = match answer {
        FromApp::TimerResponse(r) if fire.is_timer => r,
        FromApp::ReminderResponse(r) if !fire.is_timer => r,
        FromApp::RequestFailed(f) => return Err(failed(&f)),
        _ => {
            let kind = if fire.is_timer { "timer" } else { "reminder" };
            return Err(CallFailure::Permanent(format!(
                "actor host returned an unexpected response type for {kind}"
            )));
        }
    };
    if resp.cancel {
        return Err(CallFailure::Permanent(
            super::callback::REMINDER_CANCELED.into(),
        ));
    }
    Ok(())
}

/// A deactivation over the stream: any answer will do (Go's transport
/// `Deactivate`); a failure is logged.
pub async fn deactivate(ctx: &Ctx, actor_type: &str, actor_id: &str) {
    let sent = ctx
        .shared
        .actors
        .streams
        .send(ToApp::DeactivateRequest(
            pb::SubscribeActorEventsResponseDeactivateRequestAlpha1 {
                id: String::new(),
                actor_type: actor_type.to_owned(),
                actor_id: actor_id.to_owned(),
            },
        ))
        .await;
    let key = super::actor_key(actor_type, actor_id);
    match sent {
        Ok(_) => {
            ctx.metrics.record_actor_deactivated(actor_type);
            tracing::debug!("Deactivated actor '{key}'");
        }
        Err(e) => tracing::warn!("Failed to deactivate actor {key}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn d(seconds: i64, nanos: i32) -> Option<prost_types::Duration> {
        Some(prost_types::Duration { seconds, nanos })
    }

    #[test]
    fn registration_reads_as_dapr_config() {
        let init = pb::SubscribeActorEventsRequestInitialAlpha1 {
            entities: vec!["A".into(), "B".into()],
            actor_idle_timeout: d(90, 500_000_000),
            drain_ongoing_call_timeout: d(40, 0),
            drain_rebalanced_actors: Some(true),
            reentrancy: Some(pb::ActorReentrancyConfig {
                enabled: true,
                max_stack_depth: Some(4),
            }),
            entities_config: vec![pb::ActorEntityConfig {
                entities: vec!["B".into()],
                actor_idle_timeout: d(5, 0),
                drain_ongoing_call_timeout: None,
                drain_rebalanced_actors: None,
                reentrancy: None,
            }],
        };
        let h = app_config(&init).hosting(Duration::from_secs(30)).unwrap();
        assert!(h.drain_rebalanced);
        let a = &h.types["A"];
        assert_eq!(a.idle_timeout, Duration::from_millis(90_500));
        assert_eq!(a.reentrancy, Some(4));
        // Clamped to 80 % of the dissemination timeout, as from /dapr/config.
        assert_eq!(a.drain_timeout, Duration::from_secs(24));
        let b = &h.types["B"];
        assert_eq!(b.idle_timeout, Duration::from_secs(5));
        assert_eq!(b.reentrancy, None);
        // Unset durations take the defaults.
        let bare = pb::SubscribeActorEventsRequestInitialAlpha1 {
            entities: vec!["A".into()],
            ..Default::default()
        };
        let h = app_config(&bare).hosting(Duration::from_secs(30)).unwrap();
        assert_eq!(
            h.types["A"].idle_timeout,
            super::super::hosting::DEFAULT_IDLE_TIMEOUT
        );
        assert!(!h.drain_rebalanced);
    }

    #[test]
    fn durations_saturate() {
        assert_eq!(duration(None), "");
        assert_eq!(duration(d(0, 0).as_ref()), "0ns");
        assert_eq!(duration(d(i64::MAX, 0).as_ref()), format!("{}ns", i64::MAX));
    }

    #[test]
    fn a_closed_stream_fails_its_callers() {
        let hub = Hub::default();
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(
                hub.send(ToApp::InitialResponse(Default::default()))
                    .await
                    .unwrap_err(),
                NO_CONNECTION
            );
            let (a, rx_a) = hub.register(vec!["T".into(), "U".into()]);
            let (b, rx_b) = hub.register(vec!["U".into()]);
            assert!(hub.is_connected());
            // The newest stream gets the callback; its end fails the caller.
            let waiter = hub.send(ToApp::InitialResponse(Default::default()));
            let stream_b = async {
                let out = rx_b.recv_async().await.unwrap();
                drop(rx_b);
                drop(out);
                hub.remove(b)
            };
            let (answer, gone) = monoio::join!(waiter, stream_b);
            assert_eq!(answer.unwrap_err(), DISCONNECTED);
            // U is still claimed by the older stream.
            assert!(gone.is_empty());
            assert_eq!(hub.remove(a), ["T", "U"]);
            drop(rx_a);
            assert!(!hub.is_connected());
        });
    }
}
