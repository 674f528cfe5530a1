//! The state store trait, its object-safe form, and the built-in stores.
//!
//! Stores implement [`StateStore`] with plain `async fn`s (no `Send`
//! bound: instances live on one worker). Bulk operations default to loops
//! over the single-item calls; transactions default to "unsupported", and a
//! store announces what it can do through [`Features`]. The component store
//! holds stores as `Rc<dyn StateStoreDyn>`; the blanket impl below adapts
//! every `StateStore` at the cost of one boxed future per call.

pub mod in_memory;
pub mod redis;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use super::{ComponentError, ComponentErrorKind};

/// Capabilities a state store announces (Dapr's feature names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features(u32);

impl Features {
    /// ETag-based optimistic concurrency.
    pub const ETAG: Features = Features(1);
    /// Atomic multi-key transactions.
    pub const TRANSACTIONAL: Features = Features(1 << 1);
    /// Per-item time to live.
    pub const TTL: Features = Features(1 << 2);
    /// The query API.
    pub const QUERY_API: Features = Features(1 << 3);
    /// Deleting every key under a prefix (used by actors and workflows).
    pub const DELETE_WITH_PREFIX: Features = Features(1 << 4);
    /// Listing keys by pattern (used by actors and workflows).
    pub const KEYS_LIKE: Features = Features(1 << 5);

    /// The union of two sets.
    pub const fn with(self, other: Features) -> Features {
        Features(self.0 | other.0)
    }

    /// Whether every feature of `other` is present.
    pub const fn has(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }

    /// Dapr's capability names, as the metadata API lists them: in the
    /// order Go's stores list their features (one order fits them all),
    /// then `ACTOR` when the store has both ETags and transactions.
    pub fn names(self) -> Vec<String> {
        let mut v = Vec::new();
        for (f, n) in [
            (Self::ETAG, "ETAG"),
            (Self::TRANSACTIONAL, "TRANSACTIONAL"),
            (Self::TTL, "TTL"),
            (Self::QUERY_API, "QUERY_API"),
            (Self::DELETE_WITH_PREFIX, "DELETE_WITH_PREFIX"),
            (Self::KEYS_LIKE, "KEYS_LIKE"),
        ] {
            if self.has(f) {
                v.push(n.to_owned());
            }
        }
        if self.has(Self::ETAG.with(Self::TRANSACTIONAL)) {
            v.push("ACTOR".to_owned());
        }
        v
    }
}

/// `first-write` or `last-write` (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Concurrency {
    /// The last write wins (ETags still checked when given).
    #[default]
    LastWrite,
    /// A write without an ETag fails if the key exists.
    FirstWrite,
}

/// Read a key.
#[derive(Clone, Debug, Default)]
pub struct GetRequest {
    /// The (prefixed) key.
    pub key: String,
    /// Request metadata.
    pub metadata: HashMap<String, String>,
}

/// A stored item.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateItem {
    /// The stored bytes.
    pub data: Bytes,
    /// Its ETag.
    pub etag: Option<String>,
    /// Response metadata (e.g. `ttlExpireTime`).
    pub metadata: HashMap<String, String>,
}

/// Write a key.
#[derive(Clone, Debug, Default)]
pub struct SetRequest {
    /// The (prefixed) key.
    pub key: String,
    /// The bytes to store.
    pub value: Bytes,
    /// Expected current ETag.
    pub etag: Option<String>,
    /// Item metadata (`ttlInSeconds`, …).
    pub metadata: HashMap<String, String>,
    /// Concurrency mode.
    pub concurrency: Concurrency,
}

/// Delete a key.
#[derive(Clone, Debug, Default)]
pub struct DeleteRequest {
    /// The (prefixed) key.
    pub key: String,
    /// Expected current ETag.
    pub etag: Option<String>,
    /// Item metadata.
    pub metadata: HashMap<String, String>,
    /// Concurrency mode.
    pub concurrency: Concurrency,
}

/// One operation of a transaction.
#[derive(Clone, Debug)]
pub enum TransactionOp {
    /// `upsert`
    Upsert(SetRequest),
    /// `delete`
    Delete(DeleteRequest),
}

/// The result for one key of a bulk read.
pub type BulkGetItem = (String, Result<Option<StateItem>, ComponentError>);

/// A state store.
#[allow(async_fn_in_trait)] // thread-per-core: futures are intentionally !Send
pub trait StateStore {
    /// What the store supports.
    fn features(&self) -> Features;
    /// Reads one key; `None` when missing.
    async fn get(&self, req: GetRequest) -> Result<Option<StateItem>, ComponentError>;
    /// Writes one key.
    async fn set(&self, req: SetRequest) -> Result<(), ComponentError>;
    /// Deletes one key (missing keys are not an error).
    async fn delete(&self, req: DeleteRequest) -> Result<(), ComponentError>;

