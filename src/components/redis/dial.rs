//! Opening a connection to the Redis server that settings name: the node
//! at `redisHost`, or, with `failover: true`, the master that a Sentinel at
//! one of the `redisHost` addresses names at that moment; over TCP, or TLS
//! with `enableTLS`. Async for the workers' connections, blocking for the
//! start-up probe.
//!
//! Sentinel, as go-redis's failover client does it: ask the sentinels in
//! turn `SENTINEL get-master-addr-by-name <sentinelMasterName>` (after
//! `AUTH` with `sentinelUsername`/`sentinelPassword` when a password is
//! set; over TLS too when `enableTLS` is on), take the first answer, and
//! dial that master with the normal handshake (`redisUsername`,
//! `redisPassword`, `redisDB`). Every (re)dial asks again, so a client whose
//! connection broke in a failover follows the new master. Like go-redis, a
//! worker's connection also listens to that sentinel's `+switch-master`
//! ([`super::subscriber::master_switch`]) and ends itself as soon as the master moves, instead
//! of writing to the old one until Sentinel demotes it (which then kills its
//! clients); a `READONLY` reply ends it too (see `client`). Unlike go-redis
//! we ask the sentinels one after another rather than all at once.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf, Splitable,
};
use monoio::net::TcpStream;
use redis_protocol::resp2::decode::decode_bytes_mut;

use super::tls::{self, TlsReader, TlsWriter};
use super::{as_bytes, command, error_text, Frame, Sentinel, Settings};

/// The read side of a connection.
pub enum Reader {
    /// Plain TCP.
    Plain(OwnedReadHalf<TcpStream>),
    /// TLS over TCP.
    Tls(TlsReader),
}

impl Reader {
    /// Appends what arrives next to `buf` (room for `reserve` bytes is made
    /// first); `Ok(0)` at the end of the stream.
    pub async fn read(&mut self, buf: &mut BytesMut, reserve: usize) -> io::Result<usize> {
        match self {
            Reader::Plain(rd) => {
                if buf.capacity() - buf.len() < reserve {
                    buf.reserve(reserve);
                }
                let (len, cap) = (buf.len(), buf.capacity());
                let owned = std::mem::take(buf);
                let (res, slice) = rd.read(owned.slice_mut(len..cap)).await;
                *buf = slice.into_inner();
                res
            }
            Reader::Tls(rd) => rd.read(buf, reserve).await,
        }
    }
}

/// The write side of a connection.
pub enum Writer {
    /// Plain TCP.
    Plain(OwnedWriteHalf<TcpStream>),
    /// TLS over TCP.
    Tls(TlsWriter),
}

impl Writer {
    /// Writes all of `bytes`.
    pub async fn write_all(&mut self, bytes: BytesMut) -> io::Result<()> {
        match self {
            Writer::Plain(wr) => wr.write_all(bytes).await.0.map(|_| ()),
            Writer::Tls(wr) => wr.write_all(&bytes).await,
        }
    }

    /// Shuts the write side (TLS: after `close_notify`).
    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Writer::Plain(wr) => wr.shutdown().await,
            Writer::Tls(wr) => wr.shutdown().await,
        }
    }
}

/// How a failover connection was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// The sentinel that answered.
    pub sentinel: String,
    /// The master it named (`host:port`).
    pub master: String,
}

/// Connects to the server `settings` name (see the module docs); with
/// failover, also says which sentinel named which master. The error says
/// what failed, without the "redis at …" prefix callers add.
pub async fn connect(settings: &Settings) -> Result<(Reader, Writer, Option<Via>), String> {
    match &settings.sentinel {
        None => {
            let (rd, wr) = open(settings, &settings.host).await?;
            Ok((rd, wr, None))
        }
        Some(sentinel) => {
            let via = master_addr(settings, sentinel).await?;
            let (rd, wr) = open(settings, &via.master)
                .await
                .map_err(|e| format!("master {} (named by the sentinel): {e}", via.master))?;
            Ok((rd, wr, Some(via)))
        }
    }
}

