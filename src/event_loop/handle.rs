//! `Handle`: the cheap, cloneable way to reach a loop from the loop thread.

use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::Interest;

use super::LoopError;
use crate::driver::reactor::{IoEvent, WatcherId};
use crate::driver::timers::{Periodic, TimerId};
use crate::runtime::core::Action;
use crate::runtime::current;
use crate::runtime::remote::Remote;
use crate::runtime::submit::{Refused, DEAD_CALLBACK, DEAD_TIMER};
use crate::runtime::watch::Watcher;
use crate::runtime::Handle;
use crate::task::{JoinHandle, TaskCell};

/// Identifies a callback queued with [`Handle::call_soon`], to cancel it before it runs.
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// let id = lp.call_soon(|_| panic!("cancelled, never runs"));
/// assert!(lp.cancel_callback(id));
/// lp.run()?;
/// assert!(!lp.cancel_callback(id), "a stale id does nothing");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId {
    key: u32,
    id: u64,
}

impl Handle {
    /// The loop current on this thread: the one running, or else the first one created on it.
    ///
    /// # Panics
    ///
    /// If this thread has no event loop; see [`Handle::try_current`].
    ///
    /// ```
    /// use evloop::Handle;
    ///
    /// // Library code that needs the loop without being handed it.
    /// fn log_soon(msg: &'static str) {
    ///     Handle::current().call_soon(move |_| println!("{msg}"));
    /// }
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// log_soon("hello from the current loop");
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn current() -> Handle {
        Self::try_current().expect(
            "evloop: no event loop on this thread; create an EventLoop first, or call this from \
             inside a callback or task",
        )
    }

