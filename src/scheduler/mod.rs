//! The `scheduler` service: Dapr's job and actor-reminder scheduler, one
//! replica, wire compatible with Go 1.17/1.18 sidecars (and ours).
//!
//! Sidecars store jobs with `ScheduleJob` and keep `WatchJobs` streams open
//! on which the scheduler delivers each job when it is due, waiting for the
//! sidecar's result to count the tick or apply the job's failure policy.
//!
//! A composition root beside `runtime`, importing only the ground layer:
//! - [`flags`]: Go's flags → validated [`flags::Options`];
//! - [`cron`]: schedules as Go parses and steps them;
//! - [`job`]: validation, timing, counters and failure policy, and Dapr's
//!   job keys, sans I/O;
//! - [`store`]: the SQLite file under `--etcd-data-dir` and its writer
//!   thread.

pub mod cron;
pub mod flags;
pub mod job;
pub mod store;
