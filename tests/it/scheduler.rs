//! Black-box: the real `scheduler` binary, driven by clients that speak the
//! sidecars' protocol (`dapr.proto.scheduler.v1.Scheduler` over h2c, prost
//! messages), as Go 1.17+ daprds do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use daprd::proto::dapr::proto::common::v1::{
    job_failure_policy, JobFailurePolicy, JobFailurePolicyConstant, JobFailurePolicyDrop,
};
use daprd::proto::dapr::proto::scheduler::v1::{
    job_target_metadata, watch_jobs_request, DeleteByMetadataRequest, DeleteByNamePrefixRequest,
    DeleteJobRequest, GetJobRequest, GetJobResponse, Job, JobMetadata, JobTargetMetadata,
    JobTargetType, ListJobsRequest, ListJobsResponse, ScheduleJobRequest, TargetActorReminder,
    TargetJob, WatchHostsRequest, WatchHostsResponse, WatchJobsRequest, WatchJobsRequestInitial,
    WatchJobsRequestResult, WatchJobsResponse,
};
use prost::Message;

use crate::grpc::rt;
use crate::harness::*;

/// The longest a test waits for any one thing (the machine may be busy).
const PATIENCE: Duration = Duration::from_secs(30);

const SERVICE: &str = "dapr.proto.scheduler.v1.Scheduler";

// === the service ===

/// A data directory, removed on drop.
struct DataDir(PathBuf);

impl DataDir {
    fn new() -> DataDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "daprd-scheduler-it-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        DataDir(p)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `scheduler` child process on loopback, killed on drop.
struct Scheduler {
    child: Child,
    grpc: SocketAddr,
    healthz: SocketAddr,
    metrics: SocketAddr,
}

impl Scheduler {
    /// Starts the binary on free loopback ports over `dir`, with `extra`
    /// flags, and waits until `/healthz` answers 200.
    fn start(dir: &DataDir, extra: &[&str]) -> Scheduler {
        Self::start_on(free_port(), dir, extra)
    }

    fn start_on(grpc: u16, dir: &DataDir, extra: &[&str]) -> Scheduler {
        let (healthz, metrics) = (free_port(), free_port());
        let child = Command::new(scheduler_bin())
            .args(["--listen-address", "127.0.0.1", "--port", &grpc.to_string()])
            .args(["--healthz-listen-address", "127.0.0.1"])
            .args(["--healthz-port", &healthz.to_string()])
            .args(["--metrics-port", &metrics.to_string()])
            .arg(format!("--etcd-data-dir={}", dir.0.display()))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn scheduler");
        let s = Scheduler {
            child,
            grpc: SocketAddr::from(([127, 0, 0, 1], grpc)),
            healthz: SocketAddr::from(([127, 0, 0, 1], healthz)),
            metrics: SocketAddr::from(([127, 0, 0, 1], metrics)),
        };
        wait_status(s.healthz, "/healthz", 200);
        s
    }

    fn metrics(&self) -> String {
        get(self.metrics, "/metrics").text()
    }

