//! Shutdown: signals, the shutdown API, draining.

use std::time::{Duration, Instant};

use crate::harness::*;

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let mut d = Daprd::start(&[]);
    let mut c = Conn::open(d.http);
    // Half a request: head and part of the body.
    c.send_raw(b"PUT /v1.0/metadata/k HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n12345");
    std::thread::sleep(Duration::from_millis(100));
    d.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    c.send_raw(b"67890");
    let r = c.read_response(false);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("connection"), Some("close"));
    let status = d.wait_exit();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigint_exits_0() {
    let mut d = Daprd::start(&[]);
    d.signal("INT");
    assert_eq!(d.wait_exit().code(), Some(0));
}

#[test]
fn shutdown_api_answers_204_then_exits_0() {
    let mut d = Daprd::start(&[]);
    let r = request(d.http, "POST", "/v1.0/shutdown", &[], b"");
    assert_eq!(r.status, 204);
    assert_eq!(d.wait_exit().code(), Some(0));
}

#[test]
fn idle_connections_are_closed_promptly_on_shutdown() {
    for driver in DRIVERS {
        let mut d = InProc::start(&["--dapr-graceful-shutdown-seconds", "30"], driver, None);
        let mut idle = Conn::open(d.http);
        assert_eq!(idle.request("GET", "/v1.0/healthz", &[], b"").status, 204);
        let t = Instant::now();
        d.stop();
        assert!(idle.is_closed_by_peer());
        // Idle connections do not hold the drain for the grace period.
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
}

#[test]
fn block_shutdown_duration_delays_exit() {
    let mut d = Daprd::start(&["--dapr-block-shutdown-duration", "700ms"]);
    let t = Instant::now();
    d.signal("TERM");
    // Still serving while blocked.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(get(d.http, "/v1.0/healthz").status, 204);
    assert_eq!(d.wait_exit().code(), Some(0));
    assert!(t.elapsed() >= Duration::from_millis(700));
}

/// A daprd restarted on the same ports right after the previous one exited
/// starts (as Go's does): the old listeners stop listening when the drain
/// starts, so no accept still in flight in an io_uring ring keeps a port busy
/// after exit. Failed about one restart in two before.
#[test]
fn restart_on_the_same_ports_right_after_exit() {
    let (http, grpc, internal, metrics) = (free_port(), free_port(), free_port(), free_port());
    let ports = [
        "--dapr-http-port".to_string(),
        http.to_string(),
        "--dapr-grpc-port".into(),
        grpc.to_string(),
        "--dapr-internal-grpc-port".into(),
        internal.to_string(),
        "--metrics-port".into(),
        metrics.to_string(),
    ];
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], http));
    for round in 0..6 {
        let mut child = std::process::Command::new(daprd_bin())
            .args([
                "--app-id",
                "restarts",
                "--dapr-listen-addresses",
                "127.0.0.1",
            ])
            .args(["--metrics-listen-address", "127.0.0.1"])
            .args(&ports)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn daprd");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("round {round}: daprd exited at start-up ({status}): {err}");
            }
            if let Ok(s) = std::net::TcpStream::connect(addr) {
                let mut c = Conn::from_stream(s);
                c.send_raw(b"GET /v1.0/healthz/outbound HTTP/1.1\r\nhost: x\r\n\r\n");
                if c.try_read_response(true).is_ok_and(|r| r.status == 204) {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "round {round}: never ready");
            std::thread::sleep(Duration::from_millis(10));
        }
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok);
        assert_eq!(child.wait().expect("wait").code(), Some(0), "round {round}");
    }
}

