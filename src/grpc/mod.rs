//! The gRPC front end (`dapr.proto.runtime.v1.Dapr` over h2c).
//!
//! [`server`] serves one h2 stream per call (framing, compression,
//! deadlines, trailers) and hands the request message to `api::grpc`,
//! which runs the same building-block logic as the HTTP API.

pub mod frame;
pub mod server;
pub mod status;
