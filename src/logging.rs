//! Logging in Go daprd's format (dapr/kit's logrus-based logger).
//!
//! Text mode (the default) prints logrus' text layout, `time`, `level` and
//! `msg` first and then the remaining fields sorted by name:
//!
//! ```text
//! time="2026-11-23T10:00:00.123456789Z" level=info msg="dapr initialized" app_id=myapp instance=host scope=dapr.runtime type=log ver=1.18.3+rs.0.1.0
//! ```
//!
//! `--log-as-json` prints one JSON object per line with the keys sorted, as
//! Go's `encoding/json` sorts a map: `app_id`, `instance`, `level`, `msg`,
//! `scope`, `time`, `type`, `ver`, plus the event's own fields. Levels are
//! logrus' names (`warn` prints as `warning`). `scope` comes from the
//! event's target through a small table mapping our modules to Go's scopes;
//! API log lines (target `daprd::api_log`) use Go's `dapr.runtime.http-info`.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogLevel, Options};

/// What [`init`] needs.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Minimum level printed for daprd's own events.
    pub level: LogLevel,
    /// JSON lines instead of logrus text.
    pub json: bool,
    /// The app id stamped on every line (none when empty, as for Go's
    /// control-plane services).
    pub app_id: String,
}

impl LogConfig {
    /// The logging settings in validated options.
    pub fn from_options(opts: &Options) -> Self {
        Self {
            level: opts.log_level,
            json: opts.log_as_json,
            app_id: opts.app_id.clone(),
        }
    }
}

/// Installs the global subscriber (stdout, as Go daprd). A second call is a no-op.
pub fn init(cfg: &LogConfig) {
    let level = match cfg.level {
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error | LogLevel::Fatal => LevelFilter::ERROR,
    };
    // Our events at the chosen level; libraries' only when they warn.
    let filter = Targets::new()
        .with_target("daprd", level)
        .with_default(level.min(LevelFilter::WARN));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .event_format(GoFormat::new(&cfg.app_id, cfg.json));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init();
}

/// The event formatter.
pub struct GoFormat {
    app_id: String,
    instance: String,
    json: bool,
}

impl GoFormat {
    /// A formatter stamping `app_id` and this host's name.
    pub fn new(app_id: &str, json: bool) -> Self {
        Self {
            app_id: app_id.to_owned(),
            instance: hostname(),
            json,
        }
    }
}

impl<S, N> FormatEvent<S, N> for GoFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = level_name(*meta.level(), fields.fatal);
        let scope = scope_for(meta.target());
        let time = rfc3339_nano(SystemTime::now());
        let ver = crate::config::RUNTIME_VERSION;
        let mut all: Vec<(&str, &str)> = vec![
            ("instance", &self.instance),
            ("scope", scope),
            ("type", "log"),
            ("ver", ver),
        ];
        // dapr/kit adds `app_id` only to loggers given one (not the control plane's).
        if !self.app_id.is_empty() {
            all.push(("app_id", &self.app_id));
        }
        // Event fields never overwrite the standard keys; logrus renames a
        // clash to `fields.<key>`.
        let renamed: Vec<(String, &str)> = fields
            .extra
            .iter()
            .map(|(k, v)| {
                let clash = matches!(
                    *k,
                    "app_id" | "instance" | "scope" | "type" | "ver" | "level" | "msg" | "time"
                );
                (
                    if clash {
                        format!("fields.{k}")
                    } else {
                        (*k).to_owned()
                    },
                    v.as_str(),
                )
            })
            .collect();
        all.extend(renamed.iter().map(|(k, v)| (k.as_str(), *v)));
        all.sort_by(|a, b| a.0.cmp(b.0));
        if self.json {
            let mut map = serde_json::Map::new();
            for (k, v) in &all {
                map.insert((*k).to_owned(), serde_json::Value::String((*v).to_owned()));
            }
            map.insert("level".into(), level.into());
            map.insert("msg".into(), fields.message.into());
            map.insert("time".into(), time.into());
            // serde_json's Map is a BTreeMap here: keys come out sorted, as Go's.
            let line = serde_json::Value::Object(map).to_string();
            writeln!(w, "{line}")
        } else {
            write!(w, "time=\"{time}\" level={level} msg=")?;
            write_text_value(&mut w, &fields.message)?;
            for (k, v) in &all {
                write!(w, " {k}=")?;
                write_text_value(&mut w, v)?;
            }
            writeln!(w)
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    extra: Vec<(&'static str, String)>,
    fatal: bool,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "fatal" => self.fatal = format!("{value:?}") == "true",
            name => self.extra.push((name, format!("{value:?}"))),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            name => self.extra.push((name, value.to_owned())),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "fatal" {
            self.fatal = value;
        } else {
            self.extra.push((field.name(), value.to_string()));
        }
    }
}

