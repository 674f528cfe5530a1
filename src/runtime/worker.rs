//! Worker threads: one monoio runtime per core, each serving its own sockets.
//!
//! Everything a request touches on its way through lives on the worker that
//! accepted the connection (`Rc` context, metrics shard, drain latch); the
//! only shared state is in [`Shared`].

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::BytesMut;
use http::{HeaderValue, StatusCode};
use monoio::io::PrefixedReadIo;
use monoio::net::{TcpListener, TcpStream};

use super::memory::{Milestone, StartupPages};
use super::{Driver, Shared, Tuning};
use crate::api::grpc::GrpcApi;
use crate::api::lock::LockRef;
use crate::api::pubsub::{PubSubRef, TopicScopes};
use crate::api::state::{key_prefix, StoreRef};
use crate::api::{Components, Ctx, HttpApi, Surface};
use crate::channel::AppChannel;
use crate::components::lock::KeyPrefix;
use crate::config::options::{AppProtocol, InitEndpoint};
use crate::http::h1::{self, Limits, Service};
use crate::http::h2::{H2Limits, HttpOverH2};
use crate::http::message::{Request, Response};
use crate::metrics::{Metrics, Shard};
use crate::net::detect::{self, Protocol};
use crate::net::shutdown::Drain;

/// io_uring submission queue size per worker.
const URING_ENTRIES: u32 = 1024;

/// The sockets one worker serves.
pub struct Sockets {
    /// HTTP API sockets.
    pub http: Vec<std::net::TcpListener>,
    /// gRPC API sockets.
    pub grpc: Vec<std::net::TcpListener>,
    /// Internal gRPC (sidecar-to-sidecar) sockets.
    pub internal: Vec<std::net::TcpListener>,
    /// Public-port sockets.
    pub public: Vec<std::net::TcpListener>,
    /// Metrics sockets.
    pub metrics: Vec<std::net::TcpListener>,
}

/// Starts worker `index` on its own thread.
pub fn spawn(
    index: usize,
    shared: Arc<Shared>,
    pages: Arc<StartupPages>,
    sockets: Sockets,
    tuning: Tuning,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("daprd-worker-{index}"))
        .spawn(move || run_thread(index, shared, pages, sockets, tuning))
}

fn run_thread(
    index: usize,
    shared: Arc<Shared>,
    pages: Arc<StartupPages>,
    sockets: Sockets,
    tuning: Tuning,
) {
    pin_to_core(index);
    let want_uring = match tuning.driver {
        Driver::Legacy => false,
        Driver::IoUring => true,
        Driver::Auto => monoio::utils::detect_uring(),
    };
    if want_uring {
        let tuned = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(URING_ENTRIES)
            .uring_builder(uring_setup())
            .enable_timer()
            .build();
        // Kernels before 6.0 refuse the setup flags: plain io_uring then.
        let built = tuned.or_else(|_| {
            monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .with_entries(URING_ENTRIES)
                .enable_timer()
                .build()
        });
        match built {
            Ok(mut rt) => {
                if index == 0 {
                    tracing::info!("workers run the io_uring driver");
                }
                rt.block_on(serve(index, shared, pages, sockets, tuning));
                return;
            }
            Err(e) if tuning.driver == Driver::Auto => {
                tracing::warn!(worker = index, error = %e, "io_uring refused; falling back to the epoll driver");
            }
            Err(e) => {
                tracing::error!(worker = index, error = %e, "io_uring refused and --io-driver=uring was requested");
                shared.shutdown.trigger();
                return;
            }
        }
    }
    match monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
    {
        Ok(mut rt) => {
            if index == 0 {
                tracing::info!("workers run the epoll (legacy) driver");
            }
            rt.block_on(serve(index, shared, pages, sockets, tuning));
        }
        Err(e) => {
            tracing::error!(worker = index, error = %e, "could not build a monoio runtime");
            shared.shutdown.trigger();
        }
    }
}

/// io_uring set-up for a worker's ring. Each ring is created, submitted to
/// and reaped by its one worker thread, so: `SINGLE_ISSUER` (the kernel skips
/// cross-thread submission locking) and `COOP_TASKRUN` (completions are
/// run when the worker next enters the kernel, which it does every loop turn,
/// instead of interrupting it with an inter-processor signal).
fn uring_setup() -> io_uring::Builder {
    let mut b = io_uring::IoUring::builder();
    b.setup_coop_taskrun().setup_single_issuer();
    b
}

