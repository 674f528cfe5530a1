//! The durable job store: one SQLite file, `scheduler.db`, under
//! `--etcd-data-dir` (where Go's scheduler keeps its embedded etcd).
//!
//! SQLite because the project already builds it (bundled, no system
//! library), it is one well-kept file with crash-safe transactions, and a
//! single replica needs nothing etcd adds (Raft, watches, leases). The data
//! layout is ours: Go's etcd keys are not reproduced.
//!
//! One row per job: its key and name, the `Job` and `JobMetadata` protos as
//! given (failure policy filled in), the times fixed when it was scheduled
//! (created, due, expiry) and its counter (ticks counted, the last tick,
//! failed attempts at the current one). An overwrite resets the counter, as
//! go-etcd-cron's new partition id does.
//!
//! **Threads.** Everything is read once, at start-up, on the main thread;
//! the service then works from memory. Every write goes, in order, to one
//! dedicated writer thread, never the monoio thread: the thread takes what
//! has queued up and commits it as one transaction (`synchronous=FULL`, WAL
//! journal), then tells each writer waiting for it. A request is answered,
//! and a counted tick moves on to the next, only once its write committed.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::SystemTime;

use rusqlite::{params, Connection, OptionalExtension};

use super::job::Counter;
use crate::config::time::{from_unix, to_unix};

/// The file under the data directory.
pub const FILE: &str = "scheduler.db";

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 1024;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("job store {path}: {why}")]
pub struct StoreError {
    /// The database file (or its directory).
    pub path: PathBuf,
    /// Why.
    pub why: String,
}

/// One job as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `app||…` or `actorreminder||…`.
    pub key: String,
    /// The name its owner gave it.
    pub name: String,
    /// The `Job` proto.
    pub job: Vec<u8>,
    /// The `JobMetadata` proto.
    pub metadata: Vec<u8>,
    /// When it was scheduled.
    pub created: SystemTime,
    /// Its due time, if any.
    pub due: Option<SystemTime>,
    /// Its expiry, if any.
    pub expiration: Option<SystemTime>,
    /// Its counter.
    pub counter: Counter,
}

/// A write.
#[derive(Debug)]
pub enum Op {
    /// Insert or replace a job (its counter as given, fresh for a new one).
    Put(Box<Row>),
    /// A job's counter moved on (nothing when the job is gone).
    Counter {
        /// The job.
        key: String,
        /// Its counter now.
        counter: Counter,
    },
    /// Remove jobs.
    Delete(Vec<String>),
}

type Done = flume::Sender<Result<(), String>>;

/// What the writer thread is sent.
#[derive(Debug)]
enum Msg {
    /// A write, and who waits for it.
    Write(Op, Done),
    /// Commit what came before, then stop.
    Close,
}

/// The writer thread's queue; cheap to clone, `Send`.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: flume::Sender<Msg>,
}

/// A write on its way; [`Pending::wait`] resolves once it committed.
#[derive(Debug)]
pub struct Pending(flume::Receiver<Result<(), String>>);

impl Pending {
    /// Waits for the commit; the error says why it failed.
    pub async fn wait(self) -> Result<(), String> {
        self.0
            .recv_async()
            .await
            .unwrap_or_else(|_| Err("the job store is closed".into()))
    }
}

impl Writer {
    /// Queues `op`; the returned [`Pending`] says when it committed.
    pub fn submit(&self, op: Op) -> Pending {
        let (done, wait) = flume::bounded(1);
        if let Err(flume::SendError(Msg::Write(_, done))) = self.tx.send(Msg::Write(op, done)) {
            let _ = done.send(Err("the job store is closed".into()));
        }
        Pending(wait)
    }
}

/// The open store: its writer thread.
pub struct Store {
    writer: Writer,
    thread: JoinHandle<()>,
}

