//! The gRPC front end (`dapr.proto.runtime.v1.Dapr` over h2c).
//!
//! [`server`] serves one h2 stream per call (framing, compression,
//! deadlines, trailers) and hands a unary request message to `api::grpc`,
//! which runs the same building-block logic as the HTTP API. Streaming
//! methods read and write through [`stream`]'s message stream and sink;
//! [`reflection`] serves `grpc.reflection.v1` / `v1alpha` that way.
//! [`proxy`] relays calls for other services that carry `dapr-app-id` to
//! the app's gRPC server (or another app's sidecar). [`internal`] is the
//! sidecar-to-sidecar server on `--dapr-internal-grpc-port`.

pub mod frame;
pub mod internal;
pub mod proxy;
pub mod reflection;
pub mod server;
pub mod status;
pub mod stream;
