//! One namespace's dissemination state machine, sans I/O.
//!
//! Every sidecar of a namespace holds one `ReportDaprStatus` stream. When the
//! set of actor-hosting sidecars changes, the namespace moves through one
//! round, each phase waiting for every stream's ack:
//!
//! ```text
//! REPORT --change--> LOCK v --all acked--> UPDATE v (tables) --all acked--> UNLOCK v --all acked--> REPORT
//! ```
//!
//! This is Go 1.18's `pkg/placement/internal/loops/disseminator` (with the
//! per-stream order filter of its stream loop) as a plain value: events go
//! in through methods, and what must happen on the wire comes out as
//! [`Action`]s — orders to send, streams to admit or close, timers to arm.
//! Timers come back as [`Disseminator::timeout`] and
//! [`Disseminator::coalesce_fire`] calls. Nothing here sleeps, locks or
//! touches a socket, so every path is unit-tested by feeding events.
//!
//! The rules, as Go has them:
//! - a REPORT that changes the store bumps the version and locks every
//!   stream; one that does not, from a stream hosting no actors, gets the
//!   current tables pushed to it alone (lock, update, unlock back to back;
//!   its acks of that version are ignored);
//! - acks older than the current version are ignored; an UNKNOWN operation
//!   (a 1.16 sidecar's heartbeat) acks whatever phase is current;
//! - connects during a round (or a coalesce window) wait and are admitted
//!   after it; disconnects are queued and handled in a later round, and a
//!   disconnect that leaves every remaining stream acked advances the phase;
//! - when a round outlives the disseminate timeout, the streams that have
//!   not acked the current phase are closed with `DeadlineExceeded`, their
//!   hosts dropped, waiting streams admitted, and a new round starts.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use super::store::Store;
use crate::config::options::format_go_duration;
use crate::grpc::server::Status;
use crate::grpc::status::GrpcCode;
use crate::proto::dapr::proto::placement::v1::{Host, HostOperation, PlacementOrder};

/// A stream (one `ReportDaprStatus` call), numbered by the server.
pub type ConnId = u64;

/// The orders' `operation` strings.
pub const LOCK: &str = "lock";
/// See [`LOCK`].
pub const UPDATE: &str = "update";
/// See [`LOCK`].
pub const UNLOCK: &str = "unlock";

/// Settings shared by every namespace.
#[derive(Clone, Debug)]
pub struct Config {
    /// `--replicationFactor`, carried in the tables.
    pub replication_factor: i64,
    /// `--disseminate-timeout`: the longest a round may take.
    pub disseminate_timeout: Duration,
    /// `--disseminate-coalesce-window`: after a round, wait this long
    /// collecting connects and disconnects before the next (0: no wait).
    pub coalesce_window: Duration,
}

/// What the server must do on the disseminator's behalf.
#[derive(Debug)]
pub enum Action {
    /// Start reading the stream's messages: it has joined its namespace
    /// (a stream that connected during a round waits until then).
    Admit(ConnId),
    /// Send an order on the stream.
    Send(ConnId, Rc<PlacementOrder>),
    /// End the stream with this status.
    Close(ConnId, Status),
    /// Call [`Disseminator::timeout`] with `version` after `after`.
    ArmTimeout {
        /// The namespace.
        namespace: String,
        /// Which disseminator of that namespace ([`Disseminator::epoch`]).
        epoch: u64,
        /// The round's version.
        version: u64,
        /// The delay.
        after: Duration,
    },
    /// Call [`Disseminator::coalesce_fire`] after `after`.
    ArmCoalesce {
        /// The namespace.
        namespace: String,
        /// Which disseminator of that namespace ([`Disseminator::epoch`]).
        epoch: u64,
        /// The delay.
        after: Duration,
    },
}

/// One admitted stream.
#[derive(Debug)]
struct Stream {
    /// The last phase this stream acked in the current round (REPORT: none).
    state: HostOperation,
    /// Its first report named actor types (for the actor-runtimes gauge).
    has_actors: bool,
    /// The version of a one-shot table push in flight, whose acks are ignored.
    receiving_table: Option<u64>,
    /// The version of the last LOCK sent: UPDATE and UNLOCK go out only for it.
    order_version: Option<u64>,
}

/// One namespace's streams, hosts and dissemination round.
#[derive(Debug)]
pub struct Disseminator {
    namespace: String,
    epoch: u64,
    cfg: Rc<Config>,
    streams: HashMap<ConnId, Stream>,
    /// Streams whose `state` is the current operation.
    in_target: usize,
    store: Store,
    operation: HostOperation,
    version: u64,
    /// Connects that arrived during a round, with their first report.
    waiting_to_add: Vec<(ConnId, Host)>,
    /// Disconnected streams whose hosts are still in the store.
    waiting_to_delete: Vec<ConnId>,
    /// The version whose timeout is armed (at most one round runs at a time).
    timeout_armed: Option<u64>,
    coalesce_armed: bool,
    runtimes: i64,
    actor_runtimes: i64,
}