/// The app's address and this worker's share of `--app-max-concurrency`
/// (a per-sidecar limit), when `--app-port` is set and the app speaks one
/// of `protocols`.
fn app_target(shared: &Shared, protocols: &[AppProtocol]) -> Option<(SocketAddr, Option<usize>)> {
    use std::net::ToSocketAddrs;
    let opts = &shared.opts;
    let port = opts.app_port?;
    if !protocols.contains(&opts.app_protocol) {
        return None;
    }
    let addr = match (opts.app_channel_address.as_str(), port).to_socket_addrs() {
        Ok(mut a) => a.next()?,
        Err(e) => {
            tracing::error!(address = %opts.app_channel_address, error = %e, "cannot resolve the app channel address");
            return None;
        }
    };
    let per_worker = opts
        .app_max_concurrency
        .map(|n| (n as usize).div_ceil(opts.workers.max(1)).max(1));
    Some((addr, per_worker))
}

/// This worker's channel to the app, when there is one, recording its
/// calls into `metrics`.
fn app_channel(
    shared: &Shared,
    body_timeout: Duration,
    metrics: &Arc<Shard>,
) -> Option<AppChannel> {
    let (addr, per_worker) = app_target(shared, &AppChannel::PROTOCOLS)?;
    let opts = &shared.opts;
    let mut channel = AppChannel::new(
        opts.app_protocol,
        addr,
        per_worker,
        opts.max_body_size,
        body_timeout,
        metrics,
    )?;
    if let (AppChannel::Http(h), Some(p)) = (&mut channel, &shared.app_http_pipeline) {
        h.set_pipeline(p.clone());
    }
    Some(channel)
}

fn pin_to_core(index: usize) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Err(e) = monoio::utils::bind_to_cpu_set([index % cores]) {
        tracing::debug!(worker = index, error = ?e, "could not pin worker to a core");
    }
}

