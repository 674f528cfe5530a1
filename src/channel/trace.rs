//! W3C trace context for calls to the app: an incoming `traceparent` is
//! passed on; when there is none, a new one is started, as Go daprd does.

use std::cell::Cell;

use http::{HeaderMap, HeaderValue};

thread_local! {
    /// splitmix64 state, seeded per worker thread from the OS.
    static SEED: Cell<u64> = Cell::new(os_seed());
}

fn os_seed() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    u64::from_le_bytes(b) | 1
}

fn next() -> u64 {
    SEED.with(|s| {
        let mut z = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A fresh sampled W3C `traceparent` (new trace id and span id).
pub fn new_traceparent() -> String {
    String::from_utf8_lossy(&traceparent_bytes()).into_owned()
}

/// `00-<32 hex trace id>-<16 hex span id>-01`, formatted on the stack.
fn traceparent_bytes() -> [u8; 55] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-01";
    let mut put = |at: usize, v: u64| {
        for i in 0..16 {
            out[at + i] = HEX[((v >> (60 - 4 * i)) & 0xf) as usize];
        }
    };
    put(3, next());
    put(19, next());
    put(36, next());
    out
}

/// The caller's `traceparent` (a fresh one when absent) and `tracestate`.
pub fn context(headers: &HeaderMap) -> (String, String) {
    let get = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    (
        get("traceparent").unwrap_or_else(new_traceparent),
        get("tracestate").unwrap_or_default(),
    )
}

/// Adds a fresh sampled `traceparent` unless `headers` carry one.
pub fn ensure_traceparent(headers: &mut HeaderMap) {
    if headers.contains_key("traceparent") {
        return;
    }
    if let Ok(v) = HeaderValue::from_bytes(&traceparent_bytes()) {
        headers.insert("traceparent", v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_generated_once_and_well_formed() {
        let mut h = HeaderMap::new();
        ensure_traceparent(&mut h);
        let v = h["traceparent"].to_str().unwrap().to_owned();
        let parts: Vec<&str> = v.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [2, 32, 16, 2]
        );
        ensure_traceparent(&mut h);
        assert_eq!(h["traceparent"], v.as_str());
    }
}
