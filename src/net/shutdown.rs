//! Shutdown: one process-wide signal, one drain latch per worker.
//!
//! [`Shutdown`] is the only cross-thread piece: set once (by a signal, the
//! shutdown API or a test) and observed by every worker's supervisor task,
//! which then closes its worker-local [`Drain`]. Connections watch the local
//! latch while idle, so a keep-alive cycle never touches shared memory.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use event_listener::{Event, Listener};
use local_sync::semaphore::Semaphore;

/// The process-wide shutdown signal (`Send + Sync`, held in an `Arc`).
pub type Shutdown = Latch;

/// A one-shot cross-thread latch: closed until triggered, then open for
/// good. Workers await it without polling.
#[derive(Default)]
pub struct Latch {
    triggered: AtomicBool,
    event: Event,
}

impl Latch {
    /// Opens the latch (starts shutdown); idempotent.
    pub fn trigger(&self) {
        if !self.triggered.swap(true, Ordering::AcqRel) {
            self.event.notify(usize::MAX);
        }
    }

    /// Whether the latch is open (shutdown has started).
    pub fn is_triggered(&self) -> bool {
        self.triggered.load(Ordering::Acquire)
    }

    /// Resolves once the latch is open.
    pub async fn wait(&self) {
        loop {
            if self.is_triggered() {
                return;
            }
            let listener = self.event.listen();
            if self.is_triggered() {
                return;
            }
            listener.await;
        }
    }

    /// Blocks the calling (non-worker) thread until the latch is open.
    pub fn wait_blocking(&self) {
        loop {
            if self.is_triggered() {
                return;
            }
            let listener = self.event.listen();
            if self.is_triggered() {
                return;
            }
            listener.wait();
        }
    }
}

/// A worker-local drain latch: open while serving, closed once shutdown starts.
/// It also counts the worker's live connections so the worker can wait for them.
#[derive(Clone)]
pub struct Drain {
    inner: Rc<DrainInner>,
}

struct DrainInner {
    /// Never has permits: waiters wake only when it is closed.
    latch: Semaphore,
    live: Cell<usize>,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    /// An open latch with no connections.
    pub fn new() -> Self {
        Self {
            inner: Rc::new(DrainInner {
                latch: Semaphore::new(0),
                live: Cell::new(0),
            }),
        }
    }

    /// Closes the latch, waking every `closing()` waiter.
    pub fn close(&self) {
        self.inner.latch.close();
    }

    /// Whether the latch is closed.
    pub fn is_closing(&self) -> bool {
        self.inner.latch.is_closed()
    }

    /// Resolves once the latch is closed.
    pub async fn closing(&self) {
        // `acquire` can only complete with an error, and does so on close.
        let _ = self.inner.latch.acquire().await;
    }

    /// Registers a live connection for as long as the guard lives.
    pub fn track(&self) -> ConnGuard {
        self.inner.live.set(self.inner.live.get() + 1);
        ConnGuard {
            inner: self.inner.clone(),
        }
    }

    /// The number of live connections.
    pub fn live(&self) -> usize {
        self.inner.live.get()
    }

    /// Waits until every connection has finished or `grace` has passed.
    /// Returns the number of connections still open.
    pub async fn drained(&self, grace: Duration) -> usize {
        let deadline = std::time::Instant::now() + grace;
        while self.live() > 0 && std::time::Instant::now() < deadline {
            monoio::time::sleep(Duration::from_millis(5)).await;
        }
        self.live()
    }
}

/// Decrements the live-connection count on drop.
pub struct ConnGuard {
    inner: Rc<DrainInner>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.inner.live.set(self.inner.live.get().saturating_sub(1));
    }
}
