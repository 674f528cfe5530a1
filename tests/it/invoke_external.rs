//! Service invocation of external endpoints through the real binary:
//! HTTPEndpoint resources (plain HTTP, and HTTPS with a test CA and a
//! client certificate made with the `openssl` command), URLs as the app id
//! in the path (percent-encoded and not) and in `dapr-app-id`, headers
//! both ways (the endpoint's, `secretKeyRef` ones included), bodies
//! streamed both ways, and Go's errors; gRPC `InvokeService` (the
//! `dapr` crate's client) to an endpoint and to a URL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use crate::harness::*;
use crate::services;

/// One request as the external server saw it.
#[derive(Debug)]
struct Seen {
    method: String,
    target: String,
    /// Lower-case names, in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Serves requests on `s` until it closes: each is reported on `tx` and
/// answered `201` (or `n` for a path ending in `/status/<n>`) with
/// `x-ext: yes`, `content-type: text/echo` and the request body echoed
/// back in 16 KiB chunks (chunked).
fn serve<S: Read + Write>(s: S, tx: &mpsc::Sender<Seen>) {
    let mut r = BufReader::new(s);
    loop {
        let Some(crate::harness::RequestHead {
            method,
            target,
            headers,
        }) = crate::harness::read_request_head(&mut r)
        else {
            return;
        };
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let mut size = String::new();
                r.read_line(&mut size).unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap();
                let mut chunk = vec![0; n + 2];
                r.read_exact(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = get("content-length") {
            body.resize(n.parse().unwrap(), 0);
            r.read_exact(&mut body).unwrap();
        }
        let path = target.split('?').next().unwrap_or_default();
        let status = match path.rsplit_once("/status/") {
            Some((_, n)) => format!("{n} Status"),
            None => "201 Created".to_owned(),
        };
        let mut out = format!("HTTP/1.1 {status}\r\nx-ext: yes\r\ncontent-type: text/echo\r\ntransfer-encoding: chunked\r\n\r\n").into_bytes();
        for c in body.chunks(16 * 1024) {
            out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        let _ = tx.send(Seen {
            method,
            target,
            headers,
            body,
        });
        if r.get_mut().write_all(&out).is_err() {
            return;
        }
        let _ = r.get_mut().flush();
    }
}

/// A plain HTTP echo server on a free port.
fn http_server() -> (u16, mpsc::Receiver<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().map_while(Result::ok) {
            let tx = tx.clone();
            std::thread::spawn(move || serve(s, &tx));
        }
    });
    (port, rx)
}

fn next(rx: &mpsc::Receiver<Seen>) -> Seen {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the external server got no request")
}

fn dir_with(files: &[(&str, String)]) -> PathBuf {
    let dir = services::temp_dir("daprd-httpendpoints");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

fn endpoint(name: &str, spec: &str, extra: &str) -> String {
    format!("apiVersion: dapr.io/v1alpha1\nkind: HTTPEndpoint\nmetadata:\n  name: {name}\nspec:\n{spec}{extra}")
}

#[test]
fn http_endpoint_resource_gets_the_call_with_go_headers_and_streamed_bodies() {
    let (port, rx) = http_server();
    let down = free_port();
    let dir = dir_with(&[(
        "secrets.json",
        r#"{"tokens": {"api": "Bearer s3cret"}}"#.into(),
    )]);
    let secrets_file = dir.join("secrets.json").display().to_string();
    let resources = format!(
        "{}\n---\n{}\n---\n{}\n---\n{}",
        format_args!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: files\nspec:\n  type: secretstores.local.file\n  version: v1\n  metadata:\n  - name: secretsFile\n    value: {secrets_file}\n  - name: nestedSeparator\n    value: \".\"\n"
        ),
        endpoint(
            "ext",
            &format!("  baseUrl: http://127.0.0.1:{port}/base\n  headers:\n  - name: X-Static\n    value: from-endpoint\n  - name: Authorization\n    secretKeyRef:\n      name: tokens.api\n      key: tokens.api\n"),
            "auth:\n  secretStore: files\n",
        ),
        endpoint("down", &format!("  baseUrl: http://127.0.0.1:{down}\n"), ""),
        endpoint("elsewhere", "  baseUrl: http://127.0.0.1:1\n", "scopes: [another-app]\n"),
    );
    std::fs::write(dir.join("endpoints.yaml"), resources).unwrap();
    // An app that is down with health checks on: external calls are not gated.
    let app_port = free_port().to_string();
    let d = Daprd::start(&[
        "--resources-path",
        dir.to_str().unwrap(),
        "--app-port",
        &app_port,
        "--enable-app-health-check",
    ]);

    // The local app is gated (the gate is really closed) …
    let r = request(d.http, "GET", "/v1.0/invoke/testapp/method/m", &[], b"");
    assert!(
        r.status == 500 && r.text().contains("app is not in a healthy state"),
        "{}",
        r.text()
    );

    // … the endpoint is not. Path form, body with a content-length (300 KiB: streamed back).
    let body: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    let r = request(
        d.http,
        "POST",
        "/v1.0/invoke/ext/method/echo/x?q=1&r=2",
        &[
            ("x-caller", "c"),
            ("x-static", "from-caller"),
            ("content-type", "application/octet-stream"),
        ],
        &body,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("x-ext"), Some("yes"));
    assert_eq!(r.header("content-type"), Some("text/echo"));
    assert!(r.body == body, "the echoed body differs");
    let seen = next(&rx);
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.target, "/base/echo/x?q=1&r=2");
    assert_eq!(
        seen.header("host"),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    assert_eq!(seen.header("x-caller"), Some("c"));
    assert_eq!(seen.header("x-static"), Some("from-endpoint"));
    assert_eq!(seen.header("authorization"), Some("Bearer s3cret"));
    assert_eq!(
        seen.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(seen.header("traceparent").is_some(), "{:?}", seen.headers);
    for absent in [
        "dapr-app-id",
        "dapr-caller-app-id",
        "dapr-callee-app-id",
        "dapr-api-token",
    ] {
        assert_eq!(seen.header(absent), None, "{absent} was sent");
    }
    assert!(seen.body == body);

    // Header form, a chunked (streamed) request body, the caller's traceparent kept.
    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let mut c = Conn::open(d.http);
    let mut raw = format!("PUT /echo/y HTTP/1.1\r\nhost: x\r\ndapr-app-id: ext\r\ntraceparent: {tp}\r\ntransfer-encoding: chunked\r\n\r\n").into_bytes();
    for part in [&b"hello "[..], b"streamed ", b"world"] {
        raw.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        raw.extend_from_slice(part);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    c.send_raw(&raw);
    let r = c.read_response(false);
    assert_eq!((r.status, r.text().as_str()), (201, "hello streamed world"));
    let seen = next(&rx);
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("PUT", "/base/echo/y")
    );
    assert_eq!(seen.header("traceparent"), Some(tp));
    assert_eq!(seen.header("dapr-app-id"), None);

    // Metadata lists the endpoints in scope.
    let md = get(d.http, "/v1.0/metadata").json();
    assert_eq!(
        md["httpEndpoints"],
        serde_json::json!([{"name": "down"}, {"name": "ext"}])
    );

    // Nobody listening: Go's client error.
    let r = request(d.http, "POST", "/v1.0/invoke/down/method/m", &[], b"x");
    assert_eq!(r.status, 500);
    let j = r.json();
    assert_eq!(j["errorCode"], "ERR_DIRECT_INVOKE");
    assert_eq!(
        j["message"],
        format!("failed to invoke, id: down, err: Post \"http://127.0.0.1:{down}/m\": dial tcp 127.0.0.1:{down}: connect: connection refused")
    );

    // An endpoint scoped to another app is an app id (the unhealthy local app is not it either).
    let r = request(d.http, "GET", "/v1.0/invoke/elsewhere/method/m", &[], b"");
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("127.0.0.1:1/"), "{}", r.text());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn urls_as_the_app_id_reach_the_server_in_every_form() {
    let (port, rx) = http_server();
    let d = Daprd::start(&[]);
    let encoded = format!("/v1.0/invoke/http%3A%2F%2F127.0.0.1%3A{port}/method/a/b?x=1");
    let plain = format!("/v1.0/invoke/http://127.0.0.1:{port}/method/c/./d");
    for (path, want) in [(encoded.as_str(), "/a/b?x=1"), (plain.as_str(), "/c/d")] {
        let r = request(d.http, "POST", path, &[("x-k", "v")], b"payload");
        assert_eq!((r.status, r.text().as_str()), (201, "payload"), "{path}");
        let seen = next(&rx);
        assert_eq!(seen.target, want);
        assert_eq!(seen.header("x-k"), Some("v"));
        assert_eq!(
            seen.header("host"),
            Some(format!("127.0.0.1:{port}").as_str())
        );
    }
    let url = format!("http://127.0.0.1:{port}");
    let r = request(d.http, "DELETE", "/items/7", &[("dapr-app-id", &url)], b"");
    assert_eq!(r.status, 201, "{}", r.text());
    let seen = next(&rx);
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("DELETE", "/items/7")
    );
    assert_eq!(seen.header("dapr-app-id"), None);

    // A URL that is no URL.
    let r = request(
        d.http,
        "GET",
        "/v1.0/invoke/http%3A%2F%2F%3A80/method/m",
        &[],
        b"",
    );
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
}

// === HTTPS ===

fn openssl_available(test: &str) -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    services::available("the openssl command", ok, test)
}

