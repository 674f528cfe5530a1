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
//!
//! Layout: `types` holds the option types ([`Options`] and its enums) with Go
//! daprd's defaults, `convert` the two steps ([`Options::from_flags`],
//! [`Options::validate`]), `error` their [`ConfigError`], and `units` the
//! quantity and duration parsers.
//!
//! [`Flags`]: super::flags::Flags

mod convert;
mod error;
mod types;
mod units;

pub use error::ConfigError;
pub use types::{AppHealth, AppProtocol, InitEndpoint, LogLevel, Mode, Options};
pub use units::{
    format_go_duration, parse_go_duration, parse_go_duration_nanos, parse_quantity, DurationError,
    QuantityError,
};
