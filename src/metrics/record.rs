//! Recording: the per-worker [`Shard`] and its `record_*` methods, the
//! series they fill (fixed-bucket [`Hist`]ograms and the per-worker
//! hdrhistogram), and [`Metrics`], which holds one shard per worker.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The shards' series maps: keyed by label values the sidecar interns
/// (route labels, method names, components; at most [`MAX_SERIES`] sets
/// per family), hashed with foldhash rather than SipHash: a lookup is on
/// every request, a few times.
pub(super) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use hdrhistogram::Histogram;
use http::Method;

use super::client;
use super::hist::Hist;
use super::names::*;
use super::render::escape;

/// A latency histogram (milliseconds, [`LATENCY_BUCKETS_MS`]).
pub(super) type Latency = Hist<34>;
/// A size histogram (bytes, [`SIZE_BUCKETS`]).
pub(super) type Sizes = Hist<13>;

/// The metrics of the whole process (`Send + Sync`, in an `Arc`).
pub struct Metrics {
    pub(super) app_id: String,
    pub(super) namespace: String,
    pub(super) shards: Vec<Arc<Shard>>,
    /// Component start-up counters: written once at start-up, so one lock.
    pub(super) startup: Mutex<Startup>,
}

/// The `dapr_runtime_component_*` counters.
#[derive(Default)]
pub(super) struct Startup {
    pub(super) loaded: u64,
    /// Component type → initialized.
    pub(super) init: BTreeMap<Box<str>, u64>,
    /// (type, reason, name) → failures.
    pub(super) failed: BTreeMap<(Box<str>, &'static str, Box<str>), u64>,
}

/// The component families counted per API call, by operation and success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// `dapr_component_state_*`.
    State,
    /// `dapr_component_secret_*`.
    Secret,
    /// `dapr_component_configuration_*`.
    Configuration,
}

impl Metrics {
    /// One shard per worker, created up front.
    pub fn new(app_id: &str, workers: usize) -> Arc<Metrics> {
        Self::new_in(app_id, None, workers)
    }

    /// As [`Metrics::new`], for an app in `namespace` (the `namespace` label).
    pub fn new_in(app_id: &str, namespace: Option<&str>, workers: usize) -> Arc<Metrics> {
        Arc::new(Metrics {
            app_id: escape(app_id),
            namespace: escape(namespace.unwrap_or("")),
            shards: (0..workers.max(1))
                .map(|_| Arc::new(Shard::default()))
                .collect(),
            startup: Mutex::new(Startup::default()),
        })
    }

