//! The gRPC API: the official Rust SDK against the real binary, and a raw
//! h2 client for what no SDK sends.

use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

use crate::harness::*;

type DaprClient = dapr::Client<dapr::client::TonicClientWithAuth>;

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn resources() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/resources")
        .display()
        .to_string()
}

/// The daprd child's gRPC address (the harness gives it a free port).
pub(crate) fn start_with_grpc(extra: &[&str], env: &[(&str, &str)]) -> (Daprd, SocketAddr) {
    let grpc = free_port();
    let port = grpc.to_string();
    let mut args: Vec<&str> = extra.to_vec();
    args.extend(["--dapr-grpc-port", &port]);
    let d = Daprd::start_with_env(&args, env);
    (d, SocketAddr::from(([127, 0, 0, 1], grpc)))
}

async fn sdk(addr: SocketAddr) -> DaprClient {
    DaprClient::connect_with_address(format!("http://{addr}"))
        .await
        .expect("SDK connects")
}

#[test]
fn official_sdk_metadata_and_state() {
    let res = resources();
    let (_d, addr) = start_with_grpc(&["--resources-path", &res], &[]);
    rt().block_on(async {
        let mut c = sdk(addr).await;
        c.set_metadata("cliPID", "4242").await.unwrap();
        let md = c.get_metadata().await.unwrap();
        assert_eq!(md.id, "testapp");
        assert_eq!(
            md.extended_metadata.get("cliPID").map(String::as_str),
            Some("4242")
        );
        assert!(md.runtime_version.starts_with("1.18"));
        let store = md
            .registered_components
            .iter()
            .find(|c| c.name == "statestore")
            .unwrap();
        assert!(store.capabilities.contains(&"ETAG".to_string()));

        // gRPC values are stored as the raw bytes sent.
        c.save_state(
            "statestore",
            "k",
            b"\x00raw bytes".to_vec(),
            None,
            None,
            None,
        )
        .await
        .unwrap();
        let got = c.get_state("statestore", "k", None).await.unwrap();
        assert_eq!(got.data, b"\x00raw bytes");
        assert_eq!(got.etag, "1");
        let missing = c.get_state("statestore", "nope", None).await.unwrap();
        assert!(missing.data.is_empty() && missing.etag.is_empty());
        c.delete_state("statestore", "k", None).await.unwrap();
        assert!(c
            .get_state("statestore", "k", None)
            .await
            .unwrap()
            .data
            .is_empty());

        // A wrong ETag fails with ABORTED, as the Python SDK example expects.
        c.save_state("statestore", "e", b"1".to_vec(), None, None, None)
            .await
            .unwrap();
        let etag = Some(dapr::client::Etag { value: "9".into() });
        let err = c
            .save_state("statestore", "e", b"2".to_vec(), etag, None, None)
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("Aborted"), "{err:?}");
        // Unknown store: INVALID_ARGUMENT with the Dapr message.
        let err = c.get_state("nostore", "k", None).await.unwrap_err();
        let text = format!("{err:?}");
        assert!(
            text.contains("InvalidArgument") && text.contains("state store nostore is not found"),
            "{text}"
        );
    });
}

#[test]
fn delete_bulk_state_deletes_every_key() {
    let res = resources();
    let (_d, addr) = start_with_grpc(&["--resources-path", &res], &[]);
    rt().block_on(async {
        let mut c = sdk(addr).await;
        for k in ["a", "b", "c"] {
            c.save_state("statestore", k, b"v".to_vec(), None, None, None)
                .await
                .unwrap();
        }
        c.delete_bulk_state("statestore", [("a", Vec::new()), ("b", Vec::new())])
            .await
            .unwrap();
        for (k, kept) in [("a", false), ("b", false), ("c", true)] {
            let got = c.get_state("statestore", k, None).await.unwrap();
            assert_eq!(!got.data.is_empty(), kept, "{k}");
        }
        let err = c
            .delete_bulk_state("nostore", [("a", Vec::new())])
            .await
            .unwrap_err();
        let text = format!("{err:?}");
        assert!(text.contains("state store nostore is not found"), "{text}");
    });
}

