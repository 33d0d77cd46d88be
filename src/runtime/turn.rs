//! One turn of the loop, phase by phase, and the dispatch of each queue entry.
//!
//! 1. `poll_io`: wait for readiness (no longer than the next timer, not at all if work is queued);
//!    watcher events become queue entries, resource events wake their tasks. Skipped while work is
//!    queued and fewer than [`DRAIN_BUDGET`] entries ran since the last poll.
//! 2. `update_time`: read the clock once for the whole turn (only if a timer exists; otherwise
//!    the cached time is marked stale and read again on first use).
//! 3. `fire_due_timers`: due callback timers become queue entries, in deadline order; due sleeps
//!    wake their tasks.
//! 4. `take_remote`: posts and wake-ups from other threads join the queue.
//! 5. `drain_queue`: run the entries that were queued when the drain began, at most
//!    [`DRAIN_BUDGET`] of them; anything queued meanwhile waits for the next turn.
//!
//! Every entry is dispatched the same way: take what it names out of its container (one short
//! borrow), run it with nothing borrowed under [`catch`], put back what stays (another short
//! borrow), drop what leaves through [`Core::discard`], and only then report a panic, so that an
//! error hook that resumes the unwind leaves the loop consistent.

use std::io;
use std::mem::ManuallyDrop;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::core::{Callback, Core, Driver, DRAIN_BUDGET, QUEUE_CAPACITY};
use super::debug::Site;
use super::error::LoopError;
use super::guard::catch;
use super::metrics::Counters;
use super::state::RunState;
use super::watch::Watch;
use super::{waker, Handle};
use crate::driver::inbox::ANY_TAG;
use crate::driver::queue::Entry;
use crate::driver::reactor::{Finish, IoEvent, Ready, WatcherId};
use crate::driver::tasks::RawTask;
use crate::driver::timers::{Due, TimerId, NEVER};

/// How close a deadline must be for the turn to wait for it on the precise timer (a `timerfd`)
/// rather than in whole milliseconds in the poller.
const PRECISE_WINDOW: u64 = 2_000_000;

/// Whether a turn may sleep in the poller.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Sleep until an event or the next timer, if nothing is queued.
    Block,
    /// Never sleep.
    NoWait,
}

impl Core {
    /// One turn (`run_once`, `run_nowait`; `run` and `block_on` turn in [`Core::drive`]).
    pub(crate) fn turn(&self, handle: &Handle, wait: Wait) -> io::Result<()> {
        self.turn_inline(handle, wait)
    }

    /// A turn, observed or plain as the metrics' countdown says, inlined where it is called.
    #[inline(always)]
    fn turn_inline(&self, handle: &Handle, wait: Wait) -> io::Result<()> {
        if self.begin_turn_metrics() {
            self.observed_turn(handle, wait)
        } else {
            self.turn_as::<false>(handle, wait)
        }
    }

    /// Turns until there is nothing left to do or the loop is stopped (`main` is `None`: `run`),
    /// or until `main` returns true (`block_on`: called whenever the `block_on` future is due, it
    /// polls it and says whether it finished). The loop over turns is here, around the inlined
    /// turn, rather than in the callers, so that a busy server pays the turn's prologue and
    /// epilogue (a dozen registers saved and restored) once per run, not once per turn.
    #[inline(never)]
    pub(crate) fn drive(
        &self,
        handle: &Handle,
        mut main: Option<&mut dyn FnMut() -> bool>,
    ) -> io::Result<()> {
        loop {
            match main {
                None => {
                    if self.run.get().is_stopping() || !self.is_alive() {
                        return Ok(());
                    }
                }
                // Polled first, before any turn, then each time its entry comes up.
                Some(ref mut poll) if self.run.get() == RunState::BlockOnDue => {
                    self.run.set(RunState::BlockOn);
                    self.budget.set(super::core::BUDGET);
                    if poll() {
                        return Ok(());
                    }
                }
                Some(_) => {}
            }
            self.turn_inline(handle, Wait::Block)?;
        }
    }

    /// A turn that is timed, or has debug mode or hooks on: the same turn, compiled a second
    /// time with the observation in, so that the plain turn's code is the same as without it.
    #[cold]
    #[inline(never)]
    fn observed_turn(&self, handle: &Handle, wait: Wait) -> io::Result<()> {
        self.turn_as::<true>(handle, wait)
    }

