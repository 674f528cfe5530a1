//! Bindings against the real binary: output bindings over HTTP and gRPC
//! (the official SDK's `invoke_binding`), `bindings.http` against a test
//! app, `bindings.redis` and `bindings.postgresql` on the machine's
//! services, `bindings.localstorage` (path traversal refused), and
//! `bindings.cron` delivering to HTTP and gRPC apps as Go does.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as rt;
use dapr::dapr::proto::runtime::v1::app_callback_server::AppCallback;

use crate::app::{Handler, Seen, TestApp};
use crate::harness::*;
use crate::services;

/// One component: name, type, metadata.
type Spec<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// A resources directory with one component per `(name, type, metadata)`.
fn components(list: &[Spec<'_>]) -> PathBuf {
    let dir = std::env::temp_dir().join(services::unique_app_id("daprd-bindings"));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, kind, md) in list {
        let mut yaml = format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: {kind}\n  version: v1\n  metadata:\n"
        );
        for (k, v) in *md {
            yaml.push_str(&format!("  - name: {k}\n    value: '{v}'\n"));
        }
        if md.is_empty() {
            yaml.push_str("  - name: unused\n    value: ''\n");
        }
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
    }
    dir
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

fn invoke(d: &Daprd, name: &str, body: &str) -> HttpResponse {
    request(
        d.http,
        "POST",
        &format!("/v1.0/bindings/{name}"),
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

fn assert_error(r: &HttpResponse, status: u16, code: &str, message: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["errorCode"], code, "{}", r.text());
    assert_eq!(v["message"], message, "{}", r.text());
}

/// A temporary directory for `bindings.localstorage`.
fn storage_root() -> PathBuf {
    services::temp_dir("daprd-ls")
}

/// A `bindings.localstorage` component named `files` on a fresh
/// [`storage_root`]: (that root, the resources directory).
fn files_binding() -> (PathBuf, PathBuf) {
    let root = storage_root();
    let dir = components(&[(
        "files",
        "bindings.localstorage",
        &[("rootPath", &path_arg(&root))],
    )]);
    (root, dir)
}

/// A `bindings.redis` request body: `operation` on `key`, no data.
fn on_key(operation: &str, key: &str) -> String {
    format!(r#"{{"operation":"{operation}","metadata":{{"key":"{key}"}}}}"#)
}

/// The metadata API's entry for component `name`.
fn metadata_component(d: &Daprd, name: &str) -> serde_json::Value {
    let md = get(d.http, "/v1.0/metadata").json();
    md["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} in {md}"))
}

fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(p: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    walk(root, &mut out);
    out.sort();
    out
}

#[test]
fn localstorage_create_get_list_delete_and_traversal_refused() {
    let (root, dir) = files_binding();
    let d = Daprd::start(&["--resources-path", &path_arg(&dir)]);

    // Base64 data is decoded, as contrib does; the answer names the file.
    let r = invoke(
        &d,
        "files",
        r#"{"operation":"create","data":"aGVsbG8=","metadata":{"fileName":"sub/a.txt"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), r#"{"fileName":"sub/a.txt"}"#);
    assert_eq!(std::fs::read(root.join("sub/a.txt")).unwrap(), b"hello");

    // Plain text that is not base64 is written unquoted; JSON objects as Go re-encodes them.
    let r = invoke(
        &d,
        "files",
        r#"{"operation":"create","data":"plain text","metadata":{"fileName":"b.txt"}}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(std::fs::read(root.join("b.txt")).unwrap(), b"plain text");
    let r = invoke(
        &d,
        "files",
        r#"{"operation":"create","data":{"z":1,"a":"<"},"metadata":{"fileName":"c.json"}}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        std::fs::read(root.join("c.json")).unwrap(),
        br#"{"a":"\u003c","z":1}"#
    );

    // No fileName: a UUID.
    let r = invoke(&d, "files", r#"{"operation":"create","data":"eA=="}"#);
    assert_eq!(r.status, 200);
    let generated = r.json()["fileName"].as_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "{generated}");

    let r = invoke(
        &d,
        "files",
        r#"{"operation":"get","metadata":{"fileName":"sub/a.txt"}}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello");

    let r = invoke(&d, "files", r#"{"operation":"list"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let mut listed: Vec<String> = serde_json::from_slice(&r.body).unwrap();
    listed.sort();
    assert_eq!(listed, listing(&root));
    assert_eq!(listed.len(), 4);

    let r = invoke(
        &d,
        "files",
        r#"{"operation":"delete","metadata":{"fileName":"b.txt"}}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(!root.join("b.txt").exists());

    let missing = root.join("b.txt").display().to_string();
    let r = invoke(
        &d,
        "files",
        r#"{"operation":"get","metadata":{"fileName":"b.txt"}}"#,
    );
    assert_error(
        &r,
        500,
        "ERR_INVOKE_OUTPUT_BINDING",
        &format!("error invoking output binding files: file not found: {missing}"),
    );

    // Traversal and absolute names are refused; nothing is written outside.
    let before = listing(&root);
    let outside = root.parent().unwrap().join("escaped.txt");
    for name in [
        "../escaped.txt",
        "sub/../../escaped.txt",
        "/tmp/escaped.txt",
    ] {
        for op in ["create", "get", "delete", "list"] {
            let body = format!(
                r#"{{"operation":"{op}","data":"eA==","metadata":{{"fileName":"{name}"}}}}"#
            );
            let r = invoke(&d, "files", &body);
            assert_eq!(r.status, 500, "{op} {name}: {}", r.text());
            let msg = r.json()["message"].as_str().unwrap().to_owned();
            assert!(
                msg.starts_with(&format!(
                    "error invoking output binding files: error getting absolute path for file {name}:"
                )),
                "{msg}"
            );
        }
    }
    assert!(!outside.exists());
    assert_eq!(listing(&root), before);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_input_on_the_bindings_route_gives_gos_errors() {
    let (root, dir) = files_binding();
    let d = Daprd::start(&["--resources-path", &path_arg(&dir)]);
    let r = invoke(&d, "files", "");
    assert_error(
        &r,
        400,
        "ERR_MALFORMED_REQUEST",
        "failed deserializing HTTP body: EOF",
    );
    let r = invoke(&d, "files", "{\"operation\":");
    assert_error(
        &r,
        400,
        "ERR_MALFORMED_REQUEST",
        "failed deserializing HTTP body: unexpected EOF",
    );
    let r = invoke(
        &d,
        "files",
        r#"{"operation":"create","metadata":{"fileName":7}}"#,
    );
    assert_error(
        &r,
        400,
        "ERR_MALFORMED_REQUEST",
        "failed deserializing HTTP body: json: cannot unmarshal number into Go struct field OutputBindingRequest.metadata of type string",
    );
    let r = invoke(&d, "files", r#"{"data":"eA=="}"#);
    assert_error(
        &r,
        500,
        "ERR_INVOKE_OUTPUT_BINDING",
        "error invoking output binding files: operation field is missing from request",
    );
    let r = invoke(&d, "nope", r#"{"operation":"create"}"#);
    assert_error(
        &r,
        500,
        "ERR_INVOKE_OUTPUT_BINDING",
        "error invoking output binding nope: couldn't find output binding nope",
    );
    let r = invoke(&d, "files", r#"{"operation":"increment"}"#);
    assert_error(
        &r,
        500,
        "ERR_INVOKE_OUTPUT_BINDING",
        "error invoking output binding files: binding files does not support operation increment. supported operations:create get list delete",
    );
    let r = request(
        d.http,
        "PUT",
        "/v1.0/bindings/files",
        &[("baggage", "no value here")],
        br#"{"operation":"list"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_MALFORMED_REQUEST");
    // GET is not a bindings route: it falls through to invocation, as in Go.
    let r = get(d.http, "/v1.0/bindings/files");
    assert_ne!(r.status, 200);
    // Nothing was written by any of these.
    assert!(listing(&root).is_empty());

    // The metadata API lists the binding with Go's capability name.
    let comp = metadata_component(&d, "files");
    assert_eq!(comp["type"], "bindings.localstorage");
    assert_eq!(comp["capabilities"], serde_json::json!(["OUTPUT_BINDING"]));

    // Output binding metrics, with Go's names and labels.
    let text = get(d.metrics, "/metrics").text();
    assert!(
        text.contains(r#"dapr_component_output_binding_count{app_id="testapp",component="files",namespace="",operation="increment",success="false"} 1"#),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn official_sdk_invoke_binding_over_grpc() {
    let (root, dir) = files_binding();
    let (_d, addr) = crate::grpc::start_with_grpc(&["--resources-path", &path_arg(&dir)], &[]);
    crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{addr}"),
        )
        .await
        .expect("SDK connects");
        let md = std::collections::HashMap::from([("fileName".to_string(), "g.bin".to_string())]);
        // gRPC data is raw bytes: not re-encoded as JSON.
        let resp = c
            .invoke_binding("files", b"\x00\x01raw".to_vec(), "create", Some(md.clone()))
            .await
            .unwrap();
        assert_eq!(resp.data, br#"{"fileName":"g.bin"}"#);
        assert_eq!(std::fs::read(root.join("g.bin")).unwrap(), b"\x00\x01raw");
        let resp = c
            .invoke_binding("files", Vec::new(), "get", Some(md))
            .await
            .unwrap();
        assert_eq!(resp.data, b"\x00\x01raw");
        let err = format!(
            "{:?}",
            c.invoke_binding("nope", Vec::new(), "create", None)
                .await
                .unwrap_err()
        );
        assert!(
            err.contains("Internal")
                && err.contains(
                    "error invoking output binding nope: couldn't find output binding nope"
                ),
            "{err}"
        );
    });
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn http_binding_calls_the_url_with_gos_headers_and_status() {
    let app = TestApp::start();
    let url = format!("http://127.0.0.1:{}/", app.port);
    let dir = components(&[(
        "web",
        "bindings.http",
        &[
            ("url", &url),
            ("securityToken", "s3cret"),
            ("securityTokenHeader", "X-Token"),
        ],
    )]);
    let d = Daprd::start(&["--resources-path", &path_arg(&dir)]);

    let r = invoke(
        &d,
        "web",
        r#"{"operation":"post","data":{"b":2,"a":1},"metadata":{"path":"/echo?x=1","X-Custom":"v","lower":"not a header"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.starts_with("POST /echo?x=1\n"), "{text}");
    assert!(
        text.contains("content-type: application/json; charset=utf-8\n"),
        "{text}"
    );
    assert!(
        text.contains("accept: application/json; charset=utf-8\n"),
        "{text}"
    );
    assert!(text.contains("x-custom: v\n"), "{text}");
    assert!(text.contains("x-token: s3cret\n"), "{text}");
    assert!(text.contains("traceparent: 00-"), "{text}");
    assert!(!text.contains("lower"), "{text}");
    assert!(text.ends_with("\n\n{\"a\":1,\"b\":2}"), "{text}");
    assert_eq!(r.header("metadata.statuscode"), Some("200"));
    assert_eq!(r.header("metadata.x-app"), Some("yes"));
    assert_eq!(
        r.header("metadata.content-type"),
        Some("application/json; charset=utf-8")
    );

    // `create` is POST; GET sends no body.
    let r = invoke(
        &d,
        "web",
        r#"{"operation":"get","data":"ignored","metadata":{"path":"echo"}}"#,
    );
    assert!(r.text().starts_with("GET /echo\n"), "{}", r.text());
    assert!(
        !r.text().contains("content-type: application/json; charset"),
        "{}",
        r.text()
    );

    // A non-2xx answer is an error that still reports the status.
    let r = invoke(
        &d,
        "web",
        r#"{"operation":"get","metadata":{"path":"status/404"}}"#,
    );
    assert_error(
        &r,
        500,
        "ERR_INVOKE_OUTPUT_BINDING",
        "error invoking output binding web: received status code 404",
    );
    assert_eq!(r.header("metadata.statuscode"), Some("404"));
    // ... unless errorIfNot2XX is false.
    let r = invoke(
        &d,
        "web",
        r#"{"operation":"get","metadata":{"path":"status/404","errorIfNot2XX":"false"}}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"oops");
    assert_eq!(r.header("metadata.statuscode"), Some("404"));

    let r = invoke(&d, "web", r#"{"operation":"connect"}"#);
    assert_eq!(r.status, 500);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("supported operations:create get head post put patch delete options trace"));
    drop(app);
    // The server is gone: Go's client error.
    let r = invoke(&d, "web", r#"{"operation":"delete"}"#);
    assert_eq!(r.status, 500);
    let msg = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with(&format!(
            "error invoking output binding web: Delete \"{url}\": "
        )),
        "{msg}"
    );
}

#[test]
fn redis_binding_create_get_delete_read_back_with_a_plain_client() {
    if !services::redis("redis_binding_create_get_delete_read_back_with_a_plain_client") {
        return;
    }
    let dir = components(&[("cache", "bindings.redis", &[("redisHost", services::REDIS)])]);
    let d = Daprd::start(&["--resources-path", &path_arg(&dir)]);
    let key = services::unique_app_id("binding-key");
    let mut plain = services::Plain::connect(services::REDIS);

    let r = invoke(
        &d,
        "cache",
        &format!(r#"{{"operation":"create","data":"hello","metadata":{{"key":"{key}"}}}}"#),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    // The data is the JSON re-encoding of `data`: the quotes are stored.
    assert_eq!(services::text(&plain.call(&["GET", &key])), "\"hello\"");

    let r = invoke(&d, "cache", &on_key("get", &key));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"\"hello\"");

    let r = invoke(
        &d,
        "cache",
        &format!(
            r#"{{"operation":"create","data":{{"n":1}},"metadata":{{"key":"{key}","ttlInSeconds":"100"}}}}"#
        ),
    );
    assert_eq!(r.status, 204);
    let ttl: i64 = services::text(&plain.call(&["TTL", &key])).parse().unwrap();
    assert!((1..=100).contains(&ttl), "{ttl}");

    let r = invoke(&d, "cache", &on_key("delete", &key));
    assert_eq!(r.status, 204);
    assert_eq!(services::text(&plain.call(&["EXISTS", &key])), "0");

    // A missing key reads as an empty 200, as Go.
    let r = invoke(&d, "cache", &on_key("get", &key));
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());

    let r = invoke(&d, "cache", &on_key("increment", &key));
    assert_eq!(r.status, 204);
    assert_eq!(services::text(&plain.call(&["GET", &key])), "1");
    // GETDEL with delete=true.
    let r = invoke(
        &d,
        "cache",
        &format!(r#"{{"operation":"get","metadata":{{"key":"{key}","delete":"true"}}}}"#),
    );
    assert_eq!(r.body, b"1");
    assert_eq!(services::text(&plain.call(&["EXISTS", &key])), "0");

    let r = invoke(&d, "cache", r#"{"operation":"get"}"#);
    assert_error(
        &r,
        500,
        "ERR_INVOKE_OUTPUT_BINDING",
        "error invoking output binding cache: redis binding: missing key in request metadata",
    );
    plain.call(&["HSET", &key, "f", "v"]);
    let r = invoke(&d, "cache", &on_key("get", &key));
    assert_eq!(r.status, 500);
    assert!(
        r.json()["message"].as_str().unwrap().contains("WRONGTYPE"),
        "{}",
        r.text()
    );
    plain.call(&["DEL", &key]);
}

#[test]
fn postgresql_binding_exec_query_close() {
    if !services::postgres("postgresql_binding_exec_query_close") {
        return;
    }
    let dir = components(&[(
        "db",
        "bindings.postgresql",
        &[("connectionString", services::POSTGRES_CONN)],
    )]);
    let d = Daprd::start(&["--resources-path", &path_arg(&dir)]);
    let table = services::unique_app_id("binding_t").replace('-', "_");
    let exec = |sql: &str, params: &str| {
        let body =
            serde_json::json!({"operation": "exec", "metadata": {"sql": sql, "params": params}});
        invoke(&d, "db", &body.to_string())
    };
    let r = exec(&format!("CREATE TABLE {table} (id int, name text, score numeric(5,2), ok bool, doc jsonb, at timestamp)"), "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("metadata.rows-affected"), Some("0"));
    assert_eq!(r.header("metadata.operation"), Some("exec"));
    assert!(r.header("metadata.start-time").is_some() && r.header("metadata.duration").is_some());

    let r = exec(
        &format!("INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6), (2, NULL, 1.5, false, NULL, NULL)"),
        r#"[1, "a<b", 12.25, true, {"z": 1, "a": [1, 2]}, "2024-01-02 03:04:05.5"]"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("metadata.rows-affected"), Some("2"));

    let body = serde_json::json!({"operation": "query", "metadata": {"sql": format!("SELECT * FROM {table} WHERE id >= $1 ORDER BY id"), "params": "[1]"}});
    let r = invoke(&d, "db", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        r#"[[1,"a\u003cb",12.25,true,{"a":[1,2],"z":1},"2024-01-02T03:04:05.5Z"],[2,null,1.50,false,null,null]]"#
    );

    let r = exec("SELECT * FROM no_such_table_here", "");
    assert_error(
        &r,
        500,
        "ERR_INVOKE_OUTPUT_BINDING",
        r#"error invoking output binding db: error executing query: ERROR: relation "no_such_table_here" does not exist (SQLSTATE 42P01)"#,
    );
    let r = invoke(&d, "db", r#"{"operation":"query","metadata":{}}"#);
    assert_error(
        &r,
        500,
        "ERR_INVOKE_OUTPUT_BINDING",
        "error invoking output binding db: required metadata not set: sql",
    );
    let r = exec("SELECT 1", "{\"a\":1}");
    assert_eq!(r.status, 500);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("invalid metadata property params: failed to unserialize into an array"));

    let r = exec(&format!("DROP TABLE {table}"), "");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = invoke(&d, "db", r#"{"operation":"close"}"#);
    assert_eq!(r.status, 204);
    let r = exec("SELECT 1", "");
    assert_error(
        &r,
        500,
        "ERR_INVOKE_OUTPUT_BINDING",
        "error invoking output binding db: component is closed",
    );
}

/// A test app recording POSTs to `/cron` and answering OPTIONS with `options`.
fn cron_app(options: u16) -> (TestApp, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Default::default();
    let s = seen.clone();
    let handler: Handler = Arc::new(move |req: &Seen| {
        if req.path != "/cron" {
            return None;
        }
        if req.method == "OPTIONS" {
            return Some((options, "text/plain".into(), Vec::new()));
        }
        s.lock().unwrap().push(req.clone());
        Some((200, "text/plain".into(), b"ok".to_vec()))
    });
    (TestApp::start_with(0, Some(handler)), seen)
}

/// A sidecar for `app` with one `bindings.cron` component, `ticker`, with
/// `metadata`.
fn cron_sidecar(app: &TestApp, metadata: &[(&str, &str)]) -> Daprd {
    let dir = components(&[("ticker", "bindings.cron", metadata)]);
    let port = app.port.to_string();
    Daprd::start(&["--resources-path", &path_arg(&dir), "--app-port", &port])
}

/// Waits until the app has seen `n` cron deliveries; fails with `what`.
fn wait_for_deliveries(seen: &Mutex<Vec<Seen>>, n: usize, what: &str) {
    let deadline = Instant::now() + WAIT;
    while seen.lock().unwrap().len() < n {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cron_delivers_on_schedule_to_the_route() {
    let (app, seen) = cron_app(200);
    let d = cron_sidecar(&app, &[("schedule", "@every 1s"), ("route", "/cron")]);
    wait_for_deliveries(&seen, 2, "cron did not fire twice");
    let events = seen.lock().unwrap().clone();
    let first = &events[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("timezone"), Some("Local"));
    assert!(
        first
            .header("readtimeutc")
            .is_some_and(|t| t.ends_with(" +0000 UTC")),
        "{first:?}"
    );
    assert!(first.header("traceparent").is_some());
    assert!(first.body.is_empty());
    let comp = metadata_component(&d, "ticker");
    assert_eq!(comp["capabilities"], serde_json::json!(["INPUT_BINDING"]));
    let text = get(d.metrics, "/metrics").text();
    assert!(text.contains(r#"dapr_component_input_binding_count{app_id="testapp",component="ticker",namespace="",success="true"}"#), "{text}");
}

#[test]
fn cron_is_not_delivered_when_options_answers_404() {
    let (app, seen) = cron_app(404);
    let _d = cron_sidecar(&app, &[("schedule", "* * * * * *"), ("route", "cron")]);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn cron_with_explicit_input_direction_skips_options_and_405_subscribes() {
    // direction=input: no OPTIONS asked (the app would answer 404).
    let (app, seen) = cron_app(404);
    let d = cron_sidecar(
        &app,
        &[
            ("schedule", "@every 1s"),
            ("route", "cron"),
            ("direction", "input"),
        ],
    );
    wait_for_deliveries(&seen, 1, "cron did not fire");
    drop(d);
    // 405 to OPTIONS means subscribed too.
    let (app, seen) = cron_app(405);
    let _d = cron_sidecar(&app, &[("schedule", "@every 1s"), ("route", "cron")]);
    wait_for_deliveries(&seen, 1, "cron did not fire after a 405");
}

#[test]
fn bad_cron_schedule_fails_start_up() {
    let dir = components(&[("ticker", "bindings.cron", &[("schedule", "* * *")])]);
    let (code, out) = run_to_exit(&["--app-id", "x", "--resources-path", &path_arg(&dir)]);
    assert_ne!(code, 0);
    assert!(out.contains("invalid schedule format '* * *'"), "{out}");
}

/// A gRPC app implementing `ListInputBindings` and `OnBindingEvent`; every
/// event is answered with `to: [files]` and base64 data, which daprd sends
/// to the localstorage binding.
struct GrpcBindingApp(mpsc::Sender<rt::BindingEventRequest>);

#[dapr::reexport::async_trait]
impl AppCallback for GrpcBindingApp {
    async fn on_invoke(
        &self,
        _: tonic::Request<common::InvokeRequest>,
    ) -> Result<tonic::Response<common::InvokeResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("no"))
    }
    async fn list_topic_subscriptions(
        &self,
        _: tonic::Request<()>,
    ) -> Result<tonic::Response<rt::ListTopicSubscriptionsResponse>, tonic::Status> {
        Ok(tonic::Response::new(Default::default()))
    }
    async fn on_topic_event(
        &self,
        _: tonic::Request<rt::TopicEventRequest>,
    ) -> Result<tonic::Response<rt::TopicEventResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("no"))
    }
    async fn list_input_bindings(
        &self,
        _: tonic::Request<()>,
    ) -> Result<tonic::Response<rt::ListInputBindingsResponse>, tonic::Status> {
        Ok(tonic::Response::new(rt::ListInputBindingsResponse {
            bindings: vec!["ticker".into()],
        }))
    }
    async fn on_binding_event(
        &self,
        request: tonic::Request<rt::BindingEventRequest>,
    ) -> Result<tonic::Response<rt::BindingEventResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(rt::BindingEventResponse {
            to: vec!["files".into()],
            data: br#""aGk=""#.to_vec(),
            ..Default::default()
        }))
    }
    async fn on_bulk_topic_event(
        &self,
        _: tonic::Request<rt::TopicEventBulkRequest>,
    ) -> Result<tonic::Response<rt::TopicEventBulkResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("no"))
    }
    async fn on_job_event(
        &self,
        _: tonic::Request<rt::JobEventRequest>,
    ) -> Result<tonic::Response<rt::JobEventResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("no"))
    }
}

#[test]
fn grpc_app_receives_cron_events_and_its_answer_reaches_output_bindings() {
    let (tx, rx) = mpsc::channel();
    let port = grpc_app_server(GrpcBindingApp(tx));
    let root = storage_root();
    let dir = components(&[
        ("ticker", "bindings.cron", &[("schedule", "@every 1s")]),
        (
            "files",
            "bindings.localstorage",
            &[("rootPath", &path_arg(&root))],
        ),
    ]);
    let port = port.to_string();
    let _d = Daprd::start(&[
        "--resources-path",
        &path_arg(&dir),
        "--app-port",
        &port,
        "--app-protocol",
        "grpc",
    ]);
    let event = rx.recv_timeout(WAIT).expect("OnBindingEvent");
    assert_eq!(event.name, "ticker");
    assert!(event.data.is_empty());
    assert_eq!(
        event.metadata.get("timeZone").map(String::as_str),
        Some("Local")
    );
    // `to: [files]` with data `"aGk="`: a file holding "hi" appears.
    let deadline = Instant::now() + WAIT;
    loop {
        let files = listing(&root);
        if let Some(f) = files.first() {
            assert_eq!(std::fs::read(f).unwrap(), b"hi");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the app's `to` binding was not called"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Redis unreachable at start-up: Go's message, said once — "redis binding:
/// error connecting to redis at <host>: …" for bindings.redis and "redis
/// streams: error connecting to redis at <host>: …" for pubsub.redis.
#[test]
fn redis_components_unreachable_at_start_up_say_so_as_go() {
    let port = free_port(); // nothing listens there
    let host = format!("127.0.0.1:{port}");
    for (kind, prefix) in [
        ("bindings.redis", "redis binding: "),
        ("pubsub.redis", "redis streams: "),
    ] {
        let dir = services::component_dir(kind, &[("redisHost", &host)]);
        let out = failed_start_up("redis-down", &dir);
        let said = format!("{prefix}error connecting to redis at {host}: ");
        assert!(out.contains(&said), "{kind}: {out}");
        assert_eq!(
            out.matches("error connecting to redis at").count(),
            out.matches(&said).count(),
            "{kind}: said twice: {out}"
        );
    }
}