/// TCP (and TLS) to `addr`, within the dial timeout.
async fn open(settings: &Settings, addr: &str) -> Result<(Reader, Writer), String> {
    let sock = resolve(addr)?;
    let work = async {
        let tcp = TcpStream::connect_addr(sock)
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        match &settings.tls {
            None => {
                let (rd, wr) = tcp.into_split();
                Ok((Reader::Plain(rd), Writer::Plain(wr)))
            }
            Some(t) => {
                let session = t.session(addr)?;
                let (rd, wr) = tls::handshake(tcp, session)
                    .await
                    .map_err(|e| tls_failure(&e.to_string()))?;
                Ok((Reader::Tls(rd), Writer::Tls(wr)))
            }
        }
    };
    match monoio::time::timeout(settings.dial_timeout, work).await {
        Ok(r) => r,
        Err(_) if settings.tls.is_some() => Err(format!(
            "dial (TCP and TLS handshake) timed out after {:?}",
            settings.dial_timeout
        )),
        Err(_) => Err("dial timed out".to_owned()),
    }
}

fn tls_failure(e: &str) -> String {
    format!("TLS handshake failed: {e} (enableTLS is true: is this a TLS port, and is its certificate trusted?)")
}

/// Asks the sentinels, in order, where the master is.
async fn master_addr(settings: &Settings, sentinel: &Sentinel) -> Result<Via, String> {
    let mut errors = Vec::new();
    for addr in &sentinel.addrs {
        match ask_sentinel(settings, sentinel, addr).await {
            Ok(master) => {
                return Ok(Via {
                    sentinel: addr.clone(),
                    master,
                })
            }
            Err(e) => errors.push(format!("sentinel {addr}: {e}")),
        }
    }
    Err(errors.join("; "))
}

