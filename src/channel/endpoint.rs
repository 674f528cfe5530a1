//! External HTTP endpoints: services outside Dapr that service invocation
//! calls by HTTPEndpoint name or by URL (Go's HTTP endpoint app channels).
//!
//! [`Endpoint`]s are built once at start-up (headers validated, secrets
//! read, TLS configured) and shared by every worker. Each worker keeps its
//! own keep-alive [`Client`] per endpoint in [`Externals`]: host names are
//! resolved on the blocking pool (never on the worker) when the client is
//! made and again at most every [`RESOLVE_EVERY`], as Go's dialer looks a
//! name up per connection.
//!
//! TLS (`https://`) as Go's endpoint channels: the server certificate is
//! checked against `spec.clientTLS.rootCA` when it is set (only that CA,
//! Go's `RootCAs`), else the system's roots; `certificate` + `privateKey`
//! are presented when the server asks.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use crate::http::client::{Client, TlsTarget};
use crate::net::tls;

/// How long a resolved address is used before the name is looked up again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(30);
/// URL-form clients kept per worker (the map is emptied when full).
const MAX_URL_CLIENTS: usize = 256;
/// The longest pause while a response body arrives.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// A parsed `http://` or `https://` base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    /// The URL as written (error messages print the request URL from it).
    pub url: String,
    /// `https://`.
    pub https: bool,
    /// The host: a name or an IP address (without brackets).
    pub host: String,
    /// The port (80 or 443 by default).
    pub port: u16,
    /// `host[:port]` as written: the `Host` header.
    pub authority: String,
    /// What follows the authority (a path prefix), possibly empty.
    pub path: String,
}

impl BaseUrl {
    /// Parses `url`; the error says what is wrong.
    pub fn parse(url: &str) -> Result<BaseUrl, String> {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        let (https, rest) = if lower.starts_with("https://") {
            (true, &url[8..])
        } else if lower.starts_with("http://") {
            (false, &url[7..])
        } else {
            return Err(format!("unsupported protocol scheme in {url:?}"));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        // User info is not sent (Go would make it basic auth).
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, tail) = v6
                .split_once(']')
                .ok_or_else(|| format!("invalid host in {url:?}"))?;
            let port = match tail.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| format!("invalid port in {url:?}"))?,
                None if tail.is_empty() => default_port,
                None => return Err(format!("invalid host in {url:?}")),
            };
            (h, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    if p.is_empty() {
                        default_port
                    } else {
                        p.parse().map_err(|_| format!("invalid port in {url:?}"))?
                    },
                ),
                None => (authority, default_port),
            }
        };
        if host.is_empty() {
            return Err(format!("no host in {url:?}"));
        }
        Ok(BaseUrl {
            url: url.to_owned(),
            https,
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path: path.split('#').next().unwrap_or("").to_owned(),
        })
    }
}

/// An external endpoint, ready to be called.
#[derive(Debug)]
pub struct Endpoint {
    /// The HTTPEndpoint's name, or the URL for a URL-form call.
    pub name: String,
    /// Where it is.
    pub base: BaseUrl,
    /// `spec.headers`, set on every request (replacing the caller's).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// TLS for `https://`.
    tls: Option<Arc<ClientConfig>>,
    /// The `Host` header.
    host: HeaderValue,
}

/// The TLS material of an HTTPEndpoint (`spec.clientTLS`), resolved.
#[derive(Default)]
pub struct ClientTls {
    /// `rootCA` (PEM).
    pub root_ca: Option<String>,
    /// `certificate` (PEM).
    pub certificate: Option<String>,
    /// `privateKey` (PEM).
    pub private_key: Option<String>,
}

