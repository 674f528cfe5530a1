//! An HTTP/1.1 client: a worker's keep-alive connections to one server.
//!
//! Each worker keeps its own idle connections (no cross-core hop, no lock).
//! A request borrows one, or dials; the response head is read here, and the
//! body is either taken whole (small, or already buffered) or streamed by a
//! spawned task that hands the connection back to the pool when the body
//! is done. A reused connection that turns out to be closed is retried once
//! on a fresh one when the request can be replayed (its body is in memory).
//!
//! The HTTP app channel wraps one for the app; `bindings.http` uses one
//! per URL authority; external endpoints (HTTPEndpoint resources, URLs)
//! one each, speaking TLS for `https://` ([`crate::net::tls`]).

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use monoio::buf::IoBuf;
use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use monoio_codec::{Decoded, Decoder};
use monoio_http::h1::codec::decoder::ResponseHeadDecoder;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::body::{self, BodyStream, Framing, Pumped, Source};
use crate::net::tls::{TlsReader, TlsWriter};

/// Idle connections kept per worker.
const MAX_IDLE: usize = 128;
/// Responses up to this size are read whole; larger ones stream.
const COLLECT_LIMIT: u64 = 64 * 1024;
const READ_RESERVE: usize = 16 * 1024;
/// Largest response head accepted from the server.
const MAX_HEAD: usize = 64 * 1024;
/// How long a TLS handshake may take (Go's `TLSHandshakeTimeout` for
/// HTTPEndpoints).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// TLS to the server: the client configuration and the name its
/// certificate must carry.
#[derive(Clone)]
pub struct TlsTarget {
    /// Roots, protocol versions, client identity.
    pub config: Arc<ClientConfig>,
    /// The host of the URL (DNS name or IP address).
    pub name: ServerName<'static>,
}

/// A request body.
pub enum OutBody {
    /// In memory (replayable).
    Full(Bytes),
    /// Arriving from the caller.
    Stream(BodyStream),
}

/// A request.
pub struct ClientRequest {
    /// Method.
    pub method: Method,
    /// Path and query, starting with `/`.
    pub target: String,
    /// Headers to send (framing headers are set here).
    pub headers: HeaderMap,
    /// The body.
    pub body: OutBody,
}

/// The server's response.
pub struct ClientResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers, hop-by-hop ones removed.
    pub headers: HeaderMap,
    /// The whole body, when it was read whole.
    pub body: Bytes,
    /// The body as it arrives, otherwise.
    pub stream: Option<BodyStream>,
}

/// Why the call failed. (The texts name "the app", the usual server;
/// they are kept as they are, callers and tests match on them.)
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed.
    #[error("dial tcp {addr}: {source}")]
    Connect {
        /// The server's address.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// The connection broke or the server answered garbage.
    #[error("{0}")]
    Broken(String),
    /// The caller's body failed while it was being forwarded.
    #[error("request body: {0}")]
    RequestBody(body::StreamError),
    /// The TLS handshake failed (Go's texts start with `tls:`).
    #[error("tls: {0}")]
    Handshake(String),
}

/// A connection's transport.
enum Io {
    Plain(TcpStream),
    Tls(Box<(TlsReader, TlsWriter)>),
}

impl Io {
    async fn write_all<B: IoBuf + AsRef<[u8]>>(&mut self, b: B) -> io::Result<()> {
        match self {
            Io::Plain(tcp) => tcp.write_all(b).await.0.map(|_| ()),
            Io::Tls(tls) => tls.1.write_all(b.as_ref()).await,
        }
    }
}

impl Source for Io {
    async fn fill(&mut self, buf: &mut BytesMut, want: usize) -> io::Result<usize> {
        match self {
            Io::Plain(tcp) => tcp.fill(buf, want).await,
            Io::Tls(tls) => tls.0.read(buf, want).await,
        }
    }
}

struct Conn {
    io: Io,
    buf: BytesMut,
}

/// A worker's keep-alive client to one server.
pub struct Client {
    addr: Cell<SocketAddr>,
    tls: Option<TlsTarget>,
    host: HeaderValue,
    idle: RefCell<Vec<Conn>>,
    max_body: usize,
    body_timeout: Duration,
}

impl Client {
    /// A client of `addr`, sending `addr` as the `Host` header.
    pub fn new(addr: SocketAddr, max_body: usize, body_timeout: Duration) -> Rc<Self> {
        let host = HeaderValue::from_str(&addr.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("localhost"));
        Self::with_host(addr, host, max_body, body_timeout)
    }

