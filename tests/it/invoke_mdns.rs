//! Service invocation between sidecars that find each other by multicast
//! DNS, the standalone default (no `--config`): two apps calling each other,
//! an unknown app ID failing within the browse timeout with Go's error, round
//! robin over two instances of one app ID, and a stopped sidecar's goodbye
//! removing it from its peers' caches.
//!
//! Each test runs in a private network namespace of its own (a thread that
//! `unshare`s its network namespace; the sidecars it spawns inherit it)
//! whose loopback has multicast switched on: the mDNS traffic never leaves
//! it, and concurrent tests do not see each other. That needs root (or
//! CAP_SYS_ADMIN) and iproute2's `ip`; without them the tests skip loudly,
//! unless `DAPRD_TEST_MULTICAST=require` (set by `.ci/run`): then they fail.

use std::time::{Duration, Instant};

use crate::app::TestApp;
use crate::harness::*;
use crate::services::unique_app_id;

/// Runs `f` on a thread in a fresh network namespace with `lo` up and
/// multicast-capable; `None` (after a loud skip notice) when this machine
/// cannot make one.
fn in_private_network<T: Send + 'static>(
    test: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let thread = std::thread::spawn(move || {
        let setup = (|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("unshare(CLONE_NEWNET): {e}"))?;
            let out = std::process::Command::new("ip")
                .args(["link", "set", "lo", "up", "multicast", "on"])
                .output()
                .map_err(|e| format!("running `ip`: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "`ip link set lo up multicast on`: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(())
        })();
        let ok = setup.is_ok();
        let _ = ready_tx.send(setup);
        ok.then(f)
    });
    let setup = ready_rx
        .recv()
        .unwrap_or_else(|_| Err("the test thread died".into()));
    let out = match thread.join() {
        Ok(out) => out,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    if let Err(why) = setup {
        let required = std::env::var("DAPRD_TEST_MULTICAST").is_ok_and(|v| v == "require");
        if required {
            panic!("{test}: no private multicast network ({why}) and DAPRD_TEST_MULTICAST=require");
        }
        eprintln!(
            "\n!!!!!!!! SKIPPED {test}: no private multicast network ({why}); needs root and iproute2 (set DAPRD_TEST_MULTICAST=require to fail instead) !!!!!!!!\n"
        );
        return None;
    }
    out
}

/// A sidecar of `app_id` with the default (mDNS) resolver, its internal
/// gRPC server on loopback, calling `app_port` if given.
fn sidecar(app_id: &str, app_port: Option<u16>) -> Daprd {
    let internal = free_port().to_string();
    let app_port = app_port.map(|p| p.to_string());
    let mut flags = vec![
        "--app-id",
        app_id,
        "--dapr-internal-grpc-port",
        &internal,
        "--dapr-internal-grpc-listen-address",
        "127.0.0.1",
    ];
    if let Some(p) = &app_port {
        flags.extend(["--app-port", p.as_str()]);
    }
    Daprd::start(&flags)
}

/// An app answering every request with `name`.
fn named_app(name: &'static str) -> TestApp {
    TestApp::start_with(
        0,
        Some(std::sync::Arc::new(move |_| {
            Some((200, "text/plain".into(), name.as_bytes().to_vec()))
        })),
    )
}

fn invoke(from: &Daprd, id: &str) -> HttpResponse {
    request(
        from.http,
        "POST",
        &format!("/v1.0/invoke/{id}/method/echo"),
        &[("content-type", "text/plain")],
        b"hi",
    )
}