    /// Reads many keys; per-key failures are reported per key.
    async fn bulk_get(&self, reqs: Vec<GetRequest>) -> Vec<BulkGetItem> {
        let mut out = Vec::with_capacity(reqs.len());
        for r in reqs {
            let key = r.key.clone();
            out.push((key, self.get(r).await));
        }
        out
    }

    /// Writes many keys, stopping at the first failure.
    async fn bulk_set(&self, reqs: Vec<SetRequest>) -> Result<(), ComponentError> {
        for r in reqs {
            self.set(r).await?;
        }
        Ok(())
    }

    /// Deletes many keys, stopping at the first failure.
    async fn bulk_delete(&self, reqs: Vec<DeleteRequest>) -> Result<(), ComponentError> {
        for r in reqs {
            self.delete(r).await?;
        }
        Ok(())
    }

    /// Applies every operation atomically, or none.
    async fn transact(&self, _ops: Vec<TransactionOp>) -> Result<(), ComponentError> {
        Err(ComponentError::new(
            ComponentErrorKind::Unsupported,
            "the state store does not support transactions",
        ))
    }
}

/// A boxed, worker-local future.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The object-safe form of [`StateStore`] held by the component store.
#[allow(missing_docs)] // mirrors StateStore one to one
pub trait StateStoreDyn {
    fn features(&self) -> Features;
    fn get(&self, req: GetRequest) -> LocalFuture<'_, Result<Option<StateItem>, ComponentError>>;
    fn set(&self, req: SetRequest) -> LocalFuture<'_, Result<(), ComponentError>>;
    fn delete(&self, req: DeleteRequest) -> LocalFuture<'_, Result<(), ComponentError>>;
    fn bulk_get(&self, reqs: Vec<GetRequest>) -> LocalFuture<'_, Vec<BulkGetItem>>;
    fn bulk_set(&self, reqs: Vec<SetRequest>) -> LocalFuture<'_, Result<(), ComponentError>>;
    fn bulk_delete(&self, reqs: Vec<DeleteRequest>) -> LocalFuture<'_, Result<(), ComponentError>>;
    fn transact(&self, ops: Vec<TransactionOp>) -> LocalFuture<'_, Result<(), ComponentError>>;
}

impl<T: StateStore> StateStoreDyn for T {
    fn features(&self) -> Features {
        StateStore::features(self)
    }
    fn get(&self, req: GetRequest) -> LocalFuture<'_, Result<Option<StateItem>, ComponentError>> {
        Box::pin(StateStore::get(self, req))
    }
    fn set(&self, req: SetRequest) -> LocalFuture<'_, Result<(), ComponentError>> {
        Box::pin(StateStore::set(self, req))
    }
    fn delete(&self, req: DeleteRequest) -> LocalFuture<'_, Result<(), ComponentError>> {
        Box::pin(StateStore::delete(self, req))
    }
    fn bulk_get(&self, reqs: Vec<GetRequest>) -> LocalFuture<'_, Vec<BulkGetItem>> {
        Box::pin(StateStore::bulk_get(self, reqs))
    }
    fn bulk_set(&self, reqs: Vec<SetRequest>) -> LocalFuture<'_, Result<(), ComponentError>> {
        Box::pin(StateStore::bulk_set(self, reqs))
    }
    fn bulk_delete(&self, reqs: Vec<DeleteRequest>) -> LocalFuture<'_, Result<(), ComponentError>> {
        Box::pin(StateStore::bulk_delete(self, reqs))
    }
    fn transact(&self, ops: Vec<TransactionOp>) -> LocalFuture<'_, Result<(), ComponentError>> {
        Box::pin(StateStore::transact(self, ops))
    }
}

/// Parses `ttlInSeconds` item metadata: `None` when absent, `Some(None)` for
/// "never expire" (`-1`), `Some(Some(secs))` otherwise.
pub fn ttl_from_metadata(
    md: &HashMap<String, String>,
) -> Result<Option<Option<u64>>, ComponentError> {
    let Some(raw) = md
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("ttlInSeconds"))
        .map(|(_, v)| v)
    else {
        return Ok(None);
    };
    let n: i64 = raw.trim().parse().map_err(|_| {
        ComponentError::new(
            ComponentErrorKind::InvalidInput,
            format!("incorrect value for metadata 'ttlInSeconds': {raw:?} is not an integer"),
        )
    })?;
    match n {
        -1 => Ok(Some(None)),
        n if n < -1 => Err(ComponentError::new(
            ComponentErrorKind::InvalidInput,
            format!("incorrect value for metadata 'ttlInSeconds': {n} (must be -1 or positive)"),
        )),
        0 => Ok(None),
        n => Ok(Some(Some(n as u64))),
    }
}
