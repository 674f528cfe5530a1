//! The scheduler service's flags, named and defaulted as Go 1.18's
//! (`cmd/scheduler/options`), and the validated [`Options`] built from them.
//!
//! Parsing follows `spf13/pflag` as daprd's flags do; a flag or value that
//! does not parse is a usage error (exit 2). Then [`Options::from_flags`]
//! applies Go's checks (the etcd client flags against `--etcd-embed`, the
//! log level, `--kubeconfig` outside Kubernetes mode), which fail start-up
//! (exit 1), and refuses what this build does not do: mTLS, Kubernetes
//! mode, more than one replica and an external etcd. The jobs live in an
//! embedded SQLite file under `--etcd-data-dir` instead of an embedded
//! etcd, so the etcd tuning flags are accepted and ignored (a warning
//! each when given).

use std::ffi::OsString;

use clap::Parser;

use crate::config::flags::{normalize_args, parse_go_bool};
use crate::config::LogLevel;

/// Every flag Go's `scheduler` 1.18 accepts.
#[derive(Clone, Debug, PartialEq, Eq, Parser)]
#[command(
    name = "scheduler",
    bin_name = "scheduler",
    about = "Dapr scheduler service: jobs and actor reminders (one replica)",
    long_about = None,
    allow_hyphen_values = true,
    args_override_self = true,
    disable_version_flag = true
)]
pub struct Flags {
    // ---- the scheduler gRPC server -------------------------------------------
    /// The port for the scheduler server to listen on.
    #[arg(long, default_value_t = 50006)]
    pub port: i64,

    /// The address for the scheduler to listen on (empty: all interfaces).
    #[arg(long, default_value = "")]
    pub listen_address: String,

    /// The address (host:port) this scheduler tells sidecars to connect to
    /// (WatchHosts) [default: --listen-address:--port when that is a
    /// loopback address, else this host's address and --port].
    #[arg(long)]
    pub override_broadcast_host_port: Option<String>,

    /// The port for the healthz server to listen on.
    #[arg(long, default_value_t = 8080)]
    pub healthz_port: i64,

    /// The listening address for the healthz server (empty: all interfaces).
    #[arg(long, default_value = "")]
    pub healthz_listen_address: String,

    /// Scheduler server ID.
    #[arg(long, default_value = "dapr-scheduler-server-0")]
    pub id: String,

    /// Number of workers handling job events (one thread here: ignored).
    #[arg(long)]
    pub workers: Option<u32>,

    // ---- the job store ---------------------------------------------------------
    /// Directory of the scheduler's job store (here a SQLite file,
    /// `scheduler.db`, instead of an embedded etcd).
    #[arg(long, default_value = "./data")]
    pub etcd_data_dir: String,

    /// Embed the job store (an external etcd is not supported by this build).
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub etcd_embed: bool,

