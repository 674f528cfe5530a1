//! gRPC adapter for the state API (Go: `pkg/api/grpc/grpc.go`): `GetState`,
//! `GetBulkState`, `SaveState`, `DeleteState`, `DeleteBulkState`,
//! `ExecuteStateTransaction` and `QueryStateAlpha1`.
//!
//! Values are stored as the raw bytes sent. A proto `Etag` whose value is
//! empty is no ETag; a missing key in a save or a transaction operation is
//! `INVALID_ARGUMENT` "state key cannot be empty".

use bytes::Bytes;

use super::{DeleteItem, SaveItem, TxOp};
use crate::api::grpc::{decode, encode};
use crate::api::Ctx;
use crate::components::state::Concurrency;
use crate::grpc::server::{Call, Reply, Status};
use crate::grpc::status::GrpcCode;
use crate::proto::dapr::proto::common::v1 as common;
use crate::proto::dapr::proto::runtime::v1 as pb;

/// `GetState`.
pub async fn get_state(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::GetStateRequest = decode(message)?;
    let item = super::get(ctx, &req.store_name, &req.key, req.metadata).await?;
    Ok(encode(&match item {
        Some(i) => pb::GetStateResponse {
            data: i.data.to_vec(),
            etag: i.etag.unwrap_or_default(),
            metadata: i.metadata,
        },
        None => pb::GetStateResponse::default(),
    }))
}

/// `GetBulkState`.
pub async fn get_bulk_state(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::GetBulkStateRequest = decode(message)?;
    let items = super::bulk_get(ctx, &req.store_name, req.keys, req.metadata).await?;
    Ok(encode(&pb::GetBulkStateResponse {
        items: items
            .into_iter()
            .map(|b| {
                let item = b.item.unwrap_or_default();
                pb::BulkStateItem {
                    key: b.key,
                    data: item.data.to_vec(),
                    etag: item.etag.unwrap_or_default(),
                    error: b.error.unwrap_or_default(),
                    metadata: item.metadata,
                }
            })
            .collect(),
    }))
}

/// `SaveState`.
pub async fn save_state(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::SaveStateRequest = decode(message)?;
    let mut items = Vec::with_capacity(req.states.len());
    for st in req.states {
        items.push(save_item(st)?);
    }
    super::save(ctx, &req.store_name, items).await?;
    Ok(Bytes::new())
}

/// `DeleteState`.
pub async fn delete_state(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::DeleteStateRequest = decode(message)?;
    let concurrency = concurrency(req.options.as_ref());
    super::delete(
        ctx,
        &req.store_name,
        &req.key,
        etag(req.etag),
        req.metadata,
        concurrency,
    )
    .await?;
    Ok(Bytes::new())
}

/// `DeleteBulkState`: the store's bulk delete.
pub async fn delete_bulk_state(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::DeleteBulkStateRequest = decode(message)?;
    let items = req
        .states
        .into_iter()
        .map(|st| DeleteItem {
            concurrency: concurrency(st.options.as_ref()),
            key: st.key,
            etag: etag(st.etag),
            metadata: st.metadata,
        })
        .collect();
    super::bulk_delete(ctx, &req.store_name, items).await?;
    Ok(Bytes::new())
}

/// `ExecuteStateTransaction`.
pub async fn execute_state_transaction(ctx: &Ctx, call: &Call) -> Reply {
    let req: pb::ExecuteStateTransactionRequest = decode(&call.message)?;
    let mut ops = Vec::with_capacity(req.operations.len());
    for op in req.operations {
        let item = save_item(op.request.unwrap_or_default())?;
        ops.push(TxOp::parse(&op.operation_type, item)?);
    }
    let (traceparent, tracestate) = crate::channel::trace::context(&call.metadata);
    let origin = super::outbox::Origin {
        http: false,
        traceparent,
        tracestate,
    };
    super::transact(ctx, &req.store_name, ops, req.metadata, &origin).await?;
    Ok(Bytes::new())
}

/// `QueryStateAlpha1`.
pub fn query_state(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::QueryStateRequest = decode(message)?;
    Err(super::query(ctx, &req.store_name).into())
}

/// A gRPC `StateItem` as a save: values are stored as the raw bytes sent.
fn save_item(st: common::StateItem) -> Result<SaveItem, Status> {
    if st.key.is_empty() {
        return Err(Status::new(
            GrpcCode::InvalidArgument,
            "state key cannot be empty",
        ));
    }
    Ok(SaveItem {
        concurrency: concurrency(st.options.as_ref()),
        key: st.key,
        value: Bytes::from(st.value),
        etag: etag(st.etag),
        metadata: st.metadata,
    })
}

/// A proto `Etag`: absent or empty is no ETag.
fn etag(e: Option<common::Etag>) -> Option<String> {
    e.map(|e| e.value).filter(|v| !v.is_empty())
}

/// Proto `StateOptions` concurrency: first-write when asked, else last-write.
fn concurrency(o: Option<&common::StateOptions>) -> Concurrency {
    match o.map(|o| o.concurrency) {
        Some(c) if c == common::state_options::StateConcurrency::ConcurrencyFirstWrite as i32 => {
            Concurrency::FirstWrite
        }
        _ => Concurrency::LastWrite,
    }
}
