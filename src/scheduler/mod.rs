//! The `scheduler` service: Dapr's job and actor-reminder scheduler, one
//! replica, wire compatible with Go 1.17/1.18 sidecars (and ours).
//!
//! Sidecars store jobs with `ScheduleJob` and keep `WatchJobs` streams open
//! on which the scheduler delivers each job when it is due, waiting for the
//! sidecar's result to count the tick or apply the job's failure policy.
//! Jobs survive restarts in a SQLite file under `--etcd-data-dir`.
//!
//! A composition root beside `runtime`, importing only the ground layer:
//! - [`flags`]: Go's flags → validated [`flags::Options`];
//! - [`cron`]: schedules as Go parses and steps them;
//! - [`job`]: validation, timing, counters and failure policy, and Dapr's
//!   job keys, sans I/O;
//! - [`store`]: the SQLite file and its writer thread;
//! - [`engine`]: the jobs in memory, the timer queue, the streams, staging;
//! - [`server`]: the gRPC server over h2c and its stream tasks;
//! - [`http`] and [`metrics`]: `/healthz`, `/metrics`.
//!
//! Go's scheduler is a cluster (etcd, leadership, job partitions); one
//! replica of it owns every job, which is what this service is. It
//! announces itself alone in `WatchHosts`. Global concurrency limits
//! (`WatchJobsRequestInitial.concurrency_limits`) are not enforced.

pub mod cron;
pub mod engine;
pub mod flags;
pub mod http;
pub mod job;
pub mod metrics;
pub mod server;
pub mod store;

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use self::engine::Engine;
use self::flags::Options;
use self::metrics::Metrics;
use self::server::{Hub, SchedulerGrpc};
use self::store::{Store, StoreError};
use crate::http::h1::{self, Limits};
use crate::net::listener::{self, Bound, ListenError};
use crate::net::shutdown::{Drain, Latch};
use crate::proto::dapr::proto::scheduler::v1::Host;

