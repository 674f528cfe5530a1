//! When an actor timer fires, as Go 1.18 computes it for in-memory timers
//! (`pkg/actors/api/reminders.go` `setReminderTimes`, `period.go`,
//! `reminder.go` `NextTick`/`TickExecuted`, and the loop in
//! `pkg/actors/internal/timers/inmemory`), plus the period → scheduler job
//! conversion reminders use (`pkg/actors/internal/scheduler`).
//!
//! From `(dueTime, period, ttl, now)`:
//!
//! - the first fire is `dueTime` read by [`parse_time`] from `now` (a
//!   duration after now, or an RFC 3339 time); an empty `dueTime` fires at
//!   `now`;
//! - `period` is a kit duration ([`parse_duration`]); `R<n>/` bounds the
//!   fires to `n` (zero is refused), otherwise they are unbounded. A period
//!   of zero length (empty, `0s`, `R5`) means one shot;
//! - `ttl` is read by [`parse_time`] from the *first fire*: the expiration.
//!   A TTL that ends before now or before the first fire is refused; a
//!   timer whose first fire is not strictly before its expiration is
//!   accepted but never fires (Go drops it silently);
//! - each later fire is the previous *scheduled* time plus the period
//!   (calendar parts first), so late callbacks do not drift the schedule and
//!   fires already due run at once; the timer stops when the repetitions run
//!   out or the next fire is not before the expiration.
//!
//! Go accepts negative durations here and so does this module: a negative
//! `dueTime` fires at once, a negative period keeps firing at once until a
//! TTL or repetition count stops it.

use std::time::SystemTime;

use crate::config::time::{
    format_go_duration, format_go_time, parse_duration, parse_time, FormatError, KitDuration,
};

// === impl Period ===

/// A parsed `period` (Go's `api.ReminderPeriod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    length: KitDuration,
}

/// Why a `period` was refused. `Display` gives Go's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Not a kit duration.
    #[error("parse error: {0}")]
    Parse(FormatError),
    /// `R0/…`.
    #[error("has zero repetitions")]
    ZeroRepetitions,
}

impl Period {
    /// No period: one shot.
    pub const NONE: Period = Period {
        length: KitDuration {
            years: 0,
            months: 0,
            days: 0,
            nanos: 0,
            repetitions: -1,
        },
    };

    /// Parses a period as Go's `NewReminderPeriod`: empty is [`Period::NONE`].
    pub fn parse(period: &str) -> Result<Period, PeriodError> {
        if period.is_empty() {
            return Ok(Period::NONE);
        }
        let length = parse_duration(period).map_err(PeriodError::Parse)?;
        if length.repetitions == 0 {
            return Err(PeriodError::ZeroRepetitions);
        }
        Ok(Period { length })
    }

    /// Whether another fire follows (Go's `HasRepeats`): repetitions left
    /// (or unbounded) and a non-zero length.
    pub fn has_repeats(&self) -> bool {
        self.length.repetitions != 0 && !self.length.is_zero()
    }

    /// Fires left: `None` when unbounded.
    pub fn repeats_left(&self) -> Option<u64> {
        u64::try_from(self.length.repetitions).ok()
    }

    /// The fire after one at `t` (Go's `GetFollowing`); `None` out of range.
    pub fn following(&self, t: SystemTime) -> Option<SystemTime> {
        self.length.after(t)
    }

    /// The parsed length and repetitions.
    pub fn length(&self) -> &KitDuration {
        &self.length
    }
}

// === impl Schedule ===

/// Why a timer's `dueTime`, `period` or `ttl` was refused.
///
/// `Display` is Go's text for a timer without the actor key;
/// [`ScheduleError::message`] gives it exactly, key included. The actor API
/// wraps it as `error creating actor timer: <message>` (`ERR_ACTOR_TIMER_CREATE`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// `dueTime` is neither a duration nor an RFC 3339 time.
    #[error("error parsing timer due time: {0}")]
    DueTime(FormatError),
    /// `period` is not a kit duration, or has zero repetitions.
    #[error("invalid timer period: {0}")]
    Period(PeriodError),
    /// `ttl` is neither a duration nor an RFC 3339 time.
    #[error("error parsing timer TTL: {0}")]
    Ttl(FormatError),
    /// The TTL ends before now or before the first fire.
    #[error("timer has already expired: dueTime: {} TTL: {ttl}", format_go_time(*.due))]
    Expired {
        /// The first fire.
        due: SystemTime,
        /// The `ttl` as given.
        ttl: String,
    },
}

