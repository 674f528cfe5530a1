//! `bindings.postgresql` (alias `bindings.postgres`; output): SQL on
//! PostgreSQL (contrib's `bindings/postgres`), on the worker's connection
//! pool (`components::postgres::client`).
//!
//! | operation | metadata | answer |
//! |---|---|---|
//! | `exec` | `sql`, optional `params` (a JSON array for `$1`, `$2`, …) | no data; metadata `rows-affected` |
//! | `query` | `sql`, `params` | the rows as a JSON array of arrays (one value per column), as pgx's `rows.Values()` marshalled by Go |
//! | `close` | — | nothing; every later call answers `component is closed`, on every worker |
//!
//! Every answer's metadata also holds `operation`, `sql`, `start-time`,
//! `end-time` (RFC 3339 with nanoseconds, UTC) and `duration` (a Go
//! duration string).
//!
//! Values are converted as pgx decodes them and Go's `encoding/json` writes
//! them: integers and `oid` as numbers; `float4`/`float8` as Go formats
//! floats (NaN and infinities fail the query: `json: unsupported value`);
//! `numeric` as its exact digits (a JSON number); text types as strings;
//! `bool`; `bytea` as base64; `json`/`jsonb` re-encoded as Go does (keys
//! sorted); `uuid` as an array of 16 byte values (pgx's `[16]byte`); `date`,
//! `timestamp` (UTC) and `timestamptz` (in the local zone) as RFC 3339
//! strings; one-dimensional arrays of these as JSON arrays. Other types are
//! returned as their text form.
//!
//! Metadata: `connectionString` (alias `url`; required), `timeout`
//! (default `20s`, at least 1s; bounds the start-up connection check),
//! `maxConns` (connections per sidecar, default 4, spread over the workers).
//! Start-up fails when PostgreSQL cannot be reached, as Go's `Init` pings.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, Utc};

use super::{
    failure, go_float, go_marshal, write_go_string, InvokeRequest, InvokeResponse, InvokeResult,
    OutputBinding,
};
use crate::components::postgres::client::{self, Pool, QueryResult};
use crate::components::postgres::Settings;
use crate::components::{ComponentError, Metadata};
use crate::config::options::parse_go_duration;

/// Go's default `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// pgxpool's default pool size (per sidecar here).
const DEFAULT_MAX_CONNS: usize = 4;

/// Built on the main thread: settings parsed, PostgreSQL reached.
pub struct PostgresBindingFactory {
    settings: Arc<Settings>,
    per_worker: usize,
    closed: Arc<AtomicBool>,
}