impl Disseminator {
    /// A namespace with no streams, at version 0. `epoch` tells this
    /// disseminator's timers from those of an earlier one of the same
    /// namespace.
    pub fn new(namespace: &str, epoch: u64, cfg: Rc<Config>) -> Self {
        Self {
            namespace: namespace.to_owned(),
            epoch,
            store: Store::new(cfg.replication_factor),
            cfg,
            streams: HashMap::new(),
            in_target: 0,
            operation: HostOperation::Report,
            version: 0,
            waiting_to_add: Vec::new(),
            waiting_to_delete: Vec::new(),
            timeout_armed: None,
            coalesce_armed: false,
            runtimes: 0,
            actor_runtimes: 0,
        }
    }

    /// Tells this disseminator's timers from an earlier one's.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The current version (of the last round started).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The phase of the current round (REPORT between rounds).
    pub fn operation(&self) -> HostOperation {
        self.operation
    }

    /// Admitted streams (`dapr_placement_runtimes_total`).
    pub fn runtimes(&self) -> i64 {
        self.runtimes
    }

    /// Admitted streams whose first report hosted actors
    /// (`dapr_placement_actor_runtimes_total`).
    pub fn actor_runtimes(&self) -> i64 {
        self.actor_runtimes
    }

    /// The stored hosts sorted by name, and the version (metadata endpoint).
    pub fn state_table(&self) -> (Vec<Host>, u64) {
        (self.store.hosts_by_name(), self.version)
    }

    // === events ===

    /// A new stream, with its first (authorized) report.
    pub fn connect(&mut self, conn: ConnId, host: Host, out: &mut Vec<Action>) {
        if self.operation != HostOperation::Report || self.coalesce_armed {
            self.waiting_to_add.push((conn, host));
            return;
        }
        // Disconnects queued since the last round, and hosts of streams that
        // are gone, go into the round this connect may start.
        for id in std::mem::take(&mut self.waiting_to_delete) {
            self.store.delete(id);
        }
        for id in self.store.orphans(|id| self.streams.contains_key(&id)) {
            self.store.delete(id);
        }
        self.add_stream(conn, &host, out);
        self.report(conn, host, out);
    }

    /// A message on an admitted stream: a report, or an ack.
    pub fn report(&mut self, conn: ConnId, host: Host, out: &mut Vec<Action>) {
        let op = match HostOperation::try_from(host.operation) {
            // 1.16 sidecars' heartbeats: they always move the round forward.
            Ok(HostOperation::Unknown) => Some(self.operation),
            Ok(op) => Some(op),
            // An operation this protocol does not know: nothing to do.
            Err(_) => None,
        };
        if let Some(v) = host.version.filter(|v| *v < self.version) {
            tracing::debug!(
                "Ignoring report from stream {}:{conn} - old version {v} (current {})",
                self.namespace,
                self.version
            );
            return;
        }
        tracing::debug!(
            "Received report from stream (idx:{conn}) (ns={}) (appID={}) (op={}) (ver={})",
            self.namespace,
            host.id,
            op.map_or("?", |o| o.as_str_name()),
            self.version
        );
        // Acks of a one-shot table push are not part of any round.
        if let Some(s) = self.streams.get_mut(&conn) {
            if let Some(pushed) = s.receiving_table {
                if op != Some(HostOperation::Report) && host.version == Some(pushed) {
                    if op == Some(HostOperation::Unlock) {
                        s.receiving_table = None;
                    }
                    return;
                }
            }
        }
        match op {
            Some(HostOperation::Report) => self.do_report(conn, host, out),
            Some(HostOperation::Lock) => self.acked(conn, HostOperation::Lock, out),
            Some(HostOperation::Update) => self.acked(conn, HostOperation::Update, out),
            Some(HostOperation::Unlock) => self.acked(conn, HostOperation::Unlock, out),
            Some(HostOperation::Unknown) | None => {}
        }
    }

    /// An admitted stream ended (the sidecar left, or its stream failed).
    pub fn disconnect(&mut self, conn: ConnId, out: &mut Vec<Action>) {
        let Some(s) = self.streams.remove(&conn) else {
            return; // already closed by a timeout
        };
        self.runtimes -= 1;
        if s.has_actors {
            self.actor_runtimes -= 1;
        }
        // It may have counted towards the current phase already.
        if s.state == self.operation && self.operation != HostOperation::Report {
            self.in_target = self.in_target.saturating_sub(1);
        }
        if self.streams.is_empty() {
            return;
        }
        // A host that never hosted actors is not in the tables.
        if !self.store.has(conn) {
            return;
        }
        // Queued, so that a burst of disconnects (a rolling update) makes one round.
        self.waiting_to_delete.push(conn);
        if self.operation != HostOperation::Report {
            // The one stream the phase was waiting for may just have left.
            if self.in_target >= self.streams.len() {
                self.advance_phase(out);
            }
            return;
        }
        if self.coalesce_armed {
            return;
        }
        self.process_waiting_deletes(out);
    }

