//! `/metrics`: Prometheus text with Dapr's names, counting what was served.

use crate::harness::*;

/// Sums the values of `name` samples whose labels contain every `want` pair.
pub(crate) fn sum_samples(text: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, labels) = series.split_once('{').unwrap_or((series, ""));
            (n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

/// Every non-comment line is `name{labels} value` or `name value`, and every
/// family has a TYPE line before its first sample.
pub(crate) fn assert_exposition_format(text: &str) {
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.insert(rest.split_whitespace().next().unwrap().to_string());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        assert!(
            value.parse::<f64>().is_ok() || value == "+Inf" || value == "NaN",
            "bad value in {line:?}"
        );
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample before TYPE: {line:?}");
    }
}

#[test]
fn metrics_count_requests_over_all_workers() {
    let d = Daprd::start(&["--workers", "2"]);
    for _ in 0..50 {
        assert_eq!(get(d.http, "/v1.0/healthz").status, 204);
    }
    let r = get(d.metrics, "/metrics");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = r.text();
    assert_exposition_format(&text);
    let labels = [
        ("app_id", "testapp"),
        ("method", "GET"),
        ("path", "/v1.0/healthz"),
        ("status", "204"),
    ];
    // At least 50: the harness's readiness polling counts too.
    let count = sum_samples(&text, "dapr_http_server_request_count", &labels);
    assert!(count >= 50.0, "count {count} in\n{text}");
    let hist = sum_samples(&text, "dapr_http_server_latency_count", &labels);
    assert_eq!(hist, count);
    // Any path answers, as Go's exporter.
    assert_eq!(get(d.metrics, "/anything").status, 200);
    // Process metrics.
    assert!(sum_samples(&text, "process_resident_memory_bytes", &[]) > 0.0);
    // Our per-core view sums to at least the requests served.
    assert!(sum_samples(&text, "daprd_worker_requests_total", &[]) >= 50.0);
}

#[test]
fn metrics_can_be_disabled() {
    let d = Daprd::start(&["--enable-metrics=false"]);
    assert!(std::net::TcpStream::connect(d.metrics).is_err());
}

#[test]
fn grpc_server_status_labels_are_grpc_gos_code_names() {
    let res = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/resources");
    let res = res.display().to_string();
    let (d, addr) = crate::grpc::start_with_grpc(&["--resources-path", &res], &[]);
    crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{addr}"),
        )
        .await
        .unwrap();
        c.get_metadata().await.unwrap();
        for _ in 0..2 {
            let err = c.get_state("nostore", "k", None).await.unwrap_err();
            assert!(format!("{err:?}").contains("InvalidArgument"), "{err:?}");
        }
    });
    let text = get(d.metrics, "/metrics").text();
    assert_exposition_format(&text);
    let method = |m: &'static str| ("grpc_server_method", m);
    let get_state = method("/dapr.proto.runtime.v1.Dapr/GetState");
    let failed = [get_state, ("grpc_server_status", "InvalidArgument")];
    let name = "dapr_grpc_io_server_completed_rpcs";
    assert_eq!(sum_samples(&text, name, &failed), 2.0, "{text}");
    let name = "dapr_grpc_io_server_server_latency_count";
    assert_eq!(sum_samples(&text, name, &failed), 2.0, "{text}");
    let ok = [
        method("/dapr.proto.runtime.v1.Dapr/GetMetadata"),
        ("grpc_server_status", "OK"),
    ];
    let name = "dapr_grpc_io_server_completed_rpcs";
    assert_eq!(sum_samples(&text, name, &ok), 1.0, "{text}");
    // Never the protobuf enum spelling.
    assert!(!text.contains("INVALID_ARGUMENT"), "{text}");
}
