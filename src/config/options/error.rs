//! [`ConfigError`]: why flags or environment do not make valid options.

use std::time::Duration;

use super::units::{DurationError, QuantityError};

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
