//! Job schedules as the Go scheduler parses and steps them: dapr/kit's fork
//! of robfig/cron with the parser go-etcd-cron builds (`Second | Minute |
//! Hour | Dom | Month | Dow | Descriptor`).
//!
//! - exactly six fields, `sec min hour day-of-month month day-of-week`; each
//!   a comma list of `*`/`?`, `n`, `a-b`, with `/step` (`n/step` meaning
//!   `n-max/step`); month and weekday names (`jan`, `MON`); Go's rule for
//!   day-of-month versus day-of-week (both must match when either starts
//!   with `*` or `?` — unless stepped — otherwise either may);
//! - `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`,
//!   `@hourly`;
//! - `@every <Go duration>`: a constant delay added to the previous fire,
//!   to the nanosecond (no rounding to seconds, unlike robfig's);
//! - a `TZ=<zone> ` or `CRON_TZ=<zone> ` prefix: the scheduler computes in
//!   UTC, so `UTC` and `Local` (which Go resolves to the UTC of the times it
//!   is handed) behave as Go's; other zones are refused (no time zone
//!   database is bundled).
//!
//! [`Schedule::next`] is kit's `SpecSchedule.Next` step for step, in UTC
//! whole seconds. Error texts are kit's, since the scheduler returns them.

use std::time::{Duration, SystemTime};

use crate::config::options::{parse_go_duration_nanos, DurationError};
use crate::config::time::{add_nanos, civil_from_days, days_from_civil, from_unix, to_unix};

const SECONDS_PER_DAY: i64 = 86_400;

/// Set when a field was `*` or `?` without a step greater than one.
const STAR_BIT: u64 = 1 << 63;

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Bit sets of the six fields.
    Spec(Spec),
    /// `@every`: nanoseconds added to the previous time (Go may be given a
    /// zero or negative delay, and keeps it).
    Every(i64),
}

/// The six fields of a cron expression as bit sets (bit `n` = value `n`),
/// with [`STAR_BIT`] where the field was a plain wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    second: u64,
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const SECONDS: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

impl Schedule {
    /// Parses `spec` as kit's parser does; the error is kit's text.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        let mut spec = spec;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            // Go slices up to the first space (and panics without one).
            let Some(space) = spec.find(' ') else {
                return Err(format!(
                    "provided bad location {spec}: no schedule after it"
                ));
            };
            let eq = spec.find('=').unwrap_or(0);
            let zone = spec.get(eq + 1..space).unwrap_or("");
            if !matches!(zone, "" | "UTC" | "Local") {
                return Err(format!(
                    "provided bad location {zone}: time zones other than UTC and Local are \
                     not supported by this build"
                ));
            }
            spec = spec[space..].trim();
        }
        if spec.starts_with('@') {
            return parse_descriptor(spec);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "expected exactly 6 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        Ok(Schedule::Spec(Spec {
            second: get_field(fields[0], &SECONDS)?,
            minute: get_field(fields[1], &MINUTES)?,
            hour: get_field(fields[2], &HOURS)?,
            dom: get_field(fields[3], &DOM)?,
            month: get_field(fields[4], &MONTHS)?,
            dow: get_field(fields[5], &DOW)?,
        }))
    }

    /// The first activation after `t`; `None` where Go returns its zero
    /// time (no match within five years) or the result is out of range.
    pub fn next(&self, t: SystemTime) -> Option<SystemTime> {
        match self {
            Schedule::Every(nanos) => add_nanos(t, *nanos),
            Schedule::Spec(spec) => {
                let (secs, _) = to_unix(t);
                // The upcoming whole second.
                spec.next_after(secs.checked_add(1)?)
                    .and_then(|s| from_unix(s, 0))
            }
        }
    }
}

