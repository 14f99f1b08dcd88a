//! A small, fixed set of threads that do all password hashing and verification.
//!
//! argon2id at OWASP's parameters costs ~19 MiB and tens of milliseconds of CPU per call. Run on
//! the general blocking pool, a flood of log-ins would hash on hundreds of threads at once:
//! memory grows with the flood (each thread's allocator arena keeps its 19 MiB), and the CPU
//! left for serving pages vanishes. Here the number of hashes in flight is the number of
//! threads, the queue in front of them is bounded, and a request that finds the queue full is
//! told to try again instead of waiting without limit (DESIGN.md, "Security rules").

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The hashing threads and their bounded queue. Cheap to clone (one handle to the same pool).
#[derive(Clone)]
pub struct PasswordPool {
    queue: SyncSender<Job>,
    threads: usize,
}

/// The pool's queue is full: too many password checks are waiting already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks are waiting; try again in a moment")]
pub struct PoolBusy;

impl std::fmt::Debug for PasswordPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordPool")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// The default number of hashing threads: half the CPUs, at least one, so the other half
/// keeps serving pages during a flood of log-ins.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1)
}

impl PasswordPool {
    /// Starts `threads` hashing threads (at least 1) with room for `queue` waiting jobs (at
    /// least 1). The threads end when every handle to the pool is dropped.
    ///
    /// # Errors
    /// If the operating system cannot start a thread (at start-up, before serving).
    pub fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (tx, rx) = sync_channel::<Job>(queue.max(1));
        let rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    loop {
                        // Hold the lock only to take a job, not while running it.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Self { queue: tx, threads })
    }

    /// How many hashing threads the pool has.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` (a hash or a verification) on one of the pool's threads and returns its
    /// result.
    ///
    /// # Errors
    /// [`PoolBusy`] when the queue is full, or when the pool's threads have stopped.
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolBusy>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Box::new(move || {
            // The requester may have gone (client disconnected): nothing to tell.
            let _ = tx.send(work());
        }))?;
        rx.await.map_err(|_| PoolBusy)
    }

    /// Runs `work` on one of the pool's threads and waits for its result, blocking the
    /// calling thread: for code that already runs on a blocking thread (the service layer,
    /// the command line), never on an async worker.
    ///
    /// # Errors
    /// As [`PasswordPool::run`].
    pub fn run_blocking<T, F>(&self, work: F) -> Result<T, PoolBusy>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(Box::new(move || {
            let _ = tx.send(work());
        }))?;
        rx.recv().map_err(|_| PoolBusy)
    }

    /// Queues `job`, or refuses at once when the queue is full: a request is told to try
    /// again rather than wait without limit.
    fn submit(&self, job: Job) -> Result<(), PoolBusy> {
        match self.queue.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(PoolBusy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn runs_work_and_returns_its_result() {
        let pool = PasswordPool::new(2, 4).unwrap();
        assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
    }

    #[test]
    fn a_blocking_caller_gets_the_result_from_a_pool_thread_or_is_refused_when_full() {
        let pool = PasswordPool::new(1, 1).unwrap();
        let name = pool
            .run_blocking(|| std::thread::current().name().map(str::to_owned))
            .unwrap();
        assert_eq!(name.as_deref(), Some("password-0"));
        // One job running (held on the gate) and one queued fill the pool…
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let holder = pool.clone();
        let running = std::thread::spawn(move || {
            holder.run_blocking(move || {
                started_tx.send(()).unwrap();
                gate.recv().unwrap();
            })
        });
        started.recv().unwrap();
        let queued = {
            let p = pool.clone();
            std::thread::spawn(move || p.run_blocking(|| 7))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        // …so a third is refused at once instead of waiting.
        assert_eq!(pool.run_blocking(|| ()), Err(PoolBusy));
        release.send(()).unwrap();
        assert_eq!(running.join().unwrap(), Ok(()));
        assert_eq!(queued.join().unwrap(), Ok(7));
    }

    #[tokio::test]
    async fn never_runs_more_jobs_at_once_than_it_has_threads_and_refuses_past_its_queue() {
        let pool = PasswordPool::new(1, 2).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let job = |running: Arc<AtomicUsize>,
                   most: Arc<AtomicUsize>,
                   gate: Arc<Mutex<std::sync::mpsc::Receiver<()>>>| {
            move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let _ = gate.lock().unwrap().recv();
                running.fetch_sub(1, Ordering::SeqCst);
            }
        };
        // One running (blocked on the gate) and two queued fill the pool…
        let mut waiting = Vec::new();
        for _ in 0..3 {
            let p = pool.clone();
            let j = job(running.clone(), most.clone(), release_rx.clone());
            waiting.push(tokio::spawn(async move { p.run(j).await }));
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // …so a fourth is refused at once.
        assert_eq!(pool.run(|| ()).await, Err(PoolBusy));
        for _ in 0..3 {
            release_tx.send(()).unwrap();
        }
        for w in waiting {
            assert_eq!(w.await.unwrap(), Ok(()));
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "one thread, one job at a time"
        );
    }
}
