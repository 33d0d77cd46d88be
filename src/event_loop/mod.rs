//! The event loop: one thread, one queue.
//!
//! # One turn of the loop
//!
//! 1. **Poll I/O.** Wait for readiness through `mio`: not at all if work is already queued, else no
//!    longer than the next timer, else until an event or a post from another thread. Watcher events
//!    become queue entries; socket events wake the tasks waiting on them (a queue entry each).
//! 2. **Update time.** The clock is read once per turn.
//! 3. **Fire due timers.** Due callback timers become queue entries in `(deadline, arming order)`;
//!    due sleeps wake their tasks.
//! 4. **Take remote work.** Posts and wake-ups from other threads join the queue.
//! 5. **Drain the queue.** Run the entries that were queued when the drain began (at most 256), one
//!    at a time, with no loop state borrowed. Entries queued meanwhile wait for the next turn, so a
//!    callback that re-queues itself cannot starve I/O or timers.
//!
//! While work remains queued, step 1 is skipped until 256 entries have run since the last poll:
//! I/O is never more than one drain budget away, and a busy loop does not pay a `epoll_wait` for
//! every few callbacks.

use std::future::Future;
use std::io;
use std::ops::Deref;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

mod debug;
mod dump;
pub(crate) mod handle;
mod hooks;
mod metrics;

pub use crate::runtime::{Handle, LoopError};
pub use dump::{Dump, TaskDump};
pub use handle::{spawn, CallbackId, KeepAlive};
pub use hooks::TurnHookId;
pub use metrics::{Histogram, Metrics};

use crate::runtime::current;
use crate::runtime::state::RunState;
use crate::runtime::turn::Wait;
use crate::runtime::{waker, Core};

/// A single-threaded event loop: a reactor, a timer queue and a task executor around one message
/// queue.
///
/// It is not `Send`: create it on the thread that runs it. It dereferences to its [`Handle`], so
/// everything a handle can do (queue callbacks, arm timers, watch sources, spawn tasks) can be done
/// on the loop directly.
///
/// ```
/// use evloop::EventLoop;
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// let lp = EventLoop::new()?;
/// let ticks = Rc::new(Cell::new(0));
/// let t = ticks.clone();
/// lp.call_every(Duration::from_millis(1), move |h| {
///     t.set(t.get() + 1);
///     if t.get() == 3 {
///         h.stop();
///     }
/// });
/// lp.run()?;
/// assert_eq!(ticks.get(), 3);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventLoop {
    handle: Handle,
}

impl EventLoop {
    /// Creates a loop. The first loop created on a thread becomes that thread's current loop.
    ///
    /// # Errors
    ///
    /// If the OS poller cannot be created (for example, out of file descriptors).
    pub fn new() -> io::Result<EventLoop> {
        let handle = Handle { core: Core::new()? };
        current::set_default(&handle);
        Ok(EventLoop { handle })
    }

    /// The loop's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs until [`Handle::stop`] (or [`Remote::stop`](crate::Remote::stop)) is called, or until
    /// nothing is left that could make progress: no queued work, no timer and no watcher that keeps
    /// the loop alive, no [`KeepAlive`] guard, no blocking job in flight.
    ///
    /// Tasks do not keep the loop alive by themselves, only what they wait on (a socket, a timer);
    /// use [`EventLoop::block_on`] to run until a future completes.
    ///
    /// # Errors
    ///
    /// If polling the OS fails, or if the loop is already running (called from a callback).
    pub fn run(&self) -> io::Result<()> {
        let _enter = self.enter("EventLoop::run", RunState::Running)?;
        let core = &self.handle.core;
        while !core.run.get().is_stopping() && core.is_alive() {
            core.turn(&self.handle, Wait::Block)?;
        }
        Ok(())
    }

    /// Runs one turn, sleeping in the poller if nothing is queued and the loop is alive. Returns
    /// whether the loop is still alive afterwards.
    ///
    /// # Errors
    ///
    /// As for [`EventLoop::run`].
    pub fn run_once(&self) -> io::Result<bool> {
        let _enter = self.enter("EventLoop::run_once", RunState::Running)?;
        let core = &self.handle.core;
        let wait = if core.is_alive() {
            Wait::Block
        } else {
            Wait::NoWait
        };
        core.turn(&self.handle, wait)?;
        Ok(core.is_alive())
    }