    /// `kill -9`, and wait for it.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// === a client ===

fn frame(msg: &impl Message) -> Bytes {
    let body = msg.encode_to_vec();
    let mut b = BytesMut::with_capacity(5 + body.len());
    b.put_u8(0);
    b.put_u32(body.len() as u32);
    b.extend_from_slice(&body);
    b.freeze()
}

/// grpc-status and grpc-message (decoded).
fn status_of(h: &http::HeaderMap) -> Option<(u32, String)> {
    let code = h.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    let msg = h
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let msg = percent_encoding::percent_decode_str(msg)
        .decode_utf8_lossy()
        .into_owned();
    Some((code, msg))
}

async fn connect(addr: SocketAddr) -> h2::client::SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Many small replies may wait unread here (the burst test).
    let (client, conn) = h2::client::Builder::new()
        .data_frame_budget(64 << 20)
        .handshake(tcp)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.ready().await.unwrap()
}

fn request(addr: SocketAddr, method: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/{SERVICE}/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

/// One unary call: the reply, or (grpc-status, grpc-message).
async fn call<Req: Message, Resp: Message + Default>(
    addr: SocketAddr,
    method: &str,
    req: &Req,
) -> Result<Resp, (u32, String)> {
    let mut client = connect(addr).await;
    let (resp, mut send) = client.send_request(request(addr, method), false).unwrap();
    send.send_data(frame(req), true).unwrap();
    let resp = tokio::time::timeout(PATIENCE, resp).await.unwrap().unwrap();
    if let Some((code, msg)) = status_of(resp.headers()) {
        return Err((code, msg)); // trailers-only
    }
    let mut body = resp.into_body();
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.unwrap().unwrap();
    match status_of(&trailers) {
        Some((0, _)) => {
            assert!(buf.len() >= 5, "no message in an OK reply");
            buf.advance(5);
            Ok(Resp::decode(buf).unwrap())
        }
        Some(other) => Err(other),
        None => panic!("no grpc-status"),
    }
}

/// What a stream delivered next.
#[derive(Debug)]
enum Got {
    Job(WatchJobsResponse),
    /// The call ended with this grpc-status and message.
    End(u32, String),
    /// Nothing within the wait.
    Nothing,
}

enum Resp {
    Waiting(h2::client::ResponseFuture),
    Body(h2::RecvStream),
    Done,
}

/// A server-streaming or bidi call's response side.
struct Stream {
    send: h2::SendStream<Bytes>,
    resp: Resp,
    buf: BytesMut,
    _client: h2::client::SendRequest<Bytes>,
}

impl Stream {
    async fn open(addr: SocketAddr, method: &str, first: &impl Message) -> Stream {
        let mut client = connect(addr).await;
        let (resp, mut send) = client.send_request(request(addr, method), false).unwrap();
        send.send_data(frame(first), false).unwrap();
        Stream {
            send,
            resp: Resp::Waiting(resp),
            buf: BytesMut::new(),
            _client: client,
        }
    }

    /// A sidecar's `WatchJobs` stream.
    async fn watch(addr: SocketAddr, initial: WatchJobsRequestInitial) -> Stream {
        let first = WatchJobsRequest {
            watch_job_request_type: Some(watch_jobs_request::WatchJobRequestType::Initial(initial)),
        };
        Stream::open(addr, "WatchJobs", &first).await
    }

    fn ack(&mut self, id: u64, failed: bool) {
        let r = WatchJobsRequest {
            watch_job_request_type: Some(watch_jobs_request::WatchJobRequestType::Result(
                WatchJobsRequestResult {
                    id,
                    status: i32::from(failed),
                },
            )),
        };
        self.send.send_data(frame(&r), false).unwrap();
    }

    fn half_close(&mut self) {
        let _ = self.send.send_data(Bytes::new(), true);
    }

    /// The next message as `M`, the call's end, or nothing within `wait`.
    async fn next_msg<M: Message + Default>(&mut self, wait: Duration) -> Result<M, Got> {
        match tokio::time::timeout(wait, self.next_inner()).await {
            Ok(Ok(bytes)) => Ok(M::decode(bytes).unwrap()),
            Ok(Err(got)) => Err(got),
            Err(_) => Err(Got::Nothing),
        }
    }

    async fn next(&mut self, wait: Duration) -> Got {
        match self.next_msg::<WatchJobsResponse>(wait).await {
            Ok(j) => Got::Job(j),
            Err(g) => g,
        }
    }

    /// The next delivery, within [`PATIENCE`].
    async fn job(&mut self) -> WatchJobsResponse {
        match self.next(PATIENCE).await {
            Got::Job(j) => j,
            other => panic!("wanted a job, got {other:?}"),
        }
    }

    /// The call's end, within [`PATIENCE`].
    async fn end(&mut self) -> (u32, String) {
        match self.next(PATIENCE).await {
            Got::End(code, msg) => (code, msg),
            other => panic!("wanted the end of the call, got {other:?}"),
        }
    }

    async fn next_inner(&mut self) -> Result<Bytes, Got> {
        loop {
            if self.buf.len() >= 5 {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
                let len = len as usize;
                if self.buf.len() >= 5 + len {
                    self.buf.advance(5);
                    return Ok(self.buf.split_to(len).freeze());
                }
            }
            // Cancel-safe (a timed-out wait loses nothing): the response
            // is polled in place.
            match &mut self.resp {
                Resp::Waiting(fut) => {
                    let resp = match fut.await {
                        Ok(r) => r,
                        Err(e) => {
                            self.resp = Resp::Done;
                            return Err(Got::End(u32::MAX, e.to_string()));
                        }
                    };
                    if let Some((code, msg)) = status_of(resp.headers()) {
                        self.resp = Resp::Done;
                        return Err(Got::End(code, msg));
                    }
                    self.resp = Resp::Body(resp.into_body());
                }
                Resp::Body(body) => match body.data().await {
                    Some(Ok(chunk)) => {
                        let _ = body.flow_control().release_capacity(chunk.len());
                        self.buf.extend_from_slice(&chunk);
                    }
                    Some(Err(e)) => {
                        self.resp = Resp::Done;
                        return Err(Got::End(u32::MAX, e.to_string()));
                    }
                    None => {
                        let t = body.trailers().await;
                        self.resp = Resp::Done;
                        let end = t.ok().flatten().and_then(|t| status_of(&t));
                        return Err(end
                            .map_or(Got::End(u32::MAX, "no status".into()), |(c, m)| {
                                Got::End(c, m)
                            }));
                    }
                },
                Resp::Done => return Err(Got::End(u32::MAX, "ended".into())),
            }
        }
    }
}

// === requests ===

fn app_meta(app: &str) -> JobMetadata {
    JobMetadata {
        app_id: app.into(),
        namespace: "default".into(),
        target: Some(JobTargetMetadata {
            r#type: Some(job_target_metadata::Type::Job(TargetJob {})),
        }),
        concurrency_key: None,
    }
}

fn actor_meta(app: &str, typ: &str, id: &str) -> JobMetadata {
    JobMetadata {
        app_id: app.into(),
        namespace: "default".into(),
        target: Some(JobTargetMetadata {
            r#type: Some(job_target_metadata::Type::Actor(TargetActorReminder {
                id: id.into(),
                r#type: typ.into(),
            })),
        }),
        concurrency_key: None,
    }
}