    #[inline(always)]
    fn turn_as<const OBSERVED: bool>(&self, handle: &Handle, wait: Wait) -> io::Result<()> {
        let queued = !self.with(|d| d.queue.is_empty()) || self.run.get() == RunState::BlockOnDue;
        if !queued {
            // About to wait: give back what a burst grew (a check of two capacities otherwise).
            self.with(|d| d.queue.shrink_if_idle(QUEUE_CAPACITY));
            if self.batch_large.replace(false) {
                self.batch.borrow_mut().shrink_if_idle();
            }
        }
        if !queued || self.since_io.get() >= DRAIN_BUDGET {
            let queued = if OBSERVED {
                self.before_poll(handle, queued)
            } else {
                queued
            };
            self.poll_io(self.poll_timeout(wait, queued))?;
            if self.paused.get() && !queued && wait == Wait::Block {
                self.auto_advance();
            }
            if OBSERVED {
                self.after_poll(handle);
            }
        } else {
            Counters::bump(&self.metrics.polls_skipped);
        }
        // With no timers there is nothing to fire: the clock is read only when someone asks.
        if self.with(|d| d.timers.len() > 0) {
            self.update_time();
            self.fire_due_timers();
        } else {
            self.mark_time_stale();
        }
        self.take_remote();
        self.drain_queue::<OBSERVED>(handle);
        Ok(())
    }

    #[inline(always)]
    fn poll_timeout(&self, wait: Wait, queued: bool) -> Option<Duration> {
        if wait == Wait::NoWait
            || queued
            || self.run.get().is_stopping()
            || self.remote.is_notified()
        {
            return Some(Duration::ZERO);
        }
        let (next, unregistered) = self.with(|d| (d.timers.next_wake(), d.reactor.len() == 0));
        match next {
            Some(NEVER) | None => {
                if unregistered
                    && self.run.get() == RunState::BlockOn
                    && !self.stall_reported.get()
                    && self.nothing_can_wake()
                {
                    self.stall_reported.set(true);
                    self.report(LoopError::Stalled);
                }
                None
            }
            // Paused: look for events without waiting, then jump to the deadline if idle.
            Some(_) if self.paused.get() => Some(Duration::ZERO),
            Some(deadline) => self.wait_until(deadline),
        }
    }

    /// How long to wait for `deadline`: whole milliseconds in the poller while it is more than
    /// [`PRECISE_WINDOW`] away (waking one to two milliseconds early, so never late even with the
    /// kernel's timer slack), then the rest to the nanosecond on the reactor's precise timer
    /// (`None`: the timer's event ends the wait).
    fn wait_until(&self, deadline: u64) -> Option<Duration> {
        const MS: u64 = 1_000_000;
        let remaining = deadline.saturating_sub(self.clock_ns());
        if remaining == 0 {
            return Some(Duration::ZERO);
        }
        if remaining > PRECISE_WINDOW {
            return Some(Duration::from_nanos((remaining - MS) / MS * MS));
        }
        let remaining = Duration::from_nanos(remaining);
        if self.with(|d| d.reactor.arm_precise(deadline, remaining)) {
            None
        } else {
            // No timerfd here: the poller rounds up, never short.
            Some(remaining)
        }
    }

    /// Paused time and nothing to do: no event came, nothing is queued, no other thread is
    /// working for the loop. Jump the clock to the next deadline so its timer fires this turn.
    fn auto_advance(&self) {
        let idle = self.with(|d| d.queue.is_empty()) && !self.remote.is_notified();
        if !idle || self.blocking_in_flight() {
            return;
        }
        if let Some(next) = self.with(|d| d.timers.next_deadline()) {
            if next != NEVER {
                self.jump_clock_to(next);
            }
        }
    }

    #[inline(always)]
    fn poll_io(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.since_io.set(0);
        let result = self.poll_reactor(timeout);
        self.wake_foreign();
        result
    }

    fn fire_due_timers(&self) {
        let now = self.now_ns();
        let fired = self.with(|d| {
            if !d.timers.is_due(now) {
                return false;
            }
            let (tasks, foreign) = (&mut d.tasks, &mut d.foreign);
            d.timers.fire_due(now, &mut d.queue, |queue, w| {
                Counters::bump(&self.metrics.timers_fired);
                self.route_waker(queue, tasks, foreign, w)
            });
            true
        });
        if fired {
            self.wake_foreign();
        }
    }

