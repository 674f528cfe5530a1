//! A job's life as go-etcd-cron leads it, sans I/O: validating what
//! `ScheduleJob` stores (`internal/scheduler/builder.go`), when it fires
//! next (`oneshot.go`, `repeats.go`), and what a delivery's result does to
//! its counter (`internal/counter`), including the failure policy.
//!
//! Also the job keys Dapr's scheduler builds from the owner
//! (`pkg/scheduler/server/internal/serialize`) and go-etcd-cron's job name
//! check (`internal/api/validator`).
//!
//! Timing, as Go's:
//! - no `due_time`: the first fire is `schedule.next(created)` (`@every 5s`
//!   fires 5 s after it was scheduled, not at once); with one, the first
//!   fire is the due time, the next ones `schedule.next(previous tick)`;
//! - a tick is the *scheduled* time, not when it was delivered: ticks missed
//!   while nothing could deliver them (or while the scheduler was down)
//!   fire one after the other, each after the previous one's result, until
//!   the schedule has caught up;
//! - a next tick after the expiry (`ttl`), or `repeats` reached, or a
//!   one-shot fired, ends the job: it is deleted.
//!
//! Failure policy: `Constant{interval, max_retries}` (the default, 1 s and
//! 3) retries the same tick `interval` after each failure until more than
//! `max_retries` attempts failed (never when unset), then moves on to the
//! next tick; `Drop` moves on at once.

use std::time::SystemTime;

use crate::config::options::parse_go_duration_nanos;
use crate::config::time::{add_nanos, parse_iso8601_duration, parse_rfc3339};
use crate::proto::dapr::proto::common::v1::{
    job_failure_policy::Policy, JobFailurePolicy, JobFailurePolicyConstant,
};
use crate::proto::dapr::proto::scheduler::v1::{job_target_metadata, Job, JobMetadata};

use super::cron::Schedule;

// === validation ===

/// What `ScheduleJob` stores: the job (failure policy filled in), its
/// owner, and its fixed times.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// As given, with the default failure policy where none was.
    pub job: Job,
    /// The owner, as given.
    pub metadata: JobMetadata,
    /// The name the owner gave it (the key minus the owner's prefix).
    pub name: String,
    /// When it was scheduled: the schedule's start without a due time.
    pub created: SystemTime,
    /// The first fire, when a due time was given.
    pub due: Option<SystemTime>,
    /// The end, when a ttl was given.
    pub expiration: Option<SystemTime>,
}

/// go-etcd-cron's `Builder.Parse`: checks `job`, fills in the default
/// failure policy and resolves the due time and ttl against `now`. The
/// error is Go's text without its `job failed validation: ` prefix.
pub fn build(
    mut job: Job,
    metadata: JobMetadata,
    name: String,
    now: SystemTime,
) -> Result<Stored, String> {
    if job.due_time.is_none() && job.schedule.is_none() {
        return Err("job must have either a due time or a schedule".into());
    }
    if job.schedule.is_none() && job.repeats.unwrap_or(0) > 1 {
        return Err("job must have a schedule to repeat".into());
    }
    if job.repeats.is_some_and(|r| r < 1) {
        return Err("defined repeats must be greater than 0".into());
    }
    if job.schedule.is_none() && job.ttl.is_some() {
        return Err("job must have a schedule to have a ttl".into());
    }
    if let Some(s) = &job.schedule {
        Schedule::parse(s)?;
    }
    // Dapr hands go-etcd-cron no policy for one without a oneof set.
    if job
        .failure_policy
        .as_ref()
        .is_none_or(|p| p.policy.is_none())
    {
        job.failure_policy = Some(default_policy());
    }
    let due = match &job.due_time {
        Some(d) => Some(point_in_time(d, now)?),
        None => None,
    };
    let expiration = match &job.ttl {
        Some(ttl) => {
            let start = due.unwrap_or(now);
            let exp = point_in_time(ttl, start).map_err(|_| "ttl format not recognized")?;
            if due.is_some_and(|d| d > exp) {
                return Err("ttl must be greater than due time".into());
            }
            Some(exp)
        }
        None => None,
    };
    Ok(Stored {
        job,
        metadata,
        name,
        created: now,
        due,
        expiration,
    })
}

