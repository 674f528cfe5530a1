//! The `placement` service: Dapr's actor placement, one replica, wire
//! compatible with Go 1.17/1.18 sidecars (and ours).
//!
//! Every actor-hosting sidecar keeps a `ReportDaprStatus` stream open,
//! reporting which actor types it hosts; placement sends every sidecar of
//! the namespace the table of which hosts serve each type, in a
//! lock → update → unlock round whenever that set changes. Sidecars hash
//! actor ids onto those hosts themselves.
//!
//! A composition root beside `runtime`, importing only the ground layer:
//! - [`flags`]: Go's flags → validated [`flags::Options`];
//! - [`authorizer`]: the checks on every message;
//! - [`store`], [`disseminator`], [`namespaces`]: the state machine, sans I/O;
//! - [`server`]: the gRPC server over h2c with HTTP/2 keepalive, and the hub
//!   that runs the state machine for every stream;
//! - [`http`] and [`metrics`]: `/healthz`, `/placement/state`, `/metrics`.
//!
//! Go's Raft leadership is not reproduced: this service always answers as
//! the leader, which is what a Go cluster of one replica does once elected.
//! Go sidecars accept it as they accept any leader.

pub mod authorizer;
pub mod disseminator;
pub mod flags;
pub mod http;
pub mod metrics;
pub mod namespaces;
pub mod server;
pub mod store;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use self::disseminator::Config;
use self::flags::Options;
use self::server::{Hub, PlacementGrpc};
use crate::grpc::server::Keepalive;
use crate::http::h1::{self, Limits};
use crate::net::listener::{self, Bound, ListenError};
use crate::net::shutdown::{Drain, Latch};

/// How long stopping waits for connections to finish.
const GRACE: Duration = Duration::from_secs(5);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A port could not be bound.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// The runtime or the signal handler could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs the service until SIGTERM or SIGINT (a second one exits at once).
pub fn run(opts: Options) -> Result<(), StartupError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    tracing::info!(
        target: "daprd::placement",
        "Starting Dapr Placement Service -- version {} -- commit {}",
        crate::config::RUNTIME_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    tracing::info!(target: "daprd::placement", "Log level set to: {}", opts.log_level);
    for flag in &opts.ignored {
        tracing::warn!(
            target: "daprd::placement",
            "flag --{flag} is not supported by this build and is ignored"
        );
    }
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).map_err(|source| {
        StartupError::Io {
            what: "could not handle signals",
            source,
        }
    })?;
    let sockets = Sockets::bind(&opts)?;
    let stop = Arc::new(Latch::default());
    let on_signal = stop.clone();
    std::thread::Builder::new()
        .name("placement-signals".into())
        .spawn(move || {
            for (seen, sig) in signals.forever().enumerate() {
                if seen > 0 {
                    tracing::warn!(signal = sig, "second signal; exiting now");
                    std::process::exit(1);
                }
                tracing::info!(target: "daprd::placement", signal = sig, "received signal; shutting down");
                on_signal.trigger();
            }
        })
        .map_err(|source| StartupError::Io {
            what: "could not start the signal thread",
            source,
        })?;
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .map_err(|source| StartupError::Io {
            what: "could not build the runtime",
            source,
        })?;
    rt.block_on(serve(opts, sockets, stop));
    tracing::info!(target: "daprd::placement", "Placement service shut down gracefully");
    Ok(())
}

/// The listening sockets, bound before anything runs so that a taken port
/// fails start-up at once.
struct Sockets {
    grpc: Bound,
    healthz: Bound,
    metrics: Option<Bound>,
}

impl Sockets {
    fn bind(opts: &Options) -> Result<Self, ListenError> {
        let hosts = |a: &str| -> Vec<String> {
            if a.is_empty() {
                Vec::new()
            } else {
                vec![a.to_owned()]
            }
        };
        let listen = hosts(&opts.listen_address);
        Ok(Self {
            grpc: listener::bind("placement gRPC", &listen, opts.port, 1)?,
            healthz: listener::bind(
                "healthz",
                &hosts(&opts.healthz_listen_address),
                opts.healthz_port,
                1,
            )?,
            // Go's placement serves metrics on --listen-address, not
            // --metrics-listen-address.
            metrics: opts
                .metrics_port
                .map(|p| listener::bind("metrics", &listen, p, 1))
                .transpose()?,
        })
    }
}

async fn serve(opts: Options, sockets: Sockets, stop: Arc<Latch>) {
    let hub = Hub::new(Config {
        replication_factor: opts.replication_factor,
        disseminate_timeout: opts.disseminate_timeout,
        coalesce_window: opts.coalesce_window,
    });
    let drain = Drain::new();
    let ready = Rc::new(Cell::new(false));
    let limits = Rc::new(Limits {
        max_head: 16 * 1024,
        max_body: 1024 * 1024,
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        body_timeout: Duration::from_secs(10),
    });

    let healthz = Rc::new(http::Healthz {
        ready: ready.clone(),
        metadata: opts.metadata_enabled,
        hub: hub.clone(),
    });
    for (addr, l) in listener::register(sockets.healthz) {
        tracing::info!(target: "daprd::placement", "Healthz server is listening on {addr}");
        h1::spawn_accept(l, healthz.clone(), limits.clone(), drain.clone());
    }
    if let Some(metrics) = sockets.metrics {
        let endpoint = Rc::new(http::MetricsEndpoint { hub: hub.clone() });
        for (addr, l) in listener::register(metrics) {
            tracing::info!(
                target: "daprd::placement",
                "metrics server started on {}:{}/",
                opts.listen_address,
                addr.port()
            );
            h1::spawn_accept(l, endpoint.clone(), limits.clone(), drain.clone());
        }
    }

    tracing::info!(target: "daprd::placement::server", "Placement service is starting...");
    let grpc = Rc::new(PlacementGrpc::new(hub.clone()));
    let keepalive = Keepalive {
        every: opts.keepalive_time,
        timeout: opts.keepalive_timeout,
    };
    let grpc_listeners = listener::register(sockets.grpc);
    if let Some((addr, _)) = grpc_listeners.first() {
        tracing::info!(
            target: "daprd::placement::server",
            "Placement service started on port {}",
            addr.port()
        );
    }
    for (addr, l) in grpc_listeners {
        tracing::info!(
            target: "daprd::placement::server",
            "Running Placement gRPC server on {addr}"
        );
        let (grpc, d) = (grpc.clone(), drain.clone());
        monoio::spawn(listener::accept_loop(l, drain.clone(), move |io, peer| {
            server::serve_connection(io, peer, grpc.clone(), keepalive, d.clone())
        }));
    }
    // One replica: the leader from the start.
    tracing::info!(
        target: "daprd::placement::server",
        "Node id={} has acquired leadership",
        opts.id
    );
    ready.set(true);

    stop.wait().await;
    ready.set(false);
    hub.shutdown();
    drain.close();
    let left = drain.drained(GRACE).await;
    if left > 0 {
        tracing::warn!(
            target: "daprd::placement",
            connections = left,
            "grace period over; closing connections"
        );
    }
    tracing::info!(target: "daprd::placement::server", "Placement GRPC server stopped");
    tracing::info!(target: "daprd::placement", "Healthz server is shutting down");
}
