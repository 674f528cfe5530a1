//! gRPC adapter for publishing (Go: `pkg/api/grpc/grpc.go`): `PublishEvent`
//! and `BulkPublishEvent` (also served as `BulkPublishEventAlpha1`). The
//! caller's trace context comes from the call's metadata. A bulk publish
//! where some entries failed answers OK with the failed entries, as Go.

use bytes::Bytes;

use crate::api::grpc::{decode, encode};
use crate::api::Ctx;
use crate::grpc::server::{Call, Reply};
use crate::proto::dapr::proto::runtime::v1 as pb;

/// `PublishEvent`.
pub async fn publish_event(ctx: &Ctx, call: &Call) -> Reply {
    let req: pb::PublishEventRequest = decode(&call.message)?;
    let (traceparent, tracestate) = crate::channel::trace::context(&call.metadata);
    super::publish(
        ctx,
        super::PublishInput {
            pubsub: req.pubsub_name,
            topic: req.topic,
            data: Bytes::from(req.data),
            content_type: req.data_content_type,
            metadata: req.metadata,
            traceparent,
            tracestate,
        },
    )
    .await?;
    Ok(Bytes::new())
}

/// `BulkPublishEvent` / `BulkPublishEventAlpha1`.
pub async fn bulk_publish_event(ctx: &Ctx, call: &Call) -> Reply {
    let req: pb::BulkPublishRequest = decode(&call.message)?;
    let (traceparent, tracestate) = crate::channel::trace::context(&call.metadata);
    let entries = req
        .entries
        .into_iter()
        .map(|e| super::BulkEntry {
            entry_id: e.entry_id,
            event: Bytes::from(e.event),
            content_type: e.content_type,
            metadata: e.metadata,
        })
        .collect();
    let result = super::bulk_publish(
        ctx,
        &req.pubsub_name,
        &req.topic,
        entries,
        req.metadata,
        &traceparent,
        &tracestate,
    )
    .await;
    // Go answers a partial failure with OK and the failed entries.
    match result {
        Ok(()) => Ok(encode(&pb::BulkPublishResponse::default())),
        Err(f) if f.failed.is_empty() => Err(f.error.into()),
        Err(f) => Ok(encode(&pb::BulkPublishResponse {
            failed_entries: f
                .failed
                .into_iter()
                .map(|(entry_id, error)| pb::BulkPublishResponseFailedEntry { entry_id, error })
                .collect(),
        })),
    }
}
