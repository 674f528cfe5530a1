//! `middleware.http.routerchecker`: contrib's check of the request target
//! against the `rule` regular expression; a target that does not match gets
//! 400 "invalid router" (`text/plain; charset=utf-8`).

use http::StatusCode;
use regex::Regex;

use super::{MwRequest, Reply};
use crate::components::Metadata;

/// One component's rule.
pub struct RouterChecker {
    rule: Regex,
}

impl RouterChecker {
    /// From `rule` (Go's RE2 syntax, which the `regex` crate shares; unset
    /// matches everything, as Go's empty expression).
    pub fn new(metadata: &Metadata) -> Result<Self, String> {
        let rule = metadata.get("rule").unwrap_or("");
        let rule = Regex::new(rule).map_err(|e| format!("failed to compile rule regexp: {e}"))?;
        Ok(Self { rule })
    }

    pub(super) fn on_request<Q: MwRequest>(&self, req: &Q) -> Result<(), Reply> {
        // contrib's `httputils.RequestURI`: the escaped path, then the query.
        let path = match req.path() {
            "" => "/",
            p => p,
        };
        let pass = match req.query() {
            Some(q) => self.rule.is_match(&format!("{path}?{q}")),
            None => self.rule.is_match(path),
        };
        if pass {
            Ok(())
        } else {
            Err(Reply::text(StatusCode::BAD_REQUEST, "invalid router"))
        }
    }
}
