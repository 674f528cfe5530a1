//! Command-line flags, named and defaulted exactly like Go daprd 1.18's.
//!
//! This module owns step one of configuration: turning `argv` into [`Flags`],
//! a plain record of what was typed. Nothing here interprets values beyond
//! what the command line itself needs (booleans and integers); ports stay
//! strings as in Go, so `--app-port ""` is accepted here and judged later by
//! [`Options::from_flags`](super::Options::from_flags).
//!
//! Parsing follows Go's `spf13/pflag` where it matters to callers:
//! - a single-dash long flag (`-app-id x`) means `--app-id x` ([`normalize_args`]);
//! - a flag that takes a value takes the next argument whatever it looks like,
//!   so `--profile-port -1` works;
//! - boolean flags take no separate argument: `--x`, `--x=true`, `--x=false`
//!   (values as Go's `strconv.ParseBool`);
//! - list flags accept repetition and comma-separated values.
//!
//! Flags marked deprecated or hidden in Go are accepted and hidden from
//! `--help` here too. `--workers` and `--io-driver` are this implementation's
//! own additions; Go daprd has no such flags.

use std::ffi::OsString;

use clap::Parser;

/// Every flag Go daprd 1.18 accepts, plus our own `--workers` and `--io-driver`.
///
/// Field names follow the flag names. Defaults are Go's literal flag defaults.
/// Flags whose Go behaviour depends on whether they were given at all (not
/// just on their value) are `Option`s with the Go default in their help text.
#[derive(Clone, Debug, PartialEq, Eq, Parser)]
#[command(
    name = "daprd",
    bin_name = "daprd",
    about = "Dapr sidecar runtime (thread-per-core implementation)",
    long_about = None,
    allow_hyphen_values = true,
    args_override_self = true,
    disable_version_flag = true
)]
pub struct Flags {
    // ---- application -------------------------------------------------------
    /// Unique ID of the application; used for service discovery and state keys.
    #[arg(long, default_value = "")]
    pub app_id: String,

    /// Port the application listens on (empty or 0: no app channel).
    #[arg(long, default_value = "", value_name = "PORT")]
    pub app_port: String,

    /// Protocol of the application: http, https, grpc, grpcs or h2c.
    #[arg(long, default_value = "http")]
    pub app_protocol: String,

    /// Network address the application listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub app_channel_address: String,

    /// Deprecated: upgrade the app protocol to TLS (http→https, grpc→grpcs).
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub app_ssl: bool,

    /// Maximum concurrent calls into the application; -1 for no limit.
    #[arg(long, default_value_t = -1)]
    pub app_max_concurrency: i64,

    /// Skip app initialisation calls: `config` (GET /dapr/config), `subscribe` (GET /dapr/subscribe).
    #[arg(long, value_delimiter = ',')]
    pub disable_init_endpoints: Vec<String>,

    /// Timeout of input-binding discovery calls to the app, as a duration (non-positive: 3s).
    #[arg(long, default_value = "3s", value_name = "DURATION")]
    pub app_binding_options_timeout: String,

    // ---- app health --------------------------------------------------------
    /// Probe the application's health.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub enable_app_health_check: bool,

    /// HTTP path of the application's health endpoint.
    #[arg(long, default_value = "/healthz")]
    pub app_health_check_path: String,

    /// Seconds between health probes.
    #[arg(long, default_value_t = 5)]
    pub app_health_probe_interval: i64,

    /// Timeout of one health probe, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub app_health_probe_timeout: i64,

    /// Consecutive failed probes before the application counts as unhealthy.
    #[arg(long, default_value_t = 3)]
    pub app_health_threshold: i64,

    // ---- Dapr API listeners ------------------------------------------------
    /// HTTP port of the Dapr API.
    #[arg(long, default_value = "3500", value_name = "PORT")]
    pub dapr_http_port: String,

    /// gRPC port of the Dapr API.
    #[arg(long, default_value = "50001", value_name = "PORT")]
    pub dapr_grpc_port: String,

    /// Addresses the Dapr API listens on, comma-separated (empty: all interfaces).
    #[arg(long, default_value = "")]
    pub dapr_listen_addresses: String,

    /// Port of the sidecar-to-sidecar gRPC API (empty or 0: derived from the app ID).
    #[arg(long, default_value = "", value_name = "PORT")]
    pub dapr_internal_grpc_port: String,