    fn startup(&self) -> MutexGuard<'_, Startup> {
        self.startup.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A component is up (`dapr_runtime_component_loaded`, Go's `ComponentLoaded`).
    pub fn record_component_loaded(&self) {
        self.startup().loaded += 1;
    }

    /// A component of type `kind` (`state.redis`, …) initialized
    /// (`dapr_runtime_component_init_total`, Go's `ComponentInitialized`).
    pub fn record_component_initialized(&self, kind: &str) {
        *self.startup().init.entry(kind.into()).or_default() += 1;
    }

    /// Component `name` of type `kind` failed to start for `reason`
    /// ([`REASON_CREATION`], [`REASON_INIT`]; Go's `ComponentInitFailed`).
    pub fn record_component_init_failed(&self, kind: &str, reason: &'static str, name: &str) {
        *self
            .startup()
            .failed
            .entry((kind.into(), reason, name.into()))
            .or_default() += 1;
    }

    /// Worker `worker`'s shard (the last one if out of range).
    pub fn shard(&self, worker: usize) -> &Arc<Shard> {
        &self.shards[worker.min(self.shards.len() - 1)]
    }

    /// Number of shards.
    pub fn worker_count(&self) -> usize {
        self.shards.len()
    }
}

/// One worker's metrics. Written by its worker, read by scrapes.
pub struct Shard {
    data: Mutex<ShardData>,
}

impl Default for Shard {
    fn default() -> Self {
        Self {
            data: Mutex::new(ShardData::default()),
        }
    }
}

pub(super) struct ShardData {
    /// path → per (method, status) series.
    pub(super) http: Map<Box<str>, Vec<HttpSeries>>,
    pub(super) http_sets: usize,
    /// gRPC method → per code series.
    pub(super) grpc: Map<Box<str>, Vec<GrpcSeries>>,
    pub(super) grpc_sets: usize,
    pub(super) grpc_bytes: Map<Box<str>, (Sizes, Sizes)>,
    pub(super) req_bytes: Sizes,
    pub(super) resp_bytes: Sizes,
    pub(super) requests: u64,
    pub(super) latency_us: Histogram<u64>,
    /// topic → per (component, outcome) delivery series.
    pub(super) pubsub_in: Map<Box<str>, Vec<TopicSeries>>,
    pub(super) pubsub_in_sets: usize,
    /// topic → per (component, success) publish series.
    pub(super) pubsub_out: Map<Box<str>, Vec<TopicSeries>>,
    pub(super) pubsub_out_sets: usize,
    /// operation → per (component, success) output binding series.
    pub(super) binding_out: Map<Box<str>, Vec<TopicSeries>>,
    pub(super) binding_out_sets: usize,
    /// `""` → per (component, success) input binding series.
    pub(super) binding_in: Map<Box<str>, Vec<TopicSeries>>,
    pub(super) binding_in_sets: usize,
    /// State, secret and configuration store calls, by [`Store`].
    pub(super) stores: [Ops; 3],
    /// Service invocation series (all four counters and the latency).
    pub(super) invocation: Map<InvocationKey, (u64, Latency)>,
    /// App channel client and health probe series.
    pub(super) client: client::ClientData,
    /// Actor counters: (family, actor type, extra label value) → count.
    pub(super) actor: Map<(ActorFamily, Box<str>, &'static str), u64>,
}

/// An actor counter family (see [`ACTOR_FAMILIES`](super::render::ACTOR_FAMILIES)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActorFamily {
    /// `dapr_runtime_actor_rebalanced_total{actor_type}`.
    Rebalanced,
    /// `dapr_runtime_actor_deactivated_total{actor_type}`.
    Deactivated,
    /// `dapr_runtime_actor_deactivated_failed_total{actor_type}`.
    DeactivationFailed,
    /// `dapr_runtime_actor_timers_fired_total{actor_type,success}`.
    TimerFired,
    /// `dapr_runtime_actor_reminders_fired_total{actor_type,success}`.
    ReminderFired,
}

/// One service invocation series: the family (an index into
/// [`INVOCATION_FAMILIES`](super::render::INVOCATION_FAMILIES)) and its labels.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct InvocationKey {
    pub(super) family: u8,
    pub(super) app: Box<str>,
    pub(super) status: Option<i32>,
    pub(super) kind: &'static str,
}

impl Default for ShardData {
    fn default() -> Self {
        Self {
            http: Map::default(),
            http_sets: 0,
            grpc: Map::default(),
            grpc_sets: 0,
            grpc_bytes: Map::default(),
            req_bytes: Sizes::default(),
            resp_bytes: Sizes::default(),
            requests: 0,
            // 1 µs … 60 s at 3 significant digits.
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)
                .expect("constant histogram bounds are valid"),
            pubsub_in: Map::default(),
            pubsub_in_sets: 0,
            pubsub_out: Map::default(),
            pubsub_out_sets: 0,
            binding_out: Map::default(),
            binding_out_sets: 0,
            binding_in: Map::default(),
            binding_in_sets: 0,
            stores: Default::default(),
            invocation: Map::default(),
            client: client::ClientData::default(),
            actor: Map::default(),
        }
    }
}

