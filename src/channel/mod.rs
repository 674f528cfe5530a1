//! Talking to the app ([`AppChannel`]: HTTP or gRPC) and to other
//! sidecars ([`sidecar`]).

pub mod app;
pub mod endpoint;
pub mod grpc;
pub mod h2c;
pub mod health;
pub mod http;
pub mod sidecar;
pub mod trace;

use ::http::{HeaderMap, HeaderValue};

pub use app::{AppCall, AppChannel};

use crate::config::Options;

/// The header carrying an API token (`DAPR_API_TOKEN` to the sidecar,
/// `APP_API_TOKEN` to the app).
pub const API_TOKEN_HEADER: &str = "dapr-api-token";

/// Sets `dapr-api-token` to `APP_API_TOKEN` when one is configured.
pub fn add_app_token(headers: &mut HeaderMap, opts: &Options) {
    if let Some(v) = opts
        .app_api_token
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        headers.insert(API_TOKEN_HEADER, v);
    }
}
