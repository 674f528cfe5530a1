//! HTTP middleware pipelines (`spec.httpPipeline`, `spec.appHttpPipeline`)
//! against the real binary: what a client of the API gets back, and what
//! the app receives, with contrib's middlewares configured as components.

use std::time::Instant;

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