fn data(v: &str) -> prost_types::Any {
    prost_types::Any {
        type_url: "type.googleapis.com/google.protobuf.StringValue".into(),
        value: v.as_bytes().to_vec(),
    }
}

fn every(schedule: &str) -> Job {
    Job {
        schedule: Some(schedule.into()),
        ..Job::default()
    }
}

fn due(due_time: &str) -> Job {
    Job {
        due_time: Some(due_time.into()),
        ..Job::default()
    }
}

async fn schedule(
    addr: SocketAddr,
    name: &str,
    job: Job,
    meta: JobMetadata,
    overwrite: bool,
) -> Result<(), (u32, String)> {
    let req = ScheduleJobRequest {
        name: name.into(),
        job: Some(job),
        metadata: Some(meta),
        overwrite,
    };
    call::<_, ()>(addr, "ScheduleJob", &req).await
}

async fn get_job(addr: SocketAddr, name: &str, meta: JobMetadata) -> Result<Job, (u32, String)> {
    let req = GetJobRequest {
        name: name.into(),
        metadata: Some(meta),
    };
    call::<_, GetJobResponse>(addr, "GetJob", &req)
        .await
        .map(|r| r.job.unwrap())
}

async fn list(addr: SocketAddr, meta: JobMetadata) -> Vec<String> {
    let req = ListJobsRequest {
        metadata: Some(meta),
    };
    let r: ListJobsResponse = call(addr, "ListJobs", &req).await.unwrap();
    r.jobs.into_iter().map(|j| j.name).collect()
}