impl Store {
    /// Opens (creating) the store under `dir`: every stored job, and the
    /// store with its writer thread running.
    pub fn open(dir: &Path) -> Result<(Store, Vec<Row>), StoreError> {
        let path = dir.join(FILE);
        let fail = |why: String| StoreError {
            path: path.clone(),
            why,
        };
        std::fs::create_dir_all(dir).map_err(|e| StoreError {
            path: dir.to_path_buf(),
            why: format!("could not create the directory: {e}"),
        })?;
        let conn = Connection::open(&path).map_err(|e| fail(e.to_string()))?;
        init(&conn).map_err(|e| fail(e.to_string()))?;
        let rows = load(&conn).map_err(|e| fail(e.to_string()))?;
        let (tx, rx) = flume::unbounded();
        let thread = std::thread::Builder::new()
            .name("scheduler-store".into())
            .spawn(move || write_loop(conn, rx))
            .map_err(|e| fail(format!("could not start the writer thread: {e}")))?;
        Ok((
            Store {
                writer: Writer { tx },
                thread,
            },
            rows,
        ))
    }

    /// A handle to queue writes.
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    /// Commits what was queued before and stops the writer thread; later
    /// writes fail.
    pub fn close(self) {
        let Store { writer, thread } = self;
        let _ = writer.tx.send(Msg::Close);
        let _ = thread.join();
    }
}

fn init(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(target: "daprd::scheduler", "job store journal mode is {mode}, not WAL");
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS jobs (
           key        TEXT PRIMARY KEY NOT NULL,
           name       TEXT NOT NULL,
           job        BLOB NOT NULL,
           metadata   BLOB NOT NULL,
           created_s  INTEGER NOT NULL,
           created_ns INTEGER NOT NULL,
           due_s      INTEGER,
           due_ns     INTEGER,
           expiry_s   INTEGER,
           expiry_ns  INTEGER,
           count      INTEGER NOT NULL DEFAULT 0,
           last_s     INTEGER,
           last_ns    INTEGER,
           attempts   INTEGER NOT NULL DEFAULT 0
         ) WITHOUT ROWID;",
    )?;
    let version: Option<i64> = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .optional()?;
    if version.unwrap_or(0) == 0 {
        conn.execute_batch("PRAGMA user_version = 1")?;
    }
    Ok(())
}

fn load(conn: &Connection) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare(
        "SELECT key, name, job, metadata, created_s, created_ns, due_s, due_ns,
                expiry_s, expiry_ns, count, last_s, last_ns, attempts
         FROM jobs ORDER BY key",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Row {
            key: r.get(0)?,
            name: r.get(1)?,
            job: r.get(2)?,
            metadata: r.get(3)?,
            created: time_of(Some(r.get(4)?), Some(r.get(5)?)).unwrap_or(SystemTime::UNIX_EPOCH),
            due: time_of(r.get(6)?, r.get(7)?),
            expiration: time_of(r.get(8)?, r.get(9)?),
            counter: Counter {
                count: u32::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
                last: time_of(r.get(11)?, r.get(12)?),
                attempts: u32::try_from(r.get::<_, i64>(13)?).unwrap_or(0),
            },
        })
    })?;
    rows.collect()
}

fn time_of(s: Option<i64>, ns: Option<i64>) -> Option<SystemTime> {
    from_unix(s?, u32::try_from(ns?).ok()?)
}

fn cols(t: Option<SystemTime>) -> (Option<i64>, Option<i64>) {
    match t {
        Some(t) => {
            let (s, ns) = to_unix(t);
            (Some(s), Some(i64::from(ns)))
        }
        None => (None, None),
    }
}

