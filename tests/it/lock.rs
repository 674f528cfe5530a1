//! The distributed lock API: `lock.in-memory` across both workers, Go's
//! errors on every route (HTTP and gRPC), `lock.redis` in Go's key layout
//! with two real sidecars contending on one Redis, and the official SDK's
//! generated client (`TryLockAlpha1` / `UnlockAlpha1`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use dapr::dapr::proto::runtime::v1 as sdk;
use sdk::dapr_client::DaprClient;

use crate::harness::*;
use crate::services::{self, Plain};

/// One Component: name, type, metadata items.
pub(crate) type ComponentDoc<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// A fresh resources directory holding one Component per `(name, type,
/// metadata)`.
pub(crate) fn components_dir(list: &[ComponentDoc<'_>]) -> PathBuf {
    let dir = std::env::temp_dir().join(services::unique_app_id("daprd-lockcfg"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut docs = Vec::new();
    for (name, kind, metadata) in list {
        let mut y = format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: {kind}\n  version: v1\n  metadata:"
        );
        if metadata.is_empty() {
            y.push_str(" []");
        }
        y.push('\n');
        for (k, v) in metadata.iter() {
            y.push_str(&format!("  - name: {k}\n    value: \"{v}\"\n"));
        }
        docs.push(y);
    }
    std::fs::write(dir.join("components.yaml"), docs.join("---\n")).unwrap();
    dir
}

pub(crate) fn assert_error(r: &HttpResponse, status: u16, code: &str, message: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["errorCode"], code, "{v}");
    assert_eq!(v["message"], message, "{v}");
    assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
}

fn lock(addr: SocketAddr, store: &str, body: &str) -> HttpResponse {
    request(
        addr,
        "POST",
        &format!("/v1.0-alpha1/lock/{store}"),
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

fn unlock(addr: SocketAddr, store: &str, body: &str) -> HttpResponse {
    request(
        addr,
        "POST",
        &format!("/v1.0-alpha1/unlock/{store}"),
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

fn take(addr: SocketAddr, store: &str, res: &str, owner: &str, secs: i32) -> bool {
    let r = lock(
        addr,
        store,
        &format!(r#"{{"resourceId":"{res}","lockOwner":"{owner}","expiryInSeconds":{secs}}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    match r.text().as_str() {
        r#"{"success":true}"# => true,
        r#"{"success":false}"# => false,
        other => panic!("unexpected body {other}"),
    }
}

fn release(addr: SocketAddr, store: &str, res: &str, owner: &str) -> i64 {
    let r = unlock(
        addr,
        store,
        &format!(r#"{{"resourceId":"{res}","lockOwner":"{owner}"}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    v["status"].as_i64().unwrap()
}

/// `n` owners race for `res` at once, each on its own connection (so on
/// either worker, or either sidecar of `addrs`); returns the winners.
fn race(addrs: &[SocketAddr], store: &str, res: &str, n: usize) -> Vec<String> {
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, addr) = (barrier.clone(), addrs[i % addrs.len()]);
            let (store, res) = (store.to_owned(), res.to_owned());
            std::thread::spawn(move || {
                let owner = format!("owner-{i}");
                barrier.wait();
                take(addr, &store, &res, &owner, 30).then_some(owner)
            })
        })
        .collect();
    threads
        .into_iter()
        .filter_map(|t| t.join().unwrap())
        .collect()
}

fn worker_requests(d: &InProc) -> Vec<u64> {
    let text = get(d.metrics(), "/metrics").text();
    text.lines()
        .filter(|l| l.starts_with("daprd_worker_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn in_memory_lock_is_one_lock_across_workers() {
    for driver in DRIVERS {
        let dir = components_dir(&[("memlock", "lock.in-memory", &[])]);
        let dir = dir.display().to_string();
        let d = InProc::start(&["--resources-path", &dir], driver, None);

        let winners = race(&[d.http], "memlock", "res", 24);
        assert_eq!(winners.len(), 1, "{winners:?}");
        let owner = &winners[0];
        // Both workers served the race: the lock is shared, not per core.
        let per_worker = worker_requests(&d);
        assert_eq!(per_worker.len(), 2, "{per_worker:?}");
        assert!(per_worker.iter().all(|&n| n > 0), "{per_worker:?}");

        // The winner cannot take it twice either (Redis `SET NX` refuses too).
        assert!(!take(d.http, "memlock", "res", owner, 30));
        assert_eq!(release(d.http, "memlock", "res", "someone-else"), 2);
        assert_eq!(release(d.http, "memlock", "res", owner), 0);
        assert_eq!(release(d.http, "memlock", "res", owner), 1);
        assert_eq!(release(d.http, "memlock", "never", owner), 1);

        // Expiry frees the lock for another owner; the first can no longer unlock.
        assert!(take(d.http, "memlock", "short", "a", 1));
        assert!(!take(d.http, "memlock", "short", "b", 1));
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(release(d.http, "memlock", "short", "a"), 1);
        assert!(take(d.http, "memlock", "short", "b", 1));

        // Protojson reading: proto names, a numeric string, unknown fields.
        let r = lock(
            d.http,
            "memlock",
            r#"{"resource_id":"pj","lock_owner":"o","expiry_in_seconds":"5","extra":[1]}"#,
        );
        assert_eq!(r.text(), r#"{"success":true}"#);
        assert_eq!(release(d.http, "memlock", "pj", "o"), 0);
    }
}

#[test]
fn bad_lock_requests_get_gos_errors_and_change_nothing() {
    let dir = components_dir(&[("memlock", "lock.in-memory", &[])]);
    let dir = dir.display().to_string();
    let d = InProc::start(&["--resources-path", &dir], DRIVERS[1], None);
    assert!(take(d.http, "memlock", "held", "owner", 60));

    let cases: &[(&str, &str, u16, &str, &str)] = &[
        (
            "memlock",
            r#"{"resourceId":"held","lockOwner":"x","expiryInSeconds":0}"#,
            400,
            "ERR_MALFORMED_REQUEST",
            "ExpiryInSeconds is not positive in lock store memlock",
        ),
        (
            "memlock",
            r#"{"resourceId":"held","lockOwner":"x","expiryInSeconds":-5}"#,
            400,
            "ERR_MALFORMED_REQUEST",
            "ExpiryInSeconds is not positive in lock store memlock",
        ),
        // An empty body is an empty message: the expiry check comes first.
        (
            "memlock",
            "",
            400,
            "ERR_MALFORMED_REQUEST",
            "ExpiryInSeconds is not positive in lock store memlock",
        ),
        (
            "memlock",
            r#"{"lockOwner":"x","expiryInSeconds":5}"#,
            400,
            "ERR_MALFORMED_REQUEST",
            "ResourceId is empty in lock store memlock",
        ),
        (
            "memlock",
            r#"{"resourceId":"held","expiryInSeconds":5}"#,
            400,
            "ERR_MALFORMED_REQUEST",
            "LockOwner is empty in lock store memlock",
        ),
        (
            "nope",
            r#"{"resourceId":"held","lockOwner":"x","expiryInSeconds":5}"#,
            400,
            "ERR_LOCK_STORE_NOT_FOUND",
            "lock store nope not found",
        ),
        (
            "memlock",
            r#"{"resourceId":"a||b","lockOwner":"x","expiryInSeconds":5}"#,
            500,
            "ERR_TRY_LOCK",
            "failed to try acquiring lock: input key/keyPrefix 'a||b' can't contain '||'",
        ),
    ];
    for (store, body, status, code, message) in cases {
        assert_error(&lock(d.http, store, body), *status, code, message);
    }
    for body in [
        "{not json",
        "[1,2]",
        r#"{"resourceId":1}"#,
        r#"{"expiryInSeconds":"soon"}"#,
    ] {
        let r = lock(d.http, "memlock", body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.json()["errorCode"], "ERR_MALFORMED_REQUEST");
        assert!(r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("failed deserializing HTTP body: "));
    }

    let cases: &[(&str, &str, u16, &str, &str)] = &[
        (
            "memlock",
            r#"{"lockOwner":"owner"}"#,
            400,
            "ERR_MALFORMED_REQUEST",
            "ResourceId is empty in lock store memlock",
        ),
        (
            "memlock",
            r#"{"resourceId":"held"}"#,
            400,
            "ERR_MALFORMED_REQUEST",
            "LockOwner is empty in lock store memlock",
        ),
        (
            "nope",
            r#"{"resourceId":"held","lockOwner":"owner"}"#,
            400,
            "ERR_LOCK_STORE_NOT_FOUND",
            "lock store nope not found",
        ),
        (
            "memlock",
            r#"{"resourceId":"he||ld","lockOwner":"owner"}"#,
            500,
            "ERR_UNLOCK",
            "failed to release lock: input key/keyPrefix 'he||ld' can't contain '||'",
        ),
    ];
    for (store, body, status, code, message) in cases {
        assert_error(&unlock(d.http, store, body), *status, code, message);
    }
    let r = unlock(d.http, "memlock", "{");
    assert_eq!(r.json()["errorCode"], "ERR_MALFORMED_REQUEST");

    // Nothing above touched the lock.
    assert!(!take(d.http, "memlock", "held", "x", 5));
    assert_eq!(release(d.http, "memlock", "held", "owner"), 0);

    // The same over gRPC: Go's codes and messages, without details.
    let grpc = d.grpc();
    crate::grpc::rt().block_on(async {
        let mut c = DaprClient::connect(format!("http://{grpc}")).await.unwrap();
        let try_lock = |store: &str, res: &str, owner: &str, secs: i32| sdk::TryLockRequest {
            store_name: store.into(),
            resource_id: res.into(),
            lock_owner: owner.into(),
            expiry_in_seconds: secs,
        };
        for (req, code, message) in [
            (
                try_lock("memlock", "r", "o", 0),
                tonic::Code::InvalidArgument,
                "ExpiryInSeconds is not positive in lock store memlock",
            ),
            (
                try_lock("memlock", "", "o", 5),
                tonic::Code::InvalidArgument,
                "ResourceId is empty in lock store memlock",
            ),
            (
                try_lock("memlock", "r", "", 5),
                tonic::Code::InvalidArgument,
                "LockOwner is empty in lock store memlock",
            ),
            (
                try_lock("nope", "r", "o", 5),
                tonic::Code::InvalidArgument,
                "lock store nope not found",
            ),
            (
                try_lock("memlock", "r||", "o", 5),
                tonic::Code::Internal,
                "failed to try acquiring lock: input key/keyPrefix 'r||' can't contain '||'",
            ),
        ] {
            let e = c.try_lock_alpha1(req).await.unwrap_err();
            assert_eq!((e.code(), e.message()), (code, message));
            assert!(e.details().is_empty());
        }
        let e = c
            .unlock_alpha1(sdk::UnlockRequest {
                store_name: "nope".into(),
                resource_id: "r".into(),
                lock_owner: "o".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (tonic::Code::InvalidArgument, "lock store nope not found")
        );
    });
}

#[test]
fn without_lock_stores_the_api_is_not_configured() {
    let d = InProc::start(&[], DRIVERS[0], None);
    // Go checks the expiry before anything else.
    assert_error(
        &lock(d.http, "any", r#"{"resourceId":"r","lockOwner":"o"}"#),
        400,
        "ERR_MALFORMED_REQUEST",
        "ExpiryInSeconds is not positive in lock store any",
    );
    assert_error(
        &lock(
            d.http,
            "any",
            r#"{"resourceId":"r","lockOwner":"o","expiryInSeconds":5}"#,
        ),
        500,
        "ERR_LOCK_STORE_NOT_CONFIGURED",
        "lock store is not configured",
    );
    assert_error(
        &unlock(d.http, "any", r#"{}"#),
        500,
        "ERR_LOCK_STORE_NOT_CONFIGURED",
        "lock store is not configured",
    );
    let grpc = d.grpc();
    crate::grpc::rt().block_on(async {
        let mut c = DaprClient::connect(format!("http://{grpc}")).await.unwrap();
        let e = c
            .unlock_alpha1(sdk::UnlockRequest {
                store_name: "any".into(),
                resource_id: "r".into(),
                lock_owner: "o".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (
                tonic::Code::FailedPrecondition,
                "lock store is not configured"
            )
        );
    });
}

#[test]
fn redis_lock_two_sidecars_contend_in_gos_layout() {
    if !services::redis("redis_lock_two_sidecars_contend_in_gos_layout") {
        return;
    }
    let app = services::unique_app_id("locker");
    let dir = components_dir(&[("lockstore", "lock.redis", &[("redisHost", services::REDIS)])]);
    let dir = dir.display().to_string();
    let args = ["--resources-path", &dir, "--app-id", &app];
    let (a, grpc) = crate::grpc::start_with_grpc(&args, &[]);
    let b = Daprd::start(&args);
    let mut plain = Plain::connect(services::REDIS);

    // Many owners on two sidecars at once: exactly one wins.
    let winners = race(&[a.http, b.http], "lockstore", "order-1", 16);
    assert_eq!(winners.len(), 1, "{winners:?}");
    let owner = winners[0].clone();
    // Go's layout: `lock||<appid>||<resourceId>` holding the owner, with a TTL.
    let key = format!("lock||{app}||order-1");
    assert_eq!(services::text(&plain.call(&["GET", &key])), owner);
    let ttl: i64 = services::text(&plain.call(&["TTL", &key])).parse().unwrap();
    assert!((25..=30).contains(&ttl), "{ttl}");
    // A non-owner on either sidecar: status 2, and the lock stays.
    assert_eq!(release(b.http, "lockstore", "order-1", "intruder"), 2);
    assert_eq!(release(a.http, "lockstore", "order-1", "intruder"), 2);
    assert!(!take(b.http, "lockstore", "order-1", "intruder", 5));
    // The owner releases it through either sidecar.
    assert_eq!(release(b.http, "lockstore", "order-1", &owner), 0);
    assert_eq!(release(a.http, "lockstore", "order-1", &owner), 1);
    assert_eq!(
        plain.call(&["EXISTS", &key]),
        redis_protocol::resp2::types::BytesFrame::Integer(0)
    );

    // Expiry frees it.
    assert!(take(a.http, "lockstore", "short", "first", 1));
    assert!(!take(b.http, "lockstore", "short", "second", 1));
    let deadline = Instant::now() + WAIT;
    while !take(b.http, "lockstore", "short", "second", 1) {
        assert!(Instant::now() < deadline, "the lock never expired");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A lock taken by a Go sidecar (or anyone writing Go's layout) is honoured.
    let go_key = format!("lock||{app}||from-go");
    plain.call(&["SET", &go_key, "go-owner", "NX", "EX", "30"]);
    assert!(!take(a.http, "lockstore", "from-go", "rust", 5));
    assert_eq!(release(a.http, "lockstore", "from-go", "rust"), 2);
    assert_eq!(release(b.http, "lockstore", "from-go", "go-owner"), 0);

    // The official SDK's generated client (TryLockAlpha1 / UnlockAlpha1).
    crate::grpc::rt().block_on(async {
        let mut c = DaprClient::connect(format!("http://{grpc}")).await.unwrap();
        let req = |owner: &str| sdk::TryLockRequest {
            store_name: "lockstore".into(),
            resource_id: "sdk".into(),
            lock_owner: owner.into(),
            expiry_in_seconds: 30,
        };
        assert!(
            c.try_lock_alpha1(req("x"))
                .await
                .unwrap()
                .into_inner()
                .success
        );
        assert!(
            !c.try_lock_alpha1(req("y"))
                .await
                .unwrap()
                .into_inner()
                .success
        );
        let unlock = |owner: &str| sdk::UnlockRequest {
            store_name: "lockstore".into(),
            resource_id: "sdk".into(),
            lock_owner: owner.into(),
        };
        use sdk::unlock_response::Status;
        let s = c.unlock_alpha1(unlock("y")).await.unwrap().into_inner();
        assert_eq!(s.status(), Status::LockBelongsToOthers);
        let s = c.unlock_alpha1(unlock("x")).await.unwrap().into_inner();
        assert_eq!(s.status(), Status::Success);
        let s = c.unlock_alpha1(unlock("x")).await.unwrap().into_inner();
        assert_eq!(s.status(), Status::LockDoesNotExist);
    });
    // The metadata API lists the store (lock stores have no capabilities, as in Go).
    let md = get(a.http, "/v1.0/metadata").json();
    let c = md["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "lockstore")
        .unwrap()
        .clone();
    assert_eq!(c["type"], "lock.redis");
    assert_eq!(c["version"], "v1");
    assert!(c
        .get("capabilities")
        .is_none_or(|v| v.as_array().is_some_and(Vec::is_empty)));
}

#[test]
fn redis_lock_refuses_bad_components_and_reports_outages() {
    if !services::redis("redis_lock_refuses_bad_components_and_reports_outages") {
        return;
    }
    // A keyPrefix with the separator fails start-up, as Go's init does.
    let dir = components_dir(&[(
        "lockstore",
        "lock.redis",
        &[("redisHost", services::REDIS), ("keyPrefix", "a||b")],
    )]);
    let (code, out) = run_to_exit(&[
        "--app-id",
        "x",
        "--resources-path",
        &dir.display().to_string(),
    ]);
    assert_ne!(code, 0);
    assert!(out.contains("lock keyprefix"), "{out}");

    // keyPrefix `name`: `lock||<store>||<id>`.
    let Some(mut redis) = services::RedisServer::start("redis_lock_outage") else {
        return;
    };
    let dir = components_dir(&[(
        "named",
        "lock.redis",
        &[("redisHost", &redis.addr()), ("keyPrefix", "name")],
    )]);
    let dir = dir.display().to_string();
    let d = InProc::start(&["--resources-path", &dir], DRIVERS[1], None);
    assert!(take(d.http, "named", "r", "o", 30));
    let mut plain = Plain::connect(&redis.addr());
    assert_eq!(services::text(&plain.call(&["GET", "lock||named||r"])), "o");

    // Redis gone: a clean ERR_TRY_LOCK / ERR_UNLOCK naming Redis; back: works again.
    redis.kill();
    let r = lock(
        d.http,
        "named",
        r#"{"resourceId":"r2","lockOwner":"o","expiryInSeconds":5}"#,
    );
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_TRY_LOCK");
    let msg = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with("failed to try acquiring lock: redis at") && msg.contains("unreachable"),
        "{msg}"
    );
    let r = unlock(d.http, "named", r#"{"resourceId":"r2","lockOwner":"o"}"#);
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["errorCode"], "ERR_UNLOCK");
    redis.restart();
    let deadline = Instant::now() + WAIT;
    loop {
        let r = lock(
            d.http,
            "named",
            r#"{"resourceId":"r2","lockOwner":"o","expiryInSeconds":5}"#,
        );
        if r.status == 200 {
            assert_eq!(r.text(), r#"{"success":true}"#);
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {}", r.text());
        std::thread::sleep(Duration::from_millis(100));
    }
}
