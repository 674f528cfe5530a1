//! All namespaces: which disseminator each stream belongs to, sans I/O.
//!
//! A namespace's [`Disseminator`] exists while at least one of its streams
//! does (admitted or waiting); when the last one ends it is dropped, and a
//! later sidecar of that namespace starts again at version 0 (Go's
//! `pkg/placement/internal/loops/namespaces`). Tables therefore only ever
//! name hosts of one namespace.
//!
//! A stream belongs to the namespace of its first report for its whole life.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::disseminator::{Action, Config, ConnId, Disseminator};
use crate::grpc::server::Status;
use crate::proto::dapr::proto::placement::v1::Host;

/// The gauges of one namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Streams admitted (`dapr_placement_runtimes_total`).
    pub runtimes: i64,
    /// Of which hosting actors (`dapr_placement_actor_runtimes_total`).
    pub actor_runtimes: i64,
}

/// One namespace's stored hosts (the metadata endpoint's view).
#[derive(Clone, Debug, PartialEq)]
pub struct StateTable {
    /// Hosts sorted by name.
    pub hosts: Vec<Host>,
    /// The namespace's current version.
    pub version: u64,
}

struct Namespace {
    /// Streams of the namespace, admitted or waiting.
    connections: u64,
    diss: Disseminator,
}

/// Every namespace's disseminator, and the streams' namespaces.
pub struct Namespaces {
    cfg: Rc<Config>,
    namespaces: HashMap<String, Namespace>,
    stream_ns: HashMap<ConnId, String>,
    next_epoch: u64,
    /// Last recorded per namespace; a namespace that emptied stays at 0,
    /// as Go's last-value views do.
    gauges: BTreeMap<String, Gauges>,
}