fn write_loop(mut conn: Connection, rx: flume::Receiver<Msg>) {
    let mut closing = false;
    while !closing {
        let Ok(first) = rx.recv() else {
            return;
        };
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Write(op, done) => batch.push((op, done)),
                Msg::Close => {
                    closing = true;
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        let ops: Vec<&Op> = batch.iter().map(|(op, _)| op).collect();
        match apply(&mut conn, &ops) {
            Ok(()) => {
                for (_, done) in batch {
                    let _ = done.send(Ok(()));
                }
            }
            Err(e) if batch.len() == 1 => {
                tracing::error!(target: "daprd::scheduler", "job store write failed: {e}");
                for (_, done) in batch {
                    let _ = done.send(Err(e.to_string()));
                }
            }
            Err(_) => {
                // Find the culprit: one transaction per write.
                for (op, done) in batch {
                    let r = apply(&mut conn, &[&op]).map_err(|e| e.to_string());
                    if let Err(e) = &r {
                        tracing::error!(target: "daprd::scheduler", "job store write failed: {e}");
                    }
                    let _ = done.send(r);
                }
            }
        }
    }
}

fn apply(conn: &mut Connection, ops: &[&Op]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for op in ops {
        match op {
            Op::Put(row) => {
                let (cs, cns) = cols(Some(row.created));
                let (ds, dns) = cols(row.due);
                let (es, ens) = cols(row.expiration);
                let (ls, lns) = cols(row.counter.last);
                tx.execute(
                    "INSERT OR REPLACE INTO jobs (key, name, job, metadata, created_s,
                       created_ns, due_s, due_ns, expiry_s, expiry_ns, count, last_s, last_ns,
                       attempts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                    params![
                        row.key,
                        row.name,
                        row.job,
                        row.metadata,
                        cs,
                        cns,
                        ds,
                        dns,
                        es,
                        ens,
                        i64::from(row.counter.count),
                        ls,
                        lns,
                        i64::from(row.counter.attempts)
                    ],
                )?;
            }
            Op::Counter { key, counter } => {
                let (ls, lns) = cols(counter.last);
                tx.execute(
                    "UPDATE jobs SET count = ?2, last_s = ?3, last_ns = ?4, attempts = ?5
                     WHERE key = ?1",
                    params![
                        key,
                        i64::from(counter.count),
                        ls,
                        lns,
                        i64::from(counter.attempts)
                    ],
                )?;
            }
            Op::Delete(keys) => {
                let mut stmt = tx.prepare("DELETE FROM jobs WHERE key = ?1")?;
                for k in keys {
                    stmt.execute([k])?;
                }
            }
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::time::parse_rfc3339;

    fn row(key: &str) -> Row {
        Row {
            key: key.into(),
            name: "n".into(),
            job: vec![1, 2, 3],
            metadata: vec![4],
            created: parse_rfc3339("2024-01-01T00:00:00.5Z").unwrap(),
            due: parse_rfc3339("1969-12-31T23:59:59.25Z"),
            expiration: None,
            counter: Counter::default(),
        }
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn writes_survive_a_reopen() {
        let dir = std::env::temp_dir().join(format!("daprd-sched-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (store, rows) = Store::open(&dir).unwrap();
        assert!(rows.is_empty());
        let w = store.writer();
        block(async {
            w.submit(Op::Put(Box::new(row("a")))).wait().await.unwrap();
            w.submit(Op::Put(Box::new(row("b")))).wait().await.unwrap();
            let counter = Counter {
                count: 2,
                last: parse_rfc3339("2024-01-01T00:00:02Z"),
                attempts: 1,
            };
            let c = w.submit(Op::Counter {
                key: "a".into(),
                counter,
            });
            let d = w.submit(Op::Delete(vec!["b".into(), "nope".into()]));
            c.wait().await.unwrap();
            d.wait().await.unwrap();
        });
        // Closing does not wait for the other handles to go.
        store.close();
        assert!(block(w.submit(Op::Delete(vec![])).wait()).is_err());
        let (store, rows) = Store::open(&dir).unwrap();
        assert_eq!(rows.len(), 1);
        let mut want = row("a");
        want.counter = Counter {
            count: 2,
            last: parse_rfc3339("2024-01-01T00:00:02Z"),
            attempts: 1,
        };
        assert_eq!(rows[0], want);
        store.close();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
