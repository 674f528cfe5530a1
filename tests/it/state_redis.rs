//! `state.redis` beyond the shared state tests: Go Dapr's data layout seen
//! with a plain Redis client, the official SDK over gRPC, and a Redis that
//! dies under load and comes back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::services::{self, Plain, RedisServer};

fn start(redis: &str, app: &str, driver: daprd::runtime::Driver) -> InProc {
    let dir = services::component_dir(
        "state.redis",
        &[("redisHost", redis), ("readTimeout", "2s")],
    );
    let dir = dir.display().to_string();
    InProc::start(&["--resources-path", &dir, "--app-id", app], driver, None)
}

#[test]
fn go_layout_both_ways() {
    if !services::redis("go_layout_both_ways") {
        return;
    }
    let app = services::unique_app_id("layout");
    let d = start(services::REDIS, &app, DRIVERS[1]);
    let mut plain = Plain::connect(services::REDIS);

    // Written through the sidecar: a hash with data (JSON-encoded over
    // HTTP, quotes included) and version.
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[],
        br#"[{"key":"greeting","value":"hello"},{"key":"fw","value":{"n":1},"options":{"concurrency":"first-write"}}]"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let mut h = plain.hgetall(&format!("{app}||greeting"));
    h.sort();
    assert_eq!(
        h,
        [
            ("data".into(), "\"hello\"".into()),
            ("version".into(), "1".into())
        ]
    );
    let mut h = plain.hgetall(&format!("{app}||fw"));
    h.sort();
    assert_eq!(
        h,
        [
            ("data".into(), r#"{"n":1}"#.into()),
            ("first-write".into(), "0".into()),
            ("version".into(), "1".into())
        ]
    );
    // A value is stored as Go's json.Marshal writes it.
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[],
        br#"[{"key":"spaced","value":{"b": 1.0, "a": [1, 2]}}]"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let mut h = plain.hgetall(&format!("{app}||spaced"));
    h.sort();
    assert_eq!(
        h,
        [
            ("data".into(), r#"{"a":[1,2],"b":1}"#.into()),
            ("version".into(), "1".into())
        ]
    );

    // Written in Go's layout by someone else: read back with its version.
    plain.call(&[
        "HSET",
        &format!("{app}||fromgo"),
        "data",
        r#"{"a":[1,2]}"#,
        "version",
        "7",
    ]);
    let r = get(d.http, "/v1.0/state/statestore/fromgo");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some("7"));
    assert_eq!(r.json(), serde_json::json!({"a":[1,2]}));
    // ... and its ETag is honoured by the next write.
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[],
        br#"[{"key":"fromgo","value":2,"etag":"7"}]"#,
    );
    assert_eq!(r.status, 204);
    assert!(plain
        .hgetall(&format!("{app}||fromgo"))
        .contains(&("version".into(), "8".into())));
    // An old plain string key reads through Go's GET fallback.
    plain.call(&["SET", &format!("{app}||legacy"), "raw"]);
    assert_eq!(get(d.http, "/v1.0/state/statestore/legacy").text(), "raw");

    // TTL: EXPIRE on write, PERSIST on -1.
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[],
        br#"[{"key":"ttl","value":1,"metadata":{"ttlInSeconds":"100"}}]"#,
    );
    assert_eq!(r.status, 204);
    let ttl: i64 = services::text(&plain.call(&["TTL", &format!("{app}||ttl")]))
        .parse()
        .unwrap();
    assert!((90..=100).contains(&ttl), "{ttl}");
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[],
        br#"[{"key":"ttl","value":1,"metadata":{"ttlInSeconds":"-1"}}]"#,
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        services::text(&plain.call(&["TTL", &format!("{app}||ttl")])),
        "-1"
    );

    // A transaction over a wrong-type key and a stale ETag writes nothing.
    plain.call(&["LPUSH", &format!("{app}||list"), "x"]);
    let tx = br#"{"operations":[{"operation":"upsert","request":{"key":"list","value":1}},{"operation":"upsert","request":{"key":"greeting","value":2,"etag":"5"}}]}"#;
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore/transaction",
        &[],
        tx,
    );
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(
        services::text(&plain.call(&["TYPE", &format!("{app}||list")])),
        "list"
    );
    // The same without the stale ETag replaces the list, as Go's script does.
    let tx = br#"{"operations":[{"operation":"upsert","request":{"key":"list","value":1}},{"operation":"upsert","request":{"key":"greeting","value":2,"etag":"1"}}]}"#;
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore/transaction",
        &[],
        tx,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(get(d.http, "/v1.0/state/statestore/list").text(), "1");
    assert_eq!(
        get(d.http, "/v1.0/state/statestore/greeting").header("etag"),
        Some("2")
    );
    // Scripts flushed behind our back are sent again.
    plain.call(&["SCRIPT", "FLUSH"]);
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[],
        br#"[{"key":"greeting","value":3}]"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
}