fn parse_descriptor(spec: &str) -> Result<Schedule, String> {
    let first = |b: &Bounds| 1u64 << b.min;
    let all = |b: &Bounds| get_bits(b.min, b.max, 1) | STAR_BIT;
    let s = match spec {
        "@yearly" | "@annually" => Spec {
            second: first(&SECONDS),
            minute: first(&MINUTES),
            hour: first(&HOURS),
            dom: first(&DOM),
            month: first(&MONTHS),
            dow: all(&DOW),
        },
        "@monthly" => Spec {
            second: first(&SECONDS),
            minute: first(&MINUTES),
            hour: first(&HOURS),
            dom: first(&DOM),
            month: all(&MONTHS),
            dow: all(&DOW),
        },
        "@weekly" => Spec {
            second: first(&SECONDS),
            minute: first(&MINUTES),
            hour: first(&HOURS),
            dom: all(&DOM),
            month: all(&MONTHS),
            dow: first(&DOW),
        },
        "@daily" | "@midnight" => Spec {
            second: first(&SECONDS),
            minute: first(&MINUTES),
            hour: first(&HOURS),
            dom: all(&DOM),
            month: all(&MONTHS),
            dow: all(&DOW),
        },
        "@hourly" => Spec {
            second: first(&SECONDS),
            minute: first(&MINUTES),
            hour: all(&HOURS),
            dom: all(&DOM),
            month: all(&MONTHS),
            dow: all(&DOW),
        },
        _ => {
            if let Some(d) = spec.strip_prefix("@every ") {
                return parse_go_duration_nanos(d)
                    .map(Schedule::Every)
                    .map_err(|e| {
                        format!(
                            "failed to parse duration {spec}: {}",
                            go_duration_error(d, &e)
                        )
                    });
            }
            return Err(format!("unrecognized descriptor: {spec}"));
        }
    };
    Ok(Schedule::Spec(s))
}

/// Go's `time.ParseDuration` error text for `s`.
pub fn go_duration_error(s: &str, e: &DurationError) -> String {
    match e {
        DurationError::MissingUnit => format!("time: missing unit in duration {s:?}"),
        DurationError::UnknownUnit(u) => format!("time: unknown unit {u:?} in duration {s:?}"),
        _ => format!("time: invalid duration {s:?}"),
    }
}

/// A comma list of ranges.
fn get_field(field: &str, b: &Bounds) -> Result<u64, String> {
    let mut bits = 0;
    for expr in field.split(',').filter(|e| !e.is_empty()) {
        bits |= get_range(expr, b)?;
    }
    Ok(bits)
}

/// `*`, `?`, `n`, `a-b`, each with an optional `/step`.
fn get_range(expr: &str, b: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut extra);
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        start = b.min;
        end = b.max;
        extra = STAR_BIT;
    } else {
        start = parse_int_or_name(low_and_high[0], b)?;
        end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], b)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        extra = 0;
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = must_parse_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(get_bits(start, end, step) | extra)
}

fn parse_int_or_name(expr: &str, b: &Bounds) -> Result<u32, String> {
    let lower = expr.to_ascii_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    must_parse_int(expr)
}

/// Go's `strconv.Atoi`, refusing negatives; values beyond any field's
/// range saturate (they fail the range checks that follow).
fn must_parse_int(expr: &str) -> Result<u32, String> {
    use std::num::IntErrorKind;
    match expr.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("negative number ({n}) not allowed: {expr}")),
        Ok(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
        Err(e) => {
            let why = match e.kind() {
                IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
                _ => "invalid syntax",
            };
            Err(format!(
                "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: {why}"
            ))
        }
    }
}

fn get_bits(min: u32, max: u32, step: u32) -> u64 {
    if step == 1 {
        return !(u64::MAX << (max + 1)) & (u64::MAX << min);
    }
    let mut bits = 0;
    let mut i = min;
    while i <= max {
        bits |= 1 << i;
        i += step;
    }
    bits
}

// === stepping ===

/// A UTC time as its fields, whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

impl Civil {
    fn of(secs: i64) -> Civil {
        let (year, month, day) = civil_from_days(secs.div_euclid(SECONDS_PER_DAY));
        let tod = secs.rem_euclid(SECONDS_PER_DAY);
        Civil {
            year,
            month,
            day,
            hour: tod / 3600,
            minute: tod % 3600 / 60,
            second: tod % 60,
        }
    }