    /// Listen address of the sidecar-to-sidecar gRPC API (empty: all interfaces).
    #[arg(long, default_value = "")]
    pub dapr_internal_grpc_listen_address: String,

    /// Port of the public server exposing only health and metadata (empty: off).
    #[arg(long, default_value = "", value_name = "PORT")]
    pub dapr_public_port: String,

    /// Listen address of the public server (empty: all interfaces).
    #[arg(long, default_value = "")]
    pub dapr_public_listen_address: String,

    /// Serve the Dapr APIs only on Unix domain sockets in this directory.
    #[arg(long, default_value = "")]
    pub unix_domain_socket: String,

    /// Allowed CORS origins: empty for no CORS, `*` for any, else a comma-separated list.
    #[arg(long, default_value = "")]
    pub allowed_origins: String,

    /// Maximum request body size, as a resource quantity [default: 4Mi].
    #[arg(long, value_name = "QUANTITY")]
    pub max_body_size: Option<String>,

    /// Deprecated: maximum request body size in MiB [default: 4].
    #[arg(long, hide = true)]
    pub dapr_http_max_request_size: Option<i64>,

    /// Maximum size of request headers, as a resource quantity [default: 4Ki].
    #[arg(long, value_name = "QUANTITY")]
    pub read_buffer_size: Option<String>,

    /// Deprecated: maximum size of request headers in KiB [default: 4].
    #[arg(long, hide = true)]
    pub dapr_http_read_buffer_size: Option<i64>,

    /// Seconds allowed for a graceful shutdown (negative: 5).
    #[arg(long, default_value_t = 5)]
    pub dapr_graceful_shutdown_seconds: i64,

    /// After a termination signal, wait this long (a duration) or until the app is unhealthy.
    #[arg(long, value_name = "DURATION")]
    pub dapr_block_shutdown_duration: Option<String>,

    // ---- resources and configuration --------------------------------------
    /// Directories of resource YAML files; repeatable, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub resources_path: Vec<String>,

    /// Deprecated alias of `--resources-path` (used only when that is empty).
    #[arg(long, hide = true, default_value = "")]
    pub components_path: String,

    /// Configuration YAML files (standalone) or the Configuration name (Kubernetes).
    #[arg(long, value_delimiter = ',')]
    pub config: Vec<String>,

    /// Period of the hot-reload backup reconcile, as a duration (0: 60s).
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub hot_reload_reconcile_interval: String,

    // ---- logging -----------------------------------------------------------
    /// Log level: debug, info, warn, error or fatal.
    #[arg(long, default_value = "info")]
    pub log_level: String,

    /// Write logs as JSON.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub log_as_json: bool,

    /// Write logs to this file instead of stdout.
    #[arg(long, default_value = "")]
    pub log_file: String,

    /// Log every API call; when absent, the Configuration's setting applies.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub enable_api_logging: Option<bool>,

    // ---- metrics and profiling ---------------------------------------------
    /// Port of the Prometheus metrics server.
    #[arg(long, default_value = "9090", value_name = "PORT")]
    pub metrics_port: String,

    /// Listen address of the metrics server.
    #[arg(long, default_value = "0.0.0.0")]
    pub metrics_listen_address: String,

    /// Serve Prometheus metrics.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub enable_metrics: bool,

    /// Serve the profiler.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub enable_profiling: bool,

    /// Port of the profiler.
    #[arg(long, default_value = "7777", value_name = "PORT")]
    pub profile_port: String,

    // ---- control plane, actors, scheduler ----------------------------------
    /// Runtime mode: standalone or kubernetes.
    #[arg(long, default_value = "standalone")]
    pub mode: String,

    /// Addresses of the actor placement service.
    #[arg(long, default_value = "")]
    pub placement_host_address: String,

    /// Addresses of the scheduler service (host:port); repeatable, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub scheduler_host_address: Vec<String>,

    /// Number of job streams opened to the scheduler.
    #[arg(long, default_value_t = 3)]
    pub scheduler_job_streams: u64,

    /// Timeout of an actor placement dissemination round, as a duration (must be positive).
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub actors_disseminate_timeout: String,

    /// Deprecated and without effect.
    #[arg(long, hide = true, default_value = "")]
    pub actors_service: String,

    /// Deprecated and without effect.
    #[arg(long, hide = true, default_value = "")]
    pub reminders_service: String,

    /// Use mTLS between sidecars.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub enable_mtls: bool,

    /// Address of the Sentry certificate authority.
    #[arg(long, default_value = "")]
    pub sentry_address: String,

