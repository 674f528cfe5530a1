//! The `dapr.proto.scheduler.v1.Scheduler` gRPC server over h2c.
//!
//! Serves the eight RPCs on the crate's gRPC plumbing (`grpc::server::serve`
//! behind its `Handler`), with a connection loop of its own that sends an
//! HTTP/2 PING every 3 s and closes a connection whose peer does not answer
//! within 5 s (Go's server keepalive parameters).
//!
//! Everything runs on one thread around the [`Hub`]: the [`Engine`] in a
//! `RefCell` (never borrowed across an await), the timer task that fires
//! what is due, and one task per stream. Unary calls answer once their
//! write to the store committed.
//!
//! Statuses as grpc-go gives Go's errors: a plain Go error is `UNKNOWN`
//! with its text; a stream the server ends is `CANCELLED` ("context
//! canceled"), or `UNKNOWN` "server is closing" when the service stops.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::HeaderMap;
use local_sync::mpsc::unbounded;
use monoio::net::TcpStream;
use prost::Message;

use super::engine::{Connected, Engine, StreamId};
use super::metrics::{Metrics, SidecarError};
use crate::grpc::server::{self, Call, ConnEnd, ConnSettings, Handler, Keepalive, Reply, Status};
use crate::grpc::status::GrpcCode;
use crate::grpc::stream::{Incoming, Outgoing};
use crate::net::shutdown::Drain;
use crate::proto::dapr::proto::scheduler::v1::{
    watch_jobs_request, DeleteByMetadataRequest, DeleteByMetadataResponse,
    DeleteByNamePrefixRequest, DeleteByNamePrefixResponse, DeleteJobRequest, DeleteJobResponse,
    GetJobRequest, Host, ListJobsRequest, ScheduleJobRequest, ScheduleJobResponse,
    WatchHostsRequest, WatchHostsResponse, WatchJobsRequest,
};

const SERVICE: &str = "dapr.proto.scheduler.v1.Scheduler";

/// Go's scheduler takes messages of any size (`math.MaxInt32`); ours stop
/// at 64 MiB.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// h2's allowance of framing overhead in unread small DATA frames per
/// connection (about 256 bytes per frame): some 32,000 unread results.
const DATA_FRAME_BUDGET: usize = 8 * 1024 * 1024;

/// The longest the timer sleeps without looking at the clock again (the
/// wall clock may be set while it sleeps).
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Go's server keepalive: a PING after 3 s, answered within 5 s.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(3);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

// === the hub ===

/// What every call shares.
pub struct Hub {
    /// The jobs, the timer queue, the streams.
    pub engine: RefCell<Engine>,
    /// The service's metrics.
    pub metrics: Rc<Metrics>,
    /// What `WatchHosts` answers.
    pub hosts: Vec<Host>,
    /// Closes when the service stops: streams end.
    pub stop: Drain,
}

impl Hub {
    /// Fires what is due, then sleeps until the next fire (or a poke:
    /// something earlier was queued), until the service stops.
    pub async fn run_timer(self: Rc<Self>, mut poke: unbounded::Rx<()>) {
        loop {
            let next = self.engine.borrow().next_due();
            let wait = next
                .map_or(MAX_SLEEP, |t| {
                    t.duration_since(SystemTime::now()).unwrap_or_default()
                })
                .min(MAX_SLEEP);
            if !wait.is_zero() {
                monoio::select! {
                    _ = monoio::time::sleep(wait) => {}
                    p = poke.recv() => {
                        if p.is_none() {
                            return;
                        }
                        while poke.try_recv().is_ok() {}
                        continue;
                    }
                    _ = self.stop.closing() => return,
                }
            }
            self.engine.borrow_mut().fire_due(SystemTime::now());
        }
    }
}

// === the handler ===

