//! The component registry: `spec.type` + `spec.version` → factory, and the
//! per-worker component store built from the factories.
//!
//! Adding a component is one line in [`build_factory`]. Factories are
//! built once on the main thread (`Send + Sync`, shared in an `Arc`); each
//! worker calls [`Factories::instantiate`] to get its own `Rc` instances.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::bindings::cron::CronFactory;
use super::bindings::http::HttpBindingFactory;
use super::bindings::localstorage::LocalStorageFactory;
use super::bindings::postgres::PostgresBindingFactory;
use super::bindings::redis::RedisBindingFactory;
use super::bindings::{InputBindingDyn, OutputBindingDyn};
use super::configuration::redis::RedisConfigurationFactory;
use super::configuration::ConfigurationStoreDyn;
use super::lock::in_memory::InMemoryLockFactory;
use super::lock::redis::RedisLockFactory;
use super::lock::{KeyPrefix, LockStoreDyn};
use super::pubsub::in_memory::InMemoryPubSubFactory;
use super::pubsub::redis::RedisPubSubFactory;
use super::pubsub::PubSubDyn;
use super::secretstores::local_env::LocalEnvFactory;
use super::secretstores::local_file::LocalFileFactory;
use super::secretstores::{GetSecretRequest, SecretLookup, SecretStoreDyn};
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
    /// `secretstores.local.file`
    LocalFileSecretStore(LocalFileFactory),
    /// `secretstores.local.env`
    LocalEnvSecretStore(LocalEnvFactory),
    /// `bindings.cron` (input)
    CronBinding(CronFactory),
    /// `bindings.http` (output)
    HttpBinding(HttpBindingFactory),
    /// `bindings.redis` (output)
    RedisBinding(RedisBindingFactory),
    /// `bindings.localstorage` (output)
    LocalStorageBinding(LocalStorageFactory),
    /// `bindings.postgresql` / `bindings.postgres` (output)
    PostgresBinding(PostgresBindingFactory),
    /// `lock.redis`
    RedisLock(RedisLockFactory),
    /// `lock.in-memory` (ours)
    InMemoryLock(InMemoryLockFactory),
    /// `configuration.redis`
    RedisConfiguration(RedisConfigurationFactory),
    /// `middleware.http.*`: shared by every worker as it is, and run by the
    /// pipelines that name it.
    HttpMiddleware(Arc<crate::components::middleware::Middleware>),
}

impl Factory {
    /// The synchronous read of a secret store's factory (`None` for other blocks).
    pub fn secret_lookup(&self) -> Option<&dyn SecretLookup> {
        match self {
            Factory::LocalFileSecretStore(f) => Some(f),
            Factory::LocalEnvSecretStore(f) => Some(f),
            _ => None,
        }
    }
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
    /// A `secretKeyRef` cannot be resolved through the component's
    /// `auth.secretStore`.
    #[error(transparent)]
    SecretRef(Box<SecretRefError>),
}

/// A `secretKeyRef` that cannot be resolved: names the file, the
/// component, the store, the secret and the key.
#[derive(Debug, thiserror::Error)]
#[error("{file}: component {name:?}: metadata {item:?}: cannot resolve secretKeyRef {secret:?} key {key:?} from secret store {store:?}: {reason}")]
pub struct SecretRefError {
    /// Source file.
    pub file: String,
    /// Component name.
    pub name: String,
    /// Metadata item.
    pub item: String,
    /// `auth.secretStore` (empty when unset).
    pub store: String,
    /// Secret name.
    pub secret: String,
    /// Key inside the secret.
    pub key: String,
    /// What went wrong.
    pub reason: String,
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
    /// Components that failed and were skipped (`ignoreErrors`), in load order.
    pub skipped: Vec<Skipped>,
}

/// A component that failed to start and was skipped because of its `ignoreErrors`.
#[derive(Debug)]
pub struct Skipped {
    /// `metadata.name`.
    pub name: String,
    /// `spec.type`.
    pub kind: String,
    /// Where it failed.
    pub stage: FailedStage,
}

/// Where a component failed to start (Go's init failure `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedStage {
    /// No implementation of its type and version (Go's `creation`).
    Creation,
    /// Its metadata or secrets were refused (Go's `init`).
    Init,
}

