//! Request head parse + route match for a state GET: the per-request work
//! before any handler runs.

use bytes::BytesMut;
use criterion::{black_box, criterion_main, Criterion, Throughput};
use daprd::api::router;
use monoio_codec::{Decoded, Decoder};
use monoio_http::common::request::RequestHead;
use monoio_http::h1::codec::decoder::{DirectWrapper, GenericHeadDecoder, RequestHeadDecoder};

const STATE_GET: &[u8] = b"GET /v1.0/state/statestore/order-1234 HTTP/1.1\r\n\
Host: localhost:3500\r\n\
User-Agent: dapr-sdk-python/1.14.0\r\n\
Accept: */*\r\n\
Accept-Encoding: gzip, deflate\r\n\
Connection: keep-alive\r\n\
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n";

fn parse_and_route(c: &mut Criterion) {
    let mut g = c.benchmark_group("h1");
    g.throughput(Throughput::Bytes(STATE_GET.len() as u64));
    let mut decoder =
        GenericHeadDecoder::<RequestHead, RequestHeadDecoder, DirectWrapper>::default();
    let mut buf = BytesMut::with_capacity(4096);

    g.bench_function("parse_head", |b| {
        b.iter(|| {
            buf.extend_from_slice(STATE_GET);
            match decoder.decode(&mut buf) {
                Ok(Decoded::Some((head, _))) => black_box(head),
                _ => unreachable!("fixture is a complete head"),
            }
        })
    });

    g.bench_function("parse_head_and_route", |b| {
        b.iter(|| {
            buf.extend_from_slice(STATE_GET);
            let Ok(Decoded::Some((head, _))) = decoder.decode(&mut buf) else {
                unreachable!("fixture is a complete head")
            };
            let path = router::clean_path(head.uri.path());
            let m = router::find(&head.method, &path).map(|m| m.route.op);
            black_box(m)
        })
    });

    g.bench_function("route_only", |b| {
        let method = http::Method::GET;
        b.iter(|| {
            let path = router::clean_path(black_box("/v1.0/state/statestore/order-1234"));
            black_box(router::find(&method, &path).map(|m| m.route.op))
        })
    });
    g.finish();
}

// The macro defines an undocumented `pub fn benches`.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::parse_and_route);
}
criterion_main!(group::benches);
