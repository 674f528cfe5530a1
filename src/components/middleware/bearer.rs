//! `middleware.http.bearer`: contrib's OIDC bearer-token check.
//!
//! Metadata: `issuer` (alias `issuerURL`) and `audience` (alias
//! `clientID`) are required; `jwksURL` is optional. Without it the key set's
//! address is the `jwks_uri` of `<issuer>/.well-known/openid-configuration`,
//! whose `issuer` must equal the metadata's exactly. The key set is fetched
//! at start-up (on the main thread, before workers start); a failure fails
//! start-up naming the component. A thread of the component then fetches it
//! again every 10 minutes, or after the answer's `Cache-Control: max-age` /
//! `Expires` when longer (jwx's cache with contrib's minimum refresh
//! interval); a failed refresh keeps the previous set. Workers read the
//! current set through an [`ArcSwap`], without a lock.
//!
//! Each request needs `Authorization: Bearer <jwt>` (the scheme in any
//! case). The JWT's header must name a `kid` found in the set, with an
//! algorithm the key allows (the key's `alg` when it has one; RSA, RSA-PSS,
//! ECDSA, EdDSA keys); the signature must verify, `iss` must equal
//! `issuer`, `aud` must contain `audience`, and `exp`, `nbf`, `iat` hold with
//! 5 minutes of clock skew. Anything else: 401 `Unauthorized`
//! (`text/plain; charset=utf-8`), contrib's `RespondWithError`.

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use http::StatusCode;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, Validation};

use super::fetch::{self, Target};
use super::{MwRequest, Reply};
use crate::components::Metadata;

/// Contrib's minimum interval between two fetches of the key set.
pub const MIN_REFRESH: Duration = Duration::from_secs(10 * 60);
/// Contrib's allowed clock skew for `exp`, `nbf` and `iat`.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// How long the discovery and key set calls may take (contrib's 30 s
/// start-up context).
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// One component.
pub struct Bearer {
    issuer: String,
    audience: String,
    keys: Arc<ArcSwap<JwkSet>>,
}

impl Bearer {
    /// From the metadata; fetches the discovery document (without
    /// `jwksURL`) and the key set now, and starts the refresh thread.
    pub fn new(metadata: &Metadata) -> Result<Self, String> {
        let get = |name: &str, alias: &str| {
            metadata
                .get(name)
                .filter(|v| !v.is_empty())
                .or_else(|| metadata.get(alias))
                .unwrap_or("")
                .to_owned()
        };
        let issuer = get("issuer", "issuerURL");
        let audience = get("audience", "clientID");
        if issuer.is_empty() {
            return Err("metadata property 'issuer' is required".to_owned());
        }
        if audience.is_empty() {
            return Err("metadata property 'audience' is required".to_owned());
        }
        let jwks_url = match metadata.get("jwksURL").filter(|v| !v.is_empty()) {
            Some(url) => url.to_owned(),
            None => discover(&issuer)
                .map_err(|e| format!("failed to retrieve OpenID Configuration document: {e}"))?,
        };
        let target = Target::parse(&jwks_url).map_err(|e| format!("failed to fetch JWKS: {e}"))?;
        let (set, every) = fetch_keys(&target).map_err(|e| format!("failed to fetch JWKS: {e}"))?;
        let keys = Arc::new(ArcSwap::from_pointee(set));
        let weak = Arc::downgrade(&keys);
        std::thread::Builder::new()
            .name("daprd-jwks".to_owned())
            .spawn(move || refresh(weak, target, every))
            .map_err(|e| format!("cannot start the JWKS refresh thread: {e}"))?;
        Ok(Self {
            issuer,
            audience,
            keys,
        })
    }

    pub(super) fn on_request<Q: MwRequest>(&self, req: &Q) -> Result<(), Reply> {
        if self.check(req).is_some() {
            Ok(())
        } else {
            Err(Reply::text(StatusCode::UNAUTHORIZED, "Unauthorized"))
        }
    }

    /// `Some` when the request carries a valid token.
    fn check<Q: MwRequest>(&self, req: &Q) -> Option<()> {
        const PREFIX: &[u8] = b"bearer ";
        let auth = req.headers().get(http::header::AUTHORIZATION)?.as_bytes();
        if auth.len() < PREFIX.len() + 1 || !auth[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
            return None;
        }
        let raw = &auth[PREFIX.len()..];
        if raw.len() < 10 {
            return None;
        }
        let header = jsonwebtoken::decode_header(raw).ok()?;
        // jwx matches keys by `kid` and wants one.
        let kid = header.kid.as_deref()?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = CLOCK_SKEW.as_secs();
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        let keys = self.keys.load();
        keys.keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .filter(|k| allows(k, header.alg))
            .find_map(|k| {
                let key = DecodingKey::from_jwk(k).ok()?;
                let data =
                    jsonwebtoken::decode::<serde_json::Value>(raw, &key, &validation).ok()?;
                iat_ok(&data.claims).then_some(())
            })
    }
}

/// Whether `key` may verify `alg`: the key's own `alg` when it names one.
fn allows(key: &Jwk, alg: jsonwebtoken::Algorithm) -> bool {
    match key.common.key_algorithm {
        None => true,
        Some(ka) => ka.to_string() == format!("{alg:?}"),
    }
}

/// jwx's `iat` check: not in the future beyond the allowed skew.
fn iat_ok(claims: &serde_json::Value) -> bool {
    let Some(iat) = claims.get("iat") else {
        return true;
    };
    let Some(iat) = iat.as_f64() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    iat <= now + CLOCK_SKEW.as_secs_f64()
}

