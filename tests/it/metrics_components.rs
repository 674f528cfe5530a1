//! `/metrics`: the component families Go counts per API call into a store
//! (`dapr_component_state_*`, `_secret_*`, `_configuration_*`), the start-up
//! counters (`dapr_runtime_component_*`) and `dapr_http_server_response_count`,
//! with Go's names, labels and buckets.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::metrics::{assert_exposition_format, sum_samples};
use crate::services;

/// Go's default latency buckets (ms), as `le` labels.
const GO_BUCKETS: [&str; 34] = [
    "1", "2", "3", "4", "5", "6", "8", "10", "13", "16", "20", "25", "30", "40", "50", "65", "80",
    "100", "130", "160", "200", "250", "300", "400", "500", "650", "800", "1000", "2000", "5000",
    "10000", "20000", "50000", "100000",
];

/// A Component document; `extra` is appended to `spec` (e.g. `ignoreErrors`).
fn component(name: &str, kind: &str, metadata: &[(&str, &str)], extra: &str) -> String {
    let mut y = format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: {kind}\n  version: v1\n{extra}  metadata:"
    );
    if metadata.is_empty() {
        y.push_str(" []");
    }
    y.push('\n');
    for (k, v) in metadata {
        y.push_str(&format!("  - name: {k}\n    value: \"{v}\"\n"));
    }
    y
}

