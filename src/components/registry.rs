//! The component registry: `spec.type` + `spec.version` → factory, and the
//! per-worker component store built from the factories.
//!
//! Adding a component is one line in [`build_factory`]. Factories are
//! built once on the main thread (`Send + Sync`, shared in an `Arc`); each
//! worker calls [`Factories::instantiate`] to get its own `Rc` instances.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::pubsub::in_memory::InMemoryPubSubFactory;
use super::pubsub::redis::RedisPubSubFactory;
use super::pubsub::PubSubDyn;
use super::state::in_memory::InMemoryFactory;
use super::state::redis::RedisStateFactory;
use super::state::StateStoreDyn;
use super::Metadata;
use crate::config::resources::{Component, MetadataValue};

/// A factory for one loaded component.
pub enum Factory {
    /// `state.in-memory`
    InMemoryState(InMemoryFactory),
    /// `state.redis`
    RedisState(RedisStateFactory),
    /// `pubsub.in-memory`
    InMemoryPubSub(InMemoryPubSubFactory),
    /// `pubsub.redis`
    RedisPubSub(RedisPubSubFactory),
}

/// A component the registry does not know, or cannot build.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Unknown type or version.
    #[error("{file}: component {name:?}: unknown component type {kind}/{version}")]
    UnknownType {
        /// Source file.
        file: String,
        /// Component name.
        name: String,
        /// `spec.type`.
        kind: String,
        /// `spec.version`.
        version: String,
    },
    /// The component rejected its metadata or could not reach its backend.
    #[error("{file}: component {name:?} ({kind}/{version}): initialization failed: {message}")]
    Init {
        /// Source file.
        file: String,
        /// Component name.
        name: String,
        /// `spec.type`.
        kind: String,
        /// `spec.version`.
        version: String,
        /// What went wrong.
        message: String,
    },
    /// A `secretKeyRef` cannot be resolved (no secret stores yet).
    #[error("{file}: component {name:?}: metadata {item:?} uses secretKeyRef {secret:?}, but secret stores are not supported yet")]
    SecretRef {
        /// Source file.
        file: String,
        /// Component name.
        name: String,
        /// Metadata item.
        item: String,
        /// Secret name.
        secret: String,
    },
}

/// One registered component: its spec and its factory.
pub struct Registered {
    /// `metadata.name`.
    pub name: String,
    /// `spec.type`.
    pub kind: String,
    /// `spec.version`.
    pub version: String,
    /// Resolved metadata.
    pub metadata: Metadata,
    /// The factory.
    pub factory: Factory,
}

/// Every component's factory (`Send + Sync`).
#[derive(Default)]
pub struct Factories {
    /// In load order.
    pub components: Vec<Registered>,
}

/// Builds the factory for `c`, or explains why not.
fn build_factory(
    c: &Component,
    metadata: &Metadata,
    app_id: &str,
) -> Result<Option<Factory>, RegistryError> {
    Ok(match (c.kind.as_str(), c.version.as_str()) {
        ("state.in-memory", "v1") => Some(Factory::InMemoryState(InMemoryFactory::new(metadata))),
        ("state.redis", "v1") => Some(Factory::RedisState(
            RedisStateFactory::new(metadata).map_err(|message| init_error(c, message))?,
        )),
        ("pubsub.in-memory", "v1") => Some(Factory::InMemoryPubSub(InMemoryPubSubFactory::new(
            metadata,
        ))),
        ("pubsub.redis", "v1") => Some(Factory::RedisPubSub(
            RedisPubSubFactory::new(metadata, app_id).map_err(|message| init_error(c, message))?,
        )),
        _ => None,
    })
}

fn init_error(c: &Component, message: String) -> RegistryError {
    RegistryError::Init {
        file: c.source.display().to_string(),
        name: c.name.clone(),
        kind: c.kind.clone(),
        version: c.version.clone(),
        message,
    }
}

impl Factories {
    /// Builds factories for every loaded component. Components with
    /// `ignoreErrors` that fail are logged and skipped.
    pub fn build(components: &[Component], app_id: &str) -> Result<Factories, RegistryError> {
        let mut out = Factories::default();
        for c in components {
            let result =
                resolve_metadata(c).and_then(|md| Ok((build_factory(c, &md, app_id)?, md)));
            let (factory, metadata) = match result {
                Ok((Some(f), md)) => (f, md),
                Ok((None, _)) => {
                    let err = RegistryError::UnknownType {
                        file: c.source.display().to_string(),
                        name: c.name.clone(),
                        kind: c.kind.clone(),
                        version: c.version.clone(),
                    };
                    if c.ignore_errors || is_not_built_yet(&c.kind) {
                        // A block we do not build yet must not stop the sidecar.
                        tracing::warn!(component = %c.name, kind = %c.kind, "{err}; skipped");
                        continue;
                    }
                    return Err(err);
                }
                Err(e) if c.ignore_errors => {
                    tracing::warn!(component = %c.name, "{e}; skipped (ignoreErrors)");
                    continue;
                }
                Err(e) => return Err(e),
            };
            tracing::info!(component = %c.name, kind = %c.kind, version = %c.version, "component loaded");
            out.components.push(Registered {
                name: c.name.clone(),
                kind: c.kind.clone(),
                version: c.version.clone(),
                metadata,
                factory,
            });
        }
        Ok(out)
    }

    /// This worker's instances.
    pub fn instantiate(self: &Arc<Self>) -> ComponentStore {
        let mut store = ComponentStore::default();
        for r in &self.components {
            match &r.factory {
                Factory::InMemoryState(f) => {
                    store.state.insert(r.name.clone(), Rc::new(f.build()));
                }
                Factory::RedisState(f) => {
                    store.state.insert(r.name.clone(), Rc::new(f.build()));
                }
                Factory::InMemoryPubSub(f) => {
                    store.pubsub.insert(r.name.clone(), Rc::new(f.build()));
                }
                Factory::RedisPubSub(f) => {
                    store.pubsub.insert(r.name.clone(), Rc::new(f.build()));
                }
            }
        }
        store
    }
}

/// Categories whose components are accepted but not instantiated yet.
fn is_not_built_yet(kind: &str) -> bool {
    [
        "pubsub.",
        "bindings.",
        "secretstores.",
        "configuration.",
        "lock.",
        "middleware.",
        "nameresolution.",
        "crypto.",
        "conversation.",
        "workflow.",
    ]
    .iter()
    .any(|p| kind.starts_with(p))
}

fn resolve_metadata(c: &Component) -> Result<Metadata, RegistryError> {
    let mut map = HashMap::with_capacity(c.metadata.len());
    for item in &c.metadata {
        match &item.value {
            MetadataValue::Plain(v) => {
                map.insert(item.name.clone(), v.clone());
            }
            MetadataValue::SecretRef { name, .. } => {
                return Err(RegistryError::SecretRef {
                    file: c.source.display().to_string(),
                    name: c.name.clone(),
                    item: item.name.clone(),
                    secret: name.clone(),
                })
            }
        }
    }
    Ok(Metadata(map))
}

/// A worker's live component instances, by name. Lives in the worker's
/// `Ctx`; lookups take no lock.
#[derive(Default)]
pub struct ComponentStore {
    /// State stores.
    pub state: HashMap<String, Rc<dyn StateStoreDyn>>,
    /// Pub/sub brokers.
    pub pubsub: HashMap<String, Rc<dyn PubSubDyn>>,
}