/// Polls until `name` is gone.
async fn wait_deleted(addr: SocketAddr, name: &str, meta: JobMetadata) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match get_job(addr, name, meta.clone()).await {
            Err((5, _)) => return,
            other => assert!(Instant::now() < deadline, "{name} still there: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn app_stream(app: &str) -> WatchJobsRequestInitial {
    WatchJobsRequestInitial {
        app_id: app.into(),
        namespace: "default".into(),
        accept_job_types: vec![JobTargetType::Job as i32],
        ..WatchJobsRequestInitial::default()
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

// === tests ===

#[test]
fn every_second_delivers_the_data_one_period_after_scheduling() {
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let mut w = Stream::watch(s.grpc, app_stream("app1")).await;
        let mut job = every("@every 1s");
        job.data = Some(data("hello"));
        let t0 = Instant::now();
        schedule(s.grpc, "tick", job, app_meta("app1"), false)
            .await
            .unwrap();
        let first = w.job().await;
        let at = t0.elapsed();
        assert!(
            at >= Duration::from_millis(900),
            "fired after {:.3}s, not 1s",
            secs(at)
        );
        assert_eq!(first.name, "tick");
        assert_eq!(first.id, 1);
        assert_eq!(first.data, Some(data("hello")));
        assert_eq!(first.metadata, Some(app_meta("app1")));
        w.ack(first.id, false);
        let second = w.job().await;
        let at2 = t0.elapsed();
        assert_eq!(second.id, 2);
        assert!(
            at2 >= Duration::from_millis(1900),
            "second fire after {:.3}s, not 2s",
            secs(at2)
        );
        w.ack(second.id, false);
        // Still there: it repeats forever.
        assert!(get_job(s.grpc, "tick", app_meta("app1")).await.is_ok());
    });
    let text = s.metrics();
    assert!(
        text.contains("dapr_scheduler_jobs_created_total{type=\"job\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("dapr_scheduler_sidecars_connected"), "{text}");
}

#[test]
fn a_due_time_job_fires_once_and_is_deleted() {
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let mut w = Stream::watch(s.grpc, app_stream("app1")).await;
        let t0 = Instant::now();
        let mut job = due("1500ms");
        job.data = Some(data("once"));
        schedule(s.grpc, "once", job, app_meta("app1"), false)
            .await
            .unwrap();
        let j = w.job().await;
        let at = t0.elapsed();
        assert!(
            at >= Duration::from_millis(1400),
            "fired after {:.3}s",
            secs(at)
        );
        assert_eq!(j.data, Some(data("once")));
        w.ack(j.id, false);
        wait_deleted(s.grpc, "once", app_meta("app1")).await;
        assert!(matches!(
            w.next(Duration::from_millis(1500)).await,
            Got::Nothing
        ));
    });
}

#[test]
fn repeats_end_the_job() {
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let mut w = Stream::watch(s.grpc, app_stream("app1")).await;
        let mut job = every("@every 500ms");
        job.repeats = Some(2);
        job.due_time = Some("0s".into());
        let t0 = Instant::now();
        schedule(s.grpc, "twice", job, app_meta("app1"), false)
            .await
            .unwrap();
        // With a due time the first fire is at once, then one period later.
        let a = w.job().await;
        w.ack(a.id, false);
        let b = w.job().await;
        let at = t0.elapsed();
        assert!(
            at >= Duration::from_millis(450),
            "second fire after {:.3}s",
            secs(at)
        );
        w.ack(b.id, false);
        wait_deleted(s.grpc, "twice", app_meta("app1")).await;
        assert!(matches!(
            w.next(Duration::from_millis(1200)).await,
            Got::Nothing
        ));
    });
}

#[test]
fn get_list_delete_and_overwrite() {
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let a = s.grpc;
        for name in ["b-job", "a-job", "a-other"] {
            schedule(a, name, every("0 0 0 1 1 *"), app_meta("app1"), false)
                .await
                .unwrap();
        }
        schedule(a, "x", every("@daily"), app_meta("app2"), false)
            .await
            .unwrap();
        // Go's stored job: the default failure policy filled in.
        let j = get_job(a, "a-job", app_meta("app1")).await.unwrap();
        assert_eq!(j.schedule.as_deref(), Some("0 0 0 1 1 *"));
        let Some(job_failure_policy::Policy::Constant(c)) = j.failure_policy.and_then(|p| p.policy)
        else {
            panic!("no constant policy");
        };
        assert_eq!(c.max_retries, Some(3));
        assert_eq!(c.interval.map(|d| d.seconds), Some(1));
        // Listed in key order, the owner's only.
        assert_eq!(
            list(a, app_meta("app1")).await,
            ["a-job", "a-other", "b-job"]
        );
        assert_eq!(list(a, app_meta("app2")).await, ["x"]);
        // overwrite=false on an existing job.
        let err = schedule(a, "a-job", every("@hourly"), app_meta("app1"), false)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            (
                6,
                "job already exists: 'app||default||app1||a-job'".to_owned()
            )
        );
        schedule(a, "a-job", every("@hourly"), app_meta("app1"), true)
            .await
            .unwrap();
        let j = get_job(a, "a-job", app_meta("app1")).await.unwrap();
        assert_eq!(j.schedule.as_deref(), Some("@hourly"));
        // DeleteJob; deleting again is fine.
        for _ in 0..2 {
            call::<_, ()>(
                a,
                "DeleteJob",
                &DeleteJobRequest {
                    name: "a-job".into(),
                    metadata: Some(app_meta("app1")),
                },
            )
            .await
            .unwrap();
        }
        assert_eq!(
            get_job(a, "a-job", app_meta("app1")).await.unwrap_err(),
            (5, "job not found: a-job".to_owned())
        );
        // By name prefix.
        call::<_, ()>(
            a,
            "DeleteByNamePrefix",
            &DeleteByNamePrefixRequest {
                name_prefix: "a-".into(),
                metadata: Some(app_meta("app1")),
            },
        )
        .await
        .unwrap();
        assert_eq!(list(a, app_meta("app1")).await, ["b-job"]);

        // Actor reminders: listed per type (names without the actor id),
        // deleted by id prefix.
        for (id, name) in [("a1", "r1"), ("a10", "r2"), ("b1", "r3")] {
            schedule(
                a,
                name,
                every("@daily"),
                actor_meta("app1", "Counter", id),
                false,
            )
            .await
            .unwrap();
        }
        // Key order, as etcd's: `a10||r2` sorts before `a1||r1`.
        assert_eq!(
            list(a, actor_meta("app1", "Counter", "")).await,
            ["r2", "r1", "r3"]
        );
        assert_eq!(
            list(a, actor_meta("other-app", "Counter", "a10")).await,
            ["r2"]
        );
        call::<_, ()>(
            a,
            "DeleteByMetadata",
            &DeleteByMetadataRequest {
                metadata: Some(actor_meta("app1", "Counter", "a1")),
                id_prefix_match: Some(true),
            },
        )
        .await
        .unwrap();
        assert_eq!(list(a, actor_meta("app1", "Counter", "")).await, ["r3"]);
        call::<_, ()>(
            a,
            "DeleteByMetadata",
            &DeleteByMetadataRequest {
                metadata: Some(app_meta("app2")),
                id_prefix_match: None,
            },
        )
        .await
        .unwrap();
        assert!(list(a, app_meta("app2")).await.is_empty());
    });
    let text = s.metrics();
    assert!(
        text.contains("dapr_scheduler_jobs_bulk_deleted_total 3\n"),
        "{text}"
    );
    assert!(
        text.contains("dapr_scheduler_jobs_created_failed_total{type=\"job\"} 1\n"),
        "{text}"
    );
}