    /// A client of `addr` sending `host` as the `Host` header (a URL's
    /// authority). Streamed response bodies are cut at `max_body` bytes and
    /// fail after `body_timeout` without data.
    pub fn with_host(
        addr: SocketAddr,
        host: HeaderValue,
        max_body: usize,
        body_timeout: Duration,
    ) -> Rc<Self> {
        Rc::new(Self {
            addr: Cell::new(addr),
            tls: None,
            host,
            idle: RefCell::new(Vec::new()),
            max_body,
            body_timeout,
        })
    }

    /// A client of `addr` speaking TLS when `tls` is set, sending `host`
    /// as the `Host` header.
    pub fn with_tls(
        addr: SocketAddr,
        host: HeaderValue,
        tls: Option<TlsTarget>,
        max_body: usize,
        body_timeout: Duration,
    ) -> Rc<Self> {
        Rc::new(Self {
            addr: Cell::new(addr),
            tls,
            host,
            idle: RefCell::new(Vec::new()),
            max_body,
            body_timeout,
        })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr.get()
    }

    /// Dials `addr` from now on (a name resolved again); idle connections
    /// to another address are dropped.
    pub fn set_addr(&self, addr: SocketAddr) {
        if self.addr.replace(addr) != addr {
            self.idle.borrow_mut().clear();
        }
    }

    /// One exchange over the pool. Leaves `req.method` and `req.target` in
    /// place (a streamed body is taken).
    pub async fn send(
        self: &Rc<Self>,
        req: &mut ClientRequest,
    ) -> Result<ClientResponse, ClientError> {
        req.headers.insert(header::HOST, self.host.clone());
        loop {
            let pooled = self.idle.borrow_mut().pop();
            let reused = pooled.is_some();
            let conn = match pooled {
                Some(c) => c,
                None => self.dial().await?,
            };
            let replayable = matches!(req.body, OutBody::Full(_));
            let body = match &req.body {
                OutBody::Full(b) => OutBody::Full(b.clone()),
                OutBody::Stream(_) => std::mem::replace(&mut req.body, OutBody::Full(Bytes::new())),
            };
            match self.exchange(conn, req, body).await {
                Err(Attempt::Stale) if reused && replayable => continue,
                Err(Attempt::Stale) => {
                    return Err(ClientError::Broken("connection closed by the app".into()))
                }
                Err(Attempt::Failed(e)) => return Err(e),
                Ok(r) => return Ok(r),
            }
        }
    }

