//! # daprd — a thread-per-core Dapr sidecar
//!
//! A re-implementation of Dapr's sidecar process on monoio: one worker per
//! core, each with its own `SO_REUSEPORT` listeners, serving Dapr's HTTP API
//! and its gRPC API, so that Dapr applications and SDKs work against
//! it unchanged.
//!
//! ## Crate map
//! Layers, lowest first; each imports only from those below it
//! (`tests/it/layering.rs` keeps it so; the README's "Code map" has more):
//! - ground: [`proto`] (generated types), [`config`] (flags → [`config::Options`],
//!   resource files), [`logging`], [`metrics`] (per-worker shards, Prometheus
//!   text), [`net`] (listeners, the shutdown latch), [`http`] (HTTP/1.1 and h2
//!   loops, messages, the HTTP/1.1 client), [`grpc`] (framing, status,
//!   streams, the call server behind its own `Handler` trait, reflection);
//! - [`components`]: the backends behind each building block's trait;
//! - [`channel`]: calling the app and other sidecars;
//! - [`api`]: the building blocks (`api/<block>/{mod,http,grpc}.rs`), the
//!   route table, the error catalogue, the handlers' context;
//! - [`runtime`]: the composition root: bootstrap, workers, shutdown;
//! - [`placement`]: the `placement` binary's service (Dapr's actor
//!   placement), a second composition root beside `runtime` over the ground
//!   layer only;
//! - [`scheduler`]: the `scheduler` binary's service (Dapr's jobs and actor
//!   reminders), a third, over the ground layer only.
//!
//! ## Request path
//! accept (worker's own socket) → `http::h1::serve` (head and body limits) →
//! `api::HttpApi::call` (clean path, route, token check) → building-block
//! handler → response encoded on the same connection → metrics recorded into
//! the worker's shard. No step hops to another core.

// Thread-per-core: async trait methods are deliberately not `Send`.
#![allow(async_fn_in_trait)]

pub mod api;
pub mod channel;
pub mod components;
pub mod config;
pub mod grpc;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod placement;
pub mod proto;
pub mod runtime;
pub mod scheduler;

pub use runtime::{start, Handle, StartupError, Tuning};