impl ScheduleError {
    /// Go's exact text: `noun` is `"timer"` (or `"reminder"`), `key` the
    /// timer's `type||id||name`, which only the expiry message names.
    pub fn message(&self, noun: &str, key: &str) -> String {
        match self {
            ScheduleError::DueTime(e) => format!("error parsing {noun} due time: {e}"),
            ScheduleError::Period(e) => format!("invalid {noun} period: {e}"),
            ScheduleError::Ttl(e) => format!("error parsing {noun} TTL: {e}"),
            ScheduleError::Expired { due, ttl } => format!(
                "{noun} {key} has already expired: dueTime: {} TTL: {ttl}",
                format_go_time(*due)
            ),
        }
    }
}

/// A timer's fire times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The next fire (Go's `RegisteredTime`).
    next: SystemTime,
    /// When fires stop (Go's `ExpirationTime`), if a `ttl` was given.
    expiration: Option<SystemTime>,
    period: Period,
    done: bool,
}

impl Schedule {
    /// Validates and computes a timer's schedule as Go's `setReminderTimes`
    /// does, registered at `now`.
    pub fn new(
        due_time: &str,
        period: &str,
        ttl: &str,
        now: SystemTime,
    ) -> Result<Schedule, ScheduleError> {
        let first = if due_time.is_empty() {
            now
        } else {
            parse_time(due_time, now).map_err(ScheduleError::DueTime)?
        };
        let period = Period::parse(period).map_err(ScheduleError::Period)?;
        let expiration = if ttl.is_empty() {
            None
        } else {
            let expiration = parse_time(ttl, first).map_err(ScheduleError::Ttl)?;
            if now > expiration || first > expiration {
                return Err(ScheduleError::Expired {
                    due: first,
                    ttl: ttl.to_owned(),
                });
            }
            Some(expiration)
        };
        Ok(Schedule {
            next: first,
            expiration,
            period,
            done: false,
        })
    }

    /// When to fire next; `None` once the timer is finished. A time in the
    /// past means "fire now".
    pub fn next(&self) -> Option<SystemTime> {
        let active = self.expiration.is_none_or(|exp| self.next < exp);
        (!self.done && active).then_some(self.next)
    }

    /// Records a fire (whether the callback succeeded or not, as Go does) and
    /// moves to the following one.
    pub fn tick(&mut self) {
        if self.done {
            return;
        }
        if self.period.length.repetitions > 0 {
            self.period.length.repetitions -= 1;
        }
        if !self.period.has_repeats() {
            self.done = true;
            return;
        }
        match self.period.following(self.next) {
            Some(next) => self.next = next,
            None => self.done = true,
        }
    }

    /// The expiration from `ttl`, if any.
    pub fn expiration(&self) -> Option<SystemTime> {
        self.expiration
    }

    /// The period, with the repetitions left.
    pub fn period(&self) -> &Period {
        &self.period
    }
}

// === reminders as scheduler jobs ===

/// Why a reminder `period` cannot become a scheduler job.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported period format: {0}")]
pub struct JobPeriodError(pub String);

