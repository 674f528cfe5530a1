//! `middleware.http.oauth2clientcredentials`: contrib's client-credentials
//! token, added to each request as the `headerName` header
//! (`<token_type> <access_token>`, golang.org/x/oauth2's `Token.Type()`).
//!
//! Metadata: `clientID`, `clientSecret`, `scopes` (comma-separated, sent
//! space-separated), `tokenURL` and `headerName` are required;
//! `endpointParamsQuery` (a query string of extra form parameters; one that
//! does not parse is ignored with a warning, as contrib), `authStyle` (`0`
//! auto-detect: HTTP Basic first, then the form, the one that worked kept;
//! `1` form; `2` Basic) and `pathFilter` (a regular expression on the
//! unescaped path; requests whose path does not match pass untouched).
//!
//! The token is fetched when a request needs one and none is cached (the
//! call runs on the blocking pool, never on a worker), then kept until its
//! `expires_in` runs out (a token without one is kept for the process's
//! life, as contrib's go-cache does with the negative duration it gets).
//! The cache is one slot shared by every worker, an [`ArcSwapOption`]: a
//! request reads it with an atomic load and a reference count, no lock, and
//! a fetch replaces it whole. Workers that miss at the same moment each
//! fetch (contrib's cache has no single flight either).
//!
//! When the token cannot be fetched contrib logs the error and returns
//! without writing: Go's server then answers 200 with an empty body, and so
//! does this middleware.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use regex::Regex;

use super::fetch::{self, Target};
use super::{MwRequest, Reply};
use crate::components::{blocking, Metadata};

/// How long a token request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

const AUTO: u8 = 0;
const IN_PARAMS: u8 = 1;
const IN_HEADER: u8 = 2;

/// One component.
pub struct ClientCredentials {
    header: HeaderName,
    path_filter: Option<Regex>,
    conf: Arc<TokenConf>,
    cache: ArcSwapOption<Cached>,
}

struct Cached {
    value: HeaderValue,
    expires: Option<Instant>,
}

/// What a token request needs.
struct TokenConf {
    client_id: String,
    client_secret: String,
    scope: String,
    target: Target,
    params: Option<Vec<(String, String)>>,
    auth_style: u8,
    /// The style auto-detection found to work (`AUTO` until then).
    detected: AtomicU8,
}

/// A token endpoint's answer.
#[derive(Debug, PartialEq)]
struct Token {
    access_token: String,
    token_type: String,
    expires_in: i64,
}

