//! App health checks (`--enable-app-health-check`), as Go's `apphealth`.
//!
//! Worker 0 probes the app every `--app-health-probe-interval` once it is
//! reachable: `GET <--app-health-check-path>` (2xx is healthy) for HTTP
//! apps, `AppCallbackHealthCheck/HealthCheck` for gRPC apps, each bounded
//! by `--app-health-probe-timeout`. The app starts unhealthy; one success
//! makes it healthy; `--app-health-threshold` consecutive failures make it
//! unhealthy again. While it is unhealthy, invocations of it fail with Go's
//! "app is not in a healthy state" and pub/sub deliveries wait; transparent
//! gRPC proxy calls are relayed regardless, as Go's proxy does.
//!
//! The state is one atomic counter shared by every worker (read on each
//! invocation, written once per probe); waiting deliveries park on an
//! event, not a poll.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use event_listener::Event;
use http::{HeaderMap, Method};

use super::grpc::HEALTH_CHECK;
use super::AppChannel;
use crate::config::AppHealth as Settings;
use crate::grpc::status::GrpcCode;
use crate::http::client::{ClientRequest, OutBody};
use crate::net::shutdown::Drain;

/// The error Go's app channels return for an invocation of an unhealthy app
/// (`status.Error(codes.Internal, messages.ErrAppUnhealthy)`), as the
/// invocation APIs print it after `failed to invoke, id: …, err: `.
pub const UNHEALTHY_ERROR: &str = "rpc error: code = Internal desc = app is not in a healthy state";

/// The app's health as the probes last saw it.
pub struct AppHealth {
    enabled: bool,
    threshold: u32,
    /// Consecutive failures; healthy while below the threshold.
    failures: AtomicU32,
    became_healthy: Event,
}

impl AppHealth {
    /// Health tracking per `settings`; always healthy when checks are off.
    pub fn new(settings: &Settings) -> Self {
        let threshold = settings.threshold.max(1);
        Self {
            enabled: settings.enabled,
            threshold,
            // Go starts unhealthy until the first successful probe.
            failures: AtomicU32::new(if settings.enabled { threshold } else { 0 }),
            became_healthy: Event::new(),
        }
    }

    /// Whether the app may be called.
    pub fn is_healthy(&self) -> bool {
        !self.enabled || self.failures.load(Ordering::Acquire) < self.threshold
    }

    /// Records one probe result.
    pub fn report(&self, ok: bool) {
        if ok {
            let before = self.failures.swap(0, Ordering::AcqRel);
            if before >= self.threshold {
                tracing::info!("App entered healthy status");
                self.became_healthy.notify(usize::MAX);
            }
        } else {
            let now = self
                .failures
                .fetch_add(1, Ordering::AcqRel)
                .saturating_add(1);
            if now == self.threshold {
                tracing::warn!("App entered un-healthy status");
            }
            // Keep the counter from wrapping over a long outage.
            if now > self.threshold {
                self.failures.store(self.threshold, Ordering::Release);
            }
        }
    }

    /// Resolves once the app is healthy (at once if it is); false if
    /// `drain` closed first.
    pub async fn wait_healthy(&self, drain: &Drain) -> bool {
        loop {
            if self.is_healthy() {
                return true;
            }
            let listener = self.became_healthy.listen();
            if self.is_healthy() {
                return true;
            }
            let woke = monoio::select! {
                _ = listener => true,
                _ = drain.closing() => false,
            };
            if !woke {
                return false;
            }
        }
    }
}

/// One probe: an HTTP GET of `path`, or the gRPC health check. Recorded
/// in Go's `dapr_http_healthprobes_*` (status 500 without an answer or
/// past the timeout) or `dapr_grpc_io_healthprobes_*`.
async fn probe(app: &AppChannel, settings: &Settings) -> bool {
    let started = Instant::now();
    match app {
        AppChannel::Http(h) => {
            let req = ClientRequest {
                method: Method::GET,
                target: settings.path.clone(),
                headers: HeaderMap::new(),
                body: OutBody::Full(Default::default()),
            };
            let status = match monoio::time::timeout(settings.timeout, h.call_unrecorded(req)).await
            {
                Ok(Ok(r)) => r.status.as_u16(),
                _ => 500,
            };
            if let Some(m) = h.metrics() {
                m.record_app_http_probe(status, started.elapsed());
            }
            (200..300).contains(&status)
        }
        AppChannel::Grpc(g) => {
            let call = g.unary(HEALTH_CHECK, HeaderMap::new(), &[]);
            let code = match monoio::time::timeout(settings.timeout, call).await {
                Ok(Ok(_)) => GrpcCode::Ok,
                Ok(Err(e)) => e.code(),
                Err(_) => GrpcCode::DeadlineExceeded,
            };
            if let Some(m) = g.metrics() {
                m.record_app_grpc_probe(code.go_name(), started.elapsed());
            }
            code == GrpcCode::Ok
        }
    }
}

/// The probe loop (worker 0, after the app is reachable), until `drain` closes.
pub async fn run_probes(health: &AppHealth, app: &AppChannel, settings: &Settings, drain: &Drain) {
    if !settings.enabled {
        return;
    }
    let interval = settings.interval.max(Duration::from_millis(10));
    loop {
        let ok = probe(app, settings).await;
        health.report(ok);
        let stop = monoio::select! {
            _ = monoio::time::sleep(interval) => false,
            _ = drain.closing() => true,
        };
        if stop {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_semantics_as_go() {
        let s = Settings {
            enabled: true,
            threshold: 2,
            ..Settings::default()
        };
        let h = AppHealth::new(&s);
        assert!(!h.is_healthy(), "starts unhealthy");
        h.report(true);
        assert!(h.is_healthy());
        h.report(false);
        assert!(h.is_healthy(), "one failure is below the threshold");
        h.report(false);
        assert!(!h.is_healthy());
        for _ in 0..10 {
            h.report(false);
        }
        h.report(true);
        assert!(h.is_healthy());
        assert!(AppHealth::new(&Settings::default()).is_healthy());
    }
}