/// A test CA, a server certificate for 127.0.0.1 and a client certificate.
fn make_certs(dir: &std::path::Path) {
    let run = |args: &str| {
        let out = Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run("req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=daprd-endpoint-ca");
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    for (name, cn) in [("server", "localhost"), ("client", "daprd")] {
        run(&format!(
            "req -newkey rsa:2048 -nodes -keyout {name}.key -out {name}.csr -subj /CN={cn}"
        ));
        run(&format!("x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out {name}.pem -days 2 -extfile {name}.ext"));
    }
}

/// An HTTPS echo server requiring a client certificate from the test CA.
fn https_server(dir: &std::path::Path) -> (u16, mpsc::Receiver<Seen>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().map_while(Result::ok) {
            let (tx, config) = (tx.clone(), config.clone());
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                serve(rustls::StreamOwned::new(conn, s), &tx);
            });
        }
    });
    (port, rx)
}

#[test]
fn https_endpoint_with_a_test_ca_and_a_client_certificate() {
    const TEST: &str = "https_endpoint_with_a_test_ca_and_a_client_certificate";
    if !openssl_available(TEST) {
        return;
    }
    let dir = services::temp_dir("daprd-httpendpoints-tls");
    make_certs(&dir);
    let (port, rx) = https_server(&dir);
    let pem = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap()
            .replace('\n', "\\n")
    };
    let base = format!("  baseUrl: https://127.0.0.1:{port}\n");
    let resources = [
        endpoint(
            "secure",
            &format!(
                "{base}  clientTLS:\n    rootCA:\n      value: \"{}\"\n    certificate:\n      value: \"{}\"\n    privateKey:\n      value: \"{}\"\n",
                pem("ca.pem"),
                pem("client.pem"),
                pem("client.key")
            ),
            "",
        ),
        endpoint(
            "nocert",
            &format!("{base}  clientTLS:\n    rootCA:\n      value: \"{}\"\n", pem("ca.pem")),
            "",
        ),
        endpoint("noca", &base, ""),
    ]
    .join("\n---\n");
    std::fs::write(dir.join("endpoints.yaml"), resources).unwrap();
    let d = Daprd::start(&["--resources-path", dir.to_str().unwrap()]);

    let r = request(
        d.http,
        "POST",
        "/v1.0/invoke/secure/method/tls/echo",
        &[("x-k", "v")],
        b"over tls",
    );
    assert_eq!((r.status, r.text().as_str()), (201, "over tls"));
    let seen = next(&rx);
    assert_eq!(seen.target, "/tls/echo");
    assert_eq!(seen.header("x-k"), Some("v"));
    // Kept alive: a second call on the pooled connection.
    let r = request(d.http, "GET", "/v1.0/invoke/secure/method/again", &[], b"");
    assert_eq!(r.status, 201);
    assert_eq!(next(&rx).target, "/again");

    // The server's CA is not among the system's roots.
    let r = request(d.http, "GET", "/v1.0/invoke/noca/method/m", &[], b"");
    assert_eq!(r.status, 500);
    let msg = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with(&format!(
            "failed to invoke, id: noca, err: Get \"https://127.0.0.1:{port}/m\": tls: "
        )),
        "{msg}"
    );
    // The server wants a client certificate.
    let r = request(d.http, "GET", "/v1.0/invoke/nocert/method/m", &[], b"");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    assert!(
        rx.try_recv().is_err(),
        "no request got through without the client certificate"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unusable_http_endpoints_fail_start_up_naming_them() {
    for (spec, extra, want) in [
        (
            "  baseUrl: ftp://x\n",
            "",
            "must start with http:// or https://",
        ),
        (
            "  baseUrl: http://x\n  headers:\n  - name: A\n    secretKeyRef: {name: s, key: k}\n",
            "",
            "has no auth.secretStore",
        ),
        (
            "  baseUrl: https://x\n  clientTLS:\n    rootCA: {value: nope}\n",
            "",
            "failed to add root cert to cert pool for http endpoint bad",
        ),
    ] {
        let dir = dir_with(&[("e.yaml", endpoint("bad", spec, extra))]);
        let out = failed_start_up("badendpoint", &dir);
        assert!(out.contains(want) && out.contains("bad"), "{out}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn grpc_invoke_service_reaches_endpoints_and_urls() {
    use dapr::dapr::proto::common::v1 as common;
    use dapr::dapr::proto::runtime::v1 as rt;
    use rt::dapr_client::DaprClient;

    let (port, rx) = http_server();
    let down = free_port();
    let dir = dir_with(&[(
        "ext.yaml",
        endpoint(
            "ext",
            &format!("  baseUrl: http://127.0.0.1:{port}/api\n"),
            "  headers:\n  - name: x-token\n    value: abc\n",
        ),
    )]);
    let d = Daprd::start(&["--resources-path", &dir.display().to_string()]);
    let request = |id: &str, method: &str, ext: Option<(common::http_extension::Verb, &str)>| {
        let mut r = tonic::Request::new(rt::InvokeServiceRequest {
            id: id.into(),
            message: Some(common::InvokeRequest {
                method: method.into(),
                data: Some(prost_types::Any {
                    type_url: String::new(),
                    value: b"hello".to_vec(),
                }),
                content_type: "text/plain".into(),
                http_extension: ext.map(|(verb, q)| common::HttpExtension {
                    verb: verb as i32,
                    querystring: q.into(),
                }),
            }),
        });
        r.metadata_mut().insert("x-caller", "me".parse().unwrap());
        r.metadata_mut()
            .insert("x-token", "caller's".parse().unwrap());
        r
    };
    crate::grpc::rt().block_on(async {
        let mut c = DaprClient::connect(format!("http://{}", d.grpc))
            .await
            .unwrap();

        // An HTTPEndpoint by name: verb and query from `http_extension`,
        // the caller's metadata as headers, the endpoint's over them.
        let verb = common::http_extension::Verb::Put;
        let r = c
            .invoke_service(request("ext", "orders/1", Some((verb, "a=1&b=2"))))
            .await
            .unwrap();
        let seen = next(&rx);
        assert_eq!(seen.method, "PUT");
        assert_eq!(seen.target, "/api/orders/1?a=1&b=2");
        assert_eq!(seen.body, b"hello");
        assert_eq!(seen.header("content-type"), Some("text/plain"));
        assert_eq!(seen.header("x-caller"), Some("me"));
        assert_eq!(seen.header("x-token"), Some("abc"));
        assert!(seen.header("traceparent").is_some(), "{seen:?}");
        for h in ["dapr-app-id", "dapr-caller-app-id", "dapr-callee-app-id", "te"] {
            assert_eq!(seen.header(h), None, "{h} in {seen:?}");
        }
        // The answer as an HTTP app's: headers as metadata (Go prefixes
        // permanent names), the status in `dapr-http-status`.
        let md = r.metadata();
        assert_eq!(md.get("dapr-http-status").unwrap(), "201");
        assert_eq!(md.get("x-ext").unwrap(), "yes");
        assert_eq!(md.get("dapr-content-type").unwrap(), "text/echo");
        let body = r.into_inner();
        assert_eq!(body.content_type, "text/echo");
        assert_eq!(body.data.unwrap().value, b"hello");

        // A URL as the id; no `http_extension`: POST, as for HTTP apps. A
        // non-2xx answer is Go's gRPC error for that status.
        let url = format!("http://127.0.0.1:{port}");
        let err = c
            .invoke_service(request(&url, "/x/status/404", None))
            .await
            .unwrap_err();
        let seen = next(&rx);
        assert_eq!((seen.method.as_str(), seen.target.as_str()), ("POST", "/x/status/404"));
        assert_eq!(seen.header("x-token"), Some("caller's"));
        assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
        assert_eq!(err.message(), "Not Found");
        assert_eq!(err.metadata().get("dapr-http-status").unwrap(), "404");
        let err = c
            .invoke_service(request(&url, "status/503", None))
            .await
            .unwrap_err();
        next(&rx);
        assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");

        // Nobody listening: Go's client text.
        let dead = format!("http://127.0.0.1:{down}");
        let err = c
            .invoke_service(request(&dead, "m", None))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
        assert_eq!(
            err.message(),
            format!("failed to invoke, id: {dead}, err: Post \"{dead}/m\": dial tcp 127.0.0.1:{down}: connect: connection refused")
        );
    });
}