/// A fresh resources directory with `docs` and a secrets file.
fn resources(docs: impl FnOnce(&str) -> Vec<String>) -> PathBuf {
    let dir = std::env::temp_dir().join(services::unique_app_id("daprd-compmetrics"));
    std::fs::create_dir_all(&dir).unwrap();
    let secrets = dir.join("secrets.json");
    std::fs::write(&secrets, r#"{"plain": "p", "db": "d"}"#).unwrap();
    let docs = docs(&secrets.display().to_string());
    std::fs::write(dir.join("components.yaml"), docs.join("---\n")).unwrap();
    dir
}

/// The value of the sample with exactly `series` (name and labels).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The `le` labels of `family`'s buckets for the series with `labels`.
fn buckets(text: &str, family: &str, labels: &str) -> Vec<String> {
    let prefix = format!("{family}_bucket{{{labels},le=\"");
    text.lines()
        .filter_map(|l| Some(l.strip_prefix(&prefix)?.split_once('"')?.0.to_owned()))
        .collect()
}

#[test]
fn state_secret_and_start_up_series_as_go() {
    let dir = resources(|secrets| {
        vec![
            component("statestore", "state.in-memory", &[], ""),
            component(
                "vault",
                "secretstores.local.file",
                &[("secretsFile", secrets)],
                "",
            ),
            // Skipped for their ignoreErrors: an unknown type, a refused schedule.
            component("ghost", "state.nosuch", &[], "  ignoreErrors: true\n"),
            component(
                "ticker",
                "bindings.cron",
                &[("schedule", "not a schedule")],
                "  ignoreErrors: true\n",
            ),
        ]
    });
    let dir = dir.display().to_string();
    let (d, grpc) = crate::grpc::start_with_grpc(&["--resources-path", &dir], &[]);
    let h = d.http;
    let json = [("content-type", "application/json")];
    let post = |path: &str, body: &str| request(h, "POST", path, &json, body.as_bytes());

    // State: each API call into the store counts once, by Go's operation names.
    assert_eq!(
        post("/v1.0/state/statestore", r#"[{"key":"a","value":1}]"#).status,
        204
    );
    let two = r#"[{"key":"a","value":2},{"key":"b","value":3}]"#;
    assert_eq!(post("/v1.0/state/statestore", two).status, 204);
    let stale = r#"[{"key":"a","value":4,"etag":"999"}]"#;
    assert_eq!(post("/v1.0/state/statestore", stale).status, 409);
    assert_eq!(get(h, "/v1.0/state/statestore/a").status, 200);
    assert_eq!(get(h, "/v1.0/state/statestore/a").status, 200);
    assert_eq!(
        post("/v1.0/state/statestore/bulk", r#"{"keys":["a","zz"]}"#).status,
        200
    );
    // No keys: Go answers without calling the store, and counts nothing.
    assert_eq!(
        post("/v1.0/state/statestore/bulk", r#"{"keys":[]}"#).status,
        200
    );
    let tx = r#"{"operations":[{"operation":"upsert","request":{"key":"t","value":1}}]}"#;
    assert_eq!(post("/v1.0/state/statestore/transaction", tx).status, 204);
    assert_eq!(
        request(h, "DELETE", "/v1.0/state/statestore/a", &[], b"").status,
        204
    );
    // Never reaching a store: not counted.
    assert_eq!(get(h, "/v1.0/state/nostore/a").status, 400);
    assert_eq!(post("/v1.0/state/statestore", "[]").status, 204);
    crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{grpc}"),
        )
        .await
        .unwrap();
        c.delete_bulk_state("statestore", [("b", Vec::new()), ("t", Vec::new())])
            .await
            .unwrap();
        let got = c.get_state("statestore", "b", None).await.unwrap();
        assert!(got.data.is_empty());
    });

    // Secrets: a denied or missing secret still reaches the store (false).
    assert_eq!(get(h, "/v1.0/secrets/vault/plain").status, 200);
    assert_eq!(get(h, "/v1.0/secrets/vault/missing").status, 500);
    assert_eq!(get(h, "/v1.0/secrets/vault/bulk").status, 200);

    let text = get(d.metrics, "/metrics").text();
    assert_exposition_format(&text);
    let base = |store: &str| format!("app_id=\"testapp\",component=\"{store}\",namespace=\"\"");
    let state = base("statestore");
    for (operation, success, n) in [
        ("set", "true", 2.0),
        ("set", "false", 1.0),
        ("get", "true", 3.0),
        ("bulk_get", "true", 1.0),
        ("transaction", "true", 1.0),
        ("delete", "true", 1.0),
        ("bulk_delete", "true", 1.0),
    ] {
        let labels = format!("{state},operation=\"{operation}\",success=\"{success}\"");
        let series = format!("dapr_component_state_count{{{labels}}}");
        assert_eq!(value(&text, &series), Some(n), "{series} in\n{text}");
        let series = format!("dapr_component_state_latencies_count{{{labels}}}");
        assert_eq!(value(&text, &series), Some(n), "{series} in\n{text}");
    }
    assert_eq!(
        sum_samples(&text, "dapr_component_state_count", &[]),
        10.0,
        "nothing else counted:\n{text}"
    );
    let labels = format!("{state},operation=\"get\",success=\"true\"");
    let le = buckets(&text, "dapr_component_state_latencies", &labels);
    let mut want: Vec<String> = GO_BUCKETS.iter().map(|b| b.to_string()).collect();
    want.push("+Inf".into());
    assert_eq!(le, want, "{text}");

    let vault = base("vault");
    for (operation, success) in [("get", "true"), ("get", "false"), ("bulk_get", "true")] {
        let labels = format!("{vault},operation=\"{operation}\",success=\"{success}\"");
        let series = format!("dapr_component_secret_count{{{labels}}}");
        assert_eq!(value(&text, &series), Some(1.0), "{series} in\n{text}");
        let le = buckets(&text, "dapr_component_secret_latencies", &labels);
        assert_eq!(le, want, "{text}");
    }

    // Start-up: two components up; each skipped one failed as Go counts it
    // (its reason, then `init` once more).
    assert_eq!(
        value(&text, "dapr_runtime_component_loaded{app_id=\"testapp\"}"),
        Some(2.0),
        "{text}"
    );
    for kind in ["state.in-memory", "secretstores.local.file"] {
        let series =
            format!("dapr_runtime_component_init_total{{app_id=\"testapp\",component=\"{kind}\"}}");
        assert_eq!(value(&text, &series), Some(1.0), "{series} in\n{text}");
    }
    let fail = "dapr_runtime_component_init_fail_total";
    for (kind, name, reason, n) in [
        ("state.nosuch", "ghost", "creation", 1.0),
        ("state.nosuch", "ghost", "init", 1.0),
        ("bindings.cron", "ticker", "init", 2.0),
    ] {
        let series = format!(
            "{fail}{{app_id=\"testapp\",component=\"{kind}\",componentName=\"{name}\",reason=\"{reason}\"}}"
        );
        assert_eq!(value(&text, &series), Some(n), "{series} in\n{text}");
    }
    assert_eq!(sum_samples(&text, fail, &[]), 4.0, "{text}");

    // The HTTP server's response count: request_count's labels and values.
    let get_state = [
        ("method", "GET"),
        ("path", "/v1.0/state/statestore"),
        ("status", "200"),
    ];
    let responses = sum_samples(&text, "dapr_http_server_response_count", &get_state);
    assert_eq!(responses, 2.0, "{text}");
    let requests: HashMap<&str, f64> = text
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("dapr_http_server_request_count{")?;
            let (labels, v) = rest.rsplit_once("} ")?;
            Some((labels, v.parse().ok()?))
        })
        .collect();
    let mut responded = 0;
    for l in text.lines() {
        let Some(rest) = l.strip_prefix("dapr_http_server_response_count{") else {
            continue;
        };
        let (labels, v) = rest.rsplit_once("} ").unwrap();
        assert_eq!(requests.get(labels).copied(), v.parse().ok(), "{labels}");
        responded += 1;
    }
    assert_eq!(responded, requests.len(), "{text}");
}