async fn ask_sentinel(
    settings: &Settings,
    sentinel: &Sentinel,
    addr: &str,
) -> Result<String, String> {
    let (mut rd, mut wr) = open(settings, addr).await?;
    let (bytes, n) = sentinel_query(sentinel);
    let exchange = async {
        wr.write_all(bytes).await.map_err(|e| e.to_string())?;
        let mut buf = BytesMut::new();
        let mut frames = Vec::with_capacity(n);
        while !decode_replies(&mut buf, &mut frames, n)
            .map_err(|e| format!("malformed reply: {e}"))?
        {
            match rd.read(&mut buf, 4096).await {
                Ok(0) => return Err("connection closed".to_owned()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(frames)
    };
    let frames = match monoio::time::timeout(settings.read_timeout, exchange).await {
        Ok(r) => r?,
        Err(_) => return Err(format!("no answer within {:?}", settings.read_timeout)),
    };
    let _ = monoio::time::timeout(Duration::from_millis(100), wr.shutdown()).await;
    master_from_replies(sentinel, &frames)
}

/// `AUTH` (sentinel credentials) if a password is set, then the query; and
/// how many replies they get.
fn sentinel_query(sentinel: &Sentinel) -> (BytesMut, usize) {
    let mut out = BytesMut::new();
    let mut n = 1;
    match (&sentinel.username, &sentinel.password) {
        (Some(u), Some(p)) => {
            out.extend_from_slice(&command(&[b"AUTH", u.as_bytes(), p.as_bytes()]))
        }
        (None, Some(p)) => out.extend_from_slice(&command(&[b"AUTH", p.as_bytes()])),
        _ => n = 0,
    }
    out.extend_from_slice(&command(&[
        b"SENTINEL",
        b"get-master-addr-by-name",
        sentinel.master_name.as_bytes(),
    ]));
    (out, n + 1)
}

/// The master's `host:port` from the sentinel's replies.
fn master_from_replies(sentinel: &Sentinel, frames: &[Frame]) -> Result<String, String> {
    let (auth, reply) = match frames {
        [auth, reply] => (Some(auth), reply),
        [reply] => (None, reply),
        _ => return Err("unexpected number of replies".to_owned()),
    };
    if let Some(e) = auth.and_then(error_text) {
        return Err(format!("refused sentinelUsername/sentinelPassword: {e}"));
    }
    if let Some(e) = error_text(reply) {
        return Err(format!("SENTINEL get-master-addr-by-name failed: {e}"));
    }
    match reply {
        Frame::Array(parts) if parts.len() >= 2 => {
            let host = as_bytes(&parts[0]).and_then(|b| std::str::from_utf8(b).ok());
            let port = as_bytes(&parts[1]).and_then(|b| std::str::from_utf8(b).ok());
            match (host, port) {
                (Some(h), Some(p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {
                    Ok(join_host_port(h, p))
                }
                _ => Err(format!("unexpected master address {reply:?}")),
            }
        }
        Frame::Null | Frame::Array(_) => Err(format!(
            "knows no master named {:?} (sentinelMasterName)",
            sentinel.master_name
        )),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// `host:port`, IPv6 hosts in brackets (Go's `net.JoinHostPort`).
pub(super) fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn resolve(addr: &str) -> Result<SocketAddr, String> {
    // Only on (re)connect; names such as `localhost` resolve from /etc/hosts.
    addr.to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr} has no address"))
}

// === blocking (start-up probe) ===

/// A blocking connection for the start-up probe.
pub enum Blocking {
    /// Plain TCP.
    Plain(std::net::TcpStream),
    /// TLS over TCP.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>>),
}

impl Read for Blocking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Blocking::Plain(s) => s.read(buf),
            Blocking::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Blocking {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Blocking::Plain(s) => s.write(buf),
            Blocking::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Blocking::Plain(s) => s.flush(),
            Blocking::Tls(s) => s.flush(),
        }
    }
}

/// [`connect`], blocking: the server `settings` name and the address used.
pub fn connect_blocking(settings: &Settings) -> Result<(Blocking, String), String> {
    match &settings.sentinel {
        None => Ok((
            open_blocking(settings, &settings.host)?,
            settings.host.clone(),
        )),
        Some(sentinel) => {
            let mut errors = Vec::new();
            let mut master = None;
            for addr in &sentinel.addrs {
                match ask_sentinel_blocking(settings, sentinel, addr) {
                    Ok(m) => {
                        master = Some(m);
                        break;
                    }
                    Err(e) => errors.push(format!("sentinel {addr}: {e}")),
                }
            }
            let master = master.ok_or_else(|| errors.join("; "))?;
            let conn = open_blocking(settings, &master)
                .map_err(|e| format!("master {master} (named by the sentinel): {e}"))?;
            Ok((conn, master))
        }
    }
}

fn open_blocking(settings: &Settings, addr: &str) -> Result<Blocking, String> {
    let sock = resolve(addr)?;
    let tcp = std::net::TcpStream::connect_timeout(&sock, settings.dial_timeout)
        .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let io_timeout = Some(settings.read_timeout.max(Duration::from_millis(100)));
    tcp.set_read_timeout(io_timeout)
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(io_timeout)
        .map_err(|e| e.to_string())?;
    match &settings.tls {
        None => Ok(Blocking::Plain(tcp)),
        Some(t) => {
            // The handshake is bounded by the dial timeout, as in Go.
            tcp.set_read_timeout(Some(settings.dial_timeout.max(Duration::from_millis(100))))
                .map_err(|e| e.to_string())?;
            let session = t.session(addr)?;
            let stream = tls::blocking(session, tcp).map_err(|e| match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    tls_failure(&format!("no TLS answer within {:?}", settings.dial_timeout))
                }
                _ => tls_failure(&e.to_string()),
            })?;
            stream
                .sock
                .set_read_timeout(io_timeout)
                .map_err(|e| e.to_string())?;
            Ok(Blocking::Tls(Box::new(stream)))
        }
    }
}

fn ask_sentinel_blocking(
    settings: &Settings,
    sentinel: &Sentinel,
    addr: &str,
) -> Result<String, String> {
    let mut conn = open_blocking(settings, addr)?;
    let (bytes, n) = sentinel_query(sentinel);
    let frames = exchange_blocking(&mut conn, &bytes, n)?;
    master_from_replies(sentinel, &frames)
}

/// Writes `bytes` and reads `n` replies.
pub fn exchange_blocking(
    conn: &mut Blocking,
    bytes: &[u8],
    n: usize,
) -> Result<Vec<Frame>, String> {
    conn.write_all(bytes).map_err(|e| e.to_string())?;
    conn.flush().map_err(|e| e.to_string())?;
    let mut buf = BytesMut::with_capacity(4096);
    let mut frames = Vec::with_capacity(n);
    while !decode_replies(&mut buf, &mut frames, n).map_err(|e| malformed(&buf, &e))? {
        // Nothing at all back on a plain connection: often a TLS port,
        // which resets or closes on a first byte that is not TLS.
        let silent = frames.is_empty() && buf.is_empty() && matches!(conn, Blocking::Plain(_));
        let hint = |what: String| {
            if silent {
                format!("{what} before any reply (a TLS port? then set enableTLS: true)")
            } else {
                what
            }
        };
        let mut chunk = [0u8; 4096];
        let got = conn.read(&mut chunk).map_err(|e| match e.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof => hint(e.to_string()),
            _ => e.to_string(),
        })?;
        if got == 0 {
            return Err(hint("connection closed".to_owned()));
        }
        buf.extend_from_slice(&chunk[..got]);
    }
    Ok(frames)
}

/// Moves the complete replies in `buf` to `frames`, until there are `n`;
/// whether there are. The error is the decoder's.
fn decode_replies(buf: &mut BytesMut, frames: &mut Vec<Frame>, n: usize) -> Result<bool, String> {
    while frames.len() < n {
        match decode_bytes_mut(buf) {
            Ok(Some((frame, _, _))) => frames.push(frame),
            Ok(None) => return Ok(false),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(true)
}

/// A malformed reply; TLS records (alert 0x15, handshake 0x16) get a hint.
fn malformed(buf: &[u8], e: &str) -> String {
    match buf.first() {
        Some(0x15 | 0x16) => {
            format!("the server answered with TLS, not RESP: set enableTLS: true ({e})")
        }
        _ => format!("malformed reply: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn sentinel(password: Option<&str>) -> Sentinel {
        Sentinel {
            master_name: "mymaster".into(),
            addrs: vec!["127.0.0.1:26379".into()],
            username: None,
            password: password.map(str::to_owned),
        }
    }

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn sentinel_query_authenticates_only_with_a_password() {
        let (bytes, n) = sentinel_query(&sentinel(None));
        assert_eq!(n, 1);
        assert_eq!(
            &bytes[..],
            b"*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$8\r\nmymaster\r\n"
        );
        let (bytes, n) = sentinel_query(&sentinel(Some("pw")));
        assert_eq!(n, 2);
        assert!(bytes.starts_with(b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"));
    }

    #[test]
    fn master_address_from_the_sentinel_reply() {
        let s = sentinel(None);
        let ok = Frame::Array(vec![bulk("10.0.0.5"), bulk("6380")]);
        assert_eq!(master_from_replies(&s, &[ok]).unwrap(), "10.0.0.5:6380");
        let v6 = Frame::Array(vec![bulk("::1"), bulk("6380")]);
        assert_eq!(master_from_replies(&s, &[v6]).unwrap(), "[::1]:6380");
        let err = master_from_replies(&s, &[Frame::Null]).unwrap_err();
        assert!(
            err.contains("mymaster") && err.contains("sentinelMasterName"),
            "{err}"
        );
        let refused = Frame::Error("WRONGPASS invalid username-password pair".into());
        let err = master_from_replies(&sentinel(Some("x")), &[refused, Frame::Null]).unwrap_err();
        assert!(err.contains("sentinelPassword"), "{err}");
        let bad = Frame::Array(vec![bulk("h"), bulk("port")]);
        assert!(master_from_replies(&s, &[bad]).is_err());
    }

    #[test]
    fn tls_hint_on_tls_records() {
        assert!(malformed(&[0x15, 3, 1], "x").contains("enableTLS"));
        assert!(!malformed(b"?", "x").contains("enableTLS"));
    }
}
