//! Bootstrap, workers and lifecycle.
//!
//! Start-up order ([`start`]): validate options → bind every listener on the
//! main thread (clear errors, one port for port 0) → start one monoio worker
//! per core, each serving its own sockets → workers report in, which flips
//! outbound readiness → worker 0 probes the app port until it accepts, which
//! flips full readiness. Shutdown ([`Handle::shutdown`], a signal, or the
//! shutdown API) stops every accept loop at once, lets in-flight requests
//! finish within `--dapr-graceful-shutdown-seconds`, then the workers exit.

pub mod memory;
pub mod worker;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::api::health::readiness::Readiness;
use crate::api::Shared;
use crate::components::registry::Factories;
use crate::config::configuration;
use crate::config::{resources, Options};
use crate::metrics::Metrics;
use crate::net::listener::{self, ListenError};
use crate::net::shutdown::Shutdown;

/// Which monoio driver the workers run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Driver {
    /// io_uring when the kernel allows it, else the epoll ("legacy") driver.
    #[default]
    Auto,
    /// io_uring only; start-up fails if it is refused.
    IoUring,
    /// The epoll driver.
    Legacy,
}

impl std::str::FromStr for Driver {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Self::Auto),
            "uring" | "io_uring" | "iouring" => Ok(Self::IoUring),
            "legacy" | "epoll" => Ok(Self::Legacy),
            other => Err(format!(
                "unknown I/O driver {other:?} (auto, uring, legacy)"
            )),
        }
    }
}

/// Knobs that are not Go daprd flags: timeouts of the HTTP loop and the driver.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// Time to receive a complete request head (Go: `ReadHeaderTimeout` 10 s).
    pub header_timeout: Duration,
    /// Time an idle keep-alive connection is kept.
    pub idle_timeout: Duration,
    /// Longest pause while a request body is being received.
    pub body_timeout: Duration,
    /// The I/O driver.
    pub driver: Driver,
    /// HTTP/2 concurrent streams per connection (Go daprd caps gRPC at 100; we do not).
    pub max_concurrent_streams: u32,
    /// Unmap the code pages start-up touched once every worker serves
    /// ([`memory`]). Process-wide, so only the `daprd` binary turns it on.
    pub release_startup_pages: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            body_timeout: Duration::from_secs(60),
            driver: Driver::Auto,
            max_concurrent_streams: 2000,
            release_startup_pages: false,
        }
    }
}

