//! gRPC server reflection against the real binary: a raw h2 client holds one
//! `ServerReflectionInfo` stream open and asks several questions on it, as
//! grpcurl does.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use daprd::proto::grpc::reflection::v1 as pb;
use pb::server_reflection_request::MessageRequest;
use pb::server_reflection_response::MessageResponse;
use prost::Message;
use prost_types::FileDescriptorProto;

use crate::grpc::{frame, grpc_request, rt, start_with_grpc};
use crate::harness::WAIT;

const V1: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
const V1ALPHA: &str = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

/// One open bidi stream (reflection here; streaming subscriptions reuse it).
pub(crate) struct Stream {
    send: h2::SendStream<Bytes>,
    response: Option<h2::client::ResponseFuture>,
    body: Option<h2::RecvStream>,
    buf: BytesMut,
}

impl Stream {
    pub(crate) async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Stream {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        let (response, send) = client
            .send_request(grpc_request(path, headers), false)
            .unwrap();
        Stream {
            send,
            response: Some(response),
            body: None,
            buf: BytesMut::new(),
        }
    }

    fn send(&mut self, q: MessageRequest) {
        let req = pb::ServerReflectionRequest {
            host: "localhost".into(),
            message_request: Some(q),
        };
        self.send
            .send_data(frame(&req.encode_to_vec()), false)
            .unwrap();
    }

    /// The response headers; `Err(grpc-status)` for a trailers-only answer.
    async fn headers(&mut self) -> Result<(), u32> {
        if let Some(resp) = self.response.take() {
            let resp = tokio::time::timeout(WAIT, resp).await.unwrap().unwrap();
            if let Some(s) = resp.headers().get("grpc-status") {
                return Err(s.to_str().unwrap().parse().unwrap());
            }
            self.body = Some(resp.into_body());
        }
        Ok(())
    }

    /// Sends any message.
    pub(crate) fn send_msg<M: Message>(&mut self, m: &M) {
        self.send
            .send_data(frame(&m.encode_to_vec()), false)
            .unwrap();
    }

    /// The next response message.
    async fn recv(&mut self) -> pb::ServerReflectionResponse {
        self.recv_msg().await
    }

    /// The next response message, as `M`.
    pub(crate) async fn recv_msg<M: Message + Default>(&mut self) -> M {
        self.headers().await.expect("a response, not trailers-only");
        let body = self.body.as_mut().unwrap();
        loop {
            if self.buf.len() >= 5 {
                let len = u32::from_be_bytes(self.buf[1..5].try_into().unwrap()) as usize;
                if self.buf.len() >= 5 + len {
                    assert_eq!(self.buf[0], 0, "uncompressed");
                    self.buf.advance(5);
                    let msg = self.buf.split_to(len);
                    return M::decode(&msg[..]).unwrap();
                }
            }
            let chunk = tokio::time::timeout(WAIT, body.data())
                .await
                .expect("a response in time")
                .expect("the stream is still open")
                .unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            self.buf.extend_from_slice(&chunk);
        }
    }

    async fn ask(&mut self, q: MessageRequest) -> MessageResponse {
        self.send(q.clone());
        let r = self.recv().await;
        assert_eq!(r.valid_host, "localhost");
        assert_eq!(r.original_request.unwrap().message_request, Some(q));
        r.message_response.unwrap()
    }

    /// Half-closes and returns the final grpc-status.
    pub(crate) async fn close(mut self) -> u32 {
        self.send.send_data(Bytes::new(), true).unwrap();
        self.finish().await
    }

    /// Reads to the end of the stream: the grpc-status trailer.
    pub(crate) async fn finish(mut self) -> u32 {
        if let Err(status) = self.headers().await {
            return status;
        }
        let mut body = self.body.take().unwrap();
        while let Some(chunk) = tokio::time::timeout(WAIT, body.data()).await.unwrap() {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            self.buf.extend_from_slice(&chunk);
        }
        assert!(self.buf.is_empty(), "no partial message left");
        let trailers = body.trailers().await.unwrap().expect("trailers");
        trailers["grpc-status"].to_str().unwrap().parse().unwrap()
    }
}

fn services(r: MessageResponse) -> Vec<String> {
    let MessageResponse::ListServicesResponse(l) = r else {
        panic!("not a service list: {r:?}");
    };
    l.service.into_iter().map(|s| s.name).collect()
}