/// One per-operation component family: operation → per (component,
/// success) series, capped like paths.
#[derive(Default)]
pub(super) struct Ops {
    pub(super) map: Map<Box<str>, Vec<TopicSeries>>,
    pub(super) sets: usize,
}

pub(super) struct HttpSeries {
    pub(super) method: Method,
    pub(super) status: u16,
    pub(super) count: u64,
    pub(super) latency: Latency,
}

pub(super) struct TopicSeries {
    pub(super) component: Box<str>,
    pub(super) outcome: &'static str,
    pub(super) count: u64,
    pub(super) latency: Latency,
}

pub(super) struct GrpcSeries {
    pub(super) code: &'static str,
    pub(super) count: u64,
    pub(super) latency: Latency,
}

impl Shard {
    pub(super) fn lock(&self) -> MutexGuard<'_, ShardData> {
        // A panic while holding the lock cannot leave the counters invalid.
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one served HTTP API request. `path` is the normalised label.
    pub fn record_http(
        &self,
        method: &Method,
        path: &str,
        status: u16,
        latency: Duration,
        req_bytes: u64,
        resp_bytes: u64,
    ) {
        let mut s = self.lock();
        let s = &mut *s;
        let series = series(
            &mut s.http,
            &mut s.http_sets,
            path,
            |e| e.status == status && e.method == *method,
            || HttpSeries {
                method: method.clone(),
                status,
                count: 0,
                latency: Latency::default(),
            },
        );
        if let Some(series) = series {
            tally(&mut series.count, &mut series.latency, latency);
        }
        s.req_bytes.observe(&SIZE_BUCKETS, req_bytes as f64);
        s.resp_bytes.observe(&SIZE_BUCKETS, resp_bytes as f64);
        record_worker(s, latency);
    }

    /// Records one served gRPC call. `method` is the full path, `code` the
    /// status name (grpc-go's code name: `OK`, `Canceled`, …).
    pub fn record_grpc(
        &self,
        method: &str,
        code: &'static str,
        latency: Duration,
        recv: u64,
        sent: u64,
    ) {
        let mut s = self.lock();
        let s = &mut *s;
        record_grpc_call(s, method, code, latency);
        record_worker(s, latency);
        let key = if s.grpc_bytes.contains_key(method) || s.grpc_bytes.len() < MAX_SERIES {
            method
        } else {
            OTHER
        };
        let bytes = match s.grpc_bytes.get_mut(key) {
            Some(b) => b,
            None => s.grpc_bytes.entry(key.into()).or_default(),
        };
        bytes.0.observe(&SIZE_BUCKETS, recv as f64);
        bytes.1.observe(&SIZE_BUCKETS, sent as f64);
    }

    /// Records one served call relayed by the transparent gRPC proxy: count
    /// and latency only, as Go's stream interceptor
    /// (`StreamServerRequestSent`), which records no bytes.
    pub fn record_grpc_proxied(&self, method: &str, code: &'static str, latency: Duration) {
        record_grpc_call(&mut self.lock(), method, code, latency);
    }

    /// Counts one served request in the per-worker view only (a call no
    /// Dapr family meters, such as a proxied call Go does not record).
    pub fn record_served(&self, latency: Duration) {
        record_worker(&mut self.lock(), latency);
    }

    /// Records one delivery attempt of a pub/sub message (`success`, `retry`, `drop`).
    pub fn record_pubsub_ingress(
        &self,
        component: &str,
        topic: &str,
        outcome: &'static str,
        latency: Duration,
    ) {
        self.record_event(
            |s| (&mut s.pubsub_in, &mut s.pubsub_in_sets),
            component,
            topic,
            outcome,
            latency,
        );
    }

    /// Records one output binding call (the API's, as Go counts them).
    pub fn record_output_binding(
        &self,
        component: &str,
        operation: &str,
        success: bool,
        latency: Duration,
    ) {
        self.record_event(
            |s| (&mut s.binding_out, &mut s.binding_out_sets),
            component,
            operation,
            success_label(success),
            latency,
        );
    }

