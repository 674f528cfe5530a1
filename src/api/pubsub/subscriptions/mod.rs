//! Subscriptions: which topics reach the app, on which path, and how.
//!
//! Sources (`discover`): declarative `Subscription` resources (v1alpha1
//! `route`, v2alpha1 `routes`) loaded at start-up, and programmatic ones the
//! app lists at `GET /dapr/subscribe` once it is reachable. The merged set
//! lives in [`Registry`] (shared by all workers; written once, read by the
//! metadata API). When it is published the registry's latch opens, and every
//! worker subscribes its own broker instances (`start_worker`): a
//! process-local broker on every worker, a networked one on exactly one
//! worker per subscription, picked by hashing pubsub and topic.
//!
//! Delivery (`deliver`) wraps and routes each message, POSTs it to the app
//! and reads the app's answer as Go does. `cloudevent` builds and reads the
//! envelopes; `rules` evaluates routing expressions.

pub mod cloudevent;
pub mod deliver;
pub mod discover;
pub mod rules;
pub mod streaming;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};

use crate::api::Ctx;
use crate::components::pubsub::{Delivery, Scope, SubscribeRequest};
use crate::net::shutdown::Latch;
use rules::Rule;

/// Where a subscription came from (the metadata API's `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `Subscription` resource.
    Declarative,
    /// Listed by the app at `GET /dapr/subscribe`.
    Programmatic,
    /// A gRPC streaming subscription.
    Streaming,
}

impl Kind {
    /// The metadata API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Declarative => "DECLARATIVE",
            Kind::Programmatic => "PROGRAMMATIC",
            Kind::Streaming => "STREAMING",
        }
    }
}

/// One subscription.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// The pub/sub component.
    pub pubsub: String,
    /// The topic.
    pub topic: String,
    /// Routing rules in order; the default route is last and always matches.
    pub rules: Vec<Rule>,
    /// Where undeliverable messages go.
    pub dead_letter_topic: Option<String>,
    /// Subscription metadata (`rawPayload`, …), passed to the broker.
    pub metadata: HashMap<String, String>,
    /// Its source.
    pub kind: Kind,
}

impl Subscription {
    /// Whether the broker carries raw payloads rather than CloudEvents.
    pub fn raw_payload(&self) -> bool {
        self.metadata
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("rawPayload") && parse_go_bool(v) == Some(true))
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The subscription set, shared by every worker.
#[derive(Default)]
pub struct Registry {
    list: Mutex<Vec<Arc<Subscription>>>,
    ready: Latch,
}

impl Registry {
    /// Publishes the start-up set and lets every worker subscribe. Later
    /// calls are ignored (the set is fixed until hot reload exists).
    pub fn publish(&self, subs: Vec<Subscription>) {
        if self.ready.is_triggered() {
            return;
        }
        // Streaming subscriptions may already be listed; the start-up set goes first.
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .splice(0..0, subs.into_iter().map(Arc::new));
        self.ready.trigger();
    }

    /// Lists a subscription made at run time (a streaming one).
    pub fn add(&self, sub: Arc<Subscription>) {
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sub);
    }

    /// Unlists a run-time subscription.
    pub fn remove(&self, sub: &Arc<Subscription>) {
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|s| !Arc::ptr_eq(s, sub));
    }

    /// The current set (cold path: the metadata API).
    pub fn list(&self) -> Vec<Arc<Subscription>> {
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Resolves once the start-up set is published.
    pub async fn ready(&self) {
        self.ready.wait().await;
    }
}

/// Which worker consumes a subscription on a networked broker.
fn owner(sub: &Subscription, workers: usize) -> usize {
    owner_of(&sub.pubsub, &sub.topic, workers)
}

/// Which worker consumes `topic` of `pubsub` on a networked broker.
pub fn owner_of(pubsub: &str, topic: &str, workers: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (pubsub, topic).hash(&mut h);
    (h.finish() % workers.max(1) as u64) as usize
}

/// A worker's part: once the set is published, subscribe this worker's
/// broker instances to the subscriptions it serves.
pub async fn start_worker(ctx: Rc<Ctx>) {
    let registry = &ctx.shared.subscriptions;
    monoio::select! {
        _ = registry.ready() => {},
        _ = ctx.drain.closing() => return,
    }
    if ctx.app.is_none() {
        return;
    }
    let workers = ctx.shared.opts.workers.max(1);
    for sub in registry.list() {
        let Some(pref) = ctx.components.pubsub.get(&sub.pubsub) else {
            if ctx.worker == 0 {
                tracing::warn!(pubsub = %sub.pubsub, topic = %sub.topic, "subscription names a pub/sub component that is not loaded; skipped");
            }
            continue;
        };
        if !pref.scopes.can_subscribe(&sub.topic) {
            if ctx.worker == 0 {
                tracing::warn!(pubsub = %sub.pubsub, topic = %sub.topic, app_id = %ctx.shared.opts.app_id, "subscribing to this topic is not allowed for this app; skipped");
            }
            continue;
        }
        let broker = &pref.broker;
        if broker.delivery() == Delivery::OneWorker && owner(&sub, workers) != ctx.worker {
            continue;
        }
        let handler = Rc::new(deliver::Deliverer::new(&ctx, sub.clone()));
        let req = SubscribeRequest {
            topic: sub.topic.clone(),
            metadata: sub.metadata.clone(),
            drain: ctx.drain.clone(),
            scope: Scope::ThisWorker,
        };
        match broker.subscribe(req, handler).await {
            Ok(()) => {
                if ctx.worker == 0 || broker.delivery() == Delivery::OneWorker {
                    tracing::info!(pubsub = %sub.pubsub, topic = %sub.topic, "subscribed");
                }
            }
            Err(e) => {
                tracing::error!(pubsub = %sub.pubsub, topic = %sub.topic, error = %e, "subscribing failed")
            }
        }
    }
}
