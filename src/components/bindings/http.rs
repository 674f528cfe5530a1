//! `bindings.http` (output): one HTTP request per call to `url` (contrib's
//! `bindings/http`), over a per-worker keep-alive pool
//! ([`crate::http::client`], pointed at the URL's server).
//!
//! - Operations are verbs: `create` (= POST, for compatibility), `get`,
//!   `head`, `post`, `put`, `patch`, `delete`, `options`, `trace`. Only
//!   POST, PUT and PATCH send the data.
//! - Request metadata `path` is appended as Go appends it (`url` without
//!   trailing `/`, then `/`, then `path` without leading `/`, on the whole
//!   URL string). Metadata keys starting with a capital letter become
//!   request headers; `Content-Type` (with a body) and `Accept` default to
//!   `application/json; charset=utf-8`; `traceparent`, `tracestate` and
//!   `baggage` metadata are sent as headers; `securityToken` goes in
//!   `securityTokenHeader`; `user:password@` in the URL becomes basic auth.
//! - The answer's data is the response body (cut at `maxResponseBodySize`,
//!   default `100Mi`, silently, as Go's `LimitReader`); its metadata holds
//!   `statusCode`, `status` and every response header (Go's canonical names,
//!   values joined with `, `).
//! - A non-2xx status is an error (`received status code 404`) that still
//!   carries that metadata, unless `errorIfNot2XX` (component or request
//!   metadata) is false. `responseTimeout` bounds the whole call (`context
//!   deadline exceeded`). Transport failures read as Go's client errors
//!   (`Post "http://…": dial tcp …: connect: connection refused`).
//!
//! Not supported (start-up fails naming the field): `https://` URLs and the
//! `MTLS*` fields (no TLS stack yet). Not done: following redirects (Go's
//! client follows up to ten); the host name is resolved once, at start-up.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::{
    failure, is_truthy, os_error_text, InvokeRequest, InvokeResponse, InvokeResult, OutputBinding,
};
use crate::components::Metadata;
use crate::config::options::parse_go_duration;
use crate::http::client::{Client, ClientError, ClientRequest, OutBody};

/// Go's default `maxResponseBodySize`: 100 MiB.
const DEFAULT_MAX_RESPONSE: u64 = 100 << 20;
/// The longest pause while a response body arrives.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// `application/json; charset=utf-8`, Go's default `Content-Type` and `Accept`.
const JSON_UTF8: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// The parsed component configuration (shared by every worker).
#[derive(Debug)]
struct Config {
    /// The URL without user info (`path` is appended to this string).
    url: String,
    /// `http://authority`, the prefix of `url` before the request target.
    base: String,
    /// The `Host` header.
    host: HeaderValue,
    /// Where to connect.
    addr: SocketAddr,
    /// `Authorization` from the URL's user info.
    basic_auth: Option<HeaderValue>,
    /// `responseTimeout`.
    response_timeout: Option<Duration>,
    /// `maxResponseBodySize` (`None`: no limit).
    max_response: Option<u64>,
    /// `errorIfNot2XX` (default true).
    error_if_not_2xx: bool,
    /// `securityTokenHeader` and `securityToken`.
    security: Option<(HeaderName, HeaderValue)>,
}

/// Built on the main thread: metadata parsed, the host resolved.
pub struct HttpBindingFactory {
    config: Arc<Config>,
}

