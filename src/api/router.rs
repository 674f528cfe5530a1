//! Matches a method and path against [`ROUTES`] without allocating.
//!
//! Paths are cleaned the way Go daprd cleans them (`//` collapsed, `.` and
//! `..` resolved, a trailing slash dropped) before matching; parameters are
//! matched on the still-escaped path, so `%2F` inside a key stays inside one
//! segment, and are percent-decoded only when a handler asks for them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use http::Method;
use percent_encoding::percent_decode_str;

use super::routes::{ApiVersion, Route, ROUTES};

/// Most parameters any route has (`workflows/{c}/{id}/raiseEvent/{event}`).
const MAX_PARAMS: usize = 4;

/// A matched route plus its parameters, borrowing the request path.
#[derive(Debug)]
pub struct Match<'p> {
    /// The matched row.
    pub route: &'static Route,
    path: &'p str,
    params: [(&'static str, u32, u32); MAX_PARAMS],
    len: usize,
    label_end: usize,
}

impl<'p> Match<'p> {
    /// A parameter by template name, percent-decoded.
    pub fn param(&self, name: &str) -> Option<Cow<'p, str>> {
        self.raw_param(name)
            .map(|raw| percent_decode_str(raw).decode_utf8_lossy())
    }

    /// A parameter by template name, percent-decoded; empty when absent.
    pub fn param_or_empty(&self, name: &str) -> String {
        self.param(name).map(Cow::into_owned).unwrap_or_default()
    }

    /// A parameter by template name, still percent-encoded.
    pub fn raw_param(&self, name: &str) -> Option<&'p str> {
        self.params[..self.len]
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|&(_, s, e)| &self.path[s as usize..e as usize])
    }

    /// The metric `path` label: the path through the first parameter
    /// (`/v1.0/state/mystore` for `/v1.0/state/mystore/key`), as Go daprd
    /// normalises it, so cardinality is bounded by component names.
    pub fn metric_label(&self) -> &'p str {
        &self.path[..self.label_end]
    }
}

/// Cleans an escaped URL path like Go's `path.Clean`: collapses repeated
/// slashes, resolves `.` and `..`, and drops a trailing slash. Borrows when
/// the path is already clean (the common case).
pub fn clean_path(path: &str) -> Cow<'_, str> {
    let needs_work = !path.starts_with('/')
        || path.contains("//")
        || path.contains("/./")
        || path.contains("/../")
        || path.ends_with("/.")
        || path.ends_with("/..")
        || (path.len() > 1 && path.ends_with('/'));
    if !needs_work {
        return Cow::Borrowed(path);
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut cleaned = String::with_capacity(path.len());
    for seg in &out {
        cleaned.push('/');
        cleaned.push_str(seg);
    }
    if cleaned.is_empty() {
        cleaned.push('/');
    }
    Cow::Owned(cleaned)
}

/// Finds the route for `method` and a *cleaned* `path` (see [`clean_path`]).
/// `None` means the request falls through to service invocation.
pub fn find<'p>(method: &Method, path: &'p str) -> Option<Match<'p>> {
    let rest = path.strip_prefix('/')?;
    let (version_seg, rest) = rest.split_once('/')?;
    let version = ApiVersion::from_segment(version_seg)?;
    let rest_offset = 1 + version_seg.len() + 1;
    let first = rest.split('/').next().unwrap_or(rest);
    index()
        .get(&(version, first))?
        .iter()
        .filter(|r| r.methods.allows(method))
        .find_map(|r| match_template(r, path, rest, rest_offset))
}

/// Routes grouped by version and first template segment (every template
/// starts with a static segment), in table order within a group.
type Index = HashMap<(ApiVersion, &'static str), Vec<&'static Route>>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut idx: Index = HashMap::new();
        for r in ROUTES {
            let first = r.template.split('/').next().unwrap_or(r.template);
            idx.entry((r.version, first)).or_default().push(r);
        }
        idx
    })
}

fn match_template<'p>(
    route: &'static Route,
    path: &'p str,
    rest: &'p str,
    rest_offset: usize,
) -> Option<Match<'p>> {
    let mut m = Match {
        route,
        path,
        params: [("", 0, 0); MAX_PARAMS],
        len: 0,
        label_end: path.len(),
    };
    let mut tpl = route.template.split('/').peekable();
    let mut pos = 0usize; // offset into `rest`
    while let Some(t) = tpl.next() {
        if pos > rest.len() {
            return None;
        }
        let remaining = &rest[pos..];
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix("...}")) {
            // Greedy tail: the rest of the path, non-empty.
            if remaining.is_empty() || tpl.peek().is_some() {
                return None;
            }
            m.push(name, rest_offset + pos, rest_offset + rest.len());
            pos = rest.len() + 1;
            continue;
        }
        let seg_len = remaining.find('/').unwrap_or(remaining.len());
        let seg = &remaining[..seg_len];
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            if seg.is_empty() {
                return None;
            }
            m.push(name, rest_offset + pos, rest_offset + pos + seg_len);
        } else if seg != t {
            return None;
        }
        pos += seg_len + 1;
    }
    // Every path segment must be consumed.
    (pos > rest.len()).then_some(m)
}