    /// Runs one turn without ever sleeping. Returns whether the loop is still alive.
    ///
    /// # Errors
    ///
    /// As for [`EventLoop::run`].
    pub fn run_nowait(&self) -> io::Result<bool> {
        let _enter = self.enter("EventLoop::run_nowait", RunState::Running)?;
        let core = &self.handle.core;
        core.turn(&self.handle, Wait::NoWait)?;
        Ok(core.is_alive())
    }

    fn enter(&self, what: &str, state: RunState) -> io::Result<current::Enter> {
        current::Enter::new(&self.handle, what, state).map_err(io::Error::other)
    }

    /// Runs the loop (every task, callback and timer) until `future` completes, and returns its
    /// output. [`Handle::stop`] has no effect on `block_on`.
    ///
    /// If the future waits while nothing could ever wake it (no timers, sockets, watchers,
    /// remote handles, keep-alive guards or blocking jobs, and its waker was never cloned), the
    /// error hook is told ([`LoopError::Stalled`]), once, and `block_on` goes on waiting as asked.
    ///
    /// # Panics
    ///
    /// If called while this loop is already running (from inside a task or callback): await the
    /// future instead. If polling the OS fails. A panic of `future` itself propagates.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = match self.enter("EventLoop::block_on", RunState::BlockOnDue) {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        };
        let core = &self.handle.core;
        let site = std::panic::Location::caller();
        core.stall_reported.set(false);
        let mut future = pin!(future);
        let waker = waker::waker(core.remote.index, waker::MAIN_KEY, 0);
        let mut cx = Context::from_waker(&waker);
        loop {
            // Polled first, before any turn, then each time its entry comes up.
            if core.run.get() == RunState::BlockOnDue {
                core.run.set(RunState::BlockOn);
                core.budget.set(crate::task::BUDGET);
                let start = core.main_poll_start();
                let polled = future.as_mut().poll(&mut cx);
                if let Some(start) = start {
                    core.main_poll_end(start, site);
                }
                if let Poll::Ready(out) = polled {
                    return out;
                }
            }
            if let Err(e) = core.turn(&self.handle, Wait::Block) {
                panic!("evloop: polling the OS failed inside block_on: {e}");
            }
        }
    }

    /// Whether [`EventLoop::run`] would find something to do.
    pub fn is_alive(&self) -> bool {
        self.handle.core.is_alive()
    }

    /// How long the loop may sleep before it has work, for a host loop that polls
    /// [`as_raw_fd`](AsRawFd::as_raw_fd) itself: `Some(ZERO)` if work is queued, the time to the next
    /// timer, or `None` if only an event can bring work. Then call [`EventLoop::run_nowait`].
    pub fn next_timeout(&self) -> Option<Duration> {
        let core = &self.handle.core;
        if !core.with(|d| d.queue.is_empty()) || core.remote.is_notified() {
            return Some(Duration::ZERO);
        }
        let next = core.with(|d| d.timers.next_deadline())?;
        if next == crate::driver::timers::NEVER {
            return None;
        }
        Some(Duration::from_nanos(next.saturating_sub(core.clock_ns())))
    }

    /// Number of live tasks (spawned and not finished).
    pub fn task_count(&self) -> usize {
        self.handle.core.with(|d| d.tasks.len())
    }

    /// Number of live timers, and of registered watchers and sockets.
    pub fn pending_counts(&self) -> (usize, usize) {
        self.handle.core.with(|d| (d.timers.len(), d.reactor.len()))
    }
}

impl Deref for EventLoop {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl AsRawFd for EventLoop {
    /// The poller's descriptor: readable when the loop has I/O or posts to process.
    fn as_raw_fd(&self) -> RawFd {
        self.handle.core.with(|d| d.reactor.as_raw_fd())
    }
}

impl Drop for EventLoop {
    /// Drops every pending task's future (exactly once), callback, timer, watcher and post, then
    /// the error hook. Work that their destructors queue is dropped too, without running. A panic
    /// of a destructor is reported to the error hook and the teardown goes on; if the hook
    /// resumes it, it continues once the loop is fully torn down.
    fn drop(&mut self) {
        self.handle.core.close(&self.handle);
    }
}
