//! `pubsub.redis` (Redis Streams) against real Redis: Go's stream layout
//! both ways, delivery of messages published before the group existed,
//! 10 000 messages over both workers delivered exactly once, redelivery
//! after a SIGKILL, and a Redis restart mid-flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::Seen;
use crate::harness::*;
use crate::pubsub::{json, publish, resources_of, sidecar, Subscriber};
use crate::services::{self, text, unique_app_id, Plain, RedisServer};

fn redis_md<'a>(host: &'a str, consumer: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("redisHost", host),
        ("consumerID", consumer),
        ("processingTimeout", "1s"),
        ("redeliverInterval", "300ms"),
    ]
}

fn subs(topic: &str) -> String {
    format!(r#"[{{"pubsubname":"pubsub","topic":"{topic}","route":"/msg"}}]"#)
}

/// The stream's entries as (id, field map).
fn xrange(addr: &str, topic: &str) -> Vec<(String, HashMap<String, String>)> {
    let reply = Plain::connect(addr).call(&["XRANGE", topic, "-", "+"]);
    let redis_protocol::resp2::types::BytesFrame::Array(items) = reply else {
        panic!("XRANGE: {reply:?}");
    };
    items
        .into_iter()
        .map(|e| {
            let redis_protocol::resp2::types::BytesFrame::Array(mut p) = e else {
                panic!()
            };
            let redis_protocol::resp2::types::BytesFrame::Array(kv) = p.pop().unwrap() else {
                panic!()
            };
            let id = text(&p[0]);
            let mut m = HashMap::new();
            for pair in kv.chunks(2) {
                m.insert(text(&pair[0]), text(&pair[1]));
            }
            (id, m)
        })
        .collect()
}

#[test]
fn go_stream_layout_both_ways() {
    if !services::redis("go_stream_layout_both_ways") {
        return;
    }
    let topic = unique_app_id("topic");
    let group = unique_app_id("group");
    // Published by "a Go sidecar" before our consumer group exists: still delivered.
    let ce = format!(
        r#"{{"id":"go-1","source":"goapp","type":"com.dapr.event.sent","specversion":"1.0","datacontenttype":"text/plain","data":"from go","topic":"{topic}","pubsubname":"pubsub"}}"#
    );
    Plain::connect(services::REDIS).call(&["XADD", &topic, "*", "data", &ce, "metadata", "{}"]);

    let app = Subscriber::success(&subs(&topic));
    let dir = resources_of("pubsub.redis", &redis_md(services::REDIS, &group), "");
    let d = sidecar(&app, &dir, "streams");
    let first = json(&app.wait_for("/msg", 1)[0]);
    assert_eq!(
        (first["id"].as_str(), first["data"].as_str()),
        (Some("go-1"), Some("from go"))
    );

    let r = publish(
        &d,
        &format!("/v1.0/publish/pubsub/{topic}?metadata.k=v"),
        "application/json",
        br#"{"n":1}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let got = json(&app.wait_for("/msg", 2)[1]);
    assert_eq!(got["data"]["n"], 1);
    // In Redis: Go's entry layout, a CloudEvent under `data`, request metadata as JSON.
    let entries = xrange(services::REDIS, &topic);
    assert_eq!(entries.len(), 2);
    let (_, fields) = &entries[1];
    let stored: serde_json::Value = serde_json::from_str(&fields["data"]).unwrap();
    assert_eq!(
        (stored["source"].as_str(), stored["topic"].as_str()),
        (Some("streams"), Some(topic.as_str()))
    );
    let md: HashMap<String, String> = serde_json::from_str(&fields["metadata"]).unwrap();
    assert_eq!(md["k"], "v");
    // The group is ours, both entries acknowledged.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pending = Plain::connect(services::REDIS).call(&["XPENDING", &topic, &group]);
        let redis_protocol::resp2::types::BytesFrame::Array(p) = pending else {
            panic!("{pending:?}")
        };
        if text(&p[0]) == "0" {
            break;
        }
        assert!(Instant::now() < deadline, "entries never acked");
        std::thread::sleep(Duration::from_millis(20));
    }
    Plain::connect(services::REDIS).call(&["DEL", &topic]);
}

#[test]
fn ten_thousand_messages_exactly_once() {
    if !services::redis("ten_thousand_messages_exactly_once") {
        return;
    }
    let topic = unique_app_id("load");
    let group = unique_app_id("group");
    let app = Subscriber::success(&subs(&topic));
    let dir = resources_of("pubsub.redis", &redis_md(services::REDIS, &group), "");
    let d = sidecar(&app, &dir, "load");
    const PUBLISHERS: usize = 8;
    const EACH: usize = 1250;
    std::thread::scope(|s| {
        for p in 0..PUBLISHERS {
            let http = d.http;
            let topic = &topic;
            s.spawn(move || {
                let mut c = Conn::open(http);
                for i in 0..EACH {
                    let body = format!("{p}-{i}");
                    let r = c.request(
                        "POST",
                        &format!("/v1.0/publish/pubsub/{topic}"),
                        &[("content-type", "text/plain")],
                        body.as_bytes(),
                    );
                    assert_eq!(r.status, 204, "{}", r.text());
                }
            });
        }
    });
    let total = PUBLISHERS * EACH;
    let got = app.wait_for("/msg", total);
    // Nothing more arrives: every message once.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(app.count("/msg"), total, "duplicates delivered");
    let mut data: Vec<String> = got
        .iter()
        .map(|s| json(s)["data"].as_str().unwrap().to_owned())
        .collect();
    data.sort();
    data.dedup();
    assert_eq!(data.len(), total);
    Plain::connect(services::REDIS).call(&["DEL", &topic]);
}

#[test]
fn unacked_messages_survive_a_sigkill() {
    if !services::redis("unacked_messages_survive_a_sigkill") {
        return;
    }
    let topic = unique_app_id("killed");
    let group = unique_app_id("group");
    // The first app never answers: the message stays pending.
    let stuck = Subscriber::start(
        &subs(&topic),
        Arc::new(|_: &Seen, _| {
            std::thread::sleep(Duration::from_secs(30));
            (200, String::new())
        }),
    );
    let md = redis_md(services::REDIS, &group);
    let dir = resources_of("pubsub.redis", &md, "");
    let dir_s = dir.display().to_string();
    let port = stuck.app.port.to_string();
    let d = Daprd::start(&["--app-port", &port, "--resources-path", &dir_s]);
    stuck.wait_for("/dapr/subscribe", 1);
    std::thread::sleep(Duration::from_millis(200));
    let r = request(
        d.http,
        "POST",
        &format!("/v1.0/publish/pubsub/{topic}"),
        &[("content-type", "text/plain")],
        b"survivor",
    );
    assert_eq!(r.status, 204);
    stuck.wait_for("/msg", 1);
    d.signal("KILL");
    drop(d);

    // A new sidecar with the same consumer group reclaims it once it is idle.
    let ok = Subscriber::success(&subs(&topic));
    let port = ok.app.port.to_string();
    let _d2 = Daprd::start(&["--app-port", &port, "--resources-path", &dir_s]);
    let got = ok.wait_for("/msg", 1);
    assert_eq!(json(&got[0])["data"], "survivor");
    Plain::connect(services::REDIS).call(&["DEL", &topic]);
}

#[test]
fn redis_restart_mid_flight() {
    if !services::redis("redis_restart_mid_flight") {
        return;
    }
    let Some(mut redis) = RedisServer::start("redis_restart_mid_flight") else {
        return;
    };
    let addr = redis.addr();
    let topic = unique_app_id("restart");
    let app = Subscriber::success(&subs(&topic));
    let dir = resources_of("pubsub.redis", &redis_md(&addr, "grp"), "");
    let d = sidecar(&app, &dir, "restart");
    assert_eq!(
        publish(
            &d,
            &format!("/v1.0/publish/pubsub/{topic}"),
            "text/plain",
            b"one"
        )
        .status,
        204
    );
    app.wait_for("/msg", 1);

    redis.kill();
    let r = publish(
        &d,
        &format!("/v1.0/publish/pubsub/{topic}"),
        "text/plain",
        b"lost",
    );
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_PUBSUB_PUBLISH_MESSAGE");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{}",
        r.text()
    );

    // A fresh (empty) Redis: the group is recreated and delivery resumes.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    while app.count("/msg") < 2 {
        assert!(Instant::now() < deadline, "delivery never resumed");
        let r = publish(
            &d,
            &format!("/v1.0/publish/pubsub/{topic}"),
            "text/plain",
            format!("again-{n}").as_bytes(),
        );
        n += 1;
        if r.status != 204 {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let data = json(&app.to("/msg")[1])["data"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(data.starts_with("again-"), "{data}");
}

#[test]
fn shutdown_lets_in_flight_deliveries_finish() {
    if !services::redis("shutdown_lets_in_flight_deliveries_finish") {
        return;
    }
    let topic = unique_app_id("drain");
    let group = unique_app_id("group");
    // The app takes a while over each message.
    let app = Subscriber::start(
        &subs(&topic),
        Arc::new(|_: &Seen, _| {
            std::thread::sleep(Duration::from_millis(700));
            (200, String::new())
        }),
    );
    let dir = resources_of("pubsub.redis", &redis_md(services::REDIS, &group), "");
    let mut d = sidecar(&app, &dir, "drain");
    let r = publish(
        &d,
        &format!("/v1.0/publish/pubsub/{topic}"),
        "text/plain",
        b"slow",
    );
    assert_eq!(r.status, 204);
    app.wait_for("/msg", 1);
    // Shut down while the delivery is in flight: it completes and is acked.
    d.stop();
    let pending = Plain::connect(services::REDIS).call(&["XPENDING", &topic, &group]);
    let redis_protocol::resp2::types::BytesFrame::Array(p) = pending else {
        panic!("{pending:?}")
    };
    assert_eq!(
        text(&p[0]),
        "0",
        "the in-flight message was cut off and left pending"
    );
    assert_eq!(app.count("/msg"), 1);
    Plain::connect(services::REDIS).call(&["DEL", &topic]);
}
