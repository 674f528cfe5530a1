//! `bindings.cron` (input): fires on a schedule (contrib's `bindings/cron`,
//! robfig/cron v3 semantics through dapr/kit's fork).
//!
//! `schedule` takes what Go's parser takes (`SecondOptional | Minute | Hour
//! | Dom | Month | Dow | Descriptor`):
//! - five fields (minute hour day-of-month month day-of-week), or six with
//!   seconds first; names (`JAN`, `mon`), ranges, steps (`*/5`, `5/15`
//!   meaning `5-59/15`), lists, `?`;
//! - `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`,
//!   `@hourly`;
//! - `@every <Go duration>`: fixed delay, whole seconds, at least one second,
//!   the first fire one delay after start;
//! - `TZ=UTC ` / `CRON_TZ=UTC ` (and `Local`) prefixes; other zone names are
//!   refused at start-up (no time zone database is bundled).
//!
//! Expressions are parsed and stepped by the `croner` crate (maintained,
//! chrono-based, Vixie semantics). Go's rule for day-of-month versus
//! day-of-week is kept exactly: when either field starts with `*` or `?`
//! both must match, otherwise either may (croner alone only treats a bare
//! `*` that way). Schedules run in the local time zone, as Go's default.
//!
//! Every fire POSTs an empty body with metadata `timeZone` (`Local`, Go's
//! location name) and `readTimeUTC` (Go's `time.Time.String()` of the UTC
//! time); each fire is delivered in its own task, so a slow app does not
//! delay the schedule (robfig runs each job in a goroutine). The app's answer
//! is ignored, as in Go.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Local, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use super::{BindingHandler, InputBinding, ReadEvent};
use crate::components::{ComponentError, ComponentErrorKind, Metadata};
use crate::config::options::{parse_go_duration, DurationError};
use crate::net::shutdown::Drain;

/// A parsed schedule.
#[derive(Clone, Debug)]
pub enum Schedule {
    /// `@every`: a fixed delay (whole seconds, ≥ 1 s).
    Every(Duration),
    /// A cron expression, in UTC or local time.
    Cron {
        /// The expression.
        cron: Box<Cron>,
        /// Evaluate in UTC rather than local time.
        utc: bool,
    },
}

