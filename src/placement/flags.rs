//! The placement service's flags, named and defaulted as Go 1.18's
//! (`cmd/placement/options`), and the validated [`Options`] built from them.
//!
//! Parsing follows `spf13/pflag` as daprd's flags do (single-dash long
//! flags, `--x`/`--x=false` booleans, comma-separated lists); a flag or value
//! that does not parse is a usage error (exit 2, as pflag's `ExitOnError`).
//! Then [`Options::from_flags`] applies Go's checks (keepalive ranges, the
//! log level, this node in `--initial-cluster`), which fail start-up
//! (exit 1, as Go's `log.Fatal`), and refuses what this build does not do:
//! more than one replica (Raft), mTLS, and Kubernetes mode.

use std::ffi::OsString;
use std::time::Duration;

use clap::Parser;

use crate::config::flags::{normalize_args, parse_go_bool};
use crate::config::options::{format_go_duration, parse_go_duration};
use crate::config::LogLevel;

/// Every flag Go's `placement` 1.18 accepts.
#[derive(Clone, Debug, PartialEq, Eq, Parser)]
#[command(
    name = "placement",
    bin_name = "placement",
    about = "Dapr placement service: the actor type table of every sidecar (one replica)",
    long_about = None,
    allow_hyphen_values = true,
    args_override_self = true,
    disable_version_flag = true
)]
pub struct Flags {
    // ---- Raft (accepted for compatibility: this build is one replica) ------
    /// Placement server ID.
    #[arg(long, default_value = "dapr-placement-0")]
    pub id: String,

    /// Raft cluster peers, `<id>=<host:port>`; repeatable, comma-separated.
    /// This build runs a single replica: only this node may be listed.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "dapr-placement-0=127.0.0.1:8201"
    )]
    pub initial_cluster: Vec<String>,

    /// Enable in-memory log and snapshot store unless --raft-logstore-path is set.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub inmem_store_enabled: bool,

    /// Raft log store path (no Raft log here: accepted and unused).
    #[arg(long, default_value = "")]
    pub raft_logstore_path: String,

    // ---- the placement gRPC server -----------------------------------------
    /// The gRPC port of the placement service.
    #[arg(long, default_value_t = 50005)]
    pub port: i64,

    /// The listening address of the placement service (empty: all interfaces).
    #[arg(long, default_value = "")]
    pub listen_address: String,

    /// The HTTP port of the healthz server.
    #[arg(long, default_value_t = 8080)]
    pub healthz_port: i64,

    /// The listening address of the healthz server (empty: all interfaces).
    #[arg(long, default_value = "")]
    pub healthz_listen_address: String,

    /// Serve the placement gRPC server with mTLS (not supported by this build).
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub tls_enabled: bool,

    /// Expose the placement tables on the healthz server (`/placement/state`)
    /// [default: $DAPR_PLACEMENT_METADATA_ENABLED, else false].
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub metadata_enabled: Option<bool>,

    /// The replication factor for actor distribution on virtual nodes.
    #[arg(long = "replicationFactor", default_value_t = 100)]
    pub replication_factor: i64,

    /// Interval of the HTTP/2 keepalive pings to each sidecar (1s to 10s).
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub keepalive_time: Duration,

    /// How long a sidecar may take to answer a keepalive ping before its
    /// connection is closed (1s to 10s).
    #[arg(long, default_value = "3s", value_parser = parse_duration, value_name = "DURATION")]
    pub keepalive_timeout: Duration,

    /// How long a dissemination round may take; sidecars that have not
    /// answered by then are disconnected.
    #[arg(long, default_value = "8s", value_parser = parse_duration, value_name = "DURATION")]
    pub disseminate_timeout: Duration,

    /// After a round, collect connects and disconnects for this long into
    /// the next one (0: start it at once).
    #[arg(long, default_value = "0s", value_parser = parse_duration, value_name = "DURATION")]
    pub disseminate_coalesce_window: Duration,

    // ---- security and mode --------------------------------------------------
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

    /// Deprecated and without effect.
    #[arg(long, hide = true, default_value_t = 10)]
    pub max_api_level: i64,

    /// Deprecated and without effect.
    #[arg(long, hide = true, default_value_t = 0)]
    pub min_api_level: i64,

    // ---- logging and metrics -------------------------------------------------
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

    /// Accepted as Go's: its placement serves metrics on --listen-address.
    #[arg(long, default_value = "0.0.0.0")]
    pub metrics_listen_address: String,

    /// Serve Prometheus metrics.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub enable_metrics: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_go_duration(s).map_err(|e| format!("time: invalid duration {s:?}: {e}"))
}

/// Parses a full argument vector (program name first), as
/// [`crate::config::flags::parse_from`] does for daprd.
pub fn parse_from<I, T>(args: I) -> Result<Flags, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    Flags::try_parse_from(normalize_args(args.into_iter().map(Into::into)))
}

