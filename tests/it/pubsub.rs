//! Pub/sub on the in-memory broker: publish over HTTP and gRPC (the
//! official Rust SDK), CloudEvents as Go writes them, programmatic and
//! declarative subscriptions, routing rules, the app's answers (retry,
//! drop, 404), dead-letter topics, scoping and bad input.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::app::{Seen, TestApp};
use crate::harness::*;

/// A subscriber app: answers `GET /dapr/subscribe` with `subscriptions`,
/// records every other request, and answers it with `answer(request, n)`
/// where `n` counts earlier requests to the same path.
pub(crate) struct Subscriber {
    pub app: TestApp,
    seen: Arc<Mutex<Recorded>>,
}

/// Requests received, and a count per path (so waiting is cheap).
#[derive(Default)]
struct Recorded {
    all: Vec<Seen>,
    per_path: std::collections::HashMap<String, usize>,
}

pub(crate) type Answer = dyn Fn(&Seen, usize) -> (u16, String) + Send + Sync;

impl Subscriber {
    pub fn start(subscriptions: &str, answer: Arc<Answer>) -> Subscriber {
        let seen: Arc<Mutex<Recorded>> = Default::default();
        let (s, subs) = (seen.clone(), subscriptions.to_owned());
        let handler: crate::app::Handler = Arc::new(move |req: &Seen| {
            let n = {
                let mut seen = s.lock().unwrap();
                seen.all.push(req.clone());
                let n = seen.per_path.entry(req.path.clone()).or_default();
                *n += 1;
                *n - 1
            };
            if req.path == "/dapr/subscribe" {
                return Some((200, "application/json".into(), subs.clone().into_bytes()));
            }
            let (code, body) = answer(req, n);
            Some((code, "application/json".into(), body.into_bytes()))
        });
        Subscriber {
            app: TestApp::start_with(0, Some(handler)),
            seen,
        }
    }