/// At start-up's milestones (every worker serving; the app initialized), the
/// code pages start-up touched are unmapped (`src/runtime/memory.rs`): the
/// RSS falls to a fraction of start-up's, and the code the sidecar runs
/// afterwards faults back in from the page cache and works.
#[test]
fn start_up_code_pages_are_released_once_serving() {
    let app = crate::app::TestApp::start();
    let res = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/resources");
    let res = res.to_str().expect("a UTF-8 path");
    let port = app.port.to_string();
    let (mut d, logs) = Daprd::start_with_logs(&[
        "--log-level",
        "debug",
        "--resources-path",
        res,
        "--app-port",
        &port,
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut released = Vec::new();
    while released.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = logs
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("two releases logged, saw {released:?}"));
        let Some(rest) = line.split("start-up code pages released (").nth(1) else {
            continue;
        };
        // "<milestone>): RSS <before> KiB -> <after> KiB", then other fields.
        let (milestone, figures) = rest.split_once("): RSS ").expect("the log's wording");
        let kib: Vec<u64> = figures
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .take(2)
            .collect();
        released.push((milestone.to_owned(), kib));
    }
    // Either may come first: worker 0 can initialize the app before the
    // last worker reports in.
    let mut milestones: Vec<&str> = released.iter().map(|(m, _)| m.as_str()).collect();
    milestones.sort_unstable();
    assert_eq!(milestones, ["app initialized", "outbound ready"]);
    // Each release drops what start-up left resident. On a busy machine
    // the first can overlap the app's initialization on worker 0, which
    // faults code back in while it is measured (25 -> 15 MB seen in one CI
    // run, 24 -> 4-7 MB otherwise), so the lowest figure after a release is
    // compared with the highest before one: without releases neither falls.
    for (_, kib) in &released {
        assert_eq!(kib.len(), 2, "two RSS figures expected: {released:?}");
    }
    let before = released.iter().map(|(_, k)| k[0]).max().unwrap_or(0);
    let after = released.iter().map(|(_, k)| k[1]).min().unwrap_or(0);
    assert!(
        after * 2 < before,
        "RSS {before} KiB -> {after} KiB: less than half should remain ({released:?})"
    );
    // Code that ran at start-up runs again: every API still answers.
    assert_eq!(get(d.http, "/v1.0/metadata").status, 200);
    let saved = request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[("content-type", "application/json")],
        br#"[{"key":"k","value":"after release"}]"#,
    );
    assert_eq!(saved.status, 204);
    let got = get(d.http, "/v1.0/state/statestore/k");
    assert_eq!(got.text(), r#""after release""#);
    let invoked = request(
        d.http,
        "POST",
        "/v1.0/invoke/testapp/method/echo",
        &[],
        b"hi",
    );
    assert_eq!(invoked.status, 200);
    d.signal("TERM");
    assert_eq!(d.wait_exit().code(), Some(0));
}

/// The derived ("stable random") internal gRPC port taken, here on its IPv6
/// side only (so a check on 127.0.0.1 alone would call it free): the sidecar
/// starts on another free port instead of failing. (Two sidecars of one app
/// id starting together hit this; it failed a CI run.)
#[test]
fn derived_internal_port_taken_falls_back_to_a_free_port() {
    use socket2::{Domain, Socket, Type};
    let app_id = "port-race";
    let port = daprd::net::ports::derived_port(daprd::net::ports::STABLE_PORT_START, app_id)
        .expect("a derived port");
    let holder = Socket::new(Domain::IPV6, Type::STREAM, None).expect("socket");
    holder.set_only_v6(true).expect("IPV6_V6ONLY");
    let v6 = std::net::SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port));
    if let Err(e) = holder.bind(&v6.into()).and_then(|()| holder.listen(1)) {
        eprintln!("SKIPPED: cannot hold [::]:{port} for the test: {e}");
        return;
    }
    let d = InProc::start(&["--app-id", app_id], DRIVERS[0], None);
    let handle = d.handle.as_ref().expect("running");
    let internal = handle.internal_grpc_port();
    assert_ne!(internal, port, "the taken port is not used");
    assert_ne!(internal, 0);
    assert!(std::net::TcpStream::connect(("127.0.0.1", internal)).is_ok());
}
