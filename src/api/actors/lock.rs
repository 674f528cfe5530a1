//! The per-actor turn lock: one turn at a time per actor id, first come
//! first served, with reentrancy (Go: `pkg/actors/targets/app/lock/lock.go`).
//!
//! Method calls, reminders (`remind/<n>`) and timers (`timer/<n>`) all take
//! the lock of their actor. Requests wait in a FIFO of *flights*; the flight
//! at the front holds the turn. With reentrancy enabled for the actor type, a
//! request carrying a reentrancy id (`Dapr-Reentrancy-Id`) joins the flight
//! with the same id wherever it stands in the queue (depth + 1): it runs at
//! once when that flight holds the turn, else together with it when it gets
//! there. A join that would make the depth exceed `maxStackDepth` fails with
//! [`LockError::StackDepth`]. Without reentrancy every request is a flight of
//! its own. (The runtime, not this lock, generates the id when the header is
//! missing and injects it, as Go does.)
//!
//! [`TurnLock::close`] (actor deactivation) fails every queued and future
//! request with [`LockError::Closed`]; the holders see
//! [`TurnGuard::closed`] complete, which is what Go's cancelled call
//! context means, and [`TurnLock::closed_and_idle`] waits for them to let
//! go. (Go's `Close` itself returns without waiting for the holders.)
//!
//! Requests for one actor may arrive on any worker thread, so the lock is
//! `Send + Sync`: a `std::sync::Mutex` guards a few field updates (never
//! held across an await or while waking), and waiters are woken through
//! their `Waker`s, which works across monoio runtimes.
//!
//! A request joins the queue when [`TurnLock::lock`] is *called*, not when
//! its future is first polled; dropping the future leaves the queue
//! (releasing the turn if it had been handed over), so cancellation cannot
//! wedge the actor.
//!
//! Where this differs from Go 1.18 (both are bugs there):
//! - Go increments the flight's depth before the stack-depth check and never
//!   undoes it, so after one `StackDepth` error that flight (and the actor)
//!   never releases its turn. Here a refused join changes nothing.
//! - A Go waiter cancelled while queued releases the flight at the *front*
//!   of the queue, letting the next flight run beside the current holder.
//!   Here it removes only itself.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use event_listener::Event;

/// Go's default `maxStackDepth` for reentrant actors
/// (`api.DefaultReentrancyStackLimit`).
pub const DEFAULT_MAX_STACK_DEPTH: u32 = 32;

/// Why a turn was not granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// A reentrant call went deeper than `maxStackDepth`
    /// (`ERR_ACTOR_STACK_DEPTH`: 500, `ResourceExhausted`).
    #[error("maximum stack depth exceeded")]
    StackDepth,
    /// The actor was deactivated (closed) before the turn came. Go's text
    /// names the method: see [`LockError::message`].
    #[error("actor is closed")]
    Closed,
}

impl LockError {
    /// Go's text for this error on a call of `method` (`remind/<n>` and
    /// `timer/<n>` for reminders and timers).
    pub fn message(&self, method: &str) -> String {
        match self {
            LockError::StackDepth => self.to_string(),
            LockError::Closed => format!("actor is closed, cannot handle {method}"),
        }
    }
}

/// One turn-holder in the queue: a request, with the reentrant requests
/// that joined it.
#[derive(Debug)]
struct Flight {
    /// Unique within the lock; never reused.
    key: u64,
    /// The reentrancy id others may join by; `None` when not joinable.
    id: Option<Box<str>>,
    /// Members not yet released: queued futures plus live guards.
    depth: u32,
    /// Wakers of members still waiting, by ticket.
    waiters: Vec<(u64, Waker)>,
}

#[derive(Debug, Default)]
struct State {
    /// The front flight holds the turn; the rest wait in order.
    flights: VecDeque<Flight>,
    closed: bool,
    /// Source of flight keys and waiter tickets.
    next_key: u64,
}

