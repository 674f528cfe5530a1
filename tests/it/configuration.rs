//! The configuration API on `configuration.redis`: values written by a plain
//! Redis client in Go's layout read back over HTTP and through the official
//! SDK, subscriptions delivered to an HTTP app and down gRPC streams (both
//! method names), unsubscribing every way, a Redis that goes away and comes
//! back, and Go's errors on every route.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dapr::dapr::proto::runtime::v1 as sdk;
use prost::Message;
use sdk::dapr_client::DaprClient;

use crate::app::{Handler, Seen, TestApp};
use crate::harness::*;
use crate::lock::{assert_error, components_dir};
use crate::services::{self, Plain, RedisServer};

type SdkClient = dapr::Client<dapr::client::TonicClientWithAuth>;

/// A sidecar with `configstore` on `redis`, and the app on `app_port`.
fn start(redis: &str, app_port: Option<u16>) -> InProc {
    start_on(redis, app_port, DRIVERS[1])
}

fn start_on(redis: &str, app_port: Option<u16>, driver: daprd::runtime::Driver) -> InProc {
    let dir = components_dir(&[(
        "configstore",
        "configuration.redis",
        &[("redisHost", redis)],
    )]);
    let dir = dir.display().to_string();
    let port = app_port.map(|p| p.to_string());
    let mut args = vec!["--resources-path", dir.as_str()];
    if let Some(p) = &port {
        args.extend(["--app-port", p.as_str()]);
    }
    InProc::start(&args, driver, None)
}

/// An app that records every `/configuration/…` POST (and answers 200).
fn recording_app() -> (TestApp, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let s = seen.clone();
    let handler: Handler = Arc::new(move |req: &Seen| {
        if !req.path.starts_with("/configuration/") {
            return None;
        }
        s.lock().unwrap().push(req.clone());
        Some((200, "text/plain".into(), Vec::new()))
    });
    (TestApp::start_with(0, Some(handler)), seen)
}

