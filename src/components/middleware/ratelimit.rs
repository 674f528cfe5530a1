//! `middleware.http.ratelimit`: contrib's tollbooth limiter.
//!
//! Contrib builds `tollbooth.NewLimiter(maxRequestsPerSecond, nil)`: a
//! token bucket per key refilling at `maxRequestsPerSecond` and holding
//! `max(1, int(maxRequestsPerSecond))` tokens; the key is the client's
//! address and the request path (`ip|path|`), the address taken from the
//! last `X-Forwarded-For` entry, else `X-Real-IP`, else the connection's
//! peer, IPv6 addresses cut to their /64. A request over the limit gets
//! 429 "You have reached maximum request limit."; every request gets
//! tollbooth's `X-Rate-Limit-*` and `RateLimit-*` headers.
//!
//! The buckets are shared by all workers, so the limit is the process's, not
//! a worker's: a [`DashMap`] (sharded, no global lock) of one atomic each,
//! the bucket kept as a GCRA "theoretical arrival time" updated by
//! compare-and-swap — the same admissions as a token bucket, in one word.
//! Buckets that have refilled completely are dropped now and then (they
//! would admit the next request exactly as a new one does), so many
//! clients or paths do not grow the map without bound.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use dashmap::DashMap;
use http::{HeaderName, HeaderValue, StatusCode};

use super::{MwRequest, Reply};
use crate::components::Metadata;

/// Contrib's default `maxRequestsPerSecond`.
const DEFAULT_MAX: f64 = 100.0;
/// tollbooth's answer over the limit.
pub const MESSAGE: &str = "You have reached maximum request limit.";
/// New buckets between two sweeps of refilled ones.
const SWEEP_EVERY: usize = 4096;

/// The limiter of one component.
pub struct RateLimit {
    max: f64,
    burst: u64,
    /// Nanoseconds per token.
    interval: u64,
    epoch: Instant,
    /// Key → theoretical arrival time (ns since `epoch`).
    buckets: DashMap<String, AtomicU64>,
    created: AtomicUsize,
}

impl RateLimit {
    /// From `maxRequestsPerSecond` (default 100; must be positive).
    pub fn new(metadata: &Metadata) -> Result<Self, String> {
        let max = match metadata.get("maxRequestsPerSecond").map(str::trim) {
            None | Some("") => DEFAULT_MAX,
            Some(v) => v.parse::<f64>().map_err(|_| {
                format!("metadata property maxRequestsPerSecond: invalid number {v:?}")
            })?,
        };
        if !max.is_finite() || max <= 0.0 {
            return Err("metadata property maxRequestsPerSecond must be a positive value".into());
        }
        Ok(Self::per_second(max))
    }

    fn per_second(max: f64) -> Self {
        // Go's `int(math.Max(1, max))`.
        let burst = max.max(1.0) as u64;
        Self {
            max,
            burst,
            interval: ((1e9 / max) as u64).max(1),
            epoch: Instant::now(),
            buckets: DashMap::new(),
            created: AtomicUsize::new(0),
        }
    }