impl State {
    fn next_key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    /// Releases one member of flight `key` (and its waker `ticket`, if any).
    /// A flight left with no members leaves the queue; if it held the turn,
    /// the next one gets it and its wakers are returned for waking.
    fn release(&mut self, key: u64, ticket: Option<u64>) -> Release {
        let Some(pos) = self.flights.iter().position(|f| f.key == key) else {
            return Release::default();
        };
        let flight = &mut self.flights[pos];
        if let Some(ticket) = ticket {
            flight.waiters.retain(|(t, _)| *t != ticket);
        }
        flight.depth = flight.depth.saturating_sub(1);
        if flight.depth > 0 {
            return Release::default();
        }
        self.flights.remove(pos);
        let wake = match (pos, self.flights.front_mut()) {
            (0, Some(next)) => std::mem::take(&mut next.waiters),
            _ => Vec::new(),
        };
        Release {
            wake,
            idle: self.flights.is_empty(),
        }
    }
}

/// What to do once the state lock is dropped.
#[derive(Default)]
struct Release {
    wake: Vec<(u64, Waker)>,
    idle: bool,
}

// === impl TurnLock ===

/// One actor's turn lock. See the module docs.
#[derive(Debug)]
pub struct TurnLock {
    state: Mutex<State>,
    /// `Some(maxStackDepth)` when reentrancy is enabled for the actor type.
    reentrancy: Option<u32>,
    /// Notified once, by [`TurnLock::close`].
    closed: Event,
    /// Notified whenever the queue empties.
    idle: Event,
}

impl TurnLock {
    /// A lock for one actor. `max_stack_depth` is `Some(depth)` when the
    /// actor type has reentrancy enabled (Go's default depth is
    /// [`DEFAULT_MAX_STACK_DEPTH`]), `None` when every request queues.
    pub fn new(max_stack_depth: Option<u32>) -> TurnLock {
        TurnLock {
            state: Mutex::new(State::default()),
            reentrancy: max_stack_depth,
            closed: Event::new(),
            idle: Event::new(),
        }
    }

    /// Joins the queue for a turn, now, and returns a future that completes
    /// when the turn comes. `reentrancy_id` is ignored unless reentrancy is
    /// enabled. Dropping the future gives up the place (or the turn).
    pub fn lock(&self, reentrancy_id: Option<&str>) -> LockFuture<'_> {
        let mut st = self.state();
        let step = if st.closed {
            Step::Failed(LockError::Closed)
        } else {
            match self.enqueue(&mut st, reentrancy_id) {
                Ok(flight) => Step::Queued {
                    flight,
                    ticket: st.next_key(),
                },
                Err(e) => Step::Failed(e),
            }
        };
        LockFuture { lock: self, step }
    }

    /// Adds a member to the queue: to the flight with the same reentrancy id,
    /// or as a new flight at the back. Returns the flight's key.
    fn enqueue(&self, st: &mut State, reentrancy_id: Option<&str>) -> Result<u64, LockError> {
        let id = self.reentrancy.and(reentrancy_id);
        if let (Some(max), Some(id)) = (self.reentrancy, id) {
            if let Some(flight) = st.flights.iter_mut().find(|f| f.id.as_deref() == Some(id)) {
                if flight.depth >= max {
                    return Err(LockError::StackDepth);
                }
                flight.depth += 1;
                return Ok(flight.key);
            }
        }
        let key = st.next_key();
        st.flights.push_back(Flight {
            key,
            id: id.map(Box::from),
            depth: 1,
            waiters: Vec::new(),
        });
        Ok(key)
    }

    /// Closes the lock (actor deactivation): queued and future requests fail
    /// with [`LockError::Closed`], holders' [`TurnGuard::closed`] completes.
    /// Idempotent; does not wait (see [`TurnLock::closed_and_idle`]).
    pub fn close(&self) {
        let (wake, idle) = {
            let mut st = self.state();
            if st.closed {
                return;
            }
            st.closed = true;
            let wake: Vec<(u64, Waker)> = st
                .flights
                .iter_mut()
                .flat_map(|f| std::mem::take(&mut f.waiters))
                .collect();
            // Only the holders are left to wait for: the queued flights go
            // now (their futures find them gone and report Closed).
            st.flights.truncate(1);
            (wake, st.flights.is_empty())
        };
        self.closed.notify(usize::MAX);
        if idle {
            self.idle.notify(usize::MAX);
        }
        for (_, waker) in wake {
            waker.wake();
        }
    }

    /// Completes once the lock is closed and every holder has let go.
    pub async fn closed_and_idle(&self) {
        loop {
            let listener = self.idle.listen();
            {
                let st = self.state();
                if st.closed && st.flights.is_empty() {
                    return;
                }
            }
            listener.await;
        }
    }

    /// Completes once the lock is closed.
    pub async fn wait_closed(&self) {
        loop {
            let listener = self.closed.listen();
            if self.is_closed() {
                return;
            }
            listener.await;
        }
    }

    /// Whether [`TurnLock::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Whether nobody holds or waits for a turn.
    pub fn is_idle(&self) -> bool {
        self.state().flights.is_empty()
    }

    /// Requests waiting for a turn (not holding it): what Go reports as the
    /// actor's pending calls.
    pub fn waiting(&self) -> usize {
        let st = self.state();
        st.flights.iter().skip(1).map(|f| f.depth as usize).sum()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; if something ever did, the
        // state is still consistent enough to go on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Releases one member and wakes whoever that lets in.
    fn release(&self, flight: u64, ticket: Option<u64>) {
        let release = self.state().release(flight, ticket);
        if release.idle {
            self.idle.notify(usize::MAX);
        }
        for (_, waker) in release.wake {
            waker.wake();
        }
    }
}

