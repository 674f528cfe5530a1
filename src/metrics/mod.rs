//! Metrics: per-worker shards merged on scrape, rendered as Prometheus text.
//!
//! Each worker records into its own [`Shard`]. A shard is a plain struct
//! behind a `std::sync::Mutex` that only two parties ever take: the owning
//! worker, once per request, and a scrape, briefly, to copy it. On the hot
//! path the lock is therefore uncontended (one atomic swap on a cache line
//! the worker already owns); only a scrape ever crosses cores. This keeps
//! the recording code simple and exact — the alternative, per-bucket atomics
//! for every label set, costs more per request and cannot hold an
//! hdrhistogram.
//!
//! Label sets are interned per shard the first time they are seen: a path
//! string is allocated once, later requests only look it up. A family holds
//! at most [`names::MAX_SERIES`] label sets per shard; later ones are
//! counted under the path `_other`, so hostile paths cannot grow memory.
//!
//! Layout: `record` holds [`Metrics`] and the per-worker [`Shard`] with its
//! `record_*` methods; `render` merges the shards into Prometheus text;
//! `client` does both for the app channel families; [`names`] has every
//! name, label and bucket; `process` the `process_*` gauges. Status labels
//! arrive as strings (grpc-go's code names), so nothing here depends on the
//! gRPC server.

mod client;
mod hist;
pub mod names;
mod process;
mod record;
mod render;

pub use client::GrpcCallTimer;
pub use process::render as render_process;
pub use record::{Metrics, Shard, Store};
