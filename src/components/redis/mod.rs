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
pub mod cluster;
pub mod dial;
pub mod reply;
pub mod subscriber;
pub mod tls;

use std::time::Duration;

use bytes::BytesMut;
use redis_protocol::resp2::encode::extend_encode_borrowed;
use redis_protocol::resp2::types::BorrowedFrame;
pub use redis_protocol::resp2::types::BytesFrame as Frame;

use super::Metadata;
use crate::config::options::parse_go_duration;

/// Connection settings parsed from component metadata, with Go's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `host:port`; for a cluster, the seed nodes as `host:port,host:port`.
    pub host: String,
    /// `redisType: cluster`: [`host`](Self::host) lists seed nodes and
    /// commands are routed by hash slot (see [`cluster`]).
    pub cluster: bool,
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
    /// `enableTLS` (with `insecureSkipTLSVerify`, `clientCert`,
    /// `clientKey`): connections speak TLS (see [`tls`]).
    pub tls: Option<tls::Tls>,
    /// `failover: true`: [`host`](Self::host) lists sentinels, and the
    /// master they name is dialled (see [`dial`]).
    pub sentinel: Option<Sentinel>,
}

/// Redis Sentinel settings (`failover: true`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sentinel {
    /// `sentinelMasterName`: the monitored master to ask for.
    pub master_name: String,
    /// The sentinels' `host:port`s (`redisHost`, comma-separated).
    pub addrs: Vec<String>,
    /// `sentinelUsername`.
    pub username: Option<String>,
    /// `sentinelPassword`; without it no `AUTH` is sent to sentinels.
    pub password: Option<String>,
}

impl Settings {
    /// Parses the Redis block of `md`; the error says which field is wrong.
    pub fn parse(md: &Metadata) -> Result<Settings, String> {
        let host = md
            .get("redisHost")
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or("redisHost is required")?;
        let cluster = match md.get("redisType").map(str::trim) {
            None | Some("") => false,
            Some(t) if t.eq_ignore_ascii_case("node") => false,
            Some(t) if t.eq_ignore_ascii_case("cluster") => true,
            Some(t) => {
                return Err(format!(
                    "redisType {t:?} is not supported (\"node\" or \"cluster\")"
                ))
            }
        };
        let failover = parse_bool(md, "failover")?;
        if host.contains(',') && !cluster && !failover {
            return Err(format!(
                "redisHost {host:?} lists several hosts: set redisType to \"cluster\" for a Redis cluster, or failover to \"true\" for sentinels"
            ));
        }
        if failover && cluster {
            return Err(
                "failover with redisType \"cluster\" (go-redis' failover cluster client) is not supported"
                    .to_owned(),
            );
        }
        let insecure_skip_verify = parse_bool(md, "insecureSkipTLSVerify")?;
        let tls = if parse_bool(md, "enableTLS")? {
            Some(tls::Tls::new(
                insecure_skip_verify,
                md.get("clientCert").unwrap_or(""),
                md.get("clientKey").unwrap_or(""),
            )?)
        } else {
            None
        };
        let with_port = |host: &str| {
            if has_port(host) {
                return Ok(host.to_owned());
            }
            let port = md.get("redisPort").unwrap_or("6379").trim();
            port.parse::<u16>()
                .map_err(|_| format!("redisPort {port:?} is not a port number"))?;
            Ok::<_, String>(format!("{host}:{port}"))
        };
        let host = if cluster || failover {
            // Go splits on commas and resolves each seed's port alike.
            let seeds = host
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(with_port)
                .collect::<Result<Vec<_>, _>>()?;
            seeds.join(",")
        } else {
            with_port(host)?
        };
        let non_empty = |k: &str| md.get(k).filter(|v| !v.is_empty()).map(str::to_owned);
        let mut db = match md.get("redisDB").map(str::trim).filter(|v| !v.is_empty()) {
            None => 0,
            Some(v) => v
                .parse()
                .map_err(|_| format!("redisDB {v:?} is not a database number"))?,
        };
        if cluster && db != 0 {
            // A cluster has database 0 only; Go's cluster client ignores redisDB.
            tracing::warn!(redis_db = db, "redisDB is ignored with redisType cluster");
            db = 0;
        }
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
        let sentinel = if failover {
            Some(Sentinel {
                master_name: non_empty("sentinelMasterName")
                    .ok_or("sentinelMasterName is required with failover: true")?,
                addrs: host.split(',').map(str::to_owned).collect(),
                username: non_empty("sentinelUsername"),
                password: non_empty("sentinelPassword"),
            })
        } else {
            None
        };
        Ok(Settings {
            host,
            cluster,
            tls,
            sentinel,
            username: non_empty("redisUsername"),
            password: non_empty("redisPassword"),
            db,
            dial_timeout: duration(md, "dialTimeout", Duration::from_secs(5))?,
            read_timeout: duration(md, "readTimeout", Duration::from_secs(3))?,
            ttl_in_seconds,
        })
    }

