//! Actor state (Go: `pkg/actors/state/state.go`) on the state store with
//! `actorStateStore: "true"`: keys `<appID>||<type>||<id>||<key>` (no
//! store `keyPrefix`, so Go and Rust sidecars share the data), every
//! request carrying `partitionKey = <appID>||<type>||<id>`, and every
//! write one transaction.

use std::collections::HashMap;

use bytes::Bytes;

use super::SEPARATOR;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::Ctx;
use crate::components::state::{
    DeleteRequest, Features, GetRequest, SetRequest, StateItem, StateStoreDyn, TransactionOp,
};

/// Go's `errStateStoreNotConfigured`.
const NOT_CONFIGURED: &str = r#"actors: state store does not exist or incorrectly configured. Have you set the property '{"name": "actorStateStore", "value": "true"}' in your state store component file?"#;

/// One operation of an actor state transaction.
#[derive(Debug)]
pub enum Op {
    /// Write `key`.
    Upsert {
        /// The key (without the actor prefix).
        key: String,
        /// The bytes to store.
        value: Bytes,
        /// Expected ETag.
        etag: Option<String>,
        /// Item metadata.
        metadata: HashMap<String, String>,
    },
    /// Delete `key`.
    Delete {
        /// The key (without the actor prefix).
        key: String,
        /// Expected ETag.
        etag: Option<String>,
    },
}

/// The actor store on this worker, or Go's error.
fn store(ctx: &Ctx) -> Result<std::rc::Rc<dyn StateStoreDyn>, ApiError> {
    let name = ctx.shared.actors.store.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ActorRuntimeNotFound,
            r#"the state store is not configured to use the actor runtime. Have you set the - name: actorStateStore value: "true" in your state store component file?"#,
        )
    })?;
    let s = ctx
        .components
        .state
        .get(name)
        .ok_or_else(|| ApiError::new(ErrorCode::ActorRuntimeNotFound, NOT_CONFIGURED))?;
    if !s
        .store
        .features()
        .has(Features::ETAG.with(Features::TRANSACTIONAL))
    {
        return Err(ApiError::new(
            ErrorCode::ActorRuntimeNotFound,
            NOT_CONFIGURED,
        ));
    }
    Ok(s.store.clone())
}

/// `<appID>||<type>||<id>`.
fn partition(ctx: &Ctx, actor_type: &str, actor_id: &str) -> String {
    let app = &ctx.shared.opts.app_id;
    let mut k = String::with_capacity(app.len() + actor_type.len() + actor_id.len() + 4);
    k.push_str(app);
    k.push_str(SEPARATOR);
    k.push_str(actor_type);
    k.push_str(SEPARATOR);
    k.push_str(actor_id);
    k
}

fn partition_metadata(partition: &str) -> HashMap<String, String> {
    HashMap::from([("partitionKey".to_owned(), partition.to_owned())])
}

/// Reads one key of an actor's state (`None`: absent).
pub async fn get(
    ctx: &Ctx,
    actor_type: &str,
    actor_id: &str,
    key: &str,
) -> Result<Option<StateItem>, ApiError> {
    let store = store(ctx)?;
    let partition = partition(ctx, actor_type, actor_id);
    let full = format!("{partition}{SEPARATOR}{key}");
    store
        .get(GetRequest {
            key: full,
            metadata: partition_metadata(&partition),
        })
        .await
        .map_err(|e| {
            ApiError::new(
                ErrorCode::ActorStateGet,
                format!("error getting actor state: {e}"),
            )
        })
}

/// Applies `ops` to an actor's state as one transaction; the actor must be
/// active on this sidecar (Go: `ERR_ACTOR_INSTANCE_MISSING`).
pub async fn transact(
    ctx: &Ctx,
    actor_type: &str,
    actor_id: &str,
    ops: Vec<Op>,
) -> Result<(), ApiError> {
    if !ctx.shared.actors.is_active(actor_type, actor_id) {
        return Err(ApiError::new(
            ErrorCode::ActorInstanceMissing,
            "actor instance is missing",
        ));
    }
    let store = store(ctx)?;
    let partition = partition(ctx, actor_type, actor_id);
    let save_error = |why: String| {
        ApiError::new(
            ErrorCode::ActorStateTransactionSave,
            format!("error saving actor transaction state: {why}"),
        )
    };
    let mut tx = Vec::with_capacity(ops.len());
    for op in ops {
        tx.push(match op {
            Op::Upsert {
                key,
                value,
                etag,
                mut metadata,
            } => {
                if key.is_empty() {
                    return Err(save_error("missing key".into()));
                }
                if metadata.contains_key("ttlInSeconds") {
                    return Err(save_error(
                        r#"ttlInSeconds is not supported without the "ActorStateTTL" feature enabled"#
                            .into(),
                    ));
                }
                metadata.insert("partitionKey".to_owned(), partition.clone());
                TransactionOp::Upsert(SetRequest {
                    key: format!("{partition}{SEPARATOR}{key}"),
                    value,
                    etag,
                    metadata,
                    concurrency: Default::default(),
                })
            }
            Op::Delete { key, etag } => {
                if key.is_empty() {
                    return Err(save_error("missing key".into()));
                }
                TransactionOp::Delete(DeleteRequest {
                    key: format!("{partition}{SEPARATOR}{key}"),
                    etag,
                    metadata: partition_metadata(&partition),
                    concurrency: Default::default(),
                })
            }
        });
    }
    store
        .transact(tx)
        .await
        .map_err(|e| save_error(e.to_string()))
}