/// Constant, 1 s, 3 retries.
pub fn default_policy() -> JobFailurePolicy {
    JobFailurePolicy {
        policy: Some(Policy::Constant(JobFailurePolicyConstant {
            interval: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            max_retries: Some(3),
        })),
    }
}

/// go-etcd-cron's `parsePointInTime`: RFC 3339, else a Go duration after
/// `now`, else an ISO 8601 duration without repetitions after `now`.
fn point_in_time(s: &str, now: SystemTime) -> Result<SystemTime, String> {
    if let Some(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    let unknown = || "due time format not recognized".to_owned();
    if let Ok(nanos) = parse_go_duration_nanos(s) {
        return add_nanos(now, nanos).ok_or_else(unknown);
    }
    let d = parse_iso8601_duration(s).map_err(|_| unknown())?;
    if d.repetitions > 0 {
        return Err("repeats not supported for due time".into());
    }
    d.after(now).ok_or_else(unknown)
}

// === ticking ===

/// A job's counter, as stored: ticks done, the last tick (its scheduled
/// time), failed attempts at the current tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    /// Ticks delivered (or given up on).
    pub count: u32,
    /// The scheduled time of the last tick counted.
    pub last: Option<SystemTime>,
    /// Failed attempts at the current tick.
    pub attempts: u32,
}

#[derive(Clone, Debug)]
enum Plan {
    Oneshot(SystemTime),
    Repeats {
        cron: Schedule,
        /// Without a due time: the clock starts here (no fire at it).
        start: SystemTime,
        /// With one: the first fire.
        due: Option<SystemTime>,
        exp: Option<SystemTime>,
        total: Option<u32>,
    },
}