impl PostgresBindingFactory {
    /// Parses the metadata and checks the database answers (Go's `Init`).
    pub fn new(md: &Metadata) -> Result<Self, String> {
        let conn = md
            .get("connectionString")
            .filter(|v| !v.is_empty())
            .or_else(|| md.get("url").filter(|v| !v.is_empty()))
            .ok_or("missing connection string")?;
        let timeout = match md
            .get("timeout")
            .or_else(|| md.get("timeoutInSeconds"))
            .map(str::trim)
        {
            None | Some("") => DEFAULT_TIMEOUT,
            Some(v) => match v.parse::<u64>() {
                Ok(secs) => Duration::from_secs(secs),
                Err(_) => {
                    parse_go_duration(v).map_err(|e| format!("invalid value for 'timeout': {e}"))?
                }
            },
        };
        if timeout < Duration::from_secs(1) {
            return Err("invalid value for 'timeout': must be greater than 1s".into());
        }
        let env = |k: &str| std::env::var(k).ok();
        let mut settings = Settings::parse(conn, &env)?;
        if settings.connect_timeout.is_none() {
            settings.connect_timeout = Some(timeout);
        }
        let total = match md.get("maxConns").map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("invalid value for 'maxConns': {v:?}"))?,
            None => settings.max_conns.unwrap_or(DEFAULT_MAX_CONNS),
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        client::probe(&settings, timeout).map_err(|e| format!("failed to ping the DB: {e}"))?;
        Ok(Self {
            settings: Arc::new(settings),
            per_worker: total.div_ceil(cores).max(1),
            closed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// This worker's instance (connects on first use).
    pub fn build(&self) -> PostgresBinding {
        PostgresBinding {
            pool: Rc::new(Pool::new(self.settings.clone(), self.per_worker)),
            closed: self.closed.clone(),
        }
    }
}

/// A worker's PostgreSQL binding.
pub struct PostgresBinding {
    pool: Rc<Pool>,
    /// Shared by every worker: `close` closes the component for all.
    closed: Arc<AtomicBool>,
}

const OPERATIONS: &[&str] = &["exec", "query", "close"];

impl OutputBinding for PostgresBinding {
    fn operations(&self) -> &[&'static str] {
        OPERATIONS
    }

    async fn invoke(&self, req: InvokeRequest) -> InvokeResult {
        if req.operation == "close" {
            self.closed.store(true, Ordering::Release);
            self.pool.clear();
            return Ok(None);
        }
        if self.closed.load(Ordering::Acquire) {
            self.pool.clear();
            return Err(failure("component is closed").into());
        }
        let sql = req.metadata.get("sql").cloned().unwrap_or_default();
        if sql.is_empty() {
            return Err(failure("required metadata not set: sql").into());
        }
        let params = match req.metadata.get("params").filter(|p| !p.is_empty()) {
            None => Vec::new(),
            Some(p) => parse_params(p).map_err(|e| {
                failure(format!(
                    "invalid metadata property params: failed to unserialize into an array: {e}"
                ))
            })?,
        };
        let start = Utc::now();
        let mut metadata = HashMap::from([
            ("operation".to_owned(), req.operation.clone()),
            ("sql".to_owned(), sql.clone()),
            ("start-time".to_owned(), rfc3339_nano(&start.fixed_offset())),
        ]);
        let run = |r: Result<QueryResult, client::Error>| {
            r.map_err(|e| failure(format!("error executing query: {e}")))
        };
        let mut data = Bytes::new();
        match req.operation.as_str() {
            "exec" => {
                let r = run(self.pool.query(&sql, &params).await)?;
                metadata.insert("rows-affected".into(), r.rows_affected().to_string());
            }
            "query" => {
                let r = run(self.pool.query(&sql, &params).await)?;
                data = rows_json(&r)
                    .map_err(|e| failure(format!("error serializing results: {e}")))?
                    .into();
            }
            other => {
                return Err(failure(format!(
                    "invalid operation type: {other}. Expected exec, query, or close"
                ))
                .into())
            }
        }
        let end = Utc::now();
        metadata.insert("end-time".into(), rfc3339_nano(&end.fixed_offset()));
        let took = (end - start).to_std().unwrap_or_default();
        metadata.insert(
            "duration".into(),
            crate::config::options::format_go_duration(took),
        );
        Ok(Some(InvokeResponse { data, metadata }))
    }
}

/// `params` as Go decodes it into `[]any`, each value as query text.
fn parse_params(p: &str) -> Result<Vec<Option<String>>, String> {
    use serde_json::Value;
    let v: Value = serde_json::from_str(p).map_err(|e| e.to_string())?;
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            let kind = match other {
                Value::Object(_) => "object",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "bool",
            };
            return Err(format!(
                "json: cannot unmarshal {kind} into Go value of type []interface {{}}"
            ));
        }
    };
    Ok(items
        .into_iter()
        .map(|item| match item {
            Value::Null => None,
            Value::Bool(b) => Some(b.to_string()),
            Value::String(s) => Some(s),
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or(0.0);
                Some(if f.fract() == 0.0 && f.abs() < 1e21 {
                    format!("{f:.0}")
                } else {
                    format!("{f}")
                })
            }
            other => Some(String::from_utf8_lossy(&go_marshal(&other)).into_owned()),
        })
        .collect())
}

/// The rows as Go marshals pgx's `rows.Values()`.
fn rows_json(r: &QueryResult) -> Result<String, String> {
    let mut out = String::from("[");
    for (i, row) in r.rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (j, cell) in row.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let oid = r.columns.get(j).map_or(0, |c| c.type_oid);
            match cell {
                None => out.push_str("null"),
                Some(b) => write_value(&mut out, oid, &String::from_utf8_lossy(b))?,
            }
        }
        out.push(']');
    }
    out.push(']');
    Ok(out)
}