/// Polls `/metrics` until `series` reaches `n` (counters a stream's end records).
fn wait_value(metrics: std::net::SocketAddr, series: &str, n: f64) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = get(metrics, "/metrics").text();
        if value(&text, series) == Some(n) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn configuration_calls_are_counted_as_go() {
    if !services::redis("configuration_calls_are_counted_as_go") {
        return;
    }
    let key = services::unique_app_id("cfgmetrics");
    let dir = resources(|_| {
        vec![component(
            "configstore",
            "configuration.redis",
            &[("redisHost", services::REDIS)],
            "",
        )]
    });
    let dir = dir.display().to_string();
    let d = InProc::start(
        &["--resources-path", &dir],
        daprd::runtime::Driver::Auto,
        None,
    );
    let path = format!("/v1.0/configuration/configstore?key={key}");
    let r = get(d.http, &path);
    assert!(matches!(r.status, 200 | 204), "{}", r.text());
    let grpc = d.grpc();
    crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{grpc}"),
        )
        .await
        .unwrap();
        let mut stream = c
            .subscribe_configuration("configstore", vec![key.as_str()], None)
            .await
            .unwrap();
        let first = tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await
            .expect("the id")
            .unwrap()
            .unwrap();
        // Ending the stream by id unsubscribes from the store, as Go.
        c.unsubscribe_configuration("configstore", &first.id)
            .await
            .unwrap();
    });
    let labels = "app_id=\"inproc\",component=\"configstore\",namespace=\"\"";
    let count = |op: &str| {
        format!(
            "dapr_component_configuration_count{{{labels},operation=\"{op}\",success=\"true\"}}"
        )
    };
    let text = wait_value(d.metrics(), &count("unsubscribe"), 1.0);
    assert_exposition_format(&text);
    for op in ["get", "subscribe", "unsubscribe"] {
        assert_eq!(value(&text, &count(op)), Some(1.0), "{op} in\n{text}");
    }
    let labels = format!("{labels},operation=\"get\",success=\"true\"");
    let le = buckets(&text, "dapr_component_configuration_latencies", &labels);
    assert_eq!(le.len(), GO_BUCKETS.len() + 1, "{text}");
    assert_eq!(
        le[..GO_BUCKETS.len()],
        GO_BUCKETS.map(String::from),
        "{text}"
    );
    assert_eq!(
        value(&text, "dapr_runtime_component_init_total{app_id=\"inproc\",component=\"configuration.redis\"}"),
        Some(1.0),
        "{text}"
    );
}
