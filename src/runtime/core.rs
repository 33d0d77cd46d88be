//! The state one loop shares with all its handles, and the only code that borrows it.
//!
//! All of a loop's containers live in one [`Driver`] behind one `RefCell`. [`Core::with`] is the
//! one way to reach them: it lends the driver to a closure that moves values in and out, and the
//! closure hands back whatever user data it removed or replaced. That data is dropped after the
//! borrow has ended, through [`Core::discard`] (see the runtime's `trash`); user code (a callback,
//! a future's `poll`, a waker of unknown origin, a `Source` method) is called the same way, never
//! from inside the closure. The containers of the driver cannot call user code
//! themselves, so a borrow can never be re-entered: that is what makes the rule structural.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::debug::DebugMode;
use super::error::LoopError;
use super::hooks::TurnHooks;
use super::metrics::Counters;
use super::remote::{Batch, Registration, RemoteShared};
use super::state::{Life, RunState};
use super::trash::{self, Panic};
use super::watch::Watch;
use super::{waker, Handle};
use crate::driver::pool::Pool;
use crate::driver::queue::{Entry, Queue};
use crate::driver::reactor::Reactor;
use crate::driver::tasks::Tasks;
use crate::driver::timers::{self, TimerQueue};

/// Entries a turn drains before the loop looks at I/O and timers again.
pub(crate) const DRAIN_BUDGET: usize = 256;

/// Operations a task may complete in one poll before it is made to yield (its cooperative
/// budget, spent by socket operations and channel receives).
pub(crate) const BUDGET: u32 = 128;

/// Queue entries (and callbacks) a loop keeps room for, however large a burst grew the queue.
pub(crate) const QUEUE_CAPACITY: usize = 1024;

/// A callback that runs once on the loop thread.
pub(crate) type Callback = Box<dyn FnOnce(&Handle)>;
/// A periodic timer's callback.
pub(crate) type EveryFn = dyn FnMut(&Handle);
/// What a timer does when it comes due.
pub(crate) type Action = timers::Action<Callback, EveryFn>;
/// A callback posted from another thread.
pub(crate) type Post = Box<dyn FnOnce(&Handle) + Send>;
/// The error hook: shared so it can be called with no borrow held, even if it replaces itself.
pub(crate) type ErrorHook = Rc<dyn Fn(&Handle, LoopError)>;

/// Everything of a loop that is borrowed, in one place (see the module docs).
pub(crate) struct Driver {
    pub(crate) queue: Queue<Callback>,
    pub(crate) timers: TimerQueue<Callback, EveryFn>,
    pub(crate) reactor: Reactor<Watch>,
    pub(crate) tasks: Tasks,
    /// Wakers of other origins found while routing wake-ups: woken once the borrow has ended.
    pub(crate) foreign: Vec<Waker>,
}

/// One loop: its driver, and the facts kept beside it in `Cell`s (no borrow to hold).
pub(crate) struct Core {
    /// Itself, for the handle that the error hook is given.
    me: Weak<Core>,
    driver: RefCell<Driver>,
    /// Kept outside the driver, so that sources (re-, de-)register with no borrow held.
    pub(crate) registry: mio::Registry,
    pub(crate) remote: Arc<RemoteShared>,
    /// `remote.index`, the loop's index in the wakers' table, copied here when the loop is made
    /// (it never changes): the loop thread reads this field instead of following the `Arc`.
    pub(crate) index: u16,
    /// The loop's place in the table that cross-thread wakers read; released when it closes.
    pub(crate) registration: Registration,
    /// The inbox's spare buffers, swapped with it each time it is emptied.
    pub(crate) batch: RefCell<Batch>,
    /// A burst left `batch`'s buffers large: shrink them when the loop is next idle.
    pub(crate) batch_large: Cell<bool>,
    origin: Instant,
    /// Nanoseconds since `origin`, read once per turn.
    now: Cell<u64>,
    /// `now` is from an earlier turn.
    time_stale: Cell<bool>,
    /// Time is paused (`time::pause`): the clock reads `frozen`.
    pub(crate) paused: Cell<bool>,
    /// The paused clock, in nanoseconds since `origin`.
    frozen: Cell<u64>,
    /// Added to the real clock while it runs: how far `advance` and pauses moved it.
    skew: Cell<i64>,
    pub(crate) run: Cell<RunState>,
    pub(crate) life: Cell<Life>,
    /// `KeepAlive` guards alive.
    keep_alive: Cell<usize>,
    /// Operations the running task may still do before it must yield.
    pub(crate) budget: Cell<u32>,
    /// Queue entries dispatched since I/O was last polled.
    pub(crate) since_io: Cell<usize>,
    /// A waker of this loop was stored somewhere other than the loop's own containers (cloned
    /// through its vtable by any code, or kept by a channel): something may still wake a task or
    /// `block_on`. Sticky: nobody can tell when such a waker is gone.
    pub(crate) wakers_escaped: Cell<bool>,
    /// [`LoopError::Stalled`] was reported in this `block_on`.
    pub(crate) stall_reported: Cell<bool>,
    error_hook: RefCell<Option<ErrorHook>>,
    /// The blocking pool, started on first use.
    pub(crate) blocking: RefCell<Option<Arc<Pool>>>,
    /// The always-on metrics.
    pub(crate) metrics: Counters,
    pub(crate) debug: DebugMode,
    /// What this turn measures: bits `TIMED` (a timed turn) and `DEBUG` (debug mode), see
    /// the runtime's `metrics`.
    pub(crate) observe: Cell<u8>,
    /// Hooks run around the poller's wait.
    pub(crate) hooks: TurnHooks,
}