    /// Records one input binding event delivered to the app.
    pub fn record_input_binding(&self, component: &str, success: bool, latency: Duration) {
        self.record_event(
            |s| (&mut s.binding_in, &mut s.binding_in_sets),
            component,
            "",
            success_label(success),
            latency,
        );
    }

    /// Records one call the API made into a state, secret or configuration
    /// store (`operation` is one of [`op`]'s names), as Go's
    /// `StateInvoked` / `SecretInvoked` / `ConfigurationInvoked`.
    pub fn record_store(
        &self,
        store: Store,
        component: &str,
        operation: &str,
        success: bool,
        latency: Duration,
    ) {
        self.record_event(
            |s| {
                let ops = &mut s.stores[store as usize];
                (&mut ops.map, &mut ops.sets)
            },
            component,
            operation,
            success_label(success),
            latency,
        );
    }

    /// Runs `call` into a store and records it with [`Shard::record_store`].
    pub async fn time_store<T, E>(
        &self,
        store: Store,
        component: &str,
        operation: &str,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let started = std::time::Instant::now();
        let result = call.await;
        self.record_store(
            store,
            component,
            operation,
            result.is_ok(),
            started.elapsed(),
        );
        result
    }

    fn record_invocation(
        &self,
        family: u8,
        app: &str,
        status: Option<i32>,
        kind: &'static str,
        latency: Option<Duration>,
    ) {
        let mut s = self.lock();
        let mut key = InvocationKey {
            family,
            app: app.into(),
            status,
            kind,
        };
        if !s.invocation.contains_key(&key) && s.invocation.len() >= MAX_SERIES {
            key.app = OTHER.into();
        }
        let slot = s.invocation.entry(key).or_default();
        slot.0 += 1;
        if let Some(l) = latency {
            slot.1.observe(&LATENCY_BUCKETS_MS, ms(l));
        }
    }

    /// Caller: a request sent to app `dst` (`unary` or `streaming`).
    pub fn record_invocation_sent(&self, dst: &str, kind: &'static str) {
        self.record_invocation(0, dst, None, kind, None);
    }

    /// Caller: the response of app `dst` with `status` (HTTP or gRPC code),
    /// `latency` after the request was sent (Go labels it `src_app_id`).
    pub fn record_invocation_response(
        &self,
        dst: &str,
        status: i32,
        kind: &'static str,
        latency: Duration,
    ) {
        self.record_invocation(3, dst, Some(status), kind, Some(latency));
    }

    /// Callee: a request received from app `src`.
    pub fn record_invocation_received(&self, src: &str) {
        self.record_invocation(1, src, None, "", None);
    }

    /// Callee: the response sent back to app `src` with `status`.
    pub fn record_invocation_answered(&self, src: &str, status: i32) {
        self.record_invocation(2, src, Some(status), "", None);
    }

    /// Records one publish to a pub/sub component.
    pub fn record_pubsub_egress(
        &self,
        component: &str,
        topic: &str,
        success: bool,
        latency: Duration,
    ) {
        self.record_event(
            |s| (&mut s.pubsub_out, &mut s.pubsub_out_sets),
            component,
            topic,
            success_label(success),
            latency,
        );
    }

    /// Adds one event to the component family `family` picks out of the
    /// shard: keyed by `label` (a topic, an operation), then component and
    /// outcome.
    /// Counts one actor event of `family` for `actor_type`, `label` the
    /// family's extra label value (`success`), if it has one.
    pub fn record_actor(&self, family: ActorFamily, actor_type: &str, label: &'static str) {
        let mut s = self.lock();
        if let Some(n) = s.actor.get_mut(&(family, actor_type.into(), label)) {
            *n += 1;
            return;
        }
        if s.actor.len() < MAX_SERIES {
            s.actor.insert((family, actor_type.into(), label), 1);
        }
    }

