//! Dapr's time formats for actor timers, reminders and jobs (`dueTime`,
//! `period`, `ttl`), shared by daprd and the `scheduler` service: dapr/kit `time.ParseDuration`, `time.ParseISO8601Duration` and
//! `time.ParseTime`, with the Go formatting the actor runtime and the
//! scheduler print (`Duration.String`, RFC 3339 with nanoseconds).
//!
//! Accepted, in the order kit tries them:
//!
//! 1. ISO 8601 durations as kit reads them: an optional `R<n>/` repetition
//!    prefix (`R5/PT10S`; `R5` or `R5/` alone are accepted too), then `P`,
//!    date parts `<n>Y <n>M <n>W <n>D`, `T`, time parts `<n>H <n>M <n>S`.
//!    Numbers are Go `strconv.Atoi` integers (signs allowed, no fractions);
//!    `Y` and `M` overwrite, `W`/`D` and the time parts add up; bytes that
//!    are not designators are skipped (`P5` is a zero duration). Months and
//!    years stay calendar units, added with Go's `AddDate` normalisation
//!    (January 31 + 1 month = March 3 or 2).
//! 2. Go `time.ParseDuration`: `1h0m0s0ms0μs`, `0h0m5s0ms0\u{3bc}s` (what
//!    Python sends), `1.5s`, `-5s`, units `ns us µs μs ms s m h` (the parser
//!    is shared with the flags, `crate::config::options`).
//! 3. For times only ([`parse_time`]): RFC 3339 with optional fractional
//!    seconds (`2024-05-01T10:00:00.5+02:00`). Durations are taken from the
//!    given offset; ISO 8601 with a repetition is refused.
//!
//! Error texts are kit's (`unsupported duration format: <s>`,
//! `unsupported time/duration format: <s>`, `repetitions are not allowed`),
//! because the actor API wraps and returns them to clients.
//!
//! Times are [`SystemTime`]s and calendar arithmetic is done in UTC (Go uses
//! the process's local zone, which is UTC in a container). Where Go would
//! silently wrap around (a year beyond ±292 billion, say) these functions
//! report [`FormatError::OutOfRange`] instead.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::options::parse_go_duration_nanos;

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;
const SECONDS_PER_DAY: i64 = 86_400;

/// Why a `dueTime`, `period` or `ttl` string was refused. The texts are
/// dapr/kit's (except [`FormatError::OutOfRange`], where Go has none).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Not an ISO 8601 duration ([`parse_iso8601_duration`]).
    #[error("unsupported ISO8601 duration format: {0}")]
    Iso8601(String),
    /// Neither ISO 8601 nor a Go duration ([`parse_duration`]).
    #[error("unsupported duration format: {0}")]
    Duration(String),
    /// An ISO 8601 duration with `R<n>/` where a time was expected.
    #[error("repetitions are not allowed")]
    Repetitions,
    /// Neither a duration nor an RFC 3339 time ([`parse_time`]).
    #[error("unsupported time/duration format: {0}")]
    Time(String),
    /// A valid duration whose result no [`SystemTime`] can hold.
    #[error("time out of range: {0}")]
    OutOfRange(String),
}

/// A duration as dapr/kit's `ParseDuration` returns it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KitDuration {
    /// Calendar years (ISO `Y`).
    pub years: i64,
    /// Calendar months (ISO `M` before `T`).
    pub months: i64,
    /// Days (ISO `D`, and 7 per `W`).
    pub days: i64,
    /// The fixed part, in nanoseconds (Go's `time.Duration`; may be negative).
    pub nanos: i64,
    /// `R<n>/` repetitions; `-1` when not given (unbounded).
    pub repetitions: i64,
}

impl KitDuration {
    /// `t` plus this duration, as Go's `t.AddDate(y, m, d).Add(nanos)`.
    pub fn after(&self, t: SystemTime) -> Option<SystemTime> {
        add_date(t, self.years, self.months, self.days).and_then(|t| add_nanos(t, self.nanos))
    }