impl ClientCredentials {
    /// From the metadata (checked as contrib: every problem named at once).
    pub fn new(metadata: &Metadata) -> Result<Self, String> {
        let get = |name: &str| metadata.get(name).unwrap_or("").to_owned();
        let mut errors = String::new();
        for name in [
            "headerName",
            "clientID",
            "clientSecret",
            "scopes",
            "tokenURL",
        ] {
            if get(name).is_empty() {
                errors.push_str(&format!("Parameter '{name}' needs to be set. "));
            }
        }
        let path_filter = match get("pathFilter") {
            f if f.is_empty() => None,
            f => match Regex::new(&f) {
                Ok(rx) => Some(rx),
                Err(e) => {
                    errors.push_str(&format!(
                        "Parameter 'pathFilter' is not a valid regex: {e}. "
                    ));
                    None
                }
            },
        };
        let auth_style = match get("authStyle").trim() {
            "" => 0,
            s => s
                .parse::<i64>()
                .map_err(|_| format!("metadata errors: 'authStyle' is not an integer: {s:?}"))?,
        };
        if !(0..=2).contains(&auth_style) {
            errors.push_str(&format!(
                "Parameter 'authStyle' can only have the values 0,1,2. Received: '{auth_style}'. "
            ));
        }
        let header = get("headerName");
        let header_name = HeaderName::from_bytes(header.as_bytes());
        if !header.is_empty() && header_name.is_err() {
            errors.push_str(&format!(
                "Parameter 'headerName' is not a valid header name: {header:?}. "
            ));
        }
        let token_url = get("tokenURL");
        let target = match Target::parse(&token_url) {
            Ok(t) => Some(t),
            Err(e) if !token_url.is_empty() => {
                errors.push_str(&format!("Parameter 'tokenURL' is not usable: {e}. "));
                None
            }
            Err(_) => None,
        };
        let (Some(target), Ok(header), true) = (target, header_name, errors.is_empty()) else {
            return Err(format!("metadata errors: {}", errors.trim_end()));
        };
        let params = match parse_query(&get("endpointParamsQuery")) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!("Error parsing endpoint parameters: {e}");
                None
            }
        };
        Ok(Self {
            header,
            path_filter,
            conf: Arc::new(TokenConf {
                client_id: get("clientID"),
                client_secret: get("clientSecret"),
                scope: get("scopes").split(',').collect::<Vec<_>>().join(" "),
                target,
                params,
                // Checked to be 0..=2 above.
                auth_style: auth_style as u8,
                detected: AtomicU8::new(AUTO),
            }),
            cache: ArcSwapOption::empty(),
        })
    }

    /// The cached header value, if it has not expired.
    fn cached(&self) -> Option<HeaderValue> {
        let guard = self.cache.load();
        let c = guard.as_ref()?;
        match c.expires {
            Some(at) if Instant::now() >= at => None,
            _ => Some(c.value.clone()),
        }
    }

    pub(super) async fn on_request<Q: MwRequest>(&self, req: &mut Q) -> Result<(), Reply> {
        if let Some(rx) = &self.path_filter {
            let path = percent_encoding::percent_decode_str(req.path()).decode_utf8_lossy();
            if !rx.is_match(&path) {
                return Ok(());
            }
        }
        let value = match self.cached() {
            Some(v) => v,
            None => {
                tracing::info!("Cached token not found, attempting to retrieve a new one");
                let conf = self.conf.clone();
                let fetched = blocking::run(move || conf.fetch())
                    .await
                    .unwrap_or_else(|| Err("the token request panicked".to_owned()))
                    .and_then(|t| {
                        let value = format!("{} {}", token_type(&t.token_type), t.access_token);
                        HeaderValue::from_str(&value)
                            .map(|v| (v, t.expires_in))
                            .map_err(|_| "the token cannot be sent as a header value".to_owned())
                    });
                match fetched {
                    Ok((value, expires_in)) => {
                        let expires = (expires_in > 0)
                            .then(|| Instant::now() + Duration::from_secs(expires_in as u64));
                        tracing::info!(expires_in, "Token acquired");
                        self.cache.store(Some(Arc::new(Cached {
                            value: value.clone(),
                            expires,
                        })));
                        value
                    }
                    Err(e) => {
                        tracing::error!("Error acquiring token: {e}");
                        return Err(Reply {
                            status: StatusCode::OK,
                            headers: Vec::new(),
                            body: Bytes::new(),
                        });
                    }
                }
            }
        };
        req.headers_mut().append(self.header.clone(), value);
        Ok(())
    }
}

/// golang.org/x/oauth2's `Token.Type()`.
fn token_type(t: &str) -> &str {
    if t.eq_ignore_ascii_case("bearer") || t.is_empty() {
        "Bearer"
    } else if t.eq_ignore_ascii_case("mac") {
        "MAC"
    } else if t.eq_ignore_ascii_case("basic") {
        "Basic"
    } else {
        t
    }
}

impl TokenConf {
    /// The client-credentials grant (blocking).
    fn fetch(&self) -> Result<Token, String> {
        let mut form: Vec<(String, String)> = vec![
            ("grant_type".into(), "client_credentials".into()),
            ("scope".into(), self.scope.clone()),
        ];
        let params = self.params.as_deref().unwrap_or_default();
        // Only `grant_type` may be replaced (x/oauth2's interoperability rule).
        if params.iter().any(|(k, _)| k == "scope") {
            return Err("oauth2: cannot overwrite parameter \"scope\"".to_owned());
        }
        if params.iter().any(|(k, _)| k == "grant_type") {
            form.retain(|(k, _)| k != "grant_type");
        }
        form.extend(params.iter().cloned());
        let style = match self.auth_style {
            AUTO => self.detected.load(Ordering::Relaxed),
            s => s,
        };
        if style != AUTO {
            return self.request(&form, style);
        }
        match self.request(&form, IN_HEADER) {
            Ok(t) => {
                self.detected.store(IN_HEADER, Ordering::Relaxed);
                Ok(t)
            }
            Err(_) => {
                let t = self.request(&form, IN_PARAMS)?;
                self.detected.store(IN_PARAMS, Ordering::Relaxed);
                Ok(t)
            }
        }
    }

