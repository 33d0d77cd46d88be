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
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

mod core;
pub(crate) use self::core::Core;
pub(crate) mod current;
mod error;
mod handle;
mod turn;

pub(crate) use error::payload_str;
pub use error::LoopError;
pub use handle::{spawn, CallbackId, Handle, KeepAlive};
use turn::Wait;

use crate::task::waker;

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
        let handle = Handle {
            core: Rc::new(self::core::Core::new()?),
        };
        current::set_default(&handle);
        Ok(EventLoop { handle })
    }

    /// The loop's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs until [`Handle::stop`] (or [`Remote::stop`](crate::Remote::stop)) is called, or until
    /// nothing is left that could make progress: no queued work, no timer and no watcher that keeps
    /// the loop alive, no [`KeepAlive`] guard.
    ///
    /// Tasks do not keep the loop alive by themselves, only what they wait on (a socket, a timer);
    /// use [`EventLoop::block_on`] to run until a future completes.
    ///
    /// # Errors
    ///
    /// If polling the OS fails, or if the loop is already running (called from a callback).
    pub fn run(&self) -> io::Result<()> {
        let _enter = self.enter("EventLoop::run")?;
        let core = &self.handle.core;
        while !core.stopping.get() && core.is_alive() {
            self.handle.turn(Wait::Block)?;
        }
        core.stopping.set(false);
        Ok(())
    }

    /// Runs one turn, sleeping in the poller if nothing is queued and the loop is alive. Returns
    /// whether the loop is still alive afterwards.
    ///
    /// # Errors
    ///
    /// As for [`EventLoop::run`].
    pub fn run_once(&self) -> io::Result<bool> {
        let _enter = self.enter("EventLoop::run_once")?;
        let wait = if self.handle.core.is_alive() {
            Wait::Block
        } else {
            Wait::NoWait
        };
        self.handle.turn(wait)?;
        self.handle.core.stopping.set(false);
        Ok(self.handle.core.is_alive())
    }

    /// Runs one turn without ever sleeping. Returns whether the loop is still alive.
    ///
    /// # Errors
    ///
    /// As for [`EventLoop::run`].
    pub fn run_nowait(&self) -> io::Result<bool> {
        let _enter = self.enter("EventLoop::run_nowait")?;
        self.handle.turn(Wait::NoWait)?;
        self.handle.core.stopping.set(false);
        Ok(self.handle.core.is_alive())
    }

    fn enter(&self, what: &str) -> io::Result<current::Enter> {
        current::Enter::new(&self.handle, what).map_err(io::Error::other)
    }

    /// Runs the loop (every task, callback and timer) until `future` completes, and returns its
    /// output. [`Handle::stop`] has no effect on `block_on`.
    ///
    /// # Panics
    ///
    /// If called while this loop is already running (from inside a task or callback): await the
    /// future instead. If polling the OS fails. A panic of `future` itself propagates.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = match self.enter("EventLoop::block_on") {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        };
        let core = &self.handle.core;
        let mut future = pin!(future);
        let waker = waker::waker(core.remote.index, waker::MAIN_KEY, 0);
        let mut cx = Context::from_waker(&waker);
        let _block_on = BlockOn::new(core);
        loop {
            if core.main_due.replace(false) {
                core.budget.set(crate::task::BUDGET);
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    core.stopping.set(false);
                    return out;
                }
            }
            core.stopping.set(false);
            if let Err(e) = self.handle.turn(Wait::Block) {
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
        if !core.queue.borrow().is_empty() || core.remote.is_notified() {
            return Some(Duration::ZERO);
        }
        let next = core.timers.borrow_mut().next_deadline()?;
        if next == crate::timer::NEVER {
            return None;
        }
        Some(Duration::from_nanos(next.saturating_sub(core.clock_ns())))
    }

    /// Number of live tasks (spawned and not finished).
    pub fn task_count(&self) -> usize {
        self.handle.core.tasks.borrow().len()
    }

    /// Number of live timers, and of registered watchers and sockets.
    pub fn pending_counts(&self) -> (usize, usize) {
        let core = &self.handle.core;
        (core.timers.borrow().len(), core.reactor.len())
    }
}

/// Marks `block_on` as running, and unmarks it however `block_on` ends (also by a panic).
struct BlockOn<'a>(&'a self::core::Core);

impl<'a> BlockOn<'a> {
    fn new(core: &'a self::core::Core) -> Self {
        core.in_block_on.set(true);
        // Poll the future once before the first turn.
        core.main_due.set(true);
        BlockOn(core)
    }
}

impl Drop for BlockOn<'_> {
    fn drop(&mut self) {
        self.0.in_block_on.set(false);
        self.0.main_woken.set(false);
        self.0.main_due.set(false);
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
        self.handle.core.reactor.as_raw_fd()
    }
}

impl Drop for EventLoop {
    /// Drops every pending task's future (exactly once), callback, timer and watcher. Dropping them
    /// may queue more work (a destructor that spawns or posts); that is dropped too.
    fn drop(&mut self) {
        let core = &self.handle.core;
        let late_posts = core.remote.close();
        drop(late_posts);
        for _ in 0..16 {
            let tasks = core.tasks.borrow_mut().drain();
            for t in &tasks {
                t.shutdown();
            }
            drop(tasks);
            let callbacks = core.queue.borrow_mut().clear();
            drop(callbacks);
            let timers = core.timers.borrow_mut().clear();
            drop(timers);
            let (watches, wakers) = core.reactor.clear();
            drop(watches);
            drop(wakers);
            if core.tasks.borrow().len() == 0
                && core.queue.borrow().is_empty()
                && core.timers.borrow().len() == 0
            {
                break;
            }
        }
        if let Some(pool) = core.blocking.borrow_mut().take() {
            pool.shutdown();
        }
        *core.error_hook.borrow_mut() = None;
        current::unset(&self.handle);
    }
}
