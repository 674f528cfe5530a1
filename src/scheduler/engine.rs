//! The scheduler's state, on its one thread: every job in memory with its
//! clock, a priority queue of next fires, the sidecars' streams, and what
//! could not be delivered.
//!
//! - **Jobs** live in a map ordered by key (listing and bulk deletion are
//!   prefix ranges); every change is applied here first, in order, and
//!   queued to the [`store`](super::store) writer in the same order, so the
//!   file always follows memory. Callers answer once the write committed.
//! - **The timer queue** is a binary heap of `(next fire, token, key)`;
//!   rescheduling a job gives it a new token and leaves the old entry to be
//!   skipped when it surfaces. The timer task sleeps until the earliest
//!   entry, so idle jobs cost nothing.
//! - **Delivery**, as Go's connection pool: a due job goes to one of the
//!   streams that serve its target (the app id of a job, the actor type of
//!   a reminder; round-robin among them) as `{name, id, data, metadata}`
//!   with a per-stream id, and stays in flight until the stream sends its
//!   result. One tick of a job is in flight at a time.
//! - **Staging**, as go-etcd-cron's: a due job without a stream is
//!   *undeliverable* and parked (its tick not counted) until a stream
//!   registers a deliverable prefix matching its key; then it fires at
//!   once. A stream that closes turns its in-flight deliveries
//!   undeliverable.
//! - A result moves the job's counter on ([`Ticker`]); the counter is
//!   written before the job is queued again (go-etcd-cron's order), and a
//!   job done is deleted.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use local_sync::mpsc::unbounded;
use prost::Message;

use super::job::{self, Counter, KeyError, Stored, Ticker};
use super::metrics::{Kind, Metrics, SidecarError};
use super::store::{Op, Pending, Row, Writer};
use crate::grpc::server::Status;
use crate::grpc::status::GrpcCode;
use crate::proto::dapr::proto::scheduler::v1::{
    job_target_metadata, DeleteByMetadataRequest, DeleteByNamePrefixRequest, DeleteJobRequest,
    GetJobRequest, GetJobResponse, Job, JobMetadata, JobTargetType, ListJobsRequest,
    ListJobsResponse, NamedJob, ScheduleJobRequest, WatchJobsRequestInitial, WatchJobsResponse,
};

/// A `WatchJobs` stream.
pub type StreamId = u64;

/// How long a job waits before another try when its key has a deliverable
/// prefix but no stream serves its target (an owner whose names contain
/// `||`; Go retries at once).
const MISMATCH_RETRY: Duration = Duration::from_secs(1);

// === jobs ===

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In the timer queue under this token.
    Queued(u64),
    /// Delivered, waiting for the stream's result.
    InFlight,
    /// Undeliverable, waiting for a stream.
    Staged,
    /// The counter is being written; queued again once it is.
    Committing,
}

struct Entry {
    stored: Rc<Stored>,
    ticker: Ticker,
    /// Changes when the job is replaced: results for an older one are dropped.
    generation: u64,
    state: State,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: SystemTime,
    token: u64,
    key: Rc<str>,
}

// === streams ===

struct Stream {
    tx: unbounded::Tx<Bytes>,
    namespace: String,
    app_id: String,
    /// The app id it takes jobs for, if it accepts jobs.
    serves_app: bool,
    actor_types: Vec<String>,
    prefixes: Vec<String>,
    last_id: u64,
    /// Per-stream id → (job key, generation, when it was sent).
    in_flight: HashMap<u64, (Rc<str>, u64, Instant)>,
}

#[derive(Default)]
struct Pool {
    next: u64,
    streams: Vec<StreamId>,
}

impl Pool {
    fn pick(&mut self) -> Option<StreamId> {
        let n = u64::try_from(self.streams.len()).ok().filter(|n| *n > 0)?;
        let s = self.streams[usize::try_from(self.next % n).ok()?];
        self.next = self.next.wrapping_add(1);
        Some(s)
    }

    fn remove(&mut self, id: StreamId) {
        self.streams.retain(|s| *s != id);
    }
}