#[test]
fn api_token_on_grpc() {
    let (_d, addr) = start_with_grpc(&[], &[("DAPR_API_TOKEN", "s3cret")]);
    rt().block_on(async {
        assert_eq!(metadata_status(addr).await, 16, "UNAUTHENTICATED");
        let (status, _, body) = raw_call(
            addr,
            "/dapr.proto.runtime.v1.Dapr/GetMetadata",
            &[("dapr-api-token", "s3cret")],
            &frame(&[]),
        )
        .await;
        assert_eq!(status, 0);
        let md = daprd::proto::dapr::proto::runtime::v1::GetMetadataResponse::decode(body.unwrap())
            .unwrap();
        assert_eq!(md.id, "testapp");
    });
}

#[test]
fn unknown_and_unbuilt_methods_are_unimplemented() {
    let (_d, addr) = start_with_grpc(&[], &[]);
    rt().block_on(async {
        let (status, msg, _) =
            raw_call(addr, "/dapr.proto.runtime.v1.Dapr/NoSuchMethod", &[], &[]).await;
        assert_eq!(status, 12);
        assert!(msg.contains("unknown method NoSuchMethod"), "{msg}");
        let (status, msg, _) = raw_call(addr, "/foo.Bar/Baz", &[], &[]).await;
        assert_eq!(status, 12);
        assert!(msg.contains("unknown service foo.Bar"), "{msg}");
        let (status, msg, _) = raw_call(
            addr,
            "/dapr.proto.runtime.v1.Dapr/EncryptAlpha1",
            &[],
            &frame(&[]),
        )
        .await;
        assert_eq!(status, 12);
        assert!(msg.contains("EncryptAlpha1"), "{msg}");
    });
}

#[test]
fn oversized_truncated_and_garbage_messages() {
    let (d, addr) = start_with_grpc(&["--max-body-size", "1Ki"], &[]);
    rt().block_on(async {
        let path = "/dapr.proto.runtime.v1.Dapr/SetMetadata";
        let big = daprd::proto::dapr::proto::runtime::v1::SetMetadataRequest {
            key: "k".into(),
            value: "x".repeat(4096),
        };
        let (status, _, _) = raw_call(addr, path, &[], &frame(&big.encode_to_vec())).await;
        assert_eq!(status, 8, "RESOURCE_EXHAUSTED");
        // Truncated: the prefix promises 100 bytes, 3 arrive.
        let (status, _, _) = raw_call(addr, path, &[], &[0, 0, 0, 0, 100, 1, 2, 3]).await;
        assert_eq!(status, 13);
        // Not a protobuf message.
        let (status, _, _) = raw_call(addr, path, &[], &frame(&[0xff, 0xff, 0xff])).await;
        assert_eq!(status, 3, "INVALID_ARGUMENT");
        // Still serving.
        assert_eq!(metadata_status(addr).await, 0);
    });
    assert_eq!(get(d.http, "/v1.0/healthz").status, 204);
}

#[test]
fn a_thousand_concurrent_streams_on_one_connection() {
    let (_d, addr) = start_with_grpc(&[], &[]);
    rt().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        // h2's client guards against floods of small DATA frames it has not
        // read yet; 1000 buffered responses need a budget to match.
        let (client, conn) = h2::client::Builder::new()
            .data_frame_budget(4 << 20)
            .handshake::<_, Bytes>(tcp)
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut calls = Vec::new();
        for _ in 0..1000 {
            let mut client = client.clone().ready().await.unwrap();
            let (resp, mut send) = client
                .send_request(
                    grpc_request("/dapr.proto.runtime.v1.Dapr/GetMetadata", &[]),
                    false,
                )
                .unwrap();
            send.send_data(frame(&[]), true).unwrap();
            calls.push(resp);
        }
        let mut ok = 0;
        for resp in calls {
            let (status, _, _) = read_grpc(resp.await.unwrap()).await;
            if status == 0 {
                ok += 1;
            }
        }
        assert_eq!(ok, 1000);
    });
}

