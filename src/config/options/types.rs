//! The option types: [`Options`], its enums and Go daprd's defaults.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Go daprd's default request body limit (`--max-body-size 4Mi`).
pub(super) const DEFAULT_MAX_BODY_SIZE: usize = 4 << 20;
/// Go daprd's default request head limit (`--read-buffer-size 4Ki`).
pub(super) const DEFAULT_READ_BUFFER_SIZE: usize = 4 << 10;
pub(super) const DEFAULT_GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(5);
pub(super) const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(5);
pub(super) const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(500);
pub(super) const DEFAULT_PROBE_THRESHOLD: u32 = 3;
pub(super) const DEFAULT_APP_BINDING_OPTIONS_TIMEOUT: Duration = Duration::from_secs(3);
/// `--actors-disseminate-timeout` (Go: 30 s).
pub(super) const DEFAULT_ACTORS_DISSEMINATE_TIMEOUT: Duration = Duration::from_secs(30);
pub(super) const DEFAULT_HOT_RELOAD_RECONCILE_INTERVAL: Duration = Duration::from_secs(60);

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
    pub(super) fn with_app_ssl(self) -> Self {
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
    /// `--placement-host-address`, split on commas (empty: the actor
    /// runtime is off, as Go).
    pub placement_addresses: Vec<String>,
    /// `--actors-disseminate-timeout`: how long a placement round may take
    /// before the sidecar drops the stream.
    pub actors_disseminate_timeout: Duration,
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
            placement_addresses: Vec::new(),
            actors_disseminate_timeout: DEFAULT_ACTORS_DISSEMINATE_TIMEOUT,
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
            placement_addresses,
            actors_disseminate_timeout,
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
            .field("placement_addresses", placement_addresses)
            .field("actors_disseminate_timeout", actors_disseminate_timeout)
            .field("not_supported", not_supported)
            .field("deprecated", deprecated)
            .finish()
    }
}

/// 0 → the available parallelism (1 if unknown).
pub(super) fn resolve_workers(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }
}
