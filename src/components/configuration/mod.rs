//! Configuration stores: the trait, its object-safe form, the shared table
//! of live subscriptions, and the built-in store (`configuration.redis`).
//!
//! A store answers reads of items (value, optional version, metadata) by
//! key, all of them when no key is named, and pushes changes to an
//! [`UpdateHandler`] for as long as a subscription lives. A subscription
//! runs on the worker that made it; it ends when [`ConfigurationStore::unsubscribe`]
//! names its id — through any worker, since the id → stop-latch table
//! ([`Subscriptions`]) is shared by all of a component's instances, as Go's
//! one component instance is — or when that worker drains.

pub mod redis;

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use dashmap::DashMap;
use serde::Serialize;

use super::state::LocalFuture;
use super::{ComponentError, ComponentErrorKind};
use crate::net::shutdown::{Drain, Latch};

/// One configuration item. Serialises as Go's contrib `Item`: every field
/// `omitempty`, so a bare value prints as `{"value":"…"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Item {
    /// The value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Its version (empty when the store keeps none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Item metadata.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// Items by key, sorted (Go's JSON encoder sorts map keys).
pub type Items = BTreeMap<String, Item>;

/// Read items.
#[derive(Clone, Debug, Default)]
pub struct GetRequest {
    /// Keys to read; empty reads every item.
    pub keys: Vec<String>,
    /// Request metadata.
    pub metadata: HashMap<String, String>,
}

/// Watch items.
#[derive(Clone)]
pub struct SubscribeRequest {
    /// Keys to watch; empty watches every item.
    pub keys: Vec<String>,
    /// Request metadata.
    pub metadata: HashMap<String, String>,
    /// The subscription ends when this latch closes (the worker's drain).
    pub drain: Drain,
}

/// A change, as Go's `UpdateEvent`: the subscription id and the changed
/// items (a deleted item is an empty one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpdateEvent {
    /// The subscription id.
    pub id: String,
    /// The changed items.
    pub items: Items,
}

/// Receives a subscription's changes (worker-local).
pub trait UpdateHandler {
    /// Handles one change; the store waits for it before the next.
    fn update(&self, event: UpdateEvent) -> LocalFuture<'_, ()>;
}

/// A configuration store. Instances live on one worker; no `Send` bounds.
#[allow(async_fn_in_trait)] // thread-per-core: futures are intentionally !Send
pub trait ConfigurationStore {
    /// Reads items; keys that do not exist are left out.
    async fn get(&self, req: GetRequest) -> Result<Items, ComponentError>;
    /// Starts pushing changes to `handler`; returns the subscription id.
    async fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Rc<dyn UpdateHandler>,
    ) -> Result<String, ComponentError>;
    /// Ends the subscription `id`, made on any worker. Synchronous: it
    /// signals the subscription's watcher, which releases what it holds on
    /// its own worker (so it can also run from a `Drop`).
    fn unsubscribe(&self, id: &str) -> Result<(), ComponentError>;
}

/// The object-safe form of [`ConfigurationStore`] held by the component store.
#[allow(missing_docs)] // mirrors ConfigurationStore one to one
pub trait ConfigurationStoreDyn {
    fn get(&self, req: GetRequest) -> LocalFuture<'_, Result<Items, ComponentError>>;
    fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Rc<dyn UpdateHandler>,
    ) -> LocalFuture<'_, Result<String, ComponentError>>;
    fn unsubscribe(&self, id: &str) -> Result<(), ComponentError>;
}

impl<T: ConfigurationStore> ConfigurationStoreDyn for T {
    fn get(&self, req: GetRequest) -> LocalFuture<'_, Result<Items, ComponentError>> {
        Box::pin(ConfigurationStore::get(self, req))
    }
    fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Rc<dyn UpdateHandler>,
    ) -> LocalFuture<'_, Result<String, ComponentError>> {
        Box::pin(ConfigurationStore::subscribe(self, req, handler))
    }
    fn unsubscribe(&self, id: &str) -> Result<(), ComponentError> {
        ConfigurationStore::unsubscribe(self, id)
    }
}

/// A component's live subscriptions: id → stop latch, shared by every
/// worker's instance (a deliberate cross-core structure: an unsubscribe may
/// arrive on any core). Touched only on subscribe and unsubscribe.
#[derive(Default)]
pub struct Subscriptions {
    live: DashMap<String, Arc<Latch>>,
}

impl Subscriptions {
    /// Registers `id`; the returned latch opens when it is cancelled.
    pub fn add(&self, id: &str) -> Arc<Latch> {
        let latch = Arc::new(Latch::default());
        self.live.insert(id.to_owned(), latch.clone());
        latch
    }

    /// Stops `id`; Go's error when there is no such subscription.
    pub fn cancel(&self, id: &str) -> Result<(), ComponentError> {
        match self.live.remove(id) {
            Some((_, latch)) => {
                latch.trigger();
                Ok(())
            }
            None => Err(ComponentError::new(
                ComponentErrorKind::InvalidInput,
                format!("subscription with id {id} does not exist"),
            )),
        }
    }

    /// Forgets `id` (the subscription ended by itself).
    pub fn remove(&self, id: &str) {
        self.live.remove(id);
    }

    /// The number of live subscriptions.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

/// Splits a stored `value||version` as contrib's Redis store does: the text
/// before the first `||` is the value, the text between it and the next
/// `||` the version (anything after is ignored).
pub fn split_value_version(raw: &str) -> (String, String) {
    let mut parts = raw.split("||");
    let value = parts.next().unwrap_or_default().to_owned();
    let version = parts.next().unwrap_or_default().to_owned();
    (value, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_versions_split_as_go() {
        let s = |r| split_value_version(r);
        assert_eq!(s("102||1"), ("102".into(), "1".into()));
        assert_eq!(s("v"), ("v".into(), "".into()));
        assert_eq!(s("a||b||c"), ("a".into(), "b".into()));
        assert_eq!(s("||7"), ("".into(), "7".into()));
        assert_eq!(s(""), ("".into(), "".into()));
    }

    #[test]
    fn items_print_like_go() {
        let mut items = Items::new();
        items.insert(
            "orderId2".into(),
            Item {
                value: "102".into(),
                ..Default::default()
            },
        );
        items.insert(
            "a".into(),
            Item {
                value: "1".into(),
                version: "2".into(),
                metadata: [("m".to_string(), "x".to_string())].into(),
            },
        );
        items.insert("gone".into(), Item::default());
        assert_eq!(
            serde_json::to_string(&items).unwrap(),
            r#"{"a":{"value":"1","version":"2","metadata":{"m":"x"}},"gone":{},"orderId2":{"value":"102"}}"#
        );
    }

    #[test]
    fn cancel_unknown_is_gos_error() {
        let subs = Subscriptions::default();
        let latch = subs.add("x");
        assert!(!latch.is_triggered());
        subs.cancel("x").unwrap();
        assert!(latch.is_triggered());
        assert_eq!(
            subs.cancel("x").unwrap_err().to_string(),
            "subscription with id x does not exist"
        );
    }
}
