//! `state.in-memory`: the embedded default store, shared by every worker.
//!
//! Data lives in one `Arc` of [`SHARDS`] mutex-guarded maps: a key's shard
//! is chosen by hash, so single-key operations on different keys rarely
//! meet, and no lock is ever held across an `.await` (every operation is
//! synchronous inside). A transaction locks the shards it touches in index
//! order — deadlock-free — validates every ETag, and only then applies, so
//! it is atomic without a global lock.
//!
//! ETags are per-key versions (`1`, `2`, …), as the Redis store's, so SDK
//! examples that expect them behave the same on both; a given ETag is
//! compared as an opaque string, as Go's store (UUID ETags) does, so one
//! that does not match is a mismatch, never "invalid". TTLs are enforced on
//! read; expired entries are also swept as writes pass by.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::{
    ttl_from_metadata, Concurrency, DeleteRequest, Features, GetRequest, SetRequest, StateItem,
    StateStore, TransactionOp,
};
#[cfg(test)]
use crate::components::ComponentErrorKind;
use crate::components::{ComponentError, Metadata};

/// Number of shards (a power of two).
pub const SHARDS: usize = 64;

struct Entry {
    value: Bytes,
    version: u64,
    expires: Option<(Instant, SystemTime)>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|(at, _)| at > now)
    }
}

type Shard = HashMap<String, Entry>;

/// The shared data; one per component, cloned into every worker's instance.
pub struct Data {
    shards: Box<[Mutex<Shard>]>,
}

impl Default for Data {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl Data {
    fn index(key: &str) -> usize {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() as usize) & (SHARDS - 1)
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        // Every critical section leaves the map consistent, even on panic.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Builds per-worker instances over one shared [`Data`].
pub struct InMemoryFactory {
    data: Arc<Data>,
}

impl InMemoryFactory {
    /// A new, empty store (metadata is accepted and ignored, as in Go).
    pub fn new(_metadata: &Metadata) -> Self {
        Self {
            data: Arc::new(Data::default()),
        }
    }

    /// A worker's handle to the shared data.
    pub fn build(&self) -> InMemoryStore {
        InMemoryStore {
            data: self.data.clone(),
        }
    }
}

/// A worker's handle to the store.
pub struct InMemoryStore {
    data: Arc<Data>,
}

/// Whether `etag` names `version`. ETags are opaque strings, as in Go's
/// store: anything else (`"01"`, `"abc"`) is a mismatch, never invalid.
fn etag_is(etag: &str, version: u64) -> bool {
    etag.len() <= 20
        && (etag == "0" || !etag.starts_with('0'))
        && etag.bytes().all(|b| b.is_ascii_digit())
        && etag.parse::<u64>() == Ok(version)
}

/// Checks a write's ETag / concurrency against the current entry.
fn check(
    current: Option<&Entry>,
    etag: Option<&str>,
    concurrency: Concurrency,
) -> Result<(), ComponentError> {
    match (etag.filter(|e| !e.is_empty()), current) {
        (Some(e), cur) => match cur {
            Some(c) if etag_is(e, c.version) => Ok(()),
            _ => Err(ComponentError::etag_mismatch()),
        },
        (None, Some(_)) if concurrency == Concurrency::FirstWrite => {
            Err(ComponentError::etag_mismatch())
        }
        (None, _) => Ok(()),
    }
}

fn expiry(md: &HashMap<String, String>) -> Result<Option<(Instant, SystemTime)>, ComponentError> {
    Ok(match ttl_from_metadata(md)? {
        Some(Some(secs)) => {
            let d = Duration::from_secs(secs);
            Some((Instant::now() + d, SystemTime::now() + d))
        }
        _ => None,
    })
}

fn apply_set(
    shard: &mut Shard,
    req: SetRequest,
    expires: Option<(Instant, SystemTime)>,
    now: Instant,
) {
    let version = shard
        .get(&req.key)
        .filter(|e| e.live(now))
        .map_or(1, |e| e.version + 1);
    shard.insert(
        req.key,
        Entry {
            value: req.value,
            version,
            expires,
        },
    );
}

impl StateStore for InMemoryStore {
    fn features(&self) -> Features {
        // Go's list; prefix deletes and key listing serve actors and
        // workflows there, which this sidecar does not host yet.
        Features::ETAG
            .with(Features::TRANSACTIONAL)
            .with(Features::TTL)
            .with(Features::DELETE_WITH_PREFIX)
            .with(Features::KEYS_LIKE)
    }

    async fn get(&self, req: GetRequest) -> Result<Option<StateItem>, ComponentError> {
        let now = Instant::now();
        let mut shard = self.data.lock(Data::index(&req.key));
        let Some(entry) = shard.get(&req.key) else {
            return Ok(None);
        };
        if !entry.live(now) {
            shard.remove(&req.key);
            return Ok(None);
        }
        let mut metadata = HashMap::new();
        if let Some((_, at)) = entry.expires {
            metadata.insert("ttlExpireTime".to_owned(), crate::logging::rfc3339_nano(at));
        }
        Ok(Some(StateItem {
            data: entry.value.clone(),
            etag: Some(entry.version.to_string()),
            metadata,
        }))
    }

