//! The `dapr.proto.placement.v1.Placement` gRPC server over h2c.
//!
//! Serves one RPC, `ReportDaprStatus` (a bidi stream per sidecar), on the
//! crate's gRPC plumbing (`grpc::server::serve` behind its `Handler`), with
//! a connection loop of its own: besides accepting streams it sends an
//! HTTP/2 PING every `--keepalive-time` and closes a connection whose peer
//! does not answer within `--keepalive-timeout` — since 1.17 the only way a
//! vanished sidecar is noticed (daprd sends no heartbeats).
//!
//! Everything runs on one thread. The [`Hub`] owns the sans-IO
//! [`Namespaces`] state machine; each stream's task feeds it what it reads
//! and the hub carries out the [`Action`]s that come back: orders go down
//! the addressed stream's channel, a close through its own one-shot, timers
//! become sleeping tasks.
//! No borrow of the state is held across an await.
//!
//! A stream's task reads only once the stream is admitted: one that
//! connects during a dissemination round waits, unread, until the round
//! ends (as Go's, whose receive loop starts at admission).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;

use http::HeaderMap;
use local_sync::{mpsc, oneshot};
use monoio::net::TcpStream;
use prost::Message;

use super::authorizer::authorize;
use super::disseminator::{Action, Config, ConnId};
use super::namespaces::Namespaces;
use crate::grpc::server::{self, Call, ConnEnd, ConnSettings, Handler, Keepalive, Reply, Status};
use crate::grpc::status::GrpcCode;
use crate::grpc::stream::{Incoming, Outgoing};
use crate::net::shutdown::Drain;
use crate::proto::dapr::proto::placement::v1::{Host, PlacementOrder};

/// The one method served.
pub const REPORT_DAPR_STATUS: &str = "/dapr.proto.placement.v1.Placement/ReportDaprStatus";
const SERVICE: &str = "dapr.proto.placement.v1.Placement";

/// grpc-go's default largest received message.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;

// === impl Hub ===

/// The hub's end of a stream's task.
struct Slot {
    orders: mpsc::unbounded::Tx<Rc<PlacementOrder>>,
    admit: Option<oneshot::Sender<()>>,
    /// Ends the stream; taken when the server closes it (what the stream
    /// still reads is dropped from then on). Apart from the orders, so that
    /// a stream stuck sending to a client that stopped reading still ends.
    close: Option<oneshot::Sender<Status>>,
}

/// The shared state of every stream: the namespaces' state machine and
/// each stream's command channel.
pub struct Hub {
    state: RefCell<Namespaces>,
    slots: RefCell<HashMap<ConnId, Slot>>,
    next: Cell<ConnId>,
    stopping: Cell<bool>,
}

/// A stream's end of the hub.
struct Opened {
    conn: ConnId,
    orders: mpsc::unbounded::Rx<Rc<PlacementOrder>>,
    admitted: oneshot::Receiver<()>,
    closed: oneshot::Receiver<Status>,
}

impl Hub {
    /// A hub with no streams.
    pub fn new(cfg: Config) -> Rc<Self> {
        Rc::new(Self {
            state: RefCell::new(Namespaces::new(cfg)),
            slots: RefCell::new(HashMap::new()),
            next: Cell::new(0),
            stopping: Cell::new(false),
        })
    }

    /// Reads the state (for metrics and the metadata endpoint).
    pub fn with_state<T>(&self, f: impl FnOnce(&Namespaces) -> T) -> T {
        f(&self.state.borrow())
    }

    /// Ends every stream with `CANCELLED` and refuses new ones: the server stops.
    pub fn shutdown(self: &Rc<Self>) {
        self.stopping.set(true);
        let status = canceled();
        self.run(|s, out| s.shutdown(&status, out));
    }

    fn open(&self) -> Opened {
        let conn = self.next.get() + 1;
        self.next.set(conn);
        let (tx, orders) = mpsc::unbounded::channel();
        let (admit, admitted) = oneshot::channel();
        let (close, closed) = oneshot::channel();
        self.slots.borrow_mut().insert(
            conn,
            Slot {
                orders: tx,
                admit: Some(admit),
                close: Some(close),
            },
        );
        Opened {
            conn,
            orders,
            admitted,
            closed,
        }
    }

    fn connect(self: &Rc<Self>, conn: ConnId, host: Host) {
        self.run(|s, out| s.connect(conn, host, out));
    }

