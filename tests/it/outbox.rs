//! The transactional outbox (a state store with `outboxPublishPubsub` /
//! `outboxPublishTopic`): an event per committed upsert reaches the
//! subscriber app, over the HTTP transaction API and gRPC
//! `ExecuteStateTransaction` (the `dapr` crate's client), on the in-memory
//! components and on Redis. Projections are published but not stored; an
//! uncommitted transaction publishes nothing; a misconfigured outbox fails
//! the transaction; a sidecar killed right after the commit delivers the
//! event exactly once after its restart (Redis Streams).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dapr::dapr::proto::common::v1 as common;
use dapr::dapr::proto::runtime::v1 as rt;
use rt::dapr_client::DaprClient;

use crate::grpc::rt as tokio_rt;
use crate::harness::*;
use crate::pubsub::{json, sidecar, Subscriber};
use crate::services::{self, text, unique_app_id, Plain};

const SUBS: &str = r#"[{"pubsubname":"mypubsub","topic":"test","route":"/test"}]"#;

/// A resources folder: state store `mystore` and pub/sub `mypubsub`.
fn resources(state: (&str, &[(&str, &str)]), pubsub: (&str, &[(&str, &str)])) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_app_id("daprd-outbox"));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, (kind, md)) in [("mystore", state), ("mypubsub", pubsub)] {
        let mut yaml = format!("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: {kind}\n  version: v1\n  metadata:\n");
        for (k, v) in md {
            yaml.push_str(&format!("  - name: {k}\n    value: \"{v}\"\n"));
        }
        if md.is_empty() {
            yaml.push_str("  - name: unused\n    value: \"\"\n");
        }
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
    }
    dir
}

