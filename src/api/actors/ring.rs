//! Dapr's consistent-hash ring: which host owns an actor id
//! (Go: `pkg/placement/hashing/consistent_hash.go`, used by
//! `pkg/actors/internal/placement/loops/disseminator/inflight`).
//!
//! Placement sends, per actor type, a `load_map` keyed by host name
//! (`"<ip>:<internal-grpc-port>"`) and one replication factor. Every daprd
//! turns that into the same ring:
//!
//! - [`hash`]`(s)` is the first 8 bytes, little-endian, of BLAKE2b-512(s);
//! - each host contributes `replication_factor` virtual nodes,
//!   `hash(host + decimal(i))` for `i` in `0..replication_factor`;
//! - the owner of an actor id is the host of the first virtual node whose
//!   hash is `>= hash(actor_id)`, wrapping to the first node past the end.
//!
//! The key is the actor id alone (one ring per type), and load is not used.
//! Because every sidecar must agree on owners, the unit tests pin Go's own
//! vectors.
//!
//! Two virtual nodes with the same 64-bit hash (never seen in practice) get
//! one owner. Go keeps both in its sorted slice but maps the hash to
//! whichever host its map iteration wrote last (random order); here hosts are
//! taken in ascending name order and the later (greater) name wins, so the
//! result is at least deterministic.
//!
//! A [`Ring`] is immutable and `Send + Sync`: build one per table update and
//! share it. Lookups ([`Ring::owner`]) are a hash and a binary search, with
//! no allocation. Building costs `hosts × replication_factor` hashes plus a
//! sort; [`VnodeCache`] keeps the hashes of hosts seen before (Go keeps the
//! same cache), so rebuilding every type's ring for one table change hashes
//! each host once.

use std::collections::HashMap;
use std::sync::Arc;

use blake2::{Blake2b512, Digest};