#[test]
fn two_apps_invoke_each_other_and_unknown_ids_fail_within_the_timeout() {
    in_private_network(
        "two_apps_invoke_each_other_and_unknown_ids_fail_within_the_timeout",
        || {
            let (a_id, b_id) = (unique_app_id("ma"), unique_app_id("mb"));
            let (a_app, b_app) = (TestApp::start(), TestApp::start());
            let a = sidecar(&a_id, Some(a_app.port));
            let b = sidecar(&b_id, Some(b_app.port));

            for (from, from_id, to_id) in [(&a, &a_id, &b_id), (&b, &b_id, &a_id)] {
                let r = invoke(from, to_id);
                assert_eq!(r.status, 200, "{from_id} -> {to_id}: {}", r.text());
                let seen = r.text();
                assert!(seen.starts_with("POST /echo\n"), "{seen}");
                assert!(
                    seen.contains(&format!("dapr-caller-app-id: {from_id}")),
                    "{seen}"
                );
                assert!(
                    seen.contains(&format!("dapr-callee-app-id: {to_id}")),
                    "{seen}"
                );
                assert!(seen.ends_with("\n\nhi"), "{seen}");
            }
            // Cached now: answers without another browse.
            let started = Instant::now();
            assert_eq!(invoke(&a, &b_id).status, 200);
            assert!(started.elapsed() < Duration::from_millis(500));
            // Our own app ID resolves locally.
            let r = invoke(&a, &a_id);
            assert_eq!(r.status, 200, "{}", r.text());

            // Nobody answers for an unknown ID: Go's error after the 1 s browse.
            let nobody = unique_app_id("nobody");
            let started = Instant::now();
            let r = invoke(&a, &nobody);
            let took = started.elapsed();
            assert_eq!(r.status, 500, "{}", r.text());
            assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
            assert_eq!(
                r.json()["message"],
                format!("failed to invoke, id: {nobody}, err: couldn't find service: {nobody}")
            );
            assert!(
                took >= Duration::from_millis(900) && took < Duration::from_secs(3),
                "took {took:?}"
            );
        },
    );
}

#[test]
fn round_robin_over_instances_and_goodbye_on_shutdown() {
    in_private_network("round_robin_over_instances_and_goodbye_on_shutdown", || {
        let (a_id, b_id) = (unique_app_id("ma"), unique_app_id("mb"));
        let (one, two) = (named_app("one"), named_app("two"));
        let mut b1 = sidecar(&b_id, Some(one.port));
        let b2 = sidecar(&b_id, Some(two.port));
        let a = sidecar(&a_id, None);

        // The browse hears both instances; calls alternate between them.
        let mut answers = Vec::new();
        let deadline = Instant::now() + WAIT;
        while !(answers.contains(&"one".to_owned()) && answers.contains(&"two".to_owned())) {
            assert!(Instant::now() < deadline, "{answers:?}");
            let r = invoke(&a, &b_id);
            assert_eq!(r.status, 200, "{}", r.text());
            answers.push(r.text());
        }
        let next: Vec<String> = (0..4).map(|_| invoke(&a, &b_id).text()).collect();
        assert_ne!(next[0], next[1], "{next:?}");
        assert_eq!((&next[0], &next[1]), (&next[2], &next[3]), "{next:?}");

        // b1 leaves gracefully: its goodbye drops it from a's cache, so
        // every call reaches b2 (a stale address would fail them).
        b1.signal("TERM");
        assert!(b1.wait_exit().success());
        let deadline = Instant::now() + WAIT;
        loop {
            let texts: Vec<String> = (0..4).map(|_| invoke(&a, &b_id).text()).collect();
            if texts.iter().all(|t| t == "two") {
                break;
            }
            assert!(Instant::now() < deadline, "b1 never left: {texts:?}");
            std::thread::sleep(Duration::from_millis(50));
        }

        // b2 leaves too: nothing is left to find.
        let mut b2 = b2;
        b2.signal("TERM");
        assert!(b2.wait_exit().success());
        let deadline = Instant::now() + WAIT;
        loop {
            let r = invoke(&a, &b_id);
            assert_eq!(r.status, 500, "{}", r.text());
            let msg = r.json()["message"].as_str().unwrap_or_default().to_owned();
            if msg.ends_with(&format!("couldn't find service: {b_id}")) {
                break;
            }
            assert!(Instant::now() < deadline, "b2 never left: {msg}");
        }
    });
}