/// The worker's whole life: serve until shutdown, then drain.
async fn serve(
    index: usize,
    shared: Arc<Shared>,
    pages: Arc<StartupPages>,
    sockets: Sockets,
    tuning: Tuning,
) {
    let drain = Drain::new();
    let ctx = Rc::new(Ctx {
        metrics: shared.metrics.shard(index).clone(),
        shared: shared.clone(),
        worker: index,
        drain: drain.clone(),
        components: components(&shared),
        app: app_channel(&shared, tuning.body_timeout, shared.metrics.shard(index)),
        remotes: crate::channel::sidecar::Remotes::new(),
        local_headers: crate::api::invoke::LocalHeaders::new(
            &shared.opts.app_id,
            &shared.invocation.namespace,
            shared.opts.app_api_token.as_deref(),
        ),
        externals: Default::default(),
    });
    let limits = Rc::new(Limits {
        max_head: shared.opts.read_buffer_size,
        max_body: shared.opts.max_body_size,
        header_timeout: tuning.header_timeout,
        idle_timeout: tuning.idle_timeout,
        body_timeout: tuning.body_timeout,
    });

    let api = Rc::new(HttpApi::new(ctx.clone(), Surface::Api));
    let api_h2 = Rc::new(HttpOverH2::new(api.clone(), limits.max_body));
    let public = Rc::new(HttpApi::new(ctx.clone(), Surface::Public));
    let metrics = Rc::new(MetricsEndpoint {
        metrics: shared.metrics.clone(),
    });
    let h2_limits = Rc::new(H2Limits {
        max_concurrent_streams: tuning.max_concurrent_streams,
        max_header_list: u32::try_from(limits.max_head.max(16 * 1024)).unwrap_or(u32::MAX),
        max_body: limits.max_body,
    });

    // A second handle on every listening socket, to stop them at shutdown.
    let mut listening = Vec::new();
    // HTTP API: HTTP/1.1, or h2c when the client opens with the preface.
    {
        let (limits, h2_limits, drain) = (limits.clone(), h2_limits.clone(), drain.clone());
        listening.extend(spawn_accept_loops(
            sockets.http,
            &drain.clone(),
            move |stream, peer| {
                http_or_h2c(
                    stream,
                    peer,
                    api.clone(),
                    api_h2.clone(),
                    limits.clone(),
                    h2_limits.clone(),
                    drain.clone(),
                )
            },
        ));
    }
    // gRPC API: h2c only.
    {
        let grpc = Rc::new(GrpcApi::new(ctx.clone(), limits.max_body));
        let (h2_limits, drain) = (h2_limits.clone(), drain.clone());
        listening.extend(spawn_accept_loops(
            sockets.grpc,
            &drain.clone(),
            move |stream, _| {
                let (grpc, h2_limits, drain) = (grpc.clone(), h2_limits.clone(), drain.clone());
                async move { crate::http::h2::serve(stream, &h2_limits, grpc, &drain).await }
            },
        ));
    }
    // Internal gRPC (other sidecars): h2c only, its own service set, no API token.
    {
        let internal = Rc::new(crate::api::invoke::internal_server::InternalApi::new(
            ctx.clone(),
            limits.max_body,
        ));
        let (h2_limits, drain) = (h2_limits.clone(), drain.clone());
        listening.extend(spawn_accept_loops(
            sockets.internal,
            &drain.clone(),
            move |stream, _| {
                let (internal, h2_limits, drain) =
                    (internal.clone(), h2_limits.clone(), drain.clone());
                async move { crate::http::h2::serve(stream, &h2_limits, internal, &drain).await }
            },
        ));
    }
    {
        let (limits, drain) = (limits.clone(), drain.clone());
        listening.extend(spawn_accept_loops(
            sockets.public,
            &drain.clone(),
            move |stream, peer| http1(stream, peer, public.clone(), limits.clone(), drain.clone()),
        ));
    }
    {
        let (limits, drain) = (limits.clone(), drain.clone());
        listening.extend(spawn_accept_loops(
            sockets.metrics,
            &drain.clone(),
            move |stream, peer| http1(stream, peer, metrics.clone(), limits.clone(), drain.clone()),
        ));
    }

    shared.readiness.worker_up();
    shared.note_readiness();
    if shared.readiness.outbound_ready() {
        pages.reached(Milestone::OutboundReady);
    }
    monoio::spawn(crate::api::pubsub::subscriptions::start_worker(ctx.clone()));
    monoio::spawn(crate::api::state::outbox::start_worker(ctx.clone()));
    if index == 0 {
        monoio::spawn(app_init(ctx.clone(), pages));
        if shared.actors.placement_addresses().is_some() {
            monoio::spawn(crate::api::actors::placement::run(ctx.clone()));
            monoio::spawn(crate::api::actors::idle_sweep(ctx.clone()));
        }
    }

    shared.shutdown.wait().await;
    // Stop listening first, as Go does: new connections are refused, and
    // the port is free for a new daprd as soon as this one exits (an
    // io_uring accept still in flight would otherwise keep the listener
    // alive until the kernel tears the ring down, after exit).
    for l in &listening {
        let _ = socket2::SockRef::from(l).shutdown(std::net::Shutdown::Both);
    }
    drain.close();
    let left = drain.drained(shared.opts.graceful_shutdown).await;
    if left > 0 {
        tracing::warn!(
            worker = index,
            connections = left,
            "grace period over; closing connections"
        );
    }
}

/// Starts one accept loop per socket; `on_conn` serves each accepted
/// connection. Returns a duplicate handle on each socket (to stop it).
fn spawn_accept_loops<F, Fut>(
    sockets: Vec<std::net::TcpListener>,
    drain: &Drain,
    on_conn: F,
) -> Vec<std::net::TcpListener>
where
    F: Fn(TcpStream, SocketAddr) -> Fut + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let mut handles = Vec::with_capacity(sockets.len());
    for std_listener in sockets {
        let addr = std_listener.local_addr().ok();
        match std_listener.try_clone() {
            Ok(h) => handles.push(h),
            Err(e) => tracing::warn!(?addr, error = %e, "could not duplicate a listener"),
        }
        match TcpListener::from_std(std_listener) {
            Ok(listener) => {
                monoio::spawn(crate::net::listener::accept_loop(
                    listener,
                    drain.clone(),
                    on_conn.clone(),
                ));
            }
            Err(e) => {
                tracing::error!(?addr, error = %e, "could not register listener with the runtime")
            }
        }
    }
    handles
}

