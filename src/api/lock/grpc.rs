//! gRPC adapter for distributed lock (Go: `pkg/api/grpc/grpc.go`):
//! `TryLockAlpha1` and `UnlockAlpha1`.

use crate::api::grpc::{decode, encode};
use crate::api::Ctx;
use crate::grpc::server::Reply;
use crate::proto::dapr::proto::runtime::v1 as pb;

/// `TryLockAlpha1`.
pub async fn try_lock(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::TryLockRequest = decode(message)?;
    let success = super::try_lock(
        ctx,
        &req.store_name,
        &req.resource_id,
        &req.lock_owner,
        req.expiry_in_seconds,
    )
    .await?;
    Ok(encode(&pb::TryLockResponse { success }))
}

/// `UnlockAlpha1`.
pub async fn unlock(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::UnlockRequest = decode(message)?;
    let status = super::unlock(ctx, &req.store_name, &req.resource_id, &req.lock_owner).await?;
    Ok(encode(&pb::UnlockResponse {
        status: status as i32,
    }))
}