impl Endpoint {
    /// An HTTPEndpoint: `headers` as given (name, value), TLS from `tls`.
    /// The error says what is wrong (Go's texts where it has one).
    pub fn new(
        name: &str,
        base_url: &str,
        headers: &[(String, String)],
        tls: &ClientTls,
    ) -> Result<Endpoint, String> {
        let base = BaseUrl::parse(base_url)?;
        let mut parsed = Vec::with_capacity(headers.len());
        for (n, v) in headers {
            let hn = HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| format!("invalid header name {n:?}"))?;
            let hv =
                HeaderValue::from_str(v).map_err(|_| format!("invalid value for header {n:?}"))?;
            parsed.push((hn, hv));
        }
        let verify = match tls.root_ca.as_deref() {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                let certs = tls::pem_certs(ca).map_err(|_| {
                    format!("failed to add root cert to cert pool for http endpoint {name}")
                })?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(format!(
                        "failed to add root cert to cert pool for http endpoint {name}"
                    ));
                }
                tls::Verify::Roots(roots)
            }
            None => tls::Verify::System,
        };
        // Go loads the pair when a private key is given.
        let identity = match tls.private_key.as_deref() {
            Some(key) => {
                let fail = |e: String| {
                    format!("failed to load client certificate for http endpoint {name}: {e}")
                };
                let cert = tls.certificate.as_deref().unwrap_or("");
                Some((
                    tls::pem_certs(cert).map_err(fail)?,
                    tls::pem_key(key).map_err(fail)?,
                ))
            }
            None => None,
        };
        let custom = matches!(verify, tls::Verify::Roots(_)) || identity.is_some();
        let config = match (base.https, custom) {
            (false, _) => None,
            (true, false) => Some(system_config()?),
            (true, true) => Some(tls::client_config(verify, identity)?),
        };
        Self::build(name, base, parsed, config)
    }

    /// A URL-form call's endpoint (`http(s)://host[:port]`): no headers,
    /// system roots.
    pub fn for_url(url: &str) -> Result<Endpoint, String> {
        let base = BaseUrl::parse(url)?;
        let config = if base.https {
            Some(system_config()?)
        } else {
            None
        };
        Self::build(url, base, Vec::new(), config)
    }

    fn build(
        name: &str,
        base: BaseUrl,
        headers: Vec<(HeaderName, HeaderValue)>,
        tls: Option<Arc<ClientConfig>>,
    ) -> Result<Endpoint, String> {
        let host = HeaderValue::from_str(&base.authority)
            .map_err(|_| format!("invalid host {:?}", base.authority))?;
        if tls.is_some() {
            ServerName::try_from(base.host.as_str()).map_err(|e| {
                format!(
                    "{:?} cannot be checked against a TLS certificate: {e}",
                    base.host
                )
            })?;
        }
        Ok(Endpoint {
            name: name.to_owned(),
            base,
            headers,
            tls,
            host,
        })
    }

    /// The request target for `method` (raw, without a leading `/`) and
    /// `query`, as Go builds the URL: the base URL's path, `/`, the method.
    pub fn target(&self, method: &str, query: Option<&str>) -> String {
        let mut t = String::with_capacity(self.base.path.len() + method.len() + 2);
        t.push_str(&self.base.path);
        if !method.is_empty() {
            t.push('/');
            t.push_str(method);
        }
        if !t.starts_with('/') {
            t.insert(0, '/');
        }
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            t.push('?');
            t.push_str(q);
        }
        t
    }

    /// The full URL of a request to `target` (for error messages, as Go
    /// prints them).
    pub fn url_of(&self, target: &str) -> String {
        let scheme = if self.base.https { "https" } else { "http" };
        format!("{scheme}://{}{target}", self.base.authority)
    }
}

/// The system-roots configuration, built once per process.
fn system_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| tls::client_config(tls::Verify::System, None))
        .clone()
}

/// Every HTTPEndpoint, by name (shared by all workers, read-only).
#[derive(Debug, Default)]
pub struct Endpoints(HashMap<String, Arc<Endpoint>>);

impl Endpoints {
    /// The table of `endpoints` (later names replace earlier ones).
    pub fn new(endpoints: Vec<Endpoint>) -> Self {
        Self(
            endpoints
                .into_iter()
                .map(|e| (e.name.clone(), Arc::new(e)))
                .collect(),
        )
    }

    /// The endpoint called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Endpoint>> {
        self.0.get(name)
    }

    /// Their names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.0.keys().cloned().collect();
        n.sort();
        n
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

struct Pooled {
    client: Rc<Client>,
    /// When the name was last resolved (`None`: an IP address, never).
    resolved: Cell<Option<Instant>>,
}

/// A worker's clients of external endpoints, by HTTPEndpoint name or URL
/// authority.
#[derive(Default)]
pub struct Externals {
    named: RefCell<HashMap<String, Rc<Pooled>>>,
    urls: RefCell<HashMap<String, Rc<Pooled>>>,
}

