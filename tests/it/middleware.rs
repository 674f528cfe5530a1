//! HTTP middleware pipelines (`spec.httpPipeline`, `spec.appHttpPipeline`)
//! against the real binary: what a client of the API gets back, and what
//! the app receives, with contrib's middlewares configured as components.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;

use crate::app::TestApp;
use crate::harness::*;
use crate::services::temp_dir;

/// A resources directory with `components` (YAML documents) and a
/// Configuration whose `spec` is `spec`; returns the flags naming both.
fn resources(components: &[&str], spec: &str) -> Vec<String> {
    let dir = temp_dir("daprd-middleware");
    std::fs::write(dir.join("components.yaml"), components.join("---\n")).unwrap();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!("apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: mw\nspec:\n{spec}"),
    )
    .unwrap();
    // The Configuration is not a component: keep it out of the resources dir.
    let cfg = temp_dir("daprd-middleware-config").join("config.yml");
    std::fs::rename(&config, &cfg).unwrap();
    vec![
        "--resources-path".into(),
        dir.display().to_string(),
        "--config".into(),
        cfg.display().to_string(),
    ]
}

/// A middleware component document.
fn component(name: &str, kind: &str, metadata: &[(&str, &str)]) -> String {
    let mut y = format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: middleware.http.{kind}\n  version: v1\n  metadata:"
    );
    if metadata.is_empty() {
        y.push_str(" []");
    }
    y.push('\n');
    for (k, v) in metadata {
        // Single-quoted YAML: JSON values keep their double quotes.
        y.push_str(&format!("  - name: {k}\n    value: '{v}'\n"));
    }
    y
}

/// A `spec` section with `pipeline` (`httpPipeline` or `appHttpPipeline`)
/// naming `handlers` (`(name, kind)`).
fn pipeline(pipeline: &str, handlers: &[(&str, &str)]) -> String {
    let mut y = format!("  {pipeline}:\n    handlers:\n");
    for (name, kind) in handlers {
        y.push_str(&format!(
            "    - name: {name}\n      type: middleware.http.{kind}\n"
        ));
    }
    y
}

fn start(components: &[&str], spec: &str, extra: &[&str]) -> Daprd {
    start_env(components, spec, extra, &[])
}

fn start_env(components: &[&str], spec: &str, extra: &[&str], env: &[(&str, &str)]) -> Daprd {
    let mut args = resources(components, spec);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Daprd::start_with_env(&args, env)
}

fn app_args(app: &TestApp) -> Vec<String> {
    vec!["--app-port".into(), app.port.to_string()]
}