/// Go's `kit/strings.IsTruthy`.
fn is_truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "true" | "t" | "on" | "1"
    )
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
    /// `--healthz-port`.
    pub healthz_port: u16,
    /// `--healthz-listen-address` (empty: all interfaces).
    pub healthz_listen_address: String,
    /// `--metadata-enabled`, or `$DAPR_PLACEMENT_METADATA_ENABLED`.
    pub metadata_enabled: bool,
    /// `--replicationFactor`.
    pub replication_factor: i64,
    /// `--keepalive-time`.
    pub keepalive_time: Duration,
    /// `--keepalive-timeout`.
    pub keepalive_timeout: Duration,
    /// `--disseminate-timeout`.
    pub disseminate_timeout: Duration,
    /// `--disseminate-coalesce-window`.
    pub coalesce_window: Duration,
    /// `--log-level`.
    pub log_level: LogLevel,
    /// `--log-as-json`.
    pub log_as_json: bool,
    /// `--metrics-port` when `--enable-metrics`; `None` when disabled.
    pub metrics_port: Option<u16>,
    /// Flags given that this build accepts but ignores (a warning each).
    pub ignored: Vec<&'static str>,
}

const KEEPALIVE_MIN: Duration = Duration::from_secs(1);
const KEEPALIVE_MAX: Duration = Duration::from_secs(10);