/// Builds the factory for `c`, or explains why not.
fn build_factory(
    c: &Component,
    metadata: &Metadata,
    app_id: &str,
) -> Result<Option<Factory>, RegistryError> {
    // Go looks types and versions up case-insensitively, and serves an
    // empty version, `v0` and `v1` from the first (here: only) version.
    let kind = c.kind.to_ascii_lowercase();
    let version = match c.version.to_ascii_lowercase() {
        v if v.is_empty() || v == "v0" => "v1".to_owned(),
        v => v,
    };
    Ok(match (kind.as_str(), version.as_str()) {
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
        ("secretstores.local.file", "v1") => Some(Factory::LocalFileSecretStore(
            LocalFileFactory::new(metadata).map_err(|message| init_error(c, message))?,
        )),
        ("secretstores.local.env", "v1") => {
            Some(Factory::LocalEnvSecretStore(LocalEnvFactory::new(metadata)))
        }
        ("bindings.cron", "v1") => Some(Factory::CronBinding(
            CronFactory::new(&c.name, metadata).map_err(|message| init_error(c, message))?,
        )),
        ("bindings.http", "v1") => Some(Factory::HttpBinding(
            HttpBindingFactory::new(metadata).map_err(|message| init_error(c, message))?,
        )),
        ("bindings.redis", "v1") => Some(Factory::RedisBinding(
            RedisBindingFactory::new(metadata).map_err(|message| init_error(c, message))?,
        )),
        ("bindings.localstorage", "v1") => Some(Factory::LocalStorageBinding(
            LocalStorageFactory::new(metadata).map_err(|message| init_error(c, message))?,
        )),
        ("bindings.postgresql" | "bindings.postgres", "v1") => Some(Factory::PostgresBinding(
            PostgresBindingFactory::new(metadata).map_err(|message| init_error(c, message))?,
        )),
        ("lock.redis", "v1") => Some(Factory::RedisLock(
            lock_prefix_checked(metadata)
                .and_then(|()| RedisLockFactory::new(metadata))
                .map_err(|message| init_error(c, message))?,
        )),
        ("lock.in-memory", "v1") => Some(Factory::InMemoryLock(
            lock_prefix_checked(metadata)
                .map(|()| InMemoryLockFactory::new())
                .map_err(|message| init_error(c, message))?,
        )),
        ("configuration.redis", "v1") => Some(Factory::RedisConfiguration(
            RedisConfigurationFactory::new(metadata).map_err(|message| init_error(c, message))?,
        )),
        (kind, "v1") if kind.starts_with("middleware.http.") => {
            match crate::components::middleware::Middleware::build(kind, metadata) {
                Some(built) => Some(Factory::HttpMiddleware(Arc::new(
                    built.map_err(|message| init_error(c, message))?,
                ))),
                None => None,
            }
        }
        _ => None,
    })
}

