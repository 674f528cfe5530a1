//! A cached `Date` header value, refreshed at most once a second per worker.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
const DATE_LEN: usize = 29;

struct Cached {
    second: u64,
    bytes: [u8; DATE_LEN],
}

thread_local! {
    static CACHE: RefCell<Cached> = const { RefCell::new(Cached { second: u64::MAX, bytes: [0; DATE_LEN] }) };
}

/// Appends the current date (IMF-fixdate) to `dst`.
pub fn append_date(dst: &mut bytes::BytesMut) {
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.second != second {
            let text = httpdate::fmt_http_date(now);
            if text.len() == DATE_LEN {
                c.bytes.copy_from_slice(text.as_bytes());
                c.second = second;
            }
        }
        dst.extend_from_slice(&c.bytes);
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_is_imf_fixdate() {
        let mut b = bytes::BytesMut::new();
        super::append_date(&mut b);
        let s = std::str::from_utf8(&b).unwrap();
        assert!(httpdate::parse_http_date(s).is_ok(), "{s}");
    }
}
