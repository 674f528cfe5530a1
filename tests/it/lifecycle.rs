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