/// A lock store's `keyPrefix` must be usable (Go fails the component's init).
fn lock_prefix_checked(metadata: &Metadata) -> Result<(), String> {
    KeyPrefix::parse(metadata).map(drop)
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
    ///
    /// Secret stores are built first (in load order), so every other
    /// component's `secretKeyRef` resolves, here on the main thread, through
    /// its `auth.secretStore`; a store, secret or key that is missing fails
    /// start-up. (Go parks such components until the store appears and
    /// leaves a missing secret's value empty.)
    pub fn build(components: &[Component], app_id: &str) -> Result<Factories, RegistryError> {
        let mut out = Factories::default();
        let (secret_stores, others): (Vec<&Component>, Vec<&Component>) = components
            .iter()
            .partition(|c| c.kind.to_ascii_lowercase().starts_with("secretstores."));
        for c in secret_stores.into_iter().chain(others) {
            let result = resolve_metadata(c, &out.components)
                .and_then(|md| Ok((build_factory(c, &md, app_id)?, md)));
            let (factory, metadata) = match result {
                Ok((Some(f), md)) => (f, md),
                Ok((None, _)) => {
                    let err = RegistryError::UnknownType {
                        file: c.source.display().to_string(),
                        name: c.name.clone(),
                        kind: c.kind.clone(),
                        version: c.version.clone(),
                    };
                    if is_not_built_yet(&c.kind.to_ascii_lowercase()) {
                        // A block we do not build yet must not stop the sidecar.
                        tracing::warn!(component = %c.name, kind = %c.kind, "{err}; skipped");
                        continue;
                    }
                    if c.ignore_errors {
                        tracing::warn!(component = %c.name, kind = %c.kind, "{err}; skipped");
                        out.skip(c, FailedStage::Creation);
                        continue;
                    }
                    return Err(err);
                }
                Err(e) if c.ignore_errors => {
                    tracing::warn!(component = %c.name, "{e}; skipped (ignoreErrors)");
                    out.skip(c, FailedStage::Init);
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

    fn skip(&mut self, c: &Component, stage: FailedStage) {
        self.skipped.push(Skipped {
            name: c.name.clone(),
            kind: c.kind.clone(),
            stage,
        });
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
                Factory::LocalFileSecretStore(f) => {
                    store.secrets.insert(r.name.clone(), Rc::new(f.build()));
                }
                Factory::LocalEnvSecretStore(f) => {
                    store.secrets.insert(r.name.clone(), Rc::new(f.build()));
                }
                // Bindings serve the directions their `direction` metadata allows.
                Factory::CronBinding(f) => {
                    if super::bindings::directions(&r.metadata).0 {
                        store
                            .input_bindings
                            .insert(r.name.clone(), Rc::new(f.build()));
                    }
                }
                Factory::HttpBinding(f) => {
                    if super::bindings::directions(&r.metadata).1 {
                        store
                            .output_bindings
                            .insert(r.name.clone(), Rc::new(f.build()));
                    }
                }
                Factory::RedisBinding(f) => {
                    if super::bindings::directions(&r.metadata).1 {
                        store
                            .output_bindings
                            .insert(r.name.clone(), Rc::new(f.build()));
                    }
                }
                Factory::LocalStorageBinding(f) => {
                    if super::bindings::directions(&r.metadata).1 {
                        store
                            .output_bindings
                            .insert(r.name.clone(), Rc::new(f.build()));
                    }
                }
                Factory::PostgresBinding(f) => {
                    if super::bindings::directions(&r.metadata).1 {
                        store
                            .output_bindings
                            .insert(r.name.clone(), Rc::new(f.build()));
                    }
                }
                Factory::RedisLock(f) => {
                    store.lock.insert(r.name.clone(), Rc::new(f.build()));
                }
                Factory::InMemoryLock(f) => {
                    store.lock.insert(r.name.clone(), Rc::new(f.build()));
                }
                Factory::RedisConfiguration(f) => {
                    store
                        .configuration
                        .insert(r.name.clone(), Rc::new(f.build()));
                }
                Factory::HttpMiddleware(_) => {}
            }
        }
        store
    }
}

/// Categories whose components are accepted but not instantiated yet.
fn is_not_built_yet(kind: &str) -> bool {
    [
        "pubsub.",
        "nameresolution.",
        "crypto.",
        "conversation.",
        "workflow.",
    ]
    .iter()
    .any(|p| kind.starts_with(p))
}

/// The component's metadata with every `secretKeyRef` read from its
/// `auth.secretStore` among the `built` secret stores.
fn resolve_metadata(c: &Component, built: &[Registered]) -> Result<Metadata, RegistryError> {
    let mut map = HashMap::with_capacity(c.metadata.len());
    for item in &c.metadata {
        match &item.value {
            MetadataValue::Plain(v) => {
                map.insert(item.name.clone(), v.clone());
            }
            MetadataValue::SecretRef { name, key } => {
                let store = c.secret_store.as_deref().unwrap_or_default();
                let fail = |reason: String| {
                    RegistryError::SecretRef(Box::new(SecretRefError {
                        file: c.source.display().to_string(),
                        name: c.name.clone(),
                        item: item.name.clone(),
                        store: store.to_owned(),
                        secret: name.clone(),
                        key: key.clone(),
                        reason,
                    }))
                };
                if store.is_empty() {
                    return Err(fail("the component has no auth.secretStore".into()));
                }
                let lookup = built
                    .iter()
                    .filter(|r| r.name == store)
                    .find_map(|r| r.factory.secret_lookup())
                    .ok_or_else(|| fail(format!("secret store {store:?} is not loaded")))?;
                let req = GetSecretRequest {
                    name: name.clone(),
                    metadata: HashMap::new(),
                };
                let secret = lookup.lookup(&req).map_err(|e| fail(e.to_string()))?;
                let value = secret
                    .get(key)
                    .ok_or_else(|| fail(format!("secret {name:?} has no key {key:?}")))?;
                map.insert(item.name.clone(), value.clone());
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
    /// Secret stores.
    pub secrets: HashMap<String, Rc<dyn SecretStoreDyn>>,
    /// Input bindings (`bindings.*` serving the input direction).
    pub input_bindings: HashMap<String, Rc<dyn InputBindingDyn>>,
    /// Output bindings.
    pub output_bindings: HashMap<String, Rc<dyn OutputBindingDyn>>,
    /// Lock stores.
    pub lock: HashMap<String, Rc<dyn LockStoreDyn>>,
    /// Configuration stores.
    pub configuration: HashMap<String, Rc<dyn ConfigurationStoreDyn>>,
}