    /// JWT audiences for certificate signing requests; repeatable, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub sentry_request_jwt_audiences: Vec<String>,

    /// Address of the control plane (operator).
    #[arg(long, default_value = "")]
    pub control_plane_address: String,

    /// Trust domain of the control plane.
    #[arg(long, default_value = "localhost")]
    pub control_plane_trust_domain: String,

    /// Namespace of the control plane.
    #[arg(long, default_value = "default")]
    pub control_plane_namespace: String,

    /// Do not register the built-in Kubernetes secret store.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub disable_builtin_k8s_secret_store: bool,

    // ---- one-shot commands -------------------------------------------------
    /// Print the runtime version and exit.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub version: bool,

    /// Print build information and exit.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub build_info: bool,

    /// Wait until the sidecar on --dapr-http-port is ready for outbound calls, then exit.
    #[arg(long, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = parse_go_bool, value_name = "BOOL")]
    pub wait: bool,

    // ---- this implementation's own flags (not in Go daprd) -----------------
    /// Not in Go daprd: number of worker threads (0: one per available CPU).
    /// Falls back to the DAPRD_WORKERS environment variable.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// Not in Go daprd: I/O driver of the workers: auto, uring or legacy.
    #[arg(long, default_value = "auto")]
    pub io_driver: String,
}

/// Parses a boolean the way Go's `strconv.ParseBool` does.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("{other:?} is not a boolean (true or false)")),
    }
}

/// Rewrites single-dash long flags to double-dash ones, as Go daprd does.
///
/// An argument after the first (the program name) that starts with exactly one
/// `-`, is longer than two characters and has a letter after the dash is
/// rewritten: `-app-id` → `--app-id`, `-log-level=debug` → `--log-level=debug`.
/// Negative numbers (`-1`, `-10`) and short flags (`-h`) are left alone.
pub fn normalize_args<I: IntoIterator<Item = OsString>>(args: I) -> Vec<OsString> {
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            let bytes = arg.as_encoded_bytes();
            let single_dash_long =
                i > 0 && bytes.len() > 2 && bytes[0] == b'-' && bytes[1].is_ascii_alphabetic();
            if single_dash_long {
                let mut doubled = OsString::with_capacity(arg.len() + 1);
                doubled.push("-");
                doubled.push(&arg);
                doubled
            } else {
                arg
            }
        })
        .collect()
}