    fn report(self: &Rc<Self>, conn: ConnId, host: Host) {
        let closing = self
            .slots
            .borrow()
            .get(&conn)
            .is_none_or(|s| s.close.is_none());
        if !closing {
            self.run(|s, out| s.report(conn, host, out));
        }
    }

    fn disconnect(self: &Rc<Self>, conn: ConnId, status: &Status) {
        self.slots.borrow_mut().remove(&conn);
        self.run(|s, out| s.disconnect(conn, status, out));
    }

    /// Runs one event through the state machine, then its actions.
    fn run(self: &Rc<Self>, event: impl FnOnce(&mut Namespaces, &mut Vec<Action>)) {
        let mut out = Vec::new();
        event(&mut self.state.borrow_mut(), &mut out);
        for action in out {
            self.execute(action);
        }
    }

    fn execute(self: &Rc<Self>, action: Action) {
        match action {
            Action::Admit(conn) => {
                let admit = self
                    .slots
                    .borrow_mut()
                    .get_mut(&conn)
                    .and_then(|s| s.admit.take());
                if let Some(admit) = admit {
                    let _ = admit.send(());
                }
            }
            Action::Send(conn, order) => {
                if let Some(slot) = self.slots.borrow().get(&conn) {
                    let _ = slot.orders.send(order);
                }
            }
            Action::Close(conn, status) => {
                let close = self
                    .slots
                    .borrow_mut()
                    .get_mut(&conn)
                    .and_then(|s| s.close.take());
                if let Some(close) = close {
                    let _ = close.send(status);
                }
            }
            Action::ArmTimeout {
                namespace,
                epoch,
                version,
                after,
            } => {
                let hub = self.clone();
                monoio::spawn(async move {
                    monoio::time::sleep(after).await;
                    hub.run(|s, out| s.timeout(&namespace, epoch, version, out));
                });
            }
            Action::ArmCoalesce {
                namespace,
                epoch,
                after,
            } => {
                let hub = self.clone();
                monoio::spawn(async move {
                    monoio::time::sleep(after).await;
                    hub.run(|s, out| s.coalesce_fire(&namespace, epoch, out));
                });
            }
        }
    }
}

// === impl PlacementGrpc ===

/// The gRPC handler of the placement service.
pub struct PlacementGrpc {
    hub: Rc<Hub>,
    /// Streams end through the hub (with Go's status), never by a drain.
    never: Drain,
}

impl PlacementGrpc {
    /// The service over `hub`.
    pub fn new(hub: Rc<Hub>) -> Self {
        Self {
            hub,
            never: Drain::new(),
        }
    }
}

impl Handler for PlacementGrpc {
    type Streaming = ();
    type Unary = ();

    fn streaming_method(&self, path: &str) -> Option<Result<(), Status>> {
        Some(if path == REPORT_DAPR_STATUS {
            Ok(())
        } else {
            Err(unknown_method(path))
        })
    }

    fn precheck(&self, path: &str, _metadata: &HeaderMap) -> Result<(), Status> {
        Err(unknown_method(path))
    }

    async fn unary(&self, _method: (), call: Call) -> Reply {
        Err(unknown_method(&call.path))
    }

    async fn streaming(
        &self,
        _method: (),
        _metadata: &HeaderMap,
        incoming: &mut Incoming,
        outgoing: &mut Outgoing,
    ) -> Result<(), Status> {
        report_dapr_status(&self.hub, incoming, outgoing).await
    }

    fn drain(&self) -> &Drain {
        &self.never
    }
}

/// grpc-go's answer to a path it does not serve.
fn unknown_method(path: &str) -> Status {
    let msg = match path.strip_prefix('/').and_then(|p| p.rsplit_once('/')) {
        Some((service, method)) if service == SERVICE => {
            format!("unknown method {method} for service {service}")
        }
        Some((service, _)) => format!("unknown service {service}"),
        None => format!("malformed method name: {path:?}"),
    };
    Status::new(GrpcCode::Unimplemented, msg)
}

