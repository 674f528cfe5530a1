//! Bindings: the logic behind `POST`/`PUT /v1.0/bindings/{name}` and gRPC
//! `InvokeBinding` (Go: `pkg/api/http/http.go` `onOutputBindingMessage`,
//! `pkg/api/grpc/grpc.go` `InvokeBinding`, `pkg/runtime/processor/binding`),
//! and the delivery of input binding events to the app ([`input`]).
//!
//! An output call names a binding and an operation. Every failure — no
//! operation, an unknown binding, an operation the binding lacks, the
//! binding's own error — is `ERR_INVOKE_OUTPUT_BINDING` (500 / Internal)
//! with Go's message `error invoking output binding <name>: <cause>`; the
//! metadata the binding answered is reported on failure too (the HTTP
//! binding's `statusCode`). Go HEAD never maps that `statusCode` onto the
//! API status (`GetStatusCodeFromMetadata` in `pkg/api/http/http.go` is
//! used by nothing but its test), so neither do we.

pub mod grpc;
pub mod http;
pub mod input;

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;

use super::error::{ApiError, ErrorCode};
use super::Ctx;
use crate::components::bindings::{
    failure, InputBindingDyn, InvokeFailure, InvokeRequest, InvokeResult,
};

/// A worker's input binding with what delivery needs.
pub struct InputRef {
    /// The binding.
    pub binding: Rc<dyn InputBindingDyn>,
    /// Where events go on the app: metadata `route`, else the binding's name.
    pub route: String,
    /// `direction` names `input`: the app is not asked with `OPTIONS`.
    pub explicit_input: bool,
}

/// What an output call came to.
pub struct Answer {
    /// Metadata the binding reported (also on failure).
    pub metadata: HashMap<String, String>,
    /// The data (`None`: the binding answered nothing, HTTP 204), or the error.
    pub result: Result<Option<Bytes>, ApiError>,
}

/// Go's `SendToOutputBinding`: the operation must be set and supported.
pub async fn send_to_output_binding(ctx: &Ctx, name: &str, req: InvokeRequest) -> InvokeResult {
    if req.operation.is_empty() {
        return Err(failure("operation field is missing from request").into());
    }
    let Some(binding) = ctx.components.output_bindings.get(name).cloned() else {
        return Err(failure(format!("couldn't find output binding {name}")).into());
    };
    let ops = binding.operations();
    if !ops.contains(&req.operation.as_str()) {
        return Err(failure(format!(
            "binding {name} does not support operation {}. supported operations:{}",
            req.operation,
            ops.join(" ")
        ))
        .into());
    }
    binding.invoke(req).await
}

/// Invokes output binding `name` for the API; records the call's metrics.
pub async fn invoke(ctx: &Ctx, name: &str, req: InvokeRequest) -> Answer {
    let started = Instant::now();
    let operation = req.operation.clone();
    let result = send_to_output_binding(ctx, name, req).await;
    ctx.metrics
        .record_output_binding(name, &operation, result.is_ok(), started.elapsed());
    match result {
        Ok(resp) => Answer {
            metadata: resp
                .as_ref()
                .map(|r| r.metadata.clone())
                .unwrap_or_default(),
            result: Ok(resp.map(|r| r.data)),
        },
        Err(InvokeFailure { error, response }) => {
            let e = ApiError::new(
                ErrorCode::InvokeOutputBinding,
                format!("error invoking output binding {name}: {error}"),
            )
            .with_reason("ERR_INVOKE_OUTPUT_BINDING");
            tracing::debug!("{e}");
            Answer {
                metadata: response.map(|r| r.metadata).unwrap_or_default(),
                result: Err(e),
            }
        }
    }
}