fn files(r: MessageResponse) -> Vec<FileDescriptorProto> {
    let MessageResponse::FileDescriptorResponse(f) = r else {
        panic!("not a file response: {r:?}");
    };
    f.file_descriptor_proto
        .iter()
        .map(|b| FileDescriptorProto::decode(&b[..]).unwrap())
        .collect()
}

fn error_code(r: MessageResponse) -> i32 {
    let MessageResponse::ErrorResponse(e) = r else {
        panic!("not an error: {r:?}");
    };
    assert!(!e.error_message.is_empty());
    e.error_code
}

fn symbol(s: &str) -> MessageRequest {
    MessageRequest::FileContainingSymbol(s.into())
}

fn list() -> MessageRequest {
    MessageRequest::ListServices("*".into())
}

const SERVED: [&str; 3] = [
    "dapr.proto.runtime.v1.Dapr",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

#[test]
fn list_and_describe_the_dapr_service_on_one_stream() {
    let (_d, addr) = start_with_grpc(&[], &[]);
    rt().block_on(async {
        let mut s = Stream::open(addr, V1, &[]).await;
        assert_eq!(services(s.ask(list()).await), SERVED);

        // The file defining the service, then every file it imports,
        // transitively: a client can build the whole service from them.
        let got = files(s.ask(symbol("dapr.proto.runtime.v1.Dapr")).await);
        assert_eq!(got[0].name(), "dapr/proto/runtime/v1/dapr.proto");
        let service = got[0].service.iter().find(|s| s.name() == "Dapr").unwrap();
        assert!(service.method.iter().any(|m| m.name() == "GetState"));
        let names: Vec<&str> = got.iter().map(|f| f.name()).collect();
        for f in &got {
            for dep in &f.dependency {
                assert!(names.contains(&dep.as_str()), "{dep} missing: {names:?}");
            }
        }
        for dep in [
            "dapr/proto/runtime/v1/state.proto",
            "dapr/proto/common/v1/common.proto",
            "google/protobuf/any.proto",
        ] {
            assert!(names.contains(&dep), "{dep} missing: {names:?}");
        }

        // A message type, named with a leading dot, on the same stream.
        let got = files(
            s.ask(symbol(".dapr.proto.runtime.v1.GetStateRequest"))
                .await,
        );
        assert_eq!(got[0].name(), "dapr/proto/runtime/v1/state.proto");
        let got = files(
            s.ask(MessageRequest::FileByFilename(
                "google/protobuf/empty.proto".into(),
            ))
            .await,
        );
        assert_eq!(got[0].name(), "google/protobuf/empty.proto");
        assert_eq!(s.close().await, 0);
    });
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let (_d, addr) = start_with_grpc(&[], &[]);
    rt().block_on(async {
        let mut s = Stream::open(addr, V1, &[]).await;
        // Both requests leave before any answer is read.
        let asked = [
            symbol("dapr.proto.runtime.v1.Dapr"),
            list(),
            symbol("grpc.reflection.v1.ServerReflection"),
        ];
        for q in &asked {
            s.send(q.clone());
        }
        for q in asked {
            let r = s.recv().await;
            assert_eq!(r.original_request.unwrap().message_request, Some(q));
        }
        assert_eq!(s.close().await, 0);
    });
}

#[test]
fn unknown_names_are_not_found_and_the_stream_goes_on() {
    let (_d, addr) = start_with_grpc(&[], &[]);
    rt().block_on(async {
        let mut s = Stream::open(addr, V1, &[]).await;
        assert_eq!(error_code(s.ask(symbol("no.such.Service")).await), 5);
        assert_eq!(
            error_code(
                s.ask(MessageRequest::FileByFilename("no/such.proto".into()))
                    .await
            ),
            5
        );
        assert_eq!(
            error_code(
                s.ask(MessageRequest::FileContainingExtension(
                    pb::ExtensionRequest {
                        containing_type: "dapr.proto.runtime.v1.GetStateRequest".into(),
                        extension_number: 1000,
                    }
                ))
                .await
            ),
            5
        );
        // Still answering.
        assert_eq!(services(s.ask(list()).await), SERVED);
        let got = files(
            s.ask(symbol("dapr.proto.runtime.v1.Dapr.GetMetadata"))
                .await,
        );
        assert_eq!(got[0].name(), "dapr/proto/runtime/v1/dapr.proto");
        assert_eq!(s.close().await, 0);
    });
}

#[test]
fn v1alpha_is_served_with_the_same_answers() {
    use daprd::proto::grpc::reflection::v1alpha as alpha;
    let (_d, addr) = start_with_grpc(&[], &[]);
    rt().block_on(async {
        let mut s = Stream::open(addr, V1ALPHA, &[]).await;
        // Sent and read as v1alpha messages.
        let req = alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                    "dapr.proto.runtime.v1.Dapr".into(),
                ),
            ),
        };
        s.send
            .send_data(frame(&req.encode_to_vec()), false)
            .unwrap();
        s.headers().await.unwrap();
        let body = s.body.as_mut().unwrap();
        let whole = |b: &BytesMut| {
            b.len() >= 5 && b.len() >= 5 + u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize
        };
        while !whole(&s.buf) {
            let chunk = body.data().await.unwrap().unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            s.buf.extend_from_slice(&chunk);
        }
        let resp = alpha::ServerReflectionResponse::decode(&s.buf[5..]).unwrap();
        s.buf.clear();
        let Some(alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(f)) =
            resp.message_response
        else {
            panic!("{resp:?}");
        };
        let first = FileDescriptorProto::decode(&f.file_descriptor_proto[0][..]).unwrap();
        assert_eq!(first.name(), "dapr/proto/runtime/v1/dapr.proto");
        assert_eq!(services(s.ask(list()).await), SERVED);
        assert_eq!(s.close().await, 0);
    });
}