/// Everything that fails start-up. `main` prints it and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A resource file is invalid.
    #[error(transparent)]
    Resources(#[from] resources::LoadError),
    /// A Configuration file is invalid.
    #[error(transparent)]
    Configuration(#[from] configuration::ConfigFileError),
    /// A component cannot be built.
    #[error(transparent)]
    Registry(#[from] crate::components::registry::RegistryError),
    /// The app protocol needs something not built yet (TLS to the app).
    #[error("--app-protocol {0}: TLS connections to the app are not supported yet (use http, grpc or h2c)")]
    AppProtocol(&'static str),
    /// An HTTPEndpoint cannot be used (bad header, TLS material, secret).
    #[error("{file}: HTTPEndpoint {name:?}: {reason}")]
    HttpEndpoint {
        /// Source file.
        file: String,
        /// Its name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A Configuration pipeline names a handler that is not a loaded
    /// middleware component.
    #[error("{pipeline}: handler {name:?} ({kind}/{version}): no middleware component of that name and type is loaded")]
    Pipeline {
        /// `httpPipeline` or `appHttpPipeline`.
        pipeline: &'static str,
        /// The handler's name.
        name: String,
        /// Its type.
        kind: String,
        /// Its version.
        version: String,
    },
    /// The actor runtime cannot be set up (e.g. two actor state stores).
    #[error("actors: {0}")]
    Actors(String),
    /// A port could not be listened on at all.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// The name resolver could not be created or initialised.
    #[error(transparent)]
    NameResolution(#[from] crate::components::nameresolution::InitError),
    /// A worker thread or its runtime could not be created.
    #[error("failed to start worker {worker}: {source}")]
    Worker {
        /// Worker index.
        worker: usize,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running sidecar.
pub struct Handle {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// Bound HTTP API addresses.
    pub http_addrs: Vec<SocketAddr>,
    /// Bound gRPC API addresses.
    pub grpc_addrs: Vec<SocketAddr>,
    /// Bound public-port addresses (empty when `--dapr-public-port` is unset).
    pub public_addrs: Vec<SocketAddr>,
    /// Bound metrics addresses (empty when metrics are disabled).
    pub metrics_addrs: Vec<SocketAddr>,
    /// Bound internal gRPC (sidecar-to-sidecar) addresses.
    pub internal_grpc_addrs: Vec<SocketAddr>,
}

impl Handle {
    /// The HTTP API port.
    pub fn http_port(&self) -> u16 {
        self.http_addrs.first().map_or(0, SocketAddr::port)
    }

    /// The gRPC API port.
    pub fn grpc_port(&self) -> u16 {
        self.grpc_addrs.first().map_or(0, SocketAddr::port)
    }

    /// The metrics port, if metrics are enabled.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_addrs.first().map(SocketAddr::port)
    }

    /// The internal gRPC (sidecar-to-sidecar) port.
    pub fn internal_grpc_port(&self) -> u16 {
        self.internal_grpc_addrs.first().map_or(0, SocketAddr::port)
    }

    /// The public port, if enabled.
    pub fn public_port(&self) -> Option<u16> {
        self.public_addrs.first().map(SocketAddr::port)
    }

    /// State shared with the workers.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Starts a graceful shutdown (returns at once).
    pub fn shutdown(&self) {
        self.shared.shutdown.trigger();
    }

    /// Blocks until shutdown has been triggered by anyone.
    pub fn wait_for_shutdown_signal(&self) {
        self.shared.shutdown.wait_blocking();
    }

    /// Waits for every worker to finish draining, then deregisters from
    /// name resolution.
    pub fn join(self) {
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("a worker thread panicked");
            }
        }
        self.shared.invocation.resolver.close();
    }
}

/// Binds every listener and starts the workers; returns once they run.
pub fn start(opts: Options, tuning: Tuning) -> Result<Handle, StartupError> {
    let started = Instant::now();
    let workers = opts.workers.max(1);
    for flag in &opts.not_supported {
        tracing::warn!("flag --{flag} is accepted but not supported yet; it has no effect");
    }
    for (flag, instead) in &opts.deprecated {
        tracing::warn!("flag --{flag} is deprecated; use {instead}");
    }
    if opts.app_port.is_some()
        && matches!(
            opts.app_protocol,
            crate::config::AppProtocol::Https | crate::config::AppProtocol::Grpcs
        )
    {
        return Err(StartupError::AppProtocol(opts.app_protocol.as_str()));
    }
    let env = |k: &str| std::env::var(k).ok();
    let pod_name = std::env::var("POD_NAME").ok();
    let resources = resources::load(
        &opts.resources_paths,
        &resources::LoadContext {
            app_id: &opts.app_id,
            namespace: opts.namespace.as_deref(),
            pod_name: pod_name.as_deref(),
            env: &env,
        },
    )?;
    let factories = Arc::new(Factories::build(&resources.components, &opts.app_id)?);
    let http_endpoints = http_endpoints(&resources.http_endpoints, &factories, opts.mode)?;
    let configuration = configuration::load(&opts.config_paths, &env)?;
    if !configuration.api.is_empty() {
        tracing::info!("API allow/deny lists from the Configuration are in effect");
    }
    for store in configuration.secret_scopes.stores() {
        let loaded = factories
            .components
            .iter()
            .any(|r| r.name == store && r.factory.secret_lookup().is_some());
        if !loaded {
            tracing::warn!(
                "Secrets configuration added for '{store}', but no matching secret store was found"
            );
        }
    }

    let http = listener::bind("HTTP API", &opts.listen_addresses, opts.http_port, workers)?;
    let grpc = listener::bind("gRPC API", &opts.listen_addresses, opts.grpc_port, workers)?;
    let public = match opts.public_port {
        Some(port) => {
            let hosts: Vec<String> = opts.public_listen_address.iter().cloned().collect();
            Some(listener::bind("public", &hosts, port, workers)?)
        }
        None => None,
    };
    let metrics_listeners = if opts.enable_metrics {
        let hosts = vec![opts.metrics_listen_address.clone()];
        Some(listener::bind(
            "metrics",
            &hosts,
            opts.metrics_port,
            workers,
        )?)
    } else {
        None
    };

    // Internal gRPC: the flag's port, else Go's "stable random" one; when
    // that is taken (another sidecar of this app id, a connection's
    // ephemeral port), any free port, as Go does.
    let internal_hosts: Vec<String> = opts.internal_grpc_listen_address.iter().cloned().collect();
    let internal = match opts.internal_grpc_port {
        Some(p) => listener::bind("internal gRPC", &internal_hosts, p, workers)?,
        None => {
            let stable =
                crate::net::ports::derived_port(crate::net::ports::STABLE_PORT_START, &opts.app_id)
                    .unwrap_or(0);
            match listener::bind("internal gRPC", &internal_hosts, stable, workers) {
                Err(e) if e.in_use => listener::bind("internal gRPC", &internal_hosts, 0, workers)?,
                bound => bound?,
            }
        }
    };
    tracing::info!(
        "Internal gRPC server is running on {}:{}",
        opts.internal_grpc_listen_address.as_deref().unwrap_or(""),
        internal.port()
    );
    let invocation = invocation(
        &opts,
        internal.port(),
        configuration.name_resolution.as_ref(),
        &env,
    )?;

    let http_pipeline = pipeline(
        "httpPipeline",
        &configuration.http_pipeline,
        &factories,
        opts.max_body_size,
    )?;
    let app_http_pipeline = pipeline(
        "appHttpPipeline",
        &configuration.app_http_pipeline,
        &factories,
        opts.max_body_size,
    )?;

    let actors = actors(&opts, internal.port(), &factories, &env)?;
    let metrics = Metrics::new_in(&opts.app_id, opts.namespace.as_deref(), workers);
    record_components(&metrics, &factories);
    let api_logging = opts.enable_api_logging.unwrap_or(false);
    let shared = Arc::new(Shared {
        readiness: Readiness::new(workers, opts.app_port.is_some()),
        shutdown: Shutdown::default(),
        attributes: DashMap::new(),
        metrics,
        factories,
        api_rules: configuration.api,
        secret_scopes: configuration.secret_scopes,
        api_logging,
        app_health: crate::channel::health::AppHealth::new(&opts.app_health),
        subscriptions: Default::default(),
        declarative_subscriptions: crate::api::pubsub::subscriptions::discover::declarative(
            &resources.others,
        ),
        configuration_streams: Default::default(),
        invocation,
        http_endpoints,
        http_pipeline,
        app_http_pipeline,
        actors,
        started,
        initialized_logged: AtomicBool::new(false),
        opts,
    });
    let startup_pages = Arc::new(memory::StartupPages::new(tuning.release_startup_pages));

    let mut handle = Handle {
        shared: shared.clone(),
        threads: Vec::with_capacity(workers),
        http_addrs: http.addrs.clone(),
        grpc_addrs: grpc.addrs.clone(),
        public_addrs: public.as_ref().map(|b| b.addrs.clone()).unwrap_or_default(),
        metrics_addrs: metrics_listeners
            .as_ref()
            .map(|b| b.addrs.clone())
            .unwrap_or_default(),
        internal_grpc_addrs: internal.addrs.clone(),
    };
    tracing::info!(
        workers,
        http = ?handle.http_addrs,
        grpc = ?handle.grpc_addrs,
        public = ?handle.public_addrs,
        metrics = ?handle.metrics_addrs,
        "starting daprd {}",
        crate::config::RUNTIME_VERSION
    );

    let mut http_per_worker = http.per_worker.into_iter();
    let mut grpc_per_worker = grpc.per_worker.into_iter();
    let mut internal_per_worker = internal.per_worker.into_iter();
    let mut public_per_worker = public.map(|b| b.per_worker.into_iter());
    let mut metrics_per_worker = metrics_listeners.map(|b| b.per_worker.into_iter());
    for index in 0..workers {
        let sockets = worker::Sockets {
            http: http_per_worker.next().unwrap_or_default(),
            grpc: grpc_per_worker.next().unwrap_or_default(),
            internal: internal_per_worker.next().unwrap_or_default(),
            public: public_per_worker
                .as_mut()
                .and_then(Iterator::next)
                .unwrap_or_default(),
            metrics: metrics_per_worker
                .as_mut()
                .and_then(Iterator::next)
                .unwrap_or_default(),
        };
        let thread = worker::spawn(
            index,
            shared.clone(),
            startup_pages.clone(),
            sockets,
            tuning.clone(),
        )
        .map_err(|source| StartupError::Worker {
            worker: index,
            source,
        })?;
        handle.threads.push(thread);
    }
    Ok(handle)
}

/// The `dapr_runtime_component_*` counters of start-up, as Go's component
/// processor counts them: each component up is loaded and initialized (by
/// type); each one skipped for its `ignoreErrors` fails with its reason, then
/// once more with `init` (Go's processor counts every failure a second time).
fn record_components(metrics: &Metrics, factories: &Factories) {
    use crate::components::registry::FailedStage;
    use crate::metrics::names::{REASON_CREATION, REASON_INIT};
    for c in &factories.components {
        metrics.record_component_initialized(&c.kind);
        metrics.record_component_loaded();
    }
    for c in &factories.skipped {
        let reason = match c.stage {
            FailedStage::Creation => REASON_CREATION,
            FailedStage::Init => REASON_INIT,
        };
        metrics.record_component_init_failed(&c.kind, reason, &c.name);
        metrics.record_component_init_failed(&c.kind, REASON_INIT, &c.name);
    }
}

/// The HTTPEndpoints, ready to call: every `secretKeyRef` (headers and
/// `clientTLS`) read through the endpoint's `auth.secretStore` (in
/// Kubernetes mode `kubernetes` by default, as Go), headers and TLS
/// material checked. Anything that cannot be used fails start-up naming
/// the file and the endpoint (Go logs and leaves the value empty).
fn http_endpoints(
    endpoints: &[resources::HttpEndpoint],
    factories: &Factories,
    mode: crate::config::Mode,
) -> Result<crate::channel::endpoint::Endpoints, StartupError> {
    use crate::channel::endpoint::{ClientTls, Endpoint, Endpoints};
    use crate::components::secretstores::GetSecretRequest;
    use resources::MetadataValue;
    let mut out = Vec::with_capacity(endpoints.len());
    for e in endpoints {
        let fail = |reason: String| StartupError::HttpEndpoint {
            file: e.source.display().to_string(),
            name: e.name.clone(),
            reason,
        };
        let store = match (e.secret_store.as_deref(), mode) {
            (Some(s), _) if !s.is_empty() => s,
            (_, crate::config::Mode::Kubernetes) => "kubernetes",
            _ => "",
        };
        let value = |what: &str, v: &MetadataValue| -> Result<String, StartupError> {
            let (secret, key) = match v {
                MetadataValue::Plain(p) => return Ok(p.clone()),
                MetadataValue::SecretRef { name, key } => (name, key),
            };
            let why = |reason: String| {
                fail(format!(
                    "{what}: cannot resolve secretKeyRef {secret:?} key {key:?} from secret store {store:?}: {reason}"
                ))
            };
            if store.is_empty() {
                return Err(why("the HTTPEndpoint has no auth.secretStore".into()));
            }
            let lookup = factories
                .components
                .iter()
                .filter(|r| r.name == store)
                .find_map(|r| r.factory.secret_lookup())
                .ok_or_else(|| why(format!("secret store {store:?} is not loaded")))?;
            let req = GetSecretRequest {
                name: secret.clone(),
                metadata: Default::default(),
            };
            let found = lookup.lookup(&req).map_err(|err| why(err.to_string()))?;
            found
                .get(key)
                .cloned()
                .ok_or_else(|| why(format!("secret {secret:?} has no key {key:?}")))
        };
        let mut headers = Vec::with_capacity(e.headers.len());
        for h in &e.headers {
            headers.push((
                h.name.clone(),
                value(&format!("header {:?}", h.name), &h.value)?,
            ));
        }
        let opt =
            |what: &str, v: &Option<MetadataValue>| v.as_ref().map(|v| value(what, v)).transpose();
        let tls = ClientTls {
            root_ca: opt("clientTLS.rootCA", &e.root_ca)?,
            certificate: opt("clientTLS.certificate", &e.certificate)?,
            private_key: opt("clientTLS.privateKey", &e.private_key)?,
        };
        let endpoint = Endpoint::new(&e.name, &e.base_url, &headers, &tls).map_err(fail)?;
        tracing::info!("Found http endpoint: {}", e.name);
        out.push(endpoint);
    }
    Ok(Endpoints::new(out))
}

/// The name resolver and this sidecar's identity for service invocation.
/// The address peers are told is the host's (Go's `GetHostAddress`), or
/// the internal listen address when that is a loopback one, as Go.
/// A Configuration pipeline's handlers resolved to the middleware
/// components they name (`None` when there are none). Go skips a handler
/// whose component is not loaded; here that fails start-up, naming it, so a
/// typo does not silently drop an authentication or rate-limit step.
fn pipeline(
    which: &'static str,
    handlers: &[configuration::HandlerSpec],
    factories: &Factories,
    max_body: usize,
) -> Result<Option<Arc<crate::components::middleware::Pipeline>>, StartupError> {
    use crate::components::registry::Factory;
    if handlers.is_empty() {
        return Ok(None);
    }
    let version = |v: &str| match v.to_ascii_lowercase() {
        v if v.is_empty() || v == "v0" => "v1".to_owned(),
        v => v,
    };
    let mut resolved = Vec::with_capacity(handlers.len());
    for h in handlers {
        let found = factories.components.iter().find_map(|r| match &r.factory {
            Factory::HttpMiddleware(m)
                if r.name == h.name
                    && r.kind.eq_ignore_ascii_case(&h.kind)
                    && version(&r.version) == version(&h.version) =>
            {
                Some(m.clone())
            }
            _ => None,
        });
        let Some(m) = found else {
            return Err(StartupError::Pipeline {
                pipeline: which,
                name: h.name.clone(),
                kind: h.kind.clone(),
                version: h.version.clone(),
            });
        };
        resolved.push(m);
    }
    tracing::info!(
        "Building pipeline {}",
        if which == "httpPipeline" {
            "server"
        } else {
            "app"
        }
    );
    Ok(Some(Arc::new(
        crate::components::middleware::Pipeline::new(resolved, max_body),
    )))
}

fn invocation(
    opts: &Options,
    internal_port: u16,
    spec: Option<&configuration::NameResolution>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::api::invoke::remote::Invocation, StartupError> {
    use crate::api::invoke::remote;
    use crate::components::nameresolution::{Instance, Resolver};
    let host_address = crate::net::host::host_address(env);
    let address = advertised_address(opts, host_address.as_deref());
    let namespace = opts
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let resolver = Resolver::init(
        spec,
        opts.mode,
        Instance {
            app_id: opts.app_id.clone(),
            namespace: namespace.clone(),
            address: address
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            internal_port,
            http_port: opts.http_port,
            app_port: opts.app_port.unwrap_or(0),
        },
    )?;
    Ok(remote::Invocation {
        resolver,
        internal_port,
        namespace,
        host_address,
        host_name: crate::net::host::host_name(),
    })
}

/// The address other sidecars and placement reach us at: the internal
/// gRPC listen address when it is loopback, else the host address (Go's
/// `DAPR_HOST_IP`, then the outbound interface).
fn advertised_address(opts: &Options, host_address: Option<&str>) -> String {
    match opts.internal_grpc_listen_address.as_deref() {
        Some(a @ ("127.0.0.1" | "localhost" | "[::1]")) => a.to_owned(),
        _ => match host_address {
            Some(a) => a.to_owned(),
            None => {
                tracing::warn!("could not determine the host address; peers are told 127.0.0.1");
                "127.0.0.1".to_owned()
            }
        },
    }
}

/// The actor runtime: off without `--placement-host-address`; the state
/// store with `actorStateStore: "true"` holds actor state (a second one
/// fails start-up, as Go).
fn actors(
    opts: &Options,
    internal_port: u16,
    factories: &Factories,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::api::actors::Actors, StartupError> {
    let truthy = |v: &str| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "y" | "on"
        )
    };
    let mut store = None;
    for c in &factories.components {
        if !c.kind.starts_with("state.") {
            continue;
        }
        if c.metadata.get("actorStateStore").is_some_and(truthy) {
            if store.is_some() {
                return Err(StartupError::Actors(
                    "detected duplicate actor state store".into(),
                ));
            }
            store = Some(c.name.clone());
        }
    }
    let host_address = crate::net::host::host_address(env);
    let address = advertised_address(opts, host_address.as_deref());
    let name = if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]:{internal_port}")
    } else {
        format!("{address}:{internal_port}")
    };
    if opts.placement_addresses.is_empty() {
        tracing::warn!("Actor runtime disabled: placement service is not configured. Actors and Workflow APIs will be unavailable");
    } else if store.is_none() {
        tracing::info!("Actor state store not configured - actor hosting disabled until one is configured, but invocation enabled");
    }
    Ok(crate::api::actors::Actors::new(
        &opts.placement_addresses,
        crate::api::actors::HostId {
            name,
            app_id: opts.app_id.clone(),
            namespace: opts
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            port: internal_port,
        },
        store,
        opts.actors_disseminate_timeout,
    ))
}

/// Runs the sidecar until it is shut down: starts it, turns SIGTERM/SIGINT
/// into a graceful shutdown (after `--dapr-block-shutdown-duration`, if set),
/// and returns when every worker has drained. A second signal exits at once.
pub fn run(opts: Options, tuning: Tuning) -> Result<(), StartupError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    // Registered before the workers start so no early signal kills us uncleanly.
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|source| StartupError::Worker { worker: 0, source })?;
    let block = opts.block_shutdown;
    let handle = start(opts, tuning)?;
    let shared = handle.shared().clone();
    std::thread::Builder::new()
        .name("daprd-signals".into())
        .spawn(move || {
            let mut seen = 0;
            for sig in signals.forever() {
                seen += 1;
                if seen > 1 {
                    tracing::warn!(signal = sig, "second signal; exiting now");
                    std::process::exit(1);
                }
                tracing::info!(signal = sig, "received signal; shutting down");
                if let Some(d) = block {
                    tracing::info!(
                        "blocking shutdown for {}",
                        crate::api::metadata::go_duration(d)
                    );
                    std::thread::sleep(d);
                }
                shared.shutdown.trigger();
            }
        })
        .map_err(|source| StartupError::Worker { worker: 0, source })?;
    handle.wait_for_shutdown_signal();
    tracing::info!("stopping: draining in-flight requests");
    handle.join();
    tracing::info!("daprd shut down gracefully");
    Ok(())
}

/// `daprd --wait`: polls `http://localhost:<port>/v1.0/healthz/outbound`
/// every 100 ms (500 ms timeout each) until it answers 204; false after `limit`.
pub fn wait_for_sidecar(port: u16, limit: Duration) -> bool {
    use std::io::{Read, Write};
    let deadline = Instant::now() + limit;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let request =
        b"GET /v1.0/healthz/outbound HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
    while Instant::now() < deadline {
        let attempt = (|| -> std::io::Result<bool> {
            let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
            s.set_read_timeout(Some(Duration::from_millis(500)))?;
            s.write_all(request)?;
            let mut head = [0u8; 12];
            s.read_exact(&mut head)?;
            Ok(&head[9..12] == b"204")
        })();
        if let Ok(true) = attempt {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
