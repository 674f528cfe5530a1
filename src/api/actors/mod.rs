//! Virtual actors (Go: `pkg/actors`): the HTTP and gRPC actor API, the
//! actor runtime that hosts this app's actor types, and the placement
//! client that learns who hosts the others.
//!
//! The process-wide [`Actors`] (in [`crate::api::Shared`]) holds what every
//! worker shares: the hosted types and their settings (from the app's
//! `GET /dapr/config`), the placement tables (swapped whole on each
//! update, read without a lock), the active actors (a concurrent map: a
//! call for an actor may arrive on any worker) and the timers. A call goes
//! [`call`] → placement lookup → this sidecar (the actor's turn lock, then
//! the app) or its owner's sidecar (`CallActor` over the
//! internal gRPC port), with Go's built-in retries (1 s × 5) while a host
//! is still registering or an actor is moving.
//!
//! Everything that talks to the app or another sidecar runs on the worker
//! that took the call, through that worker's [`Ctx`]; worker 0 also runs
//! the placement stream and the idle-actor sweep.

pub mod callback;
pub mod grpc;
pub mod hosting;
pub mod http;
pub mod lock;
pub mod names;
pub mod placement;
pub mod ring;
pub mod schedule;
pub mod state;
pub mod stream;
pub mod timers;

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use dashmap::DashMap;

use super::error::{ApiError, ErrorCode};
use super::Ctx;
use crate::proto::dapr::proto::internals::v1 as internals;

/// Go's `DaprSeparator`, between the parts of actor keys.
pub const SEPARATOR: &str = "||";
/// Types reserved for Dapr's workflow runtime.
const INTERNAL_PREFIX: &str = "dapr.internal.";
/// Go's `DaprBuiltInActorNotFoundRetries`: constant 1 s, 5 retries.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
const RETRIES: u32 = 5;
/// The reentrancy header (Go's canonical form).
pub const REENTRANCY_HEADER: &str = "Dapr-Reentrancy-Id";
/// The header a sidecar adds to a call it forwards to an actor's owner.
pub const REMOTE_HEADER: &str = "X-Dapr-Remote";
/// How long a call waits for a placement table (the first one, or the
/// end of a rebalance of its type) before the retries give up.
const TABLE_WAIT: Duration = Duration::from_secs(10);

/// Settings of one hosted actor type.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeConfig {
    /// Deactivate after this long without a call.
    pub idle_timeout: Duration,
    /// `Some(max stack depth)` when reentrancy is on.
    pub reentrancy: Option<u32>,
    /// How long a rebalance waits for an ongoing call.
    pub drain_timeout: Duration,
}

/// What this sidecar hosts (the app's `/dapr/config`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hosting {
    /// Hosted types and their settings.
    pub types: HashMap<String, TypeConfig>,
    /// `drainRebalancedActors`.
    pub drain_rebalanced: bool,
}

impl Hosting {
    /// The hosted type names, sorted (as placement stores them).
    pub fn entities(&self) -> Vec<String> {
        let mut v: Vec<String> = self.types.keys().cloned().collect();
        v.sort();
        v
    }
}

/// This sidecar as placement knows it.
#[derive(Clone, Debug)]
pub struct HostId {
    /// `<ip>:<internal gRPC port>`.
    pub name: String,
    /// The app id.
    pub app_id: String,
    /// The namespace (`default` when unset).
    pub namespace: String,
    /// The internal gRPC port.
    pub port: u16,
}

/// An active actor: its turn lock and when it goes idle.
pub struct Active {
    /// The actor type.
    pub actor_type: String,
    /// The actor id.
    pub actor_id: String,
    /// One turn at a time.
    pub lock: lock::TurnLock,
    /// Milliseconds since the runtime's epoch after which it is idle.
    idle_at: AtomicU64,
}

/// The process-wide actor runtime.
pub struct Actors {
    /// `Some(addresses)` when a placement address was given.
    placement_addresses: Option<Vec<String>>,
    /// Who we are.
    pub host: HostId,
    /// The state store with `actorStateStore: "true"`.
    pub store: Option<String>,
    /// How long a placement round may take.
    pub disseminate_timeout: Duration,
    hosting: ArcSwap<Hosting>,
    /// Bumped whenever `hosting` changes (the placement stream re-reports).
    hosting_changed: event_listener::Event,
    hosting_known: AtomicBool,
    /// The placement tables and readiness.
    pub table: placement::TableView,
    active: DashMap<String, Arc<Active>>,
    /// In-memory timers.
    pub timers: timers::Timers,
    /// A gRPC app's `SubscribeActorEventsAlpha1` streams.
    pub streams: stream::Hub,
    epoch: Instant,
    closed: AtomicBool,
}