    /// The loop current on this thread, if any.
    ///
    /// ```
    /// use evloop::Handle;
    ///
    /// let _lp = evloop::EventLoop::new()?;
    /// assert!(Handle::try_current().is_some());
    /// std::thread::spawn(|| assert!(Handle::try_current().is_none(), "no loop on that thread"))
    ///     .join()
    ///     .unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_current() -> Option<Handle> {
        current::with_current(|h| h.cloned())
    }

    pub(crate) fn same_loop(&self, other: &Handle) -> bool {
        Rc::ptr_eq(&self.core, &other.core)
    }

    /// Whether this handle's loop has been dropped (or is being dropped): it then takes no new
    /// work (see [`Handle`] for what its methods do then).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let handle = lp.handle().clone();
    /// assert!(!handle.is_closed());
    /// drop(lp);
    /// assert!(handle.is_closed(), "giving it work now would panic");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        !self.core.is_open()
    }

    /// Queues `f` to run once, after everything already queued (first in, first out).
    ///
    /// Callbacks queued while the loop drains its queue run in the next turn, after I/O and timers
    /// have been looked at.
    ///
    /// # Panics
    ///
    /// If the loop has been dropped (after dropping `f`); see [`Handle`].
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let order = Rc::new(RefCell::new(Vec::new()));
    /// for i in 0..3 {
    ///     let order = order.clone();
    ///     lp.call_soon(move |_| order.borrow_mut().push(i));
    /// }
    /// lp.run()?;
    /// assert_eq!(*order.borrow(), [0, 1, 2], "first in, first out");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn call_soon<F>(&self, f: F) -> CallbackId
    where
        F: FnOnce(&Handle) + 'static,
    {
        let f = self.core.traced_once(f);
        let (key, id) = refused(self.core.call_soon(f), "call_soon", DEAD_CALLBACK);
        CallbackId { key, id }
    }

    /// [`Handle::call_soon`] for library code that may run while the loop is being dropped or
    /// after (a destructor): the callback is dropped unrun then, without a panic.
    pub(crate) fn call_soon_quiet<F>(&self, f: F)
    where
        F: FnOnce(&Handle) + 'static,
    {
        let _ = self.core.call_soon(Box::new(f));
    }

    /// Cancels a queued callback. Returns whether it was still pending (it will not run).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let id = lp.call_soon(|_| unreachable!("cancelled"));
    /// assert!(lp.cancel_callback(id));
    /// assert!(!lp.cancel_callback(id), "already cancelled");
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel_callback(&self, id: CallbackId) -> bool {
        self.core.cancel_callback(id.key, id.id)
    }

    /// Runs `f` once, no sooner than `delay` from now.
    ///
    /// A `delay` too large to represent (`Duration::MAX`) gives a timer that never fires.
    ///
    /// # Panics
    ///
    /// If the loop has been dropped (after dropping `f`); see [`Handle`].
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let start = Instant::now();
    /// lp.call_later(Duration::from_millis(2), move |_| {
    ///     assert!(start.elapsed() >= Duration::from_millis(2), "never early");
    /// });
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn call_later<F>(&self, delay: Duration, f: F) -> TimerId
    where
        F: FnOnce(&Handle) + 'static,
    {
        let deadline = self.core.deadline_after(delay);
        self.add_timer(
            deadline,
            Action::once(self.core.traced_once(f)),
            "call_later",
        )
    }

    /// Runs `f` once, no sooner than `at`. An instant in the past runs it in the next turn.
    ///
    /// # Panics
    ///
    /// If the loop has been dropped (after dropping `f`); see [`Handle`].
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let at = Instant::now() + Duration::from_millis(2);
    /// lp.call_at(at, move |h| assert!(h.now() >= at));
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn call_at<F>(&self, at: Instant, f: F) -> TimerId
    where
        F: FnOnce(&Handle) + 'static,
    {
        let deadline = self.core.instant_to_ns(at);
        self.add_timer(deadline, Action::once(self.core.traced_once(f)), "call_at")
    }

    /// Runs `f` every `period`, the first time one `period` from now, until cancelled.
    ///
    /// **Missed ticks are skipped.** Ticks are due at `start + k * period`. If the loop was busy and a
    /// tick is late, `f` runs once, and the next tick is the first one of that schedule that is
    /// still in the future: a stalled loop never causes a burst of calls, and the schedule does not
    /// drift. A zero `period` is treated as one nanosecond.
    ///
    /// # Panics
    ///
    /// If the loop has been dropped (after dropping `f`); see [`Handle`].
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (ticks, me) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(None)));
    /// let (t, m) = (ticks.clone(), me.clone());
    /// let id = lp.call_every(Duration::from_millis(1), move |h| {
    ///     t.set(t.get() + 1);
    ///     if t.get() == 3 {
    ///         h.cancel_timer(m.get().unwrap()); // from its own callback
    ///     }
    /// });
    /// me.set(Some(id));
    /// lp.run()?; // returns once the timer is cancelled
    /// assert_eq!(ticks.get(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn call_every<F>(&self, period: Duration, mut f: F) -> TimerId
    where
        F: FnMut(&Handle) + 'static,
    {
        let deadline = self.core.deadline_after(period);
        let period = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1);
        let action = match self.core.traced_site() {
            Some(site) => Action::every(Box::new(Periodic {
                period,
                deadline,
                callback: move |h: &Handle| {
                    h.core.debug.enter(site);
                    f(h)
                },
            })),
            None => Action::every(Box::new(Periodic {
                period,
                deadline,
                callback: f,
            })),
        };
        self.add_timer(deadline, action, "call_every")
    }

    #[track_caller]
    fn add_timer(&self, deadline: u64, action: Action, what: &str) -> TimerId {
        refused(self.core.add_timer(deadline, action), what, DEAD_TIMER)
    }

    /// Cancels a timer. Returns whether it was live; after this it never fires, even if it was
    /// already due in the current turn. Cancelling a periodic timer from its own callback is allowed.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let id = lp.call_later(Duration::from_secs(60), |_| unreachable!("cancelled"));
    /// assert!(lp.cancel_timer(id));
    /// assert!(!lp.cancel_timer(id));
    /// lp.run()?; // returns at once: nothing is left
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel_timer(&self, id: TimerId) -> bool {
        self.core.cancel_timer(id)
    }

    /// Whether `id` names a timer that has neither fired (for one-shot timers) nor been cancelled.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let id = lp.call_later(Duration::ZERO, |_| {});
    /// assert!(lp.timer_is_live(id));
    /// lp.run()?;
    /// assert!(!lp.timer_is_live(id), "a one-shot timer that fired is gone");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timer_is_live(&self, id: TimerId) -> bool {
        self.core.with(|d| d.timers.contains(id))
    }

    /// Marks whether a timer keeps [`EventLoop::run`](crate::EventLoop::run) going (libuv's
    /// ref/unref). A timer that does not still fires while the loop runs for other reasons.
    /// Returns false if the timer is gone.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// // A background tick that should not keep the program running by itself.
    /// let tick = lp.call_every(Duration::from_millis(1), |_| {});
    /// assert!(lp.set_timer_keep_alive(tick, false));
    /// lp.call_later(Duration::from_millis(3), |_| println!("the real work"));
    /// lp.run()?; // returns after the real work, although `tick` is still armed
    /// assert!(lp.timer_is_live(tick));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_timer_keep_alive(&self, id: TimerId, keep_alive: bool) -> bool {
        self.core.with(|d| d.timers.set_keep_alive(id, keep_alive))
    }

    /// Registers `source` with `interest` and calls `f` with the source each time it becomes ready.
    ///
    /// The watcher owns the source until [`Handle::unwatch`], which deregisters and drops it.
    /// Readiness is edge-triggered: on each event, read or write until `WouldBlock`.
    ///
    /// The source's `register`, `reregister` and `deregister` are called with no loop state
    /// borrowed, so they may use the loop themselves.
    ///
    /// # Errors
    ///
    /// Whatever the OS says when registering the source (for example, a descriptor that cannot be
    /// polled); an error if the loop has been dropped. The source and `f` are dropped then.
    ///
    /// ```
    /// use evloop::EventLoop;
    /// use mio::{net::UdpSocket, Interest};
    ///
    /// let lp = EventLoop::new()?;
    /// let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    /// let addr = socket.local_addr()?;
    /// lp.watch(socket, Interest::READABLE, |h, sock, ev| {
    ///     let mut buf = [0; 64];
    ///     while let Ok(n) = sock.recv(&mut buf) {
    ///         assert_eq!(&buf[..n], b"ping");
    ///         h.unwatch(ev.watcher());
    ///     }
    /// })?;
    /// std::net::UdpSocket::bind("127.0.0.1:0")?.send_to(b"ping", addr)?;
    /// lp.run()?; // returns once the watcher is gone
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn watch<S, F>(&self, source: S, interest: Interest, f: F) -> io::Result<WatcherId>
    where
        S: Source + 'static,
        F: FnMut(&Handle, &mut S, IoEvent) + 'static,
    {
        let watch = Box::new(Watcher {
            source,
            callback: f,
            site: self.core.traced_site(),
        });
        self.core.watch(watch, interest)
    }

    /// Changes what a watcher waits for. From inside the watcher's own callback the change applies
    /// when the callback returns.
    ///
    /// # Errors
    ///
    /// `NotFound` if the watcher is gone; otherwise what the OS says.
    ///
    /// ```
    /// use evloop::EventLoop;
    /// use mio::{net::UdpSocket, Interest};
    ///
    /// let lp = EventLoop::new()?;
    /// let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    /// let me = socket.local_addr()?;
    /// // First wait to write (and send ourselves a datagram), then to read it back.
    /// lp.watch(socket, Interest::WRITABLE, move |h, sock, ev| {
    ///     if ev.is_writable() {
    ///         sock.send_to(b"ping", me).unwrap();
    ///         h.set_interest(ev.watcher(), Interest::READABLE).unwrap();
    ///     } else if ev.is_readable() {
    ///         let mut buf = [0; 8];
    ///         let (n, _) = sock.recv_from(&mut buf).unwrap();
    ///         assert_eq!(&buf[..n], b"ping");
    ///         h.unwatch(ev.watcher());
    ///     }
    /// })?;
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_interest(&self, id: WatcherId, interest: Interest) -> io::Result<()> {
        self.core.set_interest(id, interest)
    }

    /// Removes a watcher: deregisters and drops its source and callback (from inside its own
    /// callback, as soon as the callback returns). A pending event for it is never delivered.
    /// Returns whether the watcher existed.
    ///
    /// ```
    /// use mio::{net::UdpSocket, Interest};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    /// let id = lp.watch(socket, Interest::READABLE, |_, _, _| unreachable!())?;
    /// assert!(lp.unwatch(id), "deregistered, and the socket closed");
    /// assert!(!lp.unwatch(id));
    /// lp.run()?; // nothing keeps it alive any more
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unwatch(&self, id: WatcherId) -> bool {
        self.core.unwatch(id)
    }

    /// Marks whether a watcher keeps [`EventLoop::run`](crate::EventLoop::run) going (libuv's
    /// ref/unref). Returns false if the watcher is gone.
    ///
    /// ```
    /// use mio::{net::UdpSocket, Interest};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    /// let id = lp.watch(socket, Interest::READABLE, |_, _, _| {})?;
    /// assert!(lp.is_alive());
    /// assert!(lp.set_watcher_keep_alive(id, false));
    /// assert!(!lp.is_alive(), "still watched, but it does not keep `run` going");
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_watcher_keep_alive(&self, id: WatcherId, keep_alive: bool) -> bool {
        self.core
            .with(|d| d.reactor.set_keep_alive(id.key, id.gen, keep_alive))
    }

    /// A `Send + Sync` handle to post work to this loop from other threads.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let remote = lp.remote();
    /// let worker = std::thread::spawn(move || {
    ///     let answer = 6 * 7; // work done on another thread
    ///     remote.post(move |h| {
    ///         println!("the answer is {answer}");
    ///         h.stop();
    ///     })
    /// });
    /// let _alive = lp.keep_alive(); // until the post arrives
    /// lp.run()?;
    /// worker.join().unwrap().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remote(&self) -> Remote {
        Remote {
            shared: self.core.remote.clone(),
        }
    }

    /// Asks [`EventLoop::run`](crate::EventLoop::run) (or `run_once`, `run_nowait`) to return
    /// after the entry being dispatched. What is still queued stays queued for the next run. It
    /// has no effect on [`EventLoop::block_on`](crate::EventLoop::block_on), which runs until its
    /// future completes, nor outside a run.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let tick = lp.call_every(Duration::from_millis(1), |h| h.stop());
    /// lp.run()?; // returns after the first tick
    /// assert!(lp.timer_is_live(tick), "what was armed stays armed for the next run");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self) {
        let run = &self.core.run;
        run.set(run.get().stop());
    }

    /// The time at the start of the current turn, on the loop's clock (cheap: no clock read).
    ///
    /// The loop's clock is the monotonic clock of [`Instant`] until time is
    /// [paused](crate::time::pause) or [advanced](crate::time::advance); from then on it is ahead of
    /// (or, while paused, behind) `Instant::now()`. Deadlines given to [`sleep_until`] and
    /// [`interval_at`] are on this clock, so compute them from `now()`, not from `Instant::now()`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let h = evloop::Handle::current();
    ///     evloop::time::pause();
    ///     let start = h.now();
    ///     evloop::time::advance(Duration::from_secs(3600)).await;
    ///     assert_eq!(h.now() - start, Duration::from_secs(3600));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// It is read once per turn, so it is free to call often:
    ///
    /// ```
    /// use std::time::Instant;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.call_soon(|h| {
    ///     let turn_began = h.now();
    ///     assert!(turn_began <= Instant::now());
    ///     assert_eq!(h.now(), turn_began, "the same all turn long");
    /// });
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// [`sleep_until`]: crate::time::sleep_until
    /// [`interval_at`]: crate::time::interval_at
    pub fn now(&self) -> Instant {
        self.core
            .ns_to_instant(self.core.now_ns())
            .unwrap_or_else(Instant::now)
    }

    /// The loop's clock read now (not cached per turn); see [`now`](Self::now).
    pub(crate) fn clock_now(&self) -> Instant {
        self.core
            .ns_to_instant(self.core.clock_ns())
            .unwrap_or_else(Instant::now)
    }

    /// Keeps [`EventLoop::run`](crate::EventLoop::run) going while the guard lives, even with nothing
    /// else to do (for example while waiting for posts from another thread).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// assert!(!lp.is_alive());
    /// let guard = lp.keep_alive(); // say, while posts from another thread are expected
    /// assert!(lp.is_alive());
    /// drop(guard);
    /// assert!(!lp.is_alive());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn keep_alive(&self) -> KeepAlive {
        self.core.count_keep_alive(true);
        KeepAlive {
            handle: self.clone(),
        }
    }

    /// Replaces the hook that receives errors nobody else can: panics in callbacks and detached
    /// tasks, failed deferred interest changes, unobserved promise rejections.
    ///
    /// The default hook prints the error to stderr and the loop keeps running. To make a panic end
    /// `run`, re-raise it from the hook with [`LoopError::resume_unwind`]; the loop stays consistent and
    /// can be run again.
    ///
    /// The old hook is dropped after it has been replaced, with no loop state borrowed.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let errors = Rc::new(RefCell::new(Vec::new()));
    /// let e = errors.clone();
    /// lp.set_error_hook(move |_, error| e.borrow_mut().push(error.to_string()));
    /// lp.call_soon(|_| panic!("boom"));
    /// lp.call_soon(|_| println!("the loop goes on"));
    /// lp.run()?;
    /// assert_eq!(errors.borrow().len(), 1);
    /// assert!(errors.borrow()[0].contains("boom"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_error_hook<F>(&self, hook: F)
    where
        F: Fn(&Handle, LoopError) + 'static,
    {
        let old = self.core.replace_hook(Some(Rc::new(hook)));
        self.core.discard(old);
    }

    pub(crate) fn report(&self, error: LoopError) {
        self.core.report_to(self, error);
    }

    /// Spawns a task on this loop. The future need not be `Send`; it starts running in a later turn.
    ///
    /// # Panics
    ///
    /// If the loop has been dropped (after dropping `future`); see [`Handle`].
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let task = lp.spawn(async { "done" });
    /// assert_eq!(lp.block_on(task).unwrap(), "done");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        match self.spawn_named(future, Location::caller(), None) {
            Ok(task) => task,
            // Cancelled already, its future dropped: its handle says so.
            Err((refusal, task)) => refused(Err(refusal), "spawn", task),
        }
    }

    /// Spawns a task that the dump and debug mode know by `site` and `name`.
    pub(crate) fn spawn_named<F>(
        &self,
        future: F,
        site: &'static Location<'static>,
        name: Option<Rc<str>>,
    ) -> Spawned<F::Output>
    where
        F: Future + 'static,
    {
        match self
            .core
            .spawn(|waker| Rc::new(TaskCell::new(future, waker)), site, name)
        {
            Ok(task) => Ok(JoinHandle::new(task)),
            Err((refusal, task)) => Err((refusal, JoinHandle::new(task))),
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("loop", &self.core.index)
            .finish()
    }
}

