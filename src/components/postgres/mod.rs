//! What every PostgreSQL-backed component shares: the connection string pgx
//! reads (keyword/value or URL form, `PG*` environment defaults) and the
//! per-worker connection pool ([`client::Pool`]).
//!
//! The wire protocol is encoded and decoded by the `postgres-protocol` crate
//! (sans-IO, from the rust-postgres project: messages, SCRAM-SHA-256 and MD5
//! authentication); the connections are ours, on monoio, so a query never
//! blocks a worker and needs no other runtime. (tokio-postgres needs tokio's
//! reactor; a blocking client on a thread pool would add a hop per query.)
//!
//! TLS is not supported yet: `sslmode` `disable`, `allow` and `prefer` (the
//! default) connect in clear text; `require` and `verify-*` fail start-up.

pub mod client;

use std::path::PathBuf;
use std::time::Duration;

/// Where the server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// TCP `host:port`.
    Tcp(String, u16),
    /// A Unix socket directory (the socket is `<dir>/.s.PGSQL.<port>`).
    Unix(PathBuf, u16),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Tcp(h, p) if h.contains(':') => write!(f, "[{h}]:{p}"),
            Host::Tcp(h, p) => write!(f, "{h}:{p}"),
            Host::Unix(dir, p) => write!(f, "{}/.s.PGSQL.{p}", dir.display()),
        }
    }
}

/// Connection settings parsed from a connection string, with pgx's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The server (the first, when several are listed).
    pub host: Host,
    /// `user`.
    pub user: String,
    /// `password`.
    pub password: Option<String>,
    /// `dbname` (the server defaults it to the user name).
    pub database: Option<String>,
    /// `connect_timeout` (or the component's `timeout`).
    pub connect_timeout: Option<Duration>,
    /// Other parameters sent at start-up (`application_name`, `search_path`, …).
    pub params: Vec<(String, String)>,
    /// `pool_max_conns`, when given.
    pub max_conns: Option<usize>,
}

/// Keys pgx handles itself (not sent to the server as run-time parameters).
const NOT_RUNTIME: &[&str] = &[
    "host",
    "port",
    "database",
    "dbname",
    "user",
    "password",
    "passfile",
    "connect_timeout",
    "sslmode",
    "sslkey",
    "sslcert",
    "sslrootcert",
    "sslpassword",
    "sslsni",
    "krbspn",
    "krbsrvname",
    "target_session_attrs",
    "service",
    "servicefile",
    "min_read_buffer_size",
    "statement_cache_capacity",
    "description_cache_capacity",
    "default_query_exec_mode",
    "pool_max_conns",
    "pool_min_conns",
    "pool_min_idle_conns",
    "pool_max_conn_lifetime",
    "pool_max_conn_lifetime_jitter",
    "pool_max_conn_idle_time",
    "pool_health_check_period",
];

impl Settings {
    /// Parses a pgx connection string (`host=… user=…` or
    /// `postgres://user:pw@host:port/db?k=v`); `env` supplies `PG*` defaults.
    pub fn parse(conn: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let conn = conn.trim();
        let pairs = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
            parse_url(conn)?
        } else {
            parse_dsn(conn)?
        };
        let mut map: Vec<(String, String)> = Vec::new();
        let defaults = [
            ("host", "PGHOST"),
            ("port", "PGPORT"),
            ("database", "PGDATABASE"),
            ("user", "PGUSER"),
            ("password", "PGPASSWORD"),
            ("sslmode", "PGSSLMODE"),
            ("connect_timeout", "PGCONNECT_TIMEOUT"),
            ("application_name", "PGAPPNAME"),
        ];
        for (key, var) in defaults {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                map.push((key.to_owned(), v));
            }
        }
        for (k, v) in pairs {
            let k = if k == "dbname" {
                "database".to_owned()
            } else {
                k
            };
            map.retain(|(key, _)| *key != k);
            map.push((k, v));
        }
        let get = |k: &str| {
            map.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        match get("sslmode").as_deref() {
            None | Some("disable") | Some("allow") | Some("prefer") => {}
            Some(mode) => {
                return Err(format!(
                    "sslmode {mode:?} is not supported yet (TLS to PostgreSQL is not built; use disable, allow or prefer)"
                ))
            }
        }
        let port = match get("port") {
            None => 5432,
            Some(p) => {
                let first = p.split(',').next().unwrap_or("").trim();
                first
                    .parse::<u16>()
                    .map_err(|_| format!("invalid port {first:?}"))?
            }
        };
        let host = get("host").unwrap_or_else(default_host);
        let host = host.split(',').next().unwrap_or("").trim().to_owned();
        let host = if host.starts_with('/') {
            Host::Unix(PathBuf::from(host), port)
        } else if host.is_empty() {
            Host::Tcp("localhost".into(), port)
        } else {
            Host::Tcp(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
                port,
            )
        };
        let user = get("user")
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .unwrap_or_else(|| "postgres".into());
        let connect_timeout = match get("connect_timeout") {
            None => None,
            Some(t) => {
                let secs: u64 = t
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid connect_timeout {t:?}"))?;
                (secs > 0).then(|| Duration::from_secs(secs))
            }
        };
        let max_conns = match get("pool_max_conns") {
            None => None,
            Some(n) => Some(
                n.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("invalid pool_max_conns {n:?}"))?,
            ),
        };
        let params = map
            .iter()
            .filter(|(k, _)| !NOT_RUNTIME.contains(&k.as_str()))
            .cloned()
            .collect();
        Ok(Settings {
            host,
            password: get("password"),
            database: get("database").filter(|d| !d.is_empty()),
            user,
            connect_timeout,
            params,
            max_conns,
        })
    }

    /// pgx's description of the target, for error messages.
    pub fn describe(&self) -> String {
        match &self.database {
            Some(db) => format!("user={} database={db}", self.user),
            None => format!("user={}", self.user),
        }
    }
}