    /// These settings for one server at `addr`: not a cluster, no
    /// sentinels, database 0 (a cluster node, a sentinel).
    pub fn node(&self, addr: &str) -> Settings {
        Settings {
            host: addr.to_owned(),
            cluster: false,
            sentinel: None,
            db: 0,
            ..self.clone()
        }
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
    if settings.cluster {
        return cluster::probe(settings, commands);
    }
    let unreachable =
        |e: &dyn std::fmt::Display| format!("error connecting to redis at {}: {e}", settings.host);
    let (mut conn, addr) = dial::connect_blocking(settings).map_err(|e| unreachable(&e))?;
    let handshake = settings.handshake();
    let mut out = BytesMut::new();
    for c in handshake.iter().chain(commands) {
        out.extend_from_slice(c);
    }
    let mut replies = dial::exchange_blocking(&mut conn, &out, handshake.len() + commands.len())
        .map_err(|e| unreachable(&e))?;
    if let Some(e) = replies.iter().take(handshake.len()).find_map(error_text) {
        return Err(format!("redis at {addr} refused the session: {e}"));
    }
    Ok(replies.split_off(handshake.len()))
}

/// Why a component's start-up `PING` ([`ping`]) failed.
#[derive(Debug, PartialEq, Eq)]
pub enum PingError {
    /// Redis could not be reached, or refused the session ([`probe`]'s error).
    Unreachable(String),
    /// Redis answered `PING` with this error.
    Refused(String),
}

impl PingError {
    /// Go's start-up error of most Redis components:
    /// `<prefix>: error connecting to redis at <host>: <err>` (the probe's
    /// own "unreachable" error already starts "error connecting to …").
    pub fn go_message(self, prefix: &str, host: &str) -> String {
        match self {
            PingError::Unreachable(e) => format!("{prefix}: {e}"),
            PingError::Refused(e) => format!("{prefix}: error connecting to redis at {host}: {e}"),
        }
    }
}

/// The start-up check of Go's components (their `Init` pings): [`probe`]
/// with `PING` first, then `commands`; returns the replies to `commands`.
pub fn ping(settings: &Settings, commands: &[BytesMut]) -> Result<Vec<Frame>, PingError> {
    let mut all = Vec::with_capacity(commands.len() + 1);
    all.push(command(&[b"PING"]));
    all.extend(commands.iter().cloned());
    let mut replies = probe(settings, &all).map_err(PingError::Unreachable)?;
    if let Some(e) = replies.first().and_then(error_text) {
        return Err(PingError::Refused(e.to_owned()));
    }
    if !replies.is_empty() {
        replies.remove(0);
    }
    Ok(replies)
}

/// The SHA1 of a script from the reply to its `SCRIPT LOAD`; the error
/// names `component` (`redis store`, …) and the server.
pub fn script_sha(reply: &Frame, component: &str, host: &str) -> Result<String, String> {
    match as_bytes(reply) {
        Some(sha) => Ok(String::from_utf8_lossy(sha).into_owned()),
        None => Err(format!(
            "{component}: SCRIPT LOAD failed at {host}: {}",
            error_text(reply).unwrap_or("unexpected reply")
        )),
    }
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
            (vec![("redisHost", "a"), ("redisType", "ring")], "redisType"),
            (vec![("redisHost", "a"), ("redisDB", "x")], "redisDB"),
            (vec![("redisHost", "a"), ("enableTLS", "yes")], "enableTLS"),
            (
                vec![("redisHost", "a"), ("insecureSkipTLSVerify", "x")],
                "insecureSkipTLSVerify",
            ),
            (
                vec![
                    ("redisHost", "a"),
                    ("enableTLS", "true"),
                    ("clientCert", "not pem"),
                    ("clientKey", "not pem"),
                ],
                "clientCert",
            ),
            (vec![("redisHost", "a"), ("failover", "maybe")], "failover"),
            (
                vec![("redisHost", "a"), ("failover", "true")],
                "sentinelMasterName",
            ),
            (
                vec![
                    ("redisHost", "a"),
                    ("failover", "true"),
                    ("sentinelMasterName", "m"),
                    ("redisType", "cluster"),
                ],
                "failover",
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
    fn tls_settings_as_go() {
        let plain = Settings::parse(&md(&[("redisHost", "a")])).unwrap();
        assert_eq!(plain.tls, None);
        let s = Settings::parse(&md(&[("redisHost", "a"), ("enableTLS", "true")])).unwrap();
        let tls = s.tls.unwrap();
        // Go verifies the server's certificate unless told not to.
        assert!(!tls.insecure_skip_verify);
        assert!(!tls.presents_client_cert());
        // The server name is the host dialled: a DNS name or an IP address.
        assert!(tls.session("redis.example:6379").is_ok());
        assert!(tls.session("127.0.0.1:6380").is_ok());
        assert!(tls.session("[::1]:6380").is_ok());
        let s = Settings::parse(&md(&[
            ("redisHost", "a"),
            ("enableTLS", "True"),
            ("insecureSkipTLSVerify", "true"),
            // Go presents a client certificate only when both are set.
            ("clientCert", "-----BEGIN CERTIFICATE-----"),
        ]))
        .unwrap();
        let tls = s.tls.unwrap();
        assert!(tls.insecure_skip_verify);
        assert!(!tls.presents_client_cert());
    }

    #[test]
    fn failover_settings_list_sentinels() {
        let s = Settings::parse(&md(&[
            ("redisHost", "s1, s2:26380"),
            ("failover", "true"),
            ("sentinelMasterName", "mymaster"),
            ("sentinelUsername", "su"),
            ("sentinelPassword", "sp"),
            ("redisPassword", "p"),
            ("redisDB", "2"),
        ]))
        .unwrap();
        assert_eq!(s.host, "s1:6379,s2:26380");
        assert_eq!(
            s.sentinel,
            Some(Sentinel {
                master_name: "mymaster".into(),
                addrs: vec!["s1:6379".into(), "s2:26380".into()],
                username: Some("su".into()),
                password: Some("sp".into()),
            })
        );
        // The master gets the normal handshake, database included.
        assert_eq!(s.db, 2);
        assert_eq!(s.handshake().len(), 2);
        let s = Settings::parse(&md(&[
            ("redisHost", "s1:26379"),
            ("failover", "1"),
            ("sentinelMasterName", "m"),
            ("sentinelPassword", ""),
        ]))
        .unwrap();
        let sentinel = s.sentinel.unwrap();
        assert_eq!(sentinel.addrs, ["s1:26379"]);
        assert_eq!(sentinel.password, None);
        assert_eq!(s.tls, None);
    }

    #[test]
    fn cluster_settings_list_seeds() {
        let s = Settings::parse(&md(&[
            ("redisHost", "a:7000, b ,c:7002"),
            ("redisPort", "7001"),
            ("redisType", "cluster"),
            ("redisDB", "3"),
        ]))
        .unwrap();
        assert!(s.cluster);
        assert_eq!(s.host, "a:7000,b:7001,c:7002");
        assert_eq!(s.db, 0, "a cluster has database 0 only");
        assert!(s.handshake().is_empty());
        let s = Settings::parse(&md(&[("redisHost", "a"), ("redisType", "Node")])).unwrap();
        assert!(!s.cluster);
    }

    #[test]
    fn script_sha_names_the_component() {
        let sha = Frame::BulkString("abc123".into());
        assert_eq!(script_sha(&sha, "redis store", "h:1").unwrap(), "abc123");
        let err = script_sha(&Frame::Error("NOSCRIPT no".into()), "redis lock", "h:1");
        assert_eq!(
            err.unwrap_err(),
            "redis lock: SCRIPT LOAD failed at h:1: NOSCRIPT no"
        );
        let err = script_sha(&Frame::Integer(1), "redis store", "h:1").unwrap_err();
        assert!(err.ends_with("unexpected reply"), "{err}");
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