/// The element type of an array type, when known.
fn element_of(oid: u32) -> Option<u32> {
    Some(match oid {
        1000 => 16,
        1001 => 17,
        1002 => 18,
        1003 => 19,
        1005 => 21,
        1007 => 23,
        1016 => 20,
        1009 => 25,
        1014 => 1042,
        1015 => 1043,
        1021 => 700,
        1022 => 701,
        1028 => 26,
        1231 => 1700,
        199 => 114,
        3807 => 3802,
        2951 => 2950,
        1182 => 1082,
        1115 => 1114,
        1185 => 1184,
        _ => return None,
    })
}

/// One text value as JSON, by type.
fn write_value(out: &mut String, oid: u32, text: &str) -> Result<(), String> {
    if let Some(elem) = element_of(oid) {
        out.push('[');
        for (i, item) in parse_array(text).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match item {
                None => out.push_str("null"),
                Some(t) => write_value(out, elem, t)?,
            }
        }
        out.push(']');
        return Ok(());
    }
    match oid {
        16 => out.push_str(if text == "t" { "true" } else { "false" }),
        20 | 21 | 23 | 26 | 28 | 29 => out.push_str(text),
        700 | 701 => {
            let single = oid == 700;
            let f: f64 = match text {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                t => t.parse().map_err(|_| format!("invalid float {t:?}"))?,
            };
            if !f.is_finite() {
                return Err(format!("json: unsupported value: {}", go_float_name(f)));
            }
            out.push_str(&go_float(f, single));
        }
        1700 => match text {
            "NaN" | "Infinity" | "-Infinity" => write_go_string(out, text),
            t => out.push_str(t),
        },
        17 => {
            let bytes = match text.strip_prefix("\\x") {
                Some(hex) => decode_hex(hex),
                None => None,
            };
            match bytes {
                Some(b) => {
                    write_go_string(out, &base64::engine::general_purpose::STANDARD.encode(b))
                }
                None => write_go_string(out, text),
            }
        }
        114 | 3802 => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => out.push_str(&String::from_utf8_lossy(&go_marshal(&v))),
            Err(_) => write_go_string(out, text),
        },
        2950 => match decode_hex(&text.replace('-', "")).filter(|b| b.len() == 16) {
            Some(b) => {
                out.push('[');
                let parts: Vec<String> = b.iter().map(u8::to_string).collect();
                out.push_str(&parts.join(","));
                out.push(']');
            }
            None => write_go_string(out, text),
        },
        1082 => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => write_go_string(out, &format!("{}T00:00:00Z", d.format("%Y-%m-%d"))),
            Err(_) => write_go_string(out, text),
        },
        1114 => match NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
            Ok(t) => write_go_string(out, &rfc3339_nano(&t.and_utc().fixed_offset())),
            Err(_) => write_go_string(out, text),
        },
        1184 => match parse_timestamptz(text) {
            Some(t) => write_go_string(out, &rfc3339_nano(&t.with_timezone(&Local).fixed_offset())),
            None => write_go_string(out, text),
        },
        _ => write_go_string(out, text),
    }
    Ok(())
}

fn go_float_name(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `2024-01-02 15:04:05.123+01` / `+05:30` / `+05:30:15`.
fn parse_timestamptz(text: &str) -> Option<DateTime<FixedOffset>> {
    let split = text.rfind(['+', '-']).filter(|&i| i > 10)?;
    let (stamp, zone) = text.split_at(split);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let mut parts = zone[1..].split(':');
    let h: i32 = parts.next()?.parse().ok()?;
    let m: i32 = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    let s: i32 = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    let offset = FixedOffset::east_opt(sign * (h * 3600 + m * 60 + s))?;
    let naive = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    naive.and_local_timezone(offset).single()
}

/// PostgreSQL's array text (`{1,"a b",NULL,{2,3}}`), flattened.
fn parse_array(text: &str) -> Vec<Option<String>> {
    // A dimension decoration (`[1:2]={…}`) precedes the braces.
    let body = match text.find('=') {
        Some(i) if text.starts_with('[') => &text[i + 1..],
        _ => text,
    };
    let mut out = Vec::new();
    let mut chars = body.chars().peekable();
    let mut current = String::new();
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' | ',' => {
                if any {
                    if !quoted && current == "NULL" {
                        out.push(None);
                    } else {
                        out.push(Some(std::mem::take(&mut current)));
                    }
                }
                current.clear();
                quoted = false;
                any = false;
            }
            '"' => {
                quoted = true;
                any = true;
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                current.push(n);
                            }
                        }
                        '"' => break,
                        q => current.push(q),
                    }
                }
            }
            c if c.is_whitespace() && !any => {}
            c => {
                any = true;
                current.push(c);
            }
        }
    }
    out
}