    fn request(&self, form: &[(String, String)], style: u8) -> Result<Token, String> {
        let mut form = form.to_vec();
        let mut headers = vec![(
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        )];
        if style == IN_PARAMS {
            form.retain(|(k, _)| k != "client_id" && k != "client_secret");
            form.push(("client_id".into(), self.client_id.clone()));
            if !self.client_secret.is_empty() {
                form.push(("client_secret".into(), self.client_secret.clone()));
            }
        } else {
            let basic = format!(
                "{}:{}",
                query_escape(&self.client_id),
                query_escape(&self.client_secret)
            );
            headers.push((
                "Authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(basic)
                ),
            ));
        }
        let body = encode_form(&mut form);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = fetch::call(
            "POST",
            &self.target,
            &headers,
            body.as_bytes(),
            FETCH_TIMEOUT,
        )
        .map_err(|e| format!("oauth2: cannot fetch token: {e}"))?;
        if !(200..=299).contains(&answer.status) {
            return Err(format!(
                "oauth2: cannot fetch token: {}\nResponse: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ));
        }
        parse_token(answer.header("content-type").unwrap_or(""), &answer.body)
    }
}

/// The token in a form-encoded or JSON answer.
fn parse_token(content_type: &str, body: &[u8]) -> Result<Token, String> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let token = if media == "application/x-www-form-urlencoded" || media == "text/plain" {
        let text = String::from_utf8_lossy(body);
        let vals = parse_query(&text).map_err(|e| format!("oauth2: cannot parse response: {e}"))?;
        let get = |k: &str| {
            vals.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Token {
            access_token: get("access_token"),
            token_type: get("token_type"),
            expires_in: get("expires_in").parse().unwrap_or(0),
        }
    } else {
        #[derive(serde::Deserialize)]
        struct Json {
            #[serde(default)]
            access_token: String,
            #[serde(default)]
            token_type: String,
            #[serde(default)]
            expires_in: Option<serde_json::Value>,
        }
        let j: Json =
            serde_json::from_slice(body).map_err(|e| format!("oauth2: cannot parse json: {e}"))?;
        let expires_in = match j.expires_in {
            None | Some(serde_json::Value::Null) => 0,
            Some(serde_json::Value::Number(n)) => n.as_i64().ok_or_else(|| {
                format!("oauth2: cannot parse json: expires_in {n} is not an integer")
            })?,
            Some(serde_json::Value::String(s)) => s.parse::<i64>().map_err(|_| {
                format!("oauth2: cannot parse json: expires_in {s:?} is not an integer")
            })?,
            Some(other) => {
                return Err(format!(
                    "oauth2: cannot parse json: expires_in {other} is not a number"
                ))
            }
        };
        Token {
            access_token: j.access_token,
            token_type: j.token_type,
            expires_in: expires_in.min(i64::from(i32::MAX)),
        }
    };
    if token.access_token.is_empty() {
        return Err("oauth2: server response missing access_token".to_owned());
    }
    Ok(token)
}

/// Go's `url.ParseQuery`: `&`-separated `key=value`, `+` a space,
/// `%XX` escapes; a `;` in a key or a bad escape is an error.
fn parse_query(q: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if k.contains(';') {
            return Err("invalid semicolon separator in query".to_owned());
        }
        out.push((unescape(k)?, unescape(v)?));
    }
    Ok(out)
}