impl Options {
    /// Validates `f`; `env` looks up environment variables.
    pub fn from_flags(
        f: Flags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Options, OptionsError> {
        for (name, d) in [
            ("keepalive-time", f.keepalive_time),
            ("keepalive-timeout", f.keepalive_timeout),
        ] {
            if !(KEEPALIVE_MIN..=KEEPALIVE_MAX).contains(&d) {
                return Err(OptionsError(format!(
                    "invalid value for {name}: value should be between {} and {}, got {}",
                    format_go_duration(KEEPALIVE_MIN),
                    format_go_duration(KEEPALIVE_MAX),
                    format_go_duration(d)
                )));
            }
        }
        let log_level = LogLevel::parse(&f.log_level).ok_or_else(|| {
            OptionsError(format!("invalid value for --log-level: {}", f.log_level))
        })?;
        let peers = parse_peers(&f.initial_cluster);
        if !peers.iter().any(|(id, _)| *id == f.id) {
            let listed: Vec<String> = peers.iter().map(|(i, a)| format!("{{{i} {a}}}")).collect();
            return Err(OptionsError(format!(
                "address for node {} not found in raft peers [{}]",
                f.id,
                listed.join(" ")
            )));
        }
        if peers.len() > 1 {
            return Err(OptionsError(format!(
                "--initial-cluster lists {} placement nodes: this build runs a single placement \
                 replica (no Raft); list only this node (--id {}), or none",
                peers.len(),
                f.id
            )));
        }
        if f.tls_enabled {
            return Err(OptionsError(
                "--tls-enabled: this build has no mTLS (no Sentry, no SPIFFE identities); \
                 placement serves plaintext h2c only"
                    .into(),
            ));
        }
        if f.mode.eq_ignore_ascii_case("kubernetes") {
            return Err(OptionsError(
                "--mode kubernetes: this build runs standalone only (Kubernetes mode needs mTLS \
                 through Sentry)"
                    .into(),
            ));
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
        let metadata_enabled = f.metadata_enabled.unwrap_or_else(|| {
            env("DAPR_PLACEMENT_METADATA_ENABLED").is_some_and(|v| is_truthy(&v))
        });
        let mut ignored = Vec::new();
        if !f.log_file.is_empty() {
            ignored.push("log-file");
        }
        Ok(Options {
            id: f.id,
            port,
            listen_address: f.listen_address,
            healthz_port,
            healthz_listen_address: f.healthz_listen_address,
            metadata_enabled,
            replication_factor: f.replication_factor,
            keepalive_time: f.keepalive_time,
            keepalive_timeout: f.keepalive_timeout,
            disseminate_timeout: f.disseminate_timeout,
            coalesce_window: f.disseminate_coalesce_window,
            log_level,
            log_as_json: f.log_as_json,
            metrics_port,
            ignored,
        })
    }
}

/// `--initial-cluster` entries as `(id, address)`; entries without exactly
/// one `=` are skipped, as Go's `parsePeersFromFlag` does.
fn parse_peers(entries: &[String]) -> Vec<(String, String)> {
    entries
        .iter()
        .filter_map(|e| {
            let mut parts = e.splitn(3, '=');
            let (id, addr) = (parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            Some((id.trim().to_owned(), addr.trim().to_owned()))
        })
        .collect()
}

fn listen_port(name: &str, p: i64) -> Result<u16, OptionsError> {
    u16::try_from(p)
        .map_err(|_| OptionsError(format!("failed to listen: --{name} {p}: invalid port")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, OptionsError> {
        let mut v = vec!["placement"];
        v.extend_from_slice(args);
        let f = parse_from(v).unwrap();
        Options::from_flags(f, &|_| None)
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Flags::command().debug_assert();
    }

    #[test]
    fn defaults_are_gos() {
        let f = parse_from(["placement"]).unwrap();
        assert_eq!(f.id, "dapr-placement-0");
        assert_eq!(f.initial_cluster, ["dapr-placement-0=127.0.0.1:8201"]);
        assert!(f.inmem_store_enabled);
        assert_eq!(f.port, 50005);
        assert_eq!(f.listen_address, "");
        assert_eq!(f.healthz_port, 8080);
        assert!(!f.tls_enabled);
        assert_eq!(f.replication_factor, 100);
        assert_eq!(f.trust_domain, "localhost");
        assert_eq!(f.mode, "standalone");
        assert_eq!(f.max_api_level, 10);
        assert_eq!(f.metrics_port, "9090");
        assert_eq!(f.metrics_listen_address, "0.0.0.0");
        assert!(f.enable_metrics);
        let o = Options::from_flags(f, &|_| None).unwrap();
        assert_eq!(o.port, 50005);
        assert_eq!(o.healthz_port, 8080);
        assert_eq!(o.metrics_port, Some(9090));
        assert_eq!(o.keepalive_time, Duration::from_secs(2));
        assert_eq!(o.keepalive_timeout, Duration::from_secs(3));
        assert_eq!(o.disseminate_timeout, Duration::from_secs(8));
        assert_eq!(o.coalesce_window, Duration::ZERO);
        assert_eq!(o.log_level, LogLevel::Info);
        assert!(!o.metadata_enabled);
        assert!(o.ignored.is_empty());
    }

    #[test]
    fn go_spellings() {
        let o = parse(&[
            "-replicationFactor",
            "7",
            "--disseminate-timeout=1.5s",
            "-port",
            "0",
            "--enable-metrics=false",
            "--log-as-json",
            "--metadata-enabled",
        ])
        .unwrap();
        assert_eq!(o.replication_factor, 7);
        assert_eq!(o.disseminate_timeout, Duration::from_millis(1500));
        assert_eq!(o.port, 0);
        assert_eq!(o.metrics_port, None);
        assert!(o.log_as_json);
        assert!(o.metadata_enabled);
    }

    #[test]
    fn metadata_enabled_from_the_environment() {
        let f = parse_from(["placement"]).unwrap();
        let env = |k: &str| (k == "DAPR_PLACEMENT_METADATA_ENABLED").then(|| " Yes".to_owned());
        assert!(
            Options::from_flags(f.clone(), &env)
                .unwrap()
                .metadata_enabled
        );
        let f = parse_from(["placement", "--metadata-enabled=false"]).unwrap();
        assert!(!Options::from_flags(f, &env).unwrap().metadata_enabled);
    }

    #[test]
    fn go_checks() {
        let err = parse(&["--keepalive-time", "500ms"]).unwrap_err();
        assert_eq!(
            err.0,
            "invalid value for keepalive-time: value should be between 1s and 10s, got 500ms"
        );
        assert!(parse(&["--keepalive-timeout", "11s"]).is_err());
        assert!(parse(&["--keepalive-timeout", "10s"]).is_ok());
        let err = parse(&["--log-level", "loud"]).unwrap_err();
        assert_eq!(err.0, "invalid value for --log-level: loud");
        let err = parse(&["--id", "other"]).unwrap_err();
        assert_eq!(
            err.0,
            "address for node other not found in raft peers [{dapr-placement-0 127.0.0.1:8201}]"
        );
        assert!(parse(&["--id", "p1", "--initial-cluster", "p1=localhost:1"]).is_ok());
        assert!(parse(&["--port", "70000"]).is_err());
        assert!(parse(&["--metrics-port", "x"]).is_err());
        assert!(parse(&["--metrics-port", "x", "--enable-metrics=false"]).is_ok());
        let o = parse(&["--log-file", "/tmp/x"]).unwrap();
        assert_eq!(o.ignored, ["log-file"]);
    }

    #[test]
    fn what_this_build_refuses() {
        let err = parse(&["--initial-cluster", "a=h:1,b=h:2,dapr-placement-0=h:3"]).unwrap_err();
        assert!(err.0.contains("single placement replica"), "{err}");
        let err = parse(&["--tls-enabled"]).unwrap_err();
        assert!(err.0.contains("no mTLS"), "{err}");
        assert!(parse(&["--tls-enabled=false"]).is_ok());
        let err = parse(&["--mode", "kubernetes"]).unwrap_err();
        assert!(err.0.contains("standalone only"), "{err}");
    }

    #[test]
    fn usage_errors() {
        for bad in [
            &["--keepalive-time", "fast"][..],
            &["--port", "http"],
            &["--no-such-flag"],
            &["--tls-enabled=maybe"],
        ] {
            let mut v = vec!["placement"];
            v.extend_from_slice(bad);
            let e = parse_from(v).unwrap_err();
            assert!(e.use_stderr(), "{bad:?}");
        }
    }
}