/// The `jwks_uri` of the issuer's OpenID configuration document.
fn discover(issuer: &str) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Document {
        #[serde(default)]
        issuer: String,
        #[serde(default)]
        jwks_uri: String,
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let answer = fetch::call("GET", &Target::parse(&url)?, &[], b"", FETCH_TIMEOUT)
        .map_err(|e| format!("failed to execute request: {e}"))?;
    if answer.status != 200 {
        return Err(format!("invalid response status code: {}", answer.status));
    }
    let doc: Document = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("failed to decode JSON response: {e}"))?;
    if doc.jwks_uri.is_empty() {
        return Err("the OpenID Configuration document does not contain a 'jwks_uri'".to_owned());
    }
    if doc.issuer != issuer {
        return Err(format!(
            "the issuer found in the OpenID Configuration document ('{}') doesn't match the one provided in the component's metadata ('{issuer}')",
            doc.issuer
        ));
    }
    Ok(doc.jwks_uri)
}

/// The key set and when to fetch it again.
fn fetch_keys(target: &Target) -> Result<(JwkSet, Duration), String> {
    let answer = fetch::call(
        "GET",
        target,
        &[("Accept", "application/json")],
        b"",
        FETCH_TIMEOUT,
    )?;
    if answer.status != 200 {
        return Err(format!(
            "failed to fetch resource pointed by URL: status {}",
            answer.status
        ));
    }
    let set = parse_set(&answer.body)?;
    Ok((set, refresh_interval(&answer)))
}

/// A JWK Set; keys this build cannot read (other key types, unknown
/// parameters) are skipped, as jwx leaves unusable keys unmatched.
fn parse_set(body: &[u8]) -> Result<JwkSet, String> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let raw: RawSet =
        serde_json::from_slice(body).map_err(|e| format!("failed to parse JWK set: {e}"))?;
    let mut keys = Vec::with_capacity(raw.keys.len());
    for k in raw.keys {
        match serde_json::from_value::<Jwk>(k) {
            Ok(k) => keys.push(k),
            Err(e) => {
                tracing::warn!(error = %e, "bearer middleware: a JWK of the set is not usable; skipped")
            }
        }
    }
    Ok(JwkSet { keys })
}

/// httprc's interval: the answer's `max-age`, else its `Expires`, never
/// under [`MIN_REFRESH`].
fn refresh_interval(answer: &fetch::Answer) -> Duration {
    let max_age = answer.header("cache-control").and_then(|cc| {
        cc.split(',').find_map(|d| {
            let (k, v) = d.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| v.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
    });
    let from_headers = match max_age {
        Some(s) => Some(Duration::from_secs(s)),
        None => answer
            .header("expires")
            .and_then(|e| httpdate::parse_http_date(e).ok())
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default()),
    };
    from_headers.unwrap_or(MIN_REFRESH).max(MIN_REFRESH)
}

/// The refresh thread: ends when the component is gone.
fn refresh(keys: Weak<ArcSwap<JwkSet>>, target: Target, mut every: Duration) {
    loop {
        std::thread::sleep(every);
        let Some(keys) = keys.upgrade() else {
            return;
        };
        match fetch_keys(&target) {
            Ok((set, next)) => {
                keys.store(Arc::new(set));
                every = next;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Error while refreshing JWKS cache");
                every = MIN_REFRESH;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(headers: &[(&str, &str)]) -> fetch::Answer {
        fetch::Answer {
            status: 200,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn refresh_follows_cache_headers_with_a_floor() {
        assert_eq!(refresh_interval(&answer(&[])), MIN_REFRESH);
        assert_eq!(
            refresh_interval(&answer(&[("cache-control", "public, max-age=3600")])),
            Duration::from_secs(3600)
        );
        assert_eq!(
            refresh_interval(&answer(&[("cache-control", "max-age=5")])),
            MIN_REFRESH
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(7200));
        let got = refresh_interval(&answer(&[("expires", &later)]));
        assert!(
            got > Duration::from_secs(7000) && got <= Duration::from_secs(7200),
            "{got:?}"
        );
    }

    #[test]
    fn metadata_is_checked() {
        let md = |p: &[(&str, &str)]| Metadata::from_pairs(p);
        let err = |m: Metadata| Bearer::new(&m).err().unwrap_or_default();
        assert_eq!(
            err(md(&[("audience", "a")])),
            "metadata property 'issuer' is required"
        );
        assert_eq!(
            err(md(&[("issuerURL", "https://i")])),
            "metadata property 'audience' is required"
        );
        assert!(err(md(&[
            ("issuer", "i"),
            ("clientID", "a"),
            ("jwksURL", "ftp://x/")
        ]))
        .starts_with("failed to fetch JWKS: invalid URL"));
    }

    #[test]
    fn key_sets_skip_unusable_keys() {
        let set = parse_set(br#"{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},{"kty":"weird","kid":"w"}]}"#)
            .expect("set");
        assert_eq!(set.keys.len(), 1);
        assert!(parse_set(b"{}").is_err());
        assert!(parse_set(b"not json").is_err());
    }

    #[test]
    fn iat_in_the_future_beyond_the_skew_fails() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        assert!(iat_ok(&serde_json::json!({})));
        assert!(iat_ok(&serde_json::json!({"iat": now + 60})));
        assert!(!iat_ok(&serde_json::json!({"iat": now + 600})));
        assert!(!iat_ok(&serde_json::json!({"iat": "soon"})));
    }
}