impl Core {
    pub(crate) fn new() -> std::io::Result<Rc<Core>> {
        let (reactor, registry) = Reactor::new()?;
        let debug = DebugMode::from_env();
        let observe = if debug.on.get() {
            super::metrics::DEBUG
        } else {
            0
        };
        let (remote, registration) = RemoteShared::new(&registry)?;
        let index = remote.index;
        Ok(Rc::new_cyclic(|me| Core {
            me: me.clone(),
            driver: RefCell::new(Driver {
                queue: Queue::with_capacity(QUEUE_CAPACITY),
                timers: TimerQueue::default(),
                reactor,
                tasks: Tasks::default(),
                foreign: Vec::with_capacity(64),
            }),
            registry,
            remote,
            index,
            registration,
            batch: RefCell::new(Batch::default()),
            batch_large: Cell::new(false),
            origin: Instant::now(),
            now: Cell::new(0),
            time_stale: Cell::new(true),
            paused: Cell::new(false),
            frozen: Cell::new(0),
            skew: Cell::new(0),
            run: Cell::new(RunState::Idle),
            life: Cell::new(Life::Open),
            keep_alive: Cell::new(0),
            budget: Cell::new(BUDGET),
            since_io: Cell::new(0),
            wakers_escaped: Cell::new(false),
            stall_reported: Cell::new(false),
            error_hook: RefCell::new(None),
            blocking: RefCell::new(None),
            metrics: Counters::default(),
            debug,
            observe: Cell::new(observe),
            hooks: TurnHooks::default(),
        }))
    }