impl Match<'_> {
    fn push(&mut self, name: &'static str, start: usize, end: usize) {
        if self.len == 0 {
            self.label_end = end;
        }
        if self.len < MAX_PARAMS {
            // Paths are bounded by the header limit, far below u32::MAX.
            self.params[self.len] = (name, start as u32, end as u32);
            self.len += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::routes::Op;

    fn op(method: Method, path: &str) -> Option<Op> {
        find(&method, &clean_path(path)).map(|m| m.route.op)
    }

    #[test]
    fn basic_routes() {
        assert_eq!(op(Method::GET, "/v1.0/healthz"), Some(Op::Healthz));
        assert_eq!(
            op(Method::GET, "/v1.0/healthz/outbound"),
            Some(Op::HealthzOutbound)
        );
        assert_eq!(op(Method::GET, "/v1.0/metadata"), Some(Op::GetMetadata));
        assert_eq!(
            op(Method::PUT, "/v1.0/metadata/cliPID"),
            Some(Op::SetMetadata)
        );
        assert_eq!(op(Method::POST, "/v1.0/shutdown"), Some(Op::Shutdown));
        assert_eq!(op(Method::GET, "/v1.0/state/s/k"), Some(Op::GetState));
        assert_eq!(op(Method::DELETE, "/v1.0/state/s/k"), Some(Op::DeleteState));
        assert_eq!(op(Method::POST, "/v1.0/state/s"), Some(Op::SaveState));
        assert_eq!(
            op(Method::PUT, "/v1.0/state/s/bulk"),
            Some(Op::GetBulkState)
        );
        assert_eq!(op(Method::GET, "/v1.0/state/s/bulk"), Some(Op::GetState));
        assert_eq!(
            op(Method::POST, "/v1.0-alpha1/state/s/query"),
            Some(Op::QueryState)
        );
    }

    #[test]
    fn wrong_method_or_unknown_path_falls_through() {
        assert_eq!(op(Method::POST, "/v1.0/healthz"), None);
        assert_eq!(op(Method::GET, "/orders"), None);
        assert_eq!(op(Method::GET, "/v2.0/healthz"), None);
        assert_eq!(op(Method::GET, "/v1.0/state/s/k/extra"), None);
        assert_eq!(op(Method::GET, "/"), None);
        assert_eq!(op(Method::GET, ""), None);
    }

    #[test]
    fn static_segments_win_over_params() {
        let m = find(&Method::POST, "/v1.0/publish/bulk/ps/a/b").unwrap();
        assert_eq!(m.route.op, Op::BulkPublishEvent);
        assert_eq!(m.param("pubsubname").unwrap(), "ps");
        assert_eq!(m.param("topic").unwrap(), "a/b");
        let m = find(&Method::POST, "/v1.0/publish/ps/orders/eu").unwrap();
        assert_eq!(m.route.op, Op::PublishEvent);
        assert_eq!(m.param("topic").unwrap(), "orders/eu");
    }

    #[test]
    fn greedy_tail_and_decoding() {
        let m = find(&Method::PATCH, "/v1.0/invoke/app.ns/method/a/b%20c").unwrap();
        assert_eq!(m.route.op, Op::InvokeService);
        assert_eq!(m.param("id").unwrap(), "app.ns");
        assert_eq!(m.param("method").unwrap(), "a/b c");
        assert_eq!(m.raw_param("method").unwrap(), "a/b%20c");
        assert!(find(&Method::GET, "/v1.0/invoke/app/method").is_none());
    }

    #[test]
    fn escaped_slash_stays_in_one_segment() {
        let m = find(&Method::GET, "/v1.0/state/s/a%2Fb").unwrap();
        assert_eq!(m.route.op, Op::GetState);
        assert_eq!(m.param("key").unwrap(), "a/b");
    }

    #[test]
    fn metric_label_keeps_first_param() {
        let m = find(&Method::GET, "/v1.0/state/mystore/k1").unwrap();
        assert_eq!(m.metric_label(), "/v1.0/state/mystore");
        let m = find(&Method::GET, "/v1.0/healthz").unwrap();
        assert_eq!(m.metric_label(), "/v1.0/healthz");
    }

    #[test]
    fn every_template_starts_with_a_static_segment() {
        for r in ROUTES {
            assert!(!r.template.starts_with('{'), "{}", r.template);
        }
    }

    #[test]
    fn path_cleaning() {
        assert_eq!(clean_path("/v1.0/healthz"), "/v1.0/healthz");
        assert!(matches!(clean_path("/v1.0/healthz"), Cow::Borrowed(_)));
        assert_eq!(clean_path("//v1.0//healthz/"), "/v1.0/healthz");
        assert_eq!(clean_path("/v1.0/x/../healthz"), "/v1.0/healthz");
        assert_eq!(clean_path("/./v1.0/./metadata"), "/v1.0/metadata");
        assert_eq!(clean_path("/../.."), "/");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("relative"), "/relative");
    }

    #[test]
    fn every_route_matches_its_own_template() {
        for r in ROUTES {
            let concrete = r
                .template
                .split('/')
                .map(|s| if s.starts_with('{') { "p" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let path = format!("/{}/{}", r.version.segment(), concrete);
            let method = match r.methods {
                crate::api::routes::Methods::Any => Method::GET,
                crate::api::routes::Methods::Only(ms) => ms[0].clone(),
            };
            let m = find(&method, &path).unwrap_or_else(|| panic!("{path} unmatched"));
            // An earlier, more specific row may legitimately win only if it is the same op
            // or a static-segment route; with "p" params no static route can shadow.
            assert_eq!(m.route.op, r.op, "{path}");
        }
    }
}