impl HttpBindingFactory {
    /// Parses the metadata (Go's `Init`).
    pub fn new(md: &Metadata) -> Result<Self, String> {
        for field in [
            "MTLSRootCA",
            "MTLSClientCert",
            "MTLSClientKey",
            "MTLSRenegotiation",
        ] {
            if md.get(field).is_some_and(|v| !v.is_empty()) {
                return Err(format!(
                    "{field}: TLS is not supported yet by the http binding"
                ));
            }
        }
        let url = md.get("url").unwrap_or("").trim().to_owned();
        if url.is_empty() {
            return Err("url is required".into());
        }
        let lower = url.to_ascii_lowercase();
        let rest = if lower.starts_with("http://") {
            &url[7..]
        } else if lower.starts_with("https://") {
            return Err(format!(
                "url {url:?}: https is not supported yet by the http binding"
            ));
        } else {
            return Err(format!(
                "url {url:?}: unsupported protocol scheme (http:// expected)"
            ));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if hostport.is_empty() {
            return Err(format!("url {url:?} has no host"));
        }
        let addr =
            resolve(hostport).ok_or_else(|| format!("url {url:?}: cannot resolve {hostport}"))?;
        let host = HeaderValue::from_str(hostport)
            .map_err(|_| format!("url {url:?}: invalid host {hostport:?}"))?;
        let basic_auth = match userinfo {
            None => None,
            Some(u) => {
                let decoded = percent_encoding::percent_decode_str(u).decode_utf8_lossy();
                let token = base64::engine::general_purpose::STANDARD.encode(decoded.as_bytes());
                Some(
                    HeaderValue::from_str(&format!("Basic {token}"))
                        .map_err(|_| format!("url {url:?}: invalid user info"))?,
                )
            }
        };
        let response_timeout = match md.get("responseTimeout").map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(match v.parse::<u64>() {
                Ok(ms) => Duration::from_millis(ms),
                Err(_) => {
                    parse_go_duration(v).map_err(|e| format!("responseTimeout {v:?}: {e}"))?
                }
            }),
        };
        let max_response = match md.get("maxResponseBodySize").map(str::trim) {
            None | Some("") => Some(DEFAULT_MAX_RESPONSE),
            Some(v) => {
                let n = parse_byte_size(v)
                    .ok_or_else(|| format!("invalid value for maxResponseBodySize: {v:?}"))?;
                u64::try_from(n).ok().filter(|n| *n > 0)
            }
        };
        let error_if_not_2xx = match md.get("errorIfNot2XX") {
            Some(v) if !v.is_empty() => is_truthy(v),
            _ => true,
        };
        let security = match (md.get("securityToken"), md.get("securityTokenHeader")) {
            (Some(t), Some(h)) if !t.is_empty() && !h.is_empty() => Some((
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| format!("securityTokenHeader {h:?} is not a header name"))?,
                HeaderValue::from_str(t)
                    .map_err(|_| "securityToken is not a valid header value".to_owned())?,
            )),
            _ => None,
        };
        Ok(Self {
            config: Arc::new(Config {
                base: format!("http://{hostport}"),
                url: format!("http://{hostport}{tail}"),
                host,
                addr,
                basic_auth,
                response_timeout,
                max_response,
                error_if_not_2xx,
                security,
            }),
        })
    }

    /// This worker's instance (its own keep-alive pool).
    pub fn build(&self) -> HttpBinding {
        let c = &self.config;
        HttpBinding {
            client: Client::with_host(c.addr, c.host.clone(), usize::MAX, BODY_TIMEOUT),
            config: c.clone(),
        }
    }
}

/// `host[:port]` (port 80 by default; `[v6]` accepted) to an address.
fn resolve(hostport: &str) -> Option<SocketAddr> {
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p))
            if (!h.contains(':') || h.ends_with(']'))
                && !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (h, p.parse::<u16>().ok()?)
        }
        _ => (hostport, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, port).to_socket_addrs().ok()?.next()
}

/// dapr/kit's `ByteSize`: a number of bytes, or a Kubernetes quantity
/// (`100Mi`, `1G`, `512k`).
fn parse_byte_size(v: &str) -> Option<i64> {
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '-' || c == '+' || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let n: f64 = num.parse().ok()?;
    Some((n * mult).ceil() as i64)
}

/// A worker's HTTP binding.
pub struct HttpBinding {
    client: Rc<Client>,
    config: Arc<Config>,
}

const OPERATIONS: &[&str] = &[
    "create", "get", "head", "post", "put", "patch", "delete", "options", "trace",
];

impl OutputBinding for HttpBinding {
    fn operations(&self) -> &[&'static str] {
        OPERATIONS
    }