    async fn dial(&self) -> Result<Conn, ClientError> {
        let addr = self.addr.get();
        let tcp = TcpStream::connect_addr(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        let _ = tcp.set_nodelay(true);
        let io = match &self.tls {
            None => Io::Plain(tcp),
            Some(t) => {
                let session = ClientConnection::new(t.config.clone(), t.name.clone())
                    .map_err(|e| ClientError::Handshake(e.to_string()))?;
                let shake = crate::net::tls::handshake(tcp, session);
                match monoio::time::timeout(HANDSHAKE_TIMEOUT, shake).await {
                    Ok(Ok(halves)) => Io::Tls(Box::new(halves)),
                    Ok(Err(e)) => return Err(ClientError::Handshake(e.to_string())),
                    Err(_) => return Err(ClientError::Handshake("handshake timeout".into())),
                }
            }
        };
        Ok(Conn {
            io,
            buf: BytesMut::with_capacity(READ_RESERVE),
        })
    }

    fn put_back(&self, conn: Conn) {
        // Bytes after a complete response (e.g. a body sent with a 204) would
        // be read as the next response's head: drop the connection, as Go's
        // transport does.
        if !conn.buf.is_empty() {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    async fn exchange(
        self: &Rc<Self>,
        mut conn: Conn,
        req: &ClientRequest,
        body: OutBody,
    ) -> Result<ClientResponse, Attempt> {
        // --- request ---
        let mut out = BytesMut::with_capacity(256);
        let len = match &body {
            OutBody::Full(b) => Some(b.len() as u64),
            OutBody::Stream(s) => s.len,
        };
        encode_request_head(&mut out, req, len);
        match body {
            OutBody::Full(b) => {
                if b.len() <= 16 * 1024 {
                    out.extend_from_slice(&b);
                    write(&mut conn.io, out).await?;
                } else {
                    write(&mut conn.io, out).await?;
                    write(&mut conn.io, b).await?;
                }
            }
            OutBody::Stream(mut s) => {
                write(&mut conn.io, out).await?;
                let chunked = len.is_none();
                while let Some(chunk) = s.next().await {
                    let chunk = chunk.map_err(|e| Attempt::Failed(ClientError::RequestBody(e)))?;
                    if chunk.is_empty() {
                        continue;
                    }
                    if chunked {
                        write(&mut conn.io, format!("{:x}\r\n", chunk.len()).into_bytes()).await?;
                    }
                    write(&mut conn.io, chunk).await?;
                    if chunked {
                        write(&mut conn.io, &b"\r\n"[..]).await?;
                    }
                }
                if chunked {
                    write(&mut conn.io, &b"0\r\n\r\n"[..]).await?;
                }
            }
        }

        // --- response head (skipping 1xx) ---
        let head = loop {
            match ResponseHeadDecoder.decode(&mut conn.buf) {
                Ok(Decoded::Some(h)) if h.status.is_informational() => continue,
                Ok(Decoded::Some(h)) => break h,
                Ok(_) => {}
                Err(e) => return Err(broken(format!("malformed response from the app: {e}"))),
            }
            if conn.buf.len() > MAX_HEAD {
                return Err(broken("response head from the app is too large".into()));
            }
            let first = conn.buf.is_empty();
            match fill(&mut conn.io, &mut conn.buf).await {
                Ok(0) | Err(_) if first => return Err(Attempt::Stale),
                Ok(0) | Err(_) => {
                    return Err(broken("the app closed the connection mid-response".into()))
                }
                Ok(_) => {}
            }
        };

        // --- response body ---
        let mut headers = head.headers;
        let framing = response_framing(&req.method, head.status, &headers)?;
        let keep_alive =
            head.version == Version::HTTP_11 && !has_token(&headers, header::CONNECTION, b"close");
        strip_hop_by_hop(&mut headers);
        let mut resp = ClientResponse {
            status: head.status,
            headers,
            body: Bytes::new(),
            stream: None,
        };
        match framing {
            Framing::Length(0) => {}
            Framing::Length(n) if n <= COLLECT_LIMIT => {
                while (conn.buf.len() as u64) < n {
                    match fill(&mut conn.io, &mut conn.buf).await {
                        Ok(0) | Err(_) => {
                            return Err(broken("the app closed the connection mid-body".into()))
                        }
                        Ok(_) => {}
                    }
                }
                resp.body = conn.buf.split_to(n as usize).freeze();
            }
            framing => {
                let len = match framing {
                    Framing::Length(n) => Some(n),
                    _ => None,
                };
                let (tx, stream) = BodyStream::channel(len);
                resp.stream = Some(stream);
                let this = self.clone();
                monoio::spawn(async move {
                    let mut conn = conn;
                    let pumped = body::pump(
                        &mut conn.io,
                        &mut conn.buf,
                        framing,
                        this.max_body,
                        this.body_timeout,
                        tx,
                    )
                    .await;
                    if pumped == Pumped::Done && keep_alive && framing != Framing::Close {
                        this.put_back(conn);
                    }
                });
                return Ok(resp);
            }
        }
        if keep_alive {
            self.put_back(conn);
        }
        Ok(resp)
    }
}

enum Attempt {
    /// A pooled connection was already closed: nothing was answered.
    Stale,
    Failed(ClientError),
}

fn broken(msg: String) -> Attempt {
    Attempt::Failed(ClientError::Broken(msg))
}

async fn write<B: IoBuf + AsRef<[u8]>>(io: &mut Io, b: B) -> Result<(), Attempt> {
    io.write_all(b).await.map_err(|_| Attempt::Stale)
}

async fn fill(io: &mut Io, buf: &mut BytesMut) -> io::Result<usize> {
    io.fill(buf, READ_RESERVE).await
}

/// How the response body is framed (RFC 9112 §6.3).
fn response_framing(
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<Framing, Attempt> {
    if method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Length(0));
    }
    if has_token(headers, header::TRANSFER_ENCODING, b"chunked") {
        return Ok(Framing::Chunked);
    }
    match headers.get(header::CONTENT_LENGTH) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Framing::Length)
            .ok_or_else(|| broken("the app sent an invalid content-length".into())),
        None => Ok(Framing::Close),
    }
}

fn has_token(headers: &HeaderMap, name: HeaderName, token: &[u8]) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
    })
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded.
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Removes hop-by-hop headers, including those `Connection` names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|t| HeaderName::from_bytes(t.trim_ascii()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    let hop: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    for n in hop {
        headers.remove(n);
    }
    headers.remove(header::CONTENT_LENGTH);
}

fn encode_request_head(dst: &mut BytesMut, req: &ClientRequest, len: Option<u64>) {
    dst.extend_from_slice(req.method.as_str().as_bytes());
    dst.extend_from_slice(b" ");
    dst.extend_from_slice(req.target.as_bytes());
    dst.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &req.headers {
        if name == header::CONTENT_LENGTH || is_hop_by_hop(name) {
            continue;
        }
        dst.extend_from_slice(name.as_str().as_bytes());
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    match len {
        Some(0) if !super::message::method_has_body(&req.method) => {}
        Some(n) => {
            dst.extend_from_slice(b"content-length: ");
            dst.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            dst.extend_from_slice(b"\r\n");
        }
        None => dst.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    dst.extend_from_slice(b"\r\n");
}