    /// An actor was deactivated.
    pub fn record_actor_deactivated(&self, actor_type: &str) {
        self.record_actor(ActorFamily::Deactivated, actor_type, "");
    }

    /// An actor's deactivation failed (Go's reason is not a label).
    pub fn record_actor_deactivation_failed(&self, actor_type: &str, _reason: &str) {
        self.record_actor(ActorFamily::DeactivationFailed, actor_type, "");
    }

    /// An actor was moved away by a placement update (Go's `ActorRebalanced`).
    pub fn record_actor_rebalanced(&self, actor_type: &str) {
        self.record_actor(ActorFamily::Rebalanced, actor_type, "");
    }

    /// An actor timer fired.
    pub fn record_actor_timer_fired(&self, actor_type: &str, success: bool) {
        self.record_actor(ActorFamily::TimerFired, actor_type, success_label(success));
    }

    fn record_event(
        &self,
        family: impl FnOnce(&mut ShardData) -> (&mut Map<Box<str>, Vec<TopicSeries>>, &mut usize),
        component: &str,
        label: &str,
        outcome: &'static str,
        latency: Duration,
    ) {
        let mut s = self.lock();
        let (map, sets) = family(&mut s);
        record_topic(map, sets, component, label, outcome, latency);
    }
}

/// Go's `success` label value.
fn success_label(success: bool) -> &'static str {
    if success {
        "true"
    } else {
        "false"
    }
}

/// Adds one event to a pub/sub family (keyed by topic, capped like paths).
fn record_topic(
    map: &mut Map<Box<str>, Vec<TopicSeries>>,
    sets: &mut usize,
    component: &str,
    topic: &str,
    outcome: &'static str,
    latency: Duration,
) {
    let series = series(
        map,
        sets,
        topic,
        |e| e.outcome == outcome && &*e.component == component,
        || TopicSeries {
            component: component.into(),
            outcome,
            count: 0,
            latency: Latency::default(),
        },
    );
    if let Some(series) = series {
        tally(&mut series.count, &mut series.latency, latency);
    }
}

/// The series for label `name` (interned on first sight; `_other` once a
/// family holds [`MAX_SERIES`] label sets) whose remaining labels satisfy
/// `matches`, created with `make` if absent.
pub(super) fn series<'a, S>(
    map: &'a mut Map<Box<str>, Vec<S>>,
    sets: &mut usize,
    name: &str,
    matches: impl Fn(&S) -> bool,
    make: impl FnOnce() -> S,
) -> Option<&'a mut S> {
    let name = if map.contains_key(name) || *sets < MAX_SERIES {
        name
    } else {
        OTHER
    };
    // Only a label never seen before allocates its key.
    let entries = if map.contains_key(name) {
        map.get_mut(name)?
    } else {
        map.entry(name.into()).or_default()
    };
    let i = match entries.iter().position(matches) {
        Some(i) => i,
        None => {
            *sets += 1;
            entries.push(make());
            entries.len() - 1
        }
    };
    entries.get_mut(i)
}

/// A served gRPC call's count and latency, by method and status.
fn record_grpc_call(s: &mut ShardData, method: &str, code: &'static str, latency: Duration) {
    let series = series(
        &mut s.grpc,
        &mut s.grpc_sets,
        method,
        |e| e.code == code,
        || GrpcSeries {
            code,
            count: 0,
            latency: Latency::default(),
        },
    );
    if let Some(series) = series {
        tally(&mut series.count, &mut series.latency, latency);
    }
}

/// A duration in (fractional) milliseconds, the unit of the latency families.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Counts one event in a series: its count and its latency histogram.
pub(super) fn tally(count: &mut u64, histogram: &mut Latency, latency: Duration) {
    *count += 1;
    histogram.observe(&LATENCY_BUCKETS_MS, ms(latency));
}

fn record_worker(s: &mut ShardData, latency: Duration) {
    s.requests += 1;
    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    s.latency_us.saturating_record(us.max(1));
}