/// Waits for (and takes) the app's POST to `path`.
fn wait_post(seen: &Mutex<Vec<Seen>>, path: &str) -> Seen {
    let deadline = Instant::now() + WAIT;
    loop {
        {
            let mut all = seen.lock().unwrap();
            if let Some(i) = all.iter().position(|s| s.path == path) {
                return all.remove(i);
            }
        }
        assert!(Instant::now() < deadline, "no POST to {path}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a POST to `path` arrives within `within`.
fn no_post(seen: &Mutex<Vec<Seen>>, path: &str, within: Duration) -> bool {
    std::thread::sleep(within);
    !seen.lock().unwrap().iter().any(|s| s.path == path)
}

/// Subscribers of a keyspace channel (`PUBSUB NUMSUB`).
fn subscribers(plain: &mut Plain, channel: &str) -> i64 {
    match plain.call(&["PUBSUB", "NUMSUB", channel]) {
        redis_protocol::resp2::types::BytesFrame::Array(v) => {
            services::text(&v[1]).parse().unwrap()
        }
        other => panic!("{other:?}"),
    }
}

fn wait_subscribers(plain: &mut Plain, channel: &str, n: i64) {
    let deadline = Instant::now() + WAIT;
    while subscribers(plain, channel) != n {
        assert!(
            Instant::now() < deadline,
            "{channel} never had {n} subscribers"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `ErrorInfo` reason of a rich gRPC error.
fn reason(e: &tonic::Status) -> String {
    let st = daprd::proto::google::rpc::Status::decode(e.details()).unwrap();
    let info = daprd::proto::google::rpc::ErrorInfo::decode(&st.details[0].value[..]).unwrap();
    assert_eq!(info.domain, "dapr.io");
    info.reason
}

#[test]
fn get_reads_gos_layout_over_http_and_the_sdk() {
    if !services::redis("get_reads_gos_layout_over_http_and_the_sdk") {
        return;
    }
    let uid = services::unique_app_id("cfg");
    let k = |name: &str| format!("{uid}-{name}");
    let mut plain = Plain::connect(services::REDIS);
    plain.call(&["SET", &k("orderId2"), "102||1"]);
    plain.call(&["SET", &k("plain"), "v"]);
    plain.call(&["SET", &k("three"), "a||b||c"]);
    plain.call(&["SET", &k("empty"), ""]);
    plain.call(&["HSET", &k("hash"), "f", "v"]);
    let d = start(services::REDIS, None);

    // Exactly Go's bodies: a value without version or metadata prints only value.
    let r = get(
        d.http,
        &format!("/v1.0/configuration/configstore?key={}", k("orderId2")),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.text(),
        format!(
            "{{\"{}\":{{\"value\":\"102\",\"version\":\"1\"}}}}\n",
            k("orderId2")
        )
    );
    let r = get(
        d.http,
        &format!("/v1.0-alpha1/configuration/configstore?key={}", k("plain")),
    );
    assert_eq!(
        r.text(),
        format!("{{\"{}\":{{\"value\":\"v\"}}}}\n", k("plain"))
    );

    // Missing keys, empty values and non-strings are left out.
    let many = ["orderId2", "plain", "three", "empty", "hash", "missing"]
        .iter()
        .map(|n| format!("key={}", k(n)))
        .collect::<Vec<_>>()
        .join("&");
    let v = get(d.http, &format!("/v1.0/configuration/configstore?{many}")).json();
    let keys: BTreeSet<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [k("orderId2"), k("plain"), k("three")].iter().collect()
    );
    assert_eq!(
        v[k("three")],
        serde_json::json!({"value":"a","version":"b"})
    );
    let r = get(
        d.http,
        &format!("/v1.0/configuration/configstore?key={}", k("missing")),
    );
    assert_eq!((r.status, r.body.len()), (204, 0));
    // No key: every item in the database.
    let v = get(d.http, "/v1.0/configuration/configstore").json();
    for n in ["orderId2", "plain", "three"] {
        assert!(v.get(k(n)).is_some(), "{n} missing from {v}");
    }
    for n in ["empty", "hash"] {
        assert!(v.get(k(n)).is_none(), "{n} in {v}");
    }

    // Go's errors, and nothing changes.
    let nope = "configuration store nope not found";
    for path in [
        "/v1.0/configuration/nope?key=a",
        "/v1.0-alpha1/configuration/nope/subscribe",
        "/v1.0/configuration/nope/someid/unsubscribe",
    ] {
        assert_error(
            &get(d.http, path),
            400,
            "ERR_CONFIGURATION_STORE_NOT_FOUND",
            nope,
        );
    }
    assert_error(
        &get(d.http, "/v1.0/configuration/configstore/subscribe?key=a"),
        500,
        "ERR_APP_CHANNEL_NIL",
        "app channel is not initialized. cannot subscribe to configuration updates",
    );
    let r = get(d.http, "/v1.0/configuration/configstore/nope/unsubscribe");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        "{\"message\":\"failed to unsubscribe to configuration request nope: subscription with id nope does not exist\"}\n"
    );
    assert_eq!(
        services::text(&plain.call(&["GET", &k("orderId2")])),
        "102||1"
    );
    // The metadata API lists the store (no capabilities, as in Go).
    let md = get(d.http, "/v1.0/metadata").json();
    let listed = md["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "configstore" && c["type"] == "configuration.redis");
    assert!(listed, "{md}");

    crate::grpc::rt().block_on(async {
        let addr = d.grpc();
        let mut c = SdkClient::connect_with_address(format!("http://{addr}"))
            .await
            .unwrap();
        let got = c
            .get_configuration(
                "configstore",
                vec![k("orderId2"), k("plain"), k("missing")],
                None,
            )
            .await
            .unwrap();
        assert_eq!(got.items.len(), 2);
        let item = &got.items[&k("orderId2")];
        assert_eq!((item.value.as_str(), item.version.as_str()), ("102", "1"));
        assert!(item.metadata.is_empty());
        assert_eq!(got.items[&k("plain")].value, "v");

        let mut raw = DaprClient::connect(format!("http://{addr}")).await.unwrap();
        let got = raw
            .get_configuration_alpha1(sdk::GetConfigurationRequest {
                store_name: "configstore".into(),
                keys: vec![k("three")],
                metadata: HashMap::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.items[&k("three")].version, "b");
        let e = raw
            .get_configuration(sdk::GetConfigurationRequest {
                store_name: "nope".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (tonic::Code::InvalidArgument, nope)
        );
        assert_eq!(reason(&e), "ERR_CONFIGURATION_STORE_NOT_FOUND");
        let mut s = raw
            .subscribe_configuration(sdk::SubscribeConfigurationRequest {
                store_name: "nope".into(),
                ..Default::default()
            })
            .await;
        // The error may come with the response head or as the first message.
        let e = match &mut s {
            Err(e) => e.clone(),
            Ok(stream) => stream.get_mut().message().await.unwrap_err(),
        };
        assert_eq!(
            (e.code(), e.message()),
            (tonic::Code::InvalidArgument, nope)
        );
    });
}

#[test]
fn without_configuration_stores_the_api_is_not_configured() {
    let d = InProc::start(&[], DRIVERS[0], None);
    for path in [
        "/v1.0/configuration/any?key=a",
        "/v1.0/configuration/any/subscribe",
        "/v1.0-alpha1/configuration/any/id/unsubscribe",
    ] {
        assert_error(
            &get(d.http, path),
            500,
            "ERR_CONFIGURATION_STORE_NOT_CONFIGURED",
            "configuration stores not configured",
        );
    }
    crate::grpc::rt().block_on(async {
        let mut c = DaprClient::connect(format!("http://{}", d.grpc()))
            .await
            .unwrap();
        let e = c
            .get_configuration(sdk::GetConfigurationRequest::default())
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (
                tonic::Code::FailedPrecondition,
                "configuration stores not configured"
            )
        );
        assert_eq!(reason(&e), "ERR_CONFIGURATION_STORE_NOT_CONFIGURED");
        let r = c
            .unsubscribe_configuration(sdk::UnsubscribeConfigurationRequest {
                store_name: "any".into(),
                id: "x".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!r.ok);
        assert_eq!(
            r.message,
            "failed to unsubscribe to configuration request x: subscription does not exist"
        );
    });
}

#[test]
fn http_subscription_delivers_changes_to_the_app() {
    if !services::redis("http_subscription_delivers_changes_to_the_app") {
        return;
    }
    for driver in DRIVERS {
        http_subscription_on(driver);
    }
}

fn http_subscription_on(driver: daprd::runtime::Driver) {
    let uid = services::unique_app_id("cfgsub");
    let (k1, k2, other) = (format!("{uid}-a"), format!("{uid}-b"), format!("{uid}-c"));
    let (app, seen) = recording_app();
    let d = start_on(services::REDIS, Some(app.port), driver);
    let mut plain = Plain::connect(services::REDIS);

    let r = get(
        d.http,
        &format!("/v1.0/configuration/configstore/subscribe?key={k1}&key={k2}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.text(), format!("{{\"id\":\"{id}\"}}\n"));
    // The sidecar enabled keyspace notifications itself.
    let flags = match plain.call(&["CONFIG", "GET", "notify-keyspace-events"]) {
        redis_protocol::resp2::types::BytesFrame::Array(v) => services::text(&v[1]),
        other => panic!("{other:?}"),
    };
    for f in ['K', 'g', '$', 'x', 'e'] {
        assert!(
            flags.contains(f) || (f != 'K' && flags.contains('A')),
            "{flags}"
        );
    }

    // A change written by a plain client reaches the app as Go sends it.
    plain.call(&["SET", &k1, "v1||3"]);
    let post = wait_post(&seen, &format!("/configuration/configstore/{k1}"));
    assert_eq!(post.method, "POST");
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(
        String::from_utf8(post.body).unwrap(),
        format!(
            "{{\"id\":\"{id}\",\"items\":{{\"{k1}\":{{\"value\":\"v1\",\"version\":\"3\"}}}}}}\n"
        )
    );
    plain.call(&["SET", &k2, "plain"]);
    let post = wait_post(&seen, &format!("/configuration/configstore/{k2}"));
    let v: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(v["items"][&k2], serde_json::json!({"value":"plain"}));
    // A deletion is an empty item.
    plain.call(&["DEL", &k1]);
    let post = wait_post(&seen, &format!("/configuration/configstore/{k1}"));
    let v: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(v["items"][&k1], serde_json::json!({}));
    // Keys not subscribed to are not sent.
    plain.call(&["SET", &other, "x"]);
    assert!(no_post(
        &seen,
        &format!("/configuration/configstore/{other}"),
        Duration::from_millis(300)
    ));

    // Subscriptions live on the worker that made them; an unsubscribe on a
    // fresh connection (either worker) ends each one.
    let extra: Vec<String> = (0..6)
        .map(|_| {
            let r = get(
                d.http,
                &format!("/v1.0/configuration/configstore/subscribe?key={other}"),
            );
            r.json()["id"].as_str().unwrap().to_owned()
        })
        .collect();
    wait_subscribers(&mut plain, &format!("__keyspace@0__:{other}"), 6);
    for x in &extra {
        let path = format!("/v1.0/configuration/configstore/{x}/unsubscribe");
        assert_eq!(get(d.http, &path).text(), "{\"ok\":true}\n");
    }
    wait_subscribers(&mut plain, &format!("__keyspace@0__:{other}"), 0);

    // Unsubscribe (on whichever worker): no more POSTs, the channel is released.
    let r = get(
        d.http,
        &format!("/v1.0-alpha1/configuration/configstore/{id}/unsubscribe"),
    );
    assert_eq!((r.status, r.text()), (200, "{\"ok\":true}\n".to_owned()));
    wait_subscribers(&mut plain, &format!("__keyspace@0__:{k1}"), 0);
    plain.call(&["SET", &k1, "again"]);
    assert!(no_post(
        &seen,
        &format!("/configuration/configstore/{k1}"),
        Duration::from_millis(300)
    ));
    let r = get(
        d.http,
        &format!("/v1.0/configuration/configstore/{id}/unsubscribe"),
    );
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        format!("{{\"message\":\"failed to unsubscribe to configuration request {id}: subscription with id {id} does not exist\"}}\n")
    );
    for key in [&k1, &k2, &other] {
        plain.call(&["DEL", key]);
    }
}

#[test]
fn grpc_subscription_streams_with_both_method_names() {
    if !services::redis("grpc_subscription_streams_with_both_method_names") {
        return;
    }
    let uid = services::unique_app_id("cfgstream");
    let key = format!("{uid}-k");
    let channel = format!("__keyspace@0__:{key}");
    let d = start(services::REDIS, None);
    let addr = d.grpc();
    let mut plain = Plain::connect(services::REDIS);
    crate::grpc::rt().block_on(async {
        let first = Duration::from_secs(5);
        // JS's name through the SDK, Python's `Alpha1` through the generated client.
        let mut c = SdkClient::connect_with_address(format!("http://{addr}"))
            .await
            .unwrap();
        let mut s1 = c
            .subscribe_configuration("configstore", vec![key.as_str()], None)
            .await
            .unwrap();
        let m = tokio::time::timeout(first, s1.message())
            .await
            .expect("the id within a few seconds")
            .unwrap()
            .unwrap();
        let id1 = m.id.clone();
        assert!(!id1.is_empty() && m.items.is_empty(), "{m:?}");

        let mut raw = DaprClient::connect(format!("http://{addr}")).await.unwrap();
        let req = sdk::SubscribeConfigurationRequest {
            store_name: "configstore".into(),
            keys: vec![key.clone()],
            metadata: HashMap::new(),
        };
        let mut s2 = raw
            .subscribe_configuration_alpha1(req.clone())
            .await
            .unwrap()
            .into_inner();
        let id2 = tokio::time::timeout(first, s2.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .id;
        assert_ne!(id1, id2);

        // One write by a plain client reaches both streams.
        plain.call(&["SET", &key, "x||2"]);
        for (s, id) in [(&mut s1, &id1), (&mut s2, &id2)] {
            let m = tokio::time::timeout(WAIT, s.message())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(&m.id, id);
            let item = &m.items[&key];
            assert_eq!((item.value.as_str(), item.version.as_str()), ("x", "2"));
        }

        // UnsubscribeConfiguration ends the stream (OK) and frees the id.
        let r = c
            .unsubscribe_configuration("configstore", &id1)
            .await
            .unwrap();
        assert!(r.ok && r.message.is_empty(), "{r:?}");
        let end = tokio::time::timeout(WAIT, s1.message()).await.unwrap();
        assert!(matches!(end, Ok(None)), "{end:?}");
        let r = c
            .unsubscribe_configuration("configstore", &id1)
            .await
            .unwrap();
        assert!(!r.ok);
        assert_eq!(
            r.message,
            format!(
                "failed to unsubscribe to configuration request {id1}: subscription does not exist"
            )
        );

        // An HTTP unsubscribe of a stream's id ends that stream too.
        let mut s3 = raw
            .subscribe_configuration(req.clone())
            .await
            .unwrap()
            .into_inner();
        let id3 = s3.message().await.unwrap().unwrap().id;
        let http = d.http;
        let path = format!("/v1.0/configuration/configstore/{id3}/unsubscribe");
        let r = tokio::task::spawn_blocking(move || get(http, &path))
            .await
            .unwrap();
        assert_eq!(r.text(), "{\"ok\":true}\n");
        let end = tokio::time::timeout(WAIT, s3.message()).await.unwrap();
        assert!(matches!(end, Ok(None)), "{end:?}");

        // A client that goes away releases its subscription.
        drop(s2);
    });
    wait_subscribers(&mut plain, &channel, 0);

    // A call that hits its deadline releases its subscription too.
    crate::grpc::rt().block_on(async {
        let mut raw = DaprClient::connect(format!("http://{addr}")).await.unwrap();
        let mut req = tonic::Request::new(sdk::SubscribeConfigurationRequest {
            store_name: "configstore".into(),
            keys: vec![key.clone()],
            metadata: HashMap::new(),
        });
        req.set_timeout(Duration::from_millis(500));
        let mut s = raw.subscribe_configuration(req).await.unwrap().into_inner();
        assert!(!s.message().await.unwrap().unwrap().id.is_empty());
        let e = tokio::time::timeout(WAIT, s.message())
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::DeadlineExceeded, "{e:?}");
    });
    wait_subscribers(&mut plain, &channel, 0);
    plain.call(&["DEL", &key]);
}

#[test]
fn all_keys_subscription_survives_a_redis_restart() {
    let Some(mut redis) = RedisServer::start("all_keys_subscription_survives_a_redis_restart")
    else {
        return;
    };
    let mut plain = Plain::connect(&redis.addr());
    // The operator's own flags are kept; contrib's are added.
    plain.call(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    let (app, seen) = recording_app();
    let d = start(&redis.addr(), Some(app.port));

    let r = get(d.http, "/v1.0/configuration/configstore/subscribe");
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let flags = match plain.call(&["CONFIG", "GET", "notify-keyspace-events"]) {
        redis_protocol::resp2::types::BytesFrame::Array(v) => services::text(&v[1]),
        other => panic!("{other:?}"),
    };
    let flags: BTreeSet<char> = flags.chars().collect();
    assert!(
        ['E', 'x', 'K', 'g', '$', 'e']
            .iter()
            .all(|f| flags.contains(f)),
        "{flags:?}"
    );

    plain.call(&["SET", "anykey", "1"]);
    let post = wait_post(&seen, "/configuration/configstore/anykey");
    let v: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(v["id"], id.as_str());
    // A non-string key (a state store's hash, say) is not reported as a deletion.
    plain.call(&["HSET", "ahash", "f", "v"]);
    plain.call(&["EXPIRE", "ahash", "100"]);
    assert!(no_post(
        &seen,
        "/configuration/configstore/ahash",
        Duration::from_millis(300)
    ));

    // Redis goes away: reads fail cleanly.
    redis.kill();
    let r = get(d.http, "/v1.0/configuration/configstore?key=anykey");
    assert_eq!(r.status, 500, "{}", r.text());
    let v = r.json();
    assert_eq!(v["errorCode"], "ERR_CONFIGURATION_GET");
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.starts_with("failed to get [anykey] from Configuration store configstore: ")
            && msg.contains("unreachable"),
        "{msg}"
    );
    // It comes back (empty, notifications off): reads work and the
    // subscription resumes by itself.
    redis.restart();
    let mut plain = Plain::connect(&redis.addr());
    let deadline = Instant::now() + WAIT + WAIT;
    let mut n = 0;
    loop {
        n += 1;
        let value = format!("v{n}");
        plain.call(&["SET", "anykey", &value]);
        std::thread::sleep(Duration::from_millis(200));
        let got = seen
            .lock()
            .unwrap()
            .iter()
            .any(|s| String::from_utf8_lossy(&s.body).contains(&format!("\"{value}\"")));
        if got {
            break;
        }
        assert!(Instant::now() < deadline, "the subscription never resumed");
    }
    assert_eq!(
        get(d.http, "/v1.0/configuration/configstore?key=anykey").json()["anykey"]["value"],
        format!("v{n}")
    );
    let r = get(
        d.http,
        &format!("/v1.0/configuration/configstore/{id}/unsubscribe"),
    );
    assert_eq!(r.text(), "{\"ok\":true}\n");
}

#[test]
fn shutdown_ends_open_subscriptions() {
    if !services::redis("shutdown_ends_open_subscriptions") {
        return;
    }
    let key = format!("{}-k", services::unique_app_id("cfgdown"));
    let channel = format!("__keyspace@0__:{key}");
    let (app, _seen) = recording_app();
    let mut d = start(services::REDIS, Some(app.port));
    let addr = d.grpc();
    let mut plain = Plain::connect(services::REDIS);
    let r = get(
        d.http,
        &format!("/v1.0/configuration/configstore/subscribe?key={key}"),
    );
    assert_eq!(r.status, 200);
    // A gRPC client that keeps reading (and answering HTTP/2 pings) meanwhile.
    let (opened_tx, opened) = std::sync::mpsc::channel();
    let k = key.clone();
    let client = std::thread::spawn(move || {
        crate::grpc::rt().block_on(async {
            let mut raw = DaprClient::connect(format!("http://{addr}")).await.unwrap();
            let mut s = raw
                .subscribe_configuration(sdk::SubscribeConfigurationRequest {
                    store_name: "configstore".into(),
                    keys: vec![k],
                    metadata: HashMap::new(),
                })
                .await
                .unwrap()
                .into_inner();
            s.message().await.unwrap().unwrap();
            opened_tx.send(()).unwrap();
            tokio::time::timeout(WAIT, s.message()).await
        })
    });
    opened.recv_timeout(WAIT).unwrap();
    wait_subscribers(&mut plain, &channel, 2);

    // The drain does not wait for long-lived subscriptions.
    let started = Instant::now();
    d.stop();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let end = client.join().unwrap();
    match end {
        Ok(Err(e)) => assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}"),
        other => panic!("the stream did not end with UNAVAILABLE: {other:?}"),
    }
    wait_subscribers(&mut plain, &channel, 0);
}