    /// Whether every length component is zero (repetitions aside).
    pub fn is_zero(&self) -> bool {
        self.years == 0 && self.months == 0 && self.days == 0 && self.nanos == 0
    }
}

// === parsing ===

/// dapr/kit `ParseISO8601Duration`; see the module docs for what it accepts.
pub fn parse_iso8601_duration(from: &str) -> Result<KitDuration, FormatError> {
    let err = || FormatError::Iso8601(from.to_owned());
    let b = from.as_bytes();
    let l = b.len();
    let mut out = KitDuration {
        repetitions: -1,
        ..KitDuration::default()
    };
    if l < 2 {
        return Err(err());
    }

    let mut i = 0;
    if b[0] == b'R' {
        // Up to the '/' (or the end): the repetition count.
        i = b[1..].iter().position(|&c| c == b'/').map_or(l, |p| p + 1);
        if i < 2 {
            return Err(err());
        }
        out.repetitions = go_atoi(&b[1..i]).ok_or_else(err)?;
        i += 1;
        if i >= l {
            return Ok(out);
        }
    }
    if b[i] != b'P' {
        return Err(err());
    }
    i += 1;

    let mut start = i;
    let mut in_time = false;
    while i < l {
        let c = b[i];
        match c {
            b'T' => {
                if start != i {
                    return Err(err());
                }
                in_time = true;
                start = i + 1;
            }
            b'Y' | b'W' | b'D' | b'H' | b'S' | b'M' => {
                let allowed = match c {
                    b'Y' | b'W' | b'D' => !in_time,
                    b'H' | b'S' => in_time,
                    _ => true,
                };
                if !allowed || start == i {
                    return Err(err());
                }
                let n = go_atoi(&b[start..i]).ok_or_else(err)?;
                // Go's int arithmetic wraps; so does ours.
                match c {
                    b'Y' => out.years = n,
                    b'W' => out.days = out.days.wrapping_add(n.wrapping_mul(7)),
                    b'D' => out.days = out.days.wrapping_add(n),
                    b'H' => out.nanos = out.nanos.wrapping_add(n.wrapping_mul(NANOS_PER_HOUR)),
                    b'S' => {
                        out.nanos = out.nanos.wrapping_add(n.wrapping_mul(NANOS_PER_SECOND));
                    }
                    _ if in_time => {
                        out.nanos = out.nanos.wrapping_add(n.wrapping_mul(NANOS_PER_MINUTE));
                    }
                    _ => out.months = n,
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(out)
}

/// dapr/kit `ParseDuration`: ISO 8601 first, then a Go duration (with no
/// calendar parts and unbounded repetitions).
pub fn parse_duration(from: &str) -> Result<KitDuration, FormatError> {
    if let Ok(d) = parse_iso8601_duration(from) {
        return Ok(d);
    }
    match parse_go_duration_nanos(from) {
        Ok(nanos) => Ok(KitDuration {
            nanos,
            repetitions: -1,
            ..KitDuration::default()
        }),
        Err(_) => Err(FormatError::Duration(from.to_owned())),
    }
}

/// dapr/kit `ParseTime`: a duration after `offset` (ISO 8601 without
/// repetitions, or Go), else an absolute RFC 3339 time.
pub fn parse_time(from: &str, offset: SystemTime) -> Result<SystemTime, FormatError> {
    if let Ok(d) = parse_iso8601_duration(from) {
        if d.repetitions != -1 {
            return Err(FormatError::Repetitions);
        }
        return d
            .after(offset)
            .ok_or_else(|| FormatError::OutOfRange(from.to_owned()));
    }
    if let Ok(nanos) = parse_go_duration_nanos(from) {
        return add_nanos(offset, nanos).ok_or_else(|| FormatError::OutOfRange(from.to_owned()));
    }
    parse_rfc3339(from).ok_or_else(|| FormatError::Time(from.to_owned()))
}

/// Go's `strconv.Atoi` on 64-bit: an optional sign and decimal digits.
fn go_atoi(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Go's `time.Parse(time.RFC3339Nano, s)`: `YYYY-MM-DDTHH:MM:SS`, optional
/// fractional seconds (`.` or `,`, any number of digits, nanoseconds kept),
/// then `Z` or `±hh:mm`. Like Go it takes a one-digit hour and zone offsets
/// up to 24:60, and checks the day against the month.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let mut p = 0usize;
    let year = fixed_digits(b, &mut p, 4)?;
    expect(b, &mut p, b'-')?;
    let month = fixed_digits(b, &mut p, 2)?;
    expect(b, &mut p, b'-')?;
    let day = fixed_digits(b, &mut p, 2)?;
    expect(b, &mut p, b'T')?;
    // Go's generic parser reads "15" as one or two digits.
    let hour = if b.get(p + 1).is_some_and(u8::is_ascii_digit) {
        fixed_digits(b, &mut p, 2)?
    } else {
        fixed_digits(b, &mut p, 1)?
    };
    expect(b, &mut p, b':')?;
    let minute = fixed_digits(b, &mut p, 2)?;
    expect(b, &mut p, b':')?;
    let second = fixed_digits(b, &mut p, 2)?;
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }

    let mut nanos = 0i64;
    if matches!(b.get(p), Some(b'.' | b',')) && b.get(p + 1).is_some_and(u8::is_ascii_digit) {
        p += 1;
        let digits = b[p..].iter().take_while(|c| c.is_ascii_digit()).count();
        for (k, &c) in b[p..p + digits].iter().take(9).enumerate() {
            nanos += i64::from(c - b'0') * 10i64.pow(8 - k as u32);
        }
        p += digits;
    }

    let offset_secs = match b.get(p) {
        Some(b'Z') => {
            p += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            p += 1;
            let hh = fixed_digits(b, &mut p, 2)?;
            expect(b, &mut p, b':')?;
            let mm = fixed_digits(b, &mut p, 2)?;
            if hh > 24 || mm > 60 {
                return None;
            }
            let off = (hh * 60 + mm) * 60;
            if sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    if p != b.len() || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset_secs;
    from_unix(secs, nanos as u32)
}

/// `n` ASCII digits at `*p` as a number; advances `*p`.
fn fixed_digits(b: &[u8], p: &mut usize, n: usize) -> Option<i64> {
    let digits = b.get(*p..*p + n)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    *p += n;
    Some(
        digits
            .iter()
            .fold(0i64, |acc, &c| acc * 10 + i64::from(c - b'0')),
    )
}

fn expect(b: &[u8], p: &mut usize, c: u8) -> Option<()> {
    if b.get(*p) == Some(&c) {
        *p += 1;
        Some(())
    } else {
        None
    }
}

// === calendar arithmetic ===

/// Go's `t.AddDate(years, months, days)` in UTC: the date's fields are added
/// and then normalised (months into years, then days), the time of day kept.
pub fn add_date(t: SystemTime, years: i64, months: i64, days: i64) -> Option<SystemTime> {
    if years == 0 && months == 0 && days == 0 {
        return Some(t);
    }
    let (secs, nanos) = to_unix(t);
    let day_number = secs.div_euclid(SECONDS_PER_DAY);
    let time_of_day = secs.rem_euclid(SECONDS_PER_DAY);
    let (y, m, d) = civil_from_days(day_number);
    let month0 = (m - 1).checked_add(months)?;
    let year = y.checked_add(years)?.checked_add(month0.div_euclid(12))?;
    // Beyond this, day counts and seconds no longer fit comfortably in i64;
    // no SystemTime gets near it anyway.
    if year.unsigned_abs() > 1_000_000_000_000 {
        return None;
    }
    let month = month0.rem_euclid(12) + 1;
    let day_number = days_from_civil(year, month, 1)
        .checked_add(d - 1)?
        .checked_add(days)?;
    let secs = day_number
        .checked_mul(SECONDS_PER_DAY)?
        .checked_add(time_of_day)?;
    from_unix(secs, nanos)
}

/// `t` plus `nanos` (Go's `Time.Add`), `None` out of range.
pub fn add_nanos(t: SystemTime, nanos: i64) -> Option<SystemTime> {
    let d = Duration::from_nanos(nanos.unsigned_abs());
    if nanos >= 0 {
        t.checked_add(d)
    } else {
        t.checked_sub(d)
    }
}

/// Seconds (floored) and nanoseconds since the Unix epoch.
pub fn to_unix(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(before) => {
            let d = before.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

/// The time `secs` seconds (floored) and `nanos` after the Unix epoch.
pub fn from_unix(secs: i64, nanos: u32) -> Option<SystemTime> {
    let base = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    base.checked_add(Duration::from_nanos(u64::from(nanos)))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`); `month` in 1..=12.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// === formatting ===

/// Go's `time.Duration.String()`: `1h0m0s`, `1.5s`, `500ms`, `1µs`,
/// `0s`, `-5s`.
pub fn format_go_duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    // Built backwards, as Go does.
    let mut out: Vec<u8> = Vec::with_capacity(32);
    if u < NANOS_PER_SECOND as u64 {
        if u == 0 {
            return "0s".to_owned();
        }
        out.push(b's');
        let prec = if u < 1_000 {
            out.push(b'n');
            0
        } else if u < 1_000_000 {
            out.extend("µ".bytes().rev());
            3
        } else {
            out.push(b'm');
            6
        };
        u = push_frac_rev(&mut out, u, prec);
        push_int_rev(&mut out, u);
    } else {
        out.push(b's');
        u = push_frac_rev(&mut out, u, 9);
        push_int_rev(&mut out, u % 60);
        u /= 60;
        if u > 0 {
            out.push(b'm');
            push_int_rev(&mut out, u % 60);
            u /= 60;
            if u > 0 {
                out.push(b'h');
                push_int_rev(&mut out, u);
            }
        }
    }
    if neg {
        out.push(b'-');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Go's `fmtFrac`, backwards: the fraction `v / 10^prec` without trailing
/// zeros (and without the point when it is zero); returns `v / 10^prec`.
fn push_frac_rev(out: &mut Vec<u8>, mut v: u64, prec: u32) -> u64 {
    let mut print = false;
    for _ in 0..prec {
        let digit = (v % 10) as u8;
        print = print || digit != 0;
        if print {
            out.push(b'0' + digit);
        }
        v /= 10;
    }
    if print {
        out.push(b'.');
    }
    v
}

fn push_int_rev(out: &mut Vec<u8>, mut v: u64) {
    if v == 0 {
        out.push(b'0');
        return;
    }
    while v > 0 {
        out.push(b'0' + (v % 10) as u8);
        v /= 10;
    }
}

/// UTC date-time fields of `t` plus its nanoseconds.
fn fields(t: SystemTime) -> (i64, i64, i64, i64, i64, i64, u32) {
    let (secs, nanos) = to_unix(t);
    let (y, mo, d) = civil_from_days(secs.div_euclid(SECONDS_PER_DAY));
    let tod = secs.rem_euclid(SECONDS_PER_DAY);
    (y, mo, d, tod / 3600, tod / 60 % 60, tod % 60, nanos)
}

fn push_year(out: &mut String, y: i64) {
    use std::fmt::Write as _;
    let _ = if y < 0 {
        write!(out, "-{:04}", y.unsigned_abs())
    } else {
        write!(out, "{y:04}")
    };
}

/// `.ddddddddd` without trailing zeros, nothing for a whole second (Go's
/// `.999999999`).
fn push_nanos(out: &mut String, nanos: u32) {
    if nanos == 0 {
        return;
    }
    let digits = format!("{nanos:09}");
    out.push('.');
    out.push_str(digits.trim_end_matches('0'));
}

/// Go's `t.UTC().Format(time.RFC3339Nano)`: `2024-05-01T10:00:00.5Z`.
pub fn format_rfc3339_nano(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, n) = fields(t);
    let mut out = String::with_capacity(32);
    push_year(&mut out, y);
    out.push_str(&format!("-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}"));
    push_nanos(&mut out, n);
    out.push('Z');
    out
}

/// Go's `t.UTC().String()` (no monotonic reading):
/// `2024-05-01 10:00:00.5 +0000 UTC`.
pub fn format_go_time(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, n) = fields(t);
    let mut out = String::with_capacity(40);
    push_year(&mut out, y);
    out.push_str(&format!("-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"));
    push_nanos(&mut out, n);
    out.push_str(" +0000 UTC");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(y: i64, m: i64, d: i64, nanos: i64, r: i64) -> KitDuration {
        KitDuration {
            years: y,
            months: m,
            days: d,
            nanos,
            repetitions: r,
        }
    }

    const S: i64 = NANOS_PER_SECOND;
    const M: i64 = NANOS_PER_MINUTE;
    const H: i64 = NANOS_PER_HOUR;

    /// A UTC time from RFC 3339 text, for tests.
    fn at(s: &str) -> SystemTime {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn kit_parse_duration_cases() {
        // dapr/kit time_test.go TestParseDuration.
        let ok = [
            ("0h30m0s", iso(0, 0, 0, 30 * M, -1)),
            ("R5/P10Y5M3DT30M", iso(10, 5, 3, 30 * M, 5)),
            ("P1MT2H10M3S", iso(0, 1, 0, 2 * H + 10 * M + 3 * S, -1)),
            ("P2W", iso(0, 0, 14, 0, -1)),
            ("PT1S", iso(0, 0, 0, S, -1)),
            ("P1M", iso(0, 1, 0, 0, -1)),
            ("PT1M", iso(0, 0, 0, M, -1)),
            ("P0D", iso(0, 0, 0, 0, -1)),
            ("PT0S", iso(0, 0, 0, 0, -1)),
            ("P1M2D", iso(0, 1, 2, 0, -1)),
            ("R5", iso(0, 0, 0, 0, 5)),
            ("R5/", iso(0, 0, 0, 0, 5)),
            ("P1Y2M3D", iso(1, 2, 3, 0, -1)),
            // Ours beyond kit's tests: the brief's and the SDKs' shapes.
            ("PT10S", iso(0, 0, 0, 10 * S, -1)),
            ("P1D", iso(0, 0, 1, 0, -1)),
            ("R5/PT10S", iso(0, 0, 0, 10 * S, 5)),
            ("R3/PT1S", iso(0, 0, 0, S, 3)),
            ("P1Y2M3DT4H5M6S", iso(1, 2, 3, 4 * H + 5 * M + 6 * S, -1)),
            ("0h0m5s0ms0\u{3bc}s", iso(0, 0, 0, 5 * S, -1)),
            ("0h0m5s0ms0\u{b5}s", iso(0, 0, 0, 5 * S, -1)),
            ("1h0m0s0ms0\u{3bc}s", iso(0, 0, 0, H, -1)),
            ("5s", iso(0, 0, 0, 5 * S, -1)),
            ("1.5s", iso(0, 0, 0, 1_500_000_000, -1)),
            ("-5s", iso(0, 0, 0, -5 * S, -1)),
            ("0", iso(0, 0, 0, 0, -1)),
            // kit's quirks, kept.
            ("P5", iso(0, 0, 0, 0, -1)),
            ("PT", iso(0, 0, 0, 0, -1)),
            ("P1DT", iso(0, 0, 1, 0, -1)),
            ("PT5S10", iso(0, 0, 0, 5 * S, -1)),
            ("PT-5S", iso(0, 0, 0, -5 * S, -1)),
            ("P1Y2Y", iso(2, 0, 0, 0, -1)),
            ("P1D2D", iso(0, 0, 3, 0, -1)),
            ("R-1/PT1S", iso(0, 0, 0, S, -1)),
            ("R0/PT1S", iso(0, 0, 0, S, 0)),
            ("R+2/PT1S", iso(0, 0, 0, S, 2)),
        ];
        for (s, want) in ok {
            assert_eq!(parse_duration(s), Ok(want), "{s}");
        }
        let bad = [
            "",
            "10D1M",
            "P",
            "PM",
            "PT1D",
            "P_D",
            "PTxS",
            "2024-05-01T10:00:00Z",
            "R",
            "R/PT1S",
            "Rx/PT1S",
            "R5/T1S",
            "P1.5D",
            "PT1.5S",
            "P1HT",
            "p1d",
            "5",
            "5d",
            "P\u{3bc}D",
        ];
        for s in bad {
            assert_eq!(
                parse_duration(s),
                Err(FormatError::Duration(s.to_owned())),
                "{s}"
            );
        }
        assert_eq!(
            parse_duration("P").unwrap_err().to_string(),
            "unsupported duration format: P"
        );
        assert_eq!(
            parse_iso8601_duration("5s").unwrap_err().to_string(),
            "unsupported ISO8601 duration format: 5s"
        );
    }

    #[test]
    fn iso_arithmetic_wraps_as_go_ints_do() {
        let big = "PT9223372036854775807H";
        assert_eq!(
            parse_duration(big).map(|d| d.nanos),
            Ok(i64::MAX.wrapping_mul(H))
        );
        assert!(parse_duration("PT99999999999999999999S").is_err());
    }

    #[test]
    fn add_date_normalises_like_go() {
        // kit's "calculate with leap year" cases.
        let d = parse_duration("P1Y2M3D").unwrap();
        assert_eq!(
            d.after(at("2020-02-03T11:12:13Z")),
            Some(at("2021-04-06T11:12:13Z"))
        );
        assert_eq!(
            d.after(at("2019-02-03T11:12:13Z")),
            Some(at("2020-04-06T11:12:13Z"))
        );
        let one_month = parse_duration("P1M").unwrap();
        assert_eq!(
            one_month.after(at("2021-01-31T00:00:00Z")),
            Some(at("2021-03-03T00:00:00Z"))
        );
        assert_eq!(
            one_month.after(at("2020-01-31T00:00:00Z")),
            Some(at("2020-03-02T00:00:00Z"))
        );
        assert_eq!(
            add_date(at("2020-02-29T12:00:00.25Z"), 1, 0, 0),
            Some(at("2021-03-01T12:00:00.25Z"))
        );
        assert_eq!(
            add_date(at("2021-03-01T00:00:00Z"), 0, -14, -1),
            Some(at("2019-12-31T00:00:00Z"))
        );
        assert_eq!(
            add_date(at("1969-12-31T23:59:59.5Z"), 0, 0, 1),
            Some(at("1970-01-01T23:59:59.5Z"))
        );
        assert_eq!(add_date(UNIX_EPOCH, i64::MAX, 0, 0), None);
        assert_eq!(add_date(UNIX_EPOCH, 0, i64::MAX, 0), None);
    }

    #[test]
    fn kit_parse_time_cases() {
        let start = at("2021-12-06T17:43:51Z");
        assert_eq!(parse_time("0h30m0s", start), Ok(at("2021-12-06T18:13:51Z")));
        assert_eq!(parse_time("R5/PT30M", start), Err(FormatError::Repetitions));
        // kit: start + 31 days + 2h10m3s from December.
        assert_eq!(
            parse_time("P1MT2H10M3S", start),
            Ok(at("2022-01-06T19:53:54Z"))
        );
        assert_eq!(
            parse_time("2021-12-06T17:44:00Z", start),
            Ok(at("2021-12-06T17:44:00Z"))
        );
        assert_eq!(
            parse_time("2021-12-06T17:44:00.000000100Z", start),
            Ok(UNIX_EPOCH + Duration::new(1_638_812_640, 100))
        );
        assert_eq!(
            parse_time("", start).unwrap_err().to_string(),
            "unsupported time/duration format: "
        );
        assert_eq!(parse_time("-5s", start), Ok(at("2021-12-06T17:43:46Z")));
        assert_eq!(
            parse_time("0h0m5s0ms0\u{3bc}s", start),
            Ok(at("2021-12-06T17:43:56Z"))
        );
        // Unbounded repetitions are "no repetitions" to kit.
        assert_eq!(
            parse_time("R-1/PT1S", start),
            Ok(at("2021-12-06T17:43:52Z"))
        );
        assert_eq!(parse_time("R0/PT1S", start), Err(FormatError::Repetitions));
        assert_eq!(
            parse_time("R5", start).unwrap_err().to_string(),
            "repetitions are not allowed"
        );
        assert_eq!(
            parse_time("PT9223372036854775807H", UNIX_EPOCH).map(|_| ()),
            Ok(())
        );
        assert_eq!(
            parse_time("P9223372036854775807Y", start),
            Err(FormatError::OutOfRange("P9223372036854775807Y".to_owned()))
        );
    }

    #[test]
    fn rfc3339_as_go_reads_it() {
        let t = UNIX_EPOCH + Duration::from_secs(1_714_557_600); // 2024-05-01T10:00:00Z
        assert_eq!(parse_rfc3339("2024-05-01T10:00:00Z"), Some(t));
        assert_eq!(
            parse_rfc3339("2024-05-01T12:30:00+02:30"),
            Some(t),
            "offsets are subtracted"
        );
        assert_eq!(parse_rfc3339("2024-05-01T09:00:00-01:00"), Some(t));
        assert_eq!(
            parse_rfc3339("2024-05-01T10:00:00.123456789123Z"),
            Some(t + Duration::from_nanos(123_456_789))
        );
        assert_eq!(
            parse_rfc3339("2024-05-01T10:00:00,5Z"),
            Some(t + Duration::from_millis(500))
        );
        assert_eq!(parse_rfc3339("2024-05-01T9:00:00-01:00"), Some(t));
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some());
        assert_eq!(
            parse_rfc3339("1969-12-31T23:59:59.5Z"),
            Some(UNIX_EPOCH - Duration::from_millis(500))
        );
        for bad in [
            "2024-05-01",
            "2024-05-01 10:00:00Z",
            "2024-05-01t10:00:00Z",
            "2024-05-01T10:00:00z",
            "2024-05-01T10:00:00",
            "2024-05-01T10:00:00+0200",
            "2024-05-01T10:00:00Zjunk",
            "2024-05-01T10:00:00.Z",
            "2024-13-01T10:00:00Z",
            "2024-00-01T10:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:60:00Z",
            "2024-05-01T10:00:60Z",
            "2024-05-01T10:00:00+25:00",
            "24-05-01T10:00:00Z",
            "2024-5-01T10:00:00Z",
            "+024-05-01T10:00:00Z",
            "2024-05-01T10:00:00.\u{3bc}Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn go_duration_strings() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (5 * S, "5s"),
            (4 * M + 5 * S, "4m5s"),
            (4 * M + 5_001_000_000, "4m5.001s"),
            (5 * H + 6 * M + 7_001_000_000, "5h6m7.001s"),
            (8 * M + 1, "8m0.000000001s"),
            (H, "1h0m0s"),
            (-5 * S, "-5s"),
            (-1, "-1ns"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(format_go_duration(nanos), want, "{nanos}");
        }
    }

    #[test]
    fn go_time_strings() {
        let t = at("2024-05-01T10:00:00.5Z");
        assert_eq!(format_rfc3339_nano(t), "2024-05-01T10:00:00.5Z");
        assert_eq!(format_go_time(t), "2024-05-01 10:00:00.5 +0000 UTC");
        let whole = at("2024-05-01T12:00:00+02:00");
        assert_eq!(format_rfc3339_nano(whole), "2024-05-01T10:00:00Z");
        assert_eq!(
            format_rfc3339_nano(UNIX_EPOCH - Duration::from_nanos(1)),
            "1969-12-31T23:59:59.999999999Z"
        );
        for s in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.000000001Z"] {
            assert_eq!(format_rfc3339_nano(at(s)), s);
        }
    }
}
