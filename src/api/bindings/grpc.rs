//! gRPC adapter for output bindings (Go: `pkg/api/grpc/grpc.go`
//! `InvokeBinding`).
//!
//! The data is passed as sent (no JSON re-encoding). The binding's metadata
//! is the request's, then `traceparent`/`tracestate` when absent, then every
//! incoming gRPC metadata entry the request does not already set (reserved
//! `grpc-*` names get a `dapr-` prefix; an incoming `traceparent` or
//! `tracestate` overrides), as Go copies them. The binding's response
//! metadata is sent as `metadata.<key>` response headers, on success and on
//! failure; a failure is `INTERNAL` with an `ErrorInfo` whose reason is
//! `ERR_INVOKE_OUTPUT_BINDING`.

use std::rc::Rc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use prost::Message;

use crate::api::Ctx;
use crate::components::bindings::InvokeRequest;
use crate::grpc::server::{Call, Reply, Status};
use crate::grpc::status::GrpcCode;
use crate::proto::dapr::proto::runtime::v1 as pb;

/// Headers grpc-go keeps out of a call's incoming metadata.
const RESERVED: &[&str] = &[
    "te",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-message",
    "grpc-status",
    "grpc-message-type",
    "grpc-status-details-bin",
];

/// `InvokeBinding`.
pub async fn invoke_binding(ctx: &Rc<Ctx>, call: Call) -> Reply {
    let req = pb::InvokeBindingRequest::decode(&call.message[..]).map_err(|e| {
        Status::new(
            GrpcCode::InvalidArgument,
            format!("grpc: error unmarshalling request: {e}"),
        )
    })?;
    let mut metadata = req.metadata;
    let (traceparent, tracestate) = crate::channel::trace::context(&call.metadata);
    metadata.entry("traceparent".into()).or_insert(traceparent);
    if !tracestate.is_empty() {
        metadata.entry("tracestate".into()).or_insert(tracestate);
    }
    for (name, value) in call.metadata.iter() {
        let key = name.as_str();
        if RESERVED.contains(&key) {
            continue;
        }
        let Ok(value) = value.to_str() else {
            continue;
        };
        let key = if key.starts_with("grpc-") {
            format!("dapr-{key}")
        } else {
            key.to_owned()
        };
        if key == "traceparent" || key == "tracestate" || !metadata.contains_key(&key) {
            metadata.insert(key, value.to_owned());
        }
    }
    let answer = super::invoke(
        ctx,
        &req.name,
        InvokeRequest {
            operation: req.operation,
            data: Bytes::from(req.data),
            metadata,
        },
    )
    .await;
    {
        let mut headers = call.reply_metadata.borrow_mut();
        for (k, v) in &answer.metadata {
            let name =
                HeaderName::from_bytes(format!("metadata.{k}").to_ascii_lowercase().as_bytes());
            if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(v)) {
                headers.append(name, value);
            }
        }
    }
    let data = answer.result?;
    let resp = pb::InvokeBindingResponse {
        data: data.map(|d| d.to_vec()).unwrap_or_default(),
        metadata: answer.metadata,
    };
    Ok(Bytes::from(resp.encode_to_vec()))
}