impl Actors {
    /// The runtime for `host`: off when `placement_addresses` is empty.
    pub fn new(
        placement_addresses: &[String],
        host: HostId,
        store: Option<String>,
        disseminate_timeout: Duration,
    ) -> Self {
        Self {
            placement_addresses: (!placement_addresses.is_empty())
                .then(|| placement_addresses.to_vec()),
            host,
            store,
            disseminate_timeout,
            hosting: ArcSwap::from_pointee(Hosting::default()),
            hosting_changed: event_listener::Event::new(),
            hosting_known: AtomicBool::new(false),
            table: placement::TableView::default(),
            active: DashMap::new(),
            timers: timers::Timers::default(),
            streams: stream::Hub::default(),
            epoch: Instant::now(),
            closed: AtomicBool::new(false),
        }
    }

    /// The placement addresses, when the runtime is on.
    pub fn placement_addresses(&self) -> Option<&[String]> {
        self.placement_addresses.as_deref()
    }

    /// `ERR_ACTOR_NO_PLACEMENT` when the runtime is off, `ERR_ACTOR_RUNTIME_CLOSED` once shut down.
    pub fn check_enabled(&self) -> Result<(), ApiError> {
        if self.placement_addresses.is_none() {
            return Err(ApiError::new(
                ErrorCode::ActorNoPlacement,
                "placement service is not configured",
            ));
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(ApiError::new(
                ErrorCode::ActorRuntimeClosed,
                "actor runtime is closed",
            ));
        }
        Ok(())
    }

    /// The hosted types and their settings.
    pub fn hosting(&self) -> Arc<Hosting> {
        self.hosting.load_full()
    }

    /// Whether the app's actor configuration is known (asked, or no app).
    pub fn hosting_known(&self) -> bool {
        self.hosting_known.load(Ordering::Acquire)
    }

    /// Replaces what this sidecar hosts (the app's configuration, or none
    /// when it turns unhealthy); the placement stream re-reports.
    pub fn set_hosting(&self, hosting: Hosting) {
        if !hosting.types.is_empty() {
            tracing::info!("Registering hosted actors: {:?}", hosting.entities());
        }
        self.hosting.store(Arc::new(hosting));
        self.hosting_known.store(true, Ordering::Release);
        self.hosting_changed.notify(usize::MAX);
    }

    /// Adds `more` to what this sidecar hosts (Go's `RegisterHosted`: a
    /// type registered again takes its new settings; no types changes
    /// nothing) and marks the hosting known; the placement stream
    /// re-reports.
    pub fn register_hosted(&self, more: Hosting) {
        if !more.types.is_empty() {
            tracing::info!("Registering hosted actors: {:?}", more.entities());
            self.hosting.rcu(|h| {
                let mut h = Hosting::clone(h);
                h.types.extend(more.types.clone());
                h.drain_rebalanced = more.drain_rebalanced;
                h
            });
        }
        self.hosting_known.store(true, Ordering::Release);
        self.hosting_changed.notify(usize::MAX);
    }

    /// Stops hosting `types` (Go's `UnRegisterHosted`); the placement
    /// stream re-reports. Their active actors are the caller's to
    /// deactivate.
    pub fn unregister_hosted(&self, types: &[String]) {
        if types.is_empty() {
            return;
        }
        tracing::debug!("Unregistering hosted actors: {types:?}");
        self.hosting.rcu(|h| {
            let mut h = Hosting::clone(h);
            for t in types {
                h.types.remove(t);
            }
            h
        });
        self.hosting_changed.notify(usize::MAX);
    }

    /// A listener for the next [`Actors::set_hosting`].
    pub fn hosting_listener(&self) -> event_listener::EventListener {
        self.hosting_changed.listen()
    }

    /// Whether placement holds `/v1.0/healthz` back: until the app's actor
    /// types are known, then while this sidecar hosts some and no table has
    /// arrived (Go holds it whenever a placement address is set; a sidecar
    /// that only calls actors is ready without one here).
    pub fn placement_ready(&self) -> bool {
        self.placement_addresses.is_none()
            || (self.hosting_known()
                && (self.hosting.load().types.is_empty() || self.table.is_ready()))
    }

