//! Black-box: flags, validation and exit codes of the real binary.

use crate::harness::*;

#[test]
fn missing_app_id_exits_1_naming_the_flag() {
    let (code, out) = run_to_exit(&["--dapr-http-port", "0"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("app-id"), "{out}");
}

#[test]
fn app_id_with_dots_is_refused() {
    let (code, out) = run_to_exit(&["--app-id", "my.app"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot contain dots"), "{out}");
}

#[test]
fn app_port_equal_to_http_port_is_refused() {
    let (code, out) = run_to_exit(&[
        "--app-id",
        "a",
        "--app-port",
        "3500",
        "--dapr-http-port",
        "3500",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("app-port"), "{out}");
}

#[test]
fn bad_app_protocol_is_refused() {
    let (code, out) = run_to_exit(&["--app-id", "a", "--app-protocol", "smtp"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("app-protocol"), "{out}");
}

#[test]
fn tls_app_protocols_fail_start_up_clearly() {
    for p in ["https", "grpcs"] {
        let (code, out) = run_to_exit(&["--app-id", "a", "--app-port", "1", "--app-protocol", p]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(&format!("--app-protocol {p}: TLS")), "{out}");
    }
}

#[test]
fn non_numeric_port_is_refused() {
    let (code, out) = run_to_exit(&["--app-id", "a", "--dapr-http-port", "http"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("dapr-http-port"), "{out}");
}

#[test]
fn unknown_flag_is_refused() {
    let (code, out) = run_to_exit(&["--app-id", "a", "--no-such-flag"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("no-such-flag"), "{out}");
}

#[test]
fn version_prints_and_exits_0() {
    let (code, out) = run_to_exit(&["--version"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1.18"), "{out}");
}

#[test]
fn dapr_cli_argument_list_starts_and_warns_about_unsupported_flags() {
    let app_port = free_port().to_string();
    let mut d = Daprd::start(&[
        "--app-port",
        &app_port,
        "--app-protocol",
        "http",
        "--profile-port",
        "-1",
        "--app-max-concurrency",
        "-1",
        "--placement-host-address",
        "localhost:1",
        "--scheduler-host-address",
        "localhost:2",
        "--dapr-internal-grpc-port",
        "0",
        "--log-level",
        "debug",
        "--enable-api-logging",
        "-components-path",
        "/nonexistent",
    ]);
    let r = get(d.http, "/v1.0/metadata");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["appConnectionProperties"]["port"],
        app_port.parse::<u16>().unwrap()
    );
    d.signal("TERM");
    assert!(d.wait_exit().success());
}

#[test]
fn listens_on_ipv4_and_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback on this machine");
        return;
    }
    // The later --dapr-listen-addresses wins over the harness's; both
    // addresses are served on the same port.
    let mut d = Daprd::start(&["--dapr-listen-addresses", "127.0.0.1,[::1]"]);
    let port = d.http.port();
    let v4: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let v6: std::net::SocketAddr = format!("[::1]:{port}").parse().unwrap();
    assert_eq!(get(v4, "/v1.0/healthz").status, 204);
    assert_eq!(get(v6, "/v1.0/healthz").status, 204);
    d.signal("TERM");
    assert!(d.wait_exit().success());
}

#[test]
fn unbindable_address_fails_startup_clearly() {
    let (code, out) = run_to_exit(&[
        "--app-id",
        "a",
        "--dapr-listen-addresses",
        "192.0.2.1",
        "--dapr-http-port",
        "0",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("192.0.2.1"), "{out}");
}

#[test]
fn json_logs_with_api_logging() {
    use std::io::{BufRead, BufReader};
    let (http, metrics) = (free_port(), free_port());
    let mut child = std::process::Command::new(daprd_bin())
        .args([
            "--app-id",
            "logapp",
            "--log-as-json",
            "--enable-api-logging",
            "--dapr-listen-addresses",
            "127.0.0.1",
        ])
        .args([
            "--dapr-http-port",
            &http.to_string(),
            "--metrics-port",
            &metrics.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{http}").parse().unwrap();
    wait_status(addr, "/v1.0/healthz", 204);
    assert_eq!(get(addr, "/v1.0/metadata").status, 200);
    assert_eq!(
        request(addr, "POST", "/v1.0/shutdown", &[], b"").status,
        204
    );
    let lines: Vec<serde_json::Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).expect("every stdout line is JSON"))
        .collect();
    assert!(child.wait().unwrap().success());
    for l in &lines {
        for key in [
            "app_id", "instance", "level", "msg", "scope", "time", "type", "ver",
        ] {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
        assert_eq!(l["app_id"], "logapp");
    }
    assert!(lines
        .iter()
        .any(|l| l["msg"].as_str().unwrap().starts_with("dapr initialized")));
    let api: Vec<_> = lines
        .iter()
        .filter(|l| l["scope"] == "dapr.runtime.http-info")
        .collect();
    assert!(
        api.iter()
            .any(|l| l["operation"] == "GetMetadata" && l["code"] == "200"),
        "{api:?}"
    );
}

#[test]
fn a_port_another_sidecar_holds_is_refused() {
    // Go fails with "address already in use"; SO_REUSEPORT must not let a
    // second sidecar share the first one's port.
    let first = Daprd::start(&[]);
    let port = first.http.port().to_string();
    let (code, out) = run_to_exit(&[
        "--app-id",
        "second",
        "--dapr-listen-addresses",
        "127.0.0.1",
        "--dapr-http-port",
        &port,
        "--dapr-grpc-port",
        "0",
        "--metrics-port",
        "0",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("in use"), "{out}");
    // The first sidecar is untouched.
    assert_eq!(get(first.http, "/v1.0/healthz/outbound").status, 204);
}