    /// Go's `time.Date(y, m, d, h, min, s, 0, UTC)`, which normalises
    /// out-of-range fields.
    fn date(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> i64 {
        let m0 = month - 1;
        let (year, month) = (year + m0.div_euclid(12), m0.rem_euclid(12) + 1);
        let days = days_from_civil(year, month, 1) + day - 1;
        days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second
    }

    /// Weekday, 0 = Sunday (1970-01-01 was a Thursday).
    fn weekday(secs: i64) -> i64 {
        (secs.div_euclid(SECONDS_PER_DAY) + 4).rem_euclid(7)
    }
}

/// Go's `t.AddDate(0, months, days)` on whole UTC seconds.
fn add_date(secs: i64, months: i64, days: i64) -> i64 {
    let c = Civil::of(secs);
    Civil::date(
        c.year,
        c.month + months,
        c.day + days,
        c.hour,
        c.minute,
        c.second,
    )
}

fn has(bits: u64, v: i64) -> bool {
    (0..64).contains(&v) && bits & (1 << v) != 0
}

impl Spec {
    fn day_matches(&self, secs: i64) -> bool {
        let c = Civil::of(secs);
        let dom = has(self.dom, c.day);
        let dow = has(self.dow, Civil::weekday(secs));
        if self.dom & STAR_BIT != 0 || self.dow & STAR_BIT != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// kit's `SpecSchedule.Next` from `t` (whole seconds, already the
    /// upcoming second): the first matching second at or after it.
    fn next_after(&self, mut t: i64) -> Option<i64> {
        // Far beyond any date Go can represent: give up rather than loop.
        const LIMIT: i64 = 1 << 55;
        if !(-LIMIT..LIMIT).contains(&t) {
            return None;
        }
        let mut added = false;
        let year_limit = Civil::of(t).year + 5;
        'wrap: loop {
            if Civil::of(t).year > year_limit {
                return None;
            }
            while !has(self.month, Civil::of(t).month) {
                if !added {
                    added = true;
                    let c = Civil::of(t);
                    t = Civil::date(c.year, c.month, 1, 0, 0, 0);
                }
                t = add_date(t, 1, 0);
                if Civil::of(t).month == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(t) {
                if !added {
                    added = true;
                    let c = Civil::of(t);
                    t = Civil::date(c.year, c.month, c.day, 0, 0, 0);
                }
                t = add_date(t, 0, 1);
                if Civil::of(t).day == 1 {
                    continue 'wrap;
                }
            }
            while !has(self.hour, Civil::of(t).hour) {
                if !added {
                    added = true;
                    let c = Civil::of(t);
                    t = Civil::date(c.year, c.month, c.day, c.hour, 0, 0);
                }
                t += 3600;
                if Civil::of(t).hour == 0 {
                    continue 'wrap;
                }
            }
            while !has(self.minute, Civil::of(t).minute) {
                if !added {
                    added = true;
                    t -= t.rem_euclid(60);
                }
                t += 60;
                if Civil::of(t).minute == 0 {
                    continue 'wrap;
                }
            }
            while !has(self.second, Civil::of(t).second) {
                if !added {
                    added = true;
                }
                t += 1;
                if Civil::of(t).second == 0 {
                    continue 'wrap;
                }
            }
            return Some(t);
        }
    }
}

/// `d` as Go's `time.Duration` nanoseconds, saturating.
pub fn nanos_of(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::time::{format_rfc3339_nano, parse_rfc3339};

    fn at(s: &str) -> SystemTime {
        parse_rfc3339(s).unwrap()
    }

    fn next(spec: &str, from: &str) -> String {
        let s = Schedule::parse(spec).unwrap();
        s.next(at(from))
            .map(format_rfc3339_nano)
            .unwrap_or_default()
    }

    #[test]
    fn six_fields_with_seconds() {
        assert_eq!(
            next("*/5 * * * * *", "2024-01-01T00:00:01.5Z"),
            "2024-01-01T00:00:05Z"
        );
        assert_eq!(
            next("* * * * * *", "2024-01-01T00:00:01.5Z"),
            "2024-01-01T00:00:02Z"
        );
        assert_eq!(
            next("* * * * * *", "2024-01-01T00:00:01Z"),
            "2024-01-01T00:00:02Z"
        );
        assert_eq!(
            next("0 30 9 * * mon-fri", "2024-06-01T12:00:00Z"),
            "2024-06-03T09:30:00Z",
            "June 1 2024 is a Saturday"
        );
        assert_eq!(
            next("0 0 0 1 JAN ?", "2024-06-01T12:00:00Z"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next("15/20 * * * * *", "2024-01-01T00:00:40Z"),
            "2024-01-01T00:00:55Z"
        );
        assert_eq!(
            next("0 0 12 29 2 *", "2024-03-01T00:00:00Z"),
            "2028-02-29T12:00:00Z"
        );
        // Day-of-month or day-of-week when neither is a wildcard: the 13th
        // or any Friday.
        assert_eq!(
            next("0 0 0 13 * fri", "2024-09-01T00:00:00Z"),
            "2024-09-06T00:00:00Z"
        );
        // Both must match when one is a wildcard (`*/1` still counts as one).
        assert_eq!(
            next("0 0 0 13 * */1", "2024-09-01T00:00:00Z"),
            "2024-09-13T00:00:00Z"
        );
        // A stepped wildcard is no wildcard: 13th or Sunday/Tuesday/….
        assert_eq!(
            next("0 0 0 13 * */2", "2024-09-02T00:00:00Z"),
            "2024-09-03T00:00:00Z"
        );
    }

    #[test]
    fn descriptors() {
        let from = "2024-05-15T10:20:30Z";
        assert_eq!(next("@yearly", from), "2025-01-01T00:00:00Z");
        assert_eq!(next("@annually", from), "2025-01-01T00:00:00Z");
        assert_eq!(next("@monthly", from), "2024-06-01T00:00:00Z");
        assert_eq!(next("@weekly", from), "2024-05-19T00:00:00Z");
        assert_eq!(next("@daily", from), "2024-05-16T00:00:00Z");
        assert_eq!(next("@midnight", from), "2024-05-16T00:00:00Z");
        assert_eq!(next("@hourly", from), "2024-05-15T11:00:00Z");
        assert_eq!(next("TZ=UTC @hourly", from), "2024-05-15T11:00:00Z");
        assert_eq!(
            next("CRON_TZ=Local 0 0 * * * *", from),
            "2024-05-15T11:00:00Z"
        );
    }

    #[test]
    fn every_is_exact_to_the_nanosecond() {
        assert_eq!(
            next("@every 5s", "2024-01-01T00:00:00.25Z"),
            "2024-01-01T00:00:05.25Z"
        );
        assert_eq!(
            next("@every 1.5s", "2024-01-01T00:00:00Z"),
            "2024-01-01T00:00:01.5Z"
        );
        assert_eq!(
            next("@every 100ms", "2024-01-01T00:00:00Z"),
            "2024-01-01T00:00:00.1Z"
        );
        assert_eq!(
            next("@every 1h30m", "2024-01-01T00:00:00Z"),
            "2024-01-01T01:30:00Z"
        );
    }

    #[test]
    fn never_matching_is_none() {
        assert_eq!(next("0 0 0 30 2 *", "2024-01-01T00:00:00Z"), "");
    }

    #[test]
    fn errors_are_kits() {
        let err = |s: &str| Schedule::parse(s).unwrap_err();
        assert_eq!(err(""), "empty spec string");
        assert_eq!(
            err("* * * * *"),
            "expected exactly 6 fields, found 5: [* * * * *]"
        );
        assert_eq!(err("@often"), "unrecognized descriptor: @often");
        assert_eq!(
            err("@every 5"),
            "failed to parse duration @every 5: time: missing unit in duration \"5\""
        );
        assert_eq!(
            err("@every x"),
            "failed to parse duration @every x: time: invalid duration \"x\""
        );
        assert_eq!(
            err("60 * * * * *"),
            "end of range (60) above maximum (59): 60"
        );
        assert_eq!(
            err("* * * 0 * *"),
            "beginning of range (0) below minimum (1): 0"
        );
        assert_eq!(
            err("5-1 * * * * *"),
            "beginning of range (5) beyond end of range (1): 5-1"
        );
        assert_eq!(
            err("*/0 * * * * *"),
            "step of range should be a positive number: */0"
        );
        assert_eq!(err("1-2-3 * * * * *"), "too many hyphens: 1-2-3");
        assert_eq!(err("1/2/3 * * * * *"), "too many slashes: 1/2/3");
        assert_eq!(
            err("x * * * * *"),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert!(err("TZ=Europe/Paris * * * * * *").contains("not supported"));
    }
}