    /// Whether `actor_type` is hosted here.
    pub fn is_hosted(&self, actor_type: &str) -> bool {
        self.hosting.load().types.contains_key(actor_type)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The active actor `actor_type/actor_id`, activated if needed (Go's
    /// `table.GetOrCreate`).
    fn activate(&self, actor_type: &str, actor_id: &str) -> Result<Arc<Active>, CallFailure> {
        let hosting = self.hosting.load();
        let Some(config) = hosting.types.get(actor_type) else {
            return Err(CallFailure::Permanent(format!(
                "actor type {actor_type} not registered"
            )));
        };
        let key = actor_key(actor_type, actor_id);
        if let Some(a) = self.active.get(&key) {
            return Ok(a.clone());
        }
        let entry = self.active.entry(key).or_insert_with(|| {
            tracing::debug!(actor_type, actor_id, "activating actor");
            Arc::new(Active {
                actor_type: actor_type.to_owned(),
                actor_id: actor_id.to_owned(),
                lock: lock::TurnLock::new(config.reentrancy),
                idle_at: AtomicU64::new(0),
            })
        });
        Ok(entry.clone())
    }

    /// Whether `actor_type/actor_id` is active here.
    pub fn is_active(&self, actor_type: &str, actor_id: &str) -> bool {
        self.active.contains_key(&actor_key(actor_type, actor_id))
    }

    fn touch(&self, active: &Active) {
        let idle = self
            .hosting
            .load()
            .types
            .get(&active.actor_type)
            .map_or(hosting::DEFAULT_IDLE_TIMEOUT, |c| c.idle_timeout);
        let at = self
            .now_ms()
            .saturating_add(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX));
        active.idle_at.store(at, Ordering::Relaxed);
    }

    /// Active actors per type (the metadata API).
    pub fn active_counts(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for t in self.hosting.load().types.keys() {
            counts.insert(t.clone(), 0);
        }
        for a in &self.active {
            *counts.entry(a.actor_type.clone()).or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort();
        v
    }

    /// Removes the actors for which `pick` is true from the table and
    /// returns them, for deactivation.
    fn take_active(&self, pick: impl Fn(&Active) -> bool) -> Vec<Arc<Active>> {
        let keys: Vec<String> = self
            .active
            .iter()
            .filter(|a| pick(a.value()))
            .map(|a| a.key().clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| self.active.remove(&k).map(|(_, a)| a))
            .collect()
    }

    /// Marks the runtime closed (shutdown): calls answer `ERR_ACTOR_RUNTIME_CLOSED`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// `<type>||<id>`.
pub fn actor_key(actor_type: &str, actor_id: &str) -> String {
    let mut k = String::with_capacity(actor_type.len() + actor_id.len() + 2);
    k.push_str(actor_type);
    k.push_str(SEPARATOR);
    k.push_str(actor_id);
    k
}

/// `ERR_ACTOR_TYPE_RESERVED` for the workflow runtime's internal types.
pub fn reject_internal(actor_type: &str) -> Result<(), ApiError> {
    if actor_type.starts_with(INTERNAL_PREFIX) {
        return Err(ApiError::new(
            ErrorCode::ActorTypeReserved,
            format!("actor type {actor_type:?} is reserved for the Dapr workflow runtime; direct actor API access is not permitted"),
        ));
    }
    Ok(())
}

/// Go's `StripUntrustedCallerIdentity`: a caller may not claim an app
/// identity through the public API.
pub fn strip_caller_identity(md: &mut super::invoke::wire::Metadata) {
    md.retain(|k, _| {
        !k.eq_ignore_ascii_case("dapr-caller-app-id")
            && !k.eq_ignore_ascii_case("dapr-caller-namespace")
    });
}

/// The answer of a reminder operation on a daprd without a scheduler
/// (reminders live only in the scheduler service since Go 1.17):
/// `ERR_ACTOR_REMINDER_NON_HOSTED` for a type not hosted here, else Go's
/// "scheduler clients are disabled" under the operation's code.
pub fn reminders_unavailable(
    actors: &Actors,
    actor_type: &str,
    method: &::http::Method,
) -> ApiError {
    if !actors.is_hosted(actor_type) {
        return ApiError::new(
            ErrorCode::ActorReminderNonHosted,
            "operations on actor reminders are only possible on hosted actor types",
        );
    }
    let (code, what) = match *method {
        ::http::Method::GET => (ErrorCode::ActorReminderGet, "getting"),
        ::http::Method::DELETE => (ErrorCode::ActorReminderDelete, "deleting"),
        _ => (ErrorCode::ActorReminderCreate, "creating"),
    };
    ApiError::new(
        code,
        format!("error {what} actor reminder: scheduler clients are disabled"),
    )
}

/// Why an actor call failed.
#[derive(Debug)]
pub enum CallFailure {
    /// A Dapr API error, answered as it is.
    Api(ApiError),
    /// The app flagged an actor error (`X-DaprErrorResponseHeader`): its
    /// answer goes back to the caller verbatim.
    Actor(Box<Answer>),
    /// Worth another try (the actor is moving, its host is registering).
    Retry(String),
    /// Final.
    Permanent(String),
}

impl CallFailure {
    /// The error's text (Go's wording).
    pub fn text(&self) -> String {
        match self {
            Self::Api(e) => e.message().to_owned(),
            Self::Actor(_) => "actor error".to_owned(),
            Self::Retry(s) | Self::Permanent(s) => s.clone(),
        }
    }
}

/// An actor's answer: the app's status, headers and body.
#[derive(Debug)]
pub struct Answer {
    /// Status (the app's HTTP status), headers and content type; the
    /// message carries no data.
    pub head: internals::InternalInvokeResponse,
    /// The body.
    pub data: Bytes,
}

impl Answer {
    /// A whole `InternalInvokeResponse`, its data moved out of the message.
    pub fn from_response(mut head: internals::InternalInvokeResponse) -> Answer {
        let data = head
            .message
            .as_mut()
            .and_then(|m| m.data.take())
            .map(|d| Bytes::from(d.value))
            .unwrap_or_default();
        Answer { head, data }
    }
}

/// A method call [`method_call`] refuses, with Go's text.
#[derive(Debug)]
pub enum BadCall {
    /// The actor type or id is not one path segment.
    Name(String),
    /// The method has forbidden characters.
    Method(String),
}

/// The request of an actor method call made through the public API (Go's
/// `InvokeActor` handlers): `actorType`/`actorId` checked as one path
/// segment each, the method cleaned, `Dapr-API-Call: true` added and a
/// caller's claimed app identity dropped.
pub fn method_call(
    actor_type: String,
    actor_id: String,
    method: &str,
    mut metadata: super::invoke::wire::Metadata,
    content_type: String,
    http_extension: Option<crate::proto::dapr::proto::common::v1::HttpExtension>,
) -> Result<internals::InternalInvokeRequest, BadCall> {
    for (name, value) in [("actorType", &actor_type), ("actorId", &actor_id)] {
        names::validate_name(value).map_err(|e| BadCall::Name(format!("invalid {name}: {e}")))?;
    }
    let method = names::normalize_method(method).map_err(BadCall::Method)?;
    super::invoke::wire::set(&mut metadata, "Dapr-API-Call", "true");
    strip_caller_identity(&mut metadata);
    Ok(internals::InternalInvokeRequest {
        ver: 0,
        metadata,
        message: Some(crate::proto::dapr::proto::common::v1::InvokeRequest {
            method,
            data: None,
            content_type,
            http_extension,
        }),
        actor: Some(internals::Actor {
            actor_type,
            actor_id,
        }),
    })
}

/// One actor method call, from whoever makes it (HTTP, gRPC, another
/// sidecar): the request names the actor (`actor`) and the method, and
/// carries the caller's metadata; `data` is the body.
pub async fn call(
    ctx: &Rc<Ctx>,
    mut req: internals::InternalInvokeRequest,
    data: Bytes,
) -> Result<Answer, CallFailure> {
    let actors = &ctx.shared.actors;
    actors.check_enabled().map_err(CallFailure::Api)?;
    let (actor_type, actor_id) = match &req.actor {
        Some(a) => (a.actor_type.clone(), a.actor_id.clone()),
        None => return Err(CallFailure::Permanent("actor is missing".into())),
    };
    let forwarded = super::invoke::wire::first(&req.metadata, REMOTE_HEADER).is_some();
    let table_deadline = Instant::now() + TABLE_WAIT;
    let mut attempt = 0;
    loop {
        let failure = match actors
            .table
            .lookup(actors, &actor_type, &actor_id, table_deadline)
            .await
        {
            Err(e) => CallFailure::Retry(format!("failed to lookup actor: {e}")),
            Ok(placement::Owner::Local) => {
                // Activation, then the actor's turn; only a turn refused
                // because the actor is deactivating is worth a retry.
                let active = actors.activate(&actor_type, &actor_id)?;
                let reentrancy = reentrancy_id(actors, &actor_type, &mut req);
                let turn = active.lock.lock(reentrancy.as_deref()).await;
                match turn {
                    Ok(_turn) => {
                        actors.touch(&active);
                        // Nothing after this point is retried, so the
                        // request moves into the app call (no copy).
                        return callback::invoke_method(ctx, &actor_type, &actor_id, req, data)
                            .await;
                    }
                    Err(e) => turn_refused(e),
                }
            }
            Ok(placement::Owner::Remote { address, app_id }) => {
                if forwarded {
                    return Err(CallFailure::Permanent("remote actor moved".into()));
                }
                match remote(ctx, &address, &app_id, &req, &data).await {
                    Ok(a) => return Ok(a),
                    Err(e) => e,
                }
            }
        };
        match failure {
            CallFailure::Retry(why) if attempt < RETRIES => {
                tracing::debug!(actor_type, actor_id, attempt, %why, "actor call failed; retrying");
                attempt += 1;
                monoio::time::sleep(RETRY_INTERVAL).await;
            }
            f => return Err(f),
        }
    }
}

/// Why an actor's turn was refused, as a call failure.
fn turn_refused(e: lock::LockError) -> CallFailure {
    match e {
        lock::LockError::StackDepth => CallFailure::Api(ApiError::new(
            ErrorCode::ActorStackDepth,
            "maximum stack depth exceeded",
        )),
        lock::LockError::Closed => CallFailure::Retry("actor is deactivating".into()),
    }
}

/// The call's reentrancy id when the type has reentrancy on: the caller's
/// `Dapr-Reentrancy-Id`, or a new one put into the request so the app
/// sees it (as Go).
fn reentrancy_id(
    actors: &Actors,
    actor_type: &str,
    req: &mut internals::InternalInvokeRequest,
) -> Option<String> {
    let on = actors
        .hosting
        .load()
        .types
        .get(actor_type)
        .is_some_and(|c| c.reentrancy.is_some());
    if !on {
        return None;
    }
    if let Some(id) = super::invoke::wire::first(&req.metadata, REENTRANCY_HEADER) {
        return Some(id.to_owned());
    }
    let id = uuid::Uuid::new_v4().to_string();
    super::invoke::wire::set(&mut req.metadata, REENTRANCY_HEADER, &id);
    Some(id)
}

/// `CallActor` on the owner's sidecar.
async fn remote(
    ctx: &Rc<Ctx>,
    address: &str,
    app_id: &str,
    req: &internals::InternalInvokeRequest,
    data: &Bytes,
) -> Result<Answer, CallFailure> {
    let mut req = req.clone();
    if let Some(m) = req.message.as_mut() {
        let type_url = m.data.take().map(|d| d.type_url).unwrap_or_default();
        m.data = Some(prost_types::Any {
            type_url,
            value: data.to_vec(),
        });
    }
    let result: Result<internals::InternalInvokeResponse, _> =
        super::invoke::remote::unary(ctx, address, placement::CALL_ACTOR, &req).await;
    match result {
        Ok(head) => {
            let answer = Answer::from_response(head);
            if callback::is_actor_error(&answer.head) {
                return Err(CallFailure::Actor(Box::new(answer)));
            }
            Ok(answer)
        }
        Err(e) => {
            use crate::grpc::status::GrpcCode;
            let moved = e.code == GrpcCode::Internal
                && (e.message == "error invoke actor method: remote actor moved"
                    || e.message.ends_with(": placement is disseminating"));
            if e.code == GrpcCode::Unavailable || moved {
                ctx.remotes.forget(address);
                Err(CallFailure::Retry(format!(
                    "failed to invoke target {address} after retries. Error: {e}"
                )))
            } else {
                tracing::debug!(app_id, address, error = %e, "CallActor failed");
                Err(CallFailure::Permanent(e.to_string()))
            }
        }
    }
}

/// A timer or reminder firing for `actor_type/actor_id`, routed as Go's
/// `router.CallReminder`: to the owner, activating the actor.
pub async fn call_reminder(
    ctx: &Rc<Ctx>,
    reminder: &internals::Reminder,
    callback: Option<&str>,
    forwarded: bool,
) -> Result<(), CallFailure> {
    let actors = &ctx.shared.actors;
    actors.check_enabled().map_err(CallFailure::Api)?;
    let table_deadline = Instant::now() + TABLE_WAIT;
    let mut attempt = 0;
    loop {
        let failure = match actors
            .table
            .lookup(
                actors,
                &reminder.actor_type,
                &reminder.actor_id,
                table_deadline,
            )
            .await
        {
            Err(e) => CallFailure::Retry(format!("failed to lookup actor: {e}")),
            Ok(placement::Owner::Local) => match fire_local(ctx, reminder, callback).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            },
            Ok(placement::Owner::Remote { address, .. }) => {
                if forwarded {
                    return Err(CallFailure::Permanent("remote actor moved".into()));
                }
                let r: Result<(), _> = super::invoke::remote::unary::<_, ()>(
                    ctx,
                    &address,
                    placement::CALL_ACTOR_REMINDER,
                    reminder,
                )
                .await;
                match r {
                    Ok(()) => return Ok(()),
                    Err(e) => CallFailure::Permanent(e.to_string()),
                }
            }
        };
        match failure {
            CallFailure::Retry(why) if attempt < RETRIES => {
                tracing::debug!(attempt, %why, "timer delivery failed; retrying");
                attempt += 1;
                monoio::time::sleep(RETRY_INTERVAL).await;
            }
            f => return Err(f),
        }
    }
}

/// Fires a timer or reminder on an actor hosted here.
async fn fire_local(
    ctx: &Rc<Ctx>,
    reminder: &internals::Reminder,
    callback: Option<&str>,
) -> Result<(), CallFailure> {
    let actors = &ctx.shared.actors;
    let active = actors.activate(&reminder.actor_type, &reminder.actor_id)?;
    let _turn = if reminder.skip_lock {
        None
    } else {
        match active.lock.lock(None).await {
            Ok(t) => Some(t),
            Err(lock::LockError::Closed) => {
                return Err(CallFailure::Retry("actor is deactivating".into()))
            }
            Err(lock::LockError::StackDepth) => {
                return Err(CallFailure::Permanent(
                    "maximum stack depth exceeded".into(),
                ))
            }
        }
    };
    actors.touch(&active);
    callback::invoke_timer(ctx, reminder, callback).await
}

/// Deactivates `list`: each actor's lock closes (new calls go elsewhere or
/// re-activate it), its ongoing turn gets up to its drain timeout, then the
/// app hears `DELETE /actors/{type}/{id}`.
pub async fn deactivate_all(ctx: &Rc<Ctx>, list: Vec<Arc<Active>>) {
    let hosting = ctx.shared.actors.hosting();
    let mut pending = Vec::with_capacity(list.len());
    for active in list {
        let drain = hosting
            .types
            .get(&active.actor_type)
            .map_or(hosting::DEFAULT_DRAIN_TIMEOUT, |c| c.drain_timeout);
        let ctx = ctx.clone();
        pending.push(monoio::spawn(async move {
            active.lock.close();
            let _ = monoio::time::timeout(drain, active.lock.closed_and_idle()).await;
            callback::deactivate(&ctx, &active.actor_type, &active.actor_id).await;
        }));
    }
    for p in pending {
        p.await;
    }
}

/// Worker 0's sweep: deactivates actors idle past their timeout.
pub async fn idle_sweep(ctx: Rc<Ctx>) {
    let actors = &ctx.shared.actors;
    loop {
        let every = actors
            .hosting()
            .types
            .values()
            .map(|c| c.idle_timeout / 4)
            .min()
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        monoio::select! {
            _ = monoio::time::sleep(every) => {}
            _ = ctx.drain.closing() => return,
        }
        let now = actors.now_ms();
        let idle = actors.take_active(|a| {
            let at = a.idle_at.load(Ordering::Relaxed);
            at != 0 && at <= now && a.lock.is_idle()
        });
        if !idle.is_empty() {
            tracing::debug!(count = idle.len(), "deactivating idle actors");
            deactivate_all(&ctx, idle).await;
        }
    }
}