fn unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!(
                            "invalid URL escape {:?}",
                            s.get(i..(i + 3).min(s.len())).unwrap_or("%")
                        )
                    })?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(c as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{c:02X}")),
        }
    }
    out
}

/// Go's `url.Values.Encode`: keys sorted (stable: a key's values keep
/// their order).
fn encode_form(form: &mut [(String, String)]) -> String {
    form.sort_by(|a, b| a.0.cmp(&b.0));
    form.iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(p: &[(&str, &str)]) -> Metadata {
        Metadata::from_pairs(p)
    }

    const FULL: [(&str, &str); 5] = [
        ("clientID", "id"),
        ("clientSecret", "s3cret"),
        ("scopes", "a,b"),
        ("tokenURL", "http://127.0.0.1:1/token"),
        ("headerName", "authorization"),
    ];

    #[test]
    fn metadata_is_checked_as_contrib() {
        let err = ClientCredentials::new(&md(&[("authStyle", "3")]))
            .err()
            .unwrap_or_default();
        assert_eq!(
            err,
            "metadata errors: Parameter 'headerName' needs to be set. Parameter 'clientID' needs to be set. Parameter 'clientSecret' needs to be set. Parameter 'scopes' needs to be set. Parameter 'tokenURL' needs to be set. Parameter 'authStyle' can only have the values 0,1,2. Received: '3'."
        );
        let mut p = FULL.to_vec();
        p.push(("pathFilter", "("));
        let err = ClientCredentials::new(&md(&p)).err().unwrap_or_default();
        assert!(
            err.contains("Parameter 'pathFilter' is not a valid regex"),
            "{err}"
        );
        let mut p = FULL.to_vec();
        p.push(("authStyle", "x"));
        assert!(ClientCredentials::new(&md(&p)).is_err());
        let mut p = FULL.to_vec();
        p[3] = ("tokenURL", "token");
        assert!(ClientCredentials::new(&md(&p)).is_err());
        let mut p = FULL.to_vec();
        p.push(("endpointParamsQuery", "a=%zz"));
        let ok = ClientCredentials::new(&md(&p)).expect("bad params are ignored");
        assert!(ok.conf.params.is_none());
        assert_eq!(ok.conf.scope, "a b");
    }

    #[test]
    fn token_answers() {
        let t = parse_token(
            "application/json; charset=utf-8",
            br#"{"access_token":"abc","token_type":"bearer","expires_in":3600}"#,
        )
        .expect("token");
        assert_eq!((t.access_token.as_str(), t.expires_in), ("abc", 3600));
        assert_eq!(token_type(&t.token_type), "Bearer");
        let t = parse_token("", br#"{"access_token":"abc","expires_in":"60"}"#).expect("token");
        assert_eq!(t.expires_in, 60);
        let t = parse_token(
            "text/plain",
            b"access_token=x%2By&token_type=mac&expires_in=zz",
        )
        .expect("token");
        assert_eq!(
            (
                t.access_token.as_str(),
                token_type(&t.token_type),
                t.expires_in
            ),
            ("x+y", "MAC", 0)
        );
        assert!(parse_token("", br#"{"token_type":"bearer"}"#)
            .err()
            .is_some_and(|e| e.contains("missing access_token")));
        assert!(parse_token("", b"<html>").is_err());
        assert!(parse_token("", br#"{"access_token":"a","expires_in":1.5}"#).is_err());
    }

    #[test]
    fn forms_encode_as_go() {
        assert_eq!(query_escape("a b/c~é"), "a+b%2Fc~%C3%A9");
        let mut f = vec![
            ("scope".to_owned(), "x y".to_owned()),
            ("grant_type".to_owned(), "client_credentials".to_owned()),
        ];
        assert_eq!(
            encode_form(&mut f),
            "grant_type=client_credentials&scope=x+y"
        );
        assert_eq!(
            parse_query("a=1&b=x+y%21&&c").expect("query"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), String::new())
            ]
        );
        assert!(parse_query("a;b=1").is_err());
        assert!(parse_query("a=%4").is_err());
    }
}