/// Dapr's ring hash: the first 8 bytes of BLAKE2b-512(`key`), little-endian.
pub fn hash(key: &str) -> u64 {
    let digest = Blake2b512::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The hashes of one host's virtual nodes, `hash(host + decimal(i))` for
/// `i` in `0..replication_factor`, in that order. A replication factor of
/// zero or below gives none (Go panics on a negative one).
pub fn vnode_hashes(host: &str, replication_factor: i64) -> Vec<u64> {
    let count = usize::try_from(replication_factor).unwrap_or(0);
    let mut out = Vec::with_capacity(count);
    let mut key = String::with_capacity(host.len() + 20);
    let mut digits = itoa::Buffer::new();
    for i in 0..count {
        key.clear();
        key.push_str(host);
        key.push_str(digits.format(i));
        out.push(hash(&key));
    }
    out
}

// === impl VnodeCache ===

/// Virtual-node hashes already computed, by (replication factor, host).
///
/// Go's `VirtualNodesCache` never forgets a host; call
/// [`VnodeCache::retain_hosts`] after a table update to drop the ones that
/// left.
#[derive(Debug, Default)]
pub struct VnodeCache {
    /// replication factor → host → hashes (nested so a hit needs no owned key).
    entries: HashMap<i64, HashMap<Box<str>, Arc<[u64]>>>,
}

impl VnodeCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The virtual-node hashes of `host`, computed once per replication factor.
    pub fn hashes(&mut self, host: &str, replication_factor: i64) -> Arc<[u64]> {
        let by_host = self.entries.entry(replication_factor).or_default();
        if let Some(found) = by_host.get(host) {
            return Arc::clone(found);
        }
        let computed: Arc<[u64]> = vnode_hashes(host, replication_factor).into();
        by_host.insert(Box::from(host), Arc::clone(&computed));
        computed
    }

    /// Keeps only the hosts for which `keep` is true.
    pub fn retain_hosts(&mut self, mut keep: impl FnMut(&str) -> bool) {
        for by_host in self.entries.values_mut() {
            by_host.retain(|host, _| keep(host));
        }
        self.entries.retain(|_, by_host| !by_host.is_empty());
    }

    /// How many (replication factor, host) entries are cached.
    pub fn len(&self) -> usize {
        self.entries.values().map(HashMap::len).sum()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

// === impl Ring ===

/// One actor type's ring: sorted virtual-node hashes and their hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// Virtual-node hashes, ascending, each once.
    hashes: Box<[u64]>,
    /// `owners[i]` indexes `hosts` for `hashes[i]`.
    owners: Box<[u32]>,
    /// Host names, ascending, each once.
    hosts: Box<[Box<str>]>,
    replication_factor: i64,
}

impl Ring {
    /// Builds the ring of `hosts` (the `load_map` keys) with
    /// `replication_factor` virtual nodes each. Duplicate names count once.
    pub fn new<I, S>(hosts: I, replication_factor: i64) -> Ring
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::build(hosts, replication_factor, |host| {
            vnode_hashes(host, replication_factor).into()
        })
    }

    /// As [`Ring::new`], taking the virtual-node hashes from `cache`.
    pub fn with_cache<I, S>(hosts: I, replication_factor: i64, cache: &mut VnodeCache) -> Ring
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::build(hosts, replication_factor, |host| {
            cache.hashes(host, replication_factor)
        })
    }

    fn build<I, S>(
        hosts: I,
        replication_factor: i64,
        mut vnodes: impl FnMut(&str) -> Arc<[u64]>,
    ) -> Ring
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut names: Vec<Box<str>> = hosts.into_iter().map(|h| Box::from(h.as_ref())).collect();
        names.sort_unstable();
        names.dedup();
        // More than u32::MAX hosts cannot be sent in one placement message.
        names.truncate(u32::MAX as usize);

        let per_host = usize::try_from(replication_factor).unwrap_or(0);
        let mut nodes: Vec<(u64, u32)> = Vec::with_capacity(names.len() * per_host);
        for (idx, name) in (0u32..).zip(names.iter()) {
            nodes.extend(vnodes(name).iter().map(|&h| (h, idx)));
        }
        // Equal hashes: the greatest host index first, so dedup keeps it
        // (the "later host wins" rule of the module docs).
        nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        nodes.dedup_by_key(|n| n.0);

        let (hashes, owners): (Vec<u64>, Vec<u32>) = nodes.into_iter().unzip();
        Ring {
            hashes: hashes.into_boxed_slice(),
            owners: owners.into_boxed_slice(),
            hosts: names.into_boxed_slice(),
            replication_factor,
        }
    }

    /// The host that owns `actor_id`, or `None` when the ring has no virtual
    /// nodes (no hosts, or a replication factor of zero: Go's `ErrNoHosts`).
    pub fn owner(&self, actor_id: &str) -> Option<&str> {
        self.owner_of_hash(hash(actor_id))
    }

    /// The host owning the first virtual node at or after `h`, wrapping.
    pub fn owner_of_hash(&self, h: u64) -> Option<&str> {
        let mut idx = self.hashes.partition_point(|&v| v < h);
        if idx == self.hashes.len() {
            idx = 0;
        }
        let owner = *self.owners.get(idx)?;
        self.hosts.get(owner as usize).map(|s| &**s)
    }

    /// The host names on the ring, ascending.
    pub fn hosts(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.hosts.iter().map(|s| &**s)
    }

    /// The replication factor the ring was built with.
    pub fn replication_factor(&self) -> i64 {
        self.replication_factor
    }

    /// The number of distinct virtual nodes.
    pub fn vnode_count(&self) -> usize {
        self.hashes.len()
    }

    /// Whether no actor id has an owner.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "10.0.0.1:50002";
    const H2: &str = "10.0.0.2:50002";

    #[test]
    fn hash_matches_go_vectors() {
        // consistent_hash_test.go TestGetAndSetVirtualNodeCacheHashes.
        assert_eq!(hash("192.168.1.89:623620"), 13384490355354205375);
        assert_eq!(hash("192.168.1.89:623621"), 11281728843146723001);
        assert_eq!(hash("192.168.1.89:623622"), 694935339057032644);
        assert_eq!(hash("1"), 11971653999726161180);
        assert_eq!(
            vnode_hashes("192.168.1.89:62362", 3),
            [
                13384490355354205375,
                11281728843146723001,
                694935339057032644
            ]
        );
        assert_eq!(
            vnode_hashes("192.168.1.83:60992", 5),
            [
                11414427053803968138,
                6110756290993384529,
                13876541546109691082,
                12165331075625862737,
                9528020266818944582
            ]
        );
    }

    #[test]
    fn two_host_table_owners() {
        let ring = Ring::new([H1, H2], 100);
        assert_eq!(ring.vnode_count(), 200);
        for id in ["1", "3", "myactor-42", "zzz"] {
            assert_eq!(ring.owner(id), Some(H2), "{id}");
        }
        for id in ["2", "abc", "", "actor-1000"] {
            assert_eq!(ring.owner(id), Some(H1), "{id}");
        }
        // The order hosts arrive in (Go: map order) does not matter.
        assert_eq!(Ring::new([H2, H1, H2], 100), ring);
    }

    #[test]
    fn owner_is_first_vnode_at_or_after_the_hash_and_wraps() {
        let ring = Ring::new(["a", "b"], 3);
        let mut nodes: Vec<(u64, &str)> = ["a", "b"]
            .iter()
            .flat_map(|h| vnode_hashes(h, 3).into_iter().map(move |v| (v, *h)))
            .collect();
        nodes.sort_unstable();
        for &(v, host) in &nodes {
            assert_eq!(ring.owner_of_hash(v), Some(host));
            if v > 0 {
                assert_eq!(ring.owner_of_hash(v - 1), Some(host));
            }
        }
        let (first, last) = (nodes[0], nodes[nodes.len() - 1]);
        assert_eq!(ring.owner_of_hash(0), Some(first.1));
        if last.0 < u64::MAX {
            assert_eq!(ring.owner_of_hash(last.0 + 1), Some(first.1));
        }
        assert_eq!(
            ring.owner_of_hash(u64::MAX),
            Some(if last.0 == u64::MAX { last.1 } else { first.1 })
        );
    }

    #[test]
    fn replication_factors_match_go_placements() {
        // Computed with Python's hashlib.blake2b over Go's construction.
        let nodes = ["node1", "node2", "node3", "node4", "node5"];
        let ids: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let owners = |rf| -> Vec<String> {
            let ring = Ring::new(nodes, rf);
            ids.iter()
                .map(|id| ring.owner(id).unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(
            owners(1),
            [
                "node2", "node2", "node4", "node1", "node4", "node4", "node4", "node5", "node2",
                "node2"
            ]
        );
        assert_eq!(
            owners(100),
            [
                "node2", "node1", "node1", "node5", "node2", "node5", "node5", "node1", "node4",
                "node5"
            ]
        );
    }

    #[test]
    fn removing_a_host_moves_only_its_keys() {
        // Go's TestReplicationFactor: "varying replication factors, no movement".
        let nodes = ["node1", "node2", "node3", "node4", "node5"];
        for rf in [1, 100, 1000] {
            let full = Ring::new(nodes, rf);
            let without = Ring::new(nodes.iter().filter(|n| **n != "node3"), rf);
            for i in 0..100 {
                let id = i.to_string();
                let before = full.owner(&id);
                let after = without.owner(&id);
                assert_ne!(after, Some("node3"));
                if before != Some("node3") {
                    assert_eq!(after, before, "rf {rf} id {id}");
                }
            }
        }
    }

    #[test]
    fn colliding_vnodes_go_to_the_greater_host_name() {
        let fixed = |host: &str| -> Arc<[u64]> {
            match host {
                "a" => Arc::from([10u64, 30].as_slice()),
                _ => Arc::from([10u64, 20].as_slice()),
            }
        };
        let ring = Ring::build(["b", "a"], 2, fixed);
        assert_eq!(ring.vnode_count(), 3);
        assert_eq!(ring.owner_of_hash(10), Some("b"));
        assert_eq!(ring.owner_of_hash(5), Some("b"));
        assert_eq!(ring.owner_of_hash(25), Some("a"));
        assert_eq!(ring.owner_of_hash(31), Some("b"));
    }

    #[test]
    fn empty_rings_have_no_owner() {
        let none: [&str; 0] = [];
        assert_eq!(Ring::new(none, 100).owner("x"), None);
        assert!(Ring::new(["a"], 0).is_empty());
        assert_eq!(Ring::new(["a"], 0).owner("x"), None);
        assert_eq!(Ring::new(["a"], -5).owner("x"), None);
        assert_eq!(Ring::new(["a"], 1).owner("x"), Some("a"));
    }

    #[test]
    fn cache_builds_the_same_ring_and_forgets_departed_hosts() {
        let mut cache = VnodeCache::new();
        let a = Ring::with_cache([H1, H2], 100, &mut cache);
        assert_eq!(a, Ring::new([H1, H2], 100));
        assert_eq!(cache.len(), 2);
        let first = cache.hashes(H1, 100);
        assert!(Arc::ptr_eq(&first, &cache.hashes(H1, 100)));
        let _ = Ring::with_cache([H1], 50, &mut cache);
        assert_eq!(cache.len(), 3);
        cache.retain_hosts(|h| h != H2);
        assert_eq!(cache.len(), 2);
        assert_eq!(a.hosts().collect::<Vec<_>>(), [H1, H2]);
        assert_eq!(a.replication_factor(), 100);
    }
}