/// Go's `time.RFC3339Nano`: fraction without trailing zeros, `Z` for UTC.
fn rfc3339_nano(t: &DateTime<FixedOffset>) -> String {
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        s.push('.');
        s.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    let offset = t.offset().local_minus_utc();
    if offset == 0 {
        s.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let o = offset.abs();
        s.push_str(&format!("{sign}{:02}:{:02}", o / 3600, (o % 3600) / 60));
    }
    s
}

impl From<client::Error> for ComponentError {
    fn from(e: client::Error) -> Self {
        failure(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::postgres::client::Column;

    #[test]
    fn values_convert_like_pgx_and_go() {
        let col = |oid| Column {
            name: String::new(),
            type_oid: oid,
        };
        let cell = |s: &str| Some(Bytes::from(s.to_owned()));
        let r = QueryResult {
            columns: vec![
                col(23),
                col(25),
                col(16),
                col(701),
                col(1700),
                col(3802),
                col(17),
                col(2950),
                col(1114),
                col(1082),
                col(1007),
                col(1009),
            ],
            rows: vec![vec![
                cell("42"),
                cell("a\"<b>"),
                cell("t"),
                cell("1e+21"),
                cell("1.50"),
                cell("{\"b\": 1, \"a\": [1.0, \"x\"]}"),
                cell("\\x6869"),
                cell("00010203-0405-0607-0809-0a0b0c0d0e0f"),
                cell("2024-01-02 15:04:05.1"),
                cell("2024-01-02"),
                cell("{1,NULL,3}"),
                cell("{\"a b\",c,\"x\\\"y\"}"),
            ]],
            tag: "SELECT 1".into(),
        };
        assert_eq!(
            rows_json(&r).unwrap(),
            concat!(
                r#"[[42,"a\"\u003cb\u003e",true,1e+21,1.50,{"a":[1,"x"],"b":1},"aGk=","#,
                r#"[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15],"2024-01-02T15:04:05.1Z","2024-01-02T00:00:00Z","#,
                r#"[1,null,3],["a b","c","x\"y"]]]"#
            )
        );
        let nan = QueryResult {
            columns: vec![col(701)],
            rows: vec![vec![cell("NaN")]],
            tag: String::new(),
        };
        assert_eq!(rows_json(&nan).unwrap_err(), "json: unsupported value: NaN");
    }

    #[test]
    fn params_and_helpers() {
        assert_eq!(
            parse_params(r#"[1, 2.5, "x", null, true, {"b":1,"a":2}]"#).unwrap(),
            vec![
                Some("1".into()),
                Some("2.5".into()),
                Some("x".into()),
                None,
                Some("true".into()),
                Some(r#"{"a":2,"b":1}"#.into())
            ]
        );
        assert!(parse_params("{}")
            .unwrap_err()
            .contains("cannot unmarshal object"));
        assert_eq!(
            crate::config::options::format_go_duration(Duration::from_nanos(1_234_567)),
            "1.234567ms"
        );
        assert_eq!(
            crate::config::options::format_go_duration(Duration::from_micros(850)),
            "850µs"
        );
        assert_eq!(
            crate::config::options::format_go_duration(Duration::from_millis(61_500)),
            "1m1.5s"
        );
        let t = parse_timestamptz("2024-01-02 15:04:05.5+05:30").unwrap();
        assert_eq!(rfc3339_nano(&t), "2024-01-02T15:04:05.5+05:30");
        assert_eq!(
            rfc3339_nano(&parse_timestamptz("2024-01-02 10:00:00+00").unwrap()),
            "2024-01-02T10:00:00Z"
        );
        assert_eq!(
            QueryResult {
                tag: "INSERT 0 3".into(),
                ..Default::default()
            }
            .rows_affected(),
            3
        );
        assert_eq!(
            QueryResult {
                tag: "CREATE TABLE".into(),
                ..Default::default()
            }
            .rows_affected(),
            0
        );
    }
}
