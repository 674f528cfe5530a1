//! What handlers see: the per-worker [`Ctx`] (components, channels, metrics
//! shard, drain latch) and the process-wide [`Shared`] state it points to.
//! The runtime builds both; nothing here reaches back up into it.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;

use super::health::readiness::Readiness;
use super::{bindings, invoke, lock, pubsub, state};
use crate::components::registry::Factories;
use crate::config::configuration::{ApiRules, SecretScopes};
use crate::config::Options;
use crate::metrics::{Metrics, Shard};
use crate::net::shutdown::{Drain, Shutdown};

/// Per-worker context handed to every handler. Lives in an `Rc` on its worker.
pub struct Ctx {
    /// State shared by all workers.
    pub shared: Arc<Shared>,
    /// This worker's index.
    pub worker: usize,
    /// This worker's metrics shard.
    pub metrics: Arc<Shard>,
    /// This worker's drain latch.
    pub drain: Drain,
    /// This worker's component instances.
    pub components: Components,
    /// This worker's channel to the app (`--app-port`), HTTP or gRPC.
    pub app: Option<crate::channel::AppChannel>,
    /// This worker's connections to other sidecars (service invocation).
    pub remotes: crate::channel::sidecar::Remotes,
    /// Our identity headers for calls to the app, validated once.
    pub local_headers: invoke::LocalHeaders,
    /// This worker's clients of external endpoints (HTTPEndpoints, URLs).
    pub externals: crate::channel::endpoint::Externals,
}

/// A worker's components as the API uses them.
#[derive(Default)]
pub struct Components {
    /// State stores by name, with their key prefixes.
    pub state: std::collections::HashMap<String, state::StoreRef>,
    /// Pub/sub brokers by name, with their topic scoping.
    pub pubsub: std::collections::HashMap<String, pubsub::PubSubRef>,
    /// Secret stores by name.
    pub secrets:
        std::collections::HashMap<String, Rc<dyn crate::components::secretstores::SecretStoreDyn>>,
    /// Output bindings by name.
    pub output_bindings:
        std::collections::HashMap<String, Rc<dyn crate::components::bindings::OutputBindingDyn>>,
    /// Input bindings by name, with their routes.
    pub input_bindings: std::collections::HashMap<String, bindings::InputRef>,
    /// Lock stores by name, with their key prefixing.
    pub lock: std::collections::HashMap<String, lock::LockRef>,
    /// Configuration stores by name.
    pub configuration: std::collections::HashMap<
        String,
        Rc<dyn crate::components::configuration::ConfigurationStoreDyn>,
    >,
}

/// State shared by every worker (`Send + Sync`, in an `Arc`). Only the
/// metadata attributes are written at run time; they sit in a sharded
/// concurrent map, not behind one lock.
pub struct Shared {
    /// Validated options.
    pub opts: Options,
    /// Health readiness.
    pub readiness: Readiness,
    /// The shutdown signal.
    pub shutdown: Shutdown,
    /// `PUT /v1.0/metadata/{key}` attributes.
    pub attributes: DashMap<String, String>,
    /// Metrics registry (one shard per worker).
    pub metrics: Arc<Metrics>,
    /// Component factories, instantiated on every worker.
    pub factories: Arc<Factories>,
    /// Configuration `spec.api` allow/deny lists.
    pub api_rules: ApiRules,
    /// Configuration `spec.secrets.scopes`.
    pub secret_scopes: SecretScopes,
    /// Whether to log one line per API call.
    pub api_logging: bool,
    /// The app's health (`--enable-app-health-check`).
    pub app_health: crate::channel::health::AppHealth,
    /// Subscriptions, published once the app's list is known.
    pub subscriptions: crate::api::pubsub::subscriptions::Registry,
    /// Declarative subscriptions from the resources paths.
    pub declarative_subscriptions: Vec<crate::api::pubsub::subscriptions::Subscription>,
    /// Open gRPC configuration subscription streams (any worker's).
    pub configuration_streams: crate::api::configuration::Streams,
    /// Service invocation of other apps: the name resolver, our identity.
    pub invocation: crate::api::invoke::remote::Invocation,
    /// HTTPEndpoint resources, by name.
    pub http_endpoints: crate::channel::endpoint::Endpoints,
    /// `spec.httpPipeline`: middleware for calls to the HTTP API (`None`:
    /// no handlers, nothing to run).
    pub http_pipeline: Option<Arc<crate::components::middleware::Pipeline>>,
    /// `spec.appHttpPipeline`: middleware for calls to an HTTP app.
    pub app_http_pipeline: Option<Arc<crate::components::middleware::Pipeline>>,
    /// The actor runtime.
    pub actors: super::actors::Actors,
    /// When start-up began.
    pub started: Instant,
    /// Whether Go's "dapr initialized" line was logged (once).
    pub initialized_logged: AtomicBool,
}

impl Shared {
    /// Logs Go daprd's "initialized" line the first time everything is ready.
    pub fn note_readiness(&self) {
        if self.readiness.ready()
            && self.actors.placement_ready()
            && !self.initialized_logged.swap(true, Ordering::AcqRel)
        {
            tracing::info!(
                "dapr initialized. Status: Running. Init Elapsed {}ms",
                self.started.elapsed().as_millis()
            );
        }
    }
}