#[test]
fn rate_limit_is_per_client_and_path_with_tollbooth_headers() {
    let d = start(
        &[&component(
            "limit",
            "ratelimit",
            &[("maxRequestsPerSecond", "2")],
        )],
        &pipeline("httpPipeline", &[("limit", "ratelimit")]),
        &[],
    );
    let started = Instant::now();
    let first = get(d.http, "/v1.0/metadata");
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("x-rate-limit-limit"), Some("2.00"));
    assert_eq!(first.header("x-rate-limit-duration"), Some("1"));
    assert_eq!(first.header("ratelimit-limit"), Some("2"));
    assert_eq!(first.header("ratelimit-reset"), Some("1"));
    assert_eq!(first.header("ratelimit-remaining"), Some("1"));
    assert!(
        first
            .header("x-rate-limit-request-remote-addr")
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{:?}",
        first.headers
    );
    let second = get(d.http, "/v1.0/metadata");
    let third = get(d.http, "/v1.0/metadata");
    // Two tokens, refilled at two a second: a third request within half a
    // second of the first is refused.
    if started.elapsed().as_millis() < 500 {
        assert_eq!(second.status, 200);
        assert_eq!(third.status, 429, "{}", third.text());
        assert_eq!(third.text(), "You have reached maximum request limit.");
        assert_eq!(
            third.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(third.header("ratelimit-remaining"), Some("0"));
    }
    // Another path has its own bucket; so has another client (the last
    // X-Forwarded-For entry, as tollbooth reads it).
    assert_eq!(get(d.http, "/v1.0/healthz").status, 204);
    let r = request(
        d.http,
        "GET",
        "/v1.0/metadata",
        &[("x-forwarded-for", "10.9.9.9, 10.1.1.1")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-rate-limit-request-forwarded-for"),
        Some("10.9.9.9, 10.1.1.1")
    );
    assert_eq!(r.header("ratelimit-remaining"), Some("1"));
}

#[test]
fn rate_limit_holds_across_workers() {
    // One token a second, and one in the bucket: however the connections
    // spread over the workers, one request a second gets through.
    let d = start(
        &[&component(
            "limit",
            "ratelimit",
            &[("maxRequestsPerSecond", "1")],
        )],
        &pipeline("httpPipeline", &[("limit", "ratelimit")]),
        &["--workers", "2"],
    );
    let started = Instant::now();
    let admitted = (0..12)
        .map(|_| get(d.http, "/v1.0/metadata").status)
        .filter(|s| *s == 200)
        .count() as u64;
    let refills = started.elapsed().as_secs();
    assert!(admitted >= 1);
    assert!(
        admitted <= 1 + refills,
        "{admitted} admitted in {refills}s at one a second"
    );
}

#[test]
fn api_token_is_checked_before_the_pipeline() {
    let d = start_env(
        &[&component(
            "limit",
            "ratelimit",
            &[("maxRequestsPerSecond", "1")],
        )],
        &pipeline("httpPipeline", &[("limit", "ratelimit")]),
        &[],
        &[("DAPR_API_TOKEN", "secret")],
    );
    // Refused callers do not spend the bucket (nor get its headers).
    for _ in 0..3 {
        let r = get(d.http, "/v1.0/metadata");
        assert_eq!(r.status, 401);
        assert_eq!(r.header("ratelimit-limit"), None);
    }
    let r = request(
        d.http,
        "GET",
        "/v1.0/metadata",
        &[("dapr-api-token", "secret")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("ratelimit-limit"), Some("1"));
}

#[test]
fn router_checker_refuses_targets_outside_its_rule() {
    let d = start(
        &[&component(
            "checker",
            "routerchecker",
            &[("rule", "^[A-Za-z0-9/._-]+$")],
        )],
        &pipeline("httpPipeline", &[("checker", "routerchecker")]),
        &[],
    );
    assert_eq!(get(d.http, "/v1.0/metadata").status, 200);
    for bad in ["/v1.0/invoke/app/method/a%20b", "/v1.0/metadata?x=1"] {
        let r = get(d.http, bad);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.text(), "invalid router");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
}

#[test]
fn router_alias_rewrites_the_path_before_routing() {
    let app = TestApp::start();
    let d = start(
        &[&component(
            "alias",
            "routeralias",
            &[(
                "routes",
                r#"{"/v1.0/mall/activity/info/{id}": "/v1.0/invoke/testapp/method/echo", "/v1.0/meta": "/v1.0/metadata"}"#,
            )],
        )],
        &pipeline("httpPipeline", &[("alias", "routeralias")]),
        &app_args(&app)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let r = get(d.http, "/v1.0/meta");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "testapp");
    // The template's variables join the query, sorted as Go encodes it.
    let r = get(d.http, "/v1.0/mall/activity/info/42?z=last&a=b+c");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().starts_with("GET /echo?a=b+c&id=42&z=last\n"),
        "{}",
        r.text()
    );
    // Paths no alias matches are routed as they are.
    assert_eq!(get(d.http, "/v1.0/metadata").status, 200);
    assert_eq!(get(d.http, "/v1.0/mall/activity/info").status, 404);
}

#[test]
fn uppercase_changes_the_body_the_app_receives() {
    let app = TestApp::start();
    let d = start(
        &[&component("upper", "uppercase", &[])],
        &pipeline("httpPipeline", &[("upper", "uppercase")]),
        &app_args(&app)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let r = request(
        d.http,
        "POST",
        "/v1.0/invoke/testapp/method/echo",
        &[("content-type", "text/plain")],
        "hello, straße".as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().ends_with("\n\nHELLO, STRAßE"), "{}", r.text());
}

#[test]
fn app_pipeline_runs_on_calls_to_the_app() {
    let app = TestApp::start();
    let d = start(
        &[
            &component("upper", "uppercase", &[("direction", "both")]),
            &component("checker", "routerchecker", &[("rule", "^/echo")]),
        ],
        &pipeline(
            "appHttpPipeline",
            &[("checker", "routerchecker"), ("upper", "uppercase")],
        ),
        &app_args(&app)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // The app gets the uppercased body; the caller the uppercased answer.
    let r = request(
        d.http,
        "POST",
        "/v1.0/invoke/testapp/method/echo",
        &[("x-probe", "kept")],
        b"quiet",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.starts_with("POST /ECHO\n"), "{text}");
    assert!(text.contains("X-PROBE: KEPT"), "{text}");
    assert!(text.ends_with("\n\nQUIET"), "{text}");
    // A method outside the rule never reaches the app.
    let r = get(d.http, "/v1.0/invoke/testapp/method/status/200");
    assert_eq!(r.status, 400, "{}", r.text());
    // (the middleware's answer, itself uppercased by nothing: the checker
    // runs first and answers before the uppercase handler.)
    assert_eq!(r.text(), "invalid router");
    // The API itself has no pipeline.
    assert_eq!(get(d.http, "/v1.0/metadata").status, 200);
}

#[test]
fn pipeline_mistakes_fail_start_up_naming_them() {
    let cases: [(&[String], String, &str); 3] = [
        (
            &[component("upper", "uppercase", &[])],
            pipeline("httpPipeline", &[("nothere", "uppercase")]),
            "\"nothere\"",
        ),
        (
            &[component("sentinel", "sentinel", &[])],
            pipeline("httpPipeline", &[("sentinel", "sentinel")]),
            "middleware.http.sentinel",
        ),
        (
            &[component(
                "limit",
                "ratelimit",
                &[("maxRequestsPerSecond", "0")],
            )],
            pipeline("appHttpPipeline", &[("limit", "ratelimit")]),
            "maxRequestsPerSecond must be a positive value",
        ),
    ];
    for (components, spec, want) in cases {
        let docs: Vec<&str> = components.iter().map(String::as_str).collect();
        let mut args = resources(&docs, &spec);
        args.splice(0..0, ["--app-id".to_owned(), "mw".to_owned()]);
        for listener in ["--dapr-http-port", "--dapr-grpc-port", "--metrics-port"] {
            args.extend([listener.to_owned(), "0".to_owned()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out) = run_to_exit(&args);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(want), "{want} not in: {out}");
    }
}

// === bearer and oauth2clientcredentials, against a local identity provider ===

/// A loopback HTTP server standing in for an identity provider: answers
/// `GET /.well-known/openid-configuration`, `GET /jwks` and `POST /token`
/// from `idp`, and counts and records what it is asked.
struct Idp {
    port: u16,
    state: Arc<Mutex<IdpState>>,
}

#[derive(Default)]
struct IdpState {
    /// The discovery document's `issuer` (`None`: the server's own URL).
    issuer: Option<String>,
    jwks: String,
    /// `expires_in` of issued tokens (`None`: left out).
    expires_in: Option<u64>,
    /// Tokens issued.
    token_requests: usize,
    /// `(authorization header, form body)` of each token request.
    token_calls: Vec<(String, String)>,
}

impl Idp {
    fn start(jwks: String) -> Idp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(IdpState {
            jwks,
            ..IdpState::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let state = shared.clone();
                std::thread::spawn(move || Idp::serve(conn, port, &state));
            }
        });
        Idp { port, state }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(conn: std::net::TcpStream, port: u16, state: &Mutex<IdpState>) {
        use std::io::{BufReader, Read, Write};
        let mut r = BufReader::new(conn.try_clone().unwrap());
        let mut w = conn;
        let Some(head) = crate::harness::read_request_head(&mut r) else {
            return;
        };
        let target = head.target.clone();
        let len: usize = head
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let auth = head.header("authorization").unwrap_or_default().to_owned();
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        let mut s = state.lock().unwrap();
        let (status, answer) = match target.as_str() {
            "/.well-known/openid-configuration" => {
                let me = format!("http://127.0.0.1:{port}");
                let issuer = s.issuer.clone().unwrap_or_else(|| me.clone());
                (
                    200,
                    serde_json::json!({"issuer": issuer, "jwks_uri": format!("{me}/jwks")})
                        .to_string(),
                )
            }
            "/jwks" => (200, s.jwks.clone()),
            "/token" => {
                s.token_requests += 1;
                s.token_calls
                    .push((auth, String::from_utf8_lossy(&body).into_owned()));
                let mut t = serde_json::json!({
                    "access_token": format!("tok-{}", s.token_requests),
                    "token_type": "bearer",
                });
                if let Some(e) = s.expires_in {
                    t["expires_in"] = e.into();
                }
                (200, t.to_string())
            }
            _ => (404, "not found".to_owned()),
        };
        drop(s);
        let _ = write!(
            w,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        );
    }
}

fn openssl_installed() -> bool {
    std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Keys made by `openssl` for the test: their PEM files and public JWKs.
struct Keys {
    dir: std::path::PathBuf,
}

impl Keys {
    fn make() -> Keys {
        let dir = temp_dir("daprd-jwt-keys");
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        for name in ["rsa.pem", "rogue.pem"] {
            run(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                name,
            ]);
        }
        run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.pem",
        ]);
        let modulus =
            String::from_utf8(run(&["rsa", "-in", "rsa.pem", "-noout", "-modulus"])).unwrap();
        let n = hex(modulus.trim().trim_start_matches("Modulus="));
        let spki = run(&["pkey", "-in", "ec.pem", "-pubout", "-outform", "DER"]);
        // The SubjectPublicKeyInfo ends with the uncompressed point 04 || x || y.
        let point = &spki[spki.len() - 64..];
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": b64(&n), "e": "AQAB"},
            {"kty": "EC", "kid": "ec1", "crv": "P-256", "x": b64(&point[..32]), "y": b64(&point[32..])},
        ]});
        std::fs::write(dir.join("jwks.json"), jwks.to_string()).unwrap();
        Keys { dir }
    }

    fn jwks(&self) -> String {
        std::fs::read_to_string(self.dir.join("jwks.json")).unwrap()
    }

    /// A JWT with `claims`, signed by key file `key` (`rsa.pem`, `ec.pem`,
    /// `rogue.pem`) and naming `kid`.
    fn sign(&self, key: &str, kid: &str, claims: serde_json::Value) -> String {
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        let pem = std::fs::read(self.dir.join(key)).unwrap();
        let (alg, key) = if key == "ec.pem" {
            (Algorithm::ES256, EncodingKey::from_ec_pem(&pem).unwrap())
        } else {
            (Algorithm::RS256, EncodingKey::from_rsa_pem(&pem).unwrap())
        };
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn bearer_checks_tokens_against_the_discovered_key_set() {
    let test = "bearer_checks_tokens_against_the_discovered_key_set";
    if !crate::services::available("the openssl command", openssl_installed(), test) {
        return;
    }
    let keys = Keys::make();
    let idp = Idp::start(keys.jwks());
    let issuer = idp.url();
    // On the app pipeline (on the API one it would refuse the harness'
    // readiness probe too, as Go's). No jwksURL: found through the issuer's
    // discovery document.
    let app = TestApp::start();
    let d = start(
        &[&component(
            "auth",
            "bearer",
            &[("issuerURL", &issuer), ("audience", "my-app")],
        )],
        &pipeline("appHttpPipeline", &[("auth", "bearer")]),
        &app_args(&app)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let claims = |aud: &str, iss: &str, exp: i64| serde_json::json!({"sub": "someone", "aud": aud, "iss": iss, "exp": exp, "iat": now()});
    let call = |auth: Option<String>| {
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        request(
            d.http,
            "GET",
            "/v1.0/invoke/testapp/method/echo",
            &headers,
            b"",
        )
    };
    let hour = now() + 3600;
    let ok = |r: &HttpResponse, what: &str| {
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        // The app got the call, with the token.
        assert!(r.text().starts_with("GET /echo\n"), "{what}: {}", r.text());
    };
    let refused = |r: &HttpResponse, what: &str| {
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert_eq!(r.text(), "Unauthorized", "{what}");
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{what}"
        );
    };

    let rsa = keys.sign("rsa.pem", "rsa1", claims("my-app", &issuer, hour));
    ok(&call(Some(format!("Bearer {rsa}"))), "RSA");
    ok(&call(Some(format!("bEaReR {rsa}"))), "scheme in any case");
    let ec = keys.sign("ec.pem", "ec1", claims("my-app", &issuer, hour));
    ok(&call(Some(format!("Bearer {ec}"))), "EC");
    // An audience list containing ours.
    let list = keys.sign(
        "rsa.pem",
        "rsa1",
        serde_json::json!({"aud": ["other", "my-app"], "iss": issuer, "exp": hour}),
    );
    ok(&call(Some(format!("Bearer {list}"))), "audience list");
    // Expired a minute ago: within the 5 minutes of allowed skew.
    let skew = keys.sign("rsa.pem", "rsa1", claims("my-app", &issuer, now() - 60));
    ok(&call(Some(format!("Bearer {skew}"))), "within the skew");

    let expired = keys.sign("rsa.pem", "rsa1", claims("my-app", &issuer, now() - 600));
    refused(&call(Some(format!("Bearer {expired}"))), "expired");
    let early = keys.sign(
        "rsa.pem",
        "rsa1",
        serde_json::json!({"aud": "my-app", "iss": issuer, "exp": hour, "nbf": now() + 900}),
    );
    refused(&call(Some(format!("Bearer {early}"))), "not yet valid");
    let aud = keys.sign("rsa.pem", "rsa1", claims("not-my-app", &issuer, hour));
    refused(&call(Some(format!("Bearer {aud}"))), "wrong audience");
    let iss = keys.sign(
        "rsa.pem",
        "rsa1",
        claims("my-app", "http://elsewhere", hour),
    );
    refused(&call(Some(format!("Bearer {iss}"))), "wrong issuer");
    let kid = keys.sign("rsa.pem", "nope", claims("my-app", &issuer, hour));
    refused(&call(Some(format!("Bearer {kid}"))), "unknown kid");
    let rogue = keys.sign("rogue.pem", "rsa1", claims("my-app", &issuer, hour));
    refused(
        &call(Some(format!("Bearer {rogue}"))),
        "signed by another key",
    );
    // The EC token presented under the RSA key's id.
    let swapped = keys.sign("ec.pem", "rsa1", claims("my-app", &issuer, hour));
    refused(
        &call(Some(format!("Bearer {swapped}"))),
        "key of another type",
    );
    let mut tampered = rsa.clone();
    tampered.insert_str(rsa.find('.').unwrap() + 1, "e30");
    refused(&call(Some(format!("Bearer {tampered}"))), "tampered");
    refused(&call(None), "no header");
    refused(&call(Some(format!("Basic {rsa}"))), "another scheme");
    refused(&call(Some("Bearer short".into())), "too short");
    refused(&call(Some("Bearer not.a.jwt-at-all".into())), "garbage");
    // The key set is fetched once at start-up and then served from memory.
    ok(&call(Some(format!("Bearer {rsa}"))), "RSA again");
}

#[test]
fn bearer_start_up_fails_on_an_unusable_identity_provider() {
    let keys_json = r#"{"keys":[]}"#.to_owned();
    let idp = Idp::start(keys_json);
    idp.state.lock().unwrap().issuer = Some("http://impostor".into());
    let cases = [
        (
            vec![("issuer", idp.url()), ("audience", "a".to_owned())],
            "failed to retrieve OpenID Configuration document: the issuer found in the OpenID Configuration document ('http://impostor')",
        ),
        (
            vec![
                ("issuer", idp.url()),
                ("audience", "a".to_owned()),
                ("jwksURL", format!("{}/missing", idp.url())),
            ],
            "failed to fetch JWKS",
        ),
        (
            vec![
                ("issuer", idp.url()),
                ("audience", "a".to_owned()),
                ("jwksURL", format!("http://127.0.0.1:{}/jwks", free_port())),
            ],
            "failed to fetch JWKS",
        ),
        (vec![("issuer", idp.url())], "metadata property 'audience' is required"),
    ];
    for (md, want) in cases {
        let md: Vec<(&str, &str)> = md.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let docs = [component("auth", "bearer", &md)];
        let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let mut args = resources(&docs, &pipeline("httpPipeline", &[("auth", "bearer")]));
        args.splice(0..0, ["--app-id".to_owned(), "mw".to_owned()]);
        for listener in ["--dapr-http-port", "--dapr-grpc-port", "--metrics-port"] {
            args.extend([listener.to_owned(), "0".to_owned()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out) = run_to_exit(&args);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(want), "{want} not in: {out}");
        assert!(
            out.contains("\"auth\""),
            "the component is not named: {out}"
        );
    }
}

#[test]
fn oauth2_client_credentials_token_is_fetched_once_and_refetched_after_expiry() {
    let idp = Idp::start(String::new());
    idp.state.lock().unwrap().expires_in = Some(2);
    let app = TestApp::start();
    let token_url = format!("{}/token", idp.url());
    let d = start(
        &[&component(
            "cc",
            "oauth2clientcredentials",
            &[
                ("clientId", "my client"),
                ("clientSecret", "s3cret"),
                ("scopes", "read,write"),
                ("tokenURL", &token_url),
                ("headerName", "x-token"),
                ("endpointParamsQuery", "resource=api&audience=x%2By"),
                ("authStyle", "2"),
            ],
        )],
        &pipeline("appHttpPipeline", &[("cc", "oauth2clientcredentials")]),
        &app_args(&app)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let call = || {
        let r = post(d.http, "/v1.0/invoke/testapp/method/echo", b"");
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    };
    let first = call();
    assert!(first.contains("x-token: Bearer tok-1\n"), "{first}");
    // Cached: the same token, no new request (on whichever worker serves it).
    for _ in 0..5 {
        let again = call();
        assert!(again.contains("x-token: Bearer tok-1\n"), "{again}");
    }
    assert_eq!(idp.state.lock().unwrap().token_requests, 1);
    // Expired after 2 s: fetched again.
    std::thread::sleep(std::time::Duration::from_millis(2300));
    let later = call();
    assert!(later.contains("x-token: Bearer tok-2\n"), "{later}");
    assert!(call().contains("x-token: Bearer tok-2\n"));
    let s = idp.state.lock().unwrap();
    assert_eq!(s.token_requests, 2);
    // authStyle 2: HTTP Basic with the query-escaped id and secret; the form
    // has the grant, the scopes space-separated and the endpoint parameters,
    // sorted as Go's url.Values.Encode.
    let (auth, form) = &s.token_calls[0];
    assert_eq!(
        auth,
        &format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my+client:s3cret")
        )
    );
    assert_eq!(
        form,
        "audience=x%2By&grant_type=client_credentials&resource=api&scope=read+write"
    );
}

#[test]
fn oauth2_client_credentials_sends_the_secret_in_the_form_and_keeps_tokens_without_expiry() {
    let idp = Idp::start(String::new());
    let app = TestApp::start();
    let token_url = format!("{}/token", idp.url());
    let d = start(
        &[&component(
            "cc",
            "oauth2clientcredentials",
            &[
                ("clientID", "id"),
                ("clientSecret", "s3cret"),
                ("scopes", "read"),
                ("tokenURL", &token_url),
                ("headerName", "authorization"),
                ("authStyle", "1"),
                ("pathFilter", "^/guarded"),
            ],
        )],
        &pipeline("appHttpPipeline", &[("cc", "oauth2clientcredentials")]),
        &app_args(&app)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // Outside pathFilter: untouched, and no token is fetched.
    let r = post(d.http, "/v1.0/invoke/testapp/method/echo", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains("authorization:"), "{}", r.text());
    assert_eq!(idp.state.lock().unwrap().token_requests, 0);
    // Inside: the header is added (the test app echoes any other path too).
    for _ in 0..3 {
        let r = post(d.http, "/v1.0/invoke/testapp/method/guarded/x", b"");
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            r.text().contains("authorization: Bearer tok-1\n"),
            "{}",
            r.text()
        );
    }
    let s = idp.state.lock().unwrap();
    // No expires_in: kept for good (contrib's go-cache with a negative duration).
    assert_eq!(s.token_requests, 1);
    let (auth, form) = &s.token_calls[0];
    assert_eq!(auth, "");
    assert_eq!(
        form,
        "client_id=id&client_secret=s3cret&grant_type=client_credentials&scope=read"
    );
}

#[test]
fn oauth2_client_credentials_failures() {
    // The token endpoint refuses: contrib logs and writes nothing, which Go
    // answers as an empty 200; the app never sees the call.
    let app = TestApp::start();
    let token_url = format!("http://127.0.0.1:{}/token", free_port());
    let d = start(
        &[&component(
            "cc",
            "oauth2clientcredentials",
            &[
                ("clientID", "id"),
                ("clientSecret", "s"),
                ("scopes", "read"),
                ("tokenURL", &token_url),
                ("headerName", "authorization"),
            ],
        )],
        &pipeline("appHttpPipeline", &[("cc", "oauth2clientcredentials")]),
        &app_args(&app)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let r = post(d.http, "/v1.0/invoke/testapp/method/echo", b"hello");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "");
    // Missing metadata fails start-up naming the component and every gap.
    let docs = [component(
        "cc",
        "oauth2clientcredentials",
        &[("clientID", "id"), ("authStyle", "7")],
    )];
    let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let mut args = resources(
        &docs,
        &pipeline("appHttpPipeline", &[("cc", "oauth2clientcredentials")]),
    );
    args.splice(0..0, ["--app-id".to_owned(), "mw".to_owned()]);
    for listener in ["--dapr-http-port", "--dapr-grpc-port", "--metrics-port"] {
        args.extend([listener.to_owned(), "0".to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out) = run_to_exit(&args);
    assert_eq!(code, 1, "{out}");
    for want in [
        "\"cc\"",
        "Parameter 'headerName' needs to be set.",
        "Parameter 'tokenURL' needs to be set.",
        "Parameter 'authStyle' can only have the values 0,1,2. Received: '7'.",
    ] {
        assert!(out.contains(want), "{want} not in: {out}");
    }
}

fn post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> HttpResponse {
    request(addr, "POST", path, &[], body)
}
