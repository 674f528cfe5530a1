//! The scheduler's metrics in Prometheus text (format 0.0.4), with Go's
//! names and labels (`pkg/scheduler/monitoring`): job counts by target
//! `type` (`job`, `actor`, `unknown`), sidecar errors by `reason`, the
//! connected-sidecar gauge and the trigger latency histogram (milliseconds,
//! Go's buckets), then the `process_*` families. As with Go's OpenCensus
//! views, a series appears once something was recorded in it; families are
//! sorted by name, as the Prometheus registry writes them.

use std::cell::Cell;
use std::fmt::Write;

use crate::proto::dapr::proto::scheduler::v1::{job_target_metadata, JobMetadata};

/// A job's target, the `type` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `job`
    Job,
    /// `actor`
    Actor,
    /// `unknown`
    Unknown,
}

impl Kind {
    /// The kind of `meta`'s target.
    pub fn of(meta: &JobMetadata) -> Kind {
        match meta.target.as_ref().and_then(|t| t.r#type.as_ref()) {
            Some(job_target_metadata::Type::Job(_)) => Kind::Job,
            Some(job_target_metadata::Type::Actor(_)) => Kind::Actor,
            None => Kind::Unknown,
        }
    }
}

const KINDS: [(Kind, &str); 3] = [
    (Kind::Actor, "actor"),
    (Kind::Job, "job"),
    (Kind::Unknown, "unknown"),
];

/// A sidecar error, the `reason` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SidecarError {
    /// `auth_failed`
    Auth,
    /// `recv_failed`
    Recv,
    /// `send_failed`
    Send,
}

const REASONS: [(SidecarError, &str); 3] = [
    (SidecarError::Auth, "auth_failed"),
    (SidecarError::Recv, "recv_failed"),
    (SidecarError::Send, "send_failed"),
];

/// Go's trigger latency buckets, milliseconds.
const BUCKETS: [u64; 6] = [0, 100, 500, 1000, 5000, 10000];

/// A count per `type`, `None` until first recorded.
#[derive(Default)]
struct ByKind([Cell<Option<u64>>; 3]);

impl ByKind {
    fn add(&self, k: Kind) {
        let c = &self.0[k as usize];
        c.set(Some(c.get().unwrap_or(0) + 1));
    }
}

#[derive(Default)]
struct Histogram {
    /// Values below each bound.
    below: [Cell<u64>; 6],
    sum: Cell<u64>,
    count: Cell<u64>,
}

/// Every series of the service (one thread: plain cells).
#[derive(Default)]
pub struct Metrics {
    created: ByKind,
    created_failed: ByKind,
    triggered: ByKind,
    failed: ByKind,
    undelivered: ByKind,
    deleted: ByKind,
    bulk_deleted: Cell<Option<u64>>,
    sidecar_errors: [Cell<Option<u64>>; 3],
    sidecars: Cell<Option<i64>>,
    latency: [Histogram; 3],
}

impl Metrics {
    /// `ScheduleJob` stored a job.
    pub fn created(&self, k: Kind) {
        self.created.add(k);
    }
    /// `ScheduleJob` was refused by the store (validation, exists).
    pub fn created_failed(&self, k: Kind) {
        self.created_failed.add(k);
    }
    /// A delivery succeeded after `ms`.
    pub fn triggered(&self, k: Kind, ms: u64) {
        self.triggered.add(k);
        self.latency(k, ms);
    }
    /// A delivery failed after `ms`.
    pub fn failed(&self, k: Kind, ms: u64) {
        self.failed.add(k);
        self.latency(k, ms);
    }
    /// A due job had no stream to go to.
    pub fn undelivered(&self, k: Kind) {
        self.undelivered.add(k);
    }
    /// `DeleteJob`.
    pub fn deleted(&self, k: Kind) {
        self.deleted.add(k);
    }
    /// `DeleteByMetadata` or `DeleteByNamePrefix`.
    pub fn bulk_deleted(&self) {
        self.bulk_deleted
            .set(Some(self.bulk_deleted.get().unwrap_or(0) + 1));
    }
    /// A sidecar error.
    pub fn sidecar_error(&self, e: SidecarError) {
        let c = &self.sidecar_errors[e as usize];
        c.set(Some(c.get().unwrap_or(0) + 1));
    }
    /// A stream connected (`+1`) or left (`-1`).
    pub fn sidecars(&self, change: i64) {
        self.sidecars
            .set(Some(self.sidecars.get().unwrap_or(0) + change));
    }

    fn latency(&self, k: Kind, ms: u64) {
        let h = &self.latency[k as usize];
        for (i, b) in BUCKETS.iter().enumerate() {
            if ms < *b {
                h.below[i].set(h.below[i].get() + 1);
            }
        }
        h.sum.set(h.sum.get() + ms);
        h.count.set(h.count.get() + 1);
    }

