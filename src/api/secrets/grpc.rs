//! gRPC adapter for secrets (Go: `pkg/api/grpc/grpc.go`): `GetSecret` and
//! `GetBulkSecret`.

use crate::api::grpc::{decode, encode};
use crate::api::Ctx;
use crate::grpc::server::Reply;
use crate::proto::dapr::proto::runtime::v1 as pb;

/// `GetSecret`.
pub async fn get_secret(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::GetSecretRequest = decode(message)?;
    let data = super::get(ctx, &req.store_name, &req.key, req.metadata).await?;
    Ok(encode(&pb::GetSecretResponse { data }))
}

/// `GetBulkSecret`.
pub async fn get_bulk_secret(ctx: &Ctx, message: &[u8]) -> Reply {
    let req: pb::GetBulkSecretRequest = decode(message)?;
    let all = super::bulk_get(ctx, &req.store_name, req.metadata).await?;
    Ok(encode(&pb::GetBulkSecretResponse {
        data: all
            .into_iter()
            .map(|(name, secrets)| (name, pb::SecretResponse { secrets }))
            .collect(),
    }))
}