/// A stream's end of the engine.
pub struct Connected {
    /// Its id, for results and the disconnect.
    pub id: StreamId,
    /// The encoded `WatchJobsResponse`s to send, in order.
    pub deliveries: unbounded::Rx<Bytes>,
}

/// A result named a delivery the stream was not sent (or answered twice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownDelivery;

/// A counter write to wait for before the job is queued again.
pub struct Requeue {
    /// The write.
    pub pending: Pending,
    /// The job.
    pub key: Rc<str>,
    /// Its generation when the result came.
    pub generation: u64,
}

/// The engine.
pub struct Engine {
    jobs: BTreeMap<Rc<str>, Entry>,
    heap: BinaryHeap<Reverse<Due>>,
    tokens: u64,
    staged: BTreeSet<Rc<str>>,
    /// Deliverable prefixes, with how many streams registered each.
    deliverable: HashMap<String, u32>,
    /// Distinct lengths of the deliverable prefixes (go-etcd-cron's probe).
    prefix_lens: BTreeMap<usize, u32>,
    streams: HashMap<StreamId, Stream>,
    apps: HashMap<(String, String), Pool>,
    actors: HashMap<(String, String), Pool>,
    last_stream: StreamId,
    writer: Writer,
    metrics: Rc<Metrics>,
    /// Tells the timer task that an earlier fire was queued.
    poke: unbounded::Tx<()>,
}

fn status(code: GrpcCode, msg: impl Into<String>) -> Status {
    Status::new(code, msg)
}

fn unauthorized(metrics: &Metrics) -> Status {
    metrics.sidecar_error(SidecarError::Auth);
    status(
        GrpcCode::InvalidArgument,
        "missing namespace or appID in request",
    )
}

impl Engine {
    /// An engine over the jobs read from the store, writing through
    /// `writer`; `poke` wakes the timer task. Rows that no longer decode
    /// or will not fire again are deleted.
    pub fn new(
        rows: Vec<Row>,
        writer: Writer,
        metrics: Rc<Metrics>,
        poke: unbounded::Tx<()>,
    ) -> Engine {
        let mut e = Engine {
            jobs: BTreeMap::new(),
            heap: BinaryHeap::new(),
            tokens: 0,
            staged: BTreeSet::new(),
            deliverable: HashMap::new(),
            prefix_lens: BTreeMap::new(),
            streams: HashMap::new(),
            apps: HashMap::new(),
            actors: HashMap::new(),
            last_stream: 0,
            writer,
            metrics,
            poke,
        };
        let mut gone = Vec::new();
        for row in rows {
            let decoded = Job::decode(&row.job[..])
                .and_then(|job| JobMetadata::decode(&row.metadata[..]).map(|m| (job, m)));
            let (job, metadata) = match decoded {
                Ok(d) => d,
                Err(err) => {
                    tracing::error!(
                        target: "daprd::scheduler",
                        "dropping job {} from the store: it does not decode: {err}",
                        row.key
                    );
                    gone.push(row.key);
                    continue;
                }
            };
            let stored = Stored {
                job,
                metadata,
                name: row.name,
                created: row.created,
                due: row.due,
                expiration: row.expiration,
            };
            match Ticker::new(&stored, row.counter) {
                Some(ticker) => {
                    let key: Rc<str> = row.key.into();
                    e.insert(key, stored, ticker);
                }
                None => gone.push(row.key),
            }
        }
        if !gone.is_empty() {
            // Nobody waits for it: the next write follows it in order.
            drop(e.writer.submit(Op::Delete(gone)));
        }
        e
    }

