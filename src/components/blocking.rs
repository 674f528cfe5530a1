//! A small pool of threads for blocking work (file system calls), so a
//! worker never stalls on a slow disk.
//!
//! This is the one deliberate cross-core piece of the bindings: jobs are
//! boxed closures sent over a `flume` channel to [`THREADS`] threads,
//! started on first use; each answer comes back over a one-slot channel the
//! worker awaits without blocking. Local-disk calls are short, so a couple
//! of threads serve every worker.

use std::sync::OnceLock;

/// Threads in the pool.
pub const THREADS: usize = 2;

type Job = Box<dyn FnOnce() + Send>;

fn pool() -> Option<&'static flume::Sender<Job>> {
    static POOL: OnceLock<Option<flume::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = flume::unbounded::<Job>();
        let mut started = 0;
        for i in 0..THREADS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("daprd-blocking-{i}"))
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "could not start a blocking-work thread"),
            }
        }
        (started > 0).then_some(tx)
    })
    .as_ref()
}

/// Runs `f` on the pool and waits for its result without blocking the
/// worker (inline when the pool cannot be started). `None` when the job
/// panicked.
pub async fn run<T, F>(f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let Some(pool) = pool() else {
        return Some(f());
    };
    let (tx, rx) = flume::bounded(1);
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    if let Err(flume::SendError(job)) = pool.send(job) {
        // The pool is gone (cannot happen while the process runs): do it here.
        job();
    }
    rx.recv_async().await.ok()
}