/// The unary methods.
#[derive(Clone, Copy, Debug)]
pub enum Unary {
    /// `ScheduleJob`
    Schedule,
    /// `GetJob`
    Get,
    /// `DeleteJob`
    Delete,
    /// `ListJobs`
    List,
    /// `DeleteByMetadata`
    DeleteByMetadata,
    /// `DeleteByNamePrefix`
    DeleteByNamePrefix,
}

/// The streaming methods.
#[derive(Clone, Copy, Debug)]
pub enum Streaming {
    /// `WatchJobs`
    Jobs,
    /// `WatchHosts`
    Hosts,
}

/// The gRPC handler of the scheduler service.
pub struct SchedulerGrpc {
    hub: Rc<Hub>,
    /// Streams end through the hub (with Go's status), never by a drain.
    never: Drain,
}

impl SchedulerGrpc {
    /// The service over `hub`.
    pub fn new(hub: Rc<Hub>) -> Self {
        Self {
            hub,
            never: Drain::new(),
        }
    }
}

fn method(path: &str) -> Option<&str> {
    path.strip_prefix('/')?
        .strip_prefix(SERVICE)?
        .strip_prefix('/')
}

impl Handler for SchedulerGrpc {
    type Streaming = Streaming;
    type Unary = Unary;

    fn streaming_method(&self, path: &str) -> Option<Result<Streaming, Status>> {
        match method(path)? {
            "WatchJobs" => Some(Ok(Streaming::Jobs)),
            "WatchHosts" => Some(Ok(Streaming::Hosts)),
            _ => None,
        }
    }

    fn precheck(&self, path: &str, _metadata: &HeaderMap) -> Result<Unary, Status> {
        Ok(match method(path) {
            Some("ScheduleJob") => Unary::Schedule,
            Some("GetJob") => Unary::Get,
            Some("DeleteJob") => Unary::Delete,
            Some("ListJobs") => Unary::List,
            Some("DeleteByMetadata") => Unary::DeleteByMetadata,
            Some("DeleteByNamePrefix") => Unary::DeleteByNamePrefix,
            _ => return Err(unknown_method(path)),
        })
    }

    async fn unary(&self, m: Unary, call: Call) -> Reply {
        let now = SystemTime::now();
        let engine = &self.hub.engine;
        let msg = &call.message;
        let pending = match m {
            Unary::Get => {
                let req: GetJobRequest = decode(msg)?;
                let r = engine.borrow().get(req);
                return r.map(|r| r.encode_to_vec().into());
            }
            Unary::List => {
                let req: ListJobsRequest = decode(msg)?;
                let r = engine.borrow().list(req);
                return r.map(|r| r.encode_to_vec().into());
            }
            Unary::Schedule => {
                let req: ScheduleJobRequest = decode(msg)?;
                let (name, overwrite) = (req.name.clone(), req.overwrite);
                let r = engine.borrow_mut().schedule(req, now);
                r.inspect_err(|s| {
                    tracing::error!(
                        target: "daprd::scheduler::server",
                        overwrite,
                        "error scheduling job {name}: {}",
                        s.message
                    );
                })?
            }
            Unary::Delete => {
                let req: DeleteJobRequest = decode(msg)?;
                let r = engine.borrow_mut().delete(req);
                r?
            }
            Unary::DeleteByMetadata => {
                let req: DeleteByMetadataRequest = decode(msg)?;
                let r = engine.borrow_mut().delete_by_metadata(req);
                r?
            }
            Unary::DeleteByNamePrefix => {
                let req: DeleteByNamePrefixRequest = decode(msg)?;
                let r = engine.borrow_mut().delete_by_name_prefix(req);
                r?
            }
        };
        pending
            .wait()
            .await
            .map_err(|e| Status::new(GrpcCode::Unknown, format!("job store: {e}")))?;
        let reply = match m {
            Unary::Schedule => ScheduleJobResponse {}.encode_to_vec(),
            Unary::Delete => DeleteJobResponse {}.encode_to_vec(),
            Unary::DeleteByMetadata => DeleteByMetadataResponse {}.encode_to_vec(),
            _ => DeleteByNamePrefixResponse {}.encode_to_vec(),
        };
        Ok(reply.into())
    }