impl Externals {
    /// This worker's client of `ep` (a URL-form one when `by_url`); the
    /// error is Go's lookup failure (`dial tcp: lookup …`).
    pub async fn client(
        &self,
        ep: &Endpoint,
        by_url: bool,
        max_body: usize,
    ) -> Result<Rc<Client>, String> {
        let map = if by_url { &self.urls } else { &self.named };
        let key = if by_url {
            format!(
                "{}://{}",
                if ep.base.https { "s" } else { "" },
                ep.base.authority
            )
        } else {
            ep.name.clone()
        };
        let found = map.borrow().get(&key).cloned();
        if let Some(p) = found {
            if let Some(at) = p.resolved.get() {
                if at.elapsed() >= RESOLVE_EVERY {
                    // Keep the old address if the lookup fails now.
                    if let Ok(addr) = resolve(&ep.base).await {
                        p.client.set_addr(addr);
                    }
                    p.resolved.set(Some(Instant::now()));
                }
            }
            return Ok(p.client.clone());
        }
        let addr = resolve(&ep.base).await?;
        let tls = ep.tls.as_ref().and_then(|config| {
            ServerName::try_from(ep.base.host.as_str())
                .ok()
                .map(|name| TlsTarget {
                    config: config.clone(),
                    name: name.to_owned(),
                })
        });
        let client = Client::with_tls(addr, ep.host.clone(), tls, max_body, BODY_TIMEOUT);
        let is_ip = ep.base.host.parse::<IpAddr>().is_ok();
        let pooled = Rc::new(Pooled {
            client: client.clone(),
            resolved: Cell::new((!is_ip).then(Instant::now)),
        });
        let mut map = map.borrow_mut();
        if by_url && map.len() >= MAX_URL_CLIENTS {
            map.clear();
        }
        map.insert(key, pooled);
        Ok(client)
    }
}

/// The address of `base`: an IP address as it is, a name looked up on
/// the blocking pool.
async fn resolve(base: &BaseUrl) -> Result<SocketAddr, String> {
    if let Ok(ip) = base.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, base.port));
    }
    let (host, port) = (base.host.clone(), base.port);
    let lookup = host.clone();
    let found = crate::components::blocking::run(move || {
        (lookup.as_str(), port)
            .to_socket_addrs()
            .map(|mut a| a.next())
    })
    .await;
    match found {
        Some(Ok(Some(addr))) => Ok(addr),
        _ => Err(format!("dial tcp: lookup {host}: no such host")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_parse_as_go_reads_them() {
        let b = BaseUrl::parse("https://api.example.com/v2").unwrap();
        assert!(b.https);
        assert_eq!((b.host.as_str(), b.port), ("api.example.com", 443));
        assert_eq!(
            (b.authority.as_str(), b.path.as_str()),
            ("api.example.com", "/v2")
        );
        let b = BaseUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.path.as_str()),
            ("::1", 8080, "")
        );
        let b = BaseUrl::parse("HTTP://127.0.0.1:9/").unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.path.as_str()),
            ("127.0.0.1", 9, "/")
        );
        assert!(BaseUrl::parse("ftp://x").is_err());
        assert!(BaseUrl::parse("http://:80").is_err());
        assert!(BaseUrl::parse("http://h:port").is_err());
    }

    #[test]
    fn targets_join_as_go_joins_them() {
        let ep = Endpoint::for_url("http://h:1").unwrap();
        assert_eq!(ep.target("a/b", Some("x=1")), "/a/b?x=1");
        assert_eq!(ep.target("", None), "/");
        assert_eq!(ep.url_of("/a"), "http://h:1/a");
        let ep = Endpoint::new("e", "http://h/v2/", &[], &ClientTls::default()).unwrap();
        // Go concatenates: base URL, `/`, method.
        assert_eq!(ep.target("m", None), "/v2//m");
        let bad = Endpoint::new(
            "e",
            "http://h",
            &[("bad name".into(), "v".into())],
            &ClientTls::default(),
        );
        assert!(bad.unwrap_err().contains("invalid header name"));
        let bad_ca = ClientTls {
            root_ca: Some("not pem".into()),
            ..ClientTls::default()
        };
        assert_eq!(
            Endpoint::new("e", "https://h", &[], &bad_ca).unwrap_err(),
            "failed to add root cert to cert pool for http endpoint e"
        );
    }
}
