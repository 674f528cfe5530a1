//! `lock.in-memory` (ours; contrib has none): locks held in this process,
//! for one sidecar and for tests.
//!
//! Every worker shares one concurrent map (key → owner and deadline), a
//! deliberate cross-core structure: a lock taken through one core must be
//! refused through another. The map is sharded (`dashmap`): an operation
//! locks one shard for one map operation, never across an `.await`, and
//! there is no global lock on the hot path. Expiry is honoured on every
//! access (an expired lock is free, and unlocking it answers "does not
//! exist", as Redis would once the key expired); expired entries are swept
//! every few thousand acquisitions so abandoned locks do not pile up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use super::{LockStore, TryLockRequest, UnlockRequest, UnlockStatus};
use crate::components::ComponentError;

/// Acquisitions between sweeps of expired entries.
const SWEEP_EVERY: u64 = 4096;

struct Held {
    owner: String,
    until: Instant,
}

#[derive(Default)]
struct Locks {
    map: DashMap<String, Held>,
    acquisitions: AtomicU64,
}

/// Built once; every worker's instance shares its map.
#[derive(Default)]
pub struct InMemoryLockFactory {
    locks: Arc<Locks>,
}

impl InMemoryLockFactory {
    /// A factory with an empty lock table (no metadata of its own).
    pub fn new() -> Self {
        Self::default()
    }

    /// A worker's handle on the shared table.
    pub fn build(&self) -> InMemoryLock {
        InMemoryLock {
            locks: self.locks.clone(),
        }
    }
}

/// A worker's handle on the process-wide lock table.
pub struct InMemoryLock {
    locks: Arc<Locks>,
}

impl InMemoryLock {
    fn try_lock_now(&self, req: TryLockRequest, now: Instant) -> bool {
        // Up to i32::MAX seconds (68 years): no monotonic clock overflows, but be sure.
        let ttl = Duration::from_secs(u64::from(req.expiry_in_seconds));
        let until = now
            .checked_add(ttl)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        let acquired = match self.locks.map.entry(req.key) {
            Entry::Vacant(v) => {
                v.insert(Held {
                    owner: req.owner,
                    until,
                });
                true
            }
            Entry::Occupied(mut o) if o.get().until <= now => {
                o.insert(Held {
                    owner: req.owner,
                    until,
                });
                true
            }
            // Held, even by the same owner: Redis `SET NX` refuses too.
            Entry::Occupied(_) => false,
        };
        if acquired && self.locks.acquisitions.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == 0 {
            // One shard at a time; no entry of this call is held here.
            self.locks.map.retain(|_, h| h.until > now);
        }
        acquired
    }

    fn unlock_now(&self, req: &UnlockRequest, now: Instant) -> UnlockStatus {
        match self.locks.map.entry(req.key.clone()) {
            Entry::Vacant(_) => UnlockStatus::LockDoesNotExist,
            Entry::Occupied(o) if o.get().until <= now => {
                o.remove();
                UnlockStatus::LockDoesNotExist
            }
            Entry::Occupied(o) if o.get().owner != req.owner => UnlockStatus::LockBelongsToOthers,
            Entry::Occupied(o) => {
                o.remove();
                UnlockStatus::Success
            }
        }
    }
}

impl LockStore for InMemoryLock {
    async fn try_lock(&self, req: TryLockRequest) -> Result<bool, ComponentError> {
        Ok(self.try_lock_now(req, Instant::now()))
    }

    async fn unlock(&self, req: UnlockRequest) -> Result<UnlockStatus, ComponentError> {
        Ok(self.unlock_now(&req, Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(key: &str, owner: &str, secs: u32) -> TryLockRequest {
        TryLockRequest {
            key: key.into(),
            owner: owner.into(),
            expiry_in_seconds: secs,
        }
    }

    fn release(key: &str, owner: &str) -> UnlockRequest {
        UnlockRequest {
            key: key.into(),
            owner: owner.into(),
        }
    }

    #[test]
    fn one_owner_expiry_and_statuses() {
        let f = InMemoryLockFactory::new();
        let (a, b) = (f.build(), f.build());
        let t0 = Instant::now();
        assert!(a.try_lock_now(take("k", "o1", 10), t0));
        assert!(!b.try_lock_now(take("k", "o2", 10), t0));
        assert!(!a.try_lock_now(take("k", "o1", 10), t0));
        assert_eq!(
            b.unlock_now(&release("k", "o2"), t0),
            UnlockStatus::LockBelongsToOthers
        );
        assert_eq!(
            b.unlock_now(&release("nope", "o2"), t0),
            UnlockStatus::LockDoesNotExist
        );
        // Expired: free for anyone, and no longer there to unlock.
        let later = t0 + Duration::from_secs(11);
        assert_eq!(
            a.unlock_now(&release("k", "o1"), later),
            UnlockStatus::LockDoesNotExist
        );
        assert!(b.try_lock_now(take("k", "o2", 1), later));
        assert_eq!(
            a.unlock_now(&release("k", "o2"), later),
            UnlockStatus::Success
        );
        assert!(a.locks.map.is_empty());
    }
}