    /// The timer armed for `version` fired.
    pub fn timeout(&mut self, version: u64, out: &mut Vec<Action>) {
        if self.timeout_armed != Some(version) {
            return; // cancelled: that round completed
        }
        self.timeout_armed = None;
        if version != self.version {
            return;
        }
        let status = Status::new(
            GrpcCode::DeadlineExceeded,
            format!(
                "dissemination timeout after {} for version {version}",
                format_go_duration(self.cfg.disseminate_timeout)
            ),
        );
        tracing::warn!("Dissemination timeout for version {version}");
        // Streams that acked the current phase are healthy: only the others go.
        let laggards: Vec<ConnId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.state != self.operation)
            .map(|(id, _)| *id)
            .collect();
        for id in laggards {
            let Some(s) = self.streams.remove(&id) else {
                continue;
            };
            tracing::warn!(
                "Closing non-responding stream {}:{id} (state={}, expected={})",
                self.namespace,
                s.state.as_str_name(),
                self.operation.as_str_name()
            );
            self.store.delete(id);
            self.runtimes -= 1;
            if s.has_actors {
                self.actor_runtimes -= 1;
            }
            out.push(Action::Close(id, status.clone()));
        }
        // Disconnects queued during the round leave the tables now.
        for id in std::mem::take(&mut self.waiting_to_delete) {
            self.store.delete(id);
        }
        self.version += 1;
        self.operation = HostOperation::Report;
        self.in_target = 0;
        // Waiting streams are not punished for another stream's slowness.
        for (id, host) in std::mem::take(&mut self.waiting_to_add) {
            self.add_stream(id, &host, out);
            self.store.set(id, host);
        }
        if !self.streams.is_empty() {
            self.arm_timeout(out);
            self.operation = HostOperation::Lock;
            self.lock_all(out);
        }
    }

    /// The coalesce window after a round closed: one round for everything
    /// that connected or disconnected during it.
    pub fn coalesce_fire(&mut self, out: &mut Vec<Action>) {
        if !self.coalesce_armed {
            return;
        }
        self.coalesce_armed = false;
        if !self.waiting_to_delete.is_empty() && self.waiting_to_add.is_empty() {
            self.process_waiting_deletes(out);
            return;
        }
        // Deletes change the store: the streams must hear of it even when
        // the waiting connects themselves change nothing.
        let deleted = !self.waiting_to_delete.is_empty();
        for id in std::mem::take(&mut self.waiting_to_delete) {
            self.store.delete(id);
        }
        self.process_waiting_adds(deleted, out);
    }

    /// Ends every stream (admitted or waiting) with `status` and forgets them.
    pub fn shutdown(&mut self, status: &Status, out: &mut Vec<Action>) {
        let mut ids: Vec<ConnId> = self.streams.drain().map(|(id, _)| id).collect();
        ids.extend(self.waiting_to_add.drain(..).map(|(id, _)| id));
        ids.sort_unstable();
        for id in ids {
            out.push(Action::Close(id, status.clone()));
        }
        self.waiting_to_delete.clear();
        self.store.clear();
        self.timeout_armed = None;
        self.coalesce_armed = false;
        self.in_target = 0;
        self.runtimes = 0;
        self.actor_runtimes = 0;
    }

    // === the round ===

    fn add_stream(&mut self, conn: ConnId, host: &Host, out: &mut Vec<Action>) {
        let has_actors = !host.entities.is_empty();
        self.streams.insert(
            conn,
            Stream {
                state: HostOperation::Report,
                has_actors,
                receiving_table: None,
                order_version: None,
            },
        );
        self.runtimes += 1;
        if has_actors {
            self.actor_runtimes += 1;
        }
        out.push(Action::Admit(conn));
    }

    fn do_report(&mut self, conn: ConnId, host: Host, out: &mut Vec<Action>) {
        if !self.store.set(conn, host) {
            tracing::debug!("No store changes from stream {}:{conn}", self.namespace);
            // Hosts in the store have the tables already; one without actors
            // gets them pushed, alone, so that it can call actors.
            if !self.store.has(conn) && self.streams.contains_key(&conn) {
                self.push_table(conn, out);
            }
            return;
        }
        self.disarm_timeout();
        self.version += 1;
        self.arm_timeout(out);
        self.operation = HostOperation::Lock;
        self.in_target = 0;
        self.lock_all(out);
    }

    /// Stream `conn` acked phase `phase`; when it was the last one, the
    /// next phase starts.
    fn acked(&mut self, conn: ConnId, phase: HostOperation, out: &mut Vec<Action>) {
        let Some(s) = self.streams.get_mut(&conn) else {
            return;
        };
        if s.state != phase {
            s.state = phase;
            self.in_target += 1;
        }
        if self.in_target != self.streams.len() {
            return;
        }
        match phase {
            HostOperation::Lock => {
                self.operation = HostOperation::Update;
                self.in_target = 0;
                self.update_all(out);
            }
            HostOperation::Update => {
                self.operation = HostOperation::Unlock;
                self.in_target = 0;
                self.unlock_all(out);
            }
            HostOperation::Unlock => {
                self.operation = HostOperation::Report;
                self.in_target = 0;
                self.disarm_timeout();
                tracing::debug!(
                    "Dissemination of version {} in {} complete",
                    self.version,
                    self.namespace
                );
                // Hosts of streams that went away without a disconnect event.
                let orphans = self.store.orphans(|id| self.streams.contains_key(&id));
                self.waiting_to_delete.extend(orphans);
                self.after_round(out);
            }
            HostOperation::Report | HostOperation::Unknown => {}
        }
    }

    /// A disconnect may complete the current phase: move on if so.
    fn advance_phase(&mut self, out: &mut Vec<Action>) {
        if self.in_target < self.streams.len() {
            return;
        }
        match self.operation {
            HostOperation::Lock => {
                self.operation = HostOperation::Update;
                self.in_target = 0;
                self.update_all(out);
            }
            HostOperation::Update => {
                self.operation = HostOperation::Unlock;
                self.in_target = 0;
                self.unlock_all(out);
            }
            HostOperation::Unlock => {
                self.operation = HostOperation::Report;
                self.in_target = 0;
                self.disarm_timeout();
                tracing::debug!(
                    "Dissemination of version {} in {} complete (via stream close)",
                    self.version,
                    self.namespace
                );
                self.after_round(out);
            }
            HostOperation::Report | HostOperation::Unknown => {}
        }
    }

    /// A round closed: queued deletes make the next round, else queued
    /// connects; with a coalesce window, both wait for it.
    fn after_round(&mut self, out: &mut Vec<Action>) {
        if !self.cfg.coalesce_window.is_zero() {
            self.arm_coalesce(out);
            return;
        }
        if !self.waiting_to_delete.is_empty() {
            self.process_waiting_deletes(out);
            return;
        }
        self.process_waiting_adds(false, out);
    }

    /// Admits the waiting streams: one round for all of them, or (when none
    /// changes the store and `force` is false) a table push to each.
    fn process_waiting_adds(&mut self, force: bool, out: &mut Vec<Action>) {
        if self.waiting_to_add.is_empty() {
            return;
        }
        let mut changed = force;
        let mut added = Vec::with_capacity(self.waiting_to_add.len());
        for (id, host) in std::mem::take(&mut self.waiting_to_add) {
            self.add_stream(id, &host, out);
            added.push(id);
            changed |= self.store.set(id, host);
        }
        if !changed {
            for id in added {
                if self.streams.contains_key(&id) && !self.store.has(id) {
                    self.push_table(id, out);
                }
            }
            return;
        }
        self.version += 1;
        self.arm_timeout(out);
        self.operation = HostOperation::Lock;
        self.in_target = 0;
        self.lock_all(out);
    }

    /// One round for every queued disconnect.
    fn process_waiting_deletes(&mut self, out: &mut Vec<Action>) {
        if self.waiting_to_delete.is_empty() || self.streams.is_empty() {
            return;
        }
        for id in std::mem::take(&mut self.waiting_to_delete) {
            self.store.delete(id);
        }
        self.version += 1;
        self.arm_timeout(out);
        self.operation = HostOperation::Lock;
        self.in_target = 0;
        self.lock_all(out);
    }

    // === orders ===

    /// LOCK at the current version to every stream, which restarts its round.
    fn lock_all(&mut self, out: &mut Vec<Action>) {
        let v = self.version;
        let order = Rc::new(order(LOCK, v, None));
        for (id, s) in &mut self.streams {
            s.state = HostOperation::Report;
            s.receiving_table = None;
            // A stream never goes back to an older version.
            if s.order_version.is_some_and(|sent| sent > v) {
                continue;
            }
            s.order_version = Some(v);
            out.push(Action::Send(*id, order.clone()));
        }
    }

    fn update_all(&mut self, out: &mut Vec<Action>) {
        let v = self.version;
        let order = Rc::new(order(UPDATE, v, Some(&self.store)));
        for (id, s) in &self.streams {
            if s.order_version == Some(v) {
                out.push(Action::Send(*id, order.clone()));
            }
        }
    }

    fn unlock_all(&mut self, out: &mut Vec<Action>) {
        let v = self.version;
        let order = Rc::new(order(UNLOCK, v, None));
        for (id, s) in &self.streams {
            if s.order_version == Some(v) {
                out.push(Action::Send(*id, order.clone()));
            }
        }
    }

    /// The current tables to one stream alone: lock, update, unlock.
    fn push_table(&mut self, conn: ConnId, out: &mut Vec<Action>) {
        let v = self.version;
        if let Some(s) = self.streams.get_mut(&conn) {
            s.receiving_table = Some(v);
        }
        out.push(Action::Send(conn, Rc::new(order(LOCK, v, None))));
        out.push(Action::Send(
            conn,
            Rc::new(order(UPDATE, v, Some(&self.store))),
        ));
        out.push(Action::Send(conn, Rc::new(order(UNLOCK, v, None))));
    }

    // === timers ===

    fn arm_timeout(&mut self, out: &mut Vec<Action>) {
        self.timeout_armed = Some(self.version);
        out.push(Action::ArmTimeout {
            namespace: self.namespace.clone(),
            epoch: self.epoch,
            version: self.version,
            after: self.cfg.disseminate_timeout,
        });
    }

    fn disarm_timeout(&mut self) {
        if self.timeout_armed == Some(self.version) {
            self.timeout_armed = None;
        }
    }

    fn arm_coalesce(&mut self, out: &mut Vec<Action>) {
        if self.cfg.coalesce_window.is_zero() || self.coalesce_armed {
            return;
        }
        self.coalesce_armed = true;
        out.push(Action::ArmCoalesce {
            namespace: self.namespace.clone(),
            epoch: self.epoch,
            after: self.cfg.coalesce_window,
        });
    }
}

