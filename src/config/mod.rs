//! Configuration: from the command line and environment to validated options.
//!
//! Three separate steps, each testable without touching the process:
//! 1. **parse** ([`flags`]): `argv` → [`flags::Flags`], with Go daprd's flag
//!    names, defaults and `pflag` quirks;
//! 2. **convert** and 3. **validate** ([`options`]): flags plus an injected
//!    environment lookup → [`Options`], or a one-line [`ConfigError`].
//!
//! Resource files (components, subscriptions, Configuration YAML) are loaded
//! after this, from the paths in [`Options::resources_paths`] and
//! [`Options::config_paths`].

pub mod configuration;
pub mod flags;
pub mod options;
pub mod resources;
pub mod time;

pub use options::{AppHealth, AppProtocol, ConfigError, InitEndpoint, LogLevel, Mode, Options};

/// The runtime version reported by metadata, `--version` and logs: the Go
/// daprd release whose API this matches, then ours.
pub const RUNTIME_VERSION: &str = concat!("1.18.3+rs.", env!("CARGO_PKG_VERSION"));
