//! The metadata API and the API token.

use crate::harness::*;

#[test]
fn metadata_has_go_shape() {
    for driver in DRIVERS {
        let d = InProc::start(&["--app-port", "0"], driver, None);
        let r = get(d.http, "/v1.0/metadata");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.body.ends_with(b"\n"), "Go's encoder ends with a newline");
        let v = r.json();
        assert_eq!(v["id"], "inproc");
        assert!(v["runtimeVersion"].as_str().unwrap().starts_with("1.18"));
        assert!(v["extended"]["daprRuntimeVersion"].is_string());
        assert_eq!(v["appConnectionProperties"]["protocol"], "http");
        assert_eq!(v["appConnectionProperties"]["channelAddress"], "127.0.0.1");
        assert!(
            v["appConnectionProperties"].get("port").is_none(),
            "port 0 is omitted"
        );
        assert_eq!(v["actorRuntime"]["runtimeStatus"], "DISABLED");
        assert_eq!(v["actorRuntime"]["hostReady"], false);
        assert!(v.get("components").is_none());
        assert!(v.get("subscriptions").is_none());
        // Field order is Go's struct order.
        let text = r.text();
        let order = [
            "\"id\"",
            "\"runtimeVersion\"",
            "\"extended\"",
            "\"appConnectionProperties\"",
            "\"actorRuntime\"",
            "\"workflows\"",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|k| {
                text.find(k)
                    .unwrap_or_else(|| panic!("{k} missing in {text}"))
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }
}

#[test]
fn health_settings_appear_when_enabled() {
    let d = InProc::start(
        &[
            "--enable-app-health-check",
            "--app-health-probe-interval",
            "3",
            "--app-health-probe-timeout",
            "200",
            "--app-health-threshold",
            "4",
        ],
        DRIVERS[0],
        None,
    );
    let v = get(d.http, "/v1.0/metadata").json();
    let h = &v["appConnectionProperties"]["health"];
    assert_eq!(h["healthCheckPath"], "/healthz");
    assert_eq!(h["healthProbeInterval"], "3s");
    assert_eq!(h["healthProbeTimeout"], "200ms");
    assert_eq!(h["healthThreshold"], 4);
}

#[test]
fn attributes_written_anywhere_are_read_everywhere() {
    // The binary with 2 workers: fresh connections land on both cores.
    let d = Daprd::start(&["--workers", "2"]);
    for i in 0..40 {
        let r = request(
            d.http,
            "PUT",
            &format!("/v1.0/metadata/key{i}"),
            &[],
            format!("value {i}").as_bytes(),
        );
        assert_eq!(r.status, 204);
    }
    for _ in 0..40 {
        let v = get(d.http, "/v1.0/metadata").json();
        for i in 0..40 {
            assert_eq!(v["extended"][format!("key{i}")], format!("value {i}"));
        }
    }
}

#[test]
fn cli_attributes_round_trip_with_chunked_body() {
    let d = InProc::start(&[], DRIVERS[1], None);
    let mut c = Conn::open(d.http);
    c.send_raw(b"PUT /v1.0/metadata/cliPID HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\n123\r\n2\r\n45\r\n0\r\n\r\n");
    assert_eq!(c.read_response(false).status, 204);
    let v = c.request("GET", "/v1.0/metadata", &[], b"").json();
    assert_eq!(v["extended"]["cliPID"], "12345");
}

#[test]
fn api_token_guards_everything_but_health() {
    let d = Daprd::start_with_env(&[], &[("DAPR_API_TOKEN", "s3cret")]);
    let r = get(d.http, "/v1.0/metadata");
    assert_eq!(r.status, 401);
    assert_eq!(r.text(), "invalid api token\n");
    let r = request(
        d.http,
        "GET",
        "/v1.0/metadata",
        &[("dapr-api-token", "wrong")],
        b"",
    );
    assert_eq!(r.status, 401);
    let r = request(
        d.http,
        "GET",
        "/v1.0/metadata",
        &[("dapr-api-token", "s3cret")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(get(d.http, "/v1.0/healthz").status, 204);
    assert_eq!(get(d.http, "/v1.0/healthz/outbound").status, 204);
    // The fall-through (invocation) path is guarded too.
    assert_eq!(get(d.http, "/orders").status, 401);
}