    /// Lends the driver to `f`; the only borrow of loop state. `f` must not run user code: it moves
    /// values in and out and returns what is to be run or dropped (see the module docs).
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Driver) -> R) -> R {
        f(&mut self.driver.borrow_mut())
    }

    /// The reactor's poll, routing the wake-ups it finds: [`Core::with`] written out, because
    /// the inliner leaves a closure this large out of line in the turn, and the call costs a
    /// dozen saved registers a turn. Like every `with`, it runs no user code.
    #[inline(always)]
    pub(crate) fn poll_reactor(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        let mut driver = self.driver.borrow_mut();
        let d = &mut *driver;
        let (tasks, foreign) = (&mut d.tasks, &mut d.foreign);
        d.reactor.poll_io(timeout, &mut d.queue, |queue, w| {
            self.route_waker(queue, tasks, foreign, w)
        })
    }

    /// Drops user data that left a container, with no borrow held, iteratively and under
    /// `catch_unwind`; a panic is reported to the error hook.
    #[inline]
    pub(crate) fn discard<T: 'static>(&self, value: T) {
        if let Some(panics) = trash::dispose(value) {
            self.report_drop_panics(panics);
        }
    }

    #[cold]
    pub(crate) fn report_drop_panics(&self, panics: Vec<Panic>) {
        for p in panics {
            self.report(LoopError::DropPanic(p));
        }
    }

    /// Whether the loop still takes new work (it is neither being dropped nor dropped).
    #[inline]
    pub(crate) fn is_open(&self) -> bool {
        self.life.get() == Life::Open
    }

    /// Converts an instant to the timer clock, saturating at both ends.
    pub(crate) fn instant_to_ns(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.origin);
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn ns_to_instant(&self, ns: u64) -> Option<Instant> {
        self.origin.checked_add(Duration::from_nanos(ns))
    }

    /// Reads the loop's clock now: the real clock moved by `skew`, or the paused one.
    #[inline]
    pub(crate) fn clock_ns(&self) -> u64 {
        if self.paused.get() {
            return self.frozen.get();
        }
        self.real_ns().saturating_add_signed(self.skew.get())
    }

    /// The real monotonic clock in nanoseconds since `origin`. Through `Instant`, not a raw
    /// `clock_gettime` (a fifth of the instructions): an origin on a second clock could differ
    /// from `origin` by the nanoseconds between the two reads, and then the `Instant`s that
    /// deadlines are given as and reported in would be off by as much.
    #[inline]
    fn real_ns(&self) -> u64 {
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

    /// A deadline `delay` after the present moment (the clock read now, so a timer armed late in
    /// a long turn still never fires early).
    pub(crate) fn deadline_after(&self, delay: Duration) -> u64 {
        match u64::try_from(delay.as_nanos()) {
            Ok(d) => self.clock_ns().saturating_add(d),
            Err(_) => timers::NEVER,
        }
    }

    /// Stops the clock where it is (`time::pause`); a no-op if it is stopped.
    pub(crate) fn pause_clock(&self) {
        if !self.paused.get() {
            self.frozen.set(self.clock_ns());
            self.paused.set(true);
            self.update_time();
        }
    }

    /// Lets the clock run again from where it stopped (`time::resume`); a no-op if it runs.
    pub(crate) fn resume_clock(&self) {
        if self.paused.replace(false) {
            let real = self.real_ns();
            let frozen = self.frozen.get();
            // `frozen - real`, saturating: the clock goes on from `frozen`.
            let skew = i64::try_from(i128::from(frozen) - i128::from(real)).unwrap_or(i64::MAX);
            self.skew.set(skew);
            self.update_time();
        }
    }

    /// Moves the clock forward by `by` (`time::advance`), paused or not. Never backwards.
    pub(crate) fn advance_clock(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        if self.paused.get() {
            self.frozen.set(self.frozen.get().saturating_add(by));
        } else {
            let by = i64::try_from(by).unwrap_or(i64::MAX);
            self.skew.set(self.skew.get().saturating_add(by));
        }
        self.update_time();
    }

    /// Paused and idle: jump the clock to `deadline` (auto-advance).
    pub(crate) fn jump_clock_to(&self, deadline: u64) {
        if self.paused.get() && deadline > self.frozen.get() {
            self.frozen.set(deadline);
        }
    }

    /// Queues task `key`/`gen` unless it is already queued. `MAIN_KEY` is the `block_on` future,
    /// which queues like a task (so `yield_now` puts it behind everything already queued); a stale
    /// waker of an earlier `block_on` is ignored.
    #[inline]
    pub(crate) fn schedule(&self, key: u32, gen: u32) {
        self.with(|d| self.schedule_into(&mut d.queue, &mut d.tasks, key, gen));
    }

    /// Routes a waker that the reactor or the timers found while the driver is borrowed: this
    /// loop's own wakers schedule their task on the spot (no vtable call, no thread-local); any
    /// other waker goes to `foreign`, to be woken once no borrow is held.
    #[inline]
    pub(crate) fn route_waker(
        &self,
        queue: &mut Queue<Callback>,
        tasks: &mut Tasks,
        foreign: &mut Vec<Waker>,
        w: Waker,
    ) {
        match waker::decode(&w) {
            Some((index, key, gen)) if index == self.index => {
                self.schedule_into(queue, tasks, key, gen)
            }
            _ => foreign.push(w),
        }
    }

    /// [`Core::schedule`] with the driver already borrowed.
    #[inline]
    pub(crate) fn schedule_into(
        &self,
        queue: &mut Queue<Callback>,
        tasks: &mut Tasks,
        key: u32,
        gen: u32,
    ) {
        let queued = if key == waker::MAIN_KEY {
            self.wake_main()
        } else {
            tasks.schedule(key, gen)
        };
        if queued {
            queue.push(Entry::Task { key, gen });
        }
    }

    /// The `block_on` future was woken: true if its entry is to be queued now.
    fn wake_main(&self) -> bool {
        let woken = self.run.get().main_woken();
        if let Some(state) = woken {
            self.run.set(state);
        }
        woken.is_some()
    }

    /// Wakes the foreign wakers collected while the driver was borrowed, with no borrow held (a
    /// waker may run any code), then gives the buffer back. Almost always there are none.
    #[inline]
    pub(crate) fn wake_foreign(&self) {
        if !self.with(|d| d.foreign.is_empty()) {
            self.wake_foreign_now();
        }
    }

    #[cold]
    fn wake_foreign_now(&self) {
        let mut wake = self.with(|d| std::mem::take(&mut d.foreign));
        // Every waker is woken before any panic is reported: a hook that resumes the unwind must
        // not leave the rest unwoken.
        let panics: Vec<Panic> = wake
            .drain(..)
            .filter_map(|w| super::guard::catch(|| w.wake()))
            .collect();
        self.with(|d| {
            if d.foreign.is_empty() {
                d.foreign = wake;
            }
        });
        for p in panics {
            self.report(LoopError::CallbackPanic(p));
        }
    }

    /// A `KeepAlive` guard was made (`+1`) or dropped (`-1`): the one place that counts them.
    pub(crate) fn count_keep_alive(&self, up: bool) {
        let n = self.keep_alive.get();
        self.keep_alive.set(if up { n + 1 } else { n - 1 });
    }

    /// `KeepAlive` guards alive.
    pub(crate) fn keep_alive_count(&self) -> usize {
        self.keep_alive.get()
    }

    /// Whether something could still bring work: what `run` waits for.
    pub(crate) fn is_alive(&self) -> bool {
        // Cheapest and most often true first: a server is kept alive by its sockets.
        if self
            .with(|d| d.reactor.is_referenced() || !d.queue.is_empty() || d.timers.is_referenced())
            || self.keep_alive.get() > 0
        {
            return true;
        }
        // The pool before the inbox: a job ends by waking its task through the inbox, and only
        // then counts itself out, so a count of zero read first means the inbox shows its wake.
        if self.blocking_in_flight() {
            return true;
        }
        #[cfg(test)]
        super::tests::pause_between_alive_reads();
        self.remote.is_notified()
    }

    pub(crate) fn blocking_in_flight(&self) -> bool {
        self.blocking
            .borrow()
            .as_ref()
            .is_some_and(|p| p.in_flight() > 0)
    }

    /// Whether nothing can wake the `block_on` future: no queued work, no timer, no
    /// registration, no keep-alive guard, no remote handle, no blocking job, and no waker of this
    /// loop ever stored outside its own containers. Conservative: when in doubt, something can.
    pub(crate) fn nothing_can_wake(&self) -> bool {
        let pool = usize::from(self.blocking.borrow().is_some());
        !self.wakers_escaped.get()
            && self.with(|d| d.queue.is_empty() && d.timers.len() == 0 && d.reactor.len() == 0)
            && self.keep_alive.get() == 0
            && !self.blocking_in_flight()
            && !self.remote.is_notified()
            && self.remote.handles(self.registration.is_registered(), pool) == 0
    }

    /// Replaces the error hook, handing back the old one (to be dropped with no borrow held).
    pub(crate) fn replace_hook(&self, hook: Option<ErrorHook>) -> Option<ErrorHook> {
        self.error_hook.replace(hook)
    }

    /// Hands `error` to the error hook (the default prints it), with no borrow held.
    pub(crate) fn report_to(&self, handle: &Handle, error: LoopError) {
        let hook = self.error_hook.borrow().clone();
        match hook {
            Some(hook) => hook(handle, error),
            None => eprintln!("evloop: {error}"),
        }
    }

    /// [`Core::report_to`] through a new handle to this loop.
    pub(crate) fn report(&self, error: LoopError) {
        match self.me.upgrade() {
            Some(core) => self.report_to(&Handle { core }, error),
            // The last handle is being dropped: nobody is left to set a hook for.
            None => eprintln!("evloop: {error}"),
        }
    }

    /// Reports a panic caught while running user code, if there was one.
    #[inline]
    pub(crate) fn report_panic(&self, panic: Option<Panic>, kind: fn(Panic) -> LoopError) {
        if let Some(p) = panic {
            self.report(kind(p));
        }
    }
}
