//! What every Redis-backed component shares: the metadata block Go Dapr's
//! components read (`redisHost`, `redisPassword`, `redisDB`, timeouts, …),
//! command encoding, reply helpers, a blocking start-up probe, and the
//! per-worker pipelined [`client::Client`].
//!
//! RESP is encoded and decoded by the `redis-protocol` crate (sans-IO,
//! zero-copy `Bytes` frames), which is what lets the connection live on a
//! monoio worker: the common async Redis clients are tied to tokio's
//! reactor and want `Send` streams.

pub mod client;
pub mod subscriber;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::BytesMut;
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::encode::extend_encode_borrowed;
use redis_protocol::resp2::types::BorrowedFrame;
pub use redis_protocol::resp2::types::BytesFrame as Frame;

use super::Metadata;
use crate::config::options::parse_go_duration;

/// Connection settings parsed from component metadata, with Go's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `host:port`.
    pub host: String,
    /// ACL user (`redisUsername`).
    pub username: Option<String>,
    /// `redisPassword`.
    pub password: Option<String>,
    /// `redisDB`.
    pub db: u32,
    /// `dialTimeout` (5s).
    pub dial_timeout: Duration,
    /// `readTimeout` (3s): how long a command may wait for its reply.
    pub read_timeout: Duration,
    /// `ttlInSeconds`: the default TTL of state writes.
    pub ttl_in_seconds: Option<i64>,
}

impl Settings {
    /// Parses the Redis block of `md`; the error says which field is wrong.
    pub fn parse(md: &Metadata) -> Result<Settings, String> {
        let host = md
            .get("redisHost")
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or("redisHost is required")?;
        if host.contains(',') {
            return Err(format!(
                "redisHost {host:?} lists several hosts: Redis cluster and sentinel modes are not supported yet"
            ));
        }
        if let Some(t) = md
            .get("redisType")
            .filter(|t| !t.eq_ignore_ascii_case("node"))
        {
            return Err(format!(
                "redisType {t:?} is not supported yet (only \"node\")"
            ));
        }
        if parse_bool(md, "failover")? {
            return Err("failover (Redis sentinel) is not supported yet".to_owned());
        }
        if parse_bool(md, "enableTLS")? {
            return Err("enableTLS: TLS connections to Redis are not supported yet".to_owned());
        }
        let host = if has_port(host) {
            host.to_owned()
        } else {
            let port = md.get("redisPort").unwrap_or("6379").trim();
            port.parse::<u16>()
                .map_err(|_| format!("redisPort {port:?} is not a port number"))?;
            format!("{host}:{port}")
        };
        let non_empty = |k: &str| md.get(k).filter(|v| !v.is_empty()).map(str::to_owned);
        let db = match md.get("redisDB").map(str::trim).filter(|v| !v.is_empty()) {
            None => 0,
            Some(v) => v
                .parse()
                .map_err(|_| format!("redisDB {v:?} is not a database number"))?,
        };
        let ttl_in_seconds = match md
            .get("ttlInSeconds")
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => None,
            Some(v) => Some(
                v.parse()
                    .map_err(|_| format!("ttlInSeconds {v:?} is not an integer"))?,
            ),
        };
        Ok(Settings {
            host,
            username: non_empty("redisUsername"),
            password: non_empty("redisPassword"),
            db,
            dial_timeout: duration(md, "dialTimeout", Duration::from_secs(5))?,
            read_timeout: duration(md, "readTimeout", Duration::from_secs(3))?,
            ttl_in_seconds,
        })
    }

    /// The commands that open a session: `AUTH` and `SELECT` as needed.
    pub fn handshake(&self) -> Vec<BytesMut> {
        let mut out = Vec::new();
        match (&self.username, &self.password) {
            (Some(u), Some(p)) => out.push(command(&[b"AUTH", u.as_bytes(), p.as_bytes()])),
            (None, Some(p)) => out.push(command(&[b"AUTH", p.as_bytes()])),
            _ => {}
        }
        if self.db != 0 {
            out.push(command(&[b"SELECT", self.db.to_string().as_bytes()]));
        }
        out
    }
}

fn has_port(host: &str) -> bool {
    match host.rsplit_once(':') {
        // `[::1]:6379`, `name:6379`; a bare IPv6 address has several colons
        Some((h, p)) => {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']'))
        }
        None => false,
    }
}

fn parse_bool(md: &Metadata, key: &str) -> Result<bool, String> {
    match md.get(key).map(str::trim) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
        Some(v) => Err(format!("{key} {v:?} is not a boolean")),
    }
}

/// A Go duration (`5s`, `250ms`) or a bare number of milliseconds.
pub fn duration(md: &Metadata, key: &str, default: Duration) -> Result<Duration, String> {
    match md.get(key).map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(ms) => Ok(Duration::from_millis(ms)),
            Err(_) => parse_go_duration(v).map_err(|e| format!("{key} {v:?}: {e}")),
        },
    }
}

/// Encodes one command (an array of bulk strings).
pub fn command(args: &[&[u8]]) -> BytesMut {
    let mut buf = BytesMut::new();
    push_command(&mut buf, args);
    buf
}