fn transaction(addr: std::net::SocketAddr, body: &str) -> HttpResponse {
    request(
        addr,
        "POST",
        "/v1.0/state/mystore/transaction",
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

/// Polls `check` for up to 10 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn http_transaction_publishes_each_committed_upsert() {
    let app = Subscriber::success(SUBS);
    let dir = resources(
        (
            "state.in-memory",
            &[
                ("outboxPublishPubsub", "mypubsub"),
                ("outboxPublishTopic", "test"),
                // Unprefixed keys: the marker can be read over the API.
                ("keyPrefix", "none"),
            ],
        ),
        ("pubsub.in-memory", &[]),
    );
    let d = sidecar(&app, &dir, "outboxtest");

    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/mystore/transaction",
        &[("content-type", "application/json"), ("traceparent", tp)],
        br#"{"operations":[{"operation":"upsert","request":{"key":"1","value":"2",
            "metadata":{"outbox.cloudevent.myapp":"myapp1","data":"a","id":"b"}}}]}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let got = app.wait_for("/test", 1);
    assert_eq!(
        got[0].header("content-type"),
        Some("application/cloudevents+json")
    );
    let ev = json(&got[0]);
    // Go's fields: the value as Go prints it, metadata copied in verbatim
    // (but never over `data` or `id`), the id being the marker key.
    for (k, want) in [
        ("data", "2"),
        ("outbox.cloudevent.myapp", "myapp1"),
        ("datacontenttype", "text/plain"),
        ("source", "outboxtest"),
        ("type", "com.dapr.event.sent"),
        ("specversion", "1.0"),
        ("topic", "test"),
        ("pubsubname", "mypubsub"),
        ("traceid", tp),
    ] {
        assert_eq!(ev[k], want, "{k} in {ev}");
    }
    let marker = ev["id"].as_str().unwrap().to_owned();
    assert!(
        marker.starts_with("outbox-") && marker.len() == 43,
        "{marker}"
    );

    // The upsert is stored; the marker is gone once the event is out.
    let r = get(d.http, "/v1.0/state/mystore/1");
    assert_eq!((r.status, r.text().as_str()), (200, r#""2""#));
    eventually("the marker is deleted", || {
        get(d.http, &format!("/v1.0/state/mystore/{marker}")).status == 204
    });

    // A delete publishes nothing: the next event is the next upsert's.
    let r = transaction(
        d.http,
        r#"{"operations":[{"operation":"delete","request":{"key":"1"}}]}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let r = transaction(
        d.http,
        r#"{"operations":[{"operation":"upsert","request":{"key":"n","value":{"b":[1,true],"a":1000000}}}]}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let got = app.wait_for("/test", 2);
    // A JSON value without a content type is published as Go's `%v` prints it.
    assert_eq!(json(&got[1])["data"], "map[a:1e+06 b:[1 true]]");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(app.count("/test"), 2);
    assert_eq!(get(d.http, "/v1.0/state/mystore/1").status, 204);
}

#[test]
fn grpc_projection_is_published_not_stored() {
    let app = Subscriber::success(SUBS);
    let dir = resources(
        (
            "state.in-memory",
            &[
                ("outboxPublishPubsub", "mypubsub"),
                ("outboxPublishTopic", "test"),
            ],
        ),
        ("pubsub.in-memory", &[]),
    );
    let d = sidecar(&app, &dir, "projector");
    let upsert = |key: &str, value: &[u8], md: &[(&str, &str)]| rt::TransactionalStateOperation {
        operation_type: "upsert".into(),
        request: Some(common::StateItem {
            key: key.into(),
            value: value.to_vec(),
            metadata: md
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Default::default()
        }),
    };
    tokio_rt().block_on(async {
        let mut c = DaprClient::connect(format!("http://{}", d.grpc()))
            .await
            .unwrap();
        c.execute_state_transaction(rt::ExecuteStateTransactionRequest {
            store_name: "mystore".into(),
            operations: vec![
                upsert("key1", b"val1", &[]),
                upsert("key1", b"val2", &[("outbox.projection", "true")]),
            ],
            metadata: Default::default(),
        })
        .await
        .unwrap();
        let got = app.wait_for("/test", 1);
        let ev = json(&got[0]);
        assert_eq!(
            (ev["data"].as_str(), ev["source"].as_str()),
            (Some("val2"), Some("projector"))
        );
        let stored = c
            .get_state(rt::GetStateRequest {
                store_name: "mystore".into(),
                key: "key1".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stored.data, b"val1");

        // A projection's content type is the event's; JSON data is embedded.
        c.execute_state_transaction(rt::ExecuteStateTransactionRequest {
            store_name: "mystore".into(),
            operations: vec![
                upsert("order", b"stored", &[]),
                upsert(
                    "order",
                    br#"{"orderId": 7}"#,
                    &[
                        ("outbox.projection", "true"),
                        ("contentType", "application/json"),
                    ],
                ),
            ],
            metadata: Default::default(),
        })
        .await
        .unwrap();
        let got = app.wait_for("/test", 2);
        let ev = json(&got[1]);
        assert_eq!(ev["datacontenttype"], "application/json");
        assert_eq!(ev["data"]["orderId"], 7);
    });
}

#[test]
fn uncommitted_transaction_publishes_nothing() {
    let app = Subscriber::success(SUBS);
    let dir = resources(
        (
            "state.in-memory",
            &[
                ("outboxPublishPubsub", "mypubsub"),
                ("outboxPublishTopic", "test"),
                ("outboxDiscardWhenMissingState", "true"),
            ],
        ),
        ("pubsub.in-memory", &[]),
    );
    let d = sidecar(&app, &dir, "uncommitted");
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/mystore",
        &[("content-type", "application/json")],
        br#"[{"key":"k","value":"v"}]"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    // The ETag does not match: the transaction fails after its event went
    // to the internal topic; the marker was never written.
    let r = transaction(
        d.http,
        r#"{"operations":[{"operation":"upsert","request":{"key":"k","value":"lost","etag":"999"}}]}"#,
    );
    assert_ne!(r.status, 204, "{}", r.text());
    let r = transaction(
        d.http,
        r#"{"operations":[{"operation":"upsert","request":{"key":"ok","value":"kept"}}]}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    // Both events reach the relay about together; only the committed one goes out.
    let got = app.wait_for("/test", 1);
    assert_eq!(json(&got[0])["data"], "kept");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(app.count("/test"), 1);
    assert_eq!(get(d.http, "/v1.0/state/mystore/k").text(), r#""v""#);
}

#[test]
fn outbox_publish_failure_fails_the_transaction() {
    let dir = resources(
        (
            "state.in-memory",
            &[
                ("outboxPublishPubsub", "mypubsub"),
                ("outboxPublishTopic", "test"),
                ("outboxPubsub", "nosuchpubsub"),
            ],
        ),
        ("pubsub.in-memory", &[]),
    );
    let d = InProc::start(
        &["--resources-path", &dir.display().to_string()],
        daprd::runtime::Driver::Auto,
        None,
    );
    let r = transaction(
        d.http,
        r#"{"operations":[{"operation":"upsert","request":{"key":"1","value":"2"}}]}"#,
    );
    assert_eq!(r.status, 500, "{}", r.text());
    let v = r.json();
    assert_eq!(v["errorCode"], "ERR_PUBLISH_OUTBOX");
    assert_eq!(
        v["message"],
        "error while publishing outbox message: pubsub 'nosuchpubsub' not found"
    );
    // Nothing was written.
    assert_eq!(get(d.http, "/v1.0/state/mystore/1").status, 204);
    // Deletes publish nothing, so they still go through.
    let r = transaction(
        d.http,
        r#"{"operations":[{"operation":"delete","request":{"key":"1"}}]}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
}

fn redis_resources(group: &str, topic: &str) -> PathBuf {
    resources(
        (
            "state.redis",
            &[
                ("redisHost", services::REDIS),
                ("outboxPublishPubsub", "mypubsub"),
                ("outboxPublishTopic", topic),
            ],
        ),
        (
            "pubsub.redis",
            &[
                ("redisHost", services::REDIS),
                ("consumerID", group),
                ("processingTimeout", "1s"),
                ("redeliverInterval", "300ms"),
            ],
        ),
    )
}

fn subs(topic: &str) -> String {
    format!(r#"[{{"pubsubname":"mypubsub","topic":"{topic}","route":"/test"}}]"#)
}

/// The `data` field of every entry of a stream.
fn stream_data(stream: &str) -> Vec<serde_json::Value> {
    use redis_protocol::resp2::types::BytesFrame;
    let reply = Plain::connect(services::REDIS).call(&["XRANGE", stream, "-", "+"]);
    let BytesFrame::Array(entries) = reply else {
        panic!("XRANGE: {reply:?}");
    };
    entries
        .into_iter()
        .map(|e| {
            let BytesFrame::Array(mut parts) = e else {
                panic!("entry: {e:?}")
            };
            let Some(BytesFrame::Array(fields)) = parts.pop() else {
                panic!("fields: {parts:?}")
            };
            let data = fields
                .chunks(2)
                .find(|kv| text(&kv[0]) == "data")
                .map(|kv| text(&kv[1]))
                .expect("a data field");
            serde_json::from_str(&data).unwrap()
        })
        .collect()
}

fn exists(key: &str) -> bool {
    text(&Plain::connect(services::REDIS).call(&["EXISTS", key])) == "1"
}

#[test]
fn redis_event_survives_a_kill_between_commit_and_publish() {
    if !services::redis("redis_event_survives_a_kill_between_commit_and_publish") {
        return;
    }
    let app_id = unique_app_id("killed");
    let (group, topic) = (unique_app_id("group"), unique_app_id("topic"));
    let dir = redis_resources(&group, &topic);
    let dir_s = dir.display().to_string();
    // The first sidecar's app is not reachable: it never subscribes (Go
    // consumes the internal topic once the app is ready).
    let nowhere = free_port().to_string();
    let d = Daprd::start(&[
        "--app-id",
        &app_id,
        "--app-port",
        &nowhere,
        "--resources-path",
        &dir_s,
    ]);
    let r = transaction(
        d.http,
        r#"{"operations":[{"operation":"upsert","request":{"key":"1","value":{"id":1},"metadata":{"contentType":"application/json"}}}]}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    d.signal("KILL");
    drop(d);

    // Go's layout: the event is on `<namespace><appID><topic>outbox`, its id
    // names the marker, committed with the state.
    let internal = format!("default{app_id}{topic}outbox");
    let events = stream_data(&internal);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["pubsubname"], "mypubsub");
    assert_eq!(events[0]["source"], app_id.as_str());
    let marker = events[0]["id"].as_str().unwrap().to_owned();
    assert!(marker.starts_with("outbox-"), "{marker}");
    assert!(exists(&marker), "marker {marker} committed");
    assert!(exists(&format!("{app_id}||1")));

    // Restarted with the app up: the event is delivered, exactly once.
    let app = Subscriber::success(&subs(&topic));
    let port = app.app.port.to_string();
    let d = Daprd::start(&[
        "--app-id",
        &app_id,
        "--app-port",
        &port,
        "--resources-path",
        &dir_s,
    ]);
    let got = app.wait_for("/test", 1);
    let ev = json(&got[0]);
    assert_eq!(ev["id"], marker.as_str());
    assert_eq!(ev["data"]["id"], 1);
    assert_eq!(ev["datacontenttype"], "application/json");
    eventually("the marker is deleted", || !exists(&marker));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(app.count("/test"), 1);
    drop(d);
    Plain::connect(services::REDIS).call(&["DEL", &internal, &topic, &format!("{app_id}||1")]);
}

#[test]
fn redis_grpc_projection_as_the_python_example() {
    if !services::redis("redis_grpc_projection_as_the_python_example") {
        return;
    }
    let app_id = unique_app_id("pyexample");
    let (group, topic) = (unique_app_id("group"), unique_app_id("topic"));
    let dir = redis_resources(&group, &topic);
    let app = Subscriber::success(&subs(&topic));
    let d = sidecar(&app, &dir, &app_id);
    tokio_rt().block_on(async {
        let mut c = DaprClient::connect(format!("http://{}", d.grpc()))
            .await
            .unwrap();
        let op = |value: &[u8], projection: bool| rt::TransactionalStateOperation {
            operation_type: "upsert".into(),
            request: Some(common::StateItem {
                key: "key1".into(),
                value: value.to_vec(),
                metadata: if projection {
                    [("outbox.projection".to_owned(), "true".to_owned())].into()
                } else {
                    Default::default()
                },
                ..Default::default()
            }),
        };
        c.execute_state_transaction(rt::ExecuteStateTransactionRequest {
            store_name: "mystore".into(),
            operations: vec![op(b"val1", false), op(b"val2", true)],
            metadata: Default::default(),
        })
        .await
        .unwrap();
        let got = app.wait_for("/test", 1);
        assert_eq!(json(&got[0])["data"], "val2");
        let stored = c
            .get_state(rt::GetStateRequest {
                store_name: "mystore".into(),
                key: "key1".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stored.data, b"val1");
    });
    let marker = json(&app.to("/test")[0])["id"].as_str().unwrap().to_owned();
    eventually("the marker is deleted", || !exists(&marker));
    drop(d);
    // The user's event went through the user's stream, in Go's layout.
    let events = stream_data(&topic);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["topic"], topic.as_str());
    let internal = format!("default{app_id}{topic}outbox");
    Plain::connect(services::REDIS).call(&["DEL", &internal, &topic, &format!("{app_id}||key1")]);
}