/// A spawned task's handle, or the refusal with the handle of the task cancelled at once.
pub(crate) type Spawned<T> = Result<JoinHandle<T>, (Refused, JoinHandle<T>)>;

/// Keeps a loop alive while it exists; see [`Handle::keep_alive`].
///
/// ```
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// let guard = lp.keep_alive();
/// // Say a thread will post the result; until it does, `run` must not return.
/// let remote = lp.remote();
/// std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_millis(1));
///     remote.post(move |_| println!("result")).unwrap();
/// });
/// lp.call_later(Duration::from_millis(20), move |_| drop(guard)); // or when the result came
/// lp.run()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct KeepAlive {
    handle: Handle,
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.handle.core.count_keep_alive(false);
    }
}

/// The value of work that a loop took, or the stand-in for work it refused: while the loop is
/// being dropped that is all, once it was dropped it is a programming error.
#[track_caller]
pub(crate) fn refused<T>(result: Result<T, Refused>, what: &str, instead: T) -> T {
    match result {
        Ok(v) => v,
        Err(Refused::Closing) => instead,
        Err(Refused::Closed) => panic!(
            "evloop: Handle::{what} on an event loop that has been dropped; the work was dropped \
             without running. Keep the EventLoop alive while its handles are used, or check \
             Handle::is_closed() first"
        ),
    }
}

/// Spawns a task on the current loop (see [`Handle::current`]).
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// let sum = lp.block_on(async {
///     // On the current loop; the future need not be `Send`.
///     let shared = std::rc::Rc::new(20);
///     let s = shared.clone();
///     let task = evloop::spawn(async move { *s + 1 });
///     task.await.unwrap() + *shared
/// });
/// assert_eq!(sum, 41);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    Handle::current().spawn(future)
}