/// One sidecar's stream, from its first report to its end.
async fn report_dapr_status(
    hub: &Rc<Hub>,
    incoming: &mut Incoming,
    outgoing: &mut Outgoing,
) -> Result<(), Status> {
    let stopping = || Status::new(GrpcCode::Unavailable, "placement server is shutting down");
    if hub.stopping.get() {
        return Err(stopping());
    }
    let first = next_host(incoming).await?;
    authorize(&first)?;
    if hub.stopping.get() {
        return Err(stopping());
    }
    tracing::info!(
        target: "daprd::placement::server",
        "Received status report connection from new namespace={} id={} host={}",
        first.namespace,
        first.id,
        first.name
    );
    let Opened {
        conn,
        mut orders,
        admitted,
        closed,
    } = hub.open();
    // Whatever ends this call — even its future being dropped, as a
    // `grpc-timeout` does — the hub hears that the stream left.
    let mut leave = Leave {
        hub,
        conn,
        done: false,
    };
    hub.connect(conn, first);

    let status = monoio::select! {
        s = write_orders(conn, &mut orders, outgoing) => s,
        s = read_reports(hub, conn, admitted, incoming) => s,
        s = closed => s.unwrap_or_else(|_| canceled()),
    };
    if status.code == GrpcCode::DeadlineExceeded || status.code == GrpcCode::Cancelled {
        tracing::info!(
            target: "daprd::placement::server",
            "Closing connection to stream {conn}: {}",
            status.message
        );
    }
    leave.done = true;
    hub.disconnect(conn, &status);
    Err(status)
}

/// Tells the hub a stream left if its call ended without saying so.
struct Leave<'a> {
    hub: &'a Rc<Hub>,
    conn: ConnId,
    done: bool,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if !self.done && !self.hub.stopping.get() {
            self.hub.disconnect(self.conn, &canceled());
        }
    }
}

/// Sends the hub's orders down the stream; returns the status that ends
/// it when the client is gone.
async fn write_orders(
    conn: ConnId,
    orders: &mut mpsc::unbounded::Rx<Rc<PlacementOrder>>,
    outgoing: &mut Outgoing,
) -> Status {
    while let Some(order) = orders.recv().await {
        tracing::debug!(
            target: "daprd::placement::server",
            "Sending {} for version {} to stream {conn}",
            order.operation.to_uppercase(),
            order.version
        );
        if let Err(closed) = outgoing.send_message(&*order).await {
            return closed.into();
        }
    }
    canceled()
}

/// Go's status for a stream whose context was cancelled.
fn canceled() -> Status {
    Status::new(GrpcCode::Cancelled, "context canceled")
}

/// Once admitted, hands the stream's messages to the hub; returns the
/// status that ends the stream (the client's half-close, a failed read or
/// a message the authorizer refuses).
async fn read_reports(
    hub: &Rc<Hub>,
    conn: ConnId,
    admitted: oneshot::Receiver<()>,
    incoming: &mut Incoming,
) -> Status {
    if admitted.await.is_err() {
        // Never admitted: the stream ends when the server closes it.
        return std::future::pending().await;
    }
    loop {
        let host = match next_host(incoming).await {
            Ok(h) => h,
            Err(status) => return status,
        };
        if let Err(status) = authorize(&host) {
            tracing::warn!(
                target: "daprd::placement::server",
                "Authorization failed for stream {conn}: {}",
                status.message
            );
            return status;
        }
        hub.report(conn, host);
    }
}

/// The next message as a `Host`. The client's half-close ends the call as
/// in Go (`EOF`, status UNKNOWN); an undecodable message is INTERNAL.
async fn next_host(incoming: &mut Incoming) -> Result<Host, Status> {
    match incoming.message().await? {
        Some(bytes) => Host::decode(bytes).map_err(|e| {
            Status::new(
                GrpcCode::Internal,
                format!("grpc: failed to unmarshal the received message: {e}"),
            )
        }),
        None => Err(Status::new(GrpcCode::Unknown, "EOF")),
    }
}

// === connections ===

/// Serves one h2c connection of the placement service.
pub async fn serve_connection(
    io: TcpStream,
    peer: SocketAddr,
    grpc: Rc<PlacementGrpc>,
    keepalive: Keepalive,
    drain: Drain,
) {
    let settings = ConnSettings {
        keepalive,
        data_frame_budget: None,
        max_message: MAX_MESSAGE,
    };
    if server::serve_h2c(io, peer, grpc, settings, drain).await == ConnEnd::KeepaliveMissed {
        tracing::info!(
            target: "daprd::placement::server",
            "Closing connection to {peer}: keepalive ping not acknowledged within {}",
            crate::config::options::format_go_duration(keepalive.timeout)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_as_grpc_go_names_them() {
        let s = unknown_method("/dapr.proto.placement.v1.Placement/Nope");
        assert_eq!(s.code, GrpcCode::Unimplemented);
        assert_eq!(
            s.message,
            "unknown method Nope for service dapr.proto.placement.v1.Placement"
        );
        assert_eq!(unknown_method("/x.Y/Z").message, "unknown service x.Y");
        assert!(unknown_method("nonsense")
            .message
            .starts_with("malformed method name"));
    }
}