impl Namespaces {
    /// No namespaces yet.
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg: Rc::new(cfg),
            namespaces: HashMap::new(),
            stream_ns: HashMap::new(),
            next_epoch: 0,
            gauges: BTreeMap::new(),
        }
    }

    /// Stream `conn` opened with `host` (authorized) as its first message.
    pub fn connect(&mut self, conn: ConnId, host: Host, out: &mut Vec<Action>) {
        let ns = host.namespace.clone();
        let cfg = &self.cfg;
        let next_epoch = &mut self.next_epoch;
        let entry = self.namespaces.entry(ns.clone()).or_insert_with(|| {
            *next_epoch += 1;
            Namespace {
                connections: 0,
                diss: Disseminator::new(&ns, *next_epoch, cfg.clone()),
            }
        });
        entry.connections += 1;
        entry.diss.connect(conn, host, out);
        self.stream_ns.insert(conn, ns.clone());
        self.record(&ns);
    }

    /// Another message (authorized) on stream `conn`.
    pub fn report(&mut self, conn: ConnId, host: Host, out: &mut Vec<Action>) {
        let Some(ns) = self.stream_ns.get(&conn) else {
            return;
        };
        let Some(n) = self.namespaces.get_mut(ns) else {
            return;
        };
        n.diss.report(conn, host, out);
        let ns = ns.clone();
        self.record(&ns);
    }

    /// Stream `conn` ended, with `status`; every stream ends here exactly
    /// once, however it ended (also after a [`Action::Close`]).
    pub fn disconnect(&mut self, conn: ConnId, status: &Status, out: &mut Vec<Action>) {
        let Some(ns) = self.stream_ns.remove(&conn) else {
            return;
        };
        let Some(n) = self.namespaces.get_mut(&ns) else {
            return;
        };
        n.connections = n.connections.saturating_sub(1);
        n.diss.disconnect(conn, out);
        if n.connections == 0 {
            n.diss.shutdown(status, out);
            self.namespaces.remove(&ns);
        }
        self.record(&ns);
    }

    /// The timeout armed by an [`Action::ArmTimeout`] fired.
    pub fn timeout(&mut self, ns: &str, epoch: u64, version: u64, out: &mut Vec<Action>) {
        if let Some(n) = self.namespaces.get_mut(ns) {
            if n.diss.epoch() == epoch {
                n.diss.timeout(version, out);
                self.record(ns);
            }
        }
    }

    /// The window armed by an [`Action::ArmCoalesce`] closed.
    pub fn coalesce_fire(&mut self, ns: &str, epoch: u64, out: &mut Vec<Action>) {
        if let Some(n) = self.namespaces.get_mut(ns) {
            if n.diss.epoch() == epoch {
                n.diss.coalesce_fire(out);
                self.record(ns);
            }
        }
    }

    /// Ends every stream with `status`: the server is stopping.
    pub fn shutdown(&mut self, status: &Status, out: &mut Vec<Action>) {
        let mut names: Vec<String> = self.namespaces.keys().cloned().collect();
        names.sort();
        for ns in &names {
            if let Some(mut n) = self.namespaces.remove(ns) {
                n.diss.shutdown(status, out);
            }
            self.record(ns);
        }
        self.stream_ns.clear();
    }

    /// Each namespace's stored hosts and version, by namespace.
    pub fn state_tables(&self) -> BTreeMap<String, StateTable> {
        self.namespaces
            .iter()
            .map(|(ns, n)| {
                let (hosts, version) = n.diss.state_table();
                (ns.clone(), StateTable { hosts, version })
            })
            .collect()
    }

    /// The gauges of every namespace seen so far.
    pub fn gauges(&self) -> &BTreeMap<String, Gauges> {
        &self.gauges
    }

    /// The disseminator of `ns`, if it has streams (for tests and logs).
    pub fn disseminator(&self, ns: &str) -> Option<&Disseminator> {
        self.namespaces.get(ns).map(|n| &n.diss)
    }

    fn record(&mut self, ns: &str) {
        let g = self
            .namespaces
            .get(ns)
            .map_or(Gauges::default(), |n| Gauges {
                runtimes: n.diss.runtimes(),
                actor_runtimes: n.diss.actor_runtimes(),
            });
        match self.gauges.get_mut(ns) {
            Some(slot) => *slot = g,
            None => {
                self.gauges.insert(ns.to_owned(), g);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::grpc::status::GrpcCode;
    use crate::proto::dapr::proto::placement::v1::HostOperation;

    fn host(ns: &str, name: &str, entities: &[&str]) -> Host {
        Host {
            name: name.into(),
            id: "app".into(),
            namespace: ns.into(),
            entities: entities.iter().map(|e| (*e).to_owned()).collect(),
            operation: HostOperation::Report as i32,
            ..Host::default()
        }
    }

    fn ack(ns: &str, op: HostOperation, v: u64) -> Host {
        Host {
            operation: op as i32,
            version: Some(v),
            ..host(ns, "", &[])
        }
    }

    fn namespaces() -> Namespaces {
        Namespaces::new(Config {
            replication_factor: 100,
            disseminate_timeout: Duration::from_secs(8),
            coalesce_window: Duration::ZERO,
        })
    }

    fn eof() -> Status {
        Status::new(GrpcCode::Unknown, "EOF")
    }

    #[test]
    fn namespaces_disseminate_apart() {
        let mut n = namespaces();
        let mut out = Vec::new();
        n.connect(1, host("a", "x:1", &["T"]), &mut out);
        n.connect(2, host("b", "y:1", &["T"]), &mut out);
        // Each namespace's first round is its version 1, to its own stream only.
        let locks: Vec<(ConnId, u64)> = out
            .iter()
            .filter_map(|a| match a {
                Action::Send(c, o) => Some((*c, o.version)),
                _ => None,
            })
            .collect();
        assert_eq!(locks, [(1, 1), (2, 1)]);
        let mut out = Vec::new();
        n.report(1, ack("a", HostOperation::Lock, 1), &mut out);
        let Some(Action::Send(1, update)) = out.first() else {
            panic!("{out:?}")
        };
        let names: Vec<&String> = update.tables.as_ref().unwrap().entries["T"]
            .load_map
            .keys()
            .collect();
        assert_eq!(names, ["x:1"]);
        let tables = n.state_tables();
        assert_eq!(tables.len(), 2);
        assert_eq!(tables["b"].hosts[0].name, "y:1");
        assert_eq!(tables["b"].version, 1);
        assert_eq!(
            n.gauges()["a"],
            Gauges {
                runtimes: 1,
                actor_runtimes: 1
            }
        );
    }

    #[test]
    fn a_namespace_emptied_starts_over_and_its_gauges_read_zero() {
        let mut n = namespaces();
        let mut out = Vec::new();
        n.connect(1, host("a", "x:1", &["T"]), &mut out);
        n.connect(2, host("a", "y:1", &[]), &mut out); // waits for the round
        n.disconnect(1, &eof(), &mut out);
        assert!(n.disseminator("a").is_some(), "a stream still waits");
        out.clear();
        n.disconnect(2, &eof(), &mut out);
        assert!(n.disseminator("a").is_none());
        // The waiting stream, never admitted, is closed with the namespace.
        assert!(matches!(out.as_slice(), [Action::Close(2, _)]), "{out:?}");
        assert_eq!(n.gauges()["a"], Gauges::default());
        out.clear();
        n.connect(3, host("a", "z:1", &["T"]), &mut out);
        assert_eq!(n.disseminator("a").map(Disseminator::version), Some(1));
        // A stale timer of the old disseminator is ignored.
        let mut stale = Vec::new();
        n.timeout("a", 1, 1, &mut stale);
        assert!(stale.is_empty());
        n.timeout("a", 2, 1, &mut stale);
        assert!(
            matches!(stale.as_slice(), [Action::Close(3, _)]),
            "{stale:?}"
        );
    }

    #[test]
    fn reports_of_unknown_streams_and_shutdown() {
        let mut n = namespaces();
        let mut out = Vec::new();
        n.report(9, host("a", "x:1", &["T"]), &mut out);
        n.disconnect(9, &eof(), &mut out);
        assert!(out.is_empty());
        n.connect(1, host("a", "x:1", &["T"]), &mut out);
        n.connect(2, host("b", "y:1", &["T"]), &mut out);
        out.clear();
        n.shutdown(
            &Status::new(GrpcCode::Cancelled, "context canceled"),
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert!(n.state_tables().is_empty());
        assert_eq!(n.gauges()["b"], Gauges::default());
    }
}
