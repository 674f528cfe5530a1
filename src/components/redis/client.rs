//! A worker's Redis connection: one TCP (or TLS) connection, pipelined.
//!
//! Callers hand [`Client::send`] a batch of encoded commands and await its
//! replies. A writer task coalesces every batch queued since its last write
//! into one `write`; a reader task decodes replies (zero-copy, `Bytes`
//! views of its read buffer) and hands them out in order. Replies are
//! matched to batches by position, as RESP requires.
//!
//! Failure handling: when the connection breaks, every waiting batch fails
//! with [`ErrorKind::Unavailable`] and the next call dials again (at most
//! one dial at a time per worker, and no new dial within [`HOLD_OFF`] of a
//! failed one, so a dead Redis costs one error per request, not one
//! connect). A batch that times out marks its connection dead too: a
//! silent peer must not keep the worker waiting forever. A `READONLY`
//! reply marks it dead as well (the server was demoted in a failover).
//! Dialling (TCP or TLS, and with `failover` the sentinel lookup) is in
//! [`super::dial`].

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use local_sync::mpsc::unbounded;
use local_sync::oneshot;
use local_sync::semaphore::Semaphore;

use super::dial::{self, Reader, Writer};
use super::reply::read_replies;
use super::reply::ReadEnd;
pub use super::reply::{Error, ErrorKind};
use super::subscriber::master_switch;
use super::{error_text, Frame, Settings};

/// How long after a failed dial calls fail fast instead of dialling again.
pub const HOLD_OFF: Duration = Duration::from_millis(200);

type Reply = Result<Vec<Frame>, Error>;

/// Commands sent together, and where their replies go.
struct Batch {
    bytes: BytesMut,
    replies: usize,
    done: oneshot::Sender<Reply>,
}

/// A batch whose commands are on the wire.
struct Waiter {
    replies: usize,
    frames: Vec<Frame>,
    done: oneshot::Sender<Reply>,
}

/// State the two connection tasks share.
struct Wire {
    host: String,
    dead: Cell<bool>,
    waiting: RefCell<VecDeque<Waiter>>,
}

impl Wire {
    /// Marks the connection dead and fails everything in flight.
    fn fail(&self, kind: ErrorKind, why: &str) {
        self.dead.set(true);
        let err = Error::unreachable(kind, &self.host, why);
        for w in self.waiting.borrow_mut().drain(..) {
            let _ = w.done.send(Err(err.clone()));
        }
    }
}

/// One live connection. Dropping it stops both tasks.
struct Conn {
    tx: unbounded::Tx<Batch>,
    wire: Rc<Wire>,
    /// Dropped with the connection; the reader watches it.
    _alive: oneshot::Receiver<()>,
    /// Likewise, for the failover watch ([`watch_master`]).
    _watch: Option<oneshot::Receiver<()>>,
}

/// A worker's handle on one Redis server.
pub struct Client {
    settings: Arc<Settings>,
    conn: RefCell<Option<Rc<Conn>>>,
    dialing: Semaphore,
    last_failure: RefCell<Option<(Instant, Error)>>,
}

impl Client {
    /// A client that dials on first use.
    pub fn new(settings: Arc<Settings>) -> Self {
        Self {
            settings,
            conn: RefCell::new(None),
            dialing: Semaphore::new(1),
            last_failure: RefCell::new(None),
        }
    }

    /// The server address, for messages.
    pub fn host(&self) -> &str {
        &self.settings.host
    }

    /// Sends `bytes` (`replies` encoded commands) and returns their replies
    /// in order. Error replies are returned as frames, not as `Err`.
    pub async fn send(&self, bytes: BytesMut, replies: usize) -> Reply {
        let conn = self.connection().await?;
        let (done, rx) = oneshot::channel();
        if conn
            .tx
            .send(Batch {
                bytes,
                replies,
                done,
            })
            .is_err()
        {
            conn.wire.dead.set(true);
            return Err(self.unavailable("connection closed"));
        }
        let wire = conn.wire.clone();
        drop(conn);
        match monoio::time::timeout(self.settings.read_timeout, rx).await {
            Ok(Ok(reply)) => {
                if reply.as_ref().is_ok_and(|f| f.iter().any(is_readonly)) {
                    // As go-redis: a server that says READONLY was demoted
                    // to a replica (a failover); the next call dials anew
                    // (asking the sentinel, with failover).
                    wire.dead.set(true);
                }
                reply
            }
            Ok(Err(_)) => Err(self.unavailable("connection closed")),
            Err(_) => {
                // The connection may be wedged; the next call dials anew.
                wire.dead.set(true);
                Err(Error::timeout(
                    &self.settings.host,
                    self.settings.read_timeout,
                ))
            }
        }
    }

    /// Sends one command and returns its reply.
    pub async fn call(&self, command: BytesMut) -> Result<Frame, Error> {
        let mut frames = self.send(command, 1).await?;
        frames.pop().ok_or_else(|| self.unavailable("no reply"))
    }

    fn unavailable(&self, why: &str) -> Error {
        Error::unreachable(ErrorKind::Unavailable, &self.settings.host, why)
    }

    fn live(&self) -> Option<Rc<Conn>> {
        self.conn
            .borrow()
            .as_ref()
            .filter(|c| !c.wire.dead.get())
            .cloned()
    }