    /// Initial etcd cluster peers, `<id>=<url>`; this build runs a single
    /// replica: only this node may be listed.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "dapr-scheduler-server-0=http://localhost:2380"
    )]
    pub etcd_initial_cluster: Vec<String>,

    /// External etcd endpoints (only without --etcd-embed; not supported).
    #[arg(long, value_delimiter = ',')]
    pub etcd_client_endpoints: Vec<String>,

    /// External etcd user name (only without --etcd-embed).
    #[arg(long, default_value = "")]
    pub etcd_client_username: String,

    /// External etcd password (only without --etcd-embed).
    #[arg(long, default_value = "")]
    pub etcd_client_password: String,

    /// Space quota for etcd.
    #[arg(long, default_value = "9.2E")]
    pub etcd_space_quota: String,

    /// Port of the embedded etcd's clients (no etcd here: ignored).
    #[arg(long)]
    pub etcd_client_port: Option<u64>,

    /// Listen address of the embedded etcd's clients (ignored).
    #[arg(long)]
    pub etcd_client_listen_address: Option<String>,

    /// etcd compaction mode (ignored).
    #[arg(long)]
    pub etcd_compaction_mode: Option<String>,

    /// etcd compaction retention (ignored).
    #[arg(long)]
    pub etcd_compaction_retention: Option<String>,

    /// etcd snapshot count (ignored).
    #[arg(long)]
    pub etcd_snapshot_count: Option<u64>,

    /// etcd snapshots kept (ignored).
    #[arg(long)]
    pub etcd_max_snapshots: Option<u64>,

    /// etcd WAL files kept (ignored).
    #[arg(long)]
    pub etcd_max_wals: Option<u64>,

    /// etcd backend batch limit (ignored).
    #[arg(long)]
    pub etcd_backend_batch_limit: Option<i64>,

    /// etcd backend batch interval (ignored).
    #[arg(long)]
    pub etcd_backend_batch_interval: Option<String>,

    /// etcd operations per transaction (ignored).
    #[arg(long)]
    pub etcd_max_txn_ops: Option<u64>,

    /// etcd bootstrap defragmentation threshold (ignored).
    #[arg(long)]
    pub etcd_experimental_bootstrap_defrag_threshold_megabytes: Option<u64>,

    /// etcd initial election tick advance (ignored).
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub etcd_initial_election_tick_advance: Option<bool>,

    /// etcd metrics detail (ignored).
    #[arg(long)]
    pub etcd_metrics: Option<String>,

    // ---- security and mode -------------------------------------------------------
    /// Serve the gRPC server with mTLS (not supported by this build).
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub tls_enabled: bool,

    /// Trust domain of the Dapr control plane.
    #[arg(long, default_value = "localhost")]
    pub trust_domain: String,

    /// File of the control plane's trust anchors.
    #[arg(long, default_value = "/var/run/secrets/dapr.io/tls/ca.crt")]
    pub trust_anchors_file: String,

    /// Address of the Sentry service [default: dapr-sentry.<$NAMESPACE or default>.svc:443].
    #[arg(long)]
    pub sentry_address: Option<String>,

    /// Runtime mode: standalone (kubernetes is not supported by this build).
    #[arg(long, default_value = "standalone")]
    pub mode: String,

    /// Kubernetes mode only: the kubeconfig file.
    #[arg(long, hide = true)]
    pub kubeconfig: Option<String>,

    /// Where Go writes its identity certificate (no mTLS here: ignored).
    #[arg(long, hide = true)]
    pub identity_directory_write: Option<String>,

    // ---- logging and metrics -------------------------------------------------------
    /// Log level: debug, info, warn, error or fatal.
    #[arg(long, default_value = "info")]
    pub log_level: String,

    /// Write logs to this file (not supported by this build: logs go to stdout).
    #[arg(long, default_value = "")]
    pub log_file: String,

    /// Write logs as JSON.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub log_as_json: bool,

    /// Port of the Prometheus metrics server.
    #[arg(long, default_value = "9090", value_name = "PORT")]
    pub metrics_port: String,

    /// Accepted as Go's: its scheduler serves metrics on --listen-address.
    #[arg(long, default_value = "0.0.0.0")]
    pub metrics_listen_address: String,

    /// Serve Prometheus metrics.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub enable_metrics: bool,
}

/// Parses a full argument vector (program name first).
pub fn parse_from<I, T>(args: I) -> Result<Flags, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    Flags::try_parse_from(normalize_args(args.into_iter().map(Into::into)))
}

/// Why the service cannot start with these flags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OptionsError(pub String);

/// The validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `--id`.
    pub id: String,
    /// `--port`.
    pub port: u16,
    /// `--listen-address` (empty: all interfaces); also the metrics server's, as in Go.
    pub listen_address: String,
    /// `--override-broadcast-host-port`, when given.
    pub broadcast: Option<String>,
    /// `--healthz-port`.
    pub healthz_port: u16,
    /// `--healthz-listen-address` (empty: all interfaces).
    pub healthz_listen_address: String,
    /// `--etcd-data-dir`: where the job store lives.
    pub data_dir: String,
    /// `--log-level`.
    pub log_level: LogLevel,
    /// `--log-as-json`.
    pub log_as_json: bool,
    /// `--metrics-port` when `--enable-metrics`; `None` when disabled.
    pub metrics_port: Option<u16>,
    /// Flags given that this build accepts but ignores (a warning each).
    pub ignored: Vec<&'static str>,
}