    /// How many jobs are stored.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether no job is stored.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    fn insert(&mut self, key: Rc<str>, stored: Stored, ticker: Ticker) {
        self.tokens += 1;
        let generation = self.tokens;
        let at = ticker.next;
        self.staged.remove(&key);
        self.jobs.insert(
            key.clone(),
            Entry {
                stored: Rc::new(stored),
                ticker,
                generation,
                state: State::Committing,
            },
        );
        self.queue(&key, at);
    }

    /// Puts `key` in the timer queue at `at`.
    fn queue(&mut self, key: &Rc<str>, at: SystemTime) {
        let Some(entry) = self.jobs.get_mut(key) else {
            return;
        };
        self.tokens += 1;
        let token = self.tokens;
        entry.state = State::Queued(token);
        let earlier = self.heap.peek().is_none_or(|Reverse(top)| at < top.at);
        self.heap.push(Reverse(Due {
            at,
            token,
            key: key.clone(),
        }));
        if earlier {
            let _ = self.poke.send(());
        }
    }

    // === the API ===

    /// `ScheduleJob`: answers once the job is stored.
    pub fn schedule(
        &mut self,
        req: ScheduleJobRequest,
        now: SystemTime,
    ) -> Result<Pending, Status> {
        let meta = req.metadata.unwrap_or_default();
        let key = self.key(&req.name, &meta)?;
        let kind = Kind::of(&meta);
        let failed = |m: &Metrics, s: Status| {
            m.created_failed(kind);
            s
        };
        let Some(job) = req.job else {
            return Err(failed(
                &self.metrics,
                status(GrpcCode::Unknown, "job cannot be nil"),
            ));
        };
        let stored = job::build(job, meta, req.name, now).map_err(|e| {
            failed(
                &self.metrics,
                status(GrpcCode::Unknown, format!("job failed validation: {e}")),
            )
        })?;
        if !req.overwrite && self.jobs.contains_key(key.as_str()) {
            return Err(failed(
                &self.metrics,
                status(
                    GrpcCode::AlreadyExists,
                    format!("job already exists: '{key}'"),
                ),
            ));
        }
        self.metrics.created(kind);
        let key: Rc<str> = key.into();
        let Some(ticker) = Ticker::new(&stored, Counter::default()) else {
            // Will never fire: stored and at once deleted, as in Go.
            self.remove(&key);
            return Ok(self.writer.submit(Op::Delete(vec![key.to_string()])));
        };
        let row = Row {
            key: key.to_string(),
            name: stored.name.clone(),
            job: stored.job.encode_to_vec(),
            metadata: stored.metadata.encode_to_vec(),
            created: stored.created,
            due: stored.due,
            expiration: stored.expiration,
            counter: Counter::default(),
        };
        self.insert(key, stored, ticker);
        Ok(self.writer.submit(Op::Put(Box::new(row))))
    }

    /// `GetJob`.
    pub fn get(&self, req: GetJobRequest) -> Result<GetJobResponse, Status> {
        let meta = req.metadata.unwrap_or_default();
        let key = self.key(&req.name, &meta)?;
        match self.jobs.get(key.as_str()) {
            Some(e) => Ok(GetJobResponse {
                job: Some(e.stored.job.clone()),
            }),
            None => Err(status(
                GrpcCode::NotFound,
                format!("job not found: {}", req.name),
            )),
        }
    }

    /// `DeleteJob` (nothing to delete is no error).
    pub fn delete(&mut self, req: DeleteJobRequest) -> Result<Pending, Status> {
        let meta = req.metadata.unwrap_or_default();
        let key = self.key(&req.name, &meta)?;
        self.remove(&key);
        self.metrics.deleted(Kind::of(&meta));
        Ok(self.writer.submit(Op::Delete(vec![key])))
    }

    /// `ListJobs`: the owner's jobs in key order.
    pub fn list(&self, req: ListJobsRequest) -> Result<ListJobsResponse, Status> {
        let meta = req.metadata.unwrap_or_default();
        let prefix = job::list_prefix(&meta, false).map_err(|e| self.key_status(e))?;
        let jobs = self
            .with_prefix(&prefix)
            .map(|(_, e)| NamedJob {
                name: e.stored.name.clone(),
                metadata: Some(e.stored.metadata.clone()),
                job: Some(e.stored.job.clone()),
            })
            .collect();
        Ok(ListJobsResponse { jobs })
    }

    /// `DeleteByMetadata`.
    pub fn delete_by_metadata(&mut self, req: DeleteByMetadataRequest) -> Result<Pending, Status> {
        let meta = req.metadata.unwrap_or_default();
        let prefix = job::list_prefix(&meta, req.id_prefix_match.unwrap_or(false))
            .map_err(|e| self.wrapped(e))?;
        self.delete_prefix(&prefix)
    }

    /// `DeleteByNamePrefix`.
    pub fn delete_by_name_prefix(
        &mut self,
        req: DeleteByNamePrefixRequest,
    ) -> Result<Pending, Status> {
        let meta = req.metadata.unwrap_or_default();
        let mut prefix = job::list_prefix(&meta, false).map_err(|e| self.wrapped(e))?;
        prefix.push_str(&req.name_prefix);
        self.delete_prefix(&prefix)
    }

    fn delete_prefix(&mut self, prefix: &str) -> Result<Pending, Status> {
        if !prefix.is_empty() {
            job::validate_name(&format!("{prefix}a")).map_err(|e| status(GrpcCode::Unknown, e))?;
        }
        let keys: Vec<Rc<str>> = self.with_prefix(prefix).map(|(k, _)| k.clone()).collect();
        for k in &keys {
            self.remove(k);
        }
        self.metrics.bulk_deleted();
        Ok(self
            .writer
            .submit(Op::Delete(keys.iter().map(|k| k.to_string()).collect())))
    }

    fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a Rc<str>, &'a Entry)> {
        self.jobs
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    fn remove(&mut self, key: &str) {
        // Its heap entries are skipped when they surface; a result still
        // in flight finds no job.
        self.jobs.remove(key);
        self.staged.remove(key);
    }

    fn key(&self, name: &str, meta: &JobMetadata) -> Result<String, Status> {
        job::job_key(name, meta).map_err(|e| self.key_status(e))
    }

    fn key_status(&self, e: KeyError) -> Status {
        match e {
            KeyError::Unauthorized => unauthorized(&self.metrics),
            KeyError::Invalid(msg) => status(GrpcCode::Unknown, msg),
        }
    }

    /// Go wraps the metadata's error: the code stays, the text grows.
    fn wrapped(&self, e: KeyError) -> Status {
        let s = self.key_status(e);
        let msg = if s.code == GrpcCode::Unknown {
            format!("failed to parse metadata: {}", s.message)
        } else {
            format!(
                "failed to parse metadata: rpc error: code = {} desc = {}",
                code_name(s.code),
                s.message
            )
        };
        status(s.code, msg)
    }

    // === streams ===

    /// Checks a stream's first message as Go's `FromWatch` does.
    pub fn check_initial(&self, initial: &WatchJobsRequestInitial) -> Result<(), Status> {
        if job::authorize(&initial.namespace, &initial.app_id).is_err() {
            return Err(unauthorized(&self.metrics));
        }
        let mut seen = Vec::new();
        for t in &initial.accept_job_types {
            if seen.contains(t) {
                let name = JobTargetType::try_from(*t)
                    .map(|t| t.as_str_name().to_owned())
                    .unwrap_or_else(|_| t.to_string());
                return Err(status(
                    GrpcCode::Unknown,
                    format!("duplicate target type specified: {name}"),
                ));
            }
            seen.push(*t);
        }
        Ok(())
    }

    /// Registers a stream that sent `initial` (already checked): what it
    /// serves, its deliverable prefixes; staged jobs it can take fire now.
    pub fn connect(&mut self, initial: &WatchJobsRequestInitial) -> Connected {
        self.last_stream += 1;
        let id = self.last_stream;
        let (tx, deliveries) = unbounded::channel();
        let types = &initial.accept_job_types;
        let accepts = |t: JobTargetType| types.is_empty() || types.contains(&(t as i32));
        let ns = &initial.namespace;
        let mut prefixes = Vec::new();
        let serves_app = accepts(JobTargetType::Job);
        if serves_app {
            prefixes.push(format!("app||{ns}||{}||", initial.app_id));
            self.apps
                .entry((ns.clone(), initial.app_id.clone()))
                .or_default()
                .streams
                .push(id);
        }
        if accepts(JobTargetType::ActorReminder) {
            for t in &initial.actor_types {
                prefixes.push(format!("actorreminder||{ns}||{t}||"));
            }
        }
        // Go indexes a stream under its actor types whatever it accepts.
        for t in &initial.actor_types {
            self.actors
                .entry((ns.clone(), t.clone()))
                .or_default()
                .streams
                .push(id);
        }
        tracing::info!(
            target: "daprd::scheduler::stream",
            "Sidecar connected: {ns}/{} (actorTypes=[{}]) (prefixes=[{}]).",
            initial.app_id,
            initial.actor_types.join(" "),
            prefixes.join(" ")
        );
        self.streams.insert(
            id,
            Stream {
                tx,
                namespace: ns.clone(),
                app_id: initial.app_id.clone(),
                serves_app,
                actor_types: initial.actor_types.clone(),
                prefixes: prefixes.clone(),
                last_id: 0,
                in_flight: HashMap::new(),
            },
        );
        self.metrics.sidecars(1);
        self.add_deliverable(&prefixes);
        Connected { id, deliveries }
    }

    fn add_deliverable(&mut self, prefixes: &[String]) {
        let now = SystemTime::now();
        for p in prefixes {
            let count = self.deliverable.entry(p.clone()).or_insert(0);
            *count += 1;
            if *count > 1 {
                continue;
            }
            *self.prefix_lens.entry(p.len()).or_insert(0) += 1;
            let ready: Vec<Rc<str>> = self
                .staged
                .range::<str, _>((
                    std::ops::Bound::Included(p.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|k| k.starts_with(p.as_str()))
                .cloned()
                .collect();
            for key in ready {
                self.staged.remove(&key);
                let at = self.jobs.get(&key).map_or(now, |e| e.ticker.next);
                self.queue(&key, at);
            }
        }
    }

    fn has_deliverable_prefix(&self, key: &str) -> bool {
        self.prefix_lens.keys().any(|len| {
            key.get(..*len)
                .is_some_and(|p| self.deliverable.contains_key(p))
        })
    }

    /// A stream ended: it serves nothing more, and what it had in flight is
    /// undeliverable.
    pub fn disconnect(&mut self, id: StreamId) {
        let Some(stream) = self.streams.remove(&id) else {
            return;
        };
        tracing::info!(
            target: "daprd::scheduler::stream",
            "Closing connection to {}/{}",
            stream.namespace,
            stream.app_id
        );
        self.metrics.sidecars(-1);
        if stream.serves_app {
            let k = (stream.namespace.clone(), stream.app_id.clone());
            if let Some(pool) = self.apps.get_mut(&k) {
                pool.remove(id);
                if pool.streams.is_empty() {
                    self.apps.remove(&k);
                }
            }
        }
        for t in &stream.actor_types {
            let k = (stream.namespace.clone(), t.clone());
            if let Some(pool) = self.actors.get_mut(&k) {
                pool.remove(id);
                if pool.streams.is_empty() {
                    self.actors.remove(&k);
                }
            }
        }
        for p in &stream.prefixes {
            if let Some(count) = self.deliverable.get_mut(p) {
                *count -= 1;
                if *count == 0 {
                    self.deliverable.remove(p);
                    if let Some(n) = self.prefix_lens.get_mut(&p.len()) {
                        *n -= 1;
                        if *n == 0 {
                            self.prefix_lens.remove(&p.len());
                        }
                    }
                }
            }
        }
        let mut in_flight: Vec<_> = stream.in_flight.into_iter().collect();
        in_flight.sort_by_key(|(id, _)| *id);
        for (_, (key, generation, _)) in in_flight {
            if self
                .jobs
                .get(&key)
                .is_some_and(|e| e.generation == generation && e.state == State::InFlight)
            {
                self.undeliverable(&key);
            }
        }
    }

    /// A stream's result for delivery `id`. `Err` is a protocol error (an
    /// id it was not sent): the stream is to be closed. `Ok(Some(_))` is a
    /// counter write to wait for before [`Engine::committed`].
    pub fn result(
        &mut self,
        stream: StreamId,
        id: u64,
        failed: bool,
    ) -> Result<Option<Requeue>, UnknownDelivery> {
        let Some((key, generation, sent)) = self
            .streams
            .get_mut(&stream)
            .and_then(|s| s.in_flight.remove(&id))
        else {
            return Err(UnknownDelivery);
        };
        let Some(entry) = self.jobs.get_mut(&key) else {
            return Ok(None); // deleted meanwhile
        };
        if entry.generation != generation || entry.state != State::InFlight {
            return Ok(None); // replaced meanwhile
        }
        let ms = u64::try_from(sent.elapsed().as_millis()).unwrap_or(u64::MAX);
        let kind = Kind::of(&entry.stored.metadata);
        let more = if failed {
            self.metrics.failed(kind, ms);
            entry.ticker.failed()
        } else {
            self.metrics.triggered(kind, ms);
            entry.ticker.success()
        };
        if !more {
            self.jobs.remove(&key);
            drop(self.writer.submit(Op::Delete(vec![key.to_string()])));
            return Ok(None);
        }
        entry.state = State::Committing;
        let pending = self.writer.submit(Op::Counter {
            key: key.to_string(),
            counter: entry.ticker.counter,
        });
        Ok(Some(Requeue {
            pending,
            key,
            generation,
        }))
    }

    /// A counter write committed: the job is queued for its next fire.
    pub fn committed(&mut self, key: &Rc<str>, generation: u64) {
        let at = match self.jobs.get(key) {
            Some(e) if e.generation == generation && e.state == State::Committing => e.ticker.next,
            _ => return,
        };
        self.queue(key, at);
    }

    // === the timer ===

    /// The earliest queued fire (possibly of a job since replaced).
    pub fn next_due(&self) -> Option<SystemTime> {
        self.heap.peek().map(|Reverse(d)| d.at)
    }

    /// Fires every job due at `now`.
    pub fn fire_due(&mut self, now: SystemTime) {
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.at > now {
                break;
            }
            let Some(Reverse(due)) = self.heap.pop() else {
                break;
            };
            let current = self
                .jobs
                .get(&due.key)
                .is_some_and(|e| e.state == State::Queued(due.token));
            if current {
                self.fire(&due.key);
            }
        }
    }

    fn fire(&mut self, key: &Rc<str>) {
        let Some(entry) = self.jobs.get_mut(key) else {
            return;
        };
        let meta = &entry.stored.metadata;
        let pool = match meta.target.as_ref().and_then(|t| t.r#type.as_ref()) {
            Some(job_target_metadata::Type::Job(_)) => self
                .apps
                .get_mut(&(meta.namespace.clone(), meta.app_id.clone())),
            Some(job_target_metadata::Type::Actor(a)) => self
                .actors
                .get_mut(&(meta.namespace.clone(), a.r#type.clone())),
            None => None,
        };
        let Some(stream) = pool
            .and_then(Pool::pick)
            .and_then(|id| self.streams.get_mut(&id))
        else {
            self.undeliverable(key);
            return;
        };
        stream.last_id += 1;
        let id = stream.last_id;
        let msg = WatchJobsResponse {
            name: entry.stored.name.clone(),
            id,
            data: entry.stored.job.data.clone(),
            metadata: Some(entry.stored.metadata.clone()),
        };
        if stream.tx.send(msg.encode_to_vec().into()).is_err() {
            // The stream is ending; its disconnect has not come yet.
            self.metrics.sidecar_error(SidecarError::Send);
            self.undeliverable(key);
            return;
        }
        stream
            .in_flight
            .insert(id, (key.clone(), entry.generation, Instant::now()));
        entry.state = State::InFlight;
    }

    /// No stream took `key`: staged until one registers a prefix of it.
    fn undeliverable(&mut self, key: &Rc<str>) {
        let Some(entry) = self.jobs.get(key) else {
            return;
        };
        self.metrics.undelivered(Kind::of(&entry.stored.metadata));
        if self.has_deliverable_prefix(key) {
            let at = SystemTime::now() + MISMATCH_RETRY;
            self.queue(key, at);
            return;
        }
        if let Some(entry) = self.jobs.get_mut(key) {
            entry.state = State::Staged;
            self.staged.insert(key.clone());
        }
    }

    /// Ends every stream (the service stops).
    pub fn close_streams(&mut self) {
        self.streams.clear();
    }
}

/// grpc-go's name of a code, as in `rpc error: code = … desc = …`.
fn code_name(c: GrpcCode) -> &'static str {
    match c {
        GrpcCode::InvalidArgument => "InvalidArgument",
        GrpcCode::NotFound => "NotFound",
        GrpcCode::AlreadyExists => "AlreadyExists",
        _ => "Unknown",
    }
}