    async fn streaming(
        &self,
        m: Streaming,
        _metadata: &HeaderMap,
        incoming: &mut Incoming,
        outgoing: &mut Outgoing,
    ) -> Result<(), Status> {
        match m {
            Streaming::Jobs => watch_jobs(&self.hub, incoming, outgoing).await,
            Streaming::Hosts => watch_hosts(&self.hub, incoming, outgoing).await,
        }
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

/// A request message, as grpc-go's generated handlers decode it.
fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, Status> {
    M::decode(bytes).map_err(|e| {
        Status::new(
            GrpcCode::Internal,
            format!("grpc: error unmarshalling request: {e}"),
        )
    })
}

/// The next message of a stream, as grpc-go's `RecvMsg` decodes it;
/// `Ok(None)` once the client half-closed.
async fn recv<M: Message + Default>(incoming: &mut Incoming) -> Result<Option<M>, Status> {
    match incoming.message().await? {
        Some(bytes) => M::decode(bytes).map(Some).map_err(|e| {
            Status::new(
                GrpcCode::Internal,
                format!("grpc: failed to unmarshal the received message: {e}"),
            )
        }),
        None => Ok(None),
    }
}

fn canceled() -> Status {
    Status::new(GrpcCode::Cancelled, "context canceled")
}

fn closing() -> Status {
    Status::new(GrpcCode::Unknown, "server is closing")
}

// === WatchHosts ===

/// The host list at once, then open until the client leaves (one replica:
/// the list never changes).
async fn watch_hosts(
    hub: &Rc<Hub>,
    incoming: &mut Incoming,
    outgoing: &mut Outgoing,
) -> Result<(), Status> {
    // One message, as grpc-go's server-streaming handler reads it (without
    // waiting for the half-close).
    let bytes = incoming
        .message()
        .await?
        .ok_or_else(|| Status::new(GrpcCode::Unknown, "EOF"))?;
    let _: WatchHostsRequest = decode(&bytes)?;
    let hosts = WatchHostsResponse {
        hosts: hub.hosts.clone(),
    };
    outgoing.send_message(&hosts).await?;
    monoio::select! {
        _ = outgoing.closed() => Err(canceled()),
        _ = hub.stop.closing() => Err(Status::new(GrpcCode::Unknown, "cron closed")),
    }
}

// === WatchJobs ===

/// One sidecar's stream: its initial message, then deliveries down and
/// results up until either side ends it.
async fn watch_jobs(
    hub: &Rc<Hub>,
    incoming: &mut Incoming,
    outgoing: &mut Outgoing,
) -> Result<(), Status> {
    let first = recv::<WatchJobsRequest>(incoming)
        .await?
        .ok_or_else(|| Status::new(GrpcCode::Unknown, "EOF"))?;
    let Some(watch_jobs_request::WatchJobRequestType::Initial(initial)) =
        first.watch_job_request_type
    else {
        return Err(Status::new(
            GrpcCode::Unknown,
            "initial request is required on stream connection",
        ));
    };
    hub.engine.borrow().check_initial(&initial)?;
    if hub.stop.is_closing() {
        return Err(closing());
    }
    let Connected { id, mut deliveries } = hub.engine.borrow_mut().connect(&initial);
    // Whatever ends this call (its future dropped included), the stream
    // leaves the engine.
    let _leave = Leave { hub, id };
    let status = monoio::select! {
        s = deliver(hub, &mut deliveries, outgoing) => s,
        s = read_results(hub, id, incoming) => s,
        _ = hub.stop.closing() => closing(),
    };
    Err(status)
}

struct Leave<'a> {
    hub: &'a Rc<Hub>,
    id: StreamId,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if let Ok(mut e) = self.hub.engine.try_borrow_mut() {
            e.disconnect(self.id);
        }
    }
}