impl Options {
    /// Validates `f`.
    pub fn from_flags(f: Flags) -> Result<Options, OptionsError> {
        let err = |s: &str| Err(OptionsError(s.to_owned()));
        if f.kubeconfig.is_some() && !f.mode.eq_ignore_ascii_case("kubernetes") {
            return err("kubeconfig flag is only valid in --mode=kubernetes");
        }
        if f.etcd_embed {
            if !f.etcd_client_endpoints.is_empty() {
                return err("cannot use --etcd-client-endpoints with --etcd-embed");
            }
            if !f.etcd_client_username.is_empty() {
                return err("cannot use --etcd-client-username with --etcd-embed");
            }
            if !f.etcd_client_password.is_empty() {
                return err("cannot use --etcd-client-password with --etcd-embed");
            }
        } else if f.etcd_client_endpoints.is_empty() {
            return err("must specify --etcd-client-endpoints when not using embedded etcd");
        } else {
            return err(
                "--etcd-embed=false: this build has no etcd client; its job store is embedded \
                 (SQLite under --etcd-data-dir)",
            );
        }
        if !is_quantity(&f.etcd_space_quota) {
            return Err(OptionsError(format!(
                "failed to parse etcd space quota: quantities must match the regular \
                 expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' ({:?})",
                f.etcd_space_quota
            )));
        }
        let log_level = LogLevel::parse(&f.log_level).ok_or_else(|| {
            OptionsError(format!("invalid value for --log-level: {}", f.log_level))
        })?;
        if f.tls_enabled {
            return err(
                "--tls-enabled: this build has no mTLS (no Sentry, no SPIFFE identities); the \
                 scheduler serves plaintext h2c only",
            );
        }
        if f.mode.eq_ignore_ascii_case("kubernetes") {
            return err(
                "--mode kubernetes: this build runs standalone only (Kubernetes mode needs mTLS \
                 through Sentry)",
            );
        }
        let peers: Vec<&str> = f
            .etcd_initial_cluster
            .iter()
            .filter_map(|p| p.split_once('=').map(|(id, _)| id.trim()))
            .collect();
        if peers.len() > 1 {
            return Err(OptionsError(format!(
                "--etcd-initial-cluster lists {} scheduler nodes: this build runs a single \
                 scheduler replica (no etcd cluster); list only this node (--id {}), or none",
                peers.len(),
                f.id
            )));
        }
        if let Some(other) = peers.first().filter(|p| **p != f.id) {
            return Err(OptionsError(format!(
                "couldn't find local name {:?} in the initial cluster configuration (it lists \
                 {other:?})",
                f.id
            )));
        }
        let port = listen_port("port", f.port)?;
        let healthz_port = listen_port("healthz-port", f.healthz_port)?;
        let metrics_port = if f.enable_metrics {
            let p = f
                .metrics_port
                .parse::<i64>()
                .map_err(|e| OptionsError(format!("failed to parse metrics port: {e}")))?;
            Some(listen_port("metrics-port", p)?)
        } else {
            None
        };
        let mut ignored = Vec::new();
        let given: [(&'static str, bool); 15] = [
            ("log-file", !f.log_file.is_empty()),
            ("workers", f.workers.is_some()),
            ("etcd-client-port", f.etcd_client_port.is_some()),
            (
                "etcd-client-listen-address",
                f.etcd_client_listen_address.is_some(),
            ),
            ("etcd-compaction-mode", f.etcd_compaction_mode.is_some()),
            (
                "etcd-compaction-retention",
                f.etcd_compaction_retention.is_some(),
            ),
            ("etcd-snapshot-count", f.etcd_snapshot_count.is_some()),
            ("etcd-max-snapshots", f.etcd_max_snapshots.is_some()),
            ("etcd-max-wals", f.etcd_max_wals.is_some()),
            (
                "etcd-backend-batch-limit",
                f.etcd_backend_batch_limit.is_some(),
            ),
            (
                "etcd-backend-batch-interval",
                f.etcd_backend_batch_interval.is_some(),
            ),
            ("etcd-max-txn-ops", f.etcd_max_txn_ops.is_some()),
            (
                "etcd-experimental-bootstrap-defrag-threshold-megabytes",
                f.etcd_experimental_bootstrap_defrag_threshold_megabytes
                    .is_some(),
            ),
            (
                "etcd-initial-election-tick-advance",
                f.etcd_initial_election_tick_advance.is_some(),
            ),
            ("etcd-metrics", f.etcd_metrics.is_some()),
        ];
        ignored.extend(given.iter().filter(|(_, g)| *g).map(|(n, _)| *n));
        Ok(Options {
            id: f.id,
            port,
            listen_address: f.listen_address,
            broadcast: f.override_broadcast_host_port,
            healthz_port,
            healthz_listen_address: f.healthz_listen_address,
            data_dir: f.etcd_data_dir,
            log_level,
            log_as_json: f.log_as_json,
            metrics_port,
            ignored,
        })
    }
}

/// A Kubernetes resource quantity, loosely (`9.2E`, `8Gi`, `1e9`).
fn is_quantity(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let num = s
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    if num == 0 || s[..num].bytes().filter(|c| *c == b'.').count() > 1 {
        return false;
    }
    matches!(
        &s[num..],
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || s[num..]
        .strip_prefix(['e', 'E'])
        .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
        .is_some_and(|e| !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()))
}

fn listen_port(name: &str, p: i64) -> Result<u16, OptionsError> {
    u16::try_from(p)
        .map_err(|_| OptionsError(format!("failed to listen: --{name} {p}: invalid port")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, OptionsError> {
        let mut v = vec!["scheduler"];
        v.extend_from_slice(args);
        Options::from_flags(parse_from(v).unwrap())
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Flags::command().debug_assert();
    }

    #[test]
    fn defaults_are_gos() {
        let f = parse_from(["scheduler"]).unwrap();
        assert_eq!(f.port, 50006);
        assert_eq!(f.healthz_port, 8080);
        assert_eq!(f.listen_address, "");
        assert_eq!(f.id, "dapr-scheduler-server-0");
        assert_eq!(f.etcd_data_dir, "./data");
        assert!(f.etcd_embed);
        assert_eq!(
            f.etcd_initial_cluster,
            ["dapr-scheduler-server-0=http://localhost:2380"]
        );
        assert_eq!(f.etcd_space_quota, "9.2E");
        assert_eq!(f.mode, "standalone");
        assert_eq!(f.metrics_port, "9090");
        assert!(f.enable_metrics);
        assert!(!f.tls_enabled);
        let o = Options::from_flags(f).unwrap();
        assert_eq!(o.port, 50006);
        assert_eq!(o.metrics_port, Some(9090));
        assert_eq!(o.broadcast, None);
        assert_eq!(o.log_level, LogLevel::Info);
        assert!(o.ignored.is_empty());
    }

    #[test]
    fn go_spellings_and_ignored_flags() {
        let o = parse(&[
            "-port",
            "0",
            "--override-broadcast-host-port",
            "localhost:50006",
            "--etcd-data-dir=/tmp/x",
            "--enable-metrics=false",
            "--log-as-json",
            "--etcd-client-port",
            "2379",
            "--workers=8",
        ])
        .unwrap();
        assert_eq!(o.port, 0);
        assert_eq!(o.broadcast.as_deref(), Some("localhost:50006"));
        assert_eq!(o.data_dir, "/tmp/x");
        assert_eq!(o.metrics_port, None);
        assert!(o.log_as_json);
        assert_eq!(o.ignored, ["workers", "etcd-client-port"]);
    }

    #[test]
    fn go_checks() {
        let e = |a: &[&str]| parse(a).unwrap_err().0;
        assert_eq!(
            e(&["--etcd-client-endpoints", "h:2379"]),
            "cannot use --etcd-client-endpoints with --etcd-embed"
        );
        assert_eq!(
            e(&["--etcd-embed=false"]),
            "must specify --etcd-client-endpoints when not using embedded etcd"
        );
        assert_eq!(
            e(&["--kubeconfig", "/k"]),
            "kubeconfig flag is only valid in --mode=kubernetes"
        );
        assert!(e(&["--etcd-space-quota", "lots"]).starts_with("failed to parse etcd space quota"));
        assert!(parse(&["--etcd-space-quota", "8Gi"]).is_ok());
        assert!(parse(&["--etcd-space-quota", "1e9"]).is_ok());
        assert_eq!(
            e(&["--log-level", "loud"]),
            "invalid value for --log-level: loud"
        );
        assert!(parse(&["--port", "70000"]).is_err());
    }

    #[test]
    fn what_this_build_refuses() {
        let e = |a: &[&str]| parse(a).unwrap_err().0;
        assert!(e(&["--tls-enabled"]).contains("no mTLS"));
        assert!(e(&["--mode", "kubernetes"]).contains("standalone only"));
        assert!(e(&[
            "--etcd-initial-cluster",
            "dapr-scheduler-server-0=http://a:2380,s1=http://b:2380"
        ])
        .contains("single scheduler replica"));
        assert!(e(&["--id", "other"]).contains("couldn't find local name"));
        assert!(
            e(&["--etcd-embed=false", "--etcd-client-endpoints", "h:2379"])
                .contains("no etcd client")
        );
        assert!(parse(&[
            "--id",
            "s1",
            "--etcd-initial-cluster",
            "s1=http://localhost:2380"
        ])
        .is_ok());
    }
}