    #[inline(always)]
    fn take_remote(&self) {
        if !self.remote.is_notified() {
            return;
        }
        let mut batch = std::mem::take(&mut *self.batch.borrow_mut());
        self.remote.take(&mut batch);
        if batch.stop {
            self.run.set(self.run.get().stop());
            batch.stop = false;
        }
        if std::mem::take(&mut batch.main) && self.wake_main_now() {
            self.with(|d| {
                d.queue.push(Entry::Task {
                    key: waker::MAIN_KEY,
                    gen: 0,
                })
            });
        }
        self.count_remote(&batch);
        self.with(|d| {
            for post in batch.posts.drain(..) {
                d.queue.push_callback(post);
            }
            for (key, tag) in batch.wakes.drain(..).zip(batch.tags.drain(..)) {
                if tag == ANY_TAG {
                    // A stale waker and the live one were both woken: wake whoever lives there.
                    if let Some(gen) = d.tasks.schedule_key(key) {
                        d.queue.push(Entry::Task { key, gen });
                    }
                } else if d.tasks.schedule(key, tag) {
                    d.queue.push(Entry::Task { key, gen: tag });
                }
            }
        });
        self.batch_large.set(batch.is_large());
        *self.batch.borrow_mut() = batch;
    }

    fn wake_main_now(&self) -> bool {
        match self.run.get().main_woken() {
            Some(state) => {
                self.run.set(state);
                true
            }
            None => false,
        }
    }

    #[inline(always)]
    fn drain_queue<const OBSERVED: bool>(&self, handle: &Handle) {
        let n = self.with(|d| d.queue.len());
        self.metrics.queue_len(n);
        let measured = OBSERVED && self.measuring();
        for _ in 0..n.min(DRAIN_BUDGET) {
            // The pop and the take of what the entry names share one borrow.
            let Some((entry, job)) = self.with(|d| {
                let entry = d.queue.pop()?;
                Some((entry, Job::take(d, entry)))
            }) else {
                break;
            };
            self.since_io.set(self.since_io.get() + 1);
            let start = if measured {
                self.observe_before(entry, job.site())
            } else {
                0
            };
            self.dispatch(handle, job);
            if measured {
                self.observe_after(entry, start);
            }
            // After the entry: a stop taken with the remote work still lets this turn dispatch
            // one (a stop before `run` is "run one turn", as asyncio's).
            if !self.run.get().drain_goes_on() {
                break;
            }
        }
        if OBSERVED {
            self.end_observed_drain();
        }
    }

    // Inlined into the drain, as it was before the metrics made `turn` larger than the
    // inliner's budget: out of line, its prologue and epilogue cost more per entry than all the
    // metrics together.
    #[inline(always)]
    fn dispatch(&self, handle: &Handle, job: Job) {
        match job {
            Job::Callback(cb) => {
                Counters::bump(&self.metrics.callbacks_run);
                let panic = catch(|| cb(handle));
                self.report_panic(panic, LoopError::CallbackPanic);
            }
            Job::Timer { key, id } => self.dispatch_timer(handle, key, id),
            Job::Io {
                key,
                gen,
                ready,
                watch,
            } => self.dispatch_io(handle, key, gen, ready, watch),
            Job::Main => {
                // The `block_on` future's turn: the drain stops and `block_on` polls it.
                if self.run.get() == RunState::BlockOnWoken {
                    self.run.set(RunState::BlockOnDue);
                }
            }
            Job::Task { key, gen, task } => self.poll_task(key, gen, task),
            Job::Stale => {}
        }
    }

    fn dispatch_timer(&self, handle: &Handle, key: u32, id: u64) {
        let due = self.with(|d| d.timers.take_due(key, id));
        self.count_timer_callback(due.is_some());
        match due {
            Some(Due::Once(cb)) => {
                // The slot is empty now (its callback taken): nothing of the user's is in it.
                let emptied = self.with(|d| d.timers.cancel(TimerId { key, id }));
                debug_assert!(emptied.is_some());
                let panic = catch(|| cb(handle));
                self.report_panic(panic, LoopError::CallbackPanic);
            }
            Some(Due::Every(mut cb)) => {
                // Re-arm before reporting a panic: a hook that resumes the unwind must not leave
                // the timer live but never armed again.
                let panic = catch(|| (cb.callback)(handle));
                let now = self.now_ns();
                if let Some(cancelled) = self.with(|d| d.timers.rearm_every(key, id, cb, now)) {
                    self.discard(cancelled);
                }
                self.report_panic(panic, LoopError::CallbackPanic);
            }
            None => {}
        }
    }

