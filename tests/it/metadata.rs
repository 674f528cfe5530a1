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

/// Writes one component file per `(name, type, version, metadata)`; a
/// `None` version leaves `spec.version` out.
/// `(name, type, version, metadata)` of a component file.
type Spec<'a> = (&'a str, &'a str, Option<&'a str>, &'a [(&'a str, &'a str)]);

fn component_files(list: &[Spec<'_>]) -> std::path::PathBuf {
    let dir = crate::services::temp_dir("daprd-metadata");
    for (name, kind, version, md) in list {
        let mut yaml = format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: {kind}\n"
        );
        if let Some(v) = version {
            yaml.push_str(&format!("  version: {v}\n"));
        }
        yaml.push_str("  metadata:\n");
        for (k, v) in *md {
            yaml.push_str(&format!("  - name: {k}\n    value: '{v}'\n"));
        }
        if md.is_empty() {
            yaml.push_str("  - name: unused\n    value: ''\n");
        }
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
    }
    dir
}

/// Components as Go daprd lists them for the same YAML: `version` as
/// written, `capabilities` from each component's features (+ `ACTOR` for
/// stores with ETags and transactions, binding directions, nothing for
/// locks and configuration stores), over HTTP and gRPC alike.
#[test]
fn components_report_yaml_versions_and_go_capabilities() {
    let secrets_dir = crate::services::temp_dir("daprd-metadata-secrets");
    let secrets_file = secrets_dir.join("secrets.json");
    std::fs::write(&secrets_file, r#"{"db":{"user":"u"}}"#).unwrap();
    let secrets_file = secrets_file.display().to_string();
    let storage = secrets_dir.display().to_string();
    let redis = crate::services::redis("components_report_yaml_versions_and_go_capabilities");
    let host = crate::services::REDIS;
    let storage_md = [("rootPath", storage.as_str())];
    let mut list: Vec<Spec<'_>> = vec![
        ("mem", "state.in-memory", None, &[]),
        ("mixed", "State.In-Memory", Some("V1"), &[]),
        ("bus", "pubsub.in-memory", Some("v1"), &[]),
        ("envsecrets", "secretstores.local.env", Some("v1"), &[]),
        (
            "ticker",
            "bindings.cron",
            Some("v1"),
            &[("schedule", "@every 1h")],
        ),
        ("files", "bindings.localstorage", Some("v1"), &storage_md),
        ("memlock", "lock.in-memory", Some("v0"), &[]),
    ];
    let file_md = [
        ("secretsFile", secrets_file.as_str()),
        ("multiValued", "true"),
    ];
    list.push((
        "filesecrets",
        "secretstores.local.file",
        Some("v1"),
        &file_md,
    ));
    let redis_md = [("redisHost", host)];
    if redis {
        list.extend([
            ("redisstate", "state.redis", Some("v1"), &redis_md[..]),
            ("redisbus", "pubsub.redis", Some("v1"), &redis_md[..]),
            ("redisout", "bindings.redis", Some("v1"), &redis_md[..]),
            (
                "redisconfig",
                "configuration.redis",
                Some("v1"),
                &redis_md[..],
            ),
        ]);
    }
    let dir = component_files(&list).display().to_string();
    let mut want: Vec<(&str, &str, &str, Vec<&str>)> = vec![
        (
            "mem",
            "state.in-memory",
            "",
            vec![
                "ETAG",
                "TRANSACTIONAL",
                "TTL",
                "DELETE_WITH_PREFIX",
                "KEYS_LIKE",
                "ACTOR",
            ],
        ),
        (
            "mixed",
            "State.In-Memory",
            "V1",
            vec![
                "ETAG",
                "TRANSACTIONAL",
                "TTL",
                "DELETE_WITH_PREFIX",
                "KEYS_LIKE",
                "ACTOR",
            ],
        ),
        ("bus", "pubsub.in-memory", "v1", vec!["SUBSCRIBE_WILDCARDS"]),
        ("envsecrets", "secretstores.local.env", "v1", vec![]),
        ("ticker", "bindings.cron", "v1", vec!["INPUT_BINDING"]),
        (
            "files",
            "bindings.localstorage",
            "v1",
            vec!["OUTPUT_BINDING"],
        ),
        ("memlock", "lock.in-memory", "v0", vec![]),
        (
            "filesecrets",
            "secretstores.local.file",
            "v1",
            vec!["MULTIPLE_KEY_VALUES_PER_SECRET"],
        ),
    ];
    if redis {
        want.extend([
            (
                "redisstate",
                "state.redis",
                "v1",
                vec!["ETAG", "TRANSACTIONAL", "TTL", "KEYS_LIKE", "ACTOR"],
            ),
            ("redisbus", "pubsub.redis", "v1", vec![]),
            ("redisout", "bindings.redis", "v1", vec!["OUTPUT_BINDING"]),
            ("redisconfig", "configuration.redis", "v1", vec![]),
        ]);
    }
    want.sort();

    let (d, grpc) = crate::grpc::start_with_grpc(&["--resources-path", &dir], &[]);
    // HTTP: Go's JSON omits an empty version and empty capabilities.
    let v = get(d.http, "/v1.0/metadata").json();
    let mut http: Vec<(String, String, String, Vec<String>)> = v["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| {
            let s = |k: &str| c.get(k).map(|x| x.as_str().unwrap().to_owned());
            assert!(
                c.get("capabilities")
                    .is_none_or(|x| !x.as_array().unwrap().is_empty()),
                "{c}"
            );
            (
                s("name").unwrap(),
                s("type").unwrap(),
                s("version").unwrap_or_default(),
                c.get("capabilities")
                    .map(|x| serde_json::from_value(x.clone()).unwrap())
                    .unwrap_or_default(),
            )
        })
        .collect();
    http.sort();
    let as_owned =
        |w: &[(&str, &str, &str, Vec<&str>)]| -> Vec<(String, String, String, Vec<String>)> {
            w.iter()
                .map(|(n, t, v, c)| {
                    (
                        n.to_string(),
                        t.to_string(),
                        v.to_string(),
                        c.iter().map(|s| s.to_string()).collect(),
                    )
                })
                .collect()
        };
    assert_eq!(http, as_owned(&want));

    // gRPC, through the official SDK.
    let md = crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{grpc}"),
        )
        .await
        .expect("SDK connects");
        c.get_metadata().await.unwrap()
    });
    let mut over_grpc: Vec<(String, String, String, Vec<String>)> = md
        .registered_components
        .into_iter()
        .map(|c| (c.name, c.r#type, c.version, c.capabilities))
        .collect();
    over_grpc.sort();
    assert_eq!(over_grpc, as_owned(&want));
    let _ = std::fs::remove_dir_all(&secrets_dir);
}
