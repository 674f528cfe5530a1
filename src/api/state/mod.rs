//! State management: the logic behind `/v1.0/state/*` and the gRPC state
//! methods, written once.
//!
//! Keys are prefixed per store as Go daprd does (`keyPrefix` metadata:
//! `appid` (default) → `<appid>||key`, `name`, `namespace`, `none`, or a
//! custom string); a key containing `||` is refused. Component errors are
//! mapped to Dapr's codes here: an ETag mismatch is 409/`ABORTED`, a
//! malformed ETag 400/`INVALID_ARGUMENT`, anything else 500/`INTERNAL`.
//!
//! Every call into a store is counted here, once for HTTP and gRPC, as Go's
//! `StateInvoked` (`dapr_component_state_*`, operation `get`, `set` (a bulk
//! save too), `delete`, `bulk_get`, `bulk_delete`, `transaction`).

pub mod grpc;
pub mod http;
pub mod outbox;
pub mod value;

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;

use super::error::{ApiError, ErrorCode};
use super::Ctx;
use crate::components::state::{
    Concurrency, DeleteRequest, GetRequest, SetRequest, StateItem, StateStoreDyn, TransactionOp,
};
use crate::components::{ComponentError, ComponentErrorKind};
use crate::grpc::status::GrpcCode;
use crate::metrics::names::op;
use crate::metrics::Store;

/// The separator between prefix and key.
pub const KEY_SEPARATOR: &str = "||";

/// A state store as the API sees it: the instance and its key prefix.
#[derive(Clone)]
pub struct StoreRef {
    /// The store.
    pub store: Rc<dyn StateStoreDyn>,
    /// `Some(prefix)` → keys are stored as `prefix||key`.
    pub prefix: Option<Rc<str>>,
    /// Its transactional outbox, when configured.
    pub outbox: Option<Rc<outbox::Config>>,
}

/// How a store's keys are prefixed (`keyPrefix` metadata).
pub fn key_prefix(
    strategy: Option<&str>,
    app_id: &str,
    store: &str,
    namespace: Option<&str>,
) -> Option<String> {
    let appid = || (!app_id.is_empty()).then(|| app_id.to_owned());
    match strategy.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("appid") => appid(),
        Some("name") => Some(store.to_owned()),
        Some("namespace") => match namespace {
            Some(ns) if !ns.is_empty() && !app_id.is_empty() => Some(format!("{ns}.{app_id}")),
            _ => appid(),
        },
        Some("none") => None,
        Some(_) => strategy.map(str::to_owned),
    }
}

/// Finds a store by name: no stores at all → 500 not configured; unknown → 400 not found.
pub fn store(ctx: &Ctx, name: &str) -> Result<StoreRef, ApiError> {
    let stores = &ctx.components.state;
    if stores.is_empty() {
        return Err(ApiError::new(
            ErrorCode::StateStoreNotConfigured,
            "state store is not configured",
        )
        .with_reason("DAPR_STATE_NOT_CONFIGURED"));
    }
    stores.get(name).cloned().ok_or_else(|| {
        ApiError::new(
            ErrorCode::StateStoreNotFound,
            format!("state store {name} is not found"),
        )
        .with_reason("DAPR_STATE_NOT_FOUND")
    })
}

/// `prefix||key`, refusing keys (or prefixes) that contain `||`.
pub fn full_key(s: &StoreRef, key: &str) -> Result<String, ApiError> {
    let illegal = |k: &str| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            format!("input key/keyPrefix '{k}' can't contain '{KEY_SEPARATOR}'"),
        )
        .with_reason("DAPR_STATE_ILLEGAL_KEY")
    };
    if key.contains(KEY_SEPARATOR) {
        return Err(illegal(key));
    }
    Ok(match &s.prefix {
        // Concatenated, not `format!`: on every state call, and the
        // formatting machinery cost ~1,500 instructions a key.
        Some(p) => {
            let mut k = String::with_capacity(p.len() + KEY_SEPARATOR.len() + key.len());
            k.push_str(p);
            k.push_str(KEY_SEPARATOR);
            k.push_str(key);
            k
        }
        None => key.to_owned(),
    })
}

