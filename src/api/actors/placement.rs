//! The placement client (Go 1.17/1.18: `pkg/actors/internal/placement/**`)
//! and the tables it maintains.
//!
//! Worker 0 keeps one `dapr.proto.placement.v1.Placement/ReportDaprStatus`
//! stream open to one of `--placement-host-address` (round-robin; a
//! refusal such as "not the leader" just moves on to the next). It reports
//! this host (`REPORT`, again whenever the hosted types change) and follows
//! the server's rounds: `lock v` is acknowledged; `update v` replaces the
//! tables (one hash ring per actor type), holds lookups for the types whose
//! ring changed, deactivates the local actors that now belong elsewhere
//! (their ongoing turn drains first) and is acknowledged; `unlock v` lets
//! lookups through and is acknowledged. A round that does not finish within
//! `--actors-disseminate-timeout`, an unknown operation, an older version
//! or a broken stream ends the stream: lookups wait, every local actor is
//! deactivated, and the client reconnects after Go's 0.5 s ± 0.25 s.
//!
//! Lookups ([`TableView::lookup`]) read an immutable snapshot of the tables
//! (`ArcSwap`), lock-free; only a lookup that must wait (no table yet, or
//! its type is being rebalanced) registers for a wake-up.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use prost::Message;

use super::ring::Ring;
use super::{Actors, Hosting};
use crate::api::Ctx;
use crate::grpc::stream::Incoming;
use crate::proto::dapr::proto::placement::v1 as pb;

/// `ReportDaprStatus`.
const REPORT_DAPR_STATUS: &str = "/dapr.proto.placement.v1.Placement/ReportDaprStatus";
/// `ServiceInvocation/CallActor` on another sidecar.
pub const CALL_ACTOR: &str = "/dapr.proto.internals.v1.ServiceInvocation/CallActor";
/// `ServiceInvocation/CallActorReminder` on another sidecar.
pub const CALL_ACTOR_REMINDER: &str =
    "/dapr.proto.internals.v1.ServiceInvocation/CallActorReminder";
/// The API level daprd reports (Go 1.18: 20).
const API_LEVEL: u32 = 20;
/// Largest placement message accepted (tables of many hosts).
const MAX_MESSAGE: usize = 64 << 20;

/// Who owns an actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// This sidecar.
    Local,
    /// Another sidecar: its internal gRPC address and app id.
    Remote {
        /// `<ip>:<port>` of its internal gRPC server.
        address: String,
        /// Its app id.
        app_id: String,
    },
}

/// One actor type's ring and hosts.
struct TypeTable {
    ring: Ring,
    /// Host name → app id.
    app_ids: HashMap<String, String>,
}

/// One placement table version.
struct Tables {
    version: u64,
    types: Arc<HashMap<String, TypeTable>>,
    /// Hosts by type as placement sent them (to tell which rings changed).
    members: Arc<HashMap<String, Vec<(String, String)>>>,
    /// `false` from a stream loss until the next unlock.
    ready: bool,
    /// Types whose lookups wait for the unlock.
    blocked: HashSet<String>,
}

/// The tables as every worker reads them.
#[derive(Default)]
pub struct TableView {
    current: ArcSwapOption<Tables>,
    changed: event_listener::Event,
    /// Where the stream is connected (metadata), empty when not.
    connected_to: arc_swap::ArcSwap<String>,
}

impl TableView {
    /// Whether a table is in force (the first unlock came, the stream is up).
    pub fn is_ready(&self) -> bool {
        self.current.load().as_ref().is_some_and(|t| t.ready)
    }

    /// The placement address the stream is connected to ("" when none).
    pub fn connected_to(&self) -> Arc<String> {
        self.connected_to.load_full()
    }

    /// The version in force.
    pub fn version(&self) -> Option<u64> {
        self.current.load().as_ref().map(|t| t.version)
    }

