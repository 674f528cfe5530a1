//! Metrics hot path (one record per request) and scrape (merge + render).

use std::time::Duration;

use criterion::{black_box, criterion_main, Criterion};
use daprd::metrics::Metrics;
use http::Method;

fn record_and_render(c: &mut Criterion) {
    let metrics = Metrics::new("bench", 4);
    let shard = metrics.shard(0).clone();
    // Warm: the label set is interned.
    shard.record_http(
        &Method::GET,
        "/v1.0/state/statestore",
        200,
        Duration::from_micros(40),
        0,
        120,
    );
    c.bench_function("metrics/record_http", |b| {
        b.iter(|| {
            shard.record_http(
                black_box(&Method::GET),
                black_box("/v1.0/state/statestore"),
                200,
                Duration::from_micros(40),
                0,
                120,
            )
        })
    });

    // A realistic scrape: 4 shards x 50 label sets.
    for w in 0..4 {
        for i in 0..50 {
            metrics.shard(w).record_http(
                &Method::GET,
                &format!("/v1.0/state/store{i}"),
                200,
                Duration::from_millis(i),
                10,
                100,
            );
        }
    }
    c.bench_function("metrics/render_4x50", |b| {
        b.iter(|| black_box(metrics.render()))
    });
}

// The macro defines an undocumented `pub fn benches`.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::record_and_render);
}
criterion_main!(group::benches);