/// Strips the prefix from a stored key (text before the first `||`).
pub fn user_key(key: &str) -> &str {
    key.split_once(KEY_SEPARATOR).map_or(key, |(_, k)| k)
}

/// One item to save.
#[derive(Debug, Default)]
pub struct SaveItem {
    /// User key.
    pub key: String,
    /// Bytes to store.
    pub value: Bytes,
    /// Expected ETag.
    pub etag: Option<String>,
    /// Item metadata.
    pub metadata: HashMap<String, String>,
    /// Concurrency.
    pub concurrency: Concurrency,
}

/// One result of a bulk read.
#[derive(Debug)]
pub struct BulkItem {
    /// User key.
    pub key: String,
    /// The item, when found.
    pub item: Option<StateItem>,
    /// Per-key error.
    pub error: Option<String>,
}

/// One key to delete.
#[derive(Debug, Default)]
pub struct DeleteItem {
    /// User key.
    pub key: String,
    /// Expected ETag.
    pub etag: Option<String>,
    /// Item metadata.
    pub metadata: HashMap<String, String>,
    /// Concurrency.
    pub concurrency: Concurrency,
}

/// One operation of a transaction.
#[derive(Debug)]
pub enum TxOp {
    /// Save.
    Upsert(SaveItem),
    /// Delete.
    Delete(DeleteItem),
}

impl TxOp {
    /// The operation's user key.
    pub fn key(&self) -> &str {
        match self {
            TxOp::Upsert(it) => &it.key,
            TxOp::Delete(it) => &it.key,
        }
    }

    /// A transaction operation by its type name (`upsert`, `delete`; the
    /// request's value is ignored for a delete).
    pub fn parse(operation: &str, item: SaveItem) -> Result<TxOp, ApiError> {
        match operation {
            "upsert" => Ok(TxOp::Upsert(item)),
            "delete" => Ok(TxOp::Delete(DeleteItem {
                key: item.key,
                etag: item.etag,
                metadata: item.metadata,
                concurrency: item.concurrency,
            })),
            other => Err(ApiError::new(
                ErrorCode::NotSupportedStateOperation,
                format!("operation type {other} not supported"),
            )),
        }
    }
}

fn write_error(code: ErrorCode, what: String, e: &ComponentError) -> ApiError {
    let err = ApiError::new(code, format!("{what}: {e}"));
    match e.kind() {
        ComponentErrorKind::EtagMismatch => err.with_status(409, GrpcCode::Aborted),
        ComponentErrorKind::EtagInvalid => err.with_status(400, GrpcCode::InvalidArgument),
        _ => err,
    }
}

/// Reads one key.
pub async fn get(
    ctx: &Ctx,
    store_name: &str,
    key: &str,
    metadata: HashMap<String, String>,
) -> Result<Option<StateItem>, ApiError> {
    let s = store(ctx, store_name)?;
    let key_full = full_key(&s, key)?;
    let call = s.store.get(GetRequest {
        key: key_full,
        metadata,
    });
    ctx.metrics
        .time_store(Store::State, store_name, op::GET, call)
        .await
        .map_err(|e| {
            ApiError::new(
                ErrorCode::StateGet,
                format!("fail to get {key} from state store {store_name}: {e}"),
            )
        })
}