// === raw h2 client ===

/// The grpc-status of a plain GetMetadata call on a new connection.
async fn metadata_status(addr: SocketAddr) -> u32 {
    raw_call(
        addr,
        "/dapr.proto.runtime.v1.Dapr/GetMetadata",
        &[],
        &frame(&[]),
    )
    .await
    .0
}

/// The types of the HTTP/2 frames in `buf` (9-byte headers, 24-bit lengths).
fn frame_types(mut buf: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while buf.len() >= 9 {
        let len = (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
        types.push(buf[3]);
        buf = &buf[(9 + len).min(buf.len())..];
    }
    types
}

pub(crate) fn frame(msg: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + msg.len());
    b.put_u8(0);
    b.put_u32(msg.len() as u32);
    b.extend_from_slice(msg);
    b.freeze()
}

pub(crate) fn grpc_request(path: &str, headers: &[(&str, &str)]) -> http::Request<()> {
    let mut b = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap()
}

/// One unary call: (grpc-status, grpc-message, response message).
async fn raw_call(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u32, String, Option<Bytes>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let (resp, mut send) = client
        .send_request(grpc_request(path, headers), false)
        .unwrap();
    send.send_data(Bytes::copy_from_slice(body), true).unwrap();
    read_grpc(resp.await.unwrap()).await
}

async fn read_grpc(resp: http::Response<h2::RecvStream>) -> (u32, String, Option<Bytes>) {
    let status_of = |h: &http::HeaderMap| -> Option<(u32, String)> {
        let s = h.get("grpc-status")?.to_str().ok()?.parse().ok()?;
        let m = h
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let m = percent_encoding::percent_decode_str(m)
            .decode_utf8_lossy()
            .into_owned();
        Some((s, m))
    };
    if let Some((s, m)) = status_of(resp.headers()) {
        return (s, m, None);
    }
    let mut body = resp.into_body();
    let mut data = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.unwrap().unwrap_or_default();
    let (s, m) = status_of(&trailers).expect("grpc-status trailer");
    let msg = (data.len() >= 5).then(|| data.freeze().slice(5..));
    (s, m, msg)
}

