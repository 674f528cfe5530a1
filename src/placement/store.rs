//! One namespace's hosts, and the placement tables built from them.
//!
//! Only hosts that host actors are stored, keyed by their stream. A report
//! "changes" the store when it adds such a host, or when its (sorted)
//! entities, app id or namespace differ from what the stream reported
//! before; a changed name or anything else does not (Go's
//! `store.HostChanged`), so such a report starts no dissemination round.

use std::collections::HashMap;

use super::disseminator::ConnId;
use crate::proto::dapr::proto::placement::v1::{Host, PlacementTable, PlacementTables};

/// The hosts of one namespace, by stream.
#[derive(Debug, Default)]
pub struct Store {
    replication_factor: i64,
    hosts: HashMap<ConnId, Host>,
}

impl Store {
    /// An empty store whose tables carry `replication_factor`.
    pub fn new(replication_factor: i64) -> Self {
        Self {
            replication_factor,
            hosts: HashMap::new(),
        }
    }

    /// The tables of `version`: for each actor type, every host reporting it
    /// under its name (`load_map`), as the host reported itself.
    pub fn tables(&self, version: u64) -> PlacementTables {
        let mut entries: HashMap<String, PlacementTable> = HashMap::new();
        for host in self.hosts.values() {
            for entity in &host.entities {
                entries
                    .entry(entity.clone())
                    .or_default()
                    .load_map
                    .insert(host.name.clone(), host.clone());
            }
        }
        #[allow(deprecated)] // `version` is deprecated but still read by 1.16 clients
        PlacementTables {
            entries,
            version: version.to_string(),
            api_level: 0,
            replication_factor: self.replication_factor,
        }
    }

    /// Every stored host, sorted by name (the metadata endpoint's view).
    pub fn hosts_by_name(&self) -> Vec<Host> {
        let mut hosts: Vec<Host> = self.hosts.values().cloned().collect();
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        hosts
    }

    /// Stores (or, with no entities, drops) what stream `id` reported;
    /// false, storing nothing, when that is no change.
    pub fn set(&mut self, id: ConnId, mut host: Host) -> bool {
        if !self.changed(id, &mut host) {
            return false;
        }
        if host.entities.is_empty() {
            self.hosts.remove(&id);
        } else {
            self.hosts.insert(id, host);
        }
        true
    }

    /// Whether `host` (its entities sorted here, in place) differs from what
    /// stream `id` reported last.
    fn changed(&self, id: ConnId, host: &mut Host) -> bool {
        host.entities.sort_unstable();
        match self.hosts.get(&id) {
            // A new host without actors adds nothing to the tables.
            None => !host.entities.is_empty(),
            Some(old) => {
                old.entities != host.entities
                    || old.id != host.id
                    || old.namespace != host.namespace
            }
        }
    }

    /// Whether stream `id` has a stored host.
    pub fn has(&self, id: ConnId) -> bool {
        self.hosts.contains_key(&id)
    }

    /// Forgets stream `id`'s host.
    pub fn delete(&mut self, id: ConnId) {
        self.hosts.remove(&id);
    }

    /// Streams with a stored host that `is_active` says are gone.
    pub fn orphans(&self, is_active: impl Fn(ConnId) -> bool) -> Vec<ConnId> {
        self.hosts
            .keys()
            .copied()
            .filter(|id| !is_active(*id))
            .collect()
    }

    /// Forgets every host.
    pub fn clear(&mut self) {
        self.hosts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, id: &str, entities: &[&str]) -> Host {
        Host {
            name: name.into(),
            id: id.into(),
            namespace: "ns".into(),
            entities: entities.iter().map(|e| (*e).to_owned()).collect(),
            ..Host::default()
        }
    }

    #[test]
    fn change_detection_sorts_entities_and_ignores_names() {
        let mut s = Store::new(100);
        // No actors, nothing stored: no change.
        assert!(!s.set(1, host("a:1", "a", &[])));
        assert!(!s.has(1));
        assert!(s.set(1, host("a:1", "a", &["B", "A"])));
        // Same set in another order: no change.
        assert!(!s.set(1, host("a:1", "a", &["A", "B"])));
        // A new name alone is no change either (and is not stored).
        assert!(!s.set(1, host("a:2", "a", &["A", "B"])));
        assert_eq!(s.hosts_by_name()[0].name, "a:1");
        assert!(s.set(1, host("a:1", "other", &["A", "B"])));
        // Dropping every entity removes the host.
        assert!(s.set(1, host("a:1", "a", &[])));
        assert!(!s.has(1));
    }

    #[test]
    fn tables_map_types_to_hosts_by_name() {
        let mut s = Store::new(7);
        s.set(1, host("10.0.0.1:5", "a", &["T", "U"]));
        s.set(2, host("10.0.0.2:5", "b", &["T"]));
        let t = s.tables(3);
        #[allow(deprecated)]
        let version = t.version.clone();
        assert_eq!(version, "3");
        assert_eq!(t.replication_factor, 7);
        assert_eq!(t.entries.len(), 2);
        let mut names: Vec<&String> = t.entries["T"].load_map.keys().collect();
        names.sort();
        assert_eq!(names, ["10.0.0.1:5", "10.0.0.2:5"]);
        assert_eq!(t.entries["U"].load_map["10.0.0.1:5"].id, "a");
        assert_eq!(t.entries["U"].load_map["10.0.0.1:5"].entities, ["T", "U"]);
        assert_eq!(s.orphans(|id| id == 1), [2]);
    }
}