/// Saves items (one store call per item; the first failure stops).
pub async fn save(ctx: &Ctx, store_name: &str, items: Vec<SaveItem>) -> Result<(), ApiError> {
    let s = store(ctx, store_name)?;
    let mut reqs = Vec::with_capacity(items.len());
    for it in items {
        reqs.push(set_request(&s, it)?);
    }
    // Nothing to save: no store call, nothing counted (as Go).
    if reqs.is_empty() {
        return Ok(());
    }
    let call = async {
        match reqs.len() {
            1 => {
                let r = reqs.pop().unwrap_or_default();
                s.store.set(r).await
            }
            _ => s.store.bulk_set(reqs).await,
        }
    };
    let result = ctx
        .metrics
        .time_store(Store::State, store_name, op::SET, call)
        .await;
    result.map_err(|e| {
        write_error(
            ErrorCode::StateSave,
            format!("failed saving state in state store {store_name}"),
            &e,
        )
    })
}

fn set_request(s: &StoreRef, it: SaveItem) -> Result<SetRequest, ApiError> {
    Ok(SetRequest {
        key: full_key(s, &it.key)?,
        value: it.value,
        etag: it.etag,
        metadata: it.metadata,
        concurrency: it.concurrency,
    })
}

/// Deletes one key.
pub async fn delete(
    ctx: &Ctx,
    store_name: &str,
    key: &str,
    etag: Option<String>,
    metadata: HashMap<String, String>,
    concurrency: Concurrency,
) -> Result<(), ApiError> {
    let s = store(ctx, store_name)?;
    let req = DeleteRequest {
        key: full_key(&s, key)?,
        etag,
        metadata,
        concurrency,
    };
    let call = s.store.delete(req);
    let result = ctx
        .metrics
        .time_store(Store::State, store_name, op::DELETE, call)
        .await;
    result.map_err(|e| {
        write_error(
            ErrorCode::StateDelete,
            format!("failed deleting state with key {key}"),
            &e,
        )
    })
}

/// Deletes many keys with the store's bulk delete (Go's `DeleteBulkState`:
/// every key is checked before anything is deleted).
pub async fn bulk_delete(
    ctx: &Ctx,
    store_name: &str,
    items: Vec<DeleteItem>,
) -> Result<(), ApiError> {
    let s = store(ctx, store_name)?;
    let mut reqs = Vec::with_capacity(items.len());
    for it in items {
        reqs.push(delete_request(&s, it)?);
    }
    // Go calls the store (and counts the call) even with no keys.
    let call = async {
        match reqs.len() {
            0 => Ok(()),
            1 => {
                let r = reqs.pop().unwrap_or_default();
                s.store.delete(r).await
            }
            _ => s.store.bulk_delete(reqs).await,
        }
    };
    let result = ctx
        .metrics
        .time_store(Store::State, store_name, op::BULK_DELETE, call)
        .await;
    result.map_err(|e| {
        write_error(
            ErrorCode::StateBulkDelete,
            format!("failed deleting state in state store {store_name}"),
            &e,
        )
    })
}

fn delete_request(s: &StoreRef, it: DeleteItem) -> Result<DeleteRequest, ApiError> {
    Ok(DeleteRequest {
        key: full_key(s, &it.key)?,
        etag: it.etag,
        metadata: it.metadata,
        concurrency: it.concurrency,
    })
}

/// Queries a store. No built-in store supports querying: after the store
/// lookup the answer is Go's "doesn't support query".
pub fn query(ctx: &Ctx, store_name: &str) -> ApiError {
    if let Err(e) = store(ctx, store_name) {
        return e;
    }
    ApiError::new(
        ErrorCode::StateStoreNotSupported,
        format!("state store {store_name} doesn't support query"),
    )
    .with_status(500, GrpcCode::Internal)
    .with_reason("DAPR_STATE_QUERYING_NOT_SUPPORTED")
}