#[test]
fn malformed_h2_frames_close_only_that_connection() {
    use std::io::{Read, Write};
    let (_d, addr) = start_with_grpc(&[], &[]);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    s.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap(); // empty SETTINGS
                                                        // HEADERS on stream 1 whose HPACK block is garbage.
    s.write_all(&[0, 0, 4, 1, 0x05, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf); // the server answers GOAWAY and closes
    assert!(
        frame_types(&buf).contains(&7),
        "expected a GOAWAY, got {buf:?}"
    );
    // A frame larger than the peer allows.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    s.write_all(&[0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1]).unwrap();
    let _ = s.read_to_end(&mut Vec::new());
    rt().block_on(async {
        assert_eq!(metadata_status(addr).await, 0, "a new connection is served");
    });
}

#[test]
fn slow_reader_of_a_large_response_does_not_block_others() {
    let res = resources();
    let (_d, addr) = start_with_grpc(&["--resources-path", &res], &[]);
    rt().block_on(async {
        use daprd::proto::dapr::proto::runtime::v1 as pb;
        let mut c = sdk(addr).await;
        for i in 0..3 {
            c.save_state(
                "statestore",
                &format!("big{i}"),
                vec![b'a' + i as u8; 1 << 20],
                None,
                None,
                None,
            )
            .await
            .unwrap();
        }
        // A client with a 1 KiB window that reads slowly.
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::Builder::new()
            .initial_window_size(1024)
            .handshake::<_, Bytes>(tcp)
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = pb::GetBulkStateRequest {
            store_name: "statestore".into(),
            keys: vec!["big0".into(), "big1".into(), "big2".into()],
            ..Default::default()
        };
        let mut client = client.ready().await.unwrap();
        let (resp, mut send) = client
            .send_request(
                grpc_request("/dapr.proto.runtime.v1.Dapr/GetBulkState", &[]),
                false,
            )
            .unwrap();
        send.send_data(frame(&req.encode_to_vec()), true).unwrap();
        let mut body = resp.await.unwrap().into_body();
        let first = body.data().await.unwrap().unwrap();
        assert!(!first.is_empty());
        // While it stalls, other calls are answered.
        for _ in 0..20 {
            assert_eq!(metadata_status(addr).await, 0);
        }
        // Now read the rest; every byte arrives.
        let mut data = BytesMut::from(&first[..]);
        let _ = body.flow_control().release_capacity(first.len());
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let trailers = body.trailers().await.unwrap().unwrap();
        assert_eq!(trailers.get("grpc-status").unwrap(), "0");
        let out = pb::GetBulkStateResponse::decode(&data[5..]).unwrap();
        assert_eq!(out.items.len(), 3);
        assert!(out.items.iter().all(|i| i.data.len() == 1 << 20));
        assert_eq!(out.items[2].data[0], b'c');
    });
}

#[test]
fn configuration_api_lists_apply_to_both_protocols() {
    let dir = std::env::temp_dir().join(format!("daprd-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.yaml");
    std::fs::write(
        &cfg,
        "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: appconfig\nspec:\n  api:\n    denied:\n    - name: metadata\n      version: v1\n      protocol: http\n    - name: state\n      version: v1\n      protocol: grpc\n",
    )
    .unwrap();
    let res = resources();
    let cfg_s = cfg.display().to_string();
    let (d, addr) = start_with_grpc(&["--resources-path", &res, "--config", &cfg_s], &[]);
    // HTTP: the denied route does not exist (falls through, as an unknown path).
    let r = get(d.http, "/v1.0/metadata");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    assert_eq!(get(d.http, "/v1.0/healthz").status, 204);
    assert_eq!(get(d.http, "/v1.0/state/statestore/k").status, 204);
    rt().block_on(async {
        let (status, msg, _) = raw_call(
            addr,
            "/dapr.proto.runtime.v1.Dapr/GetState",
            &[],
            &frame(&[]),
        )
        .await;
        assert_eq!(status, 12);
        assert_eq!(msg, "requested endpoint is not available");
        assert_eq!(metadata_status(addr).await, 0);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// `grpc-timeout` bounds a unary call (Go: the call's context deadline): an
/// InvokeService to an app method slower than the deadline ends with
/// DEADLINE_EXCEEDED; one within a generous deadline succeeds.
#[test]
fn grpc_timeout_bounds_a_unary_call() {
    use daprd::proto::dapr::proto::common::v1 as common;
    use daprd::proto::dapr::proto::runtime::v1 as pb;
    let app = crate::app::TestApp::start();
    let port = app.port.to_string();
    let (_d, addr) = start_with_grpc(&["--app-port", &port], &[]);
    let slow = pb::InvokeServiceRequest {
        id: "testapp".into(),
        message: Some(common::InvokeRequest {
            method: "slow".into(),
            http_extension: Some(common::HttpExtension {
                verb: common::http_extension::Verb::Get as i32,
                querystring: String::new(),
            }),
            ..Default::default()
        }),
    };
    let body = frame(&slow.encode_to_vec());
    let path = "/dapr.proto.runtime.v1.Dapr/InvokeService";
    rt().block_on(async {
        // The app answers /slow after 300 ms.
        let (status, msg, _) = raw_call(addr, path, &[("grpc-timeout", "50m")], &body).await;
        assert_eq!((status, msg.as_str()), (4, "context deadline exceeded"));
        let (status, msg, reply) = raw_call(addr, path, &[("grpc-timeout", "10S")], &body).await;
        assert_eq!(status, 0, "{msg}");
        let reply = common::InvokeResponse::decode(reply.expect("a reply")).unwrap();
        assert_eq!(reply.data.map(|a| a.value), Some(b"slow".to_vec()));
    });
}
