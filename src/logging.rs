//! TEMPORARY shim until the logging module lands.
use crate::config::Options;
/// Logging settings.
pub struct LogConfig {
    level: tracing::Level,
    json: bool,
}
impl LogConfig {
    /// From options.
    pub fn from_options(o: &Options) -> Self {
        Self {
            level: o.log_level.to_tracing(),
            json: o.log_as_json,
        }
    }
}
/// Install the subscriber.
pub fn init(c: &LogConfig) {
    let b = tracing_subscriber::fmt()
        .with_max_level(c.level)
        .with_writer(std::io::stdout);
    let _ = if c.json {
        b.json().try_init()
    } else {
        b.try_init()
    };
}
