//! A small blocking HTTP/1.1 client for the identity-provider calls of the
//! auth middlewares: OIDC discovery and JWKS (`bearer`, at start-up on the
//! main thread and then on its refresh thread) and the token endpoint
//! (`oauth2clientcredentials`, on the blocking pool). None of it runs on a
//! worker.
//!
//! One request per connection (`Connection: close`), `http://` or
//! `https://` (rustls, the system's trusted roots, as Go's default client);
//! every socket operation has a timeout, and the answer is cut at
//! [`MAX_ANSWER`] bytes.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use http::Uri;

use crate::net::tls;

/// The largest answer read (a key set or a token is a few KiB).
pub const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// An answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers (names lowercase).
    pub headers: Vec<(String, String)>,
    /// The body (chunked framing removed).
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A URL the client can call: scheme, host, port, target.
#[derive(Debug, Clone)]
pub struct Target {
    tls: bool,
    host: String,
    port: u16,
    authority: String,
    path_and_query: String,
}

impl Target {
    /// Parses an absolute `http://` or `https://` URL.
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(format!(
                    "invalid URL {url:?}: the scheme must be http or https"
                ))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("invalid URL {url:?}: no host"))?;
        let host = authority.host();
        if host.is_empty() {
            return Err(format!("invalid URL {url:?}: no host"));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path_and_query = match uri.path_and_query() {
            Some(pq) if pq.as_str().starts_with('/') => pq.as_str().to_owned(),
            Some(pq) => format!("/{}", pq.as_str()),
            None => "/".to_owned(),
        };
        Ok(Self {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            authority: authority
                .as_str()
                .rsplit('@')
                .next()
                .unwrap_or("")
                .to_owned(),
            path_and_query,
        })
    }
}

/// One request; `timeout` bounds the whole exchange.
pub fn call(
    method: &str,
    target: &Target,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Answer, String> {
    let deadline = Instant::now() + timeout;
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| format!("lookup {}: {e}", target.host))?
        .collect();
    let mut last = None;
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(format!("dial tcp {addr}: {e}")),
        }
    }
    let tcp =
        tcp.ok_or_else(|| last.unwrap_or_else(|| format!("lookup {}: no address", target.host)))?;
    let _ = tcp.set_nodelay(true);
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: daprd\r\nAccept-Encoding: identity\r\nConnection: close\r\n",
        target.path_and_query, target.authority
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let raw = if target.tls {
        let config = tls::client_config(tls::Verify::System, None)?;
        let name = tls::server_name(&target.host)?;
        let session =
            rustls::ClientConnection::new(config, name).map_err(|e| format!("tls: {e}"))?;
        set_timeouts(&tcp, deadline)?;
        let mut stream = tls::blocking(session, tcp).map_err(|e| format!("tls: {e}"))?;
        exchange(&mut stream, head.as_bytes(), body, deadline, |s| {
            set_timeouts(&s.sock, deadline)
        })?
    } else {
        let mut tcp = tcp;
        exchange(&mut tcp, head.as_bytes(), body, deadline, |s| {
            set_timeouts(s, deadline)
        })?
    };
    parse(&raw)
}

fn remaining(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err("timeout".to_owned())
    } else {
        Ok(left)
    }
}

fn set_timeouts(tcp: &TcpStream, deadline: Instant) -> Result<(), String> {
    let left = remaining(deadline)?;
    tcp.set_read_timeout(Some(left))
        .and_then(|()| tcp.set_write_timeout(Some(left)))
        .map_err(|e| e.to_string())
}

/// Writes the request, reads to the end of the connection.
fn exchange<S: Read + Write>(
    s: &mut S,
    head: &[u8],
    body: &[u8],
    deadline: Instant,
    timeouts: impl Fn(&S) -> Result<(), String>,
) -> Result<Vec<u8>, String> {
    timeouts(s)?;
    s.write_all(head)
        .and_then(|()| s.write_all(body))
        .and_then(|()| s.flush())
        .map_err(|e| format!("write: {e}"))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        timeouts(s)?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > MAX_ANSWER {
                    return Err(format!("answer larger than {MAX_ANSWER} bytes"));
                }
                if complete(&out) {
                    break;
                }
            }
            // A TLS peer that closes without close_notify: what came is what there is.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err("timeout reading the answer".to_owned())
            }
            Err(e) => return Err(format!("read: {e}")),
        }
        if Instant::now() >= deadline {
            return Err("timeout reading the answer".to_owned());
        }
    }
    Ok(out)
}

/// Whether `raw` holds a whole answer with a `Content-Length` (a server
/// may keep the connection open despite `Connection: close`).
fn complete(raw: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(raw) {
        Ok(httparse::Status::Complete(at)) => resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .and_then(|v| v.trim().parse::<usize>().ok())
            .is_some_and(|len| raw.len() >= at + len),
        _ => false,
    }
}

fn parse(raw: &[u8]) -> Result<Answer, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let at = match resp.parse(raw) {
        Ok(httparse::Status::Complete(at)) => at,
        Ok(httparse::Status::Partial) => {
            return Err("connection closed before a whole answer".to_owned())
        }
        Err(e) => return Err(format!("malformed HTTP answer: {e}")),
    };
    let status = resp.code.unwrap_or(0);
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_owned(),
            )
        })
        .collect();
    let rest = &raw[at..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("malformed Content-Length {len:?}"))?;
        rest.get(..len)
            .ok_or_else(|| "connection closed before the whole body".to_owned())?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Removes chunked framing.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "malformed chunked body".to_owned();
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| bad())?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad())?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).ok_or_else(bad)?;
        out.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or_else(bad)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("https://idp.example:8443/a/b?c=d").expect("url");
        assert!(t.tls);
        assert_eq!((t.host.as_str(), t.port), ("idp.example", 8443));
        assert_eq!(t.path_and_query, "/a/b?c=d");
        let t = Target::parse("http://[::1]").expect("url");
        assert_eq!(
            (t.host.as_str(), t.port, t.path_and_query.as_str()),
            ("::1", 80, "/")
        );
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("/relative").is_err());
        assert!(Target::parse("not a url").is_err());
    }

    #[test]
    fn answers() {
        let a =
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhiJUNK").expect("answer");
        assert_eq!(
            (a.status, &a.body[..], a.header("x-a")),
            (200, &b"hi"[..], Some("b"))
        );
        let a = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
            .expect("answer");
        assert_eq!(&a.body[..], b"abcde");
        assert!(parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-").is_err());
        assert!(parse(b"garbage\r\n\r\n").is_err());
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi"));
    }
}