/// An HTTP/1.1-only connection (public and metrics ports).
async fn http1<S: Service>(
    stream: TcpStream,
    peer: SocketAddr,
    svc: Rc<S>,
    limits: Rc<Limits>,
    drain: Drain,
) {
    let closed = h1::serve(
        stream,
        BytesMut::with_capacity(8192),
        &limits,
        &*svc,
        &drain,
        Some(peer),
    )
    .await;
    tracing::trace!(?closed, "connection closed");
}

/// The API port: sniff for the h2 preface, then run the matching loop.
async fn http_or_h2c<S: Service + 'static>(
    mut stream: TcpStream,
    peer: SocketAddr,
    svc: Rc<S>,
    h2: Rc<HttpOverH2<S>>,
    limits: Rc<Limits>,
    h2_limits: Rc<H2Limits>,
    drain: Drain,
) {
    let sniffed = monoio::select! {
        r = detect::sniff(&mut stream, limits.idle_timeout) => r,
        _ = drain.closing() => return,
    };
    match sniffed {
        Ok(Some((Protocol::H1, buf))) => {
            let closed = h1::serve(stream, buf, &limits, &*svc, &drain, Some(peer)).await;
            tracing::trace!(?closed, "connection closed");
        }
        Ok(Some((Protocol::H2, buf))) => {
            let io = PrefixedReadIo::new(stream, std::io::Cursor::new(buf));
            // The peer goes into each request (the rate limiter keys on it).
            let h2 = Rc::new(h2.for_peer(Some(peer)));
            crate::http::h2::serve(io, &h2_limits, h2, &drain).await;
        }
        Ok(None) | Err(_) => {}
    }
}

/// Worker 0's app start-up: wait until the app listens, then learn its
/// subscriptions (only when a pub/sub component exists, as Go) and publish
/// them with the declarative ones, which starts delivery on every worker.
async fn app_init(ctx: Rc<Ctx>, pages: Arc<StartupPages>) {
    let shared = &ctx.shared;
    let declarative = shared.declarative_subscriptions.clone();
    let (Some(port), Some(app)) = (shared.opts.app_port, ctx.app.as_ref()) else {
        shared.subscriptions.publish(declarative);
        // Known (nothing hosted), without undoing what a gRPC app's actor
        // stream may have registered already.
        shared.actors.register_hosted(Default::default());
        shared.note_readiness();
        return;
    };
    if !probe_app(shared.clone(), port).await {
        return;
    }
    monoio::spawn(register_actors(ctx.clone()));
    // Input bindings read on this worker from now on (Go: StartReadingFromBindings).
    monoio::spawn(crate::api::bindings::input::start(ctx.clone()));
    let wanted = !ctx.components.pubsub.is_empty()
        && !shared
            .opts
            .disable_init_endpoints
            .contains(&InitEndpoint::Subscribe);
    let programmatic = if wanted {
        crate::api::pubsub::subscriptions::discover::fetch(app, &shared.opts.app_id).await
    } else {
        Vec::new()
    };
    shared
        .subscriptions
        .publish(crate::api::pubsub::subscriptions::discover::merge(
            declarative,
            programmatic,
        ));
    pages.reached(Milestone::AppInitialized);
    // App health probes run for the rest of the worker's life.
    let probes = crate::channel::health::run_probes(
        &shared.app_health,
        app,
        &shared.opts.app_health,
        &ctx.drain,
    );
    probes.await;
}

