//! `middleware.http.uppercase`: Go daprd's sample middleware, which
//! uppercases the request body (`direction: request`, the default), the
//! response body (`response`) or both (`both`).
//!
//! Go transforms the body as it streams; here a body is read whole (up to
//! the body limit) and uppercased, rune by rune with Go's `unicode.ToUpper`
//! (one rune to one rune; invalid UTF-8 becomes U+FFFD, as Go's range over a
//! string reads it).

use bytes::Bytes;
use http::StatusCode;

use super::{MwRequest, MwResponse, Reply};
use crate::components::Metadata;

/// Which bodies are uppercased.
pub struct Uppercase {
    request: bool,
    response: bool,
}

impl Uppercase {
    /// From `direction` (`request`, `response`, `both`; anything else: request).
    pub fn new(metadata: &Metadata) -> Self {
        let direction = metadata.get("direction").unwrap_or("").to_ascii_lowercase();
        let (request, response) = match direction.as_str() {
            "response" => (false, true),
            "both" => (true, true),
            _ => (true, false),
        };
        Self { request, response }
    }

    pub(super) async fn on_request<Q: MwRequest>(
        &self,
        req: &mut Q,
        max_body: usize,
    ) -> Result<(), Reply> {
        if !self.request {
            return Ok(());
        }
        match req.take_body().collect(max_body).await {
            Ok(body) => {
                req.put_body(uppercase(&body));
                Ok(())
            }
            Err(e) => Err(Reply::text(StatusCode::BAD_REQUEST, &e)),
        }
    }

    pub(super) async fn on_response<P: MwResponse>(&self, resp: &mut P, max_body: usize) {
        if !self.response {
            return;
        }
        match resp.take_body().collect(max_body).await {
            Ok(body) => resp.put_body(uppercase(&body)),
            Err(e) => {
                tracing::warn!(error = %e, "uppercase middleware: cannot read the response body")
            }
        }
    }
}

/// Go's per-rune `unicode.ToUpper` (simple case mapping: a rune whose
/// uppercase is several characters stays as it is).
pub fn uppercase(body: &[u8]) -> Bytes {
    if body.is_ascii() {
        return Bytes::from(body.to_ascii_uppercase());
    }
    let text = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let mut up = c.to_uppercase();
        match (up.next(), up.next()) {
            (Some(u), None) => out.push(u),
            _ => out.push(c),
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn runes_map_one_to_one() {
        assert_eq!(&super::uppercase(b"hello")[..], b"HELLO");
        assert_eq!(
            &super::uppercase("straße é".as_bytes())[..],
            "STRAßE É".as_bytes()
        );
        assert_eq!(&super::uppercase(b"a\xffb")[..], "A\u{fffd}B".as_bytes());
    }
}
