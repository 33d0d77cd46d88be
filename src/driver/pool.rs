//! The thread pool behind `spawn_blocking`: bounded, started lazily, idle threads retire.
//!
//! It knows nothing of the loop: a finished job calls the `notify` function it was built with (the
//! runtime's, which wakes the loop), and a job that cannot be started is handed back rather than
//! dropped under the pool's lock (a job holds the user's closure, whose `Drop` is user code).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A job: runs the user's closure and delivers its result itself.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// How long a thread waits for work before it retires.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Threads a pool starts at most, unless configured otherwise.
pub(crate) const DEFAULT_MAX_THREADS: usize = 16;

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    max_threads: usize,
    shutdown: bool,
}

pub(crate) struct Pool {
    state: Mutex<State>,
    work: Condvar,
    /// Jobs submitted and not finished; the loop stays alive while it is non-zero.
    in_flight: AtomicUsize,
    /// Wakes the loop when a job ends, so `run` can notice that nothing is left.
    notify: Box<dyn Fn() + Send + Sync>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // Jobs run outside the lock and their panics are caught, so the state stays consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pool {
    pub(crate) fn new(notify: Box<dyn Fn() + Send + Sync>, max_threads: usize) -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State {
                max_threads: max_threads.max(1),
                ..State::default()
            }),
            work: Condvar::new(),
            in_flight: AtomicUsize::new(0),
            notify,
        })
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Jobs waiting for a thread, jobs running, and threads started (busy or idle).
    pub(crate) fn stats(&self) -> (usize, usize, usize) {
        let state = lock(&self.state);
        let running = state.threads - state.idle;
        (
            state.jobs.len(),
            running.min(self.in_flight()),
            state.threads,
        )
    }

    pub(crate) fn set_max_threads(&self, n: usize) {
        lock(&self.state).max_threads = n.max(1);
    }

    /// Queues `job`, starting a thread if none is idle and the limit allows.
    ///
    /// # Errors
    ///
    /// If a thread is needed and none can be started (and none exists to take the job later):
    /// the OS error, and the job, handed back to be dropped with no lock held.
    pub(crate) fn submit(self: &Arc<Self>, job: Job) -> Result<(), (std::io::Error, Job)> {
        let mut state = lock(&self.state);
        state.jobs.push_back(job);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        if state.idle > 0 {
            drop(state);
            self.work.notify_one();
            return Ok(());
        }
        if state.threads >= state.max_threads {
            return Ok(()); // a busy thread takes it when done
        }
        state.threads += 1;
        drop(state);
        let pool = self.clone();
        #[cfg(test)]
        if tests::FAIL_SPAWN.with(|f| f.get()) {
            drop(pool);
            return self.spawn_failed(std::io::Error::other("injected: no more threads"));
        }
        let spawned = std::thread::Builder::new()
            .name("evloop-blocking".into())
            .spawn(move || pool.worker());
        match spawned {
            Ok(_) => Ok(()),
            Err(e) => self.spawn_failed(e),
        }
    }

    /// A thread could not be started for the job just queued: if no thread exists to take it
    /// later, take it back out and hand it back with the error.
    fn spawn_failed(&self, e: std::io::Error) -> Result<(), (std::io::Error, Job)> {
        let mut state = lock(&self.state);
        state.threads -= 1;
        if state.threads == 0 {
            // Ours is the last job queued: nothing ran since it was pushed (no thread exists), and
            // only the loop thread submits.
            if let Some(job) = state.jobs.pop_back() {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                drop(state);
                return Err((e, job));
            }
        }
        Ok(())
    }

    fn worker(&self) {
        let mut state = lock(&self.state);
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                job();
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                (self.notify)();
                state = lock(&self.state);
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, IDLE_TIMEOUT)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.jobs.is_empty() {
                break;
            }
        }
        state.threads -= 1;
    }

    /// Lets the threads finish their current job and exit; queued jobs still run. Never waits.
    pub(crate) fn shutdown(&self) {
        lock(&self.state).shutdown = true;
        self.work.notify_all();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use super::Pool;

    thread_local! {
        /// Makes the next thread start fail, as the OS does when it runs out of threads.
        pub(crate) static FAIL_SPAWN: Cell<bool> = const { Cell::new(false) };
    }

    /// A job whose thread cannot start comes back to the caller with the error, so that the
    /// user's closure is dropped outside the pool's lock: here its `Drop` takes that lock, which
    /// deadlocked when the job was dropped inside it.
    #[test]
    fn a_job_that_cannot_start_is_handed_back_unlocked() {
        struct UsesPool(Arc<Mutex<Option<Arc<Pool>>>>, Arc<AtomicBool>);
        impl Drop for UsesPool {
            fn drop(&mut self) {
                if let Some(pool) = self.0.lock().unwrap().as_ref() {
                    pool.set_max_threads(2); // locks the pool's state
                }
                self.1.store(true, Ordering::SeqCst);
            }
        }
        let pool = Pool::new(Box::new(|| {}), 4);
        let shared = Arc::new(Mutex::new(Some(pool.clone())));
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = UsesPool(shared.clone(), dropped.clone());
        FAIL_SPAWN.with(|f| f.set(true));
        let result = pool.submit(Box::new(move || drop(guard)));
        FAIL_SPAWN.with(|f| f.set(false));
        let Err((err, job)) = result else {
            panic!("the start failed");
        };
        assert!(err.to_string().contains("injected"));
        assert_eq!(pool.in_flight(), 0, "the job is not counted in flight");
        assert!(!dropped.load(Ordering::SeqCst), "handed back, not dropped");
        drop(job);
        assert!(dropped.load(Ordering::SeqCst));
        shared.lock().unwrap().take();
    }
}