/// An order; an update carries the tables of `version`.
fn order(operation: &str, version: u64, tables: Option<&Store>) -> PlacementOrder {
    PlacementOrder {
        tables: tables.map(|s| s.tables(version)),
        operation: operation.to_owned(),
        version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "ns";

    fn cfg(coalesce: Duration) -> Rc<Config> {
        Rc::new(Config {
            replication_factor: 100,
            disseminate_timeout: Duration::from_secs(8),
            coalesce_window: coalesce,
        })
    }

    fn report(name: &str, entities: &[&str]) -> Host {
        Host {
            name: name.into(),
            id: format!("app-{name}"),
            namespace: NS.into(),
            entities: entities.iter().map(|e| (*e).to_owned()).collect(),
            operation: HostOperation::Report as i32,
            ..Host::default()
        }
    }

    fn ack(op: HostOperation, version: u64) -> Host {
        Host {
            id: "app".into(),
            namespace: NS.into(),
            operation: op as i32,
            version: Some(version),
            ..Host::default()
        }
    }

    /// A 1.16 sidecar's heartbeat: the full host, no operation, no version.
    fn heartbeat(name: &str, entities: &[&str]) -> Host {
        Host {
            operation: HostOperation::Unknown as i32,
            ..report(name, entities)
        }
    }

    /// The orders in `out` as `(conn, "lock 3")`, in order.
    fn orders(out: &[Action]) -> Vec<(ConnId, String)> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send(c, o) => Some((*c, format!("{} {}", o.operation, o.version))),
                _ => None,
            })
            .collect()
    }

    /// `orders`, sorted (streams are addressed in no particular order).
    fn sorted(out: &[Action]) -> Vec<(ConnId, String)> {
        let mut o = orders(out);
        o.sort();
        o
    }

    fn o(conn: ConnId, s: &str) -> (ConnId, String) {
        (conn, s.to_owned())
    }

    fn admitted(out: &[Action]) -> Vec<ConnId> {
        out.iter()
            .filter_map(|a| match a {
                Action::Admit(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    fn closed(out: &[Action]) -> Vec<(ConnId, GrpcCode, String)> {
        out.iter()
            .filter_map(|a| match a {
                Action::Close(c, s) => Some((*c, s.code, s.message.clone())),
                _ => None,
            })
            .collect()
    }

    /// The hosts (by name) in the tables of the last UPDATE to `conn`, per type.
    fn table_of(out: &[Action], conn: ConnId) -> Vec<(String, Vec<String>)> {
        let update = out
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Send(c, o) if *c == conn && o.operation == UPDATE => Some(o.clone()),
                _ => None,
            })
            .expect("an update");
        let tables = update.tables.as_ref().expect("tables");
        let mut types: Vec<(String, Vec<String>)> = tables
            .entries
            .iter()
            .map(|(t, e)| {
                let mut names: Vec<String> = e.load_map.keys().cloned().collect();
                names.sort();
                (t.clone(), names)
            })
            .collect();
        types.sort();
        types
    }

    struct T {
        d: Disseminator,
    }

    impl T {
        fn new() -> Self {
            Self::with(cfg(Duration::ZERO))
        }
        fn with(cfg: Rc<Config>) -> Self {
            Self {
                d: Disseminator::new(NS, 1, cfg),
            }
        }
        fn connect(&mut self, conn: ConnId, host: Host) -> Vec<Action> {
            let mut out = Vec::new();
            self.d.connect(conn, host, &mut out);
            out
        }
        fn msg(&mut self, conn: ConnId, host: Host) -> Vec<Action> {
            let mut out = Vec::new();
            self.d.report(conn, host, &mut out);
            out
        }
        fn disconnect(&mut self, conn: ConnId) -> Vec<Action> {
            let mut out = Vec::new();
            self.d.disconnect(conn, &mut out);
            out
        }
        fn timeout(&mut self, version: u64) -> Vec<Action> {
            let mut out = Vec::new();
            self.d.timeout(version, &mut out);
            out
        }
        /// Every conn in `conns` acks each phase of version `v` in turn;
        /// the actions of the last ack of each phase, concatenated.
        fn round(&mut self, conns: &[ConnId], v: u64) -> Vec<Action> {
            let mut all = Vec::new();
            for op in [
                HostOperation::Lock,
                HostOperation::Update,
                HostOperation::Unlock,
            ] {
                for c in conns {
                    all.extend(self.msg(*c, ack(op, v)));
                }
            }
            all
        }
    }

    #[test]
    fn first_host_starts_a_round_and_acks_move_it_on() {
        let mut t = T::new();
        let out = t.connect(1, report("a:1", &["T"]));
        assert_eq!(admitted(&out), [1]);
        assert_eq!(orders(&out), [o(1, "lock 1")]);
        assert!(out.iter().any(|a| matches!(
            a,
            Action::ArmTimeout {
                version: 1,
                epoch: 1,
                ..
            }
        )));
        assert_eq!(t.d.operation(), HostOperation::Lock);
        let out = t.msg(1, ack(HostOperation::Lock, 1));
        assert_eq!(orders(&out), [o(1, "update 1")]);
        assert_eq!(
            table_of(&out, 1),
            [("T".to_owned(), vec!["a:1".to_owned()])]
        );
        let Action::Send(_, update) = &out[0] else {
            panic!("{out:?}")
        };
        let tables = update.tables.as_ref().unwrap();
        assert_eq!(tables.replication_factor, 100);
        #[allow(deprecated)]
        let version = tables.version.clone();
        assert_eq!(version, "1");
        assert_eq!(tables.entries["T"].load_map["a:1"].id, "app-a:1");
        let out = t.msg(1, ack(HostOperation::Update, 1));
        assert_eq!(orders(&out), [o(1, "unlock 1")]);
        let out = t.msg(1, ack(HostOperation::Unlock, 1));
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(t.d.operation(), HostOperation::Report);
        assert_eq!((t.d.runtimes(), t.d.actor_runtimes()), (1, 1));
    }

    #[test]
    fn two_hosts_of_one_type_are_both_in_the_table() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        t.round(&[1], 1);
        let out = t.connect(2, report("b:1", &["T"]));
        assert_eq!(sorted(&out), [o(1, "lock 2"), o(2, "lock 2")]);
        // UPDATE waits for every LOCK ack.
        assert!(t.msg(1, ack(HostOperation::Lock, 2)).is_empty());
        let out = t.msg(2, ack(HostOperation::Lock, 2));
        assert_eq!(sorted(&out), [o(1, "update 2"), o(2, "update 2")]);
        let both = vec!["a:1".to_owned(), "b:1".to_owned()];
        assert_eq!(table_of(&out, 1), [("T".to_owned(), both.clone())]);
        assert_eq!(table_of(&out, 2), [("T".to_owned(), both)]);
        t.msg(1, ack(HostOperation::Update, 2));
        let out = t.msg(2, ack(HostOperation::Update, 2));
        assert_eq!(sorted(&out), [o(1, "unlock 2"), o(2, "unlock 2")]);
        t.msg(2, ack(HostOperation::Unlock, 2));
        assert!(t.msg(1, ack(HostOperation::Unlock, 2)).is_empty());
        assert_eq!(t.d.operation(), HostOperation::Report);
        assert_eq!(t.d.version(), 2);
    }

    #[test]
    fn an_unchanged_report_starts_no_round() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["B", "A"]));
        t.round(&[1], 1);
        assert!(t.msg(1, report("a:1", &["A", "B"])).is_empty());
        let out = t.msg(1, report("a:1", &["A"]));
        assert_eq!(orders(&out), [o(1, "lock 2")]);
    }

    #[test]
    fn a_host_without_actors_gets_the_table_pushed_alone() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        t.round(&[1], 1);
        let out = t.connect(2, report("c:1", &[]));
        assert_eq!(admitted(&out), [2]);
        assert_eq!(
            orders(&out),
            [o(2, "lock 1"), o(2, "update 1"), o(2, "unlock 1")]
        );
        assert_eq!(
            table_of(&out, 2),
            [("T".to_owned(), vec!["a:1".to_owned()])]
        );
        assert!(!out.iter().any(|a| matches!(a, Action::ArmTimeout { .. })));
        // Its acks of the push are no part of any round.
        for op in [
            HostOperation::Lock,
            HostOperation::Update,
            HostOperation::Unlock,
        ] {
            assert!(t.msg(2, ack(op, 1)).is_empty());
        }
        assert_eq!(t.d.operation(), HostOperation::Report);
        assert_eq!((t.d.runtimes(), t.d.actor_runtimes()), (2, 1));
        // Reporting again (nothing changed) pushes again.
        let out = t.msg(2, report("c:1", &[]));
        assert_eq!(orders(&out).len(), 3);
        // Later it registers actors: a round for both.
        let out = t.msg(2, report("c:1", &["U"]));
        assert_eq!(sorted(&out), [o(1, "lock 2"), o(2, "lock 2")]);
    }

    #[test]
    fn the_very_first_entity_less_host_gets_an_empty_table() {
        let mut t = T::new();
        let out = t.connect(1, report("c:1", &[]));
        assert_eq!(
            orders(&out),
            [o(1, "lock 0"), o(1, "update 0"), o(1, "unlock 0")]
        );
        assert!(table_of(&out, 1).is_empty());
    }

    #[test]
    fn a_connect_during_a_round_waits_for_it() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        let out = t.connect(2, report("b:1", &["T"]));
        assert!(out.is_empty(), "queued: {out:?}");
        let out = t.connect(3, report("c:1", &[]));
        assert!(out.is_empty(), "queued: {out:?}");
        assert_eq!(t.d.runtimes(), 1);
        let out = t.round(&[1], 1);
        // Both admitted; one round for the change, which includes the entity-less one.
        let mut adm = admitted(&out);
        adm.sort();
        assert_eq!(adm, [2, 3]);
        let locks: Vec<_> = sorted(&out)
            .into_iter()
            .filter(|(_, s)| s.starts_with("lock"))
            .collect();
        assert_eq!(locks, [o(1, "lock 2"), o(2, "lock 2"), o(3, "lock 2")]);
        let out = t.round(&[1, 2, 3], 2);
        assert_eq!(t.d.operation(), HostOperation::Report);
        assert_eq!(
            table_of(&out, 3),
            [("T".to_owned(), vec!["a:1".to_owned(), "b:1".to_owned()])]
        );
    }

    #[test]
    fn entity_less_connects_during_a_round_get_pushes_after_it() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        t.connect(2, report("c:1", &[]));
        let out = t.round(&[1], 1);
        assert_eq!(admitted(&out), [2]);
        let pushed: Vec<_> = orders(&out).into_iter().filter(|(c, _)| *c == 2).collect();
        assert_eq!(pushed, [o(2, "lock 1"), o(2, "update 1"), o(2, "unlock 1")]);
        assert_eq!(t.d.version(), 1);
    }

    #[test]
    fn a_disconnect_queues_a_round_without_the_host() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        t.round(&[1], 1);
        t.connect(2, report("b:1", &["T"]));
        t.round(&[1, 2], 2);
        let out = t.disconnect(2);
        assert_eq!(orders(&out), [o(1, "lock 3")]);
        let out = t.msg(1, ack(HostOperation::Lock, 3));
        assert_eq!(
            table_of(&out, 1),
            [("T".to_owned(), vec!["a:1".to_owned()])]
        );
        let again = t.msg(1, ack(HostOperation::Lock, 3));
        assert!(again.is_empty(), "a repeated ack counts once: {again:?}");
        t.round(&[1], 3);
        assert_eq!(t.d.operation(), HostOperation::Report);
        assert_eq!((t.d.runtimes(), t.d.actor_runtimes()), (1, 1));
        // An entity-less stream leaving changes no table.
        t.connect(3, report("c:1", &[]));
        assert!(orders(&t.disconnect(3)).is_empty());
    }

    #[test]
    fn a_disconnect_that_completes_a_phase_advances_it() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        t.round(&[1], 1);
        t.connect(2, report("b:1", &["T"]));
        assert!(t.msg(1, ack(HostOperation::Lock, 2)).is_empty());
        // The stream the phase waited for leaves: UPDATE goes to the rest
        // (its host leaves the tables in the next round).
        let out = t.disconnect(2);
        assert_eq!(orders(&out), [o(1, "update 2")]);
        t.msg(1, ack(HostOperation::Update, 2));
        let out = t.msg(1, ack(HostOperation::Unlock, 2));
        assert_eq!(orders(&out), [o(1, "lock 3")]);
        let out = t.round(&[1], 3);
        assert_eq!(
            table_of(&out, 1),
            [("T".to_owned(), vec!["a:1".to_owned()])]
        );
    }

    #[test]
    fn a_disconnect_of_an_acked_stream_uncounts_it() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        t.round(&[1], 1);
        t.connect(2, report("b:1", &["T"]));
        t.connect(3, report("c:1", &["T"])); // waits
        t.msg(2, ack(HostOperation::Lock, 2));
        assert!(orders(&t.disconnect(2)).is_empty());
        // 1 alone is still awaited.
        let out = t.msg(1, ack(HostOperation::Lock, 2));
        assert_eq!(orders(&out), [o(1, "update 2")]);
    }

    #[test]
    fn old_acks_are_ignored() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        t.round(&[1], 1);
        t.connect(2, report("b:1", &["T"]));
        assert!(t.msg(1, ack(HostOperation::Lock, 1)).is_empty());
        assert!(t.msg(2, ack(HostOperation::Lock, 1)).is_empty());
        assert_eq!(t.d.operation(), HostOperation::Lock);
        t.msg(1, ack(HostOperation::Lock, 2));
        let out = t.msg(2, ack(HostOperation::Lock, 2));
        assert_eq!(sorted(&out), [o(1, "update 2"), o(2, "update 2")]);
    }

    #[test]
    fn unknown_operations_ack_the_current_phase() {
        // 1.16 sidecars heartbeat the full host every second and never ack.
        let mut t = T::new();
        let out = t.connect(1, heartbeat("a:1", &["T"]));
        assert_eq!(orders(&out), [o(1, "lock 1")]);
        let out = t.msg(1, heartbeat("a:1", &["T"]));
        assert_eq!(orders(&out), [o(1, "update 1")]);
        let out = t.msg(1, heartbeat("a:1", &["T"]));
        assert_eq!(orders(&out), [o(1, "unlock 1")]);
        assert!(t.msg(1, heartbeat("a:1", &["T"])).is_empty());
        assert_eq!(t.d.operation(), HostOperation::Report);
        // Between rounds a heartbeat is a report, with change detection.
        assert!(t.msg(1, heartbeat("a:1", &["T"])).is_empty());
        let out = t.msg(1, heartbeat("a:1", &["T", "U"]));
        assert_eq!(orders(&out), [o(1, "lock 2")]);
        // An operation value this protocol does not know does nothing.
        let mut odd = ack(HostOperation::Lock, 2);
        odd.operation = 9;
        assert!(t.msg(1, odd).is_empty());
        assert_eq!(t.d.operation(), HostOperation::Lock);
    }

    #[test]
    fn a_change_mid_round_restarts_it() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        t.msg(1, ack(HostOperation::Lock, 1));
        let out = t.msg(1, report("a:1", &["T", "U"]));
        assert_eq!(orders(&out), [o(1, "lock 2")]);
        assert!(
            t.timeout(1).is_empty(),
            "the old round's timer was cancelled"
        );
        let out = t.round(&[1], 2);
        assert_eq!(table_of(&out, 1).len(), 2);
    }

    #[test]
    fn the_timeout_closes_laggards_and_starts_over() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        t.round(&[1], 1);
        t.connect(2, report("b:1", &["T"]));
        t.connect(3, report("c:1", &["U"])); // waiting: admitted by the timeout
        t.msg(1, ack(HostOperation::Lock, 2));
        let out = t.timeout(2);
        assert_eq!(
            closed(&out),
            [(
                2,
                GrpcCode::DeadlineExceeded,
                "dissemination timeout after 8s for version 2".to_owned()
            )]
        );
        assert_eq!(admitted(&out), [3]);
        assert_eq!(sorted(&out), [o(1, "lock 3"), o(3, "lock 3")]);
        assert_eq!((t.d.runtimes(), t.d.actor_runtimes()), (2, 2));
        // The closed stream's own end changes nothing more.
        assert!(t.disconnect(2).is_empty());
        let out = t.round(&[1, 3], 3);
        assert_eq!(
            table_of(&out, 1),
            [
                ("T".to_owned(), vec!["a:1".to_owned()]),
                ("U".to_owned(), vec!["c:1".to_owned()])
            ]
        );
        // A completed round's timer does nothing.
        assert!(t.timeout(3).is_empty());
        assert_eq!(t.d.operation(), HostOperation::Report);
    }

    #[test]
    fn a_timeout_with_nobody_left_ends_the_round() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        let out = t.timeout(1);
        assert_eq!(closed(&out).len(), 1);
        assert!(orders(&out).is_empty());
        assert_eq!(t.d.operation(), HostOperation::Report);
        assert_eq!(t.d.runtimes(), 0);
        // The next sidecar starts a fresh round.
        let out = t.connect(2, report("b:1", &["T"]));
        assert_eq!(orders(&out), [o(2, "lock 3")]);
    }

    #[test]
    fn the_coalesce_window_batches_the_next_round() {
        let mut t = T::with(cfg(Duration::from_millis(100)));
        t.connect(1, report("a:1", &["T"]));
        let out = t.round(&[1], 1);
        assert!(out.iter().any(|a| matches!(a, Action::ArmCoalesce { .. })));
        // During the window connects and disconnects wait.
        assert!(t.connect(2, report("b:1", &["T"])).is_empty());
        assert!(t.connect(3, report("c:1", &["T"])).is_empty());
        let mut out = Vec::new();
        t.d.coalesce_fire(&mut out);
        assert_eq!(
            sorted(&out),
            [o(1, "lock 2"), o(2, "lock 2"), o(3, "lock 2")]
        );
        let out = t.round(&[1, 2, 3], 2);
        assert_eq!(table_of(&out, 1)[0].1.len(), 3);
        // Only an armed window fires.
        let mut again = Vec::new();
        t.d.coalesce_fire(&mut again);
        t.d.coalesce_fire(&mut again);
        assert!(orders(&again).is_empty());
    }

    #[test]
    fn shutdown_closes_every_stream() {
        let mut t = T::new();
        t.connect(1, report("a:1", &["T"]));
        t.connect(2, report("b:1", &["T"]));
        let mut out = Vec::new();
        t.d.shutdown(
            &Status::new(GrpcCode::Cancelled, "context canceled"),
            &mut out,
        );
        let ids: Vec<ConnId> = closed(&out).into_iter().map(|c| c.0).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(t.d.runtimes(), 0);
    }
}
