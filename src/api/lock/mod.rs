//! Distributed lock: the logic behind `POST /v1.0-alpha1/lock/{storeName}`,
//! `POST /v1.0-alpha1/unlock/{storeName}` and the gRPC `TryLockAlpha1` /
//! `UnlockAlpha1` methods, written once (Go: `pkg/api/universal/lock.go`).
//!
//! Checks run in Go's order: for a try-lock, a non-positive expiry first
//! (even before "no lock store"); then no lock store at all
//! (`ERR_LOCK_STORE_NOT_CONFIGURED`, 500), an empty resource id or owner
//! (`ERR_MALFORMED_REQUEST`, 400), an unknown store
//! (`ERR_LOCK_STORE_NOT_FOUND`, 400). The resource id is then prefixed as
//! the store's `keyPrefix` says (`lock||<appid>||<id>` by default; an id
//! containing `||` fails as `ERR_TRY_LOCK` / `ERR_UNLOCK`, 500, as in Go), and
//! a store failure is `ERR_TRY_LOCK` / `ERR_UNLOCK` (500, `INTERNAL`).

pub mod grpc;
pub mod http;

use std::rc::Rc;

use super::error::{ApiError, ErrorCode};
use super::Ctx;
use crate::components::lock::{
    KeyPrefix, LockStoreDyn, TryLockRequest, UnlockRequest, UnlockStatus,
};

/// A lock store as the API sees it: the instance and its key prefixing.
#[derive(Clone)]
pub struct LockRef {
    /// The store.
    pub store: Rc<dyn LockStoreDyn>,
    /// How resource ids become keys.
    pub prefix: Rc<KeyPrefix>,
}

/// `lockValidateRequest`: stores configured, id and owner present, store known.
fn validate(
    ctx: &Ctx,
    store_name: &str,
    resource_id: &str,
    owner: &str,
) -> Result<LockRef, ApiError> {
    let stores = &ctx.components.lock;
    if stores.is_empty() {
        return Err(ApiError::new(
            ErrorCode::LockStoreNotConfigured,
            "lock store is not configured",
        ));
    }
    if resource_id.is_empty() {
        return Err(ApiError::new(
            ErrorCode::MalformedRequest,
            format!("ResourceId is empty in lock store {store_name}"),
        ));
    }
    if owner.is_empty() {
        return Err(ApiError::new(
            ErrorCode::MalformedRequest,
            format!("LockOwner is empty in lock store {store_name}"),
        ));
    }
    stores.get(store_name).cloned().ok_or_else(|| {
        ApiError::new(
            ErrorCode::LockStoreNotFound,
            format!("lock store {store_name} not found"),
        )
    })
}

fn logged(e: ApiError) -> ApiError {
    tracing::debug!("{e}");
    e
}

/// Tries to take `resource_id` for `owner`; `Ok(true)` when it is now held.
pub async fn try_lock(
    ctx: &Ctx,
    store_name: &str,
    resource_id: &str,
    owner: &str,
    expiry_in_seconds: i32,
) -> Result<bool, ApiError> {
    let Ok(expiry) = u32::try_from(expiry_in_seconds) else {
        return Err(logged(not_positive(store_name)));
    };
    if expiry == 0 {
        return Err(logged(not_positive(store_name)));
    }
    let l = validate(ctx, store_name, resource_id, owner).map_err(logged)?;
    let failed = |e: &dyn std::fmt::Display| {
        logged(ApiError::new(
            ErrorCode::TryLock,
            format!("failed to try acquiring lock: {e}"),
        ))
    };
    let key = l
        .prefix
        .key(resource_id, store_name, &ctx.shared.opts.app_id)
        .map_err(|e| failed(&e))?;
    l.store
        .try_lock(TryLockRequest {
            key,
            owner: owner.to_owned(),
            expiry_in_seconds: expiry,
        })
        .await
        .map_err(|e| failed(&e))
}

fn not_positive(store_name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedRequest,
        format!("ExpiryInSeconds is not positive in lock store {store_name}"),
    )
}

/// Releases `resource_id` if `owner` holds it.
pub async fn unlock(
    ctx: &Ctx,
    store_name: &str,
    resource_id: &str,
    owner: &str,
) -> Result<UnlockStatus, ApiError> {
    let l = validate(ctx, store_name, resource_id, owner).map_err(logged)?;
    let failed = |e: &dyn std::fmt::Display| {
        logged(ApiError::new(
            ErrorCode::Unlock,
            format!("failed to release lock: {e}"),
        ))
    };
    let key = l
        .prefix
        .key(resource_id, store_name, &ctx.shared.opts.app_id)
        .map_err(|e| failed(&e))?;
    l.store
        .unlock(UnlockRequest {
            key,
            owner: owner.to_owned(),
        })
        .await
        .map_err(|e| failed(&e))
}