impl Plan {
    fn next(&self, count: u32, last: Option<SystemTime>) -> Option<SystemTime> {
        match self {
            Plan::Oneshot(due) => (count < 1).then_some(*due),
            Plan::Repeats {
                cron,
                start,
                due,
                exp,
                total,
            } => {
                if total.is_some_and(|t| count >= t) {
                    return None;
                }
                let Some(last) = last else {
                    return match due {
                        Some(d) => Some(*d),
                        None => cron.next(*start),
                    };
                };
                let next = cron.next(last)?;
                if exp.is_some_and(|e| next > e) {
                    return None;
                }
                Some(next)
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum FailurePolicy {
    None,
    Drop,
    Constant {
        interval: i64,
        max_retries: Option<u32>,
    },
}

/// A scheduled job's clock: its counter and its next fire.
#[derive(Clone, Debug)]
pub struct Ticker {
    plan: Plan,
    repeats: Option<u32>,
    expiration: Option<SystemTime>,
    policy: FailurePolicy,
    /// The counter, to store after every result.
    pub counter: Counter,
    /// When it fires next (a retry's time after a failure).
    pub next: SystemTime,
}

impl Ticker {
    /// The clock of `stored` at `counter`; `None` when it will not fire
    /// again (the job is to be deleted), or its schedule no longer parses.
    pub fn new(stored: &Stored, counter: Counter) -> Option<Ticker> {
        let plan = match &stored.job.schedule {
            None => Plan::Oneshot(stored.due?),
            Some(s) => Plan::Repeats {
                cron: Schedule::parse(s).ok()?,
                start: stored.created,
                due: stored.due,
                exp: stored.expiration,
                total: stored.job.repeats,
            },
        };
        let policy = match stored.job.failure_policy.as_ref().and_then(|p| p.policy) {
            None => FailurePolicy::None,
            Some(Policy::Drop(_)) => FailurePolicy::Drop,
            Some(Policy::Constant(c)) => FailurePolicy::Constant {
                interval: c.interval.map_or(0, duration_nanos),
                max_retries: c.max_retries,
            },
        };
        let mut t = Ticker {
            plan,
            repeats: stored.job.repeats,
            expiration: stored.expiration,
            policy,
            counter,
            next: SystemTime::UNIX_EPOCH,
        };
        t.update_next().then_some(t)
    }

    /// The current tick was delivered; `false` when the job is done.
    pub fn success(&mut self) -> bool {
        if let Some(lt) = self.plan.next(self.counter.count, self.counter.last) {
            self.counter.last = Some(lt);
        }
        self.counter.count = self.counter.count.saturating_add(1);
        self.counter.attempts = 0;
        self.update_next()
    }

    /// The current tick failed; `false` when the job is done.
    pub fn failed(&mut self) -> bool {
        self.counter.attempts = self.counter.attempts.saturating_add(1);
        if !self.try_again() {
            self.counter.count = self.counter.count.saturating_add(1);
            self.counter.attempts = 0;
            return self.update_next();
        }
        true
    }

    fn try_again(&mut self) -> bool {
        match self.policy {
            FailurePolicy::Constant {
                interval,
                max_retries,
            } => {
                let again = max_retries.is_none_or(|m| m >= self.counter.attempts);
                if again {
                    self.next = add_nanos(self.next, interval).unwrap_or(self.next);
                } else if let Some(lt) = self.plan.next(self.counter.count, self.counter.last) {
                    // The tick's own time, whatever the retries' cadence.
                    self.counter.last = Some(lt);
                }
                again
            }
            FailurePolicy::None | FailurePolicy::Drop => {
                self.counter.last = Some(self.next);
                false
            }
        }
    }

    /// go-etcd-cron's `updateNext`: `false` when the job is done.
    fn update_next(&mut self) -> bool {
        if self.repeats.is_some_and(|r| self.counter.count >= r) {
            return false;
        }
        let Some(next) = self.plan.next(self.counter.count, self.counter.last) else {
            return false;
        };
        if self.expiration.is_some_and(|e| next > e) {
            return false;
        }
        self.next = next;
        true
    }
}

fn duration_nanos(d: prost_types::Duration) -> i64 {
    d.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(d.nanos))
}

// === keys ===

/// Where a key, prefix or name is refused: Go's status code and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// No namespace or app id (INVALID_ARGUMENT).
    Unauthorized,
    /// Anything else (go-etcd-cron's plain errors, UNKNOWN).
    Invalid(String),
}

/// Dapr's check of every request's owner (`authz`, without mTLS).
pub fn authorize(namespace: &str, app_id: &str) -> Result<(), KeyError> {
    if namespace.is_empty() || app_id.is_empty() {
        return Err(KeyError::Unauthorized);
    }
    Ok(())
}

fn unknown_type(meta: &JobMetadata) -> KeyError {
    // Go prints the target with %v: `<nil>` for none, the (empty) text
    // form of one whose oneof is unset.
    KeyError::Invalid(match &meta.target {
        None => "unknown job type: <nil>".into(),
        Some(_) => "unknown job type: ".into(),
    })
}

/// The key of job `name` of `meta`'s owner: `app||<ns>||<app id>||<name>`
/// or `actorreminder||<ns>||<type>||<id>||<name>`, checked as go-etcd-cron
/// checks job names.
pub fn job_key(name: &str, meta: &JobMetadata) -> Result<String, KeyError> {
    authorize(&meta.namespace, &meta.app_id)?;
    let key = format!(
        "{}{name}",
        owner_prefix(meta).ok_or_else(|| unknown_type(meta))?
    );
    validate_name(&key).map_err(KeyError::Invalid)?;
    Ok(key)
}

/// The prefix of every key of `meta`'s exact owner (`PrefixFromMetadata`),
/// ending in `||`; `None` without a target.
pub fn owner_prefix(meta: &JobMetadata) -> Option<String> {
    match meta.target.as_ref()?.r#type.as_ref()? {
        job_target_metadata::Type::Actor(a) => Some(format!(
            "actorreminder||{}||{}||{}||",
            meta.namespace, a.r#type, a.id
        )),
        job_target_metadata::Type::Job(_) => {
            Some(format!("app||{}||{}||", meta.namespace, meta.app_id))
        }
    }
}

/// Dapr's `KeyFromMetadata`: the prefix of an owner's keys for listing and
/// bulk deletion. An actor target without an id covers the whole type;
/// `as_prefix` leaves the trailing `||` off (so an id matches ids that
/// start with it).
pub fn list_prefix(meta: &JobMetadata, as_prefix: bool) -> Result<String, KeyError> {
    authorize(&meta.namespace, &meta.app_id)?;
    let typ = meta
        .target
        .as_ref()
        .and_then(|t| t.r#type.as_ref())
        .ok_or_else(|| unknown_type(meta))?;
    let mut s = match typ {
        job_target_metadata::Type::Actor(a) => {
            let mut s = format!("actorreminder||{}||{}", meta.namespace, a.r#type);
            if !a.id.is_empty() {
                s.push_str("||");
                s.push_str(&a.id);
            }
            s
        }
        job_target_metadata::Type::Job(_) => format!("app||{}||{}", meta.namespace, meta.app_id),
    };
    if !as_prefix {
        s.push_str("||");
    }
    Ok(s)
}

/// go-etcd-cron's `JobName` check: after dropping `_ : -` and spaces, every
/// `||`-separated part, lowercased, must be a DNS-1123 subdomain.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("job name cannot be empty".into());
    }
    let sanitized: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | ':' | '-' | ' '))
        .collect();
    for segment in sanitized.to_lowercase().split("||") {
        let mut errs = Vec::new();
        if segment.len() > 253 {
            errs.push("must be no more than 253 characters".to_owned());
        }
        if !is_dns1123_subdomain(segment) {
            errs.push(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
                 characters, '-' or '.', and must start and end with an alphanumeric character \
                 (e.g. 'example.com', regex used for validation is \
                 '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                    .to_owned(),
            );
        }
        if !errs.is_empty() {
            return Err(format!(
                "job name is invalid {sanitized:?}: {}",
                errs.join(", ")
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`
fn is_dns1123_subdomain(s: &str) -> bool {
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    s.split('.').all(|label| {
        let b = label.as_bytes();
        match (b.first(), b.last()) {
            (Some(&f), Some(&l)) => {
                alnum(f) && alnum(l) && b.iter().all(|&c| alnum(c) || c == b'-')
            }
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::time::format_rfc3339_nano;
    use crate::proto::dapr::proto::common::v1::JobFailurePolicyDrop;
    use crate::proto::dapr::proto::scheduler::v1::{
        JobTargetMetadata, TargetActorReminder, TargetJob,
    };

    fn now() -> SystemTime {
        parse_rfc3339("2024-01-01T00:00:00Z").unwrap()
    }

    fn t(s: &str) -> SystemTime {
        parse_rfc3339(s).unwrap()
    }

    fn job(schedule: Option<&str>, due: Option<&str>) -> Job {
        Job {
            schedule: schedule.map(Into::into),
            due_time: due.map(Into::into),
            ..Job::default()
        }
    }

    fn stored(j: Job) -> Stored {
        build(j, JobMetadata::default(), "n".into(), now()).unwrap()
    }

    fn fmt(t: SystemTime) -> String {
        format_rfc3339_nano(t)
    }

    #[test]
    fn validation_errors_are_go_s() {
        let err = |j: Job| build(j, JobMetadata::default(), "n".into(), now()).unwrap_err();
        assert_eq!(
            err(job(None, None)),
            "job must have either a due time or a schedule"
        );
        assert_eq!(
            err(Job {
                repeats: Some(2),
                ..job(None, Some("1s"))
            }),
            "job must have a schedule to repeat"
        );
        assert_eq!(
            err(Job {
                repeats: Some(0),
                ..job(Some("@every 1s"), None)
            }),
            "defined repeats must be greater than 0"
        );
        assert_eq!(
            err(Job {
                ttl: Some("1m".into()),
                ..job(None, Some("1s"))
            }),
            "job must have a schedule to have a ttl"
        );
        assert_eq!(
            err(job(Some("* * * * *"), None)),
            "expected exactly 6 fields, found 5: [* * * * *]"
        );
        assert_eq!(
            err(job(None, Some("soon"))),
            "due time format not recognized"
        );
        assert_eq!(
            err(job(None, Some("R2/PT1S"))),
            "repeats not supported for due time"
        );
        assert_eq!(
            err(Job {
                ttl: Some("later".into()),
                ..job(Some("@every 1s"), None)
            }),
            "ttl format not recognized"
        );
        assert_eq!(
            err(Job {
                ttl: Some("2023-12-31T00:00:00Z".into()),
                ..job(Some("@every 1s"), Some("2024-02-01T00:00:00Z"))
            }),
            "ttl must be greater than due time"
        );
        // One repeat without a schedule is fine, as is R0.
        assert!(build(
            Job {
                repeats: Some(1),
                ..job(None, Some("R0/PT1S"))
            },
            JobMetadata::default(),
            "n".into(),
            now()
        )
        .is_ok());
    }

    #[test]
    fn times_resolve_as_go_s() {
        let s = stored(Job {
            ttl: Some("PT1H".into()),
            ..job(Some("@every 1s"), Some("10s"))
        });
        assert_eq!(fmt(s.due.unwrap()), "2024-01-01T00:00:10Z");
        // ttl counts from the due time.
        assert_eq!(fmt(s.expiration.unwrap()), "2024-01-01T01:00:10Z");
        let s = stored(job(None, Some("2024-03-01T10:00:00+02:00")));
        assert_eq!(fmt(s.due.unwrap()), "2024-03-01T08:00:00Z");
        let s = stored(job(None, Some("P1M")));
        assert_eq!(fmt(s.due.unwrap()), "2024-02-01T00:00:00Z");
        // The default failure policy is stored (and GetJob returns it).
        assert_eq!(s.job.failure_policy, Some(default_policy()));
        let s = stored(Job {
            failure_policy: Some(JobFailurePolicy { policy: None }),
            ..job(None, Some("1s"))
        });
        assert_eq!(s.job.failure_policy, Some(default_policy()));
    }

    #[test]
    fn every_without_due_time_waits_one_period() {
        let s = stored(job(Some("@every 5s"), None));
        let mut tk = Ticker::new(&s, Counter::default()).unwrap();
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:05Z");
        assert!(tk.success());
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:10Z");
        assert_eq!(tk.counter.count, 1);
        assert_eq!(fmt(tk.counter.last.unwrap()), "2024-01-01T00:00:05Z");
    }

    #[test]
    fn due_time_fires_at_once_then_on_schedule() {
        let s = stored(Job {
            repeats: Some(2),
            ..job(Some("@every 1s"), Some("3s"))
        });
        let mut tk = Ticker::new(&s, Counter::default()).unwrap();
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:03Z");
        assert!(tk.success());
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:04Z");
        assert!(!tk.success(), "two repeats: done");
    }

    #[test]
    fn a_oneshot_fires_once() {
        let s = stored(job(None, Some("1s")));
        let mut tk = Ticker::new(&s, Counter::default()).unwrap();
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:01Z");
        assert!(!tk.success());
        // Stored after firing (a crash before the delete): done at once.
        let done = Counter {
            count: 1,
            last: Some(t("2024-01-01T00:00:01Z")),
            attempts: 0,
        };
        assert!(Ticker::new(&s, done).is_none());
    }

    #[test]
    fn ttl_ends_the_job() {
        let s = stored(Job {
            ttl: Some("2500ms".into()),
            ..job(Some("@every 1s"), None)
        });
        let mut tk = Ticker::new(&s, Counter::default()).unwrap();
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:01Z");
        assert!(tk.success());
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:02Z");
        assert!(!tk.success(), "3s is after the expiry at 2.5s");
    }

    #[test]
    fn default_policy_retries_three_times_a_second_apart() {
        let s = stored(Job {
            repeats: Some(3),
            ..job(Some("@every 10s"), None)
        });
        let mut tk = Ticker::new(&s, Counter::default()).unwrap();
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:10Z");
        for (retry, at) in [(1, "11"), (2, "12"), (3, "13")] {
            assert!(tk.failed());
            assert_eq!(tk.counter.attempts, retry);
            assert_eq!(fmt(tk.next), format!("2024-01-01T00:00:{at}Z"));
            assert_eq!(tk.counter.count, 0);
        }
        // The fourth failure gives the tick up: the next tick is on the
        // schedule's cadence, from the given-up tick's own time.
        assert!(tk.failed());
        assert_eq!(tk.counter.count, 1);
        assert_eq!(tk.counter.attempts, 0);
        assert_eq!(fmt(tk.counter.last.unwrap()), "2024-01-01T00:00:10Z");
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:20Z");
        // A retry that succeeds counts the tick at its scheduled time.
        assert!(tk.failed());
        assert!(tk.success());
        assert_eq!(fmt(tk.counter.last.unwrap()), "2024-01-01T00:00:20Z");
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:30Z");
    }

    #[test]
    fn drop_moves_on_and_unbounded_constant_never_does() {
        let mut j = job(Some("@every 10s"), None);
        j.failure_policy = Some(JobFailurePolicy {
            policy: Some(Policy::Drop(JobFailurePolicyDrop {})),
        });
        let mut tk = Ticker::new(&stored(j), Counter::default()).unwrap();
        assert!(tk.failed());
        assert_eq!(tk.counter.count, 1);
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:20Z");

        let mut j = job(None, Some("1s"));
        j.failure_policy = Some(JobFailurePolicy {
            policy: Some(Policy::Constant(JobFailurePolicyConstant {
                interval: Some(prost_types::Duration {
                    seconds: 0,
                    nanos: 500_000_000,
                }),
                max_retries: None,
            })),
        });
        let mut tk = Ticker::new(&stored(j), Counter::default()).unwrap();
        for _ in 0..100 {
            assert!(tk.failed());
        }
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:51Z");
        assert!(!tk.success());
    }

    #[test]
    fn a_restart_catches_up_missed_ticks_from_the_last_one() {
        let s = stored(job(Some("@every 1s"), None));
        let c = Counter {
            count: 3,
            last: Some(t("2024-01-01T00:00:03Z")),
            attempts: 2,
        };
        let tk = Ticker::new(&s, c).unwrap();
        // Whatever the time now: the tick after the last one counted.
        assert_eq!(fmt(tk.next), "2024-01-01T00:00:04Z");
        assert_eq!(tk.counter.attempts, 2, "attempts survive a restart");
    }

    fn meta(target: Option<job_target_metadata::Type>) -> JobMetadata {
        JobMetadata {
            app_id: "app1".into(),
            namespace: "default".into(),
            target: target.map(|t| JobTargetMetadata { r#type: Some(t) }),
            concurrency_key: None,
        }
    }

    #[test]
    fn keys_and_prefixes_are_dapr_s() {
        let job = meta(Some(job_target_metadata::Type::Job(TargetJob {})));
        let actor = |id: &str| {
            meta(Some(job_target_metadata::Type::Actor(
                TargetActorReminder {
                    id: id.into(),
                    r#type: "Counter".into(),
                },
            )))
        };
        assert_eq!(job_key("j1", &job).unwrap(), "app||default||app1||j1");
        assert_eq!(
            job_key("r", &actor("a-1")).unwrap(),
            "actorreminder||default||Counter||a-1||r"
        );
        assert_eq!(list_prefix(&job, false).unwrap(), "app||default||app1||");
        assert_eq!(
            list_prefix(&actor(""), false).unwrap(),
            "actorreminder||default||Counter||"
        );
        assert_eq!(
            list_prefix(&actor("a"), true).unwrap(),
            "actorreminder||default||Counter||a"
        );
        assert_eq!(
            owner_prefix(&actor("a")).unwrap(),
            "actorreminder||default||Counter||a||"
        );
        let mut anon = job.clone();
        anon.app_id.clear();
        assert_eq!(job_key("j", &anon), Err(KeyError::Unauthorized));
        assert_eq!(
            job_key("j", &meta(None)),
            Err(KeyError::Invalid("unknown job type: <nil>".into()))
        );
    }

    #[test]
    fn job_names_are_checked_as_go_etcd_cron_does() {
        assert!(validate_name("app||default||app1||My_Job:1 x-y.z").is_ok());
        let err = validate_name("app||default||app1||a/b").unwrap_err();
        assert!(
            err.starts_with(
                "job name is invalid \"app||default||app1||a/b\": a lowercase RFC 1123"
            ),
            "{err}"
        );
        assert!(validate_name("app||default||app1||").is_err(), "empty name");
        assert!(validate_name("app||default||app1||.x").is_err());
        assert!(
            validate_name(&format!("app||default||app1||{}", "a".repeat(254)))
                .unwrap_err()
                .contains("must be no more than 253 characters")
        );
        assert_eq!(validate_name(""), Err("job name cannot be empty".into()));
    }
}
