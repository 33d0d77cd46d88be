//! `Handle`: the cheap, cloneable way to reach a loop from the loop thread.

use std::fmt;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::Interest;

use super::core::Core;
use super::{current, LoopError};
use crate::queue::Entry;
use crate::reactor::watcher::Watch;
use crate::reactor::{IoEvent, WatcherId};
use crate::remote::Remote;
use crate::task::{JoinHandle, Spawned};
use crate::timer::{Action, EveryCallback, Periodic, TimerId};

/// A reference to an event loop, for use on the loop's thread.
///
/// Every callback receives one; cloning it is a non-atomic reference-count increment. It is neither
/// `Send` nor `Sync`: to reach the loop from another thread use [`Handle::remote`].
///
/// ```
/// use evloop::EventLoop;
/// use std::time::Duration;
///
/// let lp = EventLoop::new()?;
/// lp.call_soon(|h| {
///     h.call_later(Duration::from_millis(1), |_| println!("a millisecond later"));
/// });
/// lp.run()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) core: Rc<Core>,
}

/// Identifies a callback queued with [`Handle::call_soon`], to cancel it before it runs.
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
    pub fn current() -> Handle {
        Self::try_current().expect(
            "evloop: no event loop on this thread; create an EventLoop first, or call this from \
             inside a callback or task",
        )
    }

    /// The loop current on this thread, if any.
    pub fn try_current() -> Option<Handle> {
        current::with_current(|h| h.cloned())
    }

    pub(crate) fn same_loop(&self, other: &Handle) -> bool {
        Rc::ptr_eq(&self.core, &other.core)
    }

    /// Queues `f` to run once, after everything already queued (first in, first out).
    ///
    /// Callbacks queued while the loop drains its queue run in the next turn, after I/O and timers
    /// have been looked at.
    pub fn call_soon<F>(&self, f: F) -> CallbackId
    where
        F: FnOnce(&Handle) + 'static,
    {
        let pushed = self.core.queue.borrow_mut().push_callback(Box::new(f));
        match pushed {
            Ok((key, id)) => CallbackId { key, id },
            // The loop was dropped: the callback can never run.
            Err(f) => {
                drop(f);
                CallbackId {
                    key: u32::MAX,
                    id: 0,
                }
            }
        }
    }

    /// Cancels a queued callback. Returns whether it was still pending (it will not run).
    pub fn cancel_callback(&self, id: CallbackId) -> bool {
        let cb = self.core.queue.borrow_mut().take_callback(id.key, id.id);
        cb.is_some()
    }

    /// Runs `f` once, no sooner than `delay` from now.
    ///
    /// A `delay` too large to represent (`Duration::MAX`) gives a timer that never fires.
    pub fn call_later<F>(&self, delay: Duration, f: F) -> TimerId
    where
        F: FnOnce(&Handle) + 'static,
    {
        let deadline = self.core.deadline_after(delay);
        self.add_timer(deadline, Action::once(Box::new(f)))
    }

    /// Runs `f` once, no sooner than `at`. An instant in the past runs it in the next turn.
    pub fn call_at<F>(&self, at: Instant, f: F) -> TimerId
    where
        F: FnOnce(&Handle) + 'static,
    {
        let deadline = self.core.instant_to_ns(at);
        self.add_timer(deadline, Action::once(Box::new(f)))
    }

    /// Runs `f` every `period`, the first time one `period` from now, until cancelled.
    ///
    /// **Missed ticks are skipped.** Ticks are due at `start + k * period`. If the loop was busy and a
    /// tick is late, `f` runs once, and the next tick is the first one of that schedule that is
    /// still in the future: a stalled loop never causes a burst of calls, and the schedule does not
    /// drift. A zero `period` is treated as one nanosecond.
    pub fn call_every<F>(&self, period: Duration, f: F) -> TimerId
    where
        F: FnMut(&Handle) + 'static,
    {
        let deadline = self.core.deadline_after(period);
        let period = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1);
        let callback: EveryCallback = Box::new(Periodic {
            period,
            deadline,
            callback: f,
        });
        self.add_timer(deadline, Action::every(callback))
    }

    /// Arms a timer; once the loop is dropped, drops the action instead and returns an id that is
    /// never live.
    pub(crate) fn add_timer(&self, deadline: u64, action: Action) -> TimerId {
        let inserted = self.core.timers.borrow_mut().insert(deadline, action);
        inserted.unwrap_or_else(|action| {
            drop(action);
            TimerId {
                key: u32::MAX,
                id: 0,
            }
        })
    }

    /// Cancels a timer. Returns whether it was live; after this it never fires, even if it was
    /// already due in the current turn. Cancelling a periodic timer from its own callback is allowed.
    pub fn cancel_timer(&self, id: TimerId) -> bool {
        let action = self.core.timers.borrow_mut().cancel(id);
        action.is_some()
    }

    /// Whether `id` names a timer that has neither fired (for one-shot timers) nor been cancelled.
    pub fn timer_is_live(&self, id: TimerId) -> bool {
        self.core.timers.borrow().contains(id)
    }

    /// Marks whether a timer keeps [`EventLoop::run`](crate::EventLoop::run) going (libuv's
    /// ref/unref). A timer that does not still fires while the loop runs for other reasons.
    /// Returns false if the timer is gone.
    pub fn set_timer_keep_alive(&self, id: TimerId, keep_alive: bool) -> bool {
        self.core.timers.borrow_mut().set_keep_alive(id, keep_alive)
    }

    /// Registers `source` with `interest` and calls `f` with the source each time it becomes ready.
    ///
    /// The watcher owns the source until [`Handle::unwatch`], which deregisters and drops it.
    /// Readiness is edge-triggered: on each event, read or write until `WouldBlock`.
    ///
    /// # Errors
    ///
    /// Whatever the OS says when registering the source (for example, a descriptor that cannot be
    /// polled).
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
    pub fn watch<S, F>(&self, source: S, interest: Interest, f: F) -> io::Result<WatcherId>
    where
        S: Source + 'static,
        F: FnMut(&Handle, &mut S, IoEvent) + 'static,
    {
        let watch = Box::new(Watch {
            source,
            callback: f,
        });
        self.core.reactor.watch(watch, interest)
    }

    /// Changes what a watcher waits for. From inside the watcher's own callback the change applies
    /// when the callback returns.
    ///
    /// # Errors
    ///
    /// `NotFound` if the watcher is gone; otherwise what the OS says.
    pub fn set_interest(&self, id: WatcherId, interest: Interest) -> io::Result<()> {
        self.core.reactor.set_interest(id, interest)
    }

    /// Removes a watcher: deregisters and drops its source and callback (from inside its own
    /// callback, as soon as the callback returns). A pending event for it is never delivered.
    /// Returns whether the watcher existed.
    pub fn unwatch(&self, id: WatcherId) -> bool {
        let (existed, watch) = self.core.reactor.unwatch(id);
        drop(watch);
        existed
    }

    /// Marks whether a watcher keeps [`EventLoop::run`](crate::EventLoop::run) going (libuv's
    /// ref/unref). Returns false if the watcher is gone.
    pub fn set_watcher_keep_alive(&self, id: WatcherId, keep_alive: bool) -> bool {
        self.core.reactor.set_keep_alive(id.key, id.gen, keep_alive)
    }

    /// A `Send + Sync` handle to post work to this loop from other threads.
    pub fn remote(&self) -> Remote {
        Remote {
            shared: self.core.remote.clone(),
        }
    }

    /// Asks [`EventLoop::run`](crate::EventLoop::run) to return after the entry being dispatched.
    /// What is still queued stays queued for the next run.
    pub fn stop(&self) {
        self.core.stopping.set(true);
    }

    /// The time at the start of the current turn (cheap: no clock read).
    pub fn now(&self) -> Instant {
        self.core
            .ns_to_instant(self.core.now_ns())
            .unwrap_or_else(Instant::now)
    }

    /// Keeps [`EventLoop::run`](crate::EventLoop::run) going while the guard lives, even with nothing
    /// else to do (for example while waiting for posts from another thread).
    pub fn keep_alive(&self) -> KeepAlive {
        self.core.keep_alive.set(self.core.keep_alive.get() + 1);
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
    pub fn set_error_hook<F>(&self, hook: F)
    where
        F: Fn(&Handle, LoopError) + 'static,
    {
        *self.core.error_hook.borrow_mut() = Some(Rc::new(hook));
    }

    pub(crate) fn report(&self, error: LoopError) {
        let hook = self.core.error_hook.borrow().clone();
        match hook {
            Some(hook) => hook(self, error),
            None => eprintln!("evloop: {error}"),
        }
    }

    /// Spawns a task on this loop. The future need not be `Send`; it starts running in a later turn.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let task = lp.spawn(async { "done" });
    /// assert_eq!(lp.block_on(task).unwrap(), "done");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let (join, spawned) = self
            .core
            .tasks
            .borrow_mut()
            .insert(self.core.remote.index, future);
        match spawned {
            Spawned::Queued(key, gen) => {
                self.core.queue.borrow_mut().push(Entry::Task { key, gen })
            }
            // The loop was dropped: the task is cancelled at once, its future dropped here.
            Spawned::Refused(task) => task.shutdown(),
        }
        join
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("loop", &self.core.remote.index)
            .finish()
    }
}

/// Keeps a loop alive while it exists; see [`Handle::keep_alive`].
#[derive(Debug)]
pub struct KeepAlive {
    handle: Handle,
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        let core = &self.handle.core;
        core.keep_alive.set(core.keep_alive.get() - 1);
    }
}

/// Spawns a task on the current loop (see [`Handle::current`]).
///
/// # Panics
///
/// If this thread has no event loop.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    Handle::current().spawn(future)
}