/// logrus' level names; `fatal = true` on an error event prints `fatal`.
fn level_name(level: Level, fatal: bool) -> &'static str {
    match level {
        Level::ERROR if fatal => "fatal",
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// Maps an event target (our module path) to Go daprd's logger scope.
pub fn scope_for(target: &str) -> &'static str {
    const TABLE: &[(&str, &str)] = &[
        ("daprd::api_log", "dapr.runtime.http-info"),
        ("daprd::grpc", "dapr.runtime.grpc.api"),
        ("daprd::api", "dapr.runtime.http"),
        ("daprd::http", "dapr.runtime.http"),
        ("daprd::metrics", "dapr.metrics"),
        ("daprd::components", "dapr.runtime.components"),
        ("daprd::channel", "dapr.runtime.channel"),
        // The placement service's own loggers.
        (
            "daprd::placement::disseminator",
            "dapr.placement.server.loops.disseminator",
        ),
        ("daprd::placement::server", "dapr.placement.server"),
        ("daprd::placement", "dapr.placement"),
        // The scheduler service's.
        (
            "daprd::scheduler::stream",
            "dapr.scheduler.server.pool.loops.stream",
        ),
        ("daprd::scheduler::cron", "dapr.scheduler.server.cron"),
        ("daprd::scheduler::server", "dapr.scheduler.server"),
        ("daprd::scheduler", "dapr.scheduler"),
        ("daprd", "dapr.runtime"),
    ];
    TABLE
        .iter()
        .find(|(prefix, _)| {
            target == *prefix
                || target
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with("::"))
        })
        .map_or("dapr.contrib", |(_, scope)| scope)
}

/// logrus quotes a text value unless it is made only of `[A-Za-z0-9-._/@^+]`.
fn write_text_value(w: &mut Writer<'_>, v: &str) -> fmt::Result {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if plain {
        return w.write_str(v);
    }
    w.write_char('"')?;
    for c in v.chars() {
        match c {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            '\r' => w.write_str("\\r")?,
            '\t' => w.write_str("\\t")?,
            c if c.is_control() => write!(w, "\\u{:04x}", c as u32)?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}

/// Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction trimmed.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    let (y, mo, da) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let (h, mi, s) = (rem / 3600, (rem / 60) % 60, rem % 60);
    let mut out = format!("{y:04}-{mo:02}-{da:02}T{h:02}:{mi:02}:{s:02}");
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(json: bool, f: impl FnOnce()) -> String {
        let buf = Buf::default();
        let out = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(Level::DEBUG)
            .with_writer(move || buf.clone())
            .event_format(GoFormat::new("myapp", json))
            .finish();
        tracing::subscriber::with_default(sub, f);
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn text_line_has_logrus_layout() {
        let line = capture(
            false,
            || tracing::warn!(target: "daprd::runtime", port = 3500, "hello \"world\""),
        );
        assert!(line.starts_with("time=\""), "{line}");
        let rest = line.split_once("\" level=").unwrap().1;
        assert!(
            rest.starts_with("warning msg=\"hello \\\"world\\\"\" app_id=myapp instance="),
            "{line}"
        );
        assert!(
            rest.contains(" port=3500 scope=dapr.runtime type=log ver="),
            "{line}"
        );
        assert!(line.ends_with('\n'));
    }

    #[test]
    fn json_line_has_go_keys_sorted() {
        let line = capture(
            true,
            || tracing::info!(target: "daprd::api_log", method = "GET", "HTTP API Called"),
        );
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["level"], "info");
        assert_eq!(v["msg"], "HTTP API Called");
        assert_eq!(v["scope"], "dapr.runtime.http-info");
        assert_eq!(v["type"], "log");
        assert_eq!(v["app_id"], "myapp");
        assert_eq!(v["method"], "GET");
        assert!(v["ver"].as_str().unwrap().starts_with("1.18"));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(line.find("\"app_id\"").unwrap() < line.find("\"time\"").unwrap());
    }

    #[test]
    fn no_app_id_field_without_an_app_id() {
        let buf = Buf::default();
        let out = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || buf.clone())
            .event_format(GoFormat::new("", false))
            .finish();
        tracing::subscriber::with_default(
            sub,
            || tracing::info!(target: "daprd::placement", "started"),
        );
        let line = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(!line.contains("app_id"), "{line}");
        assert!(line.contains("msg=started instance="), "{line}");
        assert!(line.contains("scope=dapr.placement "), "{line}");
    }

    #[test]
    fn fatal_and_levels() {
        let line = capture(
            true,
            || tracing::error!(target: "daprd", fatal = true, "boom"),
        );
        assert!(line.contains("\"level\":\"fatal\""), "{line}");
        let line = capture(
            false,
            || tracing::info!(target: "daprd", level = 3, "clash"),
        );
        assert!(line.contains(" fields.level=3 "), "{line}");
        let line = capture(false, || tracing::debug!(target: "daprd::metrics", "d"));
        assert!(line.contains("level=debug msg=d "), "{line}");
        assert!(line.contains("scope=dapr.metrics"), "{line}");
    }

    #[test]
    fn scopes() {
        assert_eq!(scope_for("daprd::runtime::worker"), "dapr.runtime");
        assert_eq!(scope_for("daprd::api::metadata"), "dapr.runtime.http");
        assert_eq!(scope_for("daprd::api_log"), "dapr.runtime.http-info");
        assert_eq!(scope_for("daprd::apix"), "dapr.runtime");
        assert_eq!(scope_for("h2::proto"), "dapr.contrib");
        assert_eq!(scope_for("daprd::placement"), "dapr.placement");
        assert_eq!(scope_for("daprd::placement::http"), "dapr.placement");
        assert_eq!(
            scope_for("daprd::placement::server"),
            "dapr.placement.server"
        );
        assert_eq!(
            scope_for("daprd::placement::disseminator"),
            "dapr.placement.server.loops.disseminator"
        );
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_nano(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.12Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // leap day 2000
        assert_eq!(rfc3339_nano(t), "2000-02-29T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(4_102_444_799, 1);
        assert_eq!(rfc3339_nano(t), "2099-12-31T23:59:59.000000001Z");
    }
}