#[test]
fn official_sdk_state_on_redis() {
    if !services::redis("official_sdk_state_on_redis") {
        return;
    }
    let dir = services::component_dir("state.redis", &[("redisHost", services::REDIS)]);
    let app = services::unique_app_id("sdk");
    let grpc = free_port();
    let d = Daprd::start(&[
        "--resources-path",
        &dir.display().to_string(),
        "--app-id",
        &app,
        "--dapr-grpc-port",
        &grpc.to_string(),
    ]);
    let addr = SocketAddr::from(([127, 0, 0, 1], grpc));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{addr}"),
        )
        .await
        .unwrap();
        c.save_state("statestore", "k", b"\x00raw".to_vec(), None, None, None)
            .await
            .unwrap();
        let got = c.get_state("statestore", "k", None).await.unwrap();
        assert_eq!(
            (got.data.as_slice(), got.etag.as_str()),
            (&b"\x00raw"[..], "1")
        );
        // gRPC values are stored as the raw bytes sent, in Go's layout.
        let mut h = Plain::connect(services::REDIS).hgetall(&format!("{app}||k"));
        h.sort();
        assert_eq!(
            h,
            [
                ("data".into(), "\0raw".into()),
                ("version".into(), "1".into())
            ]
        );
        let etag = Some(dapr::client::Etag { value: "9".into() });
        let err = c
            .save_state("statestore", "k", b"x".to_vec(), etag, None, None)
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("Aborted"), "{err:?}");
        c.delete_state("statestore", "k", None).await.unwrap();
        assert!(c
            .get_state("statestore", "k", None)
            .await
            .unwrap()
            .data
            .is_empty());
    });
    drop(d);
    assert_eq!(
        Plain::connect(services::REDIS).hgetall(&format!("{app}||k")),
        vec![]
    );
}

#[test]
fn redis_killed_under_load_and_restarted() {
    let Some(mut redis) = RedisServer::start("redis_killed_under_load_and_restarted") else {
        return;
    };
    let d = start(&redis.addr(), "faults", DRIVERS[1]);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load: Vec<_> = (0..4)
        .map(|t| {
            let (addr, stop, ok, failed) = (d.http, stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let body = format!(r#"[{{"key":"k{t}","value":{i}}}]"#);
                    let started = Instant::now();
                    let r = conn.request("POST", "/v1.0/state/statestore", &[], body.as_bytes());
                    // Never a hang: the read timeout (2s) bounds every call.
                    assert!(started.elapsed() < Duration::from_secs(5));
                    match r.status {
                        204 => ok.fetch_add(1, Ordering::Relaxed),
                        500 => {
                            assert_eq!(r.json()["errorCode"], "ERR_STATE_SAVE", "{}", r.text());
                            assert!(r.text().contains("redis at"), "{}", r.text());
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                        s => panic!("unexpected status {s}: {}", r.text()),
                    };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    redis.kill();
    std::thread::sleep(Duration::from_millis(500));
    let (ok_down, failed_down) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    redis.restart();
    // Recovery without a restart of the sidecar.
    let deadline = Instant::now() + WAIT;
    while ok.load(Ordering::Relaxed) < ok_down + 100 {
        assert!(
            Instant::now() < deadline,
            "no recovery after Redis came back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert!(failed_down > 0, "the outage was not noticed");
    let r = get(d.http, "/v1.0/state/statestore/k0");
    assert_eq!(r.status, 200);
    // The error names the cause.
    redis.kill();
    let r = get(d.http, "/v1.0/state/statestore/k0");
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["errorCode"], "ERR_STATE_GET");
    assert!(r.text().contains("unreachable"), "{}", r.text());
}

#[test]
fn unreachable_redis_fails_start_naming_the_component() {
    let Some(mut redis) = RedisServer::start("unreachable_redis_fails_start") else {
        return;
    };
    redis.kill();
    let dir = services::component_dir("state.redis", &[("redisHost", &redis.addr())]);
    let out = failed_start_up("nored", &dir);
    assert!(
        out.contains("statestore") && out.contains("error connecting to redis"),
        "{out}"
    );
}