#[test]
fn undeliverable_jobs_wait_for_a_stream() {
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let mut job = due("0s");
        job.data = Some(data("late"));
        schedule(s.grpc, "early", job, app_meta("app1"), false)
            .await
            .unwrap();
        // A stream of another app takes nothing of it.
        let mut other = Stream::watch(s.grpc, app_stream("app2")).await;
        let deadline = Instant::now() + PATIENCE;
        while !s
            .metrics()
            .contains("dapr_scheduler_jobs_undelivered_total{type=\"job\"} 1\n")
        {
            assert!(Instant::now() < deadline, "never undelivered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(matches!(
            other.next(Duration::from_millis(300)).await,
            Got::Nothing
        ));
        // Still stored, not counted.
        assert!(get_job(s.grpc, "early", app_meta("app1")).await.is_ok());
        let t = Instant::now();
        let mut w = Stream::watch(s.grpc, app_stream("app1")).await;
        let j = w.job().await;
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(j.name, "early");
        assert_eq!(j.data, Some(data("late")));
        w.ack(j.id, false);
        wait_deleted(s.grpc, "early", app_meta("app1")).await;
    });
}

#[test]
fn a_closed_stream_s_delivery_goes_to_the_next_stream() {
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let mut first = Stream::watch(s.grpc, app_stream("app1")).await;
        schedule(s.grpc, "j", due("0s"), app_meta("app1"), false)
            .await
            .unwrap();
        let j = first.job().await;
        // It leaves without answering: the delivery is undeliverable, and
        // the job waits for the next stream.
        first.half_close();
        assert_eq!(first.end().await, (1, "context canceled".to_owned()));
        let mut second = Stream::watch(s.grpc, app_stream("app1")).await;
        let again = second.job().await;
        assert_eq!(again.name, j.name);
        assert_eq!(again.id, 1, "ids count per stream");
        second.ack(again.id, false);
        wait_deleted(s.grpc, "j", app_meta("app1")).await;
    });
}