/// Parses a full argument vector (program name first) into [`Flags`].
///
/// Applies [`normalize_args`] and then clap. The error is clap's: it carries
/// `--help` output (exit 0) as well as usage errors (exit 1); see
/// [`clap::Error::use_stderr`].
pub fn parse_from<I, T>(args: I) -> Result<Flags, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    Flags::try_parse_from(normalize_args(args.into_iter().map(Into::into)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Flags {
        let mut v = vec!["daprd"];
        v.extend_from_slice(args);
        match parse_from(v) {
            Ok(f) => f,
            Err(e) => panic!("{args:?} did not parse: {e}"),
        }
    }

    fn parse_err(args: &[&str]) -> clap::Error {
        let mut v = vec!["daprd"];
        v.extend_from_slice(args);
        match parse_from(v) {
            Ok(f) => panic!("{args:?} parsed unexpectedly: {f:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Flags::command().debug_assert();
    }

    #[test]
    fn defaults_are_gos() {
        let f = parse(&[]);
        assert_eq!(f.app_id, "");
        assert_eq!(f.app_port, "");
        assert_eq!(f.app_protocol, "http");
        assert_eq!(f.app_channel_address, "127.0.0.1");
        assert!(!f.app_ssl);
        assert_eq!(f.app_max_concurrency, -1);
        assert!(f.disable_init_endpoints.is_empty());
        assert_eq!(f.app_binding_options_timeout, "3s");
        assert!(!f.enable_app_health_check);
        assert_eq!(f.app_health_check_path, "/healthz");
        assert_eq!(f.app_health_probe_interval, 5);
        assert_eq!(f.app_health_probe_timeout, 500);
        assert_eq!(f.app_health_threshold, 3);
        assert_eq!(f.dapr_http_port, "3500");
        assert_eq!(f.dapr_grpc_port, "50001");
        assert_eq!(f.dapr_listen_addresses, "");
        assert_eq!(f.dapr_internal_grpc_port, "");
        assert_eq!(f.dapr_internal_grpc_listen_address, "");
        assert_eq!(f.dapr_public_port, "");
        assert_eq!(f.dapr_public_listen_address, "");
        assert_eq!(f.unix_domain_socket, "");
        assert_eq!(f.allowed_origins, "");
        assert_eq!(f.max_body_size, None);
        assert_eq!(f.dapr_http_max_request_size, None);
        assert_eq!(f.read_buffer_size, None);
        assert_eq!(f.dapr_http_read_buffer_size, None);
        assert_eq!(f.dapr_graceful_shutdown_seconds, 5);
        assert_eq!(f.dapr_block_shutdown_duration, None);
        assert!(f.resources_path.is_empty());
        assert_eq!(f.components_path, "");
        assert!(f.config.is_empty());
        assert_eq!(f.hot_reload_reconcile_interval, "0s");
        assert_eq!(f.log_level, "info");
        assert!(!f.log_as_json);
        assert_eq!(f.log_file, "");
        assert_eq!(f.enable_api_logging, None);
        assert_eq!(f.metrics_port, "9090");
        assert_eq!(f.metrics_listen_address, "0.0.0.0");
        assert!(f.enable_metrics);
        assert!(!f.enable_profiling);
        assert_eq!(f.profile_port, "7777");
        assert_eq!(f.mode, "standalone");
        assert_eq!(f.placement_host_address, "");
        assert!(f.scheduler_host_address.is_empty());
        assert_eq!(f.scheduler_job_streams, 3);
        assert_eq!(f.actors_disseminate_timeout, "30s");
        assert_eq!(f.actors_service, "");
        assert_eq!(f.reminders_service, "");
        assert!(!f.enable_mtls);
        assert_eq!(f.sentry_address, "");
        assert!(f.sentry_request_jwt_audiences.is_empty());
        assert_eq!(f.control_plane_address, "");
        assert_eq!(f.control_plane_trust_domain, "localhost");
        assert_eq!(f.control_plane_namespace, "default");
        assert!(!f.disable_builtin_k8s_secret_store);
        assert!(!f.version);
        assert!(!f.build_info);
        assert!(!f.wait);
        assert_eq!(f.workers, None);
        assert_eq!(f.io_driver, "auto");
    }

    #[test]
    fn dapr_cli_run_arguments_parse() {
        let f = parse(&[
            "--app-id",
            "myapp",
            "--app-port",
            "0",
            "--app-protocol",
            "http",
            "--dapr-http-port",
            "3500",
            "--dapr-grpc-port",
            "50001",
            "--dapr-internal-grpc-port",
            "50002",
            "--metrics-port",
            "9090",
            "--profile-port",
            "-1",
            "--app-max-concurrency",
            "-1",
            "--placement-host-address",
            "localhost:50005",
            "--scheduler-host-address",
            "localhost:50006",
            "--config",
            "/root/.dapr/config.yaml",
            "--resources-path",
            "/root/.dapr/components",
            "--log-level",
            "info",
            "--enable-api-logging",
            "--app-channel-address",
            "127.0.0.1",
        ]);
        assert_eq!(f.app_id, "myapp");
        assert_eq!(f.app_port, "0");
        assert_eq!(f.dapr_internal_grpc_port, "50002");
        assert_eq!(f.profile_port, "-1");
        assert_eq!(f.app_max_concurrency, -1);
        assert_eq!(f.placement_host_address, "localhost:50005");
        assert_eq!(f.scheduler_host_address, ["localhost:50006"]);
        assert_eq!(f.config, ["/root/.dapr/config.yaml"]);
        assert_eq!(f.resources_path, ["/root/.dapr/components"]);
        assert_eq!(f.enable_api_logging, Some(true));
        assert_eq!(f.app_channel_address, "127.0.0.1");
    }

    #[test]
    fn equals_form_and_empty_values() {
        let f = parse(&["--app-id=a", "--app-port=", "--dapr-http-port=3600"]);
        assert_eq!(f.app_id, "a");
        assert_eq!(f.app_port, "");
        assert_eq!(f.dapr_http_port, "3600");
        let f = parse(&["--app-port", ""]);
        assert_eq!(f.app_port, "");
    }

    #[test]
    fn single_dash_long_flags() {
        let f = parse(&[
            "-app-id",
            "x",
            "-log-level=debug",
            "-enable-api-logging=false",
            "-profile-port",
            "-1",
            "-app-max-concurrency",
            "-10",
        ]);
        assert_eq!(f.app_id, "x");
        assert_eq!(f.log_level, "debug");
        assert_eq!(f.enable_api_logging, Some(false));
        assert_eq!(f.profile_port, "-1");
        assert_eq!(f.app_max_concurrency, -10);
    }

    #[test]
    fn normalize_args_rewrites_only_single_dash_words() {
        let args = [
            "-app-id", // program name position: untouched
            "-app-id",
            "--app-port",
            "-1",
            "-10",
            "-h",
            "-",
            "--",
            "value",
            "-x=1",
        ];
        let out = normalize_args(args.iter().map(OsString::from));
        let out: Vec<_> = out.iter().map(|s| s.to_str().unwrap_or("?")).collect();
        assert_eq!(
            out,
            [
                "-app-id",
                "--app-id",
                "--app-port",
                "-1",
                "-10",
                "-h",
                "-",
                "--",
                "value",
                "--x=1"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn normalize_args_keeps_non_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let raw = OsString::from_vec(vec![b'-', b'a', 0xff]);
        let out = normalize_args([OsString::from("daprd"), raw]);
        assert_eq!(out[1], OsString::from_vec(vec![b'-', b'-', b'a', 0xff]));
    }

    #[test]
    fn booleans_follow_pflag() {
        let f = parse(&["--enable-metrics=false", "--log-as-json", "--app-ssl=1"]);
        assert!(!f.enable_metrics);
        assert!(f.log_as_json);
        assert!(f.app_ssl);
        let f = parse(&["--enable-metrics=F", "--enable-mtls=TRUE", "--wait=t"]);
        assert!(!f.enable_metrics);
        assert!(f.enable_mtls);
        assert!(f.wait);
        // A bare boolean does not swallow the next flag.
        let f = parse(&["--enable-api-logging", "--app-id", "a"]);
        assert_eq!(f.enable_api_logging, Some(true));
        assert_eq!(f.app_id, "a");
        // Like pflag, a boolean never takes a separate argument.
        parse_err(&["--enable-metrics", "false"]);
        parse_err(&["--enable-metrics=yes"]);
    }

    #[test]
    fn enable_api_logging_is_tri_state() {
        assert_eq!(parse(&[]).enable_api_logging, None);
        assert_eq!(
            parse(&["--enable-api-logging"]).enable_api_logging,
            Some(true)
        );
        assert_eq!(
            parse(&["--enable-api-logging=true"]).enable_api_logging,
            Some(true)
        );
        assert_eq!(
            parse(&["--enable-api-logging=false"]).enable_api_logging,
            Some(false)
        );
    }

    #[test]
    fn slices_accept_commas_and_repetition() {
        let f = parse(&[
            "--resources-path",
            "/a,/b",
            "--resources-path=/c",
            "--config",
            "x.yaml",
            "--config",
            "y.yaml,z.yaml",
            "--scheduler-host-address",
            "h1:1,h2:2",
            "--sentry-request-jwt-audiences",
            "aud1",
            "--sentry-request-jwt-audiences",
            "aud2,aud3",
            "--disable-init-endpoints=config,subscribe",
            "--disable-init-endpoints",
            "config",
        ]);
        assert_eq!(f.resources_path, ["/a", "/b", "/c"]);
        assert_eq!(f.config, ["x.yaml", "y.yaml", "z.yaml"]);
        assert_eq!(f.scheduler_host_address, ["h1:1", "h2:2"]);
        assert_eq!(f.sentry_request_jwt_audiences, ["aud1", "aud2", "aud3"]);
        assert_eq!(f.disable_init_endpoints, ["config", "subscribe", "config"]);
    }

    #[test]
    fn hidden_deprecated_flags_are_accepted() {
        let f = parse(&[
            "--components-path",
            "/comp",
            "--dapr-http-max-request-size",
            "16",
            "--dapr-http-read-buffer-size",
            "8",
            "--app-ssl",
            "--actors-service",
            "placement:x",
            "--reminders-service",
            "default",
        ]);
        assert_eq!(f.components_path, "/comp");
        assert_eq!(f.dapr_http_max_request_size, Some(16));
        assert_eq!(f.dapr_http_read_buffer_size, Some(8));
        assert!(f.app_ssl);
        assert_eq!(f.actors_service, "placement:x");
        assert_eq!(f.reminders_service, "default");

        use clap::CommandFactory;
        let help = Flags::command().render_long_help().to_string();
        assert!(help.contains("--app-id"));
        assert!(help.contains("--workers"));
        assert!(!help.contains("--components-path"));
        assert!(!help.contains("--app-ssl"));
        assert!(!help.contains("--actors-service"));
    }

    #[test]
    fn all_other_go_flags_are_accepted() {
        let f = parse(&[
            "--mode",
            "kubernetes",
            "--enable-mtls",
            "--sentry-address",
            "sentry:443",
            "--control-plane-address",
            "op:443",
            "--control-plane-trust-domain",
            "td",
            "--control-plane-namespace",
            "ns",
            "--disable-builtin-k8s-secret-store",
            "--enable-profiling",
            "--profile-port",
            "7778",
            "--version",
            "--build-info",
            "--wait",
            "--allowed-origins",
            "*",
            "--unix-domain-socket",
            "/tmp",
            "--log-file",
            "/tmp/log",
            "--log-as-json",
            "--actors-disseminate-timeout",
            "10s",
            "--hot-reload-reconcile-interval",
            "30s",
            "--app-binding-options-timeout",
            "5s",
            "--dapr-internal-grpc-listen-address",
            "127.0.0.1",
            "--dapr-public-port",
            "3501",
            "--dapr-public-listen-address",
            "0.0.0.0",
            "--metrics-listen-address",
            "127.0.0.1",
            "--dapr-listen-addresses",
            "127.0.0.1,[::1]",
            "--scheduler-job-streams",
            "5",
            "--max-body-size",
            "16Mi",
            "--read-buffer-size",
            "8Ki",
            "--dapr-graceful-shutdown-seconds",
            "-1",
            "--dapr-block-shutdown-duration",
            "1m",
            "--enable-app-health-check",
            "--app-health-check-path",
            "/h",
            "--app-health-probe-interval",
            "2",
            "--app-health-probe-timeout",
            "100",
            "--app-health-threshold",
            "0",
            "--workers",
            "4",
            "--io-driver",
            "legacy",
        ]);
        assert_eq!(f.mode, "kubernetes");
        assert!(f.enable_mtls && f.enable_profiling && f.version && f.build_info && f.wait);
        assert!(f.disable_builtin_k8s_secret_store && f.log_as_json && f.enable_app_health_check);
        assert_eq!(f.control_plane_trust_domain, "td");
        assert_eq!(f.dapr_graceful_shutdown_seconds, -1);
        assert_eq!(f.dapr_block_shutdown_duration.as_deref(), Some("1m"));
        assert_eq!(f.max_body_size.as_deref(), Some("16Mi"));
        assert_eq!(f.read_buffer_size.as_deref(), Some("8Ki"));
        assert_eq!(f.scheduler_job_streams, 5);
        assert_eq!(f.workers, Some(4));
        assert_eq!(f.io_driver, "legacy");
    }

    #[test]
    fn value_flags_take_hyphenated_values() {
        let f = parse(&[
            "--app-max-concurrency",
            "-1",
            "--profile-port",
            "-1",
            "--app-id",
            "-",
        ]);
        assert_eq!(f.app_max_concurrency, -1);
        assert_eq!(f.profile_port, "-1");
        assert_eq!(f.app_id, "-");
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for args in [
            &["--no-such-flag"][..],
            &["--app-max-concurrency", "many"],
            &["--app-health-threshold", "1.5"],
            &["--workers", "-1"],
            &["stray-positional"],
            &["--app-id"],
        ] {
            let e = parse_err(args);
            assert!(e.use_stderr(), "{args:?}");
        }
    }

    #[test]
    fn help_is_not_an_error_exit() {
        let e = parse_err(&["--help"]);
        assert!(!e.use_stderr());
        let e = parse_err(&["-help"]);
        assert!(!e.use_stderr());
    }
}

#[cfg(test)]
mod repeat_tests {
    use super::parse_from;

    #[test]
    fn a_repeated_scalar_flag_takes_the_last_value_as_in_go() {
        let f = parse_from([
            "daprd",
            "--app-id",
            "a",
            "--app-id",
            "b",
            "--dapr-http-port",
            "1",
            "--dapr-http-port",
            "2",
        ])
        .expect("repeats parse");
        assert_eq!(f.app_id, "b");
        assert_eq!(f.dapr_http_port, "2");
    }

    #[test]
    fn repeated_list_flags_still_accumulate() {
        let f = parse_from(["daprd", "--resources-path", "a,b", "--resources-path", "c"])
            .expect("parse");
        assert_eq!(f.resources_path, vec!["a", "b", "c"]);
    }
}
