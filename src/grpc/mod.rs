//! The gRPC front end (`dapr.proto.runtime.v1.Dapr` over h2c).
//!
//! [`server`] serves one h2 stream per call (framing, compression,
//! deadlines, trailers) and hands a unary request message to `api::grpc`,
//! which runs the same building-block logic as the HTTP API. Streaming
//! methods read and write through [`stream`]'s message stream and sink;
//! [`reflection`] serves `grpc.reflection.v1` / `v1alpha` that way.
//! Building-block logic
//! lives above, in `api`: this layer never names it.

pub mod frame;
pub mod reflection;
pub mod server;
pub mod status;
pub mod stream;