/// pgconn's default host: the first Unix socket directory that exists.
fn default_host() -> String {
    ["/var/run/postgresql", "/private/tmp", "/tmp"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map_or_else(|| "localhost".to_owned(), |p| (*p).to_owned())
}

/// `key=value` pairs separated by spaces; values may be `'quoted'` with
/// `\'` and `\\` escapes.
fn parse_dsn(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("invalid dsn: missing \"=\" after {rest:?}"))?;
        let key = rest[..eq].trim().to_owned();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("invalid dsn: bad key {key:?}"));
        }
        rest = rest[eq + 1..].trim_start();
        let mut value = String::new();
        if let Some(quoted) = rest.strip_prefix('\'') {
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or("invalid dsn: unterminated quoted string")?;
            rest = &quoted[end..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let mut chars = rest[..end].chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
            rest = &rest[end..];
        }
        out.push((key, value));
        rest = rest.trim_start();
    }
    Ok(out)
}

/// `postgres://user:password@host:port/dbname?key=value`.
fn parse_url(s: &str) -> Result<Vec<(String, String)>, String> {
    let decode = |v: &str| {
        percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| format!("invalid percent-encoding in {v:?}"))
    };
    let rest = s.split_once("://").map_or("", |(_, r)| r);
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut out = Vec::new();
    let hosts = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                out.push(("user".to_owned(), decode(user)?));
            }
            if let Some(p) = password {
                out.push(("password".to_owned(), decode(p)?));
            }
            hosts
        }
        None => authority,
    };
    if let Some(first) = hosts.split(',').next().filter(|h| !h.is_empty()) {
        let (host, port) = if let Some(v6) = first.strip_prefix('[') {
            match v6.split_once(']') {
                Some((h, p)) => (h.to_owned(), p.strip_prefix(':').map(str::to_owned)),
                None => return Err(format!("invalid host {first:?}")),
            }
        } else {
            match first.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p.to_owned())),
                None => (first.to_owned(), None),
            }
        };
        if !host.is_empty() {
            out.push(("host".to_owned(), decode(&host)?));
        }
        if let Some(p) = port.filter(|p| !p.is_empty()) {
            out.push(("port".to_owned(), p));
        }
    }
    if !path.is_empty() {
        out.push(("database".to_owned(), decode(path)?));
    }
    for (k, v) in crate::http::message::form_pairs(query) {
        out.push((k, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn keyword_value_form() {
        let s = Settings::parse(
            "host=127.0.0.1 port=5433 user=postgres password='a b\\'c' dbname=test sslmode=disable application_name=x connect_timeout=7",
            &no_env,
        )
        .unwrap();
        assert_eq!(s.host, Host::Tcp("127.0.0.1".into(), 5433));
        assert_eq!(s.user, "postgres");
        assert_eq!(s.password.as_deref(), Some("a b'c"));
        assert_eq!(s.database.as_deref(), Some("test"));
        assert_eq!(s.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(
            s.params,
            vec![("application_name".to_string(), "x".to_string())]
        );
        assert_eq!(s.describe(), "user=postgres database=test");
    }

    #[test]
    fn url_form() {
        let s = Settings::parse(
            "postgres://bob:p%40ss@[::1]:6000/my%20db?sslmode=prefer&pool_max_conns=3&search_path=x",
            &no_env,
        )
        .unwrap();
        assert_eq!(s.host, Host::Tcp("::1".into(), 6000));
        assert_eq!(s.user, "bob");
        assert_eq!(s.password.as_deref(), Some("p@ss"));
        assert_eq!(s.database.as_deref(), Some("my db"));
        assert_eq!(s.max_conns, Some(3));
        assert_eq!(s.params, vec![("search_path".to_string(), "x".to_string())]);
        let s = Settings::parse("postgresql://%2Fvar%2Frun%2Fpostgresql/db", &no_env).unwrap();
        assert_eq!(s.host, Host::Unix("/var/run/postgresql".into(), 5432));
    }

    #[test]
    fn env_defaults_and_refusals() {
        let env = |k: &str| match k {
            "PGHOST" => Some("db.local".to_string()),
            "PGUSER" => Some("envuser".to_string()),
            _ => None,
        };
        let s = Settings::parse("dbname=x", &env).unwrap();
        assert_eq!(s.host, Host::Tcp("db.local".into(), 5432));
        assert_eq!(s.user, "envuser");
        assert!(Settings::parse("host=h sslmode=require", &no_env)
            .unwrap_err()
            .contains("sslmode"));
        assert!(Settings::parse("host", &no_env).is_err());
        assert!(Settings::parse("host=h port=x", &no_env).is_err());
    }
}
