//! Blocking work off the loop: [`spawn_blocking`] runs a closure on a bounded thread pool and hands
//! the result back to the loop thread.
//!
//! The pool belongs to the loop. Threads start only when a job finds none idle (up to the limit set
//! with [`Handle::set_blocking_threads`], 16 by default) and retire after ten idle seconds. Jobs
//! beyond the limit wait in a FIFO queue. The loop never waits on the pool: while jobs are in flight
//! it stays alive, and each finished job wakes it.
//!
//! ```
//! use std::time::Duration;
//!
//! let lp = evloop::EventLoop::new()?;
//! let loop_thread = std::thread::current().id();
//! let (on_pool, answer) = lp.block_on(async {
//!     let job = evloop::spawn_blocking(move || {
//!         std::thread::sleep(Duration::from_millis(1)); // blocks a pool thread, not the loop
//!         (std::thread::current().id() != loop_thread, 42)
//!     });
//!     job.await.unwrap()
//! });
//! assert!(on_pool);
//! assert_eq!(answer, 42);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::driver::pool::{Pool, DEFAULT_MAX_THREADS};
use crate::event_loop::handle::refused;
use crate::event_loop::Handle;
use crate::runtime::submit::Refused;
use crate::sync::{NeedsClone, NewWaker};
use crate::task::JoinError;

/// Where a job leaves its result and finds the waker of the task awaiting it.
struct Slot<T> {
    result: Option<Result<T, JoinError>>,
    waker: Option<Waker>,
    /// The job could not be submitted at all.
    failed: Option<std::io::Error>,
}

/// Runs `f` on the current loop's blocking pool; await the handle for its result.
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// let sum = lp.block_on(async {
///     evloop::spawn_blocking(|| (1..=100u64).sum::<u64>()).await
/// });
/// assert_eq!(sum.unwrap(), 5050);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn spawn_blocking<F, T>(f: F) -> BlockingHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Handle::current().spawn_blocking(f)
}

impl Handle {
    /// Runs `f` on this loop's blocking pool; see [`spawn_blocking`].
    ///
    /// # Panics
    ///
    /// If the loop has been dropped (after dropping `f`); see [`Handle`]. While it is being
    /// dropped, `f` is dropped unrun and the handle yields [`JoinError::Cancelled`].
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let digest = lp.spawn_blocking(|| {
    ///     // Blocking or CPU-heavy work runs on a pool thread; the loop goes on meanwhile.
    ///     std::fs::read_dir(".").map(|d| d.count())
    /// });
    /// let entries = lp.block_on(digest).unwrap()?;
    /// assert!(entries > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, T>(&self, f: F) -> BlockingHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(Mutex::new(Slot {
            result: None,
            waker: None,
            failed: None,
        }));
        let f = match self.core.admit(f) {
            Ok(f) => f,
            Err(refusal) => {
                lock(&slot).result = Some(Err(JoinError::Cancelled));
                let refusal: Result<(), Refused> = Err(refusal);
                refused(refusal, "spawn_blocking", ());
                return BlockingHandle { slot };
            }
        };
        let theirs = slot.clone();
        let job = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::Panic);
            let waker = {
                let mut s = lock(&theirs);
                s.result = Some(result);
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        if let Err((e, job)) = self.blocking_pool().submit(job) {
            // The job holds `f`: dropped with no lock held, then the handle learns why.
            self.core.discard(job);
            lock(&slot).failed = Some(e);
        }
        BlockingHandle { slot }
    }

    /// Sets how many threads the blocking pool may run at once (at least 1).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.set_blocking_threads(2); // at most two jobs at once; the others wait their turn
    /// let jobs: Vec<_> = (0..4u64).map(|i| lp.spawn_blocking(move || i * i)).collect();
    /// let squares = lp.block_on(async {
    ///     let mut out = Vec::new();
    ///     for job in jobs {
    ///         out.push(job.await.unwrap());
    ///     }
    ///     out
    /// });
    /// assert_eq!(squares, [0, 1, 4, 9]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_blocking_threads(&self, n: usize) {
        self.blocking_pool().set_max_threads(n);
    }

    pub(crate) fn blocking_pool(&self) -> Arc<Pool> {
        let mut pool = self.core.blocking.borrow_mut();
        pool.get_or_insert_with(|| {
            let remote = self.core.remote.clone();
            Pool::new(Box::new(move || remote.wake_loop()), DEFAULT_MAX_THREADS)
        })
        .clone()
    }
}

/// The result of a [`spawn_blocking`] job, as a future.
///
/// It yields `Ok(value)`, or [`JoinError::Panic`] if the closure panicked. Dropping it does not stop
/// the job (a running thread cannot be interrupted); its result is then dropped.
///
/// ```
/// use evloop::task::JoinError;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let sum = evloop::spawn_blocking(|| (1..=100u64).sum::<u64>());
///     assert_eq!(sum.await.unwrap(), 5050);
///     let failed = evloop::spawn_blocking(|| panic!("in the pool"));
///     assert!(matches!(failed.await, Err(JoinError::Panic(_))));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct BlockingHandle<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Future for BlockingHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A foreign waker is cloned and dropped with the slot unlocked: its code may wait for the
        // job, which locks the slot to leave its result.
        let mut new = NewWaker::new(cx.waker());
        loop {
            let mut slot = lock(&self.slot);
            if let Some(r) = slot.result.take() {
                return Poll::Ready(r);
            }
            if let Some(e) = slot.failed.take() {
                return Poll::Ready(Err(JoinError::ThreadSpawn(e)));
            }
            match new.store(&mut slot.waker) {
                Ok(()) => return Poll::Pending,
                Err(NeedsClone) => new.clone_after(slot),
            }
        }
    }
}

/// A pool job's failure as an `io::Error`, for the operations that are one job (files, name
/// lookups): a thread that could not be started keeps its OS error's kind; a panic and a
/// cancellation (the loop is being dropped) are `Other` errors that say so.
pub(crate) fn join_error_to_io(e: JoinError) -> std::io::Error {
    use std::io::Error;
    match e {
        JoinError::ThreadSpawn(e) => Error::new(
            e.kind(),
            format!("could not start a blocking pool thread: {e}"),
        ),
        JoinError::Cancelled => {
            Error::other("the blocking job was cancelled: the event loop is shutting down")
        }
        JoinError::Panic(p) => Error::other(format!(
            "the blocking job panicked: {}",
            crate::runtime::payload_str(p.as_ref())
        )),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing user-provided runs under these locks, so a poisoned one still holds consistent data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> fmt::Debug for BlockingHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingHandle").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn join_errors_become_io_errors_that_say_why() {
        let spawn = join_error_to_io(JoinError::ThreadSpawn(ErrorKind::WouldBlock.into()));
        assert_eq!(spawn.kind(), ErrorKind::WouldBlock);
        let cancelled = join_error_to_io(JoinError::Cancelled);
        assert_eq!(cancelled.kind(), ErrorKind::Other);
        assert!(cancelled.to_string().contains("cancelled"));
        let panic = join_error_to_io(JoinError::Panic(Box::new("boom")));
        assert_eq!(panic.kind(), ErrorKind::Other);
        assert!(panic.to_string().contains("panicked: boom"), "{panic}");
    }
}