/// Appends one encoded command to `buf`.
pub fn push_command(buf: &mut BytesMut, args: &[&[u8]]) {
    let parts: Vec<BorrowedFrame<'_>> = args.iter().map(|a| BorrowedFrame::BulkString(a)).collect();
    // Encoding into a growable buffer cannot fail.
    let _ = extend_encode_borrowed(buf, &BorrowedFrame::Array(&parts), false);
}

/// The text of an error reply, if `f` is one.
pub fn error_text(f: &Frame) -> Option<&str> {
    match f {
        Frame::Error(s) => Some(s),
        _ => None,
    }
}

/// A bulk or simple string reply as bytes.
pub fn as_bytes(f: &Frame) -> Option<&[u8]> {
    match f {
        Frame::BulkString(b) | Frame::SimpleString(b) => Some(b),
        _ => None,
    }
}

/// Runs `commands` on a fresh blocking connection and returns their replies
/// (start-up only: checks that Redis answers, loads scripts). Error replies
/// are returned as replies; connection failures as `Err`.
pub fn probe(settings: &Settings, commands: &[BytesMut]) -> Result<Vec<Frame>, String> {
    let unreachable =
        |e: &dyn std::fmt::Display| format!("error connecting to redis at {}: {e}", settings.host);
    let addr = settings
        .host
        .to_socket_addrs()
        .map_err(|e| unreachable(&e))?
        .next()
        .ok_or_else(|| unreachable(&"no address"))?;
    let mut s =
        TcpStream::connect_timeout(&addr, settings.dial_timeout).map_err(|e| unreachable(&e))?;
    let io_timeout = Some(settings.read_timeout.max(Duration::from_millis(100)));
    s.set_read_timeout(io_timeout)
        .map_err(|e| unreachable(&e))?;
    s.set_write_timeout(io_timeout)
        .map_err(|e| unreachable(&e))?;
    let handshake = settings.handshake();
    let mut out = BytesMut::new();
    for c in handshake.iter().chain(commands) {
        out.extend_from_slice(c);
    }
    s.write_all(&out).map_err(|e| unreachable(&e))?;
    let mut buf = BytesMut::with_capacity(4096);
    let mut replies = Vec::with_capacity(handshake.len() + commands.len());
    while replies.len() < handshake.len() + commands.len() {
        match decode_bytes_mut(&mut buf) {
            Ok(Some((frame, _, _))) => {
                if replies.len() < handshake.len() {
                    if let Some(e) = error_text(&frame) {
                        return Err(format!(
                            "redis at {} refused the session: {e}",
                            settings.host
                        ));
                    }
                }
                replies.push(frame);
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                return Err(format!(
                    "redis at {} sent a malformed reply: {e}",
                    settings.host
                ))
            }
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).map_err(|e| unreachable(&e))?;
        if n == 0 {
            return Err(unreachable(&"connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(replies.split_off(handshake.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Metadata {
        Metadata::from_pairs(pairs)
    }

    #[test]
    fn settings_defaults_and_ports() {
        let s = Settings::parse(&md(&[
            ("redisHost", "localhost:6379"),
            ("redisPassword", ""),
        ]))
        .unwrap();
        assert_eq!(s.host, "localhost:6379");
        assert_eq!(s.password, None);
        assert_eq!(s.db, 0);
        assert_eq!(s.dial_timeout, Duration::from_secs(5));
        assert_eq!(s.read_timeout, Duration::from_secs(3));
        let s = Settings::parse(&md(&[("redisHost", "redis"), ("redisPort", "7000")])).unwrap();
        assert_eq!(s.host, "redis:7000");
        let s = Settings::parse(&md(&[
            ("redisHost", "[::1]:6380"),
            ("readTimeout", "250ms"),
        ]))
        .unwrap();
        assert_eq!(s.host, "[::1]:6380");
        assert_eq!(s.read_timeout, Duration::from_millis(250));
        assert_eq!(
            Settings::parse(&md(&[("redisHost", "h")])).unwrap().host,
            "h:6379"
        );
    }

    #[test]
    fn settings_errors_name_the_field() {
        for (pairs, needle) in [
            (vec![], "redisHost"),
            (vec![("redisHost", "a:1,b:2")], "several hosts"),
            (vec![("redisHost", "a"), ("redisDB", "x")], "redisDB"),
            (vec![("redisHost", "a"), ("enableTLS", "true")], "enableTLS"),
            (
                vec![("redisHost", "a"), ("redisType", "cluster")],
                "redisType",
            ),
            (
                vec![("redisHost", "a"), ("dialTimeout", "soon")],
                "dialTimeout",
            ),
        ] {
            let err = Settings::parse(&md(&pairs)).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn handshake_and_encoding() {
        let s = Settings::parse(&md(&[
            ("redisHost", "h"),
            ("redisUsername", "u"),
            ("redisPassword", "p"),
            ("redisDB", "2"),
        ]))
        .unwrap();
        let h = s.handshake();
        assert_eq!(&h[0][..], b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n");
        assert_eq!(&h[1][..], b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n");
    }
}