    async fn connection(&self) -> Result<Rc<Conn>, Error> {
        if let Some(c) = self.live() {
            return Ok(c);
        }
        let _permit = self
            .dialing
            .acquire()
            .await
            .map_err(|_| self.unavailable("client closed"))?;
        if let Some(c) = self.live() {
            return Ok(c);
        }
        if let Some((at, err)) = &*self.last_failure.borrow() {
            if at.elapsed() < HOLD_OFF {
                return Err(err.clone());
            }
        }
        self.conn.borrow_mut().take();
        match self.dial().await {
            Ok(c) => {
                let c = Rc::new(c);
                *self.conn.borrow_mut() = Some(c.clone());
                self.last_failure.borrow_mut().take();
                Ok(c)
            }
            Err(e) => {
                *self.last_failure.borrow_mut() = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    async fn dial(&self) -> Result<Conn, Error> {
        // TCP or TLS; with failover, to the master a sentinel names now.
        let (rd, wr, via) = dial::connect(&self.settings)
            .await
            .map_err(|e| self.unavailable(&e))?;
        let wire = Rc::new(Wire {
            host: self.settings.host.clone(),
            dead: Cell::new(false),
            waiting: RefCell::new(VecDeque::new()),
        });
        let (tx, rx) = unbounded::channel();
        let (alive_tx, alive_rx) = oneshot::channel();
        monoio::spawn(write_loop(rx, wr, wire.clone()));
        monoio::spawn(read_loop(rd, wire.clone(), alive_tx));
        let watch = via.map(|via| {
            let (watch_tx, watch_rx) = oneshot::channel();
            monoio::spawn(watch_master(
                self.settings.clone(),
                via,
                wire.clone(),
                watch_tx,
            ));
            watch_rx
        });
        let conn = Conn {
            tx,
            wire,
            _alive: alive_rx,
            _watch: watch,
        };
        self.handshake(&conn).await?;
        Ok(conn)
    }

    /// AUTH / SELECT on a fresh connection; a refusal is an error.
    async fn handshake(&self, conn: &Conn) -> Result<(), Error> {
        let cmds = self.settings.handshake();
        if cmds.is_empty() {
            return Ok(());
        }
        let mut bytes = BytesMut::new();
        for c in &cmds {
            bytes.extend_from_slice(c);
        }
        let (done, rx) = oneshot::channel();
        let _ = conn.tx.send(Batch {
            bytes,
            replies: cmds.len(),
            done,
        });
        let frames = match monoio::time::timeout(self.settings.read_timeout, rx).await {
            Ok(Ok(r)) => r?,
            _ => return Err(self.unavailable("no answer to AUTH/SELECT")),
        };
        match frames.iter().find_map(error_text) {
            Some(e) => Err(self.unavailable(&format!("session refused: {e}"))),
            None => Ok(()),
        }
    }
}

async fn write_loop(mut rx: unbounded::Rx<Batch>, mut wr: Writer, wire: Rc<Wire>) {
    while let Some(first) = rx.recv().await {
        let mut out = first.bytes;
        let mut batches = vec![(first.replies, first.done)];
        while let Ok(b) = rx.try_recv() {
            out.extend_from_slice(&b.bytes);
            batches.push((b.replies, b.done));
        }
        if wire.dead.get() {
            let err = Error::unreachable(ErrorKind::Unavailable, &wire.host, "connection lost");
            for (_, done) in batches {
                let _ = done.send(Err(err.clone()));
            }
            continue;
        }
        wire.waiting
            .borrow_mut()
            .extend(batches.into_iter().map(|(replies, done)| Waiter {
                replies,
                frames: Vec::with_capacity(replies),
                done,
            }));
        if let Err(e) = wr.write_all(out).await {
            wire.fail(ErrorKind::Unavailable, &e.to_string());
        }
    }
}

async fn read_loop(rd: Reader, wire: Rc<Wire>, mut alive: oneshot::Sender<()>) {
    let end = read_replies(rd, &mut alive, |frame| {
        if deliver(&wire, frame) {
            Ok(())
        } else {
            Err(ReadEnd::Failed(
                ErrorKind::Protocol,
                "unexpected reply".to_owned(),
            ))
        }
    })
    .await;
    if let ReadEnd::Failed(kind, why) = end {
        wire.fail(kind, &why);
    }
}

/// With failover: ends the connection when the sentinel that named its
/// master announces a new one, so the next call dials the new master.
async fn watch_master(
    settings: Arc<Settings>,
    via: dial::Via,
    wire: Rc<Wire>,
    mut alive: oneshot::Sender<()>,
) {
    let switched = monoio::select! {
        r = master_switch(&settings, &via) => r,
        _ = alive.closed() => return,
    };
    match switched {
        Ok(to) => wire.fail(
            ErrorKind::Unavailable,
            &format!("the sentinel moved the master from {} to {to}", via.master),
        ),
        Err(e) => tracing::debug!(
            sentinel = %via.sentinel,
            "redis failover: no longer watching for a master switch: {e}"
        ),
    }
}

/// A `READONLY` error reply (also as raised inside a script).
fn is_readonly(f: &Frame) -> bool {
    error_text(f).is_some_and(|e| e.contains("READONLY"))
}

/// Gives `frame` to the oldest waiting batch; false if nobody waits.
fn deliver(wire: &Wire, frame: Frame) -> bool {
    let mut waiting = wire.waiting.borrow_mut();
    let Some(w) = waiting.front_mut() else {
        return false;
    };
    w.frames.push(frame);
    if w.frames.len() == w.replies {
        if let Some(w) = waiting.pop_front() {
            let _ = w.done.send(Ok(w.frames));
        }
    }
    true
}