// === impl LockFuture ===

/// The wait for a turn; see [`TurnLock::lock`].
#[derive(Debug)]
#[must_use = "the request is queued until this future completes or is dropped"]
pub struct LockFuture<'a> {
    lock: &'a TurnLock,
    step: Step,
}

#[derive(Debug)]
enum Step {
    /// A member of flight `flight`, waiting under `ticket`.
    Queued { flight: u64, ticket: u64 },
    /// Refused before queueing.
    Failed(LockError),
    /// Completed.
    Done,
}

impl<'a> Future for LockFuture<'a> {
    type Output = Result<TurnGuard<'a>, LockError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let lock = self.lock;
        let (flight, ticket) = match std::mem::replace(&mut self.step, Step::Done) {
            Step::Queued { flight, ticket } => (flight, ticket),
            Step::Failed(e) => return Poll::Ready(Err(e)),
            Step::Done => return Poll::Ready(Err(LockError::Closed)),
        };
        {
            let mut st = lock.state();
            if !st.closed {
                match st.flights.iter().position(|f| f.key == flight) {
                    Some(0) => return Poll::Ready(Ok(TurnGuard { lock, flight })),
                    Some(pos) => {
                        let waiters = &mut st.flights[pos].waiters;
                        match waiters.iter_mut().find(|(t, _)| *t == ticket) {
                            Some((_, w)) => w.clone_from(cx.waker()),
                            None => waiters.push((ticket, cx.waker().clone())),
                        }
                        drop(st);
                        self.step = Step::Queued { flight, ticket };
                        return Poll::Pending;
                    }
                    None => {}
                }
            }
        }
        lock.release(flight, Some(ticket));
        Poll::Ready(Err(LockError::Closed))
    }
}

impl Drop for LockFuture<'_> {
    fn drop(&mut self) {
        if let Step::Queued { flight, ticket } = self.step {
            self.lock.release(flight, Some(ticket));
        }
    }
}

// === impl TurnGuard ===

/// A held turn; dropping it ends the turn.
#[derive(Debug)]
#[must_use = "the turn ends when the guard is dropped"]
pub struct TurnGuard<'a> {
    lock: &'a TurnLock,
    flight: u64,
}