    pub(super) fn on_request<Q: MwRequest>(
        &self,
        req: &mut Q,
        out: &mut Vec<(HeaderName, HeaderValue)>,
    ) -> Result<(), Reply> {
        let mut ip = canonical_ip(client_ip(req));
        if ip.is_empty() {
            // Contrib: an unknown client counts as 0.0.0.0.
            req.headers_mut()
                .insert("x-forwarded-for", HeaderValue::from_static("0.0.0.0"));
            ip = "0.0.0.0".to_owned();
        }
        let header = |v: String| HeaderValue::try_from(v).ok();
        let mut add = |name: &'static str, value: Option<HeaderValue>| {
            if let Some(v) = value {
                out.push((HeaderName::from_static(name), v));
            }
        };
        add("x-rate-limit-limit", header(format!("{:.2}", self.max)));
        add("x-rate-limit-duration", Some(HeaderValue::from_static("1")));
        if let Some(xff) = req.headers().get("x-forwarded-for") {
            if !xff.as_bytes().trim_ascii().is_empty() {
                add("x-rate-limit-request-forwarded-for", Some(xff.clone()));
            }
        }
        add(
            "x-rate-limit-request-remote-addr",
            header(req.remote().map(|a| a.to_string()).unwrap_or_default()),
        );
        let key = format!("{ip}|{}|", req.path());
        let admitted = self.admit(&key);
        add(
            "ratelimit-limit",
            header((self.max.round() as i64).to_string()),
        );
        add("ratelimit-reset", Some(HeaderValue::from_static("1")));
        add(
            "ratelimit-remaining",
            header(admitted.unwrap_or(0).to_string()),
        );
        match admitted {
            Some(_) => Ok(()),
            None => Err(Reply::text(StatusCode::TOO_MANY_REQUESTS, MESSAGE)),
        }
    }

    /// Takes a token from `key`'s bucket: the tokens left, or `None` when
    /// there was none.
    fn admit(&self, key: &str) -> Option<u64> {
        let now = self.epoch.elapsed().as_nanos() as u64;
        if let Some(tat) = self.buckets.get(key) {
            return self.take(&tat, now);
        }
        let tat = self
            .buckets
            .entry(key.to_owned())
            .or_insert_with(|| AtomicU64::new(0))
            .downgrade();
        let result = self.take(&tat, now);
        drop(tat);
        if self.created.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let now = self.epoch.elapsed().as_nanos() as u64;
            self.buckets
                .retain(|_, tat| tat.load(Ordering::Relaxed) > now);
        }
        result
    }

    fn take(&self, tat: &AtomicU64, now: u64) -> Option<u64> {
        let window = self.burst.saturating_mul(self.interval);
        let mut current = tat.load(Ordering::Acquire);
        loop {
            let next = current.max(now).saturating_add(self.interval);
            let used = next - now;
            if used > window {
                return None;
            }
            match tat.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some((window - used) / self.interval),
                Err(seen) => current = seen,
            }
        }
    }
}

/// tollbooth's `RemoteIP` with contrib's lookups: the last
/// `X-Forwarded-For` entry, `X-Real-IP`, the peer's address.
fn client_ip<Q: MwRequest>(req: &Q) -> String {
    let text = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let xff = text("x-forwarded-for");
    if !xff.is_empty() {
        return xff.rsplit(',').next().unwrap_or("").trim().to_owned();
    }
    let real = text("x-real-ip");
    if !real.is_empty() {
        return real.to_owned();
    }
    match req.remote() {
        Some(addr) => addr.ip().to_canonical().to_string(),
        None => String::new(),
    }
}

/// tollbooth's `CanonicalizeIP`: IPv6 addresses masked to /64, the rest as is.
fn canonical_ip(ip: String) -> String {
    let looks_v6 = ip.bytes().find(|b| *b == b'.' || *b == b':') == Some(b':');
    if !looks_v6 {
        return ip;
    }
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => {
            let masked = u128::from(v6) & !((1u128 << 64) - 1);
            Ipv6Addr::from(masked).to_string()
        }
        _ => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_then_refill() {
        let rl = RateLimit::per_second(2.0);
        assert_eq!(rl.admit("a"), Some(1));
        assert_eq!(rl.admit("a"), Some(0));
        assert_eq!(rl.admit("a"), None);
        // Another key has its own bucket.
        assert_eq!(rl.admit("b"), Some(1));
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert!(rl.admit("a").is_some());
    }

    #[test]
    fn fractional_rates_hold_one_token() {
        let rl = RateLimit::per_second(0.5);
        assert_eq!(rl.admit("a"), Some(0));
        assert_eq!(rl.admit("a"), None);
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(
            canonical_ip("2001:db8:1:2:3:4:5:6".into()),
            "2001:db8:1:2::"
        );
        assert_eq!(canonical_ip("10.1.2.3".into()), "10.1.2.3");
        assert_eq!(canonical_ip("nonsense".into()), "nonsense");
    }

    #[test]
    fn metadata_is_checked() {
        let md = |v: &str| Metadata::from_pairs(&[("maxRequestsPerSecond", v)]);
        assert!(RateLimit::new(&md("0")).is_err());
        assert!(RateLimit::new(&md("-1")).is_err());
        assert!(RateLimit::new(&md("x")).is_err());
        assert_eq!(RateLimit::new(&md("10")).map(|r| r.burst), Ok(10));
        assert_eq!(
            RateLimit::new(&Metadata::default()).map(|r| r.burst),
            Ok(100)
        );
    }
}
