//! The pub/sub trait, its object-safe form, and the built-in brokers.
//!
//! A broker publishes bytes to a topic and delivers a topic's messages to a
//! [`MessageHandler`]. The pub/sub building block above (its subscriptions)
//! owns everything Dapr layers on top: CloudEvent envelopes, routing rules, retries, dead
//! letters. A handler answers [`Handled::Ack`] when the message is finished
//! with (delivered, dropped or dead-lettered) and [`Handled::Nack`] when the
//! broker should deliver it again by its own rules.
//!
//! Where delivery runs ([`Delivery`]): a process-local bus delivers on the
//! publishing worker, so every worker subscribes; a networked broker runs
//! exactly one consumer per subscription, on the one worker the runtime
//! picks, so the app never sees a message twice.

pub mod in_memory;
pub mod redis;

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;

use super::state::LocalFuture;
use super::ComponentError;
use crate::net::shutdown::Drain;

/// Capabilities a broker announces (Dapr's feature names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features(u32);

impl Features {
    /// The broker expires messages itself (`ttlInSeconds`).
    pub const MESSAGE_TTL: Features = Features(1);
    /// Topic patterns with wildcards.
    pub const SUBSCRIBE_WILDCARDS: Features = Features(1 << 1);

    /// The union of two sets.
    pub const fn with(self, other: Features) -> Features {
        Features(self.0 | other.0)
    }

    /// Whether every feature of `other` is present.
    pub const fn has(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }

    /// Dapr's capability names, as the metadata API lists them.
    pub fn names(self) -> Vec<String> {
        [
            (Self::MESSAGE_TTL, "MESSAGE_TTL"),
            (Self::SUBSCRIBE_WILDCARDS, "SUBSCRIBE_WILDCARDS"),
        ]
        .iter()
        .filter(|(f, _)| self.has(*f))
        .map(|(_, n)| (*n).to_owned())
        .collect()
    }
}

/// Where a broker's deliveries run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// On the publishing worker: every worker subscribes.
    PublishingWorker,
    /// One consumer per subscription, on one worker.
    OneWorker,
}

/// A message to publish.
#[derive(Clone, Debug, Default)]
pub struct PublishRequest {
    /// The topic.
    pub topic: String,
    /// The bytes (usually a CloudEvent JSON document).
    pub data: Bytes,
    /// Content type of `data`.
    pub content_type: Option<String>,
    /// Request metadata (`ttlInSeconds`, …).
    pub metadata: HashMap<String, String>,
}

/// A message a broker delivers.
#[derive(Clone, Debug, Default)]
pub struct Message {
    /// The topic it arrived on.
    pub topic: String,
    /// Its bytes.
    pub data: Bytes,
    /// Content type, when the broker carries one.
    pub content_type: Option<String>,
    /// Broker metadata.
    pub metadata: HashMap<String, String>,
}

/// What the runtime made of a delivered message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// Finished with: acknowledge it.
    Ack,
    /// Not processed: the broker redelivers it by its own rules.
    Nack,
}

/// Receives a subscription's messages (worker-local).
pub trait MessageHandler {
    /// Handles one message.
    fn handle(&self, msg: Message) -> LocalFuture<'_, Handled>;
}

/// Which publishes a subscription on a [`Delivery::PublishingWorker`]
/// broker sees (a [`Delivery::OneWorker`] broker consumes on the worker
/// that subscribes, whatever the scope).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// Publishes made on this worker (every worker subscribes its own).
    #[default]
    ThisWorker,
    /// Publishes made on any worker, handed to this one (a streaming
    /// subscription lives on the worker holding its gRPC stream).
    AllWorkers,
}

/// Start delivering a topic.
#[derive(Clone)]
pub struct SubscribeRequest {
    /// The topic (or pattern).
    pub topic: String,
    /// Subscription metadata.
    pub metadata: HashMap<String, String>,
    /// Consuming stops when this latch closes (the worker's, or the
    /// subscription's own).
    pub drain: Drain,
    /// Which publishes it sees.
    pub scope: Scope,
}

/// A message broker. Instances live on one worker; no `Send` bounds.
#[allow(async_fn_in_trait)] // thread-per-core: futures are intentionally !Send
pub trait PubSub {
    /// What the broker supports.
    fn features(&self) -> Features;
    /// Where its deliveries run.
    fn delivery(&self) -> Delivery;
    /// Publishes one message.
    async fn publish(&self, req: PublishRequest) -> Result<(), ComponentError>;
    /// Starts delivering `req.topic` to `handler` until the drain latch closes.
    async fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Rc<dyn MessageHandler>,
    ) -> Result<(), ComponentError>;
}

/// The object-safe form of [`PubSub`] held by the component store.
#[allow(missing_docs)] // mirrors PubSub one to one
pub trait PubSubDyn {
    fn features(&self) -> Features;
    fn delivery(&self) -> Delivery;
    fn publish(&self, req: PublishRequest) -> LocalFuture<'_, Result<(), ComponentError>>;
    fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Rc<dyn MessageHandler>,
    ) -> LocalFuture<'_, Result<(), ComponentError>>;
}

impl<T: PubSub> PubSubDyn for T {
    fn features(&self) -> Features {
        PubSub::features(self)
    }
    fn delivery(&self) -> Delivery {
        PubSub::delivery(self)
    }
    fn publish(&self, req: PublishRequest) -> LocalFuture<'_, Result<(), ComponentError>> {
        Box::pin(PubSub::publish(self, req))
    }
    fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Rc<dyn MessageHandler>,
    ) -> LocalFuture<'_, Result<(), ComponentError>> {
        Box::pin(PubSub::subscribe(self, req, handler))
    }
}

/// MQTT-style topic matching: `+` matches one level, a trailing `#` the rest.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    if !pattern.contains(['+', '#']) {
        return pattern == topic;
    }
    let mut pat = pattern.split('/');
    let mut top = topic.split('/');
    loop {
        match (pat.next(), top.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(p), Some(t)) if p == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_mqtt() {
        assert!(topic_matches("orders", "orders"));
        assert!(!topic_matches("orders", "orders2"));
        assert!(topic_matches("a/+/c", "a/b/c"));
        assert!(!topic_matches("a/+/c", "a/b/d"));
        assert!(topic_matches("a/#", "a/b/c"));
        assert!(topic_matches("#", "x"));
        assert!(!topic_matches("a/+", "a/b/c"));
    }
}