/// Learns the app's actor types (`GET /dapr/config`, when the actor
/// runtime is on and has a state store) and registers them once the app is
/// healthy; without them placement hears an invoke-only host.
async fn register_actors(ctx: Rc<Ctx>) {
    let shared = &ctx.shared;
    let actors = &shared.actors;
    let asked = actors.placement_addresses().is_some()
        && actors.store.is_some()
        && !shared
            .opts
            .disable_init_endpoints
            .contains(&InitEndpoint::Config);
    let config = match (asked, ctx.app.as_ref()) {
        (true, Some(app)) => crate::api::actors::hosting::fetch(app, &shared.opts.app_id).await,
        _ => None,
    };
    let hosting = match config.map(|c| c.hosting(actors.disseminate_timeout)) {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            tracing::error!("Failed to register hosted actors: {e}");
            Default::default()
        }
        None => Default::default(),
    };
    if !hosting.types.is_empty() && !shared.app_health.wait_healthy(&ctx.drain).await {
        return;
    }
    // Added to what a gRPC app's actor stream may have registered.
    actors.register_hosted(hosting);
    shared.note_readiness();
}

/// Probes the app port until it accepts a TCP connection (Go: 500 ms dial
/// timeout, retried every 100 ms), then flips readiness. False when
/// shutdown came first.
async fn probe_app(shared: Arc<Shared>, port: u16) -> bool {
    let host = shared.opts.app_channel_address.clone();
    let mut logged = false;
    while !shared.shutdown.is_triggered() {
        let addrs = crate::net::listener::resolve(std::slice::from_ref(&host), port).0;
        for addr in addrs {
            let dial = monoio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr));
            if let Ok(Ok(_)) = dial.await {
                tracing::info!(%addr, "application discovered on port {port}");
                shared.readiness.app_reachable();
                shared.note_readiness();
                return true;
            }
        }
        if !logged {
            tracing::info!("waiting for the application to listen on port {port}");
            logged = true;
        }
        monoio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// This worker's component instances, with each state store's key prefix.
fn components(shared: &Shared) -> Components {
    let built = shared.factories.instantiate();
    let opts = &shared.opts;
    let mut out = Components {
        secrets: built.secrets,
        output_bindings: built.output_bindings,
        configuration: built.configuration,
        ..Default::default()
    };
    for (name, store) in built.lock {
        let prefix = shared
            .factories
            .components
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| KeyPrefix::parse(&r.metadata).ok())
            .unwrap_or(KeyPrefix::AppId);
        out.lock.insert(
            name,
            LockRef {
                store,
                prefix: Rc::new(prefix),
            },
        );
    }
    for (name, binding) in built.input_bindings {
        let md = shared
            .factories
            .components
            .iter()
            .find(|r| r.name == name)
            .map(|r| &r.metadata);
        // Go matches the `route` item by its exact name.
        let route = md
            .and_then(|m| m.0.get("route"))
            .cloned()
            .unwrap_or_else(|| name.clone());
        let explicit_input = md.is_some_and(crate::components::bindings::explicitly_input);
        out.input_bindings.insert(
            name,
            crate::api::bindings::InputRef {
                binding,
                route,
                explicit_input,
            },
        );
    }
    for (name, store) in built.state {
        let md = shared
            .factories
            .components
            .iter()
            .find(|r| r.name == name)
            .map(|r| &r.metadata);
        let strategy = md.and_then(|m| m.get("keyPrefix"));
        let prefix = key_prefix(strategy, &opts.app_id, &name, opts.namespace.as_deref());
        let outbox = md
            .and_then(|m| crate::api::state::outbox::Config::from_metadata(&m.0))
            .map(Rc::new);
        out.state.insert(
            name,
            StoreRef {
                store,
                prefix: prefix.map(Into::into),
                outbox,
            },
        );
    }
    for (name, broker) in built.pubsub {
        let scopes = shared
            .factories
            .components
            .iter()
            .find(|r| r.name == name)
            .map(|r| TopicScopes::new(&r.metadata, &opts.app_id))
            .unwrap_or_default();
        out.pubsub.insert(
            name,
            PubSubRef {
                broker,
                scopes: Rc::new(scopes),
            },
        );
    }
    out
}

/// The metrics port: Prometheus text on any path, as Go's exporter.
struct MetricsEndpoint {
    metrics: Arc<Metrics>,
}

/// Prometheus text exposition format 0.0.4.
const PROMETHEUS_TEXT: HeaderValue =
    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

impl Service for MetricsEndpoint {
    async fn call(&self, _req: Request) -> Response {
        let mut resp = Response::status(StatusCode::OK);
        resp.content_type = Some(PROMETHEUS_TEXT);
        resp.body = self.metrics.render().into();
        resp
    }
}