    async fn invoke(&self, req: InvokeRequest) -> InvokeResult {
        let c = &self.config;
        let md = &req.metadata;
        let mut url = c.url.clone();
        if let Some(path) = md.get("path").filter(|p| !p.is_empty()) {
            url = format!(
                "{}/{}",
                url.trim_end_matches('/'),
                path.trim_start_matches('/')
            );
        }
        let error_if_not_2xx = match md.get("errorIfNot2XX") {
            Some(v) if !v.is_empty() => is_truthy(v),
            _ => c.error_if_not_2xx,
        };
        let verb = req.operation.to_ascii_uppercase();
        let verb = if verb == "CREATE" {
            "POST".to_owned()
        } else {
            verb
        };
        let (method, with_body) = match verb.as_str() {
            "PUT" => (Method::PUT, true),
            "POST" => (Method::POST, true),
            "PATCH" => (Method::PATCH, true),
            "GET" => (Method::GET, false),
            "HEAD" => (Method::HEAD, false),
            "DELETE" => (Method::DELETE, false),
            "OPTIONS" => (Method::OPTIONS, false),
            "TRACE" => (Method::TRACE, false),
            _ => return Err(failure(format!("invalid operation: {}", req.operation)).into()),
        };
        // Go's `url.Error`: `Post "http://…": <cause>`.
        let op = {
            let lower = verb.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|f| f.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        };
        let fail = |cause: &str| failure(format!("{op} \"{url}\": {cause}"));

        let mut headers = HeaderMap::new();
        if with_body && !md.contains_key("Content-Type") {
            headers.insert(http::header::CONTENT_TYPE, JSON_UTF8);
        }
        if !md.contains_key("Accept") {
            headers.insert(http::header::ACCEPT, JSON_UTF8);
        }
        if let Some(auth) = &c.basic_auth {
            headers.insert(http::header::AUTHORIZATION, auth.clone());
        }
        if let Some((name, value)) = &c.security {
            headers.insert(name.clone(), value.clone());
        }
        let mut keys: Vec<&String> = md.keys().collect();
        keys.sort();
        for k in keys {
            let v = &md[k];
            let traced = matches!(k.as_str(), "traceparent" | "tracestate" | "baggage");
            if !(k.starts_with(|c: char| c.is_ascii_uppercase()) || (traced && !v.is_empty())) {
                continue;
            }
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| fail(&format!("net/http: invalid header field name {k:?}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| fail(&format!("net/http: invalid header field value for {k:?}")))?;
            headers.insert(name, value);
        }

        let target = request_target(&url[c.base.len().min(url.len())..]);
        let mut request = ClientRequest {
            method: method.clone(),
            target,
            headers,
            body: OutBody::Full(if with_body {
                req.data.clone()
            } else {
                Bytes::new()
            }),
        };
        let exchange = async {
            let resp = self.client.send(&mut request).await.map_err(|e| match e {
                ClientError::Connect { addr, source } => {
                    format!("dial tcp {addr}: connect: {}", os_error_text(&source))
                }
                other => other.to_string(),
            })?;
            let known_len = resp
                .stream
                .as_ref()
                .map_or(Some(resp.body.len() as u64), |s| s.len);
            let body = match resp.stream {
                None => cut(resp.body, c.max_response),
                Some(mut stream) => {
                    let limit = c.max_response.unwrap_or(u64::MAX);
                    let mut out = BytesMut::new();
                    while (out.len() as u64) < limit {
                        match stream.next().await {
                            Some(Ok(chunk)) => out.extend_from_slice(&chunk),
                            Some(Err(e)) => return Err(format!("{e}")),
                            None => break,
                        }
                    }
                    cut(out.freeze(), c.max_response)
                }
            };
            Ok::<_, String>((resp.status, resp.headers, known_len, body))
        };
        let result = match c.response_timeout {
            Some(t) => match monoio::time::timeout(t, exchange).await {
                Ok(r) => r,
                Err(_) => Err("context deadline exceeded".to_owned()),
            },
            None => exchange.await,
        };
        let (status, resp_headers, known_len, body) = result.map_err(|cause| fail(&cause))?;

        let mut metadata: HashMap<String, String> =
            HashMap::with_capacity(resp_headers.keys_len() + 3);
        metadata.insert("statusCode".into(), status.as_u16().to_string());
        metadata.insert(
            "status".into(),
            format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_owned(),
        );
        for name in resp_headers.keys() {
            let values: Vec<String> = resp_headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            metadata.insert(canonical_header(name.as_str()), values.join(", "));
        }
        if let (Some(n), false) = (known_len, method == Method::HEAD) {
            metadata.insert("Content-Length".into(), n.to_string());
        }
        let response = InvokeResponse {
            data: body,
            metadata,
        };
        if error_if_not_2xx && !status.is_success() {
            return Err(super::InvokeFailure {
                error: failure(format!("received status code {}", status.as_u16())),
                response: Some(response),
            });
        }
        Ok(Some(response))
    }
}

fn cut(b: Bytes, limit: Option<u64>) -> Bytes {
    match limit {
        Some(n) if (b.len() as u64) > n => b.slice(..n as usize),
        _ => b,
    }
}

/// The request target of what follows the authority: fragment dropped,
/// `/` added, bytes a request line cannot carry percent-encoded (as Go's
/// URL encoding does).
fn request_target(rest: &str) -> String {
    let rest = rest.split('#').next().unwrap_or("");
    let mut out = String::with_capacity(rest.len() + 1);
    if !rest.starts_with('/') {
        out.push('/');
    }
    for b in rest.bytes() {
        if b.is_ascii_graphic()
            && !matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `content-type` → `Content-Type`.
pub fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c.to_ascii_lowercase());
        }
        upper = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Metadata {
        Metadata::from_pairs(pairs)
    }

    #[test]
    fn metadata_is_checked() {
        assert!(HttpBindingFactory::new(&md(&[])).is_err());
        let e = HttpBindingFactory::new(&md(&[("url", "https://x")]))
            .err()
            .unwrap();
        assert!(e.contains("https"), "{e}");
        let e = HttpBindingFactory::new(&md(&[("url", "http://127.0.0.1:1"), ("MTLSRootCA", "x")]))
            .err()
            .unwrap();
        assert!(e.contains("MTLSRootCA"), "{e}");
        let f = HttpBindingFactory::new(&md(&[
            ("url", "http://u:p@127.0.0.1:8080/api?x=1"),
            ("responseTimeout", "2s"),
            ("maxResponseBodySize", "1Ki"),
        ]))
        .unwrap();
        let c = &f.config;
        assert_eq!(c.url, "http://127.0.0.1:8080/api?x=1");
        assert_eq!(c.base, "http://127.0.0.1:8080");
        assert_eq!(c.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.basic_auth.as_ref().unwrap(), "Basic dTpw");
        assert_eq!(c.response_timeout, Some(Duration::from_secs(2)));
        assert_eq!(c.max_response, Some(1024));
        assert!(c.error_if_not_2xx);
        let f = HttpBindingFactory::new(&md(&[
            ("url", "http://localhost"),
            ("maxResponseBodySize", "0"),
        ]))
        .unwrap();
        assert_eq!(f.config.max_response, None);
        assert_eq!(f.config.addr.port(), 80);
    }

    #[test]
    fn targets_and_names() {
        assert_eq!(request_target(""), "/");
        assert_eq!(request_target("/a b?x=1#frag"), "/a%20b?x=1");
        assert_eq!(request_target("?q"), "/?q");
        assert_eq!(canonical_header("content-type"), "Content-Type");
        assert_eq!(canonical_header("x-APP"), "X-App");
        assert_eq!(parse_byte_size("100Mi"), Some(100 << 20));
        assert_eq!(parse_byte_size("512"), Some(512));
        assert_eq!(parse_byte_size("1x"), None);
    }
}
