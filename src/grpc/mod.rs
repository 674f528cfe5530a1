//! The gRPC front end (`dapr.proto.runtime.v1.Dapr` over h2c).
//!
//! Only the status-code table exists so far; the server arrives with the
//! gRPC API issue and dispatches through the same route table as HTTP.

pub mod frame;
pub mod status;
