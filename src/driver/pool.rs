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
        let spawned = std::thread::Builder::new()
            .name("evloop-blocking".into())
            .spawn(move || pool.worker());
        if let Err(e) = spawned {
            let mut state = lock(&self.state);
            state.threads -= 1;
            if state.threads == 0 {
                // Ours is the last job queued: nothing ran since it was pushed (no thread exists).
                if let Some(job) = state.jobs.pop_back() {
                    self.in_flight.fetch_sub(1, Ordering::AcqRel);
                    drop(state);
                    return Err((e, job));
                }
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