    pub fn success(subscriptions: &str) -> Subscriber {
        Self::start(
            subscriptions,
            Arc::new(|_, _| (200, r#"{"status":"SUCCESS"}"#.into())),
        )
    }

    pub fn count(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .per_path
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn to(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .all
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` has received `n` requests; returns them.
    pub fn wait_for(&self, path: &str, n: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.count(path);
            if got >= n || Instant::now() > deadline {
                assert!(got >= n, "{path}: {got} deliveries, wanted {n}");
                return self.to(path);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A resources folder: `pubsub.in-memory` named `pubsub` (with `metadata`)
/// plus `extra` YAML documents.
fn resources(metadata: &[(&str, &str)], extra: &str) -> PathBuf {
    resources_of("pubsub.in-memory", metadata, extra)
}

/// A resources folder: a `kind` component named `pubsub` (with `metadata`)
/// plus `extra` YAML documents.
pub(crate) fn resources_of(kind: &str, metadata: &[(&str, &str)], extra: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(crate::services::unique_app_id("daprd-pubsub"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut yaml = format!("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: pubsub\nspec:\n  type: {kind}\n  version: v1\n  metadata:\n");
    for (k, v) in metadata {
        yaml.push_str(&format!("  - name: {k}\n    value: \"{v}\"\n"));
    }
    if metadata.is_empty() {
        yaml.push_str("  - name: unused\n    value: \"\"\n");
    }
    std::fs::write(dir.join("pubsub.yaml"), yaml).unwrap();
    if !extra.is_empty() {
        std::fs::write(dir.join("extra.yaml"), extra).unwrap();
    }
    dir
}

/// Starts a sidecar for `app` with `dir` and waits until its subscriptions are live.
pub(crate) fn sidecar(app: &Subscriber, dir: &std::path::Path, app_id: &str) -> InProc {
    let port = app.app.port.to_string();
    let dir = dir.display().to_string();
    let d = InProc::start(
        &[
            "--app-id",
            app_id,
            "--app-port",
            &port,
            "--resources-path",
            &dir,
        ],
        daprd::runtime::Driver::Auto,
        None,
    );
    app.wait_for("/dapr/subscribe", 1);
    // The set is published, and workers subscribe, right after the app answers.
    std::thread::sleep(Duration::from_millis(100));
    d
}

pub(crate) fn publish(d: &InProc, path: &str, content_type: &str, body: &[u8]) -> HttpResponse {
    request(
        d.http,
        "POST",
        path,
        &[("content-type", content_type)],
        body,
    )
}

pub(crate) fn json(s: &Seen) -> serde_json::Value {
    serde_json::from_slice(&s.body)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&s.body)))
}

const ORDERS: &str = r#"[{"pubsubname":"pubsub","topic":"orders","route":"orders"}]"#;

#[test]
fn published_events_arrive_as_go_cloudevents() {
    let app = Subscriber::success(ORDERS);
    let dir = resources(&[], "");
    let d = sidecar(&app, &dir, "publisher");

    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let r = request(
        d.http,
        "POST",
        "/v1.0/publish/pubsub/orders?metadata.cloudevent.subject=s1",
        &[("content-type", "application/json"), ("traceparent", tp)],
        br#"{"orderId": 12345678901234567890}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let got = app.wait_for("/orders", 1);
    let ev = &got[0];
    assert_eq!(ev.method, "POST");
    assert_eq!(
        ev.header("content-type"),
        Some("application/cloudevents+json")
    );
    assert_eq!(ev.header("pubsubname"), Some("pubsub"));
    assert_eq!(ev.header("traceparent"), Some(tp));
    let body = String::from_utf8_lossy(&ev.body).into_owned();
    // JSON data is embedded as an object, numbers exact, keys in Go's order.
    assert!(body.starts_with(r#"{"data":{"orderId": 12345678901234567890},"datacontenttype":"application/json","id":""#), "{body}");
    let v = json(ev);
    for (k, want) in [
        ("source", "publisher"),
        ("type", "com.dapr.event.sent"),
        ("specversion", "1.0"),
        ("topic", "orders"),
        ("pubsubname", "pubsub"),
        ("traceid", tp),
        ("traceparent", tp),
        ("tracestate", ""),
        ("subject", "s1"),
    ] {
        assert_eq!(v[k], want, "{k} in {body}");
    }
    assert_eq!(v["id"].as_str().unwrap().len(), 36);
    assert!(v["time"].as_str().unwrap().contains('T'));

    // Text, binary, and a CloudEvent the client built.
    publish(&d, "/v1.0/publish/pubsub/orders", "text/plain", b"hello");
    publish(
        &d,
        "/v1.0/publish/pubsub/orders",
        "application/octet-stream",
        b"\x00\xff",
    );
    publish(
        &d,
        "/v1.0/publish/pubsub/orders",
        "application/cloudevents+json",
        br#"{"id":"mine","source":"src","type":"t","specversion":"1.0","data":"x","topic":"elsewhere"}"#,
    );
    // Publishes on different connections may be delivered in any order.
    let got = app.wait_for("/orders", 4);
    let v: Vec<serde_json::Value> = got.iter().map(json).collect();
    let find = |k: &str, want: &str| {
        v.iter()
            .find(|e| e[k] == want)
            .unwrap_or_else(|| panic!("no event with {k}={want} in {v:?}"))
    };
    assert_eq!(find("data", "hello")["datacontenttype"], "text/plain");
    assert_eq!(
        find("data_base64", "AP8=")["datacontenttype"],
        "application/octet-stream"
    );
    let mine = find("id", "mine");
    assert_eq!(mine["type"], "t");
    assert_eq!(mine["topic"], "orders");
    assert_eq!(mine["pubsubname"], "pubsub");

    // An expired event is dropped before delivery.
    publish(
        &d,
        "/v1.0/publish/pubsub/orders",
        "application/cloudevents+json",
        br#"{"id":"old","expiration":"2000-01-01T00:00:00Z","data":"x"}"#,
    );
    publish(&d, "/v1.0/publish/pubsub/orders", "text/plain", b"after");
    let got = app.wait_for("/orders", 5);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        app.to("/orders").len(),
        5,
        "the expired event was delivered"
    );
    assert_eq!(json(&got[4])["data"], "after");
}

#[test]
fn raw_payload_both_ways() {
    let app = Subscriber::success(
        r#"[{"pubsubname":"pubsub","topic":"raw","route":"/raw","metadata":{"rawPayload":"true"}}]"#,
    );
    let dir = resources(&[], "");
    let d = sidecar(&app, &dir, "rawpub");
    let r = publish(
        &d,
        "/v1.0/publish/pubsub/raw?metadata.rawPayload=true",
        "application/octet-stream",
        b"\x01\x02",
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let v = json(&app.wait_for("/raw", 1)[0]);
    assert_eq!(v["data_base64"], "AQI=");
    assert_eq!(v["datacontenttype"], "application/octet-stream");
    assert_eq!(v["source"], "Dapr");
    assert_eq!(v["topic"], "raw");
    // A bad rawPayload value is the caller's error.
    let r = publish(
        &d,
        "/v1.0/publish/pubsub/raw?metadata.rawPayload=maybe",
        "text/plain",
        b"x",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errorCode"], "ERR_PUBSUB_REQUEST_METADATA");
}

#[test]
fn rules_route_by_cel_expression() {
    let subs = r#"[{"pubsubname":"pubsub","topic":"orders","routes":{
        "rules":[{"match":"event.type == \"big\" && event.data.total > 10","path":"/big"},
                 {"match":"event.type == \"big\"","path":"small"}],
        "default":"/other"}}]"#;
    let app = Subscriber::success(subs);
    let dir = resources(&[], "");
    let d = sidecar(&app, &dir, "router");
    for (ty, total) in [("big", 11), ("big", 5), ("plain", 50)] {
        let r = publish(
            &d,
            &format!("/v1.0/publish/pubsub/orders?metadata.cloudevent.type={ty}"),
            "application/json",
            format!(r#"{{"total":{total}}}"#).as_bytes(),
        );
        assert_eq!(r.status, 204);
    }
    assert_eq!(json(&app.wait_for("/big", 1)[0])["data"]["total"], 11);
    assert_eq!(json(&app.wait_for("/small", 1)[0])["data"]["total"], 5);
    assert_eq!(json(&app.wait_for("/other", 1)[0])["data"]["total"], 50);
    // The metadata API lists the rules.
    let md = get(d.http, "/v1.0/metadata").json();
    let sub = &md["subscriptions"][0];
    assert_eq!(sub["type"], "PROGRAMMATIC");
    assert_eq!(sub["rules"][1]["path"], "/small");
    assert_eq!(sub["rules"][2], serde_json::json!({"path": "/other"}));
    assert_eq!(sub["deadLetterTopic"], "");
}

#[test]
fn app_answers_retry_drop_and_dead_letters() {
    let subs = r#"[
        {"pubsubname":"pubsub","topic":"retry","route":"/retry"},
        {"pubsubname":"pubsub","topic":"drop","route":"/drop-me","deadLetterTopic":"dead"},
        {"pubsubname":"pubsub","topic":"gone","route":"/missing"},
        {"pubsubname":"pubsub","topic":"fail","route":"/fail","deadLetterTopic":"dead"},
        {"pubsubname":"pubsub","topic":"dead","route":"/dead"}]"#;
    let app = Subscriber::start(
        subs,
        Arc::new(|req: &Seen, n: usize| match req.path.as_str() {
            // RETRY once, then SUCCESS.
            "/retry" if n == 0 => (200, r#"{"status":"RETRY"}"#.into()),
            "/retry" => (200, r#"{"status":"SUCCESS"}"#.into()),
            "/drop-me" => (200, r#"{"status":"DROP"}"#.into()),
            "/missing" => (404, String::new()),
            "/fail" => (500, String::new()),
            _ => (200, String::new()),
        }),
    );
    let dir = resources(&[], "");
    let d = sidecar(&app, &dir, "answers");
    for topic in ["retry", "drop", "gone", "fail"] {
        let r = publish(
            &d,
            &format!("/v1.0/publish/pubsub/{topic}"),
            "text/plain",
            topic.as_bytes(),
        );
        assert_eq!(r.status, 204);
    }
    // Retried once, then delivered.
    let got = app.wait_for("/retry", 2);
    assert_eq!(json(&got[0])["id"], json(&got[1])["id"]);
    // DROP and an exhausted retry go to the dead-letter topic; 404 is dropped.
    let dead = app.wait_for("/dead", 2);
    let mut data: Vec<String> = dead
        .iter()
        .map(|s| json(s)["data"].as_str().unwrap().to_owned())
        .collect();
    data.sort();
    assert_eq!(data, ["drop", "fail"]);
    assert_eq!(
        app.to("/fail").len(),
        1 + daprd::api::pubsub::subscriptions::deliver::RETRIES as usize
    );
    assert_eq!(app.to("/drop-me").len(), 1);
    assert_eq!(app.to("/missing").len(), 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(app.to("/retry").len(), 2);
    assert_eq!(app.to("/missing").len(), 1, "a 404 is not retried");

    // Dapr's pub/sub series, with Go's labels.
    let m = get(d.metrics(), "/metrics").text();
    for line in [
        r#"dapr_component_pubsub_ingress_count{app_id="answers",component="pubsub",namespace="",process_status="retry",status="retry",topic="retry"} 1"#,
        r#"dapr_component_pubsub_ingress_count{app_id="answers",component="pubsub",namespace="",process_status="success",status="success",topic="retry"} 1"#,
        r#"dapr_component_pubsub_ingress_count{app_id="answers",component="pubsub",namespace="",process_status="drop",status="drop",topic="gone"} 1"#,
        r#"dapr_component_pubsub_egress_count{app_id="answers",component="pubsub",namespace="",success="true",topic="retry"} 1"#,
    ] {
        assert!(m.lines().any(|l| l == line), "{line} missing in\n{m}");
    }
    assert!(m.contains("dapr_component_pubsub_ingress_latencies_bucket{"));
}

#[test]
fn declarative_subscriptions_and_scoping() {
    let extra = "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: decl\nspec:\n  pubsubname: pubsub\n  topic: audit\n  routes:\n    rules:\n    - match: event.data == \"x\"\n      path: /audit-x\n    default: /audit\n  deadLetterTopic: dlq\nscopes:\n- scoped\n---\napiVersion: dapr.io/v1alpha1\nkind: Subscription\nmetadata:\n  name: other-app\nspec:\n  pubsubname: pubsub\n  topic: theirs\n  route: /theirs\nscopes:\n- someone-else\n";
    let app = Subscriber::success("[]");
    let dir = resources(
        &[
            ("publishingScopes", "scoped=audit,open"),
            ("allowedTopics", "audit,open,secret"),
        ],
        extra,
    );
    let d = sidecar(&app, &dir, "scoped");
    let md = get(d.http, "/v1.0/metadata").json();
    let subs = md["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 1, "{md}");
    assert_eq!(subs[0]["type"], "DECLARATIVE");
    assert_eq!(subs[0]["deadLetterTopic"], "dlq");
    assert_eq!(subs[0]["rules"][0]["match"], "event.data == \"x\"");
    let caps = &md["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pubsub")
        .unwrap()["capabilities"];
    assert_eq!(caps, &serde_json::json!(["SUBSCRIBE_WILDCARDS"]));

    assert_eq!(
        publish(&d, "/v1.0/publish/pubsub/audit", "text/plain", b"x").status,
        204
    );
    assert_eq!(
        publish(&d, "/v1.0/publish/pubsub/audit", "text/plain", b"y").status,
        204
    );
    assert_eq!(app.wait_for("/audit-x", 1).len(), 1);
    assert_eq!(app.wait_for("/audit", 1).len(), 1);
    // Not in this app's publishing scope, or not allowed at all.
    for topic in ["secret", "nope"] {
        let r = publish(
            &d,
            &format!("/v1.0/publish/pubsub/{topic}"),
            "text/plain",
            b"x",
        );
        assert_eq!(r.status, 403, "{topic}: {}", r.text());
        assert_eq!(r.json()["errorCode"], "ERR_PUBSUB_FORBIDDEN");
        assert_eq!(
            r.json()["message"],
            format!("topic {topic} is not allowed for app id scoped")
        );
    }
}

#[test]
fn publish_errors_as_go() {
    let app = Subscriber::success("[]");
    let dir = resources(&[], "");
    let d = sidecar(&app, &dir, "errs");
    let r = publish(&d, "/v1.0/publish/nope/orders", "text/plain", b"x");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errorCode"], "ERR_PUBSUB_NOT_FOUND");
    assert_eq!(r.json()["message"], "pubsub nope is not found");
    // PUT is accepted like POST.
    let r = request(d.http, "PUT", "/v1.0/publish/pubsub/a/b/c", &[], b"x");
    assert_eq!(r.status, 204, "{}", r.text());

    // Bulk: success, then Go's errors.
    let bulk = "/v1.0-alpha1/publish/bulk/pubsub/orders";
    let ok = br#"[{"entryId":"1","event":{"a":1},"contentType":"application/json"},
                  {"entryId":"2","event":"text","contentType":"text/plain"},
                  {"entryId":"3","event":"AAE=","contentType":"application/octet-stream"}]"#;
    assert_eq!(publish(&d, bulk, "application/json", ok).status, 204);
    assert_eq!(
        publish(
            &d,
            "/v1.0/publish/bulk/pubsub/orders",
            "application/json",
            ok
        )
        .status,
        204
    );
    for (body, code) in [
        (&b"{not json"[..], "ERR_PUBSUB_EVENTS_SER"),
        (
            br#"[{"entryId":"1","event":1},{"entryId":"1","event":2}]"#,
            "ERR_PUBSUB_EVENTS_SER",
        ),
        (
            br#"[{"event":{"a":1},"contentType":"application/json"}]"#,
            "ERR_PUBSUB_EVENTS_SER",
        ),
        (
            br#"[{"entryId":"1","event":5,"contentType":"text/plain"}]"#,
            "ERR_PUBSUB_EVENTS_SER",
        ),
    ] {
        let r = publish(&d, bulk, "application/json", body);
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["errorCode"], code);
    }
    // No pub/sub at all.
    let none = InProc::start(
        &["--app-id", "nopubsub"],
        daprd::runtime::Driver::Auto,
        None,
    );
    let r = publish(&none, "/v1.0/publish/pubsub/orders", "text/plain", b"x");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errorCode"], "ERR_PUBSUB_NOT_CONFIGURED");
}

#[test]
fn bulk_entries_are_delivered() {
    let app = Subscriber::success(ORDERS);
    let dir = resources(&[], "");
    let d = sidecar(&app, &dir, "bulk");
    let body = br#"[{"entryId":"a","event":{"n":1},"contentType":"application/json","metadata":{"cloudevent.type":"special"}},
                    {"entryId":"b","event":"two","contentType":"text/plain"}]"#;
    assert_eq!(
        publish(
            &d,
            "/v1.0-alpha1/publish/bulk/pubsub/orders",
            "application/json",
            body
        )
        .status,
        204
    );
    let got = app.wait_for("/orders", 2);
    let mut v: Vec<serde_json::Value> = got.iter().map(json).collect();
    v.sort_by_key(|e| e["datacontenttype"].as_str().unwrap().to_owned());
    assert_eq!(
        (v[0]["data"]["n"].as_i64(), v[0]["type"].as_str()),
        (Some(1), Some("special"))
    );
    assert_eq!(
        (v[1]["data"].as_str(), v[1]["type"].as_str()),
        (Some("two"), Some("com.dapr.event.sent"))
    );
}

#[test]
fn official_sdk_publishes_over_grpc() {
    let app = Subscriber::success(ORDERS);
    let dir = resources(&[], "");
    let d = sidecar(&app, &dir, "sdkpub");
    let grpc = d.grpc();
    crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{grpc}"),
        )
        .await
        .unwrap();
        c.publish_event(
            "pubsub",
            "orders",
            "application/json",
            br#"{"sdk":true}"#.to_vec(),
            None,
        )
        .await
        .unwrap();
        let err = c
            .publish_event("missing", "orders", "text/plain", b"x".to_vec(), None)
            .await
            .unwrap_err();
        assert!(
            format!("{err:?}").contains("pubsub missing is not found"),
            "{err:?}"
        );
    });
    let v = json(&app.wait_for("/orders", 1)[0]);
    assert_eq!(v["data"]["sdk"], true);
    assert_eq!(v["source"], "sdkpub");
}

#[test]
fn huge_messages_are_refused_cleanly() {
    let app = Subscriber::success(ORDERS);
    let dir = resources(&[], "").display().to_string();
    let port = app.app.port.to_string();
    let d = InProc::start(
        &[
            "--app-id",
            "huge",
            "--app-port",
            &port,
            "--resources-path",
            &dir,
            "--max-body-size",
            "1Mi",
        ],
        daprd::runtime::Driver::Auto,
        None,
    );
    app.wait_for("/dapr/subscribe", 1);
    std::thread::sleep(Duration::from_millis(100));
    let big = vec![b'x'; 2 << 20];
    let r = publish(&d, "/v1.0/publish/pubsub/orders", "text/plain", &big);
    assert_eq!(r.status, 413, "{}", r.text());
    let grpc = d.grpc();
    crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{grpc}"),
        )
        .await
        .unwrap();
        let err = c
            .publish_event("pubsub", "orders", "text/plain", big.clone(), None)
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("ResourceExhausted"), "{err:?}");
    });
    // Nothing was delivered; the sidecar carries on.
    assert_eq!(
        publish(&d, "/v1.0/publish/pubsub/orders", "text/plain", b"small").status,
        204
    );
    let got = app.wait_for("/orders", 1);
    assert_eq!(json(&got[0])["data"], "small");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(app.count("/orders"), 1);
}