/// Reads many keys; missing keys come back without an item.
pub async fn bulk_get(
    ctx: &Ctx,
    store_name: &str,
    keys: Vec<String>,
    metadata: HashMap<String, String>,
) -> Result<Vec<BulkItem>, ApiError> {
    let s = store(ctx, store_name)?;
    let mut reqs = Vec::with_capacity(keys.len());
    for k in &keys {
        reqs.push(GetRequest {
            key: full_key(&s, k)?,
            metadata: metadata.clone(),
        });
    }
    // No keys: no store call, nothing counted (as Go). Per-key errors
    // travel in the answer; the call itself succeeded.
    let results = if reqs.is_empty() {
        Vec::new()
    } else {
        let call = async { Ok::<_, ComponentError>(s.store.bulk_get(reqs).await) };
        let counted = ctx
            .metrics
            .time_store(Store::State, store_name, op::BULK_GET, call)
            .await;
        counted.unwrap_or_default()
    };
    Ok(keys
        .into_iter()
        .zip(results)
        .map(|(key, (_, r))| match r {
            Ok(item) => BulkItem {
                key,
                item,
                error: None,
            },
            Err(e) => BulkItem {
                key,
                item: None,
                error: Some(e.to_string()),
            },
        })
        .collect())
}

/// Runs a transaction; request metadata is merged into every operation.
/// On a store with an outbox, its events are published first (see
/// [`outbox`]) and the markers join the transaction.
pub async fn transact(
    ctx: &Ctx,
    store_name: &str,
    ops: Vec<TxOp>,
    metadata: HashMap<String, String>,
    origin: &outbox::Origin,
) -> Result<(), ApiError> {
    let s = store(ctx, store_name)?;
    if !s
        .store
        .features()
        .has(crate::components::state::Features::TRANSACTIONAL)
    {
        return Err(ApiError::new(
            ErrorCode::StateStoreNotSupported,
            format!("state store {store_name} doesn't support transactions"),
        )
        .with_reason("DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED"));
    }
    let (ops, markers) = match &s.outbox {
        Some(cfg) => {
            // Bad keys fail the transaction before anything is published.
            for op in &ops {
                full_key(&s, op.key())?;
            }
            outbox::publish_internal(ctx, cfg, ops, &metadata, origin).await?
        }
        None => (ops, Vec::new()),
    };
    let merge = |mut m: HashMap<String, String>| {
        for (k, v) in &metadata {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        m
    };
    let mut reqs = Vec::with_capacity(ops.len());
    for op in ops {
        reqs.push(match op {
            TxOp::Upsert(mut it) => {
                it.metadata = merge(std::mem::take(&mut it.metadata));
                TransactionOp::Upsert(set_request(&s, it)?)
            }
            TxOp::Delete(mut it) => {
                it.metadata = merge(std::mem::take(&mut it.metadata));
                TransactionOp::Delete(delete_request(&s, it)?)
            }
        });
    }
    reqs.extend(markers.into_iter().map(outbox::marker_op));
    // Go calls the store (and counts the call) even with no operations.
    let call = async {
        if reqs.is_empty() {
            return Ok(());
        }
        s.store.transact(reqs).await
    };
    let result = ctx
        .metrics
        .time_store(Store::State, store_name, op::TRANSACTION, call)
        .await;
    result.map_err(|e| {
        ApiError::new(
            ErrorCode::StateTransaction,
            format!("error while executing state transaction: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_as_go() {
        assert_eq!(key_prefix(None, "app", "s", None).as_deref(), Some("app"));
        assert_eq!(
            key_prefix(Some("AppID"), "app", "s", None).as_deref(),
            Some("app")
        );
        assert_eq!(
            key_prefix(Some("name"), "app", "s", None).as_deref(),
            Some("s")
        );
        assert_eq!(
            key_prefix(Some("namespace"), "app", "s", Some("prod")).as_deref(),
            Some("prod.app")
        );
        assert_eq!(
            key_prefix(Some("namespace"), "app", "s", None).as_deref(),
            Some("app")
        );
        assert_eq!(key_prefix(Some("none"), "app", "s", None), None);
        assert_eq!(
            key_prefix(Some("custom"), "app", "s", None).as_deref(),
            Some("custom")
        );
        assert_eq!(key_prefix(None, "", "s", None), None);
        assert_eq!(user_key("app||k||x"), "k||x");
        assert_eq!(user_key("k"), "k");
    }
}