    /// The exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, by: &ByKind| {
            let series: Vec<(&str, u64)> = KINDS
                .iter()
                .filter_map(|(k, l)| by.0[*k as usize].get().map(|v| (*l, v)))
                .collect();
            if series.is_empty() {
                return;
            }
            family(out, name, help, "counter");
            for (l, v) in series {
                let _ = writeln!(out, "{name}{{type=\"{l}\"}} {v}");
            }
        };
        if let Some(v) = self.bulk_deleted.get() {
            let name = "dapr_scheduler_jobs_bulk_deleted_total";
            family(
                &mut out,
                name,
                "The total number of bulk job deletion operations.",
                "counter",
            );
            let _ = writeln!(out, "{name} {v}");
        }
        counter(
            &mut out,
            "dapr_scheduler_jobs_created_failed_total",
            "The total number of failed job creation attempts.",
            &self.created_failed,
        );
        counter(
            &mut out,
            "dapr_scheduler_jobs_created_total",
            "The total number of jobs scheduled.",
            &self.created,
        );
        counter(
            &mut out,
            "dapr_scheduler_jobs_deleted_total",
            "The total number of deleted jobs.",
            &self.deleted,
        );
        counter(
            &mut out,
            "dapr_scheduler_jobs_failed_total",
            "The total number of failed jobs.",
            &self.failed,
        );
        counter(
            &mut out,
            "dapr_scheduler_jobs_triggered_total",
            "The total number of successfully triggered jobs.",
            &self.triggered,
        );
        counter(
            &mut out,
            "dapr_scheduler_jobs_undelivered_total",
            "The total number of undelivered jobs.",
            &self.undelivered,
        );
        let errors: Vec<(&str, u64)> = REASONS
            .iter()
            .filter_map(|(r, l)| self.sidecar_errors[*r as usize].get().map(|v| (*l, v)))
            .collect();
        if !errors.is_empty() {
            let name = "dapr_scheduler_sidecar_errors_total";
            family(
                &mut out,
                name,
                "The total number of sidecar communication and authorization errors.",
                "counter",
            );
            for (l, v) in errors {
                let _ = writeln!(out, "{name}{{reason=\"{l}\"}} {v}");
            }
        }
        if let Some(v) = self.sidecars.get() {
            let name = "dapr_scheduler_sidecars_connected";
            family(
                &mut out,
                name,
                "The number of dapr sidecars actively connected to the scheduler service.",
                "gauge",
            );
            let _ = writeln!(out, "{name} {v}");
        }
        let recorded: Vec<(&str, &Histogram)> = KINDS
            .iter()
            .map(|(k, l)| (*l, &self.latency[*k as usize]))
            .filter(|(_, h)| h.count.get() > 0)
            .collect();
        if !recorded.is_empty() {
            let name = "dapr_scheduler_trigger_latency";
            family(
                &mut out,
                name,
                "The total time it takes to trigger a job from the scheduler service.",
                "histogram",
            );
            for (l, h) in recorded {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{type=\"{l}\",le=\"{b}\"}} {}",
                        h.below[i].get()
                    );
                }
                let count = h.count.get();
                let _ = writeln!(out, "{name}_bucket{{type=\"{l}\",le=\"+Inf\"}} {count}");
                let _ = writeln!(out, "{name}_sum{{type=\"{l}\"}} {}", h.sum.get());
                let _ = writeln!(out, "{name}_count{{type=\"{l}\"}} {count}");
            }
        }
        crate::metrics::render_process(&mut out);
        out
    }
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_appear_once_recorded() {
        let m = Metrics::default();
        assert!(!m.render().contains("dapr_scheduler"));
        m.created(Kind::Job);
        m.created(Kind::Job);
        m.triggered(Kind::Actor, 120);
        m.sidecars(1);
        m.sidecar_error(SidecarError::Auth);
        let text = m.render();
        assert!(text.contains(
            "# TYPE dapr_scheduler_jobs_created_total counter\n\
             dapr_scheduler_jobs_created_total{type=\"job\"} 2\n"
        ));
        assert!(text.contains("dapr_scheduler_jobs_triggered_total{type=\"actor\"} 1\n"));
        assert!(text.contains("dapr_scheduler_sidecars_connected 1\n"));
        assert!(text.contains("dapr_scheduler_sidecar_errors_total{reason=\"auth_failed\"} 1\n"));
        assert!(
            text.contains("dapr_scheduler_trigger_latency_bucket{type=\"actor\",le=\"100\"} 0\n")
        );
        assert!(
            text.contains("dapr_scheduler_trigger_latency_bucket{type=\"actor\",le=\"500\"} 1\n")
        );
        assert!(text.contains("dapr_scheduler_trigger_latency_count{type=\"actor\"} 1\n"));
        assert!(!text.contains("jobs_failed_total"));
    }
}