#[test]
fn reflection_needs_the_api_token() {
    let (_d, addr) = start_with_grpc(&[], &[("DAPR_API_TOKEN", "s3cret")]);
    rt().block_on(async {
        // Refused before any request is read: trailers-only UNAUTHENTICATED.
        let mut s = Stream::open(addr, V1, &[]).await;
        assert_eq!(s.headers().await, Err(16));
        let mut s = Stream::open(addr, V1ALPHA, &[("dapr-api-token", "wrong")]).await;
        s.send(list());
        assert_eq!(s.finish().await, 16);

        let mut s = Stream::open(addr, V1, &[("dapr-api-token", "s3cret")]).await;
        assert_eq!(services(s.ask(list()).await), SERVED);
        assert_eq!(s.close().await, 0);
    });
}

#[test]
fn malformed_requests_and_unknown_methods() {
    let (_d, addr) = start_with_grpc(&[], &[]);
    rt().block_on(async {
        // A request with no question ends the stream: INVALID_ARGUMENT.
        let mut s = Stream::open(addr, V1, &[]).await;
        assert_eq!(services(s.ask(list()).await), SERVED);
        s.send
            .send_data(
                frame(&pb::ServerReflectionRequest::default().encode_to_vec()),
                false,
            )
            .unwrap();
        assert_eq!(s.finish().await, 3);
        // Not a protobuf message.
        let mut s = Stream::open(addr, V1, &[]).await;
        s.send.send_data(frame(&[0xff, 0xff]), false).unwrap();
        assert_eq!(s.finish().await, 3);
        // Half-closed without asking anything: OK, nothing sent.
        let s = Stream::open(addr, V1, &[]).await;
        assert_eq!(s.close().await, 0);
        let mut s = Stream::open(
            addr,
            "/grpc.reflection.v1.ServerReflection/NoSuchMethod",
            &[],
        )
        .await;
        assert_eq!(s.headers().await, Err(12));
    });
}

#[test]
fn an_open_stream_ends_at_shutdown_without_holding_it_up() {
    let (mut d, addr) = start_with_grpc(&["--dapr-graceful-shutdown-seconds", "60"], &[]);
    rt().block_on(async {
        let mut s = Stream::open(addr, V1, &[]).await;
        assert_eq!(services(s.ask(list()).await), SERVED);
        let started = Instant::now();
        d.signal("TERM");
        // The idle stream is ended with UNAVAILABLE rather than waited for.
        assert_eq!(s.finish().await, 14);
        assert!(started.elapsed() < Duration::from_secs(10));
    });
    assert!(d.wait_exit().success());
}