    #[inline(always)]
    fn dispatch_io(&self, handle: &Handle, key: u32, gen: u32, ready: Ready, mut watch: Watch) {
        Counters::bump(&self.metrics.watcher_events);
        let watcher = WatcherId { key, gen };
        // Put the watcher back before reporting a panic: a hook that resumes the unwind must
        // not leave its slot empty (never dispatched again, never removable).
        let panic = catch(|| watch.dispatch(handle, IoEvent { watcher, ready }));
        let finish = self.with(|d| d.reactor.finish(key, gen, watch));
        let (result, source_panic) = if matches!(finish, Finish::Kept) {
            // `Kept` holds nothing: forgetting it skips a call of the enum's drop glue, which
            // the inliner leaves out of line in a turn this size.
            std::mem::forget(finish);
            (Ok(()), None)
        } else {
            self.finish_watch(watcher, finish)
        };
        self.report_panic(panic, LoopError::CallbackPanic);
        self.report_panic(source_panic, LoopError::CallbackPanic);
        if let Err(e) = result {
            self.report(LoopError::Interest(watcher, e));
        }
    }

    #[inline(always)]
    fn poll_task(&self, key: u32, gen: u32, task: Rc<dyn RawTask>) {
        Counters::bump(&self.metrics.tasks_polled);
        // Dropping one of our wakers does nothing: skip the vtable call.
        let waker = ManuallyDrop::new(waker::waker(self.index, key, gen));
        let mut cx = Context::from_waker(&waker);
        self.budget.set(super::core::BUDGET);
        // The future's own panics are caught in the task; this catches none but a bug's.
        if let Poll::Ready(finished) = task.poll(&mut cx) {
            let removed = self.with(|d| d.tasks.remove(key, gen));
            drop(removed);
            // The last reference may be the `JoinHandle`'s or ours: either drops no user data
            // now (the future and a detached output are gone already).
            drop(task);
            let (unobserved, in_drop) = finished.into_panics();
            if let Some(panic) = in_drop {
                self.report(LoopError::DropPanic(panic));
            }
            if let Some(panic) = unobserved {
                self.report(LoopError::TaskPanic(panic));
            }
        }
    }
}

/// What a queue entry names, taken out of its container in the borrow that popped the entry, to
/// run with nothing borrowed.
pub(super) enum Job {
    Callback(Callback),
    /// Timers take their callback in their own borrows (a periodic one is re-armed after it ran).
    Timer {
        key: u32,
        id: u64,
    },
    /// A watcher's watch, lent out of its slot until the dispatch gives it back.
    Io {
        key: u32,
        gen: u32,
        ready: Ready,
        watch: Watch,
    },
    /// A task, its `scheduled` flag cleared.
    Task {
        key: u32,
        gen: u32,
        task: Rc<dyn RawTask>,
    },
    /// The `block_on` future.
    Main,
    /// What the entry named is gone (cancelled, removed, or a stale event): nothing to run.
    Stale,
}

impl Job {
    /// Takes what `entry` names (nothing is dropped here: a stale entry finds nothing).
    #[inline(always)]
    fn take(d: &mut Driver, entry: Entry) -> Job {
        match entry {
            Entry::Callback { key, id } => d
                .queue
                .take_callback(key, id)
                .map_or(Job::Stale, Job::Callback),
            Entry::Timer { key, id } => Job::Timer { key, id },
            Entry::Io { key, gen, ready } => match d.reactor.take_watch(key, gen) {
                Some(watch) => Job::Io {
                    key,
                    gen,
                    ready,
                    watch,
                },
                None => Job::Stale,
            },
            Entry::Task {
                key: waker::MAIN_KEY,
                ..
            } => Job::Main,
            Entry::Task { key, gen } => match d.tasks.start_poll(key, gen) {
                Some(task) => Job::Task { key, gen, task },
                None => Job::Stale,
            },
        }
    }

    /// Where a watcher was registered, for debug mode's report of a slow one.
    pub(super) fn site(&self) -> Option<Site> {
        match self {
            Job::Io { watch, .. } => watch.site(),
            _ => None,
        }
    }
}
