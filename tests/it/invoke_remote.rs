//! Service invocation between two sidecars: app A's sidecar calls app B
//! through B's sidecar (internal gRPC port, `CallLocalStream`), the
//! sidecars finding each other in a shared `nameresolution.sqlite` file
//! configured through `--config`. HTTP (both URL forms), the official SDK's
//! `invoke_service`, transparent gRPC proxying, 100 MiB bodies both ways
//! with bounded memory, a killed and restarted callee, Go's errors, Go's
//! caller/callee/forwarded headers as B's app sees them, the registration
//! rows, and a raw h2 peer speaking the internal protocol as Go does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use daprd::proto::dapr::proto::common::v1 as common;
use daprd::proto::dapr::proto::internals::v1 as internals;

use crate::app::TestApp;
use crate::harness::*;
use crate::services::unique_app_id;

type Client = dapr::Client<dapr::client::TonicClientWithAuth>;

/// A temp dir with a Configuration that points name resolution at a
/// SQLite file in it; every sidecar started with it shares the file.
struct Mesh {
    dir: PathBuf,
    config: PathBuf,
}

impl Mesh {
    fn new() -> Mesh {
        let dir = std::env::temp_dir().join(unique_app_id("daprd-mesh"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.yaml");
        std::fs::write(
            &config,
            format!(
                "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: mesh\nspec:\n  nameResolution:\n    component: sqlite\n    version: v1\n    configuration:\n      connectionString: {}\n",
                dir.join("nr.db").display()
            ),
        )
        .unwrap();
        Mesh { dir, config }
    }

    fn db(&self) -> PathBuf {
        self.dir.join("nr.db")
    }

    /// Flags for a sidecar of `app_id` in this mesh on internal port `internal`.
    fn flags(&self, app_id: &str, internal: u16, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = [
            "--app-id",
            app_id,
            "--config",
            &self.config.display().to_string(),
            "--dapr-internal-grpc-port",
            &internal.to_string(),
            "--dapr-internal-grpc-listen-address",
            "127.0.0.1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    fn daprd(&self, app_id: &str, internal: u16, extra: &[&str], env: &[(&str, &str)]) -> Daprd {
        let flags = self.flags(app_id, internal, extra);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Daprd::start_with_env(&flags, env)
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// B: the sidecar of a test app on a fixed internal port, so that it can be
/// killed and started again at the same address, in a mesh of its own.
struct Callee {
    app: TestApp,
    mesh: Mesh,
    id: String,
    internal: u16,
}

impl Callee {
    /// A fresh mesh and B's app (app id from `prefix`); no sidecar yet.
    fn new(prefix: &str) -> Callee {
        Callee {
            app: TestApp::start(),
            mesh: Mesh::new(),
            id: unique_app_id(prefix),
            internal: free_port(),
        }
    }

    /// Starts B's sidecar (again).
    fn start(&self) -> Daprd {
        let port = self.app.port.to_string();
        self.mesh
            .daprd(&self.id, self.internal, &["--app-port", &port], &[])
    }

    /// A caller's sidecar (app id from `prefix`) in B's mesh.
    fn caller(&self, prefix: &str) -> Daprd {
        self.mesh
            .daprd(&unique_app_id(prefix), free_port(), &[], &[])
    }
}

fn metrics_text(addr: SocketAddr) -> String {
    get(addr, "/").text()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn http_invocation_reaches_the_other_app_with_gos_headers() {
    let mesh = Mesh::new();
    let (a_id, b_id) = (unique_app_id("ra"), unique_app_id("rb"));
    let app = TestApp::start();
    let b_port = app.port.to_string();
    let b = mesh.daprd(
        &b_id,
        free_port(),
        &["--app-port", &b_port],
        &[
            ("APP_API_TOKEN", "b-app-secret"),
            ("DAPR_API_TOKEN", "b-api"),
        ],
    );
    let a = mesh.daprd(
        &a_id,
        free_port(),
        &[],
        &[("DAPR_API_TOKEN", "a-api"), ("DAPR_HOST_IP", "127.0.0.9")],
    );
    let token = ("dapr-api-token", "a-api");

    // URL form: verb, path, query, headers and body reach B's app.
    let r = request(
        a.http,
        "POST",
        &format!("/v1.0/invoke/{b_id}/method/echo/a%20b?x=1&y=two"),
        &[
            token,
            ("x-custom", "kept"),
            ("content-type", "application/json"),
            ("x-forwarded-for", "10.9.9.9"),
        ],
        b"{\"n\":1}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.text();
    assert!(seen.starts_with("POST /echo/a%20b?x=1&y=two\n"), "{seen}");
    let host = hostname();
    for want in [
        "x-custom: kept".to_owned(),
        "content-type: application/json".to_owned(),
        format!("dapr-caller-app-id: {a_id}"),
        format!("dapr-callee-app-id: {b_id}"),
        "dapr-caller-namespace: default".to_owned(),
        "x-forwarded-for: 10.9.9.9".to_owned(),
        "x-forwarded-for: 127.0.0.9".to_owned(),
        format!("x-forwarded-host: {host}"),
        format!("forwarded: for=127.0.0.9;by=127.0.0.9;host={host}"),
        "traceparent: 00-".to_owned(),
        // B's APP_API_TOKEN, not A's API token.
        "dapr-api-token: b-app-secret".to_owned(),
        "content-length: 7".to_owned(),
    ] {
        assert!(seen.contains(&want), "{want} missing in {seen}");
    }
    for gone in ["a-api", "destination-app-id", "dapr-app-id:"] {
        assert!(!seen.contains(gone), "{gone} forwarded: {seen}");
    }
    assert!(seen.ends_with("\n\n{\"n\":1}"), "{seen}");
    // B's app's headers and content type come back.
    assert_eq!(r.header("x-app"), Some("yes"));
    assert_eq!(r.header("content-type"), Some("application/json"));

    // The dapr-app-id header form and the namespaced id.
    let r = request(
        a.http,
        "PUT",
        "/any/path?q=1",
        &[token, ("dapr-app-id", &b_id)],
        b"hi",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().starts_with("PUT /any/path?q=1\n"), "{}", r.text());
    assert!(r.text().ends_with("\n\nhi"), "{}", r.text());
    let r = request(
        a.http,
        "GET",
        &format!("/v1.0/invoke/{b_id}.default/method/echo"),
        &[token],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().starts_with("GET /echo\n"), "{}", r.text());

    // B's app's error statuses and bodies reach A's caller unchanged.
    for code in [404, 500, 503] {
        let r = request(
            a.http,
            "GET",
            &format!("/v1.0/invoke/{b_id}/method/status/{code}"),
            &[token],
            b"",
        );
        assert_eq!((r.status, r.text().as_str()), (code, "oops"));
        assert_eq!(r.header("x-app"), Some("yes"));
    }

    // Go's errors: an app nobody registered, an invalid id.
    let r = request(
        a.http,
        "GET",
        "/v1.0/invoke/nobody/method/echo",
        &[token],
        b"",
    );
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    assert_eq!(
        r.json()["message"],
        "failed to invoke, id: nobody, err: no host found with the given ID"
    );
    let r = request(
        a.http,
        "GET",
        "/v1.0/invoke/a.b.c/method/echo",
        &[token],
        b"",
    );
    assert_eq!(r.status, 500);
    assert_eq!(
        r.json()["message"],
        "failed to invoke, id: a.b.c, err: invalid app id a.b.c"
    );
    // A's own API token still guards A.
    assert_eq!(
        get(a.http, &format!("/v1.0/invoke/{b_id}/method/echo")).status,
        401
    );

    // Go's service invocation metrics on both sides.
    let am = metrics_text(a.metrics);
    let want = format!("dapr_runtime_service_invocation_req_sent_total{{app_id=\"{a_id}\",dst_app_id=\"{b_id}\",type=\"unary\"}}");
    assert!(am.contains(&want), "{want} missing");
    let want = format!("dapr_runtime_service_invocation_res_recv_total{{app_id=\"{a_id}\",src_app_id=\"{b_id}\",status=\"404\",type=\"unary\"}} 1");
    assert!(am.contains(&want), "{want} missing");
    let bm = metrics_text(b.metrics);
    let want = format!(
        "dapr_runtime_service_invocation_req_recv_total{{app_id=\"{b_id}\",src_app_id=\"{a_id}\"}}"
    );
    assert!(bm.contains(&want), "{want} missing");
    let want = format!("dapr_runtime_service_invocation_res_sent_total{{app_id=\"{b_id}\",dst_app_id=\"{a_id}\",status=\"503\"}} 1");
    assert!(bm.contains(&want), "{want} missing");
    assert!(
        bm.contains(
            "grpc_server_method=\"/dapr.proto.internals.v1.ServiceInvocation/CallLocalStream\""
        ),
        "internal calls are counted as gRPC server calls"
    );
}

#[test]
fn a_killed_callee_fails_cleanly_and_works_again_after_restart() {
    let callee = Callee::new("kb");
    let b_id = &callee.id;
    let mut b = callee.start();
    let a = callee.caller("ka");
    let path = format!("/v1.0/invoke/{b_id}/method/echo");
    // Warm A's pooled connections on both workers.
    for _ in 0..10 {
        assert_eq!(get(a.http, &path).status, 200);
    }

    b.signal("KILL");
    b.wait_exit();
    let started = Instant::now();
    let r = request(a.http, "POST", &path, &[], b"payload");
    let took = started.elapsed();
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    let msg = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with(&format!(
            "failed to invoke, id: {b_id}, err: failed to invoke target {b_id} after 3 retries. Error: rpc error: code = Unavailable"
        )),
        "{msg}"
    );
    assert!(msg.contains("connection refused"), "{msg}");
    // Go's built-in retries (3 × 1 s), and no longer.
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");

    // B comes back on its port: the same call works again.
    let _b = callee.start();
    let r = request(a.http, "POST", &path, &[], b"again");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().ends_with("\n\nagain"), "{}", r.text());
    for _ in 0..10 {
        assert_eq!(get(a.http, &path).status, 200);
    }
}

#[test]
fn a_callee_restarting_during_the_retries_is_reached() {
    let callee = Callee::new("wb");
    let b_id = &callee.id;
    let mut b = callee.start();
    let a = callee.caller("wa");
    let path = format!("/v1.0/invoke/{b_id}/method/echo");
    assert_eq!(get(a.http, &path).status, 200);
    b.signal("KILL");
    b.wait_exit();
    // The call starts while B is down; B is back before the retries run out.
    let http = a.http;
    let p = path.clone();
    let call = std::thread::spawn(move || request(http, "POST", &p, &[], b"late"));
    std::thread::sleep(Duration::from_millis(300));
    let _b = callee.start();
    let r = call.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().ends_with("\n\nlate"), "{}", r.text());
}

/// 100 MiB up and 100 MiB down through two real sidecars, each with a
/// peak RSS far below either body.
#[test]
fn hundred_mib_stream_both_ways_across_sidecars_with_bounded_memory() {
    const N: u64 = 100 * 1024 * 1024;
    let mesh = Mesh::new();
    let (a_id, b_id) = (unique_app_id("ma"), unique_app_id("mb"));
    let app = TestApp::start();
    let b_port = app.port.to_string();
    let b = mesh.daprd(
        &b_id,
        free_port(),
        &["--app-port", &b_port, "--max-body-size", "200Mi"],
        &[],
    );
    let a = mesh.daprd(&a_id, free_port(), &["--max-body-size", "200Mi"], &[]);

    crate::invoke::stream_both_ways(a.http, &b_id, N, Duration::from_secs(120));

    for (who, pid) in [("caller", a.pid()), ("callee", b.pid())] {
        let hwm = peak_rss_kib(pid);
        assert!(
            hwm < 48 * 1024,
            "{who} peak RSS {hwm} KiB for a 100 MiB body"
        );
    }
}

#[test]
fn grpc_invoke_service_and_proxying_reach_the_other_sidecar() {
    let mesh = Mesh::new();
    let (a_id, b_id, c_id) = (
        unique_app_id("ga"),
        unique_app_id("gb"),
        unique_app_id("gc"),
    );
    // B: an HTTP app; C: a gRPC app (AppCallback).
    let app = TestApp::start();
    let b_port = app.port.to_string();
    let b_internal = free_port();
    let _b = mesh.daprd(&b_id, b_internal, &["--app-port", &b_port], &[]);
    let c_port = crate::invoke_grpc::grpc_app().to_string();
    let c = mesh.daprd(
        &c_id,
        free_port(),
        &["--app-port", &c_port, "--app-protocol", "grpc"],
        &[],
    );
    wait_status(c.http, "/v1.0/healthz", 204);
    // A: in-process, so the test knows its gRPC port.
    let flags = mesh.flags(&a_id, free_port(), &[]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let a = InProc::start(&flags, daprd::runtime::Driver::Auto, None);
    let a_grpc = a.grpc();

    // HTTP from A to C's gRPC app: OnInvoke with verb, query, content type.
    let r = request(
        a.http,
        "PUT",
        &format!("/v1.0/invoke/{c_id}/method/orders/7?x=1"),
        &[("content-type", "application/json")],
        b"{}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        format!("orders/7 verb=4 q=x=1 ct=application/json caller={a_id} data={{}}")
    );
    let r = request(
        a.http,
        "POST",
        &format!("/v1.0/invoke/{c_id}/method/fail"),
        &[],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["message"], "no way");
    assert_eq!(r.json()["code"], 7);

    crate::grpc::rt().block_on(async {
        let mut client = Client::connect_with_address(format!("http://{a_grpc}"))
            .await
            .unwrap();
        // InvokeService to B's HTTP app.
        let r = client
            .invoke_service(b_id.as_str(), "echo", any(b"hello"))
            .await
            .unwrap();
        let text = String::from_utf8(r.data.unwrap().value).unwrap();
        assert!(text.starts_with("POST /echo\n"), "{text}");
        assert!(
            text.contains(&format!("dapr-caller-app-id: {a_id}")),
            "{text}"
        );
        assert!(
            text.contains(&format!("dapr-callee-app-id: {b_id}")),
            "{text}"
        );
        assert!(text.ends_with("\n\nhello"), "{text}");
        // B's app's error status → Go's gRPC code, status text as message.
        let err = client
            .invoke_service(b_id.as_str(), "status/404", None)
            .await
            .unwrap_err();
        let dbg = format!("{err:?}");
        assert!(
            dbg.contains("NotFound") && dbg.contains("Not Found"),
            "{dbg}"
        );
        // InvokeService to C's gRPC app: OnInvoke as is, its status unchanged.
        let r = client
            .invoke_service(c_id.as_str(), "hello", any(b"there"))
            .await
            .unwrap();
        let text = String::from_utf8(r.data.unwrap().value).unwrap();
        assert_eq!(
            text,
            format!("hello verb=0 q= ct= caller={a_id} data=there")
        );
        let err = client
            .invoke_service(c_id.as_str(), "fail", None)
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("PermissionDenied"), "{err:?}");
        // An app nobody registered: Go's error.
        let err = client
            .invoke_service("nobody", "echo", None)
            .await
            .unwrap_err();
        let dbg = format!("{err:?}");
        assert!(dbg.contains("no host found with the given ID"), "{dbg}");

        // Transparent proxying: A → C's sidecar → C's app.
        let mut proxied = app_callback_client(a_grpc).await;
        let call = |method: &str, data: Vec<u8>, header: &str| {
            invoke_request(method, Some(&data), &c_id, &[header])
        };
        for header in ["dapr-app-id", "dapr-callee-app-id"] {
            let r = proxied
                .on_invoke(call("m", b"hi".to_vec(), header))
                .await
                .unwrap();
            let text = String::from_utf8(r.into_inner().data.unwrap().value).unwrap();
            assert_eq!(text, format!("m verb=0 q= ct= caller={a_id} data=hi"));
            // As in Go ≥ 1.16 (its `serviceinvocation/grpc/proxy.go`): no
            // `dapr-app-id` reaches C's app; caller and callee ids do.
            let r = proxied
                .on_invoke(call("metadata", Vec::new(), header))
                .await
                .unwrap();
            let text = String::from_utf8(r.into_inner().data.unwrap().value).unwrap();
            assert!(!text.contains("dapr-app-id:"), "{text}");
            assert!(
                text.contains(&format!("dapr-callee-app-id: {c_id}")),
                "{text}"
            );
            assert!(
                text.contains(&format!("dapr-caller-app-id: {a_id}")),
                "{text}"
            );
        }
        // 1 MiB each way, and the app's errors unchanged.
        crate::invoke_grpc::big_and_failing_calls_pass_through(&mut proxied, &c_id).await;

        // A's public gRPC port does not serve the internal service.
        let (_, status) = raw_call(
            a_grpc.port(),
            "/dapr.proto.internals.v1.ServiceInvocation/CallLocal",
            vec![frame(&go_request("echo", 0))],
        )
        .await;
        assert_eq!(status, "12");
        // B's internal port serves only the internal service: not the Dapr API.
        let mut internal = Client::connect_with_address(format!("http://127.0.0.1:{b_internal}"))
            .await
            .unwrap();
        let err = internal.get_metadata().await.unwrap_err();
        assert!(format!("{err:?}").contains("Unimplemented"), "{err:?}");
    });
}

#[test]
fn sidecars_register_in_the_shared_file_as_go_does() {
    let mesh = Mesh::new();
    let id = unique_app_id("reg");
    let internal = free_port();
    let d = mesh.daprd(&id, internal, &[], &[]);
    let db = rusqlite_rows(&mesh.db());
    let row = db
        .iter()
        .find(|r| r.1 == id)
        .unwrap_or_else(|| panic!("{id} not registered: {db:?}"));
    assert_eq!(row.0, format!("127.0.0.1:{internal}"));
    assert_eq!(row.2, "");
    // A graceful shutdown removes the registration.
    d.signal("TERM");
    let mut d = d;
    assert!(d.wait_exit().success());
    let db = rusqlite_rows(&mesh.db());
    assert!(!db.iter().any(|r| r.1 == id), "{db:?}");
}

/// `(address, app_id, namespace)` of every row of `hosts`.
fn rusqlite_rows(path: &std::path::Path) -> Vec<(String, String, String)> {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut q = db
        .prepare("SELECT address, app_id, namespace FROM hosts")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A Go-style peer on B's internal port, over a raw h2 connection: unary
/// `CallLocal`, `CallLocalStream` with the first payload in the leading
/// message and Go's 2 KiB chunks, an out-of-order chunk, and the actor
/// methods this daprd does not serve.
#[test]
fn the_internal_service_speaks_gos_protocol() {
    use prost::Message;

    let mesh = Mesh::new();
    let b_id = unique_app_id("pb");
    let app = TestApp::start();
    let b_port = app.port.to_string();
    let b_internal = free_port();
    let _b = mesh.daprd(&b_id, b_internal, &["--app-port", &b_port], &[]);

    crate::grpc::rt().block_on(async {
        // CallLocal: the data in the message, the whole answer in one message.
        let mut req = go_request("echo", 5);
        req.message.as_mut().unwrap().data = Some(prost_types::Any {
            type_url: String::new(),
            value: b"hello".to_vec(),
        });
        let (msgs, status) = raw_call(
            b_internal,
            "/dapr.proto.internals.v1.ServiceInvocation/CallLocal",
            vec![frame(&req)],
        )
        .await;
        assert_eq!(status, "0");
        let resp = internals::InternalInvokeResponse::decode(&msgs[0][..]).unwrap();
        assert_eq!(resp.status.unwrap().code, 200);
        assert_eq!(resp.headers["X-App"].values, ["yes"]);
        let message = resp.message.unwrap();
        assert_eq!(message.content_type, "text/plain");
        let text = String::from_utf8(message.data.unwrap().value).unwrap();
        assert!(text.starts_with("POST /echo?k=v\n"), "{text}");
        assert!(
            text.contains("x-go: yes") && text.contains("dapr-caller-app-id: goapp"),
            "{text}"
        );
        assert!(text.ends_with("\n\nhello"), "{text}");

        // CallLocalStream as Go sends it: request + chunk 0 first, then 2 KiB chunks.
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut frames = Vec::new();
        for (seq, chunk) in body.chunks(2048).enumerate() {
            frames.push(frame(&internals::InternalInvokeRequestStream {
                request: (seq == 0).then(|| go_request("sink", body.len())),
                payload: Some(common::StreamPayload {
                    data: chunk.to_vec(),
                    seq: seq as u64,
                }),
            }));
        }
        let (msgs, status) = raw_call(
            b_internal,
            "/dapr.proto.internals.v1.ServiceInvocation/CallLocalStream",
            frames,
        )
        .await;
        assert_eq!(status, "0");
        let head = internals::InternalInvokeResponseStream::decode(&msgs[0][..]).unwrap();
        assert_eq!(head.response.unwrap().status.unwrap().code, 200);
        let mut got = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            let m = internals::InternalInvokeResponseStream::decode(&m[..]).unwrap();
            if i > 0 {
                assert!(m.response.is_none());
            }
            if let Some(p) = m.payload {
                got.extend_from_slice(&p.data);
            }
        }
        let sum: u64 = body.iter().map(|&b| b as u64).sum();
        assert_eq!(
            String::from_utf8(got).unwrap(),
            format!("{} {sum}", body.len())
        );

        // A chunk out of sequence never reaches the app as a whole body.
        let frames = vec![
            frame(&internals::InternalInvokeRequestStream {
                request: Some(go_request("sink", 4)),
                payload: Some(common::StreamPayload {
                    data: b"ab".to_vec(),
                    seq: 0,
                }),
            }),
            frame(&internals::InternalInvokeRequestStream {
                request: None,
                payload: Some(common::StreamPayload {
                    data: b"cd".to_vec(),
                    seq: 5,
                }),
            }),
        ];
        let (_, status) = raw_call(
            b_internal,
            "/dapr.proto.internals.v1.ServiceInvocation/CallLocalStream",
            frames,
        )
        .await;
        assert_eq!(status, "13", "INTERNAL: the app call failed");

        // Without a placement address the actor runtime is off: Go's
        // ERR_ACTOR_NO_PLACEMENT (UNAVAILABLE). The public API is not served here.
        let (_, status) = raw_call(
            b_internal,
            "/dapr.proto.internals.v1.ServiceInvocation/CallActor",
            vec![frame(&go_request("x", 0))],
        )
        .await;
        assert_eq!(status, "14");
        let (_, status) = raw_call(
            b_internal,
            "/dapr.proto.runtime.v1.Dapr/GetMetadata",
            vec![frame(&go_request("x", 0))],
        )
        .await;
        assert_eq!(status, "12");
    });
}

// === a raw h2 peer, as a Go sidecar talks ===

/// One length-prefixed gRPC message.
fn frame(m: &impl prost::Message) -> bytes::Bytes {
    let body = m.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out.into()
}

/// A request as a Go caller builds it from an HTTP call.
fn go_request(method: &str, body_len: usize) -> internals::InternalInvokeRequest {
    let md = |v: &str| internals::ListStringValue {
        values: vec![v.to_owned()],
    };
    internals::InternalInvokeRequest {
        ver: 1,
        metadata: [
            ("Content-Length".to_owned(), md(&body_len.to_string())),
            ("X-Go".to_owned(), md("yes")),
            ("dapr-caller-app-id".to_owned(), md("goapp")),
        ]
        .into(),
        message: Some(common::InvokeRequest {
            method: method.into(),
            data: None,
            content_type: "text/plain".into(),
            http_extension: Some(common::HttpExtension {
                verb: common::http_extension::Verb::Post as i32,
                querystring: "k=v".into(),
            }),
        }),
        actor: None,
    }
}

/// Sends `frames` on `path` of the h2c server at `port`; returns the
/// response messages and the `grpc-status`.
async fn raw_call(port: u16, path: &str, frames: Vec<bytes::Bytes>) -> (Vec<bytes::Bytes>, String) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut send = send.ready().await.unwrap();
    let req = http::Request::post(format!("http://127.0.0.1:{port}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (resp, mut body) = send.send_request(req, false).unwrap();
    let n = frames.len();
    for (i, f) in frames.into_iter().enumerate() {
        body.send_data(f, i + 1 == n).unwrap();
    }
    let (head, mut recv) = resp.await.unwrap().into_parts();
    if let Some(s) = head.headers.get("grpc-status") {
        return (Vec::new(), s.to_str().unwrap().to_owned());
    }
    let mut buf = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.unwrap();
        let _ = recv.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
    }
    let status = recv.trailers().await.unwrap().unwrap()["grpc-status"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut out = Vec::new();
    let mut rest = &buf[..];
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        out.push(bytes::Bytes::copy_from_slice(&rest[5..5 + len]));
        rest = &rest[5 + len..];
    }
    (out, status)
}
