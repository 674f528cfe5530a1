//! Validated, typed runtime options built from [`Flags`] and the environment.
//!
//! This module owns steps two and three of configuration:
//! - **convert**: every flag string becomes a typed value (ports, sizes,
//!   durations, enums), Go daprd's fallbacks and clamps are applied
//!   (`-1` concurrency means unlimited, a non-positive probe interval means 5 s,
//!   …), and the environment is read through an injected lookup;
//! - **validate**: the cross-field rules of Go's `toInternal` (app ID, app port
//!   clashing with the API ports, probe timeout longer than the interval).
//!
//! It also owns the two value syntaxes that Go flags use: Kubernetes resource
//! quantities ([`parse_quantity`]) and Go durations ([`parse_go_duration`]).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::flags::Flags;

/// Go daprd's default request body limit (`--max-body-size 4Mi`).
const DEFAULT_MAX_BODY_SIZE: usize = 4 << 20;
/// Go daprd's default request head limit (`--read-buffer-size 4Ki`).
const DEFAULT_READ_BUFFER_SIZE: usize = 4 << 10;
/// Go's `net/http` header limit when daprd passes a non-positive one.
const GO_HTTP_DEFAULT_MAX_HEADER_BYTES: usize = 1 << 20;
const DEFAULT_GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(5);
const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const DEFAULT_PROBE_THRESHOLD: u32 = 3;
const DEFAULT_APP_BINDING_OPTIONS_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_HOT_RELOAD_RECONCILE_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_ACTORS_DISSEMINATE_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_SCHEDULER_JOB_STREAMS: u64 = 3;

/// Environment variable holding the token every Dapr API call must carry.
const ENV_API_TOKEN: &str = "DAPR_API_TOKEN";
/// Environment variable holding the token sent on every call to the app.
const ENV_APP_API_TOKEN: &str = "APP_API_TOKEN";
/// Environment variable holding the namespace.
const ENV_NAMESPACE: &str = "NAMESPACE";
/// Our own: worker thread count when `--workers` is not given.
const ENV_WORKERS: &str = "DAPRD_WORKERS";

/// Protocol daprd speaks to the application (`--app-protocol`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AppProtocol {
    /// HTTP/1.1 in clear text (the default).
    #[default]
    Http,
    /// HTTP over TLS (certificates are not verified).
    Https,
    /// gRPC in clear text.
    Grpc,
    /// gRPC over TLS (certificates are not verified).
    Grpcs,
    /// HTTP/2 in clear text.
    H2c,
}

impl AppProtocol {
    /// Parses a flag value, case-insensitively; the empty string means HTTP.
    pub fn parse(value: &str) -> Option<Self> {
        let lower = value.to_ascii_lowercase();
        match lower.as_str() {
            "" | "http" => Some(Self::Http),
            "https" => Some(Self::Https),
            "grpc" => Some(Self::Grpc),
            "grpcs" => Some(Self::Grpcs),
            "h2c" => Some(Self::H2c),
            _ => None,
        }
    }

    /// The protocol's name as Go daprd reports it (metadata API, env).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Grpc => "grpc",
            Self::Grpcs => "grpcs",
            Self::H2c => "h2c",
        }
    }

    /// Whether the app is reached over HTTP (including HTTPS and h2c).
    pub fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Https | Self::H2c)
    }

    /// Whether the app is reached over TLS.
    pub fn has_tls(self) -> bool {
        matches!(self, Self::Https | Self::Grpcs)
    }

    /// The deprecated `--app-ssl` upgrade: http → https, grpc → grpcs.
    fn with_app_ssl(self) -> Self {
        match self {
            Self::Http => Self::Https,
            Self::Grpc => Self::Grpcs,
            other => other,
        }
    }
}

impl fmt::Display for AppProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Log level (`--log-level`), Dapr's five levels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogLevel {
    /// Verbose diagnostics.
    Debug,
    /// Normal operation (the default).
    #[default]
    Info,
    /// Possible problems.
    Warn,
    /// Failures.
    Error,
    /// Failures that stop the process.
    Fatal,
}