#[test]
fn jobs_round_robin_over_streams_and_reminders_go_by_actor_type() {
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let mut a = Stream::watch(s.grpc, app_stream("app1")).await;
        let mut b = Stream::watch(s.grpc, app_stream("app1")).await;
        // Another app hosting the actor type: reminders are not app-scoped.
        let mut host = Stream::watch(
            s.grpc,
            WatchJobsRequestInitial {
                app_id: "actors-app".into(),
                namespace: "default".into(),
                actor_types: vec!["Counter".into()],
                accept_job_types: vec![JobTargetType::ActorReminder as i32],
                ..WatchJobsRequestInitial::default()
            },
        )
        .await;
        for n in ["j1", "j2"] {
            schedule(s.grpc, n, due("0s"), app_meta("app1"), false)
                .await
                .unwrap();
        }
        let ja = a.job().await;
        let jb = b.job().await;
        let mut names = [ja.name.clone(), jb.name.clone()];
        names.sort();
        assert_eq!(names, ["j1", "j2"], "one each");
        a.ack(ja.id, false);
        b.ack(jb.id, false);
        schedule(
            s.grpc,
            "remind",
            due("0s"),
            actor_meta("app1", "Counter", "c1"),
            false,
        )
        .await
        .unwrap();
        let r = host.job().await;
        assert_eq!(r.name, "remind");
        assert_eq!(r.metadata, Some(actor_meta("app1", "Counter", "c1")));
        host.ack(r.id, false);
        wait_deleted(s.grpc, "remind", actor_meta("app1", "Counter", "c1")).await;
    });
}

#[test]
fn a_burst_of_results_keeps_the_connection() {
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        const N: u64 = 400;
        let mut w = Stream::watch(s.grpc, app_stream("app1")).await;
        let at = std::time::SystemTime::now() + Duration::from_secs(4);
        let at = daprd::config::time::format_rfc3339_nano(at);
        let mut c = connect(s.grpc).await;
        let mut replies = Vec::new();
        for i in 0..N {
            let req = ScheduleJobRequest {
                name: format!("burst-{i}"),
                job: Some(due(&at)),
                metadata: Some(app_meta("app1")),
                overwrite: false,
            };
            c = c.ready().await.unwrap();
            let (resp, mut send) = c
                .send_request(request(s.grpc, "ScheduleJob"), false)
                .unwrap();
            send.send_data(frame(&req), true).unwrap();
            replies.push(resp);
        }
        for r in replies {
            let r = tokio::time::timeout(PATIENCE, r).await.unwrap().unwrap();
            let mut body = r.into_body();
            while let Some(d) = body.data().await {
                let _ = body.flow_control().release_capacity(d.unwrap().len());
            }
            let t = body.trailers().await.unwrap().unwrap();
            assert_eq!(status_of(&t).unwrap().0, 0);
        }
        assert_eq!(list(s.grpc, app_meta("app1")).await.len(), N as usize);
        // Every delivery first, then every result in one burst of small
        // DATA frames.
        let mut ids = Vec::new();
        for _ in 0..N {
            ids.push(w.job().await.id);
        }
        for id in ids {
            w.ack(id, false);
        }
        let deadline = Instant::now() + PATIENCE;
        while !list(s.grpc, app_meta("app1")).await.is_empty() {
            assert!(Instant::now() < deadline, "not every result was taken");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The same stream still delivers.
        schedule(s.grpc, "after", due("0s"), app_meta("app1"), false)
            .await
            .unwrap();
        assert_eq!(w.job().await.name, "after");
    });
}

#[test]
fn failed_results_are_retried_per_the_default_policy() {
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let mut w = Stream::watch(s.grpc, app_stream("app1")).await;
        schedule(s.grpc, "flaky", due("0s"), app_meta("app1"), false)
            .await
            .unwrap();
        // One attempt and three retries, a second apart.
        let mut times = Vec::new();
        for _ in 0..4 {
            let j = w.job().await;
            times.push(Instant::now());
            assert_eq!(j.name, "flaky");
            w.ack(j.id, true);
        }
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= Duration::from_millis(900),
                "retried after {:.3}s",
                secs(gap)
            );
        }
        // The tick is given up: a one-shot is then done.
        wait_deleted(s.grpc, "flaky", app_meta("app1")).await;
        assert!(matches!(
            w.next(Duration::from_millis(1500)).await,
            Got::Nothing
        ));

        // Drop: no retry.
        let mut job = due("0s");
        job.failure_policy = Some(JobFailurePolicy {
            policy: Some(job_failure_policy::Policy::Drop(JobFailurePolicyDrop {})),
        });
        schedule(s.grpc, "dropped", job, app_meta("app1"), false)
            .await
            .unwrap();
        let j = w.job().await;
        w.ack(j.id, true);
        wait_deleted(s.grpc, "dropped", app_meta("app1")).await;

        // Constant without max_retries: until it succeeds.
        let mut job = due("0s");
        job.failure_policy = Some(JobFailurePolicy {
            policy: Some(job_failure_policy::Policy::Constant(
                JobFailurePolicyConstant {
                    interval: Some(prost_types::Duration {
                        seconds: 0,
                        nanos: 100_000_000,
                    }),
                    max_retries: None,
                },
            )),
        });
        schedule(s.grpc, "stubborn", job, app_meta("app1"), false)
            .await
            .unwrap();
        for _ in 0..6 {
            let j = w.job().await;
            w.ack(j.id, true);
        }
        let j = w.job().await;
        w.ack(j.id, false);
        wait_deleted(s.grpc, "stubborn", app_meta("app1")).await;
    });
    let text = s.metrics();
    assert!(
        text.contains("dapr_scheduler_jobs_failed_total{type=\"job\"} 11\n"),
        "{text}"
    );
    assert!(
        text.contains("dapr_scheduler_jobs_triggered_total{type=\"job\"} 1\n"),
        "{text}"
    );
}

