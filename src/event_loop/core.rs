//! The state one loop shares with all its handles.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::{Handle, LoopError};
use crate::blocking::Pool;
use crate::queue::{Entry, Queue};
use crate::reactor::Reactor;
use crate::remote::{Inbox, RemoteShared};
use crate::task::waker;
use crate::task::Tasks;
use crate::timer::TimerQueue;

/// Entries a turn drains before the loop looks at I/O and timers again.
pub(crate) const DRAIN_BUDGET: usize = 256;

/// The error hook: shared so it can be called with no borrow held, even if it replaces itself.
pub(crate) type ErrorHook = Rc<dyn Fn(&Handle, LoopError)>;

/// Everything one loop owns. Each field has its own cell, and no borrow of one is held while user
/// code (a callback, a future's `poll`, a `Drop` of user data) runs.
pub(crate) struct Core {
    pub(crate) queue: RefCell<Queue>,
    pub(crate) timers: RefCell<TimerQueue>,
    pub(crate) reactor: Reactor,
    pub(crate) tasks: RefCell<Tasks>,
    pub(crate) remote: Arc<RemoteShared>,
    /// Spare inbox buffers, swapped with the remote inbox each time it is emptied.
    pub(crate) spare: RefCell<Inbox>,
    /// Wakers collected by the reactor and the timers, woken once their borrows are released.
    pub(crate) wake_buf: RefCell<Vec<Waker>>,
    origin: Instant,
    /// Nanoseconds since `origin`, read once per turn.
    now: Cell<u64>,
    /// `now` is from an earlier turn.
    time_stale: Cell<bool>,
    pub(crate) running: Cell<bool>,
    pub(crate) stopping: Cell<bool>,
    pub(crate) keep_alive: Cell<usize>,
    /// `block_on` is running: only then does a wake of the main future mean anything.
    pub(crate) in_block_on: Cell<bool>,
    /// The `block_on` future was woken and its entry is in the queue.
    pub(crate) main_woken: Cell<bool>,
    /// The `block_on` future's entry came up in the queue: poll it now.
    pub(crate) main_due: Cell<bool>,
    /// Operations the running task may still do before it must yield.
    pub(crate) budget: Cell<u32>,
    /// Queue entries dispatched since I/O was last polled.
    pub(crate) since_io: Cell<usize>,
    pub(crate) error_hook: RefCell<Option<ErrorHook>>,
    /// The blocking pool, started on first use.
    pub(crate) blocking: RefCell<Option<Arc<Pool>>>,
}

impl Core {
    pub(crate) fn new() -> std::io::Result<Core> {
        let reactor = Reactor::new()?;
        let remote = RemoteShared::new(reactor.registry())?;
        Ok(Core {
            queue: RefCell::new(Queue::with_capacity(1024)),
            timers: RefCell::new(TimerQueue::default()),
            reactor,
            tasks: RefCell::new(Tasks::default()),
            remote,
            spare: RefCell::new(Inbox::default()),
            wake_buf: RefCell::new(Vec::with_capacity(64)),
            origin: Instant::now(),
            now: Cell::new(0),
            time_stale: Cell::new(true),
            running: Cell::new(false),
            stopping: Cell::new(false),
            keep_alive: Cell::new(0),
            in_block_on: Cell::new(false),
            main_woken: Cell::new(false),
            main_due: Cell::new(false),
            budget: Cell::new(crate::task::BUDGET),
            since_io: Cell::new(0),
            error_hook: RefCell::new(None),
            blocking: RefCell::new(None),
        })
    }

    /// Converts an instant to the timer clock, saturating at both ends.
    pub(crate) fn instant_to_ns(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.origin);
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn ns_to_instant(&self, ns: u64) -> Option<Instant> {
        self.origin.checked_add(Duration::from_nanos(ns))
    }

    /// Reads the clock now.
    pub(crate) fn clock_ns(&self) -> u64 {
        self.instant_to_ns(Instant::now())
    }

    /// The time cached at the start of this turn (read now if it was marked stale). Never later
    /// than the real time.
    pub(crate) fn now_ns(&self) -> u64 {
        if self.time_stale.get() {
            self.update_time();
        }
        self.now.get()
    }

    pub(crate) fn update_time(&self) {
        self.time_stale.set(false);
        self.now.set(self.clock_ns());
    }

    /// A new turn began and nothing needed the time: read the clock on first use instead.
    pub(crate) fn mark_time_stale(&self) {
        self.time_stale.set(true);
    }

    /// Queues task `key`/`gen` unless it is already queued. `MAIN_KEY` is the `block_on` future,
    /// which queues like a task (so `yield_now` puts it behind everything already queued); a stale
    /// waker of an earlier `block_on` is ignored.
    #[inline]
    pub(crate) fn schedule(&self, key: u32, gen: u32) {
        self.schedule_into(&mut self.queue.borrow_mut(), key, gen);
    }

    /// Routes a waker that the reactor or the timers found while the queue is borrowed: this
    /// loop's own wakers schedule their task on the spot (no vtable call, no thread-local); any
    /// other waker goes to `foreign`, to be woken once no borrow is held.
    #[inline]
    pub(crate) fn route_waker(&self, queue: &mut Queue, w: Waker, foreign: &mut Vec<Waker>) {
        match waker::decode(&w) {
            Some((index, key, gen)) if index == self.remote.index => {
                self.schedule_into(queue, key, gen)
            }
            _ => foreign.push(w),
        }
    }

    /// [`Core::schedule`] with the queue already borrowed.
    #[inline]
    pub(crate) fn schedule_into(&self, queue: &mut Queue, key: u32, gen: u32) {
        let queued = if key == waker::MAIN_KEY {
            self.in_block_on.get() && !self.main_woken.replace(true)
        } else {
            self.tasks.borrow_mut().schedule(key, gen)
        };
        if queued {
            queue.push(Entry::Task { key, gen });
        }
    }

    /// A deadline `delay` after the present moment (the real clock, so a timer armed late in a long
    /// turn still never fires early).
    pub(crate) fn deadline_after(&self, delay: Duration) -> u64 {
        match Instant::now().checked_add(delay) {
            Some(at) => self.instant_to_ns(at),
            None => crate::timer::NEVER,
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        // Cheapest and most often true first: a server is kept alive by its sockets.
        self.reactor.is_referenced()
            || !self.queue.borrow().is_empty()
            || self.timers.borrow().is_referenced()
            || self.keep_alive.get() > 0
            || self.remote.is_notified()
            || self
                .blocking
                .borrow()
                .as_ref()
                .is_some_and(|p| p.in_flight() > 0)
    }
}
