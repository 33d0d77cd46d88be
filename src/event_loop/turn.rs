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

use std::any::Any;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context, Poll};
use std::time::Duration;

use super::core::DRAIN_BUDGET;
use super::{Handle, LoopError};
use crate::queue::Entry;
use crate::reactor::{IoEvent, WatcherId};
use crate::task::waker;
use crate::timer::{Due, NEVER};

/// Runs user code and returns its panic, if any, so the caller can restore loop state before the
/// panic is reported (the error hook may resume the unwind).
fn catch(f: impl FnOnce()) -> Option<Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(f)).err()
}

/// Whether a turn may sleep in the poller.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Sleep until an event or the next timer, if nothing is queued.
    Block,
    /// Never sleep.
    NoWait,
}

impl Handle {
    pub(crate) fn turn(&self, wait: Wait) -> io::Result<()> {
        let core = &self.core;
        let queued = !core.queue.borrow().is_empty() || core.main_due.get();
        if !queued || core.since_io.get() >= DRAIN_BUDGET {
            self.poll_io(self.poll_timeout(wait, queued))?;
        }
        // With no timers there is nothing to fire: the clock is read only when someone asks.
        if core.timers.borrow().len() > 0 {
            core.update_time();
            self.fire_due_timers();
        } else {
            core.mark_time_stale();
        }
        self.take_remote();
        self.drain_queue();
        Ok(())
    }

    fn poll_timeout(&self, wait: Wait, queued: bool) -> Option<Duration> {
        let core = &self.core;
        if wait == Wait::NoWait || queued || core.stopping.get() || core.remote.is_notified() {
            return Some(Duration::ZERO);
        }
        match core.timers.borrow_mut().next_deadline() {
            Some(NEVER) | None => None,
            Some(deadline) => Some(Duration::from_nanos(
                deadline.saturating_sub(core.clock_ns()),
            )),
        }
    }

    fn poll_io(&self, timeout: Option<Duration>) -> io::Result<()> {
        let core = &self.core;
        core.since_io.set(0);
        let result = {
            let mut foreign = core.wake_buf.borrow_mut();
            core.reactor
                .poll_io(timeout, &mut core.queue.borrow_mut(), |queue, w| {
                    core.route_waker(queue, w, &mut foreign)
                })
        };
        self.wake_foreign();
        result
    }

    /// Wakes the foreign wakers collected by `route_waker`, with no borrow held (a waker may run
    /// any code), then gives the buffer back. Almost always there are none.
    #[inline]
    fn wake_foreign(&self) {
        if !self.core.wake_buf.borrow().is_empty() {
            self.wake_foreign_now();
        }
    }

    #[cold]
    fn wake_foreign_now(&self) {
        let mut wake = std::mem::take(&mut *self.core.wake_buf.borrow_mut());
        for w in wake.drain(..) {
            w.wake();
        }
        *self.core.wake_buf.borrow_mut() = wake;
    }

    fn fire_due_timers(&self) {
        let core = &self.core;
        if !core.timers.borrow().is_due(core.now_ns()) {
            return;
        }
        {
            let mut foreign = core.wake_buf.borrow_mut();
            core.timers.borrow_mut().fire_due(
                core.now_ns(),
                &mut core.queue.borrow_mut(),
                |queue, w| core.route_waker(queue, w, &mut foreign),
            );
        }
        self.wake_foreign();
    }

    fn take_remote(&self) {
        let core = &self.core;
        if !core.remote.is_notified() {
            return;
        }
        let mut inbox = std::mem::take(&mut *core.spare.borrow_mut());
        core.remote.take(&mut inbox);
        if inbox.stop {
            core.stopping.set(true);
        }
        {
            let mut queue = core.queue.borrow_mut();
            for post in inbox.posts.drain(..) {
                // The queue only refuses work once the loop is dropped, which cannot be now.
                let _ = queue.push_callback(post);
            }
        }
        for data in inbox.wakes.drain(..) {
            let (_, key, gen) = waker::unpack(data);
            core.schedule(key, gen);
        }
        *core.spare.borrow_mut() = inbox;
    }

    fn drain_queue(&self) {
        let core = &self.core;
        let n = core.queue.borrow().len().min(DRAIN_BUDGET);
        for _ in 0..n {
            let Some(entry) = core.queue.borrow_mut().pop() else {
                break;
            };
            core.since_io.set(core.since_io.get() + 1);
            self.dispatch(entry);
            if core.stopping.get() || core.main_due.get() {
                break;
            }
        }
    }

    fn dispatch(&self, entry: Entry) {
        let core = &self.core;
        match entry {
            Entry::Callback { key, id } => {
                let callback = core.queue.borrow_mut().take_callback(key, id);
                if let Some(cb) = callback {
                    self.guard(|| cb(self));
                }
            }
            Entry::Timer { key, id } => {
                let due = core.timers.borrow_mut().take_due(key, id);
                match due {
                    Some(Due::Once(cb)) => {
                        let done = core.timers.borrow_mut().cancel(crate::TimerId { key, id });
                        drop(done);
                        self.guard(|| cb(self));
                    }
                    Some(Due::Every(mut cb)) => {
                        // Re-arm before reporting a panic: a hook that resumes the unwind must not
                        // leave the timer live but never armed again.
                        let panic = catch(|| (cb.callback)(self));
                        let now = core.now_ns();
                        let gone = core.timers.borrow_mut().rearm_every(key, id, cb, now);
                        drop(gone);
                        self.report_panic(panic);
                    }
                    None => {}
                }
            }
            Entry::Io { key, gen, ready } => {
                let Some(mut watch) = core.reactor.take_watch(key, gen) else {
                    return;
                };
                let watcher = WatcherId { key, gen };
                // Put the watcher back before reporting a panic: a hook that resumes the unwind
                // must not leave its slot empty (never dispatched again, never removable).
                let panic = catch(|| watch.dispatch(self, IoEvent { watcher, ready }));
                let (removed, result) = core.reactor.finish_watch(key, gen, watch);
                drop(removed);
                self.report_panic(panic);
                if let Err(e) = result {
                    self.report(LoopError::Interest(watcher, e));
                }
            }
            Entry::Task {
                key: waker::MAIN_KEY,
                ..
            } => {
                // The `block_on` future's turn: the drain stops and `block_on` polls it.
                if core.in_block_on.get() {
                    core.main_woken.set(false);
                    core.main_due.set(true);
                }
            }
            Entry::Task { key, gen } => self.poll_task(key, gen),
        }
    }

    fn poll_task(&self, key: u32, gen: u32) {
        let core = &self.core;
        let Some(task) = core.tasks.borrow_mut().start_poll(key, gen) else {
            return;
        };
        // Dropping one of our wakers does nothing: skip the vtable call.
        let waker = std::mem::ManuallyDrop::new(waker::waker(core.remote.index, key, gen));
        let mut cx = Context::from_waker(&waker);
        core.budget.set(crate::task::BUDGET);
        if let Poll::Ready(unobserved) = task.poll(&mut cx) {
            let removed = core.tasks.borrow_mut().remove(key, gen);
            drop(removed);
            drop(task);
            if let Some(panic) = unobserved {
                self.report(LoopError::TaskPanic(panic));
            }
        }
    }

    /// Runs user code, turning a panic into a report to the error hook.
    fn guard(&self, f: impl FnOnce()) {
        self.report_panic(catch(f));
    }

    fn report_panic(&self, panic: Option<Box<dyn Any + Send>>) {
        if let Some(panic) = panic {
            self.report(LoopError::CallbackPanic(panic));
        }
    }
}