impl Schedule {
    /// Parses `spec` as robfig's parser does; the error is Go's wording
    /// where it can be.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        let (utc, spec) = match spec
            .strip_prefix("TZ=")
            .or_else(|| spec.strip_prefix("CRON_TZ="))
        {
            Some(rest) => {
                let (zone, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                let utc = match zone {
                    "UTC" | "Etc/UTC" => true,
                    "Local" => false,
                    other => {
                        return Err(format!(
                            "time zone {other:?} is not supported (only UTC and Local)"
                        ))
                    }
                };
                (utc, rest.trim())
            }
            None => (false, spec),
        };
        if let Some(descriptor) = spec.strip_prefix('@') {
            let fields = match descriptor {
                "yearly" | "annually" => "0 0 0 1 1 *",
                "monthly" => "0 0 0 1 * *",
                "weekly" => "0 0 0 * * 0",
                "daily" | "midnight" => "0 0 0 * * *",
                "hourly" => "0 0 * * * *",
                _ => {
                    let Some(d) = descriptor.strip_prefix("every ") else {
                        return Err(format!("unrecognized descriptor: {spec}"));
                    };
                    let delay = match parse_go_duration(d) {
                        Ok(d) => d,
                        Err(DurationError::Negative) => Duration::ZERO,
                        Err(e) => {
                            return Err(format!(
                            "failed to parse duration {spec}: time: invalid duration {d:?} ({e})"
                        ))
                        }
                    };
                    // robfig: at least one second, truncated to whole seconds.
                    let secs = delay.as_secs().max(1);
                    return Ok(Schedule::Every(Duration::from_secs(secs)));
                }
            };
            return Self::cron(fields, utc);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if !(5..=6).contains(&fields.len()) {
            return Err(format!(
                "expected 5 to 6 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        Self::cron(spec, utc)
    }

    fn cron(spec: &str, utc: bool) -> Result<Schedule, String> {
        let fields: Vec<&str> = spec.split_whitespace().collect();
        // Day-of-month and day-of-week in the 5- and 6-field forms.
        let (dom, dow) = if fields.len() == 5 {
            (fields[2], fields[4])
        } else {
            (fields[3], fields[5])
        };
        let star = |f: &str| f.starts_with('*') || f.starts_with('?');
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .sloppy_ranges(true)
            .dom_and_dow(star(dom) || star(dow))
            .build();
        let cron = parser.parse(spec).map_err(|e| e.to_string())?;
        Ok(Schedule::Cron {
            cron: Box::new(cron),
            utc,
        })
    }

    /// The first fire strictly after `now`.
    pub fn next_after(&self, now: DateTime<Local>) -> Option<DateTime<Local>> {
        match self {
            Schedule::Every(d) => {
                // robfig: now + delay, rounded down to the second.
                let whole =
                    now - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()));
                Some(whole + chrono::Duration::from_std(*d).ok()?)
            }
            Schedule::Cron { cron, utc: true } => {
                let next = cron
                    .find_next_occurrence(&now.with_timezone(&Utc), false)
                    .ok()?;
                Some(next.with_timezone(&Local))
            }
            Schedule::Cron { cron, utc: false } => cron.find_next_occurrence(&now, false).ok(),
        }
    }
}

/// Built on the main thread: the schedule parsed.
pub struct CronFactory {
    name: String,
    schedule: Schedule,
}

impl CronFactory {
    /// Reads `schedule` (Go's `Init`).
    pub fn new(name: &str, md: &Metadata) -> Result<Self, String> {
        let spec = md.get("schedule").unwrap_or("");
        if spec.is_empty() {
            return Err("schedule not set".into());
        }
        let schedule =
            Schedule::parse(spec).map_err(|e| format!("invalid schedule format '{spec}': {e}"))?;
        Ok(Self {
            name: name.to_owned(),
            schedule,
        })
    }

    /// This worker's instance.
    pub fn build(&self) -> CronBinding {
        CronBinding {
            name: self.name.clone(),
            schedule: self.schedule.clone(),
        }
    }
}

/// A worker's cron binding.
pub struct CronBinding {
    name: String,
    schedule: Schedule,
}

impl InputBinding for CronBinding {
    async fn read(
        &self,
        handler: Rc<dyn BindingHandler>,
        drain: Drain,
    ) -> Result<(), ComponentError> {
        let first = self.schedule.next_after(Local::now()).ok_or_else(|| {
            ComponentError::new(
                ComponentErrorKind::Other,
                format!("name: {}, schedule never fires", self.name),
            )
        })?;
        tracing::debug!(binding = %self.name, next = %first, "cron scheduled");
        monoio::spawn(run(
            self.name.clone(),
            self.schedule.clone(),
            handler,
            drain,
        ));
        Ok(())
    }
}

async fn run(name: String, schedule: Schedule, handler: Rc<dyn BindingHandler>, drain: Drain) {
    loop {
        let now = Local::now();
        let Some(next) = schedule.next_after(now) else {
            tracing::warn!(binding = %name, "the schedule has no further fire time; stopped");
            return;
        };
        let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
        monoio::select! {
            _ = monoio::time::sleep(wait) => {},
            _ = drain.closing() => {
                tracing::debug!(binding = %name, "stopping schedule");
                return;
            }
        }
        tracing::debug!(binding = %name, "schedule fired");
        let event = ReadEvent {
            data: Bytes::new(),
            metadata: [
                ("timeZone".to_owned(), "Local".to_owned()),
                ("readTimeUTC".to_owned(), go_time_string(Utc::now())),
            ]
            .into_iter()
            .collect(),
        };
        let handler = handler.clone();
        monoio::spawn(async move {
            // The answer is ignored, as Go's cron ignores it.
            let _ = handler.handle(event).await;
        });
    }
}

/// Go's `time.Time.String()` for a UTC time:
/// `2006-01-02 15:04:05.999999999 +0000 UTC` (fraction without trailing zeros).
pub fn go_time_string<Tz: TimeZone>(t: DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let t = t.with_timezone(&Utc);
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push_str(" +0000 UTC");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn at(s: &str) -> DateTime<Local> {
        DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Local)
    }

    #[test]
    fn every_rounds_like_robfig() {
        let s = Schedule::parse("@every 1500ms").unwrap();
        assert!(matches!(s, Schedule::Every(d) if d == Duration::from_secs(1)));
        let s = Schedule::parse("@every 10ms").unwrap();
        assert!(matches!(s, Schedule::Every(d) if d == Duration::from_secs(1)));
        let now = at("2024-01-01T00:00:00.700Z");
        let next = s.next_after(now).unwrap();
        assert_eq!(
            next.with_timezone(&Utc).to_rfc3339(),
            "2024-01-01T00:00:01+00:00"
        );
        assert!(Schedule::parse("@every soon").is_err());
    }

    #[test]
    fn five_and_six_fields_and_descriptors() {
        let utc = |spec: &str, from: &str| {
            let s = Schedule::parse(&format!("TZ=UTC {spec}")).unwrap();
            s.next_after(at(from))
                .unwrap()
                .with_timezone(&Utc)
                .to_rfc3339()
        };
        assert_eq!(
            utc("*/15 * * * * *", "2024-01-01T00:00:01Z"),
            "2024-01-01T00:00:15+00:00"
        );
        assert_eq!(
            utc("30 * * * *", "2024-01-01T00:31:00Z"),
            "2024-01-01T01:30:00+00:00"
        );
        assert_eq!(
            utc("@daily", "2024-01-01T10:00:00Z"),
            "2024-01-02T00:00:00+00:00"
        );
        assert_eq!(
            utc("@midnight", "2024-01-01T10:00:00Z"),
            "2024-01-02T00:00:00+00:00"
        );
        assert_eq!(
            utc("@hourly", "2024-01-01T10:20:00Z"),
            "2024-01-01T11:00:00+00:00"
        );
        assert_eq!(
            utc("@weekly", "2024-01-01T10:00:00Z"),
            "2024-01-07T00:00:00+00:00"
        );
        assert_eq!(
            utc("0 0 * * MON", "2024-01-01T10:00:00Z"),
            "2024-01-08T00:00:00+00:00"
        );
        // robfig: `5/20` is 5-59/20.
        assert_eq!(
            utc("5/20 * * * * *", "2024-01-01T00:00:30Z"),
            "2024-01-01T00:00:45+00:00"
        );
        // Both restricted: either matches (the 15th, or a Monday).
        assert_eq!(
            utc("0 0 15 * 1", "2024-01-09T00:00:00Z"),
            "2024-01-15T00:00:00+00:00"
        );
        assert_eq!(
            utc("0 0 20 * 1", "2024-01-09T00:00:00Z"),
            "2024-01-15T00:00:00+00:00"
        );
        // DOM starting with `*`: both must match (robfig's star bit).
        assert_eq!(
            utc("0 0 */2 * 1", "2024-01-01T10:00:00Z"),
            "2024-01-15T00:00:00+00:00"
        );
        let local = Schedule::parse("0 0 * * *").unwrap();
        let next = local.next_after(Local::now()).unwrap();
        assert_eq!((next.hour(), next.minute()), (0, 0));
    }

    #[test]
    fn bad_schedules_fail_like_go() {
        for (spec, needle) in [
            ("* * * *", "expected 5 to 6 fields, found 4"),
            ("* * * * * * *", "expected 5 to 6 fields, found 7"),
            ("@fortnightly", "unrecognized descriptor"),
            ("61 * * * *", ""),
            ("TZ=Europe/Paris * * * * *", "not supported"),
        ] {
            let e = Schedule::parse(spec).unwrap_err();
            assert!(e.contains(needle), "{spec}: {e}");
        }
        let md = Metadata::default();
        assert_eq!(
            CronFactory::new("c", &md).err().unwrap(),
            "schedule not set"
        );
    }

    #[test]
    fn read_time_is_go_formatted() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.000123Z").unwrap();
        assert_eq!(go_time_string(t), "2024-05-01 10:00:00.000123 +0000 UTC");
        let t = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z").unwrap();
        assert_eq!(go_time_string(t), "2024-05-01 10:00:00 +0000 UTC");
    }
}