/// How long stopping waits for connections to finish (Go's bound).
const GRACE: Duration = Duration::from_secs(5);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A port could not be bound.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// The job store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No address to announce to sidecars.
    #[error("failed to get host address: none of this host's addresses routes anywhere (set --override-broadcast-host-port)")]
    NoHostAddress,
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
        target: "daprd::scheduler",
        "Starting Dapr Scheduler Service -- version {} -- commit {}",
        crate::config::RUNTIME_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    tracing::info!(target: "daprd::scheduler", "Log level set to: {}", opts.log_level);
    for flag in &opts.ignored {
        tracing::warn!(
            target: "daprd::scheduler",
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
    let broadcast = broadcast_address(&opts, sockets.grpc.port())?;
    let (store, rows) = Store::open(Path::new(&opts.data_dir))?;
    tracing::info!(
        target: "daprd::scheduler",
        "Job store {} opened: {} job(s)",
        Path::new(&opts.data_dir).join(store::FILE).display(),
        rows.len()
    );
    let stop = Arc::new(Latch::default());
    let on_signal = stop.clone();
    std::thread::Builder::new()
        .name("scheduler-signals".into())
        .spawn(move || {
            for (seen, sig) in signals.forever().enumerate() {
                if seen > 0 {
                    tracing::warn!(signal = sig, "second signal; exiting now");
                    std::process::exit(1);
                }
                tracing::info!(target: "daprd::scheduler", signal = sig, "received signal; shutting down");
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
    let writer = store.writer();
    rt.block_on(serve(opts, sockets, broadcast, rows, writer, stop));
    // Every task (and its handle on the store) goes with the runtime; then
    // what is still queued is committed.
    drop(rt);
    store.close();
    tracing::info!(target: "daprd::scheduler", "Scheduler service shut down gracefully");
    Ok(())
}

/// The address sidecars are told to connect to, as Go picks it.
fn broadcast_address(opts: &Options, port: u16) -> Result<String, StartupError> {
    if let Some(b) = &opts.broadcast {
        return Ok(b.clone());
    }
    let host = if matches!(
        opts.listen_address.as_str(),
        "localhost" | "127.0.0.1" | "[::1]" | "::1"
    ) {
        opts.listen_address.clone()
    } else {
        crate::net::host::host_address(&|k| std::env::var(k).ok())
            .ok_or(StartupError::NoHostAddress)?
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
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
            grpc: listener::bind("scheduler gRPC", &listen, opts.port, 1)?,
            healthz: listener::bind(
                "healthz",
                &hosts(&opts.healthz_listen_address),
                opts.healthz_port,
                1,
            )?,
            // Go's scheduler serves metrics on --listen-address.
            metrics: opts
                .metrics_port
                .map(|p| listener::bind("metrics", &listen, p, 1))
                .transpose()?,
        })
    }
}

async fn serve(
    opts: Options,
    sockets: Sockets,
    broadcast: String,
    rows: Vec<store::Row>,
    writer: store::Writer,
    stop: Arc<Latch>,
) {
    let metrics = Rc::new(Metrics::default());
    let (poke, poked) = local_sync::mpsc::unbounded::channel();
    let engine = Engine::new(rows, writer, metrics.clone(), poke);
    let hub = Rc::new(Hub {
        engine: RefCell::new(engine),
        metrics: metrics.clone(),
        hosts: vec![Host {
            address: broadcast.clone(),
        }],
        stop: Drain::new(),
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
    });
    for (addr, l) in listener::register(sockets.healthz) {
        tracing::info!(target: "daprd::scheduler", "Healthz server is listening on {addr}");
        h1::spawn_accept(l, healthz.clone(), limits.clone(), drain.clone());
    }
    if let Some(m) = sockets.metrics {
        let endpoint = Rc::new(http::MetricsEndpoint {
            metrics: metrics.clone(),
        });
        for (addr, l) in listener::register(m) {
            tracing::info!(
                target: "daprd::scheduler",
                "metrics server started on {}:{}/",
                opts.listen_address,
                addr.port()
            );
            h1::spawn_accept(l, endpoint.clone(), limits.clone(), drain.clone());
        }
    }

    tracing::info!(target: "daprd::scheduler::server", "Dapr Scheduler is starting...");
    tracing::info!(target: "daprd::scheduler::cron", "Starting Cron");
    monoio::spawn(hub.clone().run_timer(poked));
    let grpc = Rc::new(SchedulerGrpc::new(hub.clone()));
    let grpc_listeners = listener::register(sockets.grpc);
    for (addr, l) in grpc_listeners {
        tracing::info!(
            target: "daprd::scheduler::server",
            "Dapr Scheduler listening on: {}:{}",
            opts.listen_address,
            addr.port()
        );
        let (grpc, d) = (grpc.clone(), drain.clone());
        monoio::spawn(listener::accept_loop(l, drain.clone(), move |io, peer| {
            server::serve_connection(io, peer, grpc.clone(), d.clone())
        }));
    }
    tracing::info!(
        target: "daprd::scheduler::server",
        "Running gRPC server on port {}; announcing {broadcast} to sidecars (id {})",
        opts.port,
        opts.id
    );
    ready.set(true);

    stop.wait().await;
    ready.set(false);
    hub.stop.close();
    hub.engine.borrow_mut().close_streams();
    drain.close();
    let left = drain.drained(GRACE).await;
    if left > 0 {
        tracing::warn!(
            target: "daprd::scheduler::server",
            "Graceful shutdown timed out after 5s, forcing stop ({left} connection(s))"
        );
    }
    tracing::info!(target: "daprd::scheduler::server", "Scheduler GRPC server stopped");
    tracing::info!(target: "daprd::scheduler::cron", "Cron shut down");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Options {
        let mut v = vec!["scheduler"];
        v.extend_from_slice(args);
        Options::from_flags(flags::parse_from(v).unwrap()).unwrap()
    }

    #[test]
    fn broadcast_address_as_go_picks_it() {
        let o = opts(&["--override-broadcast-host-port", "sched:1234"]);
        assert_eq!(broadcast_address(&o, 50006).unwrap(), "sched:1234");
        let o = opts(&["--listen-address", "127.0.0.1"]);
        assert_eq!(broadcast_address(&o, 50006).unwrap(), "127.0.0.1:50006");
        let o = opts(&["--listen-address", "::1"]);
        assert_eq!(broadcast_address(&o, 7).unwrap(), "[::1]:7");
        let o = opts(&["--listen-address", "localhost"]);
        assert_eq!(broadcast_address(&o, 7).unwrap(), "localhost:7");
    }
}