/// A reminder period as the scheduler job's `(schedule, repeats)`, as Go's
/// `scheduleFromPeriod`: empty ⇒ neither; otherwise `"@every <Go
/// duration>"` and `repeats` when `R<n>/` gave `n > 0` (cast to `u32` as Go
/// casts it). Positive years, months or days are refused, being no fixed
/// length (negative ones are ignored, as in Go).
pub fn job_schedule(period: &str) -> Result<(Option<String>, Option<u32>), JobPeriodError> {
    if period.is_empty() {
        return Ok((None, None));
    }
    let d = parse_duration(period).map_err(|_| JobPeriodError(period.to_owned()))?;
    if d.years > 0 || d.months > 0 || d.days > 0 {
        return Err(JobPeriodError(period.to_owned()));
    }
    // Go: uint32(repetition), which keeps the low 32 bits.
    let repeats = (d.repetitions > 0).then_some(d.repetitions as u32);
    Ok((
        Some(format!("@every {}", format_go_duration(d.nanos))),
        repeats,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::time::parse_rfc3339;

    fn now() -> SystemTime {
        parse_rfc3339("2024-05-01T10:00:00Z").unwrap()
    }

    fn secs(n: u64) -> SystemTime {
        now() + Duration::from_secs(n)
    }

    /// Every fire of `s`, at most `limit`.
    fn fires(mut s: Schedule, limit: usize) -> Vec<SystemTime> {
        let mut out = Vec::new();
        while let Some(t) = s.next() {
            if out.len() == limit {
                break;
            }
            out.push(t);
            s.tick();
        }
        out
    }

    #[test]
    fn empty_due_time_fires_now_once() {
        let s = Schedule::new("", "", "", now()).unwrap();
        assert_eq!(fires(s, 10), [now()]);
    }

    #[test]
    fn python_durations_and_period() {
        let s = Schedule::new("0h0m5s0ms0\u{3bc}s", "0h0m1s0ms0\u{3bc}s", "", now()).unwrap();
        assert_eq!(fires(s, 3), [secs(5), secs(6), secs(7)]);
        assert_eq!(s.period().repeats_left(), None);
        // demo_actor: due 5s, period 5s, ttl 5s ⇒ one fire (the second would
        // land exactly on the expiration).
        let d = "0h0m5s0ms0\u{3bc}s";
        let s = Schedule::new(d, d, d, now()).unwrap();
        assert_eq!(s.expiration(), Some(secs(10)));
        assert_eq!(fires(s, 10), [secs(5)]);
    }

    #[test]
    fn repetitions_stop_the_timer() {
        let s = Schedule::new("", "R3/PT1S", "", now()).unwrap();
        assert_eq!(fires(s, 10), [now(), secs(1), secs(2)]);
        let mut s = Schedule::new("1s", "R2/PT10S", "", now()).unwrap();
        assert_eq!(s.period().repeats_left(), Some(2));
        s.tick();
        assert_eq!(s.period().repeats_left(), Some(1));
        assert_eq!(s.next(), Some(secs(11)));
        s.tick();
        assert_eq!(s.next(), None);
        s.tick();
        assert_eq!(s.next(), None);
        // R-1 is kit's "unbounded".
        let s = Schedule::new("", "R-1/PT1S", "", now()).unwrap();
        assert_eq!(fires(s, 4).len(), 4);
    }

    #[test]
    fn ttl_stops_the_timer() {
        let s = Schedule::new("", "PT1S", "PT3S", now()).unwrap();
        assert_eq!(fires(s, 10), [now(), secs(1), secs(2)]);
        // The TTL counts from the first fire.
        let s = Schedule::new("10s", "1s", "2500ms", now()).unwrap();
        assert_eq!(fires(s, 10), [secs(10), secs(11), secs(12)]);
        // An absolute TTL.
        let s = Schedule::new("", "1s", "2024-05-01T10:00:02Z", now()).unwrap();
        assert_eq!(fires(s, 10), [now(), secs(1)]);
        // A TTL equal to the first fire: accepted, never fires (Go: !active).
        let s = Schedule::new("5s", "1s", "0s", now()).unwrap();
        assert_eq!(s.next(), None);
    }

    #[test]
    fn one_shot_periods() {
        for period in ["", "0s", "PT0S", "R5", "R5/", "P0D"] {
            let s = Schedule::new("", period, "", now()).unwrap();
            assert_eq!(fires(s, 10), [now()], "{period:?}");
        }
    }

    #[test]
    fn due_time_forms() {
        let rfc = Schedule::new("2024-05-01T10:00:30Z", "", "", now()).unwrap();
        assert_eq!(rfc.next(), Some(secs(30)));
        let iso = Schedule::new("PT1M", "", "", now()).unwrap();
        assert_eq!(iso.next(), Some(secs(60)));
        // In the past: due at once.
        let past = Schedule::new("-5s", "", "", now()).unwrap();
        assert_eq!(past.next(), Some(now() - Duration::from_secs(5)));
    }

    #[test]
    fn calendar_periods_follow_the_previous_fire() {
        let start = parse_rfc3339("2024-01-31T00:00:00Z").unwrap();
        let s = Schedule::new("", "P1M", "", start).unwrap();
        let got: Vec<String> = fires(s, 3)
            .into_iter()
            .map(crate::config::time::format_rfc3339_nano)
            .collect();
        // Jan 31 + 1 month = Feb 31 = Mar 2 (2024 is a leap year), then Apr 2.
        assert_eq!(
            got,
            [
                "2024-01-31T00:00:00Z",
                "2024-03-02T00:00:00Z",
                "2024-04-02T00:00:00Z"
            ]
        );
    }

    #[test]
    fn go_validation_errors() {
        let err = |d: &str, p: &str, t: &str| Schedule::new(d, p, t, now()).unwrap_err();
        assert_eq!(
            err("soon", "", "").to_string(),
            "error parsing timer due time: unsupported time/duration format: soon"
        );
        assert_eq!(
            err("R2/PT1S", "", "").to_string(),
            "error parsing timer due time: repetitions are not allowed"
        );
        assert_eq!(
            err("", "often", "").to_string(),
            "invalid timer period: parse error: unsupported duration format: often"
        );
        assert_eq!(
            err("", "R0/PT1S", "").to_string(),
            "invalid timer period: has zero repetitions"
        );
        assert_eq!(
            err("", "", "forever").to_string(),
            "error parsing timer TTL: unsupported time/duration format: forever"
        );
        // A TTL before the first fire, or already past.
        let e = err("10s", "", "2024-05-01T10:00:05Z");
        assert_eq!(
            e,
            ScheduleError::Expired {
                due: secs(10),
                ttl: "2024-05-01T10:00:05Z".to_owned()
            }
        );
        assert_eq!(
            e.message("timer", "A||1||t"),
            "timer A||1||t has already expired: dueTime: 2024-05-01 10:00:10 +0000 UTC \
             TTL: 2024-05-01T10:00:05Z"
        );
        assert!(matches!(
            err("-10s", "", "5s"),
            ScheduleError::Expired { .. }
        ));
        assert!(matches!(err("", "", "-1s"), ScheduleError::Expired { .. }));
        assert_eq!(
            err("", "x", "").message("reminder", "k"),
            "invalid reminder period: parse error: unsupported duration format: x"
        );
        // The order Go checks in: due time, then period, then TTL.
        assert!(matches!(err("x", "x", "x"), ScheduleError::DueTime(_)));
        assert!(matches!(err("", "x", "x"), ScheduleError::Period(_)));
    }

    #[test]
    fn reminder_periods_as_scheduler_jobs() {
        let ok = |p: &str| job_schedule(p).unwrap();
        assert_eq!(ok(""), (None, None));
        assert_eq!(ok("5s"), (Some("@every 5s".to_owned()), None));
        assert_eq!(
            ok("0h0m5s0ms0\u{3bc}s"),
            (Some("@every 5s".to_owned()), None)
        );
        assert_eq!(ok("PT1H"), (Some("@every 1h0m0s".to_owned()), None));
        assert_eq!(ok("R3/PT1S"), (Some("@every 1s".to_owned()), Some(3)));
        assert_eq!(ok("R5"), (Some("@every 0s".to_owned()), Some(5)));
        assert_eq!(ok("R0/PT1S"), (Some("@every 1s".to_owned()), None));
        assert_eq!(
            ok("R4294967297/PT1S"),
            (Some("@every 1s".to_owned()), Some(1))
        );
        assert_eq!(ok("P-1YT1S"), (Some("@every 1s".to_owned()), None));
        assert_eq!(ok("1.5s"), (Some("@every 1.5s".to_owned()), None));
        for bad in ["P1D", "P1M", "P1Y", "P1W", "R2/P1DT1S", "often"] {
            assert_eq!(
                job_schedule(bad).unwrap_err().to_string(),
                format!("unsupported period format: {bad}")
            );
        }
    }
}