#[test]
fn jobs_survive_a_kill_9_and_acknowledged_ones_do_not_fire_again() {
    let dir = DataDir::new();
    let port = free_port();
    let s = Scheduler::start_on(port, &dir, &[]);
    rt().block_on(async {
        let mut w = Stream::watch(s.grpc, app_stream("app1")).await;
        schedule(s.grpc, "done", due("0s"), app_meta("app1"), false)
            .await
            .unwrap();
        let j = w.job().await;
        w.ack(j.id, false);
        wait_deleted(s.grpc, "done", app_meta("app1")).await;
        let mut job = every("@every 1s");
        job.data = Some(data("durable"));
        schedule(s.grpc, "keeps", job, app_meta("app1"), false)
            .await
            .unwrap();
        schedule(s.grpc, "later", due("1h"), app_meta("app1"), false)
            .await
            .unwrap();
    });
    s.kill();
    let s = Scheduler::start_on(port, &dir, &[]);
    rt().block_on(async {
        assert_eq!(list(s.grpc, app_meta("app1")).await, ["keeps", "later"]);
        let later = get_job(s.grpc, "later", app_meta("app1")).await.unwrap();
        assert_eq!(later.due_time.as_deref(), Some("1h"));
        let mut w = Stream::watch(s.grpc, app_stream("app1")).await;
        let j = w.job().await;
        assert_eq!(
            j.name, "keeps",
            "the acknowledged one-shot does not come back"
        );
        assert_eq!(j.data, Some(data("durable")));
        w.ack(j.id, false);
    });
}

#[test]
fn watch_hosts_answers_at_once_and_stays_open() {
    let dir = DataDir::new();
    let s = Scheduler::start(
        &dir,
        &["--override-broadcast-host-port", "sched.example:50006"],
    );
    rt().block_on(async {
        let mut h = Stream::open(s.grpc, "WatchHosts", &WatchHostsRequest {}).await;
        let hosts: WatchHostsResponse = h.next_msg(PATIENCE).await.unwrap();
        let addrs: Vec<&str> = hosts.hosts.iter().map(|h| h.address.as_str()).collect();
        assert_eq!(addrs, ["sched.example:50006"]);
        assert!(matches!(
            h.next_msg::<WatchHostsResponse>(Duration::from_millis(500))
                .await,
            Err(Got::Nothing)
        ));
    });
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let mut h = Stream::open(s.grpc, "WatchHosts", &WatchHostsRequest {}).await;
        let hosts: WatchHostsResponse = h.next_msg(PATIENCE).await.unwrap();
        assert_eq!(hosts.hosts[0].address, s.grpc.to_string());
    });
}

