//! App channel client metrics, as Go's: every call the sidecar makes to its
//! app is counted in `dapr_http_client_*` (HTTP and h2c apps) or
//! `dapr_grpc_io_client_*` (gRPC apps); health probes in their own
//! `*_healthprobes_*` families, never as client calls. Transparent-proxy
//! calls are metered as Go's stream interceptors do.

use std::time::{Duration, Instant};

use crate::app::TestApp;
use crate::harness::*;
use crate::metrics::{assert_exposition_format, sum_samples};

fn scrape(d: &InProc) -> String {
    let r = get(d.metrics(), "/metrics");
    assert_eq!(r.status, 200);
    r.text()
}

/// How much `name` (summed over series with every `want` label) grew.
fn grew(before: &str, after: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    sum_samples(after, name, want) - sum_samples(before, name, want)
}

/// Scrapes until `name` with `want` is at least `min` (probes run on their own clock).
fn wait_for(d: &InProc, name: &str, want: &[(&str, &str)], min: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(d);
        if sum_samples(&text, name, want) >= min {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{name} {want:?} never reached {min}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn http_app_calls_are_counted_per_call() {
    let app = TestApp::start();
    let port = app.port.to_string();
    let d = InProc::start(
        &[
            "--app-id",
            "mclient",
            "--app-port",
            &port,
            "--enable-app-health-check",
            "--app-health-check-path",
            "/status/200",
            "--app-health-probe-interval",
            "1",
        ],
        daprd::runtime::Driver::Auto,
        None,
    );
    wait_status(d.http, "/v1.0/healthz", 204);
    // The first probe makes the app healthy; invocations wait for that.
    wait_for(
        &d,
        "dapr_http_healthprobes_completed_count",
        &[("app_id", "mclient"), ("status", "200")],
        1.0,
    );
    let before = scrape(&d);
    let mut received = 0;
    for _ in 0..5 {
        let r = request(
            d.http,
            "POST",
            "/v1.0/invoke/mclient/method/echo?x=1",
            &[],
            b"hello",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        received += r.body.len();
    }
    for _ in 0..2 {
        let r = get(d.http, "/v1.0/invoke/mclient/method/status/404");
        assert_eq!(r.status, 404);
        received += r.body.len();
    }
    let after = scrape(&d);
    assert_exposition_format(&after);

    let echo = [
        ("app_id", "mclient"),
        ("method", "POST"),
        ("path", "/echo"),
        ("status", "200"),
    ];
    let calls = grew(&before, &after, "dapr_http_client_completed_count", &echo);
    assert_eq!(calls, 5.0, "{after}");
    let latency = grew(
        &before,
        &after,
        "dapr_http_client_roundtrip_latency_count",
        &echo,
    );
    assert_eq!(latency, 5.0);
    let missing = [
        ("app_id", "mclient"),
        ("method", "GET"),
        ("path", "/status/404"),
        ("status", "404"),
    ];
    let calls = grew(
        &before,
        &after,
        "dapr_http_client_completed_count",
        &missing,
    );
    assert_eq!(calls, 2.0, "{after}");
    // Sent bytes: by method and path, with Go's empty status label.
    let sent = [("method", "POST"), ("path", "/echo"), ("status", "")];
    assert_eq!(
        grew(&before, &after, "dapr_http_client_sent_bytes_count", &sent),
        5.0
    );
    assert_eq!(
        grew(&before, &after, "dapr_http_client_sent_bytes_sum", &sent),
        25.0
    );
    // Received bytes: by app only, every body the app answered.
    let app_only = [("app_id", "mclient")];
    let name = "dapr_http_client_received_bytes_count";
    assert_eq!(grew(&before, &after, name, &app_only), 7.0);
    let name = "dapr_http_client_received_bytes_sum";
    assert_eq!(grew(&before, &after, name, &app_only), received as f64);
    // Probes are health probes, not client calls.
    let probe_path = [("path", "/status/200")];
    assert_eq!(
        sum_samples(&after, "dapr_http_client_completed_count", &probe_path),
        0.0
    );
    assert!(
        sum_samples(
            &after,
            "dapr_http_healthprobes_roundtrip_latency_count",
            &[("status", "200")]
        ) >= 1.0
    );
}

#[test]
fn h2c_app_calls_are_counted_like_http_ones() {
    let d = InProc::for_app("mh2c", crate::invoke_h2c::h2c_app(), "h2c", &[]);
    wait_status(d.http, "/v1.0/healthz", 204);
    let before = scrape(&d);
    for _ in 0..3 {
        let r = request(
            d.http,
            "PUT",
            "/v1.0/invoke/mh2c/method/orders/7",
            &[],
            b"abc",
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = get(d.http, "/v1.0/invoke/mh2c/method/teapot");
    assert_eq!(r.status, 418);
    let after = scrape(&d);
    let orders = [
        ("app_id", "mh2c"),
        ("method", "PUT"),
        ("path", "/orders/7"),
        ("status", "200"),
    ];
    let calls = grew(&before, &after, "dapr_http_client_completed_count", &orders);
    assert_eq!(calls, 3.0, "{after}");
    let teapot = [("method", "GET"), ("path", "/teapot"), ("status", "418")];
    let calls = grew(&before, &after, "dapr_http_client_completed_count", &teapot);
    assert_eq!(calls, 1.0, "{after}");
    let sent = [("method", "PUT"), ("path", "/orders/7")];
    assert_eq!(
        grew(&before, &after, "dapr_http_client_sent_bytes_sum", &sent),
        9.0
    );
    // h2c calls are HTTP calls: nothing in the gRPC client families.
    assert_eq!(
        sum_samples(&after, "dapr_grpc_io_client_completed_rpcs", &[]),
        0.0
    );
}

#[test]
fn grpc_app_calls_are_counted_per_rpc() {
    let d = crate::invoke_grpc::sidecar_for_grpc_app("mgrpc", &[]);
    wait_status(d.http, "/v1.0/healthz", 204);
    let before = scrape(&d);
    let mut received = 0;
    for _ in 0..3 {
        let r = request(
            d.http,
            "POST",
            "/v1.0/invoke/mgrpc/method/orders/7",
            &[],
            b"{}",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        received += r.body.len();
    }
    for _ in 0..2 {
        let r = request(d.http, "POST", "/v1.0/invoke/mgrpc/method/fail", &[], b"");
        assert_eq!(r.status, 403, "{}", r.text());
    }
    let after = scrape(&d);
    assert_exposition_format(&after);

    let method = (
        "grpc_client_method",
        "/dapr.proto.runtime.v1.AppCallback/OnInvoke",
    );
    let ok = [("app_id", "mgrpc"), method, ("grpc_client_status", "OK")];
    let name = "dapr_grpc_io_client_completed_rpcs";
    assert_eq!(grew(&before, &after, name, &ok), 3.0, "{after}");
    let denied = [method, ("grpc_client_status", "PermissionDenied")];
    assert_eq!(grew(&before, &after, name, &denied), 2.0, "{after}");
    let name = "dapr_grpc_io_client_roundtrip_latency_count";
    assert_eq!(grew(&before, &after, name, &ok), 3.0);
    // Bytes per RPC, by method: every call sent a message; the three that
    // succeeded brought back a reply carrying at least the body answered.
    let by_method = [("app_id", "mgrpc"), method];
    let name = "dapr_grpc_io_client_sent_bytes_per_rpc_count";
    assert_eq!(grew(&before, &after, name, &by_method), 5.0);
    assert!(
        grew(
            &before,
            &after,
            "dapr_grpc_io_client_sent_bytes_per_rpc_sum",
            &by_method
        ) > 0.0
    );
    let name = "dapr_grpc_io_client_received_bytes_per_rpc_count";
    assert_eq!(grew(&before, &after, name, &by_method), 5.0);
    let name = "dapr_grpc_io_client_received_bytes_per_rpc_sum";
    assert!(grew(&before, &after, name, &by_method) >= received as f64);
}

#[test]
fn grpc_health_probes_have_their_own_family() {
    // The test app has no health check service: every probe is Unimplemented.
    let d = crate::invoke_grpc::sidecar_for_grpc_app(
        "mgprobe",
        &[
            "--enable-app-health-check",
            "--app-health-probe-interval",
            "1",
        ],
    );
    let want = [
        ("app_id", "mgprobe"),
        ("grpc_client_status", "Unimplemented"),
    ];
    let text = wait_for(&d, "dapr_grpc_io_healthprobes_completed_count", &want, 1.0);
    assert!(
        sum_samples(
            &text,
            "dapr_grpc_io_healthprobes_roundtrip_latency_count",
            &want
        ) >= 1.0
    );
    let health = [(
        "grpc_client_method",
        "/dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck",
    )];
    assert_eq!(
        sum_samples(&text, "dapr_grpc_io_client_completed_rpcs", &health),
        0.0
    );
}

#[test]
fn proxied_grpc_calls_are_metered_as_go_does() {
    let internal = free_port();
    let d = crate::invoke_grpc::sidecar_for_grpc_app(
        "mproxy",
        &[
            "--dapr-internal-grpc-port",
            &internal.to_string(),
            "--dapr-internal-grpc-listen-address",
            "127.0.0.1",
        ],
    );
    wait_status(d.http, "/v1.0/healthz", 204);
    let (api, peer) = (
        d.grpc(),
        std::net::SocketAddr::from(([127, 0, 0, 1], internal)),
    );
    let before = scrape(&d);
    crate::grpc::rt().block_on(async {
        let call = |method: &str, headers: &[&str]| invoke_request(method, None, "mproxy", headers);
        // As another sidecar relays a call that still carries `dapr-app-id`.
        let both = ["dapr-app-id", "dapr-callee-app-id"];
        let mut peer = app_callback_client(peer).await;
        for _ in 0..2 {
            peer.on_invoke(call("m", &both)).await.unwrap();
        }
        let err = peer.on_invoke(call("fail", &both)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        // Without `dapr-app-id` (Go ≥ 1.16 callers strip it): relayed, not metered.
        peer.on_invoke(call("m", &["dapr-callee-app-id"]))
            .await
            .unwrap();
        // From the app through the public API port, to this sidecar's app.
        let mut app = app_callback_client(api).await;
        app.on_invoke(call("m", &["dapr-app-id"])).await.unwrap();
    });
    let after = scrape(&d);
    assert_exposition_format(&after);

    let on_invoke = "/dapr.proto.runtime.v1.AppCallback/OnInvoke";
    let client = [("app_id", "mproxy"), ("grpc_client_method", on_invoke)];
    let with = |status: &'static str| {
        let mut v = client.to_vec();
        v.push(("grpc_client_status", status));
        v
    };
    // The internal server's calls: client series, count and latency only.
    let name = "dapr_grpc_io_client_completed_rpcs";
    assert_eq!(grew(&before, &after, name, &with("OK")), 2.0, "{after}");
    let denied = with("PermissionDenied");
    assert_eq!(grew(&before, &after, name, &denied), 1.0, "{after}");
    let name = "dapr_grpc_io_client_roundtrip_latency_count";
    assert_eq!(grew(&before, &after, name, &with("OK")), 2.0);
    for name in [
        "dapr_grpc_io_client_sent_bytes_per_rpc_count",
        "dapr_grpc_io_client_received_bytes_per_rpc_count",
    ] {
        assert_eq!(grew(&before, &after, name, &client), 0.0, "{name}");
    }
    // The API server's proxied call: a server series, no bytes; the
    // internal server's calls are not server series.
    let server = [("grpc_server_method", on_invoke)];
    let ok = [server[0], ("grpc_server_status", "OK")];
    let name = "dapr_grpc_io_server_completed_rpcs";
    assert_eq!(grew(&before, &after, name, &ok), 1.0, "{after}");
    assert_eq!(grew(&before, &after, name, &server), 1.0, "{after}");
    let name = "dapr_grpc_io_server_received_bytes_per_rpc_count";
    assert_eq!(grew(&before, &after, name, &server), 0.0, "{after}");
}