impl TurnGuard<'_> {
    /// Completes when the lock is closed (the actor is being deactivated):
    /// the holder should stop, as Go cancels the call's context.
    pub async fn closed(&self) {
        self.lock.wait_closed().await;
    }

    /// Whether the lock has been closed.
    pub fn is_closed(&self) -> bool {
        self.lock.is_closed()
    }
}

impl Drop for TurnGuard<'_> {
    fn drop(&mut self) {
        self.lock.release(self.flight, None);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;
    use std::time::Duration;

    use super::*;

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct Probe {
        count: Arc<Count>,
        waker: Waker,
    }

    impl Probe {
        fn new() -> Probe {
            let count = Arc::new(Count::default());
            Probe {
                waker: Waker::from(Arc::clone(&count)),
                count,
            }
        }

        fn wakes(&self) -> usize {
            self.count.0.load(Ordering::SeqCst)
        }

        fn poll<F: Future + Unpin>(&self, f: &mut F) -> Poll<F::Output> {
            Pin::new(f).poll(&mut Context::from_waker(&self.waker))
        }

        /// Polls `f`, which must be done.
        fn ready<F: Future + Unpin>(&self, f: &mut F) -> F::Output {
            match self.poll(f) {
                Poll::Ready(v) => v,
                Poll::Pending => panic!("still pending"),
            }
        }
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<TurnLock>();
        check::<LockFuture<'static>>();
        check::<TurnGuard<'static>>();
    }

    #[test]
    fn fifo_order_with_several_waiters() {
        let lock = TurnLock::new(None);
        let p = Probe::new();
        let g0 = p.ready(&mut lock.lock(None)).unwrap();
        let mut waiting: Vec<LockFuture<'_>> = (0..3).map(|_| lock.lock(None)).collect();
        for f in &mut waiting {
            assert!(p.poll(f).is_pending());
        }
        assert_eq!(lock.waiting(), 3);
        drop(g0);
        assert_eq!(p.wakes(), 1, "only the next one is woken");
        for i in 0..3 {
            let (now, later) = waiting[i..].split_at_mut(1);
            let g = p.ready(&mut now[0]).unwrap();
            for f in later.iter_mut() {
                assert!(p.poll(f).is_pending(), "{i}");
            }
            drop(g);
            assert_eq!(p.wakes(), if i < 2 { i + 2 } else { 3 });
        }
        assert!(lock.is_idle());
        assert!(p.ready(&mut lock.lock(None)).is_ok());
    }

    #[test]
    fn reentrant_requests_join_the_holder() {
        let lock = TurnLock::new(Some(DEFAULT_MAX_STACK_DEPTH));
        let p = Probe::new();
        let a1 = p.ready(&mut lock.lock(Some("a"))).unwrap();
        let a2 = p.ready(&mut lock.lock(Some("a"))).unwrap();
        let mut b = lock.lock(Some("b"));
        let mut anonymous = lock.lock(None);
        assert!(p.poll(&mut b).is_pending());
        drop(a1);
        assert!(p.poll(&mut b).is_pending(), "a2 still holds the turn");
        drop(a2);
        let b1 = p.ready(&mut b).unwrap();
        assert!(p.poll(&mut anonymous).is_pending());
        drop(b1);
        assert!(p.ready(&mut anonymous).is_ok());
    }

    #[test]
    fn reentrant_requests_join_a_queued_flight() {
        let lock = TurnLock::new(Some(5));
        let p = Probe::new();
        let a = p.ready(&mut lock.lock(Some("a"))).unwrap();
        let mut b1 = lock.lock(Some("b"));
        let mut c = lock.lock(Some("c"));
        let mut b2 = lock.lock(Some("b"));
        for f in [&mut b1, &mut c, &mut b2] {
            assert!(p.poll(f).is_pending());
        }
        drop(a);
        // Both b's run together, ahead of c.
        let g1 = p.ready(&mut b1).unwrap();
        let g2 = p.ready(&mut b2).unwrap();
        assert!(p.poll(&mut c).is_pending());
        drop(g1);
        assert!(p.poll(&mut c).is_pending());
        drop(g2);
        assert!(p.ready(&mut c).is_ok());
    }

    #[test]
    fn without_reentrancy_the_same_id_queues() {
        let lock = TurnLock::new(None);
        let p = Probe::new();
        let a = p.ready(&mut lock.lock(Some("a"))).unwrap();
        let mut again = lock.lock(Some("a"));
        assert!(p.poll(&mut again).is_pending());
        drop(a);
        assert!(p.ready(&mut again).is_ok());
    }

    #[test]
    fn stack_depth_is_refused_without_wedging_the_actor() {
        let lock = TurnLock::new(Some(2));
        let p = Probe::new();
        let a1 = p.ready(&mut lock.lock(Some("a"))).unwrap();
        let a2 = p.ready(&mut lock.lock(Some("a"))).unwrap();
        for _ in 0..3 {
            let err = p.ready(&mut lock.lock(Some("a"))).unwrap_err();
            assert_eq!(err, LockError::StackDepth);
            assert_eq!(err.to_string(), "maximum stack depth exceeded");
        }
        drop(a2);
        drop(a1);
        assert!(lock.is_idle(), "Go would leave the flight at depth 3 here");
        // A depth of zero refuses every reentrant join but not the first call.
        let strict = TurnLock::new(Some(0));
        let _first = p.ready(&mut strict.lock(Some("x"))).unwrap();
        assert_eq!(
            p.ready(&mut strict.lock(Some("x"))).unwrap_err(),
            LockError::StackDepth
        );
    }

    #[test]
    fn close_fails_waiters_and_waits_for_holders() {
        let lock = TurnLock::new(Some(DEFAULT_MAX_STACK_DEPTH));
        let p = Probe::new();
        let holder = p.ready(&mut lock.lock(Some("h"))).unwrap();
        let mut queued = lock.lock(None);
        let mut joined = lock.lock(Some("q"));
        let mut idle = Box::pin(lock.closed_and_idle());
        let mut holder_closed = Box::pin(holder.closed());
        assert!(p.poll(&mut queued).is_pending());
        assert!(p.poll(&mut joined).is_pending());
        assert!(p.poll(&mut idle).is_pending());
        assert!(p.poll(&mut holder_closed).is_pending());
        let before = p.wakes();

        lock.close();
        assert!(p.wakes() >= before + 2, "waiters are woken");
        assert_eq!(lock.waiting(), 0);
        assert_eq!(
            p.ready(&mut lock.lock(None)).unwrap_err(),
            LockError::Closed
        );
        assert_eq!(
            p.ready(&mut lock.lock(Some("h"))).unwrap_err(),
            LockError::Closed
        );
        p.ready(&mut holder_closed);
        assert!(holder.is_closed());
        assert!(p.poll(&mut idle).is_pending(), "the holder still runs");
        drop(holder_closed);
        drop(holder);
        // Idle once the holder is gone, before the waiters even look.
        p.ready(&mut idle);
        assert!(lock.is_idle());
        assert_eq!(p.ready(&mut queued).unwrap_err(), LockError::Closed);
        assert_eq!(p.ready(&mut joined).unwrap_err(), LockError::Closed);
        lock.close(); // idempotent
        assert_eq!(
            LockError::Closed.message("remind/r1"),
            "actor is closed, cannot handle remind/r1"
        );
    }

    #[test]
    fn closing_an_idle_lock_is_idle_at_once() {
        let lock = TurnLock::new(None);
        let p = Probe::new();
        lock.close();
        p.ready(&mut Box::pin(lock.closed_and_idle()));
        p.ready(&mut Box::pin(lock.wait_closed()));
    }

    #[test]
    fn dropped_waiters_leave_the_queue() {
        let lock = TurnLock::new(None);
        let p = Probe::new();
        let holder = p.ready(&mut lock.lock(None)).unwrap();
        let mut first = lock.lock(None);
        let mut second = lock.lock(None);
        assert!(p.poll(&mut first).is_pending());
        assert!(p.poll(&mut second).is_pending());
        drop(first);
        assert_eq!(lock.waiting(), 1);
        drop(holder);
        let g = p.ready(&mut second).unwrap();
        // Never polled at all: still queued, then gone when dropped.
        let unpolled = lock.lock(None);
        assert_eq!(lock.waiting(), 1);
        drop(unpolled);
        drop(g);
        assert!(lock.is_idle());
    }

    #[test]
    fn a_waiter_dropped_after_its_turn_came_passes_it_on() {
        let lock = TurnLock::new(None);
        let p = Probe::new();
        let holder = p.ready(&mut lock.lock(None)).unwrap();
        let mut woken = lock.lock(None);
        let mut next = lock.lock(None);
        assert!(p.poll(&mut woken).is_pending());
        assert!(p.poll(&mut next).is_pending());
        drop(holder); // hands the turn to `woken`, which never looks
        drop(woken);
        assert!(p.ready(&mut next).is_ok());
    }

    #[test]
    fn a_dropped_joiner_keeps_the_flight_for_the_others() {
        let lock = TurnLock::new(Some(DEFAULT_MAX_STACK_DEPTH));
        let p = Probe::new();
        let holder = p.ready(&mut lock.lock(None)).unwrap();
        let mut b1 = lock.lock(Some("b"));
        let mut b2 = lock.lock(Some("b"));
        let mut c = lock.lock(None);
        for f in [&mut b1, &mut b2, &mut c] {
            assert!(p.poll(f).is_pending());
        }
        drop(b1);
        drop(holder);
        let g = p.ready(&mut b2).unwrap();
        assert!(p.poll(&mut c).is_pending());
        drop(g);
        assert!(p.ready(&mut c).is_ok());
    }

    /// Lets the other tasks of the runtime run once.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn contention_across_threads() {
        const ROUNDS: usize = 200;
        let lock = Arc::new(TurnLock::new(Some(DEFAULT_MAX_STACK_DEPTH)));
        let inside = Arc::new(AtomicBool::new(false));
        let turns = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (lock, inside, turns) =
                    (Arc::clone(&lock), Arc::clone(&inside), Arc::clone(&turns));
                std::thread::spawn(move || {
                    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                        .enable_timer()
                        .build()
                        .unwrap();
                    rt.block_on(async move {
                        // Three tasks per thread, each taking turns.
                        let tasks: Vec<_> = (0..3)
                            .map(|_| {
                                let (lock, inside, turns) =
                                    (Arc::clone(&lock), Arc::clone(&inside), Arc::clone(&turns));
                                monoio::spawn(async move {
                                    for i in 0..ROUNDS {
                                        let guard = lock.lock(None).await.unwrap();
                                        assert!(!inside.swap(true, Ordering::SeqCst));
                                        if i % 16 == 0 {
                                            monoio::time::sleep(Duration::from_micros(50)).await;
                                        } else {
                                            YieldOnce(false).await;
                                        }
                                        inside.store(false, Ordering::SeqCst);
                                        turns.fetch_add(1, Ordering::SeqCst);
                                        drop(guard);
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await;
                        }
                    });
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(turns.load(Ordering::SeqCst), 2 * 3 * ROUNDS);
        assert!(lock.is_idle());
    }

    #[test]
    fn close_from_another_thread_wakes_a_waiter() {
        let lock = Arc::new(TurnLock::new(None));
        let p = Probe::new();
        let holder = p.ready(&mut lock.lock(None)).unwrap();
        let waiter = {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || {
                let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                    .build()
                    .unwrap();
                rt.block_on(async move { lock.lock(None).await.map(drop) })
            })
        };
        while lock.waiting() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        lock.close();
        assert_eq!(waiter.join().unwrap(), Err(LockError::Closed));
        drop(holder);
        assert!(lock.is_idle());
    }
}