#[test]
fn bad_requests_get_go_s_statuses() {
    let dir = DataDir::new();
    let s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let a = s.grpc;
        let mut anon = app_meta("");
        let err = schedule(a, "j", due("1s"), anon.clone(), false)
            .await
            .unwrap_err();
        assert_eq!(err, (3, "missing namespace or appID in request".to_owned()));
        anon.app_id = "app1".into();
        anon.namespace.clear();
        assert_eq!(get_job(a, "j", anon).await.unwrap_err().0, 3);
        let err = schedule(a, "j", every("* * * * *"), app_meta("app1"), false)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            (
                2,
                "job failed validation: expected exactly 6 fields, found 5: [* * * * *]".to_owned()
            )
        );
        let err = schedule(a, "j", Job::default(), app_meta("app1"), false)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            (
                2,
                "job failed validation: job must have either a due time or a schedule".to_owned()
            )
        );
        let req = ScheduleJobRequest {
            name: "j".into(),
            job: None,
            metadata: Some(app_meta("app1")),
            overwrite: false,
        };
        assert_eq!(
            call::<_, ()>(a, "ScheduleJob", &req).await.unwrap_err(),
            (2, "job cannot be nil".to_owned())
        );
        let err = schedule(a, "a/b", due("1s"), app_meta("app1"), false)
            .await
            .unwrap_err();
        assert_eq!(err.0, 2);
        assert!(err.1.starts_with("job name is invalid"), "{}", err.1);
        let mut untargeted = app_meta("app1");
        untargeted.target = None;
        let err = call::<_, ()>(
            a,
            "DeleteByMetadata",
            &DeleteByMetadataRequest {
                metadata: Some(untargeted),
                id_prefix_match: None,
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            (
                2,
                "failed to parse metadata: unknown job type: <nil>".to_owned()
            )
        );
        // Not a ScheduleJobRequest (a name that is not UTF-8): grpc-go's
        // INTERNAL.
        let garbage: Vec<u8> = vec![0xff];
        let err = call::<_, ()>(a, "ScheduleJob", &garbage).await.unwrap_err();
        assert_eq!(err.0, 13, "{}", err.1);
        assert!(
            err.1.starts_with("grpc: error unmarshalling request"),
            "{}",
            err.1
        );
        let err = call::<_, ()>(a, "Nope", &ListJobsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(
            err,
            (
                12,
                "unknown method Nope for service dapr.proto.scheduler.v1.Scheduler".to_owned()
            )
        );

        // Streams: the first message must be `initial`, with an owner.
        let result_first = WatchJobsRequest {
            watch_job_request_type: Some(watch_jobs_request::WatchJobRequestType::Result(
                WatchJobsRequestResult { id: 1, status: 0 },
            )),
        };
        let mut w = Stream::open(a, "WatchJobs", &result_first).await;
        assert_eq!(
            w.end().await,
            (
                2,
                "initial request is required on stream connection".to_owned()
            )
        );
        let mut w = Stream::watch(a, app_stream("")).await;
        assert_eq!(
            w.end().await,
            (3, "missing namespace or appID in request".to_owned())
        );
        let mut dup = app_stream("app1");
        dup.accept_job_types = vec![0, 0];
        let mut w = Stream::watch(a, dup).await;
        assert_eq!(
            w.end().await,
            (
                2,
                "duplicate target type specified: JOB_TARGET_TYPE_JOB".to_owned()
            )
        );
        // A result for nothing in flight ends the stream.
        let mut w = Stream::watch(a, app_stream("app1")).await;
        w.ack(42, false);
        assert_eq!(w.end().await, (1, "context canceled".to_owned()));
    });
    let text = s.metrics();
    assert!(
        text.contains("dapr_scheduler_sidecar_errors_total{reason=\"auth_failed\"} 3\n"),
        "{text}"
    );
}

#[test]
fn sigterm_ends_the_streams_and_exits_0() {
    let dir = DataDir::new();
    let mut s = Scheduler::start(&dir, &[]);
    rt().block_on(async {
        let mut w = Stream::watch(s.grpc, app_stream("app1")).await;
        schedule(s.grpc, "j", due("1h"), app_meta("app1"), false)
            .await
            .unwrap();
        // The stream is registered once the scheduler has seen it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ok = Command::new("kill")
            .args(["-TERM", &s.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        assert_eq!(w.end().await, (2, "server is closing".to_owned()));
    });
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "scheduler did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn flags_this_build_refuses_exit_1_saying_why() {
    let run = |args: &[&str]| {
        let out = Command::new(scheduler_bin())
            .args(["--port", "0", "--healthz-port", "0", "--metrics-port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        (out.status.code(), text)
    };
    let (code, out) = run(&["--tls-enabled"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("no mTLS"), "{out}");
    let (code, out) = run(&["--mode", "kubernetes"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("standalone only"), "{out}");
    let (code, out) = run(&[
        "--etcd-initial-cluster",
        "dapr-scheduler-server-0=http://localhost:2380,s1=http://localhost:2381",
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("single scheduler replica"), "{out}");
    let (code, out) = run(&["--etcd-embed=false", "--etcd-client-endpoints", "h:2379"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("no etcd client"), "{out}");
    let (code, out) = run(&["--no-such-flag"]);
    assert_eq!(code, Some(2), "{out}");
}
