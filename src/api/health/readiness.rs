//! Readiness behind `/v1.0/healthz` and `/v1.0/healthz/outbound`.
//!
//! Outbound readiness flips once every worker has its listeners up and the
//! components are loaded: apps may call the sidecar from then on. Full
//! readiness additionally needs the app port to accept a TCP connection when
//! `--app-port` is set (Go daprd's order, `dapr-api.md` §1.4).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Shared readiness flags (`Send + Sync`).
pub struct Readiness {
    workers_expected: usize,
    workers_up: AtomicUsize,
    app_required: bool,
    app_reachable: AtomicBool,
}

impl Readiness {
    /// Readiness for `workers` workers; `app_required` when `--app-port` is set.
    pub fn new(workers: usize, app_required: bool) -> Self {
        Self {
            workers_expected: workers,
            workers_up: AtomicUsize::new(0),
            app_required,
            app_reachable: AtomicBool::new(false),
        }
    }

    /// A worker reports its listeners are serving.
    pub fn worker_up(&self) {
        self.workers_up.fetch_add(1, Ordering::AcqRel);
    }

    /// The app port accepted a connection.
    pub fn app_reachable(&self) {
        self.app_reachable.store(true, Ordering::Release);
    }

    /// APIs and components are up (`/v1.0/healthz/outbound`).
    pub fn outbound_ready(&self) -> bool {
        self.workers_up.load(Ordering::Acquire) >= self.workers_expected
    }

    /// Everything `/v1.0/healthz` waits for.
    pub fn ready(&self) -> bool {
        self.outbound_ready() && (!self.app_required || self.app_reachable.load(Ordering::Acquire))
    }

    /// Names of the targets that are not ready yet, for the error message.
    pub fn pending_targets(&self) -> Vec<&'static str> {
        let mut t = Vec::new();
        if !self.outbound_ready() {
            t.push("api");
        }
        if self.app_required && !self.app_reachable.load(Ordering::Acquire) {
            t.push("app");
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[test]
    fn flips_in_order() {
        let r = Readiness::new(2, true);
        assert!(!r.outbound_ready());
        r.worker_up();
        r.worker_up();
        assert!(r.outbound_ready());
        assert!(!r.ready());
        assert_eq!(r.pending_targets(), vec!["app"]);
        r.app_reachable();
        assert!(r.ready());
        assert!(r.pending_targets().is_empty());
    }

    #[test]
    fn no_app_means_ready_with_workers() {
        let r = Readiness::new(1, false);
        r.worker_up();
        assert!(r.ready());
    }
}
