//! App health checks: an app that turns unhealthy stops receiving
//! invocations (Go's error) and pub/sub deliveries (they wait), and gets
//! both again once it recovers.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::{Seen, TestApp};
use crate::harness::*;
use crate::pubsub::resources_of;

/// Go's invocation error for an unhealthy app: its channel's
/// `status.Error(codes.Internal, ErrAppUnhealthy)` inside `ErrDirectInvoke`.
const UNHEALTHY_INVOKE_ERROR: &str = "failed to invoke, id: healthy, err: rpc error: code = Internal desc = app is not in a healthy state";

#[test]
fn unhealthy_app_gets_no_calls_until_it_recovers() {
    let health = Arc::new(AtomicU16::new(200));
    let delivered = Arc::new(AtomicU16::new(0));
    let (h, dl) = (health.clone(), delivered.clone());
    let handler: crate::app::Handler = Arc::new(move |req: &Seen| match req.path.as_str() {
        "/healthz" => Some((h.load(Ordering::SeqCst), "text/plain".into(), Vec::new())),
        "/dapr/subscribe" => Some((
            200,
            "application/json".into(),
            br#"[{"pubsubname":"pubsub","topic":"t","route":"/msg"}]"#.to_vec(),
        )),
        "/msg" => {
            dl.fetch_add(1, Ordering::SeqCst);
            Some((200, "application/json".into(), Vec::new()))
        }
        _ => None,
    });
    let app = TestApp::start_with(0, Some(handler));
    let dir = resources_of("pubsub.in-memory", &[], "")
        .display()
        .to_string();
    let port = app.port.to_string();
    let d = InProc::start(
        &[
            "--app-id",
            "healthy",
            "--app-port",
            &port,
            "--resources-path",
            &dir,
            "--enable-app-health-check",
            "--app-health-probe-interval",
            "1",
            "--app-health-threshold",
            "1",
        ],
        daprd::runtime::Driver::Auto,
        None,
    );
    let invoke = || {
        request(
            d.http,
            "POST",
            "/v1.0/invoke/healthy/method/echo",
            &[],
            b"x",
        )
    };
    let until = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("healthy after the first probe", &|| invoke().status == 200);
    let md = get(d.http, "/v1.0/metadata").json();
    assert_eq!(
        md["appConnectionProperties"]["health"]["healthCheckPath"],
        "/healthz"
    );
    assert_eq!(
        md["appConnectionProperties"]["health"]["healthThreshold"],
        1
    );

    health.store(503, Ordering::SeqCst);
    until("unhealthy after a failed probe", &|| invoke().status == 500);
    let r = invoke();
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    assert_eq!(r.json()["message"], UNHEALTHY_INVOKE_ERROR, "{}", r.text());
    // A publish while unhealthy is held back…
    let r = request(
        d.http,
        "POST",
        "/v1.0/publish/pubsub/t",
        &[("content-type", "text/plain")],
        b"held",
    );
    assert_eq!(r.status, 204);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        delivered.load(Ordering::SeqCst),
        0,
        "delivered to an unhealthy app"
    );

    // …and delivered once the app recovers; invocation works again.
    health.store(200, Ordering::SeqCst);
    until("delivered after recovery", &|| {
        delivered.load(Ordering::SeqCst) == 1
    });
    assert_eq!(invoke().status, 200);
}

#[test]
fn unhealthy_grpc_app_fails_invocations_as_go_but_not_proxied_calls() {
    // The test gRPC app serves no health check: every probe fails, so the
    // app never becomes healthy.
    let d = crate::invoke_grpc::sidecar_for_grpc_app(
        "healthy",
        &[
            "--enable-app-health-check",
            "--app-health-probe-interval",
            "1",
        ],
    );
    let r = request(
        d.http,
        "POST",
        "/v1.0/invoke/healthy/method/hello",
        &[],
        b"x",
    );
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    assert_eq!(r.json()["message"], UNHEALTHY_INVOKE_ERROR);
    let grpc = format!("http://{}", d.grpc());
    crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(grpc)
            .await
            .unwrap();
        let err = c
            .invoke_service("healthy", "hello", None)
            .await
            .unwrap_err();
        let dbg = format!("{err:?}");
        assert!(
            dbg.contains("Internal") && dbg.contains(UNHEALTHY_INVOKE_ERROR),
            "{dbg}"
        );
        // Go's transparent proxy does not look at the app's health.
        let mut proxied = app_callback_client(d.grpc()).await;
        let req = invoke_request("m", None, "healthy", &["dapr-app-id"]);
        let r = proxied.on_invoke(req).await.unwrap();
        let text = String::from_utf8(r.into_inner().data.unwrap().value).unwrap();
        assert!(text.starts_with("m verb=0"), "{text}");
    });
}
