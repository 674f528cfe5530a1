//! # daprd — a thread-per-core Dapr sidecar
//!
//! A re-implementation of Dapr's sidecar process on monoio: one worker per
//! core, each with its own `SO_REUSEPORT` listeners, serving Dapr's HTTP API
//! and its gRPC API, so that Dapr applications and SDKs work against
//! it unchanged.
//!
//! ## Crate map
//! - [`config`]: flags (Go daprd's names) → validated [`config::Options`].
//! - [`runtime`]: bootstrap, worker threads, readiness, shutdown.
//! - [`net`]: per-worker listeners.
//! - [`http`]: the HTTP/1.1 connection loop and the request/response types.
//! - [`api`]: the route table, router, error catalogue and building-block handlers.
//! - [`grpc`]: the gRPC front end: framing, status, the h2 stream handler,
//!   streaming calls, server reflection.
//! - [`proto`]: generated protobuf types (Dapr's runtime API, google.rpc).
//! - [`components`]: component registry and built-in components.
//! - [`channel`]: calling the app (HTTP), trace context.
//! - [`metrics`]: per-worker shards, Prometheus rendering.
//! - [`logging`]: Go daprd's log format.
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
pub mod proto;
pub mod runtime;

pub use runtime::{start, Handle, StartupError, Tuning};