    /// The owner of `actor_type/actor_id`, waiting until `deadline` while
    /// there is no table yet or the type is being rebalanced. The error is
    /// Go's text.
    pub async fn lookup(
        &self,
        actors: &Actors,
        actor_type: &str,
        actor_id: &str,
        deadline: Instant,
    ) -> Result<Owner, String> {
        if let Some(found) = self.try_lookup(actors, actor_type, actor_id) {
            return found;
        }
        loop {
            let listener = self.changed.listen();
            if let Some(found) = self.try_lookup(actors, actor_type, actor_id) {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || monoio::time::timeout(left, listener).await.is_err() {
                return Err(format!(
                    "did not find address for actor '{}'",
                    super::actor_key(actor_type, actor_id)
                ));
            }
        }
    }

    /// `None` when the lookup must wait.
    fn try_lookup(
        &self,
        actors: &Actors,
        actor_type: &str,
        actor_id: &str,
    ) -> Option<Result<Owner, String>> {
        let guard = self.current.load();
        let tables = guard.as_ref()?;
        if !tables.ready || tables.blocked.contains(actor_type) {
            return None;
        }
        let Some(t) = tables.types.get(actor_type) else {
            return Some(Err(format!(
                "did not find address for actor '{}'",
                super::actor_key(actor_type, actor_id)
            )));
        };
        let Some(host) = t.ring.owner(actor_id) else {
            return Some(Err(format!(
                "did not find address for actor '{}'",
                super::actor_key(actor_type, actor_id)
            )));
        };
        Some(Ok(if is_local(host, &actors.host.name, actors.host.port) {
            Owner::Local
        } else {
            Owner::Remote {
                address: host.to_owned(),
                app_id: t.app_ids.get(host).cloned().unwrap_or_default(),
            }
        }))
    }

    /// Whether `actor_type/actor_id` belongs here under the current table.
    fn owned_here(&self, actors: &Actors, actor_type: &str, actor_id: &str) -> bool {
        let guard = self.current.load();
        let Some(tables) = guard.as_ref() else {
            return false;
        };
        tables
            .types
            .get(actor_type)
            .and_then(|t| t.ring.owner(actor_id))
            .is_some_and(|h| is_local(h, &actors.host.name, actors.host.port))
    }

    fn publish(&self, tables: Option<Tables>) {
        self.current.store(tables.map(Arc::new));
        self.changed.notify(usize::MAX);
    }

    /// Stream lost: lookups wait for the next table.
    fn lost(&self) {
        let guard = self.current.load();
        if let Some(t) = guard.as_ref() {
            self.publish(Some(Tables {
                version: t.version,
                types: Arc::default(),
                members: Arc::default(),
                ready: false,
                blocked: HashSet::new(),
            }));
        }
        self.connected_to.store(Arc::new(String::new()));
    }
}

/// Go's `IsActorLocal`: the exact name, or both loopback on the same port.
fn is_local(target: &str, own_name: &str, own_port: u16) -> bool {
    if target == own_name {
        return true;
    }
    let own_host = own_name
        .rsplit_once(':')
        .map_or(own_name, |(h, _)| h)
        .trim_matches(['[', ']']);
    if !is_loopback(own_host) {
        return false;
    }
    match target.rsplit_once(':') {
        Some((h, p)) => p.parse::<u16>() == Ok(own_port) && is_loopback(h.trim_matches(['[', ']'])),
        None => false,
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Worker 0's placement loop; returns when the worker drains.
pub async fn run(ctx: Rc<Ctx>) {
    let actors = &ctx.shared.actors;
    let Some(addresses) = actors.placement_addresses().map(<[String]>::to_vec) else {
        return;
    };
    // Counted as a live connection, so that shutdown waits (within the grace
    // period) for the local actors' deactivation below.
    let _live = ctx.drain.track();
    // Go: the stream opens once the hosted types are known.
    while !actors.hosting_known() {
        let listener = actors.hosting_listener();
        if actors.hosting_known() {
            break;
        }
        monoio::select! {
            _ = listener => {}
            _ = ctx.drain.closing() => return,
        }
    }
    let mut next = 0usize;
    loop {
        let addr = &addresses[next % addresses.len()];
        next = next.wrapping_add(1);
        let ended = monoio::select! {
            r = session(&ctx, addr) => r,
            _ = ctx.drain.closing() => {
                // Shutdown: the actors hosted here are deactivated (Go's HaltAll).
                actors.close();
                let all = actors.take_active(|_| true);
                super::deactivate_all(&ctx, all).await;
                return;
            }
        };
        if let Err(e) = ended {
            tracing::warn!("Failed to connect to placement {addr}: {e}");
        }
        actors.table.lost();
        let all = actors.take_active(|_| true);
        if !all.is_empty() {
            tracing::info!(
                count = all.len(),
                "placement stream lost: halting local actors"
            );
            super::deactivate_all(&ctx, all).await;
        }
        // Go: 0.5 s ± 0.25 s.
        let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * 500 / 255;
        monoio::select! {
            _ = monoio::time::sleep(Duration::from_millis(250 + jitter)) => {}
            _ = ctx.drain.closing() => return,
        }
    }
}

/// This host's report.
fn report(actors: &Actors, hosting: &Hosting) -> pb::Host {
    #[allow(deprecated)]
    pb::Host {
        name: actors.host.name.clone(),
        entities: hosting.entities(),
        id: actors.host.app_id.clone(),
        namespace: actors.host.namespace.clone(),
        api_level: API_LEVEL,
        operation: pb::HostOperation::Report as i32,
        ..Default::default()
    }
}

/// An acknowledgement of order `version`.
fn ack(actors: &Actors, op: pb::HostOperation, version: u64) -> pb::Host {
    pb::Host {
        id: actors.host.app_id.clone(),
        namespace: actors.host.namespace.clone(),
        operation: op as i32,
        version: Some(version),
        ..Default::default()
    }
}

fn frame(m: &pb::Host) -> Bytes {
    crate::grpc::frame::encode(&m.encode_to_vec())
}

/// One stream's life: report, then follow the server's rounds until the
/// stream ends (the error says why).
async fn session(ctx: &Rc<Ctx>, addr: &str) -> Result<(), String> {
    let actors = &ctx.shared.actors;
    let (response, mut send) = ctx
        .remotes
        .open(
            addr,
            crate::api::invoke::remote::grpc_head(REPORT_DAPR_STATUS),
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut reported = actors.hosting();
    send.send_data(frame(&report(actors, &reported)), false)
        .map_err(|e| e.to_string())?;
    let response = response.await.map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    if let Some(status) = parts.headers.get("grpc-status") {
        if status != "0" {
            let message = parts
                .headers
                .get("grpc-message")
                .and_then(|m| m.to_str().ok())
                .unwrap_or_default();
            ctx.remotes.forget(addr);
            return Err(format!(
                "placement refused the stream: code {} {message}",
                status.to_str().unwrap_or("?")
            ));
        }
    }
    tracing::info!("Placement client connected to {addr}");
    actors.table.connected_to.store(Arc::new(addr.to_owned()));
    let mut incoming = Incoming::new(body, MAX_MESSAGE, false);
    let mut round: Option<(u64, Instant)> = None;
    let mut updated: Option<u64> = None;
    loop {
        let hosting_changed = actors.hosting_listener();
        if !Arc::ptr_eq(&reported, &actors.hosting()) {
            reported = actors.hosting();
            send.send_data(frame(&report(actors, &reported)), false)
                .map_err(|e| e.to_string())?;
            continue;
        }
        let timeout = round.map_or(Duration::from_secs(3600), |(_, started)| {
            actors.disseminate_timeout.saturating_sub(started.elapsed())
        });
        let order = monoio::select! {
            o = incoming.decode::<pb::PlacementOrder>() => o,
            _ = hosting_changed => continue,
            _ = monoio::time::sleep(timeout) => {
                return Err("placement dissemination timed out".into());
            }
        };
        let order = match order {
            Ok(Some(o)) => o,
            Ok(None) => return Err("placement closed the stream".into()),
            Err(s) => return Err(s.message),
        };
        let version = order.version;
        match order.operation.as_str() {
            "lock" => {
                round = Some((version, Instant::now()));
                send.send_data(frame(&ack(actors, pb::HostOperation::Lock, version)), false)
                    .map_err(|e| e.to_string())?;
            }
            "update" => {
                if actors.table.version().is_some_and(|v| version < v) {
                    return Err(format!("placement sent an old table version {version}"));
                }
                apply_update(ctx, order.tables.unwrap_or_default(), version).await;
                updated = Some(version);
                send.send_data(
                    frame(&ack(actors, pb::HostOperation::Update, version)),
                    false,
                )
                .map_err(|e| e.to_string())?;
            }
            "unlock" => {
                if updated.is_none() {
                    continue;
                }
                unlock(actors);
                round = None;
                send.send_data(
                    frame(&ack(actors, pb::HostOperation::Unlock, version)),
                    false,
                )
                .map_err(|e| e.to_string())?;
                ctx.shared.note_readiness();
            }
            other => return Err(format!("unknown placement operation {other:?}")),
        }
    }
}

/// `update`: the new tables in force with changed types held, and the
/// actors that moved away deactivated.
async fn apply_update(ctx: &Rc<Ctx>, tables: pb::PlacementTables, version: u64) {
    let actors = &ctx.shared.actors;
    let old = actors.table.current.load_full();
    let factor = tables.replication_factor;
    let mut types = HashMap::with_capacity(tables.entries.len());
    let mut members = HashMap::with_capacity(tables.entries.len());
    let mut blocked = HashSet::new();
    for (actor_type, table) in tables.entries {
        let mut hosts: Vec<(String, String)> = table
            .load_map
            .into_iter()
            .map(|(name, h)| (name, h.id))
            .collect();
        hosts.sort();
        let unchanged = old
            .as_ref()
            .and_then(|o| o.members.get(&actor_type))
            .is_some_and(|m| *m == hosts);
        if !unchanged {
            blocked.insert(actor_type.clone());
        }
        let names: Vec<&str> = hosts.iter().map(|(n, _)| n.as_str()).collect();
        types.insert(
            actor_type.clone(),
            TypeTable {
                ring: Ring::new(names, factor),
                app_ids: hosts.iter().cloned().collect(),
            },
        );
        members.insert(actor_type, hosts);
    }
    if let Some(o) = old.as_ref() {
        for t in o.members.keys() {
            if !members.contains_key(t) {
                blocked.insert(t.clone());
            }
        }
    }
    let ready = old.as_ref().is_some_and(|o| o.ready);
    tracing::debug!(version, changed = ?blocked, "placement table update");
    actors.table.publish(Some(Tables {
        version,
        types: Arc::new(types),
        members: Arc::new(members),
        ready,
        blocked,
    }));
    let moved =
        actors.take_active(|a| !actors.table.owned_here(actors, &a.actor_type, &a.actor_id));
    if !moved.is_empty() {
        tracing::info!(
            count = moved.len(),
            "deactivating actors placement moved away"
        );
        for a in &moved {
            ctx.metrics.record_actor_rebalanced(&a.actor_type);
        }
        super::deactivate_all(ctx, moved).await;
    }
}

/// `unlock`: every lookup goes through.
fn unlock(actors: &Actors) {
    let guard = actors.table.current.load();
    let Some(t) = guard.as_ref() else {
        return;
    };
    let first = !t.ready;
    actors.table.publish(Some(Tables {
        version: t.version,
        types: t.types.clone(),
        members: t.members.clone(),
        ready: true,
        blocked: HashSet::new(),
    }));
    if first {
        tracing::info!("Placement tables updated, version: {}", t.version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hosts_as_go() {
        assert!(is_local("10.0.0.1:50002", "10.0.0.1:50002", 50002));
        assert!(!is_local("10.0.0.2:50002", "10.0.0.1:50002", 50002));
        assert!(is_local("localhost:50002", "127.0.0.1:50002", 50002));
        assert!(is_local("[::1]:50002", "127.0.0.1:50002", 50002));
        assert!(!is_local("127.0.0.1:50003", "127.0.0.1:50002", 50002));
        assert!(!is_local("10.0.0.1:50002", "127.0.0.1:50002", 50002));
    }
}