impl LogLevel {
    /// Parses a flag value, case-insensitively.
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "debug" => Some(Self::Debug),
            "info" => Some(Self::Info),
            "warn" => Some(Self::Warn),
            "error" => Some(Self::Error),
            "fatal" => Some(Self::Fatal),
            _ => None,
        }
    }

    /// The level's name as Dapr writes it in log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Fatal => "fatal",
        }
    }

    /// The most verbose `tracing` level to emit (fatal maps to error).
    pub fn to_tracing(self) -> tracing::Level {
        match self {
            Self::Debug => tracing::Level::DEBUG,
            Self::Info => tracing::Level::INFO,
            Self::Warn => tracing::Level::WARN,
            Self::Error | Self::Fatal => tracing::Level::ERROR,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runtime mode (`--mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Self-hosted: resources and configuration come from files.
    #[default]
    Standalone,
    /// Kubernetes: resources come from the operator (not supported yet).
    Kubernetes,
}

impl Mode {
    /// Parses a flag value (exact, as Go compares it).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "standalone" => Some(Self::Standalone),
            "kubernetes" => Some(Self::Kubernetes),
            _ => None,
        }
    }

    /// The mode's name as given on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standalone => "standalone",
            Self::Kubernetes => "kubernetes",
        }
    }
}

/// An app initialisation call that `--disable-init-endpoints` can switch off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InitEndpoint {
    /// `GET /dapr/config` (actor and app configuration).
    Config,
    /// `GET /dapr/subscribe` (programmatic subscriptions).
    Subscribe,
}

impl InitEndpoint {
    /// Parses a flag value, ignoring case and surrounding blanks.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "config" => Some(Self::Config),
            "subscribe" => Some(Self::Subscribe),
            _ => None,
        }
    }

    /// The value's name as given on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Subscribe => "subscribe",
        }
    }
}

/// Application health probing (`--enable-app-health-check` and friends).
///
/// The values are filled in (with Go's clamps) even when probing is off, as
/// the metadata API and validation read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppHealth {
    /// Whether daprd probes the application.
    pub enabled: bool,
    /// HTTP path probed (HTTP app protocols only).
    pub path: String,
    /// Time between probes (non-positive flag values: 5 s).
    pub interval: Duration,
    /// Timeout of one probe (non-positive flag values: 500 ms); never above `interval`.
    pub timeout: Duration,
    /// Consecutive failures before the app is unhealthy (below 1: 3).
    pub threshold: u32,
}

impl Default for AppHealth {
    fn default() -> Self {
        Self {
            enabled: false,
            path: "/healthz".to_owned(),
            interval: DEFAULT_PROBE_INTERVAL,
            timeout: DEFAULT_PROBE_TIMEOUT,
            threshold: DEFAULT_PROBE_THRESHOLD,
        }
    }
}

/// The runtime's validated options.
///
/// Build with [`Options::from_flags`]. [`Options::default`] holds Go daprd's
/// defaults (with an empty app ID, which [`Options::validate`] rejects).
/// `Debug` output redacts the two API tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Options {
    /// `--app-id`.
    pub app_id: String,
    /// `--app-port`; `None` when empty or 0 (no app channel).
    pub app_port: Option<u16>,
    /// `--app-protocol`, upgraded to TLS by the deprecated `--app-ssl`.
    pub app_protocol: AppProtocol,
    /// `--app-channel-address`: host used to reach the app.
    pub app_channel_address: String,
    /// `--app-max-concurrency`; `None` for no limit (-1 or 0).
    pub app_max_concurrency: Option<u32>,
    /// `--dapr-http-port`.
    pub http_port: u16,
    /// `--dapr-grpc-port`.
    pub grpc_port: u16,
    /// `--dapr-internal-grpc-port`; `None` when empty or 0 (the runtime
    /// then derives Go's "stable random" port from the app ID).
    pub internal_grpc_port: Option<u16>,
    /// `--dapr-internal-grpc-listen-address`; `None` when empty (all interfaces).
    pub internal_grpc_listen_address: Option<String>,
    /// `--dapr-public-port`; `None` when empty (no public server).
    pub public_port: Option<u16>,
    /// `--dapr-public-listen-address`; `None` when empty (all interfaces).
    pub public_listen_address: Option<String>,
    /// `--dapr-listen-addresses`, split on commas and trimmed, as given
    /// (`[::1]` keeps its brackets); empty means all interfaces.
    pub listen_addresses: Vec<String>,
    /// `--metrics-port`.
    pub metrics_port: u16,
    /// `--metrics-listen-address`.
    pub metrics_listen_address: String,
    /// `--enable-metrics`.
    pub enable_metrics: bool,
    /// `--resources-path`, else the deprecated `--components-path`, else empty.
    pub resources_paths: Vec<PathBuf>,
    /// `--config` files (loaded later, by the resources loader).
    pub config_paths: Vec<PathBuf>,
    /// `--log-level`.
    pub log_level: LogLevel,
    /// `--log-as-json`.
    pub log_as_json: bool,
    /// `--enable-api-logging`; `None` when not given (the Configuration decides).
    pub enable_api_logging: Option<bool>,
    /// Request body limit in bytes (`--max-body-size`, or the deprecated
    /// `--dapr-http-max-request-size` in MiB). `usize::MAX` where Go applies
    /// no limit (a zero or negative size).
    pub max_body_size: usize,
    /// Request head limit in bytes (`--read-buffer-size`, or the deprecated
    /// `--dapr-http-read-buffer-size` in KiB). A zero or negative size gets
    /// Go's `net/http` default of 1 MiB.
    pub read_buffer_size: usize,
    /// `--dapr-graceful-shutdown-seconds` (negative: 5 s).
    pub graceful_shutdown: Duration,
    /// `--dapr-block-shutdown-duration`; `None` when not given (negative: zero).
    pub block_shutdown: Option<Duration>,
    /// App health probing.
    pub app_health: AppHealth,
    /// `--app-binding-options-timeout` (non-positive: 3 s).
    pub app_binding_options_timeout: Duration,
    /// `--hot-reload-reconcile-interval` (non-positive: 60 s).
    pub hot_reload_reconcile_interval: Duration,
    /// Env `DAPR_API_TOKEN`, when non-empty.
    pub api_token: Option<String>,
    /// Env `APP_API_TOKEN`, when non-empty.
    pub app_api_token: Option<String>,
    /// Env `NAMESPACE`, when non-empty.
    pub namespace: Option<String>,
    /// `--mode`.
    pub mode: Mode,
    /// Worker threads (ours: `--workers`, env `DAPRD_WORKERS`), resolved:
    /// 0 becomes the available parallelism. Always at least 1.
    pub workers: usize,
    /// I/O driver name (ours: `--io-driver`), parsed by the runtime.
    pub io_driver: String,
    /// `--unix-domain-socket` directory; `None` when empty.
    pub unix_domain_socket: Option<PathBuf>,
    /// `--disable-init-endpoints`.
    pub disable_init_endpoints: Vec<InitEndpoint>,
    /// `--allowed-origins`, as given ("" means no CORS).
    pub allowed_origins: String,
    /// `--wait`: wait for another sidecar's readiness and exit.
    pub wait: bool,
    /// `--version`: print the version and exit.
    pub print_version: bool,
    /// `--build-info`: print build information and exit.
    pub build_info: bool,
    /// Flags (names without `--`) given a non-default value whose feature is
    /// not built yet. The runtime warns about each once.
    pub not_supported: Vec<&'static str>,
    /// Deprecated flags that were given: `(flag name, what to use instead)`.
    pub deprecated: Vec<(&'static str, &'static str)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            app_id: String::new(),
            app_port: None,
            app_protocol: AppProtocol::Http,
            app_channel_address: "127.0.0.1".to_owned(),
            app_max_concurrency: None,
            http_port: 3500,
            grpc_port: 50001,
            internal_grpc_port: None,
            internal_grpc_listen_address: None,
            public_port: None,
            public_listen_address: None,
            listen_addresses: Vec::new(),
            metrics_port: 9090,
            metrics_listen_address: "0.0.0.0".to_owned(),
            enable_metrics: true,
            resources_paths: Vec::new(),
            config_paths: Vec::new(),
            log_level: LogLevel::Info,
            log_as_json: false,
            enable_api_logging: None,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            graceful_shutdown: DEFAULT_GRACEFUL_SHUTDOWN,
            block_shutdown: None,
            app_health: AppHealth::default(),
            app_binding_options_timeout: DEFAULT_APP_BINDING_OPTIONS_TIMEOUT,
            hot_reload_reconcile_interval: DEFAULT_HOT_RELOAD_RECONCILE_INTERVAL,
            api_token: None,
            app_api_token: None,
            namespace: None,
            mode: Mode::Standalone,
            workers: resolve_workers(0),
            io_driver: "auto".to_owned(),
            unix_domain_socket: None,
            disable_init_endpoints: Vec::new(),
            allowed_origins: String::new(),
            wait: false,
            print_version: false,
            build_info: false,
            not_supported: Vec::new(),
            deprecated: Vec::new(),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Self {
            app_id,
            app_port,
            app_protocol,
            app_channel_address,
            app_max_concurrency,
            http_port,
            grpc_port,
            internal_grpc_port,
            internal_grpc_listen_address,
            public_port,
            public_listen_address,
            listen_addresses,
            metrics_port,
            metrics_listen_address,
            enable_metrics,
            resources_paths,
            config_paths,
            log_level,
            log_as_json,
            enable_api_logging,
            max_body_size,
            read_buffer_size,
            graceful_shutdown,
            block_shutdown,
            app_health,
            app_binding_options_timeout,
            hot_reload_reconcile_interval,
            api_token,
            app_api_token,
            namespace,
            mode,
            workers,
            io_driver,
            unix_domain_socket,
            disable_init_endpoints,
            allowed_origins,
            wait,
            print_version,
            build_info,
            not_supported,
            deprecated,
        } = self;
        let redact = |t: &Option<String>| t.as_ref().map(|_| "<redacted>");
        f.debug_struct("Options")
            .field("app_id", app_id)
            .field("app_port", app_port)
            .field("app_protocol", app_protocol)
            .field("app_channel_address", app_channel_address)
            .field("app_max_concurrency", app_max_concurrency)
            .field("http_port", http_port)
            .field("grpc_port", grpc_port)
            .field("internal_grpc_port", internal_grpc_port)
            .field("internal_grpc_listen_address", internal_grpc_listen_address)
            .field("public_port", public_port)
            .field("public_listen_address", public_listen_address)
            .field("listen_addresses", listen_addresses)
            .field("metrics_port", metrics_port)
            .field("metrics_listen_address", metrics_listen_address)
            .field("enable_metrics", enable_metrics)
            .field("resources_paths", resources_paths)
            .field("config_paths", config_paths)
            .field("log_level", log_level)
            .field("log_as_json", log_as_json)
            .field("enable_api_logging", enable_api_logging)
            .field("max_body_size", max_body_size)
            .field("read_buffer_size", read_buffer_size)
            .field("graceful_shutdown", graceful_shutdown)
            .field("block_shutdown", block_shutdown)
            .field("app_health", app_health)
            .field("app_binding_options_timeout", app_binding_options_timeout)
            .field(
                "hot_reload_reconcile_interval",
                hot_reload_reconcile_interval,
            )
            .field("api_token", &redact(api_token))
            .field("app_api_token", &redact(app_api_token))
            .field("namespace", namespace)
            .field("mode", mode)
            .field("workers", workers)
            .field("io_driver", io_driver)
            .field("unix_domain_socket", unix_domain_socket)
            .field("disable_init_endpoints", disable_init_endpoints)
            .field("allowed_origins", allowed_origins)
            .field("wait", wait)
            .field("print_version", print_version)
            .field("build_info", build_info)
            .field("not_supported", not_supported)
            .field("deprecated", deprecated)
            .finish()
    }
}

/// Why the flags or environment do not make a valid configuration.
///
/// Each variant displays as one line naming the flag; `main` prints it and
/// exits 1. The app-id and app-protocol messages are Go daprd's own words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `--app-id` is empty in standalone mode.
    #[error("parameter app-id cannot be empty")]
    AppIdEmpty,
    /// `--app-id` contains a dot in standalone mode.
    #[error("parameter app-id cannot contain dots")]
    AppIdDots,
    /// A port flag is not an integer in 0..=65535.
    #[error("invalid value {value:?} for flag --{flag}: not a port number")]
    InvalidPort {
        /// Flag name without dashes.
        flag: &'static str,
        /// The value given.
        value: String,
    },
    /// A flag that Go parses as an integer is not one.
    #[error("invalid value {value:?} for flag --{flag}: not an integer")]
    InvalidInteger {
        /// Flag name without dashes.
        flag: &'static str,
        /// The value given.
        value: String,
    },
    /// An integer flag is too large to be used.
    #[error("invalid value {value} for flag --{flag}: too large")]
    TooLarge {
        /// Flag name without dashes.
        flag: &'static str,
        /// The value given.
        value: i64,
    },
    /// `--app-port` equals one of the Dapr API ports.
    #[error("invalid value \"{port}\" for flag --app-port: conflicts with --{other}")]
    AppPortConflict {
        /// The clashing flag: `dapr-http-port` or `dapr-grpc-port`.
        other: &'static str,
        /// The shared port.
        port: u16,
    },
    /// `--app-protocol` is not one of http, https, grpc, grpcs, h2c.
    #[error("invalid value for 'app-protocol': {0}")]
    InvalidAppProtocol(String),
    /// `--mode` is neither standalone nor kubernetes.
    #[error("invalid value {0:?} for flag --mode: expected standalone or kubernetes")]
    InvalidMode(String),
    /// `--log-level` is not a Dapr log level.
    #[error(
        "invalid value {0:?} for flag --log-level: expected debug, info, warn, error or fatal"
    )]
    InvalidLogLevel(String),
    /// `--disable-init-endpoints` holds an unknown endpoint.
    #[error("invalid value {0:?} for flag --disable-init-endpoints: expected config or subscribe")]
    InvalidInitEndpoint(String),
    /// A size flag is not a usable resource quantity.
    #[error("invalid value {value:?} for flag --{flag}: {reason}")]
    InvalidQuantity {
        /// Flag name without dashes.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: QuantityError,
    },
    /// A duration flag is not a Go duration.
    #[error("invalid value {value:?} for flag --{flag}: {reason}")]
    InvalidDuration {
        /// Flag name without dashes.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: DurationError,
    },
    /// A duration flag that must be positive is not.
    #[error("invalid value {value:?} for flag --{flag}: must be positive")]
    NotPositive {
        /// Flag name without dashes.
        flag: &'static str,
        /// The value given.
        value: String,
    },
    /// The app health probe timeout is longer than the probe interval.
    #[error(
        "invalid value for flag --app-health-probe-timeout: {timeout:?} is longer than \
         --app-health-probe-interval ({interval:?})"
    )]
    ProbeTimeoutAboveInterval {
        /// The effective probe timeout.
        timeout: Duration,
        /// The effective probe interval.
        interval: Duration,
    },
    /// `DAPRD_WORKERS` is set but is not a number.
    #[error("invalid value {0:?} for environment variable DAPRD_WORKERS: not a number")]
    InvalidWorkersEnv(String),
}

impl Options {
    /// Converts parsed flags into validated options.
    ///
    /// `env` looks environment variables up (`main` passes
    /// `|k| std::env::var(k).ok()`; tests pass a map). With `--version`,
    /// `--build-info` or `--wait` only the conversion runs, not
    /// [`Options::validate`], as Go daprd acts on those before validating.
    pub fn from_flags(
        flags: Flags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Options, ConfigError> {
        let opts = convert(flags, env)?;
        if !(opts.print_version || opts.build_info || opts.wait) {
            opts.validate()?;
        }
        Ok(opts)
    }

    /// Checks the cross-field rules Go daprd enforces at start-up.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.mode == Mode::Standalone {
            if self.app_id.is_empty() {
                return Err(ConfigError::AppIdEmpty);
            }
            if self.app_id.contains('.') {
                return Err(ConfigError::AppIdDots);
            }
        }
        if let Some(port) = self.app_port {
            if port == self.http_port {
                return Err(ConfigError::AppPortConflict {
                    other: "dapr-http-port",
                    port,
                });
            }
            if port == self.grpc_port {
                return Err(ConfigError::AppPortConflict {
                    other: "dapr-grpc-port",
                    port,
                });
            }
        }
        if self.app_health.timeout > self.app_health.interval {
            return Err(ConfigError::ProbeTimeoutAboveInterval {
                timeout: self.app_health.timeout,
                interval: self.app_health.interval,
            });
        }
        Ok(())
    }
}

/// The conversion step: flags and environment → typed options, unvalidated.
fn convert(f: Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Options, ConfigError> {
    let non_empty_env = |name: &str| env(name).filter(|v| !v.is_empty());

    let mode = Mode::parse(&f.mode).ok_or_else(|| ConfigError::InvalidMode(f.mode.clone()))?;
    let log_level = LogLevel::parse(&f.log_level)
        .ok_or_else(|| ConfigError::InvalidLogLevel(f.log_level.clone()))?;

    let mut app_protocol = AppProtocol::parse(&f.app_protocol)
        .ok_or_else(|| ConfigError::InvalidAppProtocol(f.app_protocol.clone()))?;
    if f.app_ssl {
        app_protocol = app_protocol.with_app_ssl();
    }

    let http_port = port("dapr-http-port", &f.dapr_http_port)?;
    let grpc_port = port("dapr-grpc-port", &f.dapr_grpc_port)?;
    let metrics_port = port("metrics-port", &f.metrics_port)?;
    let app_port = optional_port("app-port", &f.app_port)?.filter(|&p| p != 0);
    let internal_grpc_port =
        optional_port("dapr-internal-grpc-port", &f.dapr_internal_grpc_port)?.filter(|&p| p != 0);
    let public_port = optional_port("dapr-public-port", &f.dapr_public_port)?;
    // Go only checks that the profile port is an integer (the CLI passes -1).
    if f.profile_port.parse::<i64>().is_err() {
        return Err(ConfigError::InvalidInteger {
            flag: "profile-port",
            value: f.profile_port.clone(),
        });
    }

    let app_max_concurrency = if f.app_max_concurrency <= 0 {
        None
    } else {
        Some(
            u32::try_from(f.app_max_concurrency).map_err(|_| ConfigError::TooLarge {
                flag: "app-max-concurrency",
                value: f.app_max_concurrency,
            })?,
        )
    };

    let max_body_size = body_size(&f)?;
    let read_buffer_size = head_size(&f)?;

    let graceful_shutdown = u64::try_from(f.dapr_graceful_shutdown_seconds)
        .map_or(DEFAULT_GRACEFUL_SHUTDOWN, Duration::from_secs);
    let block_shutdown = match &f.dapr_block_shutdown_duration {
        Some(v) => Some(non_negative(duration_flag(
            "dapr-block-shutdown-duration",
            v,
        )?)),
        None => None,
    };
    let app_binding_options_timeout = positive_or(
        duration_flag(
            "app-binding-options-timeout",
            &f.app_binding_options_timeout,
        )?,
        DEFAULT_APP_BINDING_OPTIONS_TIMEOUT,
    );
    let hot_reload_reconcile_interval = positive_or(
        duration_flag(
            "hot-reload-reconcile-interval",
            &f.hot_reload_reconcile_interval,
        )?,
        DEFAULT_HOT_RELOAD_RECONCILE_INTERVAL,
    );
    let actors_disseminate_timeout =
        match duration_flag("actors-disseminate-timeout", &f.actors_disseminate_timeout)? {
            (false, d) if !d.is_zero() => d,
            _ => {
                return Err(ConfigError::NotPositive {
                    flag: "actors-disseminate-timeout",
                    value: f.actors_disseminate_timeout.clone(),
                })
            }
        };

    let app_health = AppHealth {
        enabled: f.enable_app_health_check,
        path: f.app_health_check_path.clone(),
        interval: u64::try_from(f.app_health_probe_interval)
            .ok()
            .filter(|&s| s > 0)
            .map_or(DEFAULT_PROBE_INTERVAL, Duration::from_secs),
        timeout: u64::try_from(f.app_health_probe_timeout)
            .ok()
            .filter(|&ms| ms > 0)
            .map_or(DEFAULT_PROBE_TIMEOUT, Duration::from_millis),
        // Go falls back to 3 below 1 and where the value would overflow int32.
        threshold: u32::try_from(f.app_health_threshold)
            .ok()
            .filter(|&t| t >= 1 && t < i32::MAX as u32)
            .unwrap_or(DEFAULT_PROBE_THRESHOLD),
    };

    let mut disable_init_endpoints = Vec::new();
    for raw in &f.disable_init_endpoints {
        if raw.trim().is_empty() {
            continue;
        }
        let endpoint = InitEndpoint::parse(raw)
            .ok_or_else(|| ConfigError::InvalidInitEndpoint(raw.trim().to_owned()))?;
        disable_init_endpoints.push(endpoint);
    }

    let workers = match f.workers {
        Some(n) => n,
        None => match non_empty_env(ENV_WORKERS) {
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|_| ConfigError::InvalidWorkersEnv(v.clone()))?,
            None => 0,
        },
    };

    let mut resources_paths: Vec<PathBuf> =
        non_empty(&f.resources_path).map(PathBuf::from).collect();
    if resources_paths.is_empty() && !f.components_path.is_empty() {
        resources_paths.push(PathBuf::from(&f.components_path));
    }
    let scheduler_given = non_empty(&f.scheduler_host_address).next().is_some();

    let not_supported = unsupported_flags(&f, mode, scheduler_given, actors_disseminate_timeout);
    let deprecated = deprecated_flags(&f);

    Ok(Options {
        app_port,
        app_protocol,
        app_max_concurrency,
        http_port,
        grpc_port,
        internal_grpc_port,
        internal_grpc_listen_address: Some(f.dapr_internal_grpc_listen_address.clone())
            .filter(|s| !s.is_empty()),
        public_port,
        public_listen_address: Some(f.dapr_public_listen_address).filter(|s| !s.is_empty()),
        listen_addresses: f
            .dapr_listen_addresses
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        metrics_port,
        metrics_listen_address: f.metrics_listen_address,
        enable_metrics: f.enable_metrics,
        resources_paths,
        config_paths: non_empty(&f.config).map(PathBuf::from).collect(),
        log_level,
        log_as_json: f.log_as_json,
        enable_api_logging: f.enable_api_logging,
        max_body_size,
        read_buffer_size,
        graceful_shutdown,
        block_shutdown,
        app_health,
        app_binding_options_timeout,
        hot_reload_reconcile_interval,
        api_token: non_empty_env(ENV_API_TOKEN),
        app_api_token: non_empty_env(ENV_APP_API_TOKEN),
        namespace: non_empty_env(ENV_NAMESPACE),
        mode,
        workers: resolve_workers(workers),
        io_driver: f.io_driver,
        unix_domain_socket: Some(f.unix_domain_socket)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
        disable_init_endpoints,
        allowed_origins: f.allowed_origins,
        wait: f.wait,
        print_version: f.version,
        build_info: f.build_info,
        app_id: f.app_id,
        app_channel_address: f.app_channel_address,
        not_supported,
        deprecated,
    })
}

/// Flags given a non-default value whose feature this build lacks.
fn unsupported_flags(
    f: &Flags,
    mode: Mode,
    scheduler_given: bool,
    actors_disseminate_timeout: Duration,
) -> Vec<&'static str> {
    [
        ("unix-domain-socket", !f.unix_domain_socket.is_empty()),
        ("allowed-origins", !f.allowed_origins.is_empty()),
        ("log-file", !f.log_file.is_empty()),
        ("enable-profiling", f.enable_profiling),
        ("mode", mode == Mode::Kubernetes),
        (
            "placement-host-address",
            !f.placement_host_address.is_empty(),
        ),
        ("scheduler-host-address", scheduler_given),
        (
            "scheduler-job-streams",
            f.scheduler_job_streams != DEFAULT_SCHEDULER_JOB_STREAMS,
        ),
        (
            "actors-disseminate-timeout",
            actors_disseminate_timeout != DEFAULT_ACTORS_DISSEMINATE_TIMEOUT,
        ),
        ("enable-mtls", f.enable_mtls),
        ("sentry-address", !f.sentry_address.is_empty()),
        (
            "sentry-request-jwt-audiences",
            non_empty(&f.sentry_request_jwt_audiences).next().is_some(),
        ),
        ("control-plane-address", !f.control_plane_address.is_empty()),
        (
            "control-plane-trust-domain",
            f.control_plane_trust_domain != "localhost",
        ),
        (
            "control-plane-namespace",
            f.control_plane_namespace != "default",
        ),
        (
            "disable-builtin-k8s-secret-store",
            f.disable_builtin_k8s_secret_store,
        ),
    ]
    .into_iter()
    .filter_map(|(name, given)| given.then_some(name))
    .collect()
}

/// Deprecated flags that were given, with their replacements.
fn deprecated_flags(f: &Flags) -> Vec<(&'static str, &'static str)> {
    [
        (
            "components-path",
            "use --resources-path",
            !f.components_path.is_empty(),
        ),
        (
            "dapr-http-max-request-size",
            "use --max-body-size",
            f.dapr_http_max_request_size.is_some(),
        ),
        (
            "dapr-http-read-buffer-size",
            "use --read-buffer-size",
            f.dapr_http_read_buffer_size.is_some(),
        ),
        ("app-ssl", "use --app-protocol https or grpcs", f.app_ssl),
        (
            "actors-service",
            "the flag has no effect",
            !f.actors_service.is_empty(),
        ),
        (
            "reminders-service",
            "the flag has no effect",
            !f.reminders_service.is_empty(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, hint, given)| given.then_some((name, hint)))
    .collect()
}

/// The non-empty entries of a list flag.
fn non_empty(values: &[String]) -> impl Iterator<Item = &str> {
    values.iter().map(String::as_str).filter(|s| !s.is_empty())
}

/// 0 → the available parallelism (1 if unknown).
fn resolve_workers(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }
}

/// Parses a port flag: an integer in 0..=65535.
fn port(flag: &'static str, value: &str) -> Result<u16, ConfigError> {
    value.parse::<u16>().or_else(|_| {
        // `+80` and `-0` are integers to Go's Atoi too.
        value
            .parse::<i64>()
            .ok()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| ConfigError::InvalidPort {
                flag,
                value: value.to_owned(),
            })
    })
}

/// Parses a port flag that may be empty.
fn optional_port(flag: &'static str, value: &str) -> Result<Option<u16>, ConfigError> {
    if value.is_empty() {
        Ok(None)
    } else {
        port(flag, value).map(Some)
    }
}

/// `--max-body-size`, else the deprecated `--dapr-http-max-request-size` (MiB).
fn body_size(f: &Flags) -> Result<usize, ConfigError> {
    const FLAG: &str = "max-body-size";
    const DEPRECATED: &str = "dapr-http-max-request-size";
    if let Some(q) = &f.max_body_size {
        let bytes = quantity_flag(FLAG, q)?;
        return Ok(if bytes == 0 { usize::MAX } else { bytes });
    }
    match f.dapr_http_max_request_size {
        None | Some(-1) => Ok(DEFAULT_MAX_BODY_SIZE),
        // Go applies no body limit for a non-positive size.
        Some(mib) if mib <= 0 => Ok(usize::MAX),
        Some(mib) => scaled(DEPRECATED, mib, 20),
    }
}

/// `--read-buffer-size`, else the deprecated `--dapr-http-read-buffer-size` (KiB).
fn head_size(f: &Flags) -> Result<usize, ConfigError> {
    const FLAG: &str = "read-buffer-size";
    const DEPRECATED: &str = "dapr-http-read-buffer-size";
    if let Some(q) = &f.read_buffer_size {
        let bytes = quantity_flag(FLAG, q)?;
        return Ok(if bytes == 0 {
            GO_HTTP_DEFAULT_MAX_HEADER_BYTES
        } else {
            bytes
        });
    }
    match f.dapr_http_read_buffer_size {
        None | Some(-1) => Ok(DEFAULT_READ_BUFFER_SIZE),
        // Go's net/http uses its own default for a non-positive header limit.
        Some(kib) if kib <= 0 => Ok(GO_HTTP_DEFAULT_MAX_HEADER_BYTES),
        Some(kib) => scaled(DEPRECATED, kib, 10),
    }
}

/// `value << shift` as a byte count, for the deprecated MiB/KiB flags.
fn scaled(flag: &'static str, value: i64, shift: u32) -> Result<usize, ConfigError> {
    usize::try_from(value)
        .ok()
        .and_then(|v| v.checked_mul(1 << shift))
        .ok_or(ConfigError::TooLarge { flag, value })
}

fn quantity_flag(flag: &'static str, value: &str) -> Result<usize, ConfigError> {
    let invalid = |reason| ConfigError::InvalidQuantity {
        flag,
        value: value.to_owned(),
        reason,
    };
    let bytes = parse_quantity(value).map_err(invalid)?;
    usize::try_from(bytes).map_err(|_| invalid(QuantityError::TooLarge))
}

fn duration_flag(flag: &'static str, value: &str) -> Result<(bool, Duration), ConfigError> {
    parse_signed_duration(value).map_err(|reason| ConfigError::InvalidDuration {
        flag,
        value: value.to_owned(),
        reason,
    })
}

/// A signed duration clamped at zero.
fn non_negative((negative, d): (bool, Duration)) -> Duration {
    if negative {
        Duration::ZERO
    } else {
        d
    }
}

/// A signed duration, or `default` when it is zero or negative.
fn positive_or((negative, d): (bool, Duration), default: Duration) -> Duration {
    if negative || d.is_zero() {
        default
    } else {
        d
    }
}

/// Why a string is not a usable resource quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not of the form `<number>[suffix]`.
    #[error("not a resource quantity (examples: 4Mi, 16M, 1048576)")]
    Malformed,
    /// Below zero.
    #[error("must not be negative")]
    Negative,
    /// Not a whole number of bytes (`1.5`, `0.1Ki`).
    #[error("not a whole number of bytes")]
    Fractional,
    /// Does not fit in 64 bits.
    #[error("too large")]
    TooLarge,
}

/// Parses a Kubernetes resource quantity into a byte count.
///
/// Accepted: a decimal number (`1048576`, `1.5`) with an optional suffix,
/// binary `Ki Mi Gi Ti Pi Ei` (powers of 1024) or decimal `k M G T P E`
/// (powers of 1000), e.g. `4Mi` = 4 194 304 and `4M` = 4 000 000. The result
/// must be a whole, non-negative number of bytes.
pub fn parse_quantity(s: &str) -> Result<u64, QuantityError> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (int_digits, rest) = rest.split_at(int_len);
    let (frac_digits, suffix) = match rest.strip_prefix('.') {
        Some(after) => after.split_at(after.bytes().take_while(u8::is_ascii_digit).count()),
        None => ("", rest),
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(QuantityError::Malformed);
    }
    let multiplier: u128 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        _ => return Err(QuantityError::Malformed),
    };

    let whole = if int_digits.is_empty() {
        0
    } else {
        int_digits
            .parse::<u128>()
            .map_err(|_| QuantityError::TooLarge)?
    };
    let mut bytes = whole
        .checked_mul(multiplier)
        .ok_or(QuantityError::TooLarge)?;

    let frac_digits = frac_digits.trim_end_matches('0');
    if !frac_digits.is_empty() {
        // No multiplier above has more than 18 factors of 2 or 5 in common
        // with 10^n beyond n = 18, so a longer fraction cannot be whole.
        if frac_digits.len() > 18 {
            return Err(QuantityError::Fractional);
        }
        let frac = frac_digits
            .parse::<u128>()
            .map_err(|_| QuantityError::Malformed)?;
        let scale = 10u128.pow(frac_digits.len() as u32);
        let scaled = frac * multiplier; // < 10^18 * 2^60, fits in u128
        if scaled % scale != 0 {
            return Err(QuantityError::Fractional);
        }
        bytes = bytes
            .checked_add(scaled / scale)
            .ok_or(QuantityError::TooLarge)?;
    }

    if negative && bytes != 0 {
        return Err(QuantityError::Negative);
    }
    u64::try_from(bytes).map_err(|_| QuantityError::TooLarge)
}

/// Why a string is not a Go duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not of the form `<number><unit>…`.
    #[error("not a duration (examples: 5s, 1m30s, 500ms)")]
    Malformed,
    /// A number without a unit (other than a lone `0`).
    #[error("missing unit in duration (ns, us, ms, s, m or h)")]
    MissingUnit,
    /// A unit Go does not know.
    #[error("unknown unit {0:?} in duration (ns, us, ms, s, m or h)")]
    UnknownUnit(String),
    /// Beyond Go's range of about 292 years.
    #[error("duration out of range")]
    Overflow,
    /// Below zero where only non-negative durations make sense.
    #[error("must not be negative")]
    Negative,
}

/// Parses a non-negative Go duration string (`time.ParseDuration` syntax).
///
/// A duration is an optional sign and one or more `<decimal><unit>` parts:
/// `300ms`, `1.5h`, `2h45m`, `.5s`; units `ns`, `us` (or `µs`), `ms`, `s`,
/// `m`, `h`. A lone `0` needs no unit. `-0s` is zero; any other negative
/// duration is [`DurationError::Negative`].
pub fn parse_go_duration(s: &str) -> Result<Duration, DurationError> {
    match parse_signed_duration(s)? {
        (true, d) if !d.is_zero() => Err(DurationError::Negative),
        (_, d) => Ok(d),
    }
}

/// Parses a Go duration into `(is_negative, magnitude)`.
fn parse_signed_duration(s: &str) -> Result<(bool, Duration), DurationError> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok((negative, Duration::ZERO));
    }
    if rest.is_empty() {
        return Err(DurationError::Malformed);
    }
    // Go's limit: |d| ≤ 2^63 - 1 ns, or 2^63 ns when negative.
    let limit: u128 = i64::MAX as u128 + u128::from(negative);
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, after) = rest.split_at(int_len);
        let (frac_digits, after) = match after.strip_prefix('.') {
            Some(a) => a.split_at(a.bytes().take_while(u8::is_ascii_digit).count()),
            None => ("", after),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(DurationError::Malformed);
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit);
        }
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => return Err(DurationError::UnknownUnit(other.to_owned())),
        };
        let whole = if int_digits.is_empty() {
            0
        } else {
            int_digits
                .parse::<u128>()
                .map_err(|_| DurationError::Overflow)?
        };
        let mut nanos = whole
            .checked_mul(unit_nanos)
            .ok_or(DurationError::Overflow)?;
        // Fractions finer than a nanosecond are dropped, as Go does.
        let frac_digits = &frac_digits[..frac_digits.len().min(20)];
        if !frac_digits.is_empty() {
            let frac = frac_digits
                .parse::<u128>()
                .map_err(|_| DurationError::Malformed)?;
            nanos += frac * unit_nanos / 10u128.pow(frac_digits.len() as u32);
        }
        total = total.checked_add(nanos).ok_or(DurationError::Overflow)?;
        if total > limit {
            return Err(DurationError::Overflow);
        }
        rest = after;
    }
    let nanos = u64::try_from(total).map_err(|_| DurationError::Overflow)?;
    Ok((negative, Duration::from_nanos(nanos)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::flags;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn flags_of(args: &[&str]) -> Flags {
        let mut v = vec!["daprd"];
        v.extend_from_slice(args);
        match flags::parse_from(v) {
            Ok(f) => f,
            Err(e) => panic!("{args:?} did not parse: {e}"),
        }
    }

    fn options(args: &[&str]) -> Options {
        match Options::from_flags(flags_of(args), &no_env) {
            Ok(o) => o,
            Err(e) => panic!("{args:?} rejected: {e}"),
        }
    }

    fn error(args: &[&str]) -> ConfigError {
        match Options::from_flags(flags_of(args), &no_env) {
            Ok(o) => panic!("{args:?} accepted: {o:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn defaults_equal_gos() {
        let o = options(&["--app-id", "a"]);
        let expected = Options {
            app_id: "a".to_owned(),
            ..Options::default()
        };
        assert_eq!(o, expected);
        // Spot checks of the Go values themselves.
        assert_eq!(o.http_port, 3500);
        assert_eq!(o.grpc_port, 50001);
        assert_eq!(o.metrics_port, 9090);
        assert_eq!(o.metrics_listen_address, "0.0.0.0");
        assert_eq!(o.app_channel_address, "127.0.0.1");
        assert_eq!(o.app_protocol, AppProtocol::Http);
        assert_eq!(o.app_port, None);
        assert_eq!(o.max_body_size, 4 * 1024 * 1024);
        assert_eq!(o.read_buffer_size, 4 * 1024);
        assert_eq!(o.graceful_shutdown, Duration::from_secs(5));
        assert_eq!(o.block_shutdown, None);
        assert_eq!(o.app_health.path, "/healthz");
        assert_eq!(o.app_health.interval, Duration::from_secs(5));
        assert_eq!(o.app_health.timeout, Duration::from_millis(500));
        assert_eq!(o.app_health.threshold, 3);
        assert!(!o.app_health.enabled);
        assert_eq!(o.app_binding_options_timeout, Duration::from_secs(3));
        assert_eq!(o.hot_reload_reconcile_interval, Duration::from_secs(60));
        assert_eq!(o.log_level, LogLevel::Info);
        assert_eq!(o.mode, Mode::Standalone);
        assert!(o.enable_metrics);
        assert!(o.listen_addresses.is_empty());
        assert!(o.resources_paths.is_empty());
        assert!(o.workers >= 1);
        assert!(o.not_supported.is_empty());
        assert!(o.deprecated.is_empty());
    }

    #[test]
    fn dapr_cli_run_arguments_convert() {
        let o = options(&[
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
        assert_eq!(o.app_id, "myapp");
        assert_eq!(o.app_port, None);
        assert_eq!(o.internal_grpc_port, Some(50002));
        assert_eq!(o.app_max_concurrency, None);
        assert_eq!(o.config_paths, [PathBuf::from("/root/.dapr/config.yaml")]);
        assert_eq!(o.resources_paths, [PathBuf::from("/root/.dapr/components")]);
        assert_eq!(o.enable_api_logging, Some(true));
        assert_eq!(
            o.not_supported,
            ["placement-host-address", "scheduler-host-address"]
        );
    }

    #[test]
    fn ports() {
        let o = options(&[
            "--app-id=a",
            "--app-port=8080",
            "--dapr-http-port=+3600",
            "--dapr-grpc-port=0",
            "--dapr-public-port=3501",
            "--dapr-internal-grpc-port=0",
            "--metrics-port=65535",
        ]);
        assert_eq!(o.app_port, Some(8080));
        assert_eq!(o.http_port, 3600);
        assert_eq!(o.grpc_port, 0);
        assert_eq!(o.public_port, Some(3501));
        assert_eq!(o.internal_grpc_port, None);
        assert_eq!(o.metrics_port, 65535);
        assert!(!o.not_supported.contains(&"dapr-internal-grpc-port"));
        assert_eq!(o.internal_grpc_listen_address, None);
        let o = options(&[
            "--app-id=a",
            "--dapr-internal-grpc-listen-address=127.0.0.1",
        ]);
        assert_eq!(o.internal_grpc_listen_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(options(&["--app-id=a", "--app-port="]).app_port, None);
        assert_eq!(
            options(&["--app-id=a", "--dapr-public-port=0"]).public_port,
            Some(0)
        );
        // With no app port, API ports of 0 do not clash with it.
        let o = options(&["--app-id=a", "--dapr-http-port=0", "--dapr-grpc-port=0"]);
        assert_eq!((o.http_port, o.grpc_port, o.app_port), (0, 0, None));
    }

    #[test]
    fn port_errors_name_the_flag() {
        let cases = [
            ("app-port", "abc"),
            ("app-port", "-1"),
            ("dapr-http-port", "65536"),
            ("dapr-grpc-port", ""),
            ("dapr-public-port", "1.5"),
            ("dapr-internal-grpc-port", "x"),
            ("metrics-port", " 9090"),
        ];
        for (flag, value) in cases {
            let arg = format!("--{flag}={value}");
            let e = error(&["--app-id=a", &arg]);
            assert_eq!(
                e,
                ConfigError::InvalidPort {
                    flag,
                    value: value.to_owned()
                }
            );
            assert_eq!(
                e.to_string(),
                format!("invalid value {value:?} for flag --{flag}: not a port number")
            );
        }
        assert_eq!(
            error(&["--app-id=a", "--app-port", "abc"]).to_string(),
            r#"invalid value "abc" for flag --app-port: not a port number"#
        );
        let e = error(&["--app-id=a", "--profile-port=seven"]);
        assert_eq!(
            e.to_string(),
            r#"invalid value "seven" for flag --profile-port: not an integer"#
        );
    }

    #[test]
    fn app_port_must_differ_from_api_ports() {
        let e = error(&["--app-id=a", "--app-port=3500"]);
        assert_eq!(
            e,
            ConfigError::AppPortConflict {
                other: "dapr-http-port",
                port: 3500
            }
        );
        assert_eq!(
            e.to_string(),
            r#"invalid value "3500" for flag --app-port: conflicts with --dapr-http-port"#
        );
        let e = error(&["--app-id=a", "--app-port=7000", "--dapr-grpc-port=7000"]);
        assert_eq!(
            e.to_string(),
            r#"invalid value "7000" for flag --app-port: conflicts with --dapr-grpc-port"#
        );
    }

    #[test]
    fn app_id_rules() {
        let e = error(&[]);
        assert_eq!(e, ConfigError::AppIdEmpty);
        assert_eq!(e.to_string(), "parameter app-id cannot be empty");
        let e = error(&["--app-id", "my.app"]);
        assert_eq!(e, ConfigError::AppIdDots);
        assert_eq!(e.to_string(), "parameter app-id cannot contain dots");
        // One-shot commands and Kubernetes mode do not need an app ID.
        assert!(options(&["--version"]).print_version);
        assert!(options(&["--build-info"]).build_info);
        assert!(options(&["--wait", "--dapr-http-port", "3600"]).wait);
        let o = options(&["--mode", "kubernetes"]);
        assert_eq!(o.mode, Mode::Kubernetes);
        assert_eq!(o.not_supported, ["mode"]);
    }

    #[test]
    fn mode_must_be_known() {
        let e = error(&["--app-id=a", "--mode=cloud"]);
        assert_eq!(
            e.to_string(),
            r#"invalid value "cloud" for flag --mode: expected standalone or kubernetes"#
        );
    }

    #[test]
    fn app_protocol() {
        let cases = [
            ("http", AppProtocol::Http),
            ("HTTPS", AppProtocol::Https),
            ("gRPC", AppProtocol::Grpc),
            ("grpcs", AppProtocol::Grpcs),
            ("H2C", AppProtocol::H2c),
            ("", AppProtocol::Http),
        ];
        for (value, expected) in cases {
            let arg = format!("--app-protocol={value}");
            assert_eq!(
                options(&["--app-id=a", &arg]).app_protocol,
                expected,
                "{value}"
            );
        }
        let ssl = |p: &str| {
            let arg = format!("--app-protocol={p}");
            options(&["--app-id=a", &arg, "--app-ssl"]).app_protocol
        };
        assert_eq!(ssl("http"), AppProtocol::Https);
        assert_eq!(ssl("grpc"), AppProtocol::Grpcs);
        assert_eq!(ssl("h2c"), AppProtocol::H2c);
        assert_eq!(ssl(""), AppProtocol::Https);
        let e = error(&["--app-id=a", "--app-protocol", "tcp"]);
        assert_eq!(e, ConfigError::InvalidAppProtocol("tcp".to_owned()));
        assert_eq!(e.to_string(), "invalid value for 'app-protocol': tcp");
        assert_eq!(AppProtocol::Grpcs.as_str(), "grpcs");
        assert_eq!(AppProtocol::H2c.to_string(), "h2c");
        assert!(AppProtocol::H2c.is_http() && !AppProtocol::Grpc.is_http());
        assert!(AppProtocol::Https.has_tls() && !AppProtocol::H2c.has_tls());
    }

    #[test]
    fn log_level() {
        assert_eq!(
            options(&["--app-id=a", "--log-level=DEBUG"]).log_level,
            LogLevel::Debug
        );
        assert_eq!(
            options(&["--app-id=a", "--log-level=fatal"]).log_level,
            LogLevel::Fatal
        );
        let e = error(&["--app-id=a", "--log-level=verbose"]);
        assert_eq!(
            e.to_string(),
            r#"invalid value "verbose" for flag --log-level: expected debug, info, warn, error or fatal"#
        );
        assert_eq!(LogLevel::Warn.as_str(), "warn");
        assert_eq!(LogLevel::Fatal.to_tracing(), tracing::Level::ERROR);
        assert_eq!(LogLevel::Debug.to_tracing(), tracing::Level::DEBUG);
    }

    #[test]
    fn disable_init_endpoints() {
        let o = options(&["--app-id=a", "--disable-init-endpoints= Config ,subscribe,"]);
        assert_eq!(
            o.disable_init_endpoints,
            [InitEndpoint::Config, InitEndpoint::Subscribe]
        );
        let e = error(&["--app-id=a", "--disable-init-endpoints=config,metadata"]);
        assert_eq!(e, ConfigError::InvalidInitEndpoint("metadata".to_owned()));
        assert_eq!(
            e.to_string(),
            r#"invalid value "metadata" for flag --disable-init-endpoints: expected config or subscribe"#
        );
    }

    #[test]
    fn app_health_defaults_and_clamps() {
        let o = options(&[
            "--app-id=a",
            "--enable-app-health-check",
            "--app-health-check-path=/ready",
            "--app-health-probe-interval=10",
            "--app-health-probe-timeout=2000",
            "--app-health-threshold=7",
        ]);
        assert_eq!(
            o.app_health,
            AppHealth {
                enabled: true,
                path: "/ready".to_owned(),
                interval: Duration::from_secs(10),
                timeout: Duration::from_secs(2),
                threshold: 7,
            }
        );
        let o = options(&[
            "--app-id=a",
            "--app-health-probe-interval=0",
            "--app-health-probe-timeout=-5",
            "--app-health-threshold=0",
        ]);
        assert_eq!(o.app_health.interval, Duration::from_secs(5));
        assert_eq!(o.app_health.timeout, Duration::from_millis(500));
        assert_eq!(o.app_health.threshold, 3);
        let o = options(&["--app-id=a", "--app-health-threshold=2147483647"]);
        assert_eq!(o.app_health.threshold, 3);
        // Equal is fine.
        let o = options(&[
            "--app-id=a",
            "--app-health-probe-interval=1",
            "--app-health-probe-timeout=1000",
        ]);
        assert_eq!(o.app_health.timeout, o.app_health.interval);
    }

    #[test]
    fn probe_timeout_above_interval_is_rejected_even_when_disabled() {
        let e = error(&[
            "--app-id=a",
            "--app-health-probe-interval=1",
            "--app-health-probe-timeout=1500",
        ]);
        assert_eq!(
            e,
            ConfigError::ProbeTimeoutAboveInterval {
                timeout: Duration::from_millis(1500),
                interval: Duration::from_secs(1)
            }
        );
        assert_eq!(
            e.to_string(),
            "invalid value for flag --app-health-probe-timeout: 1.5s is longer than \
             --app-health-probe-interval (1s)"
        );
        // The default interval (5s) applies before comparing.
        let e = error(&[
            "--app-id=a",
            "--app-health-probe-interval=-1",
            "--app-health-probe-timeout=6000",
        ]);
        assert!(matches!(e, ConfigError::ProbeTimeoutAboveInterval { .. }));
    }

    #[test]
    fn concurrency_and_shutdown() {
        let o = options(&["--app-id=a", "--app-max-concurrency=8"]);
        assert_eq!(o.app_max_concurrency, Some(8));
        assert_eq!(
            options(&["--app-id=a", "--app-max-concurrency=0"]).app_max_concurrency,
            None
        );
        let e = error(&["--app-id=a", "--app-max-concurrency=5000000000"]);
        assert_eq!(
            e.to_string(),
            "invalid value 5000000000 for flag --app-max-concurrency: too large"
        );

        let o = options(&["--app-id=a", "--dapr-graceful-shutdown-seconds=-3"]);
        assert_eq!(o.graceful_shutdown, Duration::from_secs(5));
        let o = options(&["--app-id=a", "--dapr-graceful-shutdown-seconds=0"]);
        assert_eq!(o.graceful_shutdown, Duration::ZERO);
        let o = options(&["--app-id=a", "--dapr-block-shutdown-duration=1m30s"]);
        assert_eq!(o.block_shutdown, Some(Duration::from_secs(90)));
        let o = options(&["--app-id=a", "--dapr-block-shutdown-duration=500ms"]);
        assert_eq!(o.block_shutdown, Some(Duration::from_millis(500)));
        let o = options(&["--app-id=a", "--dapr-block-shutdown-duration=-5s"]);
        assert_eq!(o.block_shutdown, Some(Duration::ZERO));
        let e = error(&["--app-id=a", "--dapr-block-shutdown-duration=5"]);
        assert_eq!(
            e.to_string(),
            r#"invalid value "5" for flag --dapr-block-shutdown-duration: missing unit in duration (ns, us, ms, s, m or h)"#
        );
    }

    #[test]
    fn other_duration_flags() {
        let o = options(&[
            "--app-id=a",
            "--app-binding-options-timeout=1.5s",
            "--hot-reload-reconcile-interval=2m",
        ]);
        assert_eq!(o.app_binding_options_timeout, Duration::from_millis(1500));
        assert_eq!(o.hot_reload_reconcile_interval, Duration::from_secs(120));
        let o = options(&[
            "--app-id=a",
            "--app-binding-options-timeout=-1s",
            "--hot-reload-reconcile-interval=0",
        ]);
        assert_eq!(o.app_binding_options_timeout, Duration::from_secs(3));
        assert_eq!(o.hot_reload_reconcile_interval, Duration::from_secs(60));

        for bad in ["0s", "-1s", "0"] {
            let arg = format!("--actors-disseminate-timeout={bad}");
            let e = error(&["--app-id=a", &arg]);
            assert_eq!(
                e.to_string(),
                format!(
                    "invalid value {bad:?} for flag --actors-disseminate-timeout: must be positive"
                )
            );
        }
        let e = error(&["--app-id=a", "--actors-disseminate-timeout=soon"]);
        assert!(matches!(
            e,
            ConfigError::InvalidDuration {
                flag: "actors-disseminate-timeout",
                ..
            }
        ));
        let o = options(&["--app-id=a", "--actors-disseminate-timeout=10s"]);
        assert_eq!(o.not_supported, ["actors-disseminate-timeout"]);
    }

    #[test]
    fn body_and_head_sizes() {
        let size = |args: &[&str]| {
            let o = options(&[&["--app-id=a"], args].concat());
            (o.max_body_size, o.read_buffer_size)
        };
        assert_eq!(size(&["--max-body-size=16Mi"]).0, 16 << 20);
        assert_eq!(size(&["--max-body-size=4M"]).0, 4_000_000);
        assert_eq!(size(&["--max-body-size=1048576"]).0, 1 << 20);
        assert_eq!(size(&["--max-body-size=0"]).0, usize::MAX);
        assert_eq!(size(&["--read-buffer-size=8Ki"]).1, 8 << 10);
        assert_eq!(size(&["--read-buffer-size=0"]).1, 1 << 20);
        // Deprecated flags, used only when the new ones are absent.
        assert_eq!(size(&["--dapr-http-max-request-size=16"]).0, 16 << 20);
        assert_eq!(size(&["--dapr-http-max-request-size=-1"]).0, 4 << 20);
        assert_eq!(size(&["--dapr-http-max-request-size=0"]).0, usize::MAX);
        assert_eq!(size(&["--dapr-http-read-buffer-size=16"]).1, 16 << 10);
        assert_eq!(size(&["--dapr-http-read-buffer-size=-1"]).1, 4 << 10);
        assert_eq!(size(&["--dapr-http-read-buffer-size=-2"]).1, 1 << 20);
        assert_eq!(
            size(&["--max-body-size=1Mi", "--dapr-http-max-request-size=16"]).0,
            1 << 20
        );
        assert_eq!(
            size(&["--read-buffer-size=1Ki", "--dapr-http-read-buffer-size=16"]).1,
            1 << 10
        );
        let e = error(&["--app-id=a", "--max-body-size=4MB"]);
        assert_eq!(
            e.to_string(),
            r#"invalid value "4MB" for flag --max-body-size: not a resource quantity (examples: 4Mi, 16M, 1048576)"#
        );
        let e = error(&["--app-id=a", "--read-buffer-size=-4Ki"]);
        assert_eq!(
            e.to_string(),
            r#"invalid value "-4Ki" for flag --read-buffer-size: must not be negative"#
        );
        let e = error(&[
            "--app-id=a",
            "--dapr-http-max-request-size=9223372036854775807",
        ]);
        assert!(matches!(
            e,
            ConfigError::TooLarge {
                flag: "dapr-http-max-request-size",
                ..
            }
        ));
        let o = options(&["--app-id=a", "--dapr-http-max-request-size=8"]);
        assert_eq!(
            o.deprecated,
            [("dapr-http-max-request-size", "use --max-body-size")]
        );
    }

    #[test]
    fn quantities() {
        let ok = [
            ("0", 0),
            ("1048576", 1_048_576),
            ("+5", 5),
            ("-0", 0),
            ("1Ki", 1024),
            ("4Mi", 4 << 20),
            ("2Gi", 2 << 30),
            ("1Ti", 1 << 40),
            ("1Pi", 1 << 50),
            ("1Ei", 1 << 60),
            ("1k", 1000),
            ("4M", 4_000_000),
            ("3G", 3_000_000_000),
            ("2T", 2_000_000_000_000),
            ("1P", 1_000_000_000_000_000),
            ("1.5Ki", 1536),
            ("0.5Mi", 512 << 10),
            (".5k", 500),
            ("1.", 1),
            ("2.000", 2),
            ("1.25Gi", 5 << 28),
        ];
        for (s, want) in ok {
            assert_eq!(parse_quantity(s), Ok(want), "{s}");
        }
        let bad = [
            ("", QuantityError::Malformed),
            ("abc", QuantityError::Malformed),
            ("4MB", QuantityError::Malformed),
            ("4K", QuantityError::Malformed),
            ("4 Mi", QuantityError::Malformed),
            ("Mi", QuantityError::Malformed),
            (".", QuantityError::Malformed),
            ("1.2.3", QuantityError::Malformed),
            ("--1", QuantityError::Malformed),
            ("-1", QuantityError::Negative),
            ("-4Mi", QuantityError::Negative),
            ("1.5", QuantityError::Fractional),
            ("0.1Ki", QuantityError::Fractional),
            ("1.0000000000000000001", QuantityError::Fractional),
            ("16Ei", QuantityError::TooLarge),
            ("18446744073709551616", QuantityError::TooLarge),
            (
                "99999999999999999999999999999999999999999",
                QuantityError::TooLarge,
            ),
        ];
        for (s, want) in bad {
            assert_eq!(parse_quantity(s), Err(want), "{s}");
        }
        assert_eq!(parse_quantity("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn durations() {
        let ok = [
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("5s", Duration::from_secs(5)),
            ("+5s", Duration::from_secs(5)),
            ("1m30s", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("2h45m", Duration::from_secs(2 * 3600 + 45 * 60)),
            ("1h1m1s1ms1us1ns", Duration::new(3661, 1_001_001)),
            ("10µs", Duration::from_micros(10)),
            ("10μs", Duration::from_micros(10)),
            ("1.0000000005s", Duration::from_secs(1)),
            ("0.000000001s", Duration::from_nanos(1)),
            (
                "9223372036854775807ns",
                Duration::from_nanos(i64::MAX as u64),
            ),
        ];
        for (s, want) in ok {
            assert_eq!(parse_go_duration(s), Ok(want), "{s}");
        }
        let bad = [
            ("", DurationError::Malformed),
            ("-", DurationError::Malformed),
            ("s", DurationError::Malformed),
            (".s", DurationError::Malformed),
            ("5", DurationError::MissingUnit),
            ("1s5", DurationError::MissingUnit),
            ("5sec", DurationError::UnknownUnit("sec".to_owned())),
            ("5d", DurationError::UnknownUnit("d".to_owned())),
            ("5 s", DurationError::UnknownUnit(" s".to_owned())),
            ("-5s", DurationError::Negative),
            ("9223372036854775808ns", DurationError::Overflow),
            ("3000000h", DurationError::Overflow),
            (
                "99999999999999999999999999999999999999999h",
                DurationError::Overflow,
            ),
        ];
        for (s, want) in bad {
            assert_eq!(parse_go_duration(s), Err(want), "{s}");
        }
        // Go allows exactly 2^63 ns when negative.
        assert_eq!(
            parse_signed_duration("-9223372036854775808ns"),
            Ok((true, Duration::from_nanos(1 << 63)))
        );
    }

    #[test]
    fn listen_addresses_and_paths() {
        let o = options(&[
            "--app-id=a",
            "--dapr-listen-addresses= 127.0.0.1, [::1] ,,",
            "--dapr-public-listen-address=0.0.0.0",
            "--resources-path=/a,",
            "--resources-path",
            "/b",
            "--components-path=/ignored",
            "--config=/c1.yaml,/c2.yaml",
            "--unix-domain-socket=/tmp/sock",
        ]);
        assert_eq!(o.listen_addresses, ["127.0.0.1", "[::1]"]);
        assert_eq!(o.public_listen_address.as_deref(), Some("0.0.0.0"));
        assert_eq!(
            o.resources_paths,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(
            o.config_paths,
            [PathBuf::from("/c1.yaml"), PathBuf::from("/c2.yaml")]
        );
        assert_eq!(o.unix_domain_socket, Some(PathBuf::from("/tmp/sock")));
        assert_eq!(o.deprecated, [("components-path", "use --resources-path")]);

        let o = options(&["--app-id=a", "--components-path=/comp"]);
        assert_eq!(o.resources_paths, [PathBuf::from("/comp")]);
        let o = options(&["--app-id=a", "--resources-path="]);
        assert!(o.resources_paths.is_empty());
    }

    #[test]
    fn environment_is_read_through_the_lookup() {
        let vars: HashMap<&str, &str> = [
            ("DAPR_API_TOKEN", "secret-api"),
            ("APP_API_TOKEN", "secret-app"),
            ("NAMESPACE", "prod"),
            ("DAPRD_WORKERS", "3"),
        ]
        .into_iter()
        .collect();
        let env = |k: &str| vars.get(k).map(|v| (*v).to_owned());
        let o = Options::from_flags(flags_of(&["--app-id=a"]), &env).expect("valid");
        assert_eq!(o.api_token.as_deref(), Some("secret-api"));
        assert_eq!(o.app_api_token.as_deref(), Some("secret-app"));
        assert_eq!(o.namespace.as_deref(), Some("prod"));
        assert_eq!(o.workers, 3);
        // Tokens never show in Debug output.
        let debug = format!("{o:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("<redacted>"));

        // The flag beats the environment.
        let o = Options::from_flags(flags_of(&["--app-id=a", "--workers=5"]), &env).expect("valid");
        assert_eq!(o.workers, 5);

        // Empty values count as unset.
        let empty = |_: &str| Some(String::new());
        let o = Options::from_flags(flags_of(&["--app-id=a"]), &empty).expect("valid");
        assert_eq!(
            (o.api_token, o.app_api_token, o.namespace),
            (None, None, None)
        );
        assert!(o.workers >= 1);

        let bad = |k: &str| (k == "DAPRD_WORKERS").then(|| "many".to_owned());
        let e = Options::from_flags(flags_of(&["--app-id=a"]), &bad).expect_err("invalid");
        assert_eq!(
            e.to_string(),
            r#"invalid value "many" for environment variable DAPRD_WORKERS: not a number"#
        );
    }

    #[test]
    fn workers_zero_means_available_parallelism() {
        let expected = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(options(&["--app-id=a", "--workers=0"]).workers, expected);
        assert_eq!(options(&["--app-id=a", "--workers=2"]).workers, 2);
    }

    #[test]
    fn not_supported_lists_set_flags_only() {
        let o = options(&[
            "--app-id=a",
            "--dapr-internal-grpc-port=50002",
            "--dapr-internal-grpc-listen-address=127.0.0.1",
            "--unix-domain-socket=/tmp",
            "--allowed-origins=*",
            "--log-file=/tmp/x.log",
            "--enable-profiling",
            "--mode=kubernetes",
            "--placement-host-address=localhost:50005",
            "--scheduler-host-address=localhost:50006",
            "--scheduler-job-streams=4",
            "--actors-disseminate-timeout=10s",
            "--enable-mtls",
            "--sentry-address=sentry:50001",
            "--sentry-request-jwt-audiences=aud",
            "--control-plane-address=op:6500",
            "--control-plane-trust-domain=cluster.local",
            "--control-plane-namespace=dapr-system",
            "--disable-builtin-k8s-secret-store",
            // Supported or loaded elsewhere: never listed.
            "--config=/c.yaml",
            "--enable-api-logging",
            "--dapr-public-port=3501",
            "--dapr-block-shutdown-duration=5s",
            "--profile-port=7778",
        ]);
        assert_eq!(
            o.not_supported,
            [
                "unix-domain-socket",
                "allowed-origins",
                "log-file",
                "enable-profiling",
                "mode",
                "placement-host-address",
                "scheduler-host-address",
                "scheduler-job-streams",
                "actors-disseminate-timeout",
                "enable-mtls",
                "sentry-address",
                "sentry-request-jwt-audiences",
                "control-plane-address",
                "control-plane-trust-domain",
                "control-plane-namespace",
                "disable-builtin-k8s-secret-store",
            ]
        );
        // Explicit defaults and false booleans are not "set".
        let o = options(&[
            "--app-id=a",
            "--enable-mtls=false",
            "--enable-profiling=false",
            "--allowed-origins=",
            "--mode=standalone",
            "--scheduler-job-streams=3",
            "--actors-disseminate-timeout=30s",
            "--scheduler-host-address=",
            "--control-plane-trust-domain=localhost",
        ]);
        assert!(o.not_supported.is_empty(), "{:?}", o.not_supported);
    }

    #[test]
    fn deprecated_flags_are_reported() {
        let o = options(&[
            "--app-id=a",
            "--app-ssl",
            "--actors-service=placement:x",
            "--reminders-service=x",
            "--dapr-http-read-buffer-size=8",
        ]);
        assert_eq!(
            o.deprecated,
            [
                ("dapr-http-read-buffer-size", "use --read-buffer-size"),
                ("app-ssl", "use --app-protocol https or grpcs"),
                ("actors-service", "the flag has no effect"),
                ("reminders-service", "the flag has no effect"),
            ]
        );
    }

    #[test]
    fn one_shot_commands_skip_validation_but_not_conversion() {
        let o = options(&["--wait", "--app-port=3500"]);
        assert!(o.wait);
        let e = error(&["--wait", "--dapr-http-port=http"]);
        assert!(matches!(
            e,
            ConfigError::InvalidPort {
                flag: "dapr-http-port",
                ..
            }
        ));
    }

    #[test]
    fn validate_works_on_hand_built_options() {
        let mut o = Options {
            app_id: "a".to_owned(),
            ..Options::default()
        };
        assert_eq!(o.validate(), Ok(()));
        o.app_port = Some(o.grpc_port);
        assert_eq!(
            o.validate(),
            Err(ConfigError::AppPortConflict {
                other: "dapr-grpc-port",
                port: 50001
            })
        );
    }

    #[test]
    fn single_dash_flags_reach_options() {
        let o = options(&["-app-id", "x", "-app-port", "8080", "-log-level=warn"]);
        assert_eq!(
            (o.app_id.as_str(), o.app_port, o.log_level),
            ("x", Some(8080), LogLevel::Warn)
        );
    }
}
