//! Steps two and three: flags and environment → [`Options`], then validation.

use std::path::PathBuf;
use std::time::Duration;

use super::error::ConfigError;
use super::types::{
    resolve_workers, AppHealth, AppProtocol, InitEndpoint, LogLevel, Mode, Options,
    DEFAULT_APP_BINDING_OPTIONS_TIMEOUT, DEFAULT_GRACEFUL_SHUTDOWN,
    DEFAULT_HOT_RELOAD_RECONCILE_INTERVAL, DEFAULT_MAX_BODY_SIZE, DEFAULT_PROBE_INTERVAL,
    DEFAULT_PROBE_THRESHOLD, DEFAULT_PROBE_TIMEOUT, DEFAULT_READ_BUFFER_SIZE,
};
use super::units::{parse_quantity, parse_signed_duration, QuantityError};
use crate::config::flags::Flags;

/// Go's `net/http` header limit when daprd passes a non-positive one.
const GO_HTTP_DEFAULT_MAX_HEADER_BYTES: usize = 1 << 20;
const DEFAULT_SCHEDULER_JOB_STREAMS: u64 = 3;

/// Environment variable holding the token every Dapr API call must carry.
const ENV_API_TOKEN: &str = "DAPR_API_TOKEN";
/// Environment variable holding the token sent on every call to the app.
const ENV_APP_API_TOKEN: &str = "APP_API_TOKEN";
/// Environment variable holding the namespace.
const ENV_NAMESPACE: &str = "NAMESPACE";
/// Our own: worker thread count when `--workers` is not given.
const ENV_WORKERS: &str = "DAPRD_WORKERS";

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

    let not_supported = unsupported_flags(&f, mode, scheduler_given);
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
        placement_addresses: f
            .placement_host_address
            .split(',')
            .map(|a| a.trim().trim_matches(|c| c == '"' || c == '\''))
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        actors_disseminate_timeout,
        not_supported,
        deprecated,
    })
}

/// Flags given a non-default value whose feature this build lacks.
fn unsupported_flags(f: &Flags, mode: Mode, scheduler_given: bool) -> Vec<&'static str> {
    [
        ("unix-domain-socket", !f.unix_domain_socket.is_empty()),
        ("allowed-origins", !f.allowed_origins.is_empty()),
        ("log-file", !f.log_file.is_empty()),
        ("enable-profiling", f.enable_profiling),
        ("mode", mode == Mode::Kubernetes),
        ("scheduler-host-address", scheduler_given),
        (
            "scheduler-job-streams",
            f.scheduler_job_streams != DEFAULT_SCHEDULER_JOB_STREAMS,
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
        assert_eq!(o.not_supported, ["scheduler-host-address"]);
        assert_eq!(o.placement_addresses, ["localhost:50005"]);
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
        assert_eq!(o.actors_disseminate_timeout, Duration::from_secs(10));
        assert!(o.not_supported.is_empty());
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
                "scheduler-host-address",
                "scheduler-job-streams",
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