/// Sends the engine's deliveries down the stream.
async fn deliver(
    hub: &Rc<Hub>,
    deliveries: &mut unbounded::Rx<Bytes>,
    outgoing: &mut Outgoing,
) -> Status {
    while let Some(msg) = deliveries.recv().await {
        if outgoing.send(&msg).await.is_err() {
            hub.metrics.sidecar_error(SidecarError::Send);
            return canceled();
        }
    }
    closing()
}

/// Hands the stream's results to the engine; the stream ends on the
/// client's half-close, a broken read, or a message that is not the result
/// of something in flight.
async fn read_results(hub: &Rc<Hub>, id: StreamId, incoming: &mut Incoming) -> Status {
    loop {
        let req = match recv::<WatchJobsRequest>(incoming).await {
            Ok(Some(r)) => r,
            Ok(None) => return canceled(),
            Err(s) => {
                if s.code != GrpcCode::Cancelled {
                    hub.metrics.sidecar_error(SidecarError::Recv);
                    tracing::warn!(
                        target: "daprd::scheduler::stream",
                        "Error receiving from stream: {}",
                        s.message
                    );
                }
                return canceled();
            }
        };
        let Some(watch_jobs_request::WatchJobRequestType::Result(result)) =
            req.watch_job_request_type
        else {
            tracing::warn!(
                target: "daprd::scheduler::stream",
                "Error receiving from stream: received nil result from stream"
            );
            return canceled();
        };
        let failed = match result.status {
            0 => false,
            1 => true,
            other => {
                tracing::warn!(
                    target: "daprd::scheduler::stream",
                    "Error receiving from stream: unknown trigger response status: {other}"
                );
                return canceled();
            }
        };
        let outcome = hub.engine.borrow_mut().result(id, result.id, failed);
        match outcome {
            Err(_) => {
                tracing::warn!(
                    target: "daprd::scheduler::stream",
                    "Error receiving from stream: received unknown trigger response from stream"
                );
                return canceled();
            }
            Ok(None) => {}
            Ok(Some(requeue)) => {
                let hub = hub.clone();
                monoio::spawn(async move {
                    if let Err(e) = requeue.pending.wait().await {
                        tracing::error!(
                            target: "daprd::scheduler",
                            "could not store the counter of job {}: {e}",
                            requeue.key
                        );
                    }
                    hub.engine
                        .borrow_mut()
                        .committed(&requeue.key, requeue.generation);
                });
            }
        }
    }
}

// === connections ===

/// Serves one h2c connection of the scheduler service.
pub async fn serve_connection(
    io: TcpStream,
    peer: SocketAddr,
    grpc: Rc<SchedulerGrpc>,
    drain: Drain,
) {
    let settings = ConnSettings {
        keepalive: Keepalive {
            every: KEEPALIVE_EVERY,
            timeout: KEEPALIVE_TIMEOUT,
        },
        // Results are small DATA frames; a sidecar answering a burst of
        // deliveries faster than this thread reads them must not look like
        // a flood of tiny frames (h2's default allows ~130 unread).
        data_frame_budget: Some(DATA_FRAME_BUDGET),
        max_message: MAX_MESSAGE,
    };
    if server::serve_h2c(io, peer, grpc, settings, drain).await == ConnEnd::KeepaliveMissed {
        tracing::info!(
            target: "daprd::scheduler::server",
            "Closing connection to {peer}: keepalive ping not acknowledged"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_as_grpc_go_names_them() {
        let s = unknown_method("/dapr.proto.scheduler.v1.Scheduler/Nope");
        assert_eq!(s.code, GrpcCode::Unimplemented);
        assert_eq!(
            s.message,
            "unknown method Nope for service dapr.proto.scheduler.v1.Scheduler"
        );
        assert_eq!(unknown_method("/x.Y/Z").message, "unknown service x.Y");
        assert_eq!(
            method("/dapr.proto.scheduler.v1.Scheduler/GetJob"),
            Some("GetJob")
        );
        assert_eq!(method("/dapr.proto.scheduler.v1.SchedulerX/GetJob"), None);
    }
}
