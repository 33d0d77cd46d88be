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
//!
//! ```
//! use evloop::EventLoop;
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! let lp = EventLoop::new()?;
//! let log = Rc::new(RefCell::new(Vec::new()));
//! let l = log.clone();
//! lp.call_soon(move |h| {
//!     l.borrow_mut().push("first");
//!     let l = l.clone();
//!     h.call_soon(move |_| l.borrow_mut().push("queued by first: the next turn"));
//! });
//! let l = log.clone();
//! lp.call_soon(move |_| l.borrow_mut().push("second"));
//! lp.run()?;
//! assert_eq!(*log.borrow(), ["first", "second", "queued by first: the next turn"]);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
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
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// assert!(!lp.is_alive(), "nothing to do yet");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<EventLoop> {
        let handle = Handle { core: Core::new()? };
        current::set_default(&handle);
        Ok(EventLoop { handle })
    }

    /// The loop's handle.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// // A clone is cheap: keep one in the structs and callbacks that need to reach the loop.
    /// let handle = lp.handle().clone();
    /// handle.call_soon(|_| println!("queued through a handle"));
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// let l = log.clone();
    /// lp.call_later(Duration::from_millis(2), move |h| {
    ///     l.borrow_mut().push("timer");
    ///     let l = l.clone();
    ///     h.call_soon(move |_| l.borrow_mut().push("then a callback"));
    /// });
    /// lp.run()?; // sleeps until the timer is due, runs both, and returns: nothing is left
    /// assert_eq!(*log.borrow(), ["timer", "then a callback"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run(&self) -> io::Result<()> {
        let _enter = self.enter("EventLoop::run", RunState::Running)?;
        self.handle.core.drive(&self.handle, None)
    }

    /// Runs one turn, sleeping in the poller if nothing is queued and the loop is alive. Returns
    /// whether the loop is still alive afterwards.
    ///
    /// # Errors
    ///
    /// As for [`EventLoop::run`].
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.call_later(Duration::from_millis(1), |_| println!("due"));
    /// let mut turns = 0;
    /// // Each turn sleeps until there is something to do (here, the timer), then does it.
    /// while lp.run_once()? {
    ///     turns += 1;
    /// }
    /// assert!(turns < 10 && !lp.is_alive());
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// // Embedded in a host's own loop: one turn at a time, never blocking the host.
    /// let lp = evloop::EventLoop::new()?;
    /// let ran = Rc::new(Cell::new(false));
    /// let r = ran.clone();
    /// lp.call_soon(move |_| r.set(true));
    /// let alive = lp.run_nowait()?;
    /// assert!(ran.get());
    /// assert!(!alive, "nothing is left to do");
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let answer = lp.block_on(async {
    ///     let helper = evloop::spawn(async { 21 });
    ///     evloop::time::sleep(Duration::from_millis(1)).await;
    ///     helper.await.unwrap() * 2
    /// });
    /// assert_eq!(answer, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
        let waker = waker::waker(core.index, waker::MAIN_KEY, 0);
        let mut cx = Context::from_waker(&waker);
        let mut output = None;
        let mut poll = || {
            let start = core.main_poll_start();
            let polled = future.as_mut().poll(&mut cx);
            if let Some(start) = start {
                core.main_poll_end(start, site);
            }
            match polled {
                Poll::Ready(out) => {
                    output = Some(out);
                    true
                }
                Poll::Pending => false,
            }
        };
        if let Err(e) = core.drive(&self.handle, Some(&mut poll)) {
            panic!("evloop: polling the OS failed inside block_on: {e}");
        }
        output.expect("evloop: `drive` returns from `block_on` only once its future is ready")
    }

    /// Whether [`EventLoop::run`] would find something to do.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// assert!(!lp.is_alive());
    /// let timer = lp.call_later(Duration::from_secs(60), |_| {});
    /// assert!(lp.is_alive(), "a timer keeps it alive");
    /// lp.set_timer_keep_alive(timer, false);
    /// assert!(!lp.is_alive(), "unless it is unreferenced");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        self.handle.core.is_alive()
    }

    /// How long the loop may sleep before it has work, for a host loop that polls
    /// [`as_raw_fd`](AsRawFd::as_raw_fd) itself: `Some(ZERO)` if work is queued, the time to the next
    /// timer, or `None` if only an event can bring work. Then call [`EventLoop::run_nowait`].
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// assert_eq!(lp.next_timeout(), None, "only an event could bring work");
    /// lp.call_later(Duration::from_secs(5), |_| {});
    /// assert!(lp.next_timeout().unwrap() <= Duration::from_secs(5));
    /// lp.call_soon(|_| {});
    /// assert_eq!(lp.next_timeout(), Some(Duration::ZERO), "work is queued");
    /// // A host loop would now wait on `lp.as_raw_fd()` for at most that long, then:
    /// lp.run_nowait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let task = lp.spawn(async { 1 });
    /// assert_eq!(lp.task_count(), 1);
    /// assert_eq!(lp.block_on(task).unwrap(), 1);
    /// assert_eq!(lp.task_count(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn task_count(&self) -> usize {
        self.handle.core.with(|d| d.tasks.len())
    }

    /// Number of live timers, and of registered watchers and sockets.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let timer = lp.call_later(Duration::from_secs(60), |_| {});
    /// let socket = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    /// let watcher = lp.watch(socket, mio::Interest::READABLE, |_, _, _| {})?;
    /// assert_eq!(lp.pending_counts(), (1, 1));
    /// lp.cancel_timer(timer);
    /// lp.unwatch(watcher);
    /// assert_eq!(lp.pending_counts(), (0, 0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pending_counts(&self) -> (usize, usize) {
        self.handle.core.with(|d| (d.timers.len(), d.reactor.len()))
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (timers, watchers) = self.pending_counts();
        f.debug_struct("EventLoop")
            .field("handle", &self.handle)
            .field("run", &self.handle.core.run.get())
            .field("tasks", &self.task_count())
            .field("timers", &timers)
            .field("watchers", &watchers)
            .finish()
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