    async fn set(&self, req: SetRequest) -> Result<(), ComponentError> {
        let expires = expiry(&req.metadata)?;
        let now = Instant::now();
        let i = Data::index(&req.key);
        let mut shard = self.data.lock(i);
        let current = shard.get(&req.key).filter(|e| e.live(now));
        check(current, req.etag.as_deref(), req.concurrency)?;
        apply_set(&mut shard, req, expires, now);
        if shard.len() > 64 && (now.elapsed().subsec_nanos() & 0x3f) == 0 {
            // Occasional sweep so expired, never-read keys do not pile up.
            shard.retain(|_, e| e.live(now));
        }
        Ok(())
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ComponentError> {
        let now = Instant::now();
        let mut shard = self.data.lock(Data::index(&req.key));
        let current = shard.get(&req.key).filter(|e| e.live(now));
        if req.etag.as_deref().is_some_and(|e| !e.is_empty()) {
            check(current, req.etag.as_deref(), Concurrency::LastWrite)?;
        }
        shard.remove(&req.key);
        Ok(())
    }

    async fn transact(&self, ops: Vec<TransactionOp>) -> Result<(), ComponentError> {
        let now = Instant::now();
        let key = |op: &TransactionOp| match op {
            TransactionOp::Upsert(s) => Data::index(&s.key),
            TransactionOp::Delete(d) => Data::index(&d.key),
        };
        let mut indices: Vec<usize> = ops.iter().map(key).collect();
        indices.sort_unstable();
        indices.dedup();
        // Lock in index order: two transactions can never wait on each other.
        let mut guards: Vec<(usize, MutexGuard<'_, Shard>)> =
            indices.iter().map(|&i| (i, self.data.lock(i))).collect();

        // Validate everything first (later ops see earlier ops' effects).
        let mut expiries = Vec::with_capacity(ops.len());
        let mut shadow: HashMap<&str, Option<u64>> = HashMap::new();
        for op in &ops {
            let (k, etag, conc, exp) = match op {
                TransactionOp::Upsert(s) => (
                    s.key.as_str(),
                    s.etag.as_deref(),
                    s.concurrency,
                    expiry(&s.metadata)?,
                ),
                TransactionOp::Delete(d) => {
                    (d.key.as_str(), d.etag.as_deref(), d.concurrency, None)
                }
            };
            let version = match shadow.get(k) {
                Some(v) => *v,
                None => shard_of(&mut guards, Data::index(k))
                    .get(k)
                    .filter(|e| e.live(now))
                    .map(|e| e.version),
            };
            let probe = version.map(|v| Entry {
                value: Bytes::new(),
                version: v,
                expires: None,
            });
            let is_delete = matches!(op, TransactionOp::Delete(_));
            if !(is_delete && etag.is_none_or(str::is_empty)) {
                check(
                    probe.as_ref(),
                    etag,
                    if is_delete {
                        Concurrency::LastWrite
                    } else {
                        conc
                    },
                )?;
            }
            shadow.insert(
                k,
                if is_delete {
                    None
                } else {
                    Some(version.map_or(1, |v| v + 1))
                },
            );
            expiries.push(exp);
        }
        // Then apply.
        for (op, exp) in ops.into_iter().zip(expiries) {
            match op {
                TransactionOp::Upsert(s) => {
                    let shard = shard_of(&mut guards, Data::index(&s.key));
                    apply_set(shard, s, exp, now);
                }
                TransactionOp::Delete(d) => {
                    shard_of(&mut guards, Data::index(&d.key)).remove(&d.key);
                }
            }
        }
        Ok(())
    }
}

/// The locked shard `i` (always among `guards`: every key's shard was locked).
fn shard_of<'g>(guards: &'g mut [(usize, MutexGuard<'_, Shard>)], i: usize) -> &'g mut Shard {
    let pos = guards.iter().position(|(j, _)| *j == i).unwrap_or(0);
    &mut guards[pos].1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> InMemoryStore {
        InMemoryFactory::new(&Metadata::default()).build()
    }

    fn set(key: &str, v: &str, etag: Option<&str>) -> SetRequest {
        SetRequest {
            key: key.into(),
            value: Bytes::copy_from_slice(v.as_bytes()),
            etag: etag.map(str::to_owned),
            ..Default::default()
        }
    }

    fn get(key: &str) -> GetRequest {
        GetRequest {
            key: key.into(),
            ..Default::default()
        }
    }

    #[monoio::test]
    async fn etags_count_up_and_guard_writes() {
        let s = store();
        s.set(set("k", "a", None)).await.unwrap();
        assert_eq!(
            s.get(get("k")).await.unwrap().unwrap().etag.as_deref(),
            Some("1")
        );
        s.set(set("k", "b", Some("1"))).await.unwrap();
        let item = s.get(get("k")).await.unwrap().unwrap();
        assert_eq!(
            (item.data.as_ref(), item.etag.as_deref()),
            (&b"b"[..], Some("2"))
        );
        let e = s.set(set("k", "c", Some("1"))).await.unwrap_err();
        assert_eq!(e.kind(), ComponentErrorKind::EtagMismatch);
        let e = s
            .set(set("k", "c", Some("not-a-number")))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ComponentErrorKind::EtagMismatch);
        let e = s.set(set("k", "c", Some("02"))).await.unwrap_err();
        assert_eq!(e.kind(), ComponentErrorKind::EtagMismatch);
        let mut fw = set("k", "d", None);
        fw.concurrency = Concurrency::FirstWrite;
        assert_eq!(
            s.set(fw).await.unwrap_err().kind(),
            ComponentErrorKind::EtagMismatch
        );
        // An ETag on a missing key is a mismatch too.
        assert_eq!(
            s.set(set("new", "x", Some("1"))).await.unwrap_err().kind(),
            ComponentErrorKind::EtagMismatch
        );
    }

    #[monoio::test]
    async fn delete_with_etag() {
        let s = store();
        s.set(set("k", "a", None)).await.unwrap();
        let del = |etag: Option<&str>| DeleteRequest {
            key: "k".into(),
            etag: etag.map(str::to_owned),
            ..Default::default()
        };
        assert_eq!(
            s.delete(del(Some("9"))).await.unwrap_err().kind(),
            ComponentErrorKind::EtagMismatch
        );
        s.delete(del(Some("1"))).await.unwrap();
        assert!(s.get(get("k")).await.unwrap().is_none());
        s.delete(del(None)).await.unwrap();
    }

    #[monoio::test(timer_enabled = true)]
    async fn ttl_expires() {
        let s = store();
        let mut r = set("t", "v", None);
        r.metadata.insert("ttlInSeconds".into(), "1".into());
        s.set(r).await.unwrap();
        let item = s.get(get("t")).await.unwrap().unwrap();
        assert!(item.metadata.contains_key("ttlExpireTime"));
        monoio::time::sleep(Duration::from_millis(1100)).await;
        assert!(s.get(get("t")).await.unwrap().is_none());
        let mut bad = set("t", "v", None);
        bad.metadata.insert("ttlInSeconds".into(), "soon".into());
        assert_eq!(
            s.set(bad).await.unwrap_err().kind(),
            ComponentErrorKind::InvalidInput
        );
    }

    #[monoio::test]
    async fn failing_transaction_changes_nothing() {
        let s = store();
        s.set(set("a", "1", None)).await.unwrap();
        let ops = vec![
            TransactionOp::Upsert(set("b", "2", None)),
            TransactionOp::Delete(DeleteRequest {
                key: "a".into(),
                ..Default::default()
            }),
            TransactionOp::Upsert(set("c", "3", Some("7"))), // mismatch
        ];
        assert_eq!(
            s.transact(ops).await.unwrap_err().kind(),
            ComponentErrorKind::EtagMismatch
        );
        assert!(s.get(get("b")).await.unwrap().is_none());
        assert!(s.get(get("a")).await.unwrap().is_some());
        let ok = vec![
            TransactionOp::Upsert(set("b", "2", None)),
            TransactionOp::Upsert(set("b", "3", Some("1"))), // sees the earlier op
            TransactionOp::Delete(DeleteRequest {
                key: "a".into(),
                etag: Some("1".into()),
                ..Default::default()
            }),
        ];
        s.transact(ok).await.unwrap();
        assert_eq!(s.get(get("b")).await.unwrap().unwrap().data.as_ref(), b"3");
        assert!(s.get(get("a")).await.unwrap().is_none());
    }

    #[test]
    fn racing_writers_on_two_threads_one_winner_per_version() {
        let factory = Arc::new(InMemoryFactory::new(&Metadata::default()));
        monoio::start::<monoio::LegacyDriver, _>(async {
            factory.build().set(set("race", "0", None)).await.unwrap();
        });
        let wins = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (f, wins) = (factory.clone(), wins.clone());
                std::thread::spawn(move || {
                    monoio::start::<monoio::LegacyDriver, _>(async move {
                        let s = f.build();
                        for _ in 0..500 {
                            let cur = s.get(get("race")).await.unwrap().unwrap();
                            let next = format!("{t}");
                            if s.set(set("race", &next, cur.etag.as_deref())).await.is_ok() {
                                wins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = factory.build();
        let final_version: usize = monoio::start::<monoio::LegacyDriver, _>(async move {
            s.get(get("race"))
                .await
                .unwrap()
                .unwrap()
                .etag
                .unwrap()
                .parse()
                .unwrap()
        });
        // Every successful write bumped the version exactly once.
        assert_eq!(
            final_version,
            1 + wins.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
}
