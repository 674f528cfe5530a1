//! `/v1.0/healthz` and `/v1.0/healthz/outbound`.

use std::net::TcpListener;

use crate::harness::*;

#[test]
fn readiness_waits_for_the_app_port() {
    for driver in DRIVERS {
        let app = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let app_port = app.local_addr().unwrap().port();
        drop(app); // nothing listens yet
        let port_s = app_port.to_string();
        let d = InProc::start(&["--app-port", &port_s], driver, None);

        let r = get(d.http, "/v1.0/healthz");
        assert_eq!(r.status, 500, "{driver:?}");
        assert_eq!(r.json()["errorCode"], "ERR_HEALTH_NOT_READY");
        assert_eq!(get(d.http, "/v1.0/healthz/outbound").status, 204);

        let _app = TcpListener::bind(("127.0.0.1", app_port)).unwrap();
        wait_status(d.http, "/v1.0/healthz", 204);
    }
}

#[test]
fn healthz_appid_mismatch() {
    for driver in DRIVERS {
        let d = InProc::start(&[], driver, None);
        assert_eq!(get(d.http, "/v1.0/healthz?appid=inproc").status, 204);
        let r = get(d.http, "/v1.0/healthz?appid=other");
        assert_eq!(r.status, 500);
        assert_eq!(r.json()["errorCode"], "ERR_HEALTH_APPID_NOT_MATCH");
    }
}

#[test]
fn public_port_serves_only_health_and_metadata() {
    let public = free_port().to_string();
    let d = Daprd::start(&[
        "--dapr-public-port",
        &public,
        "--dapr-public-listen-address",
        "127.0.0.1",
    ]);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{public}").parse().unwrap();
    assert_eq!(get(addr, "/v1.0/healthz").status, 204);
    assert_eq!(get(addr, "/v1.0/metadata").status, 200);
    assert_eq!(get(addr, "/v1.0/state/s/k").status, 404);
    assert_eq!(
        request(addr, "POST", "/v1.0/shutdown", &[], b"").status,
        404
    );
    drop(d);
}
