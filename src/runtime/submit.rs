//! Giving a loop work: callbacks, timers and tasks, into their containers.
//!
//! Each method checks the loop's life once, moves the work in with one borrow, and drops what it
//! refuses or removes through [`Core::discard`].

use std::panic::Location;
use std::rc::Rc;
use std::task::Waker;

use super::core::{Action, Callback, Core};
use super::metrics::Counters;
use super::state::Life;
use super::waker;
use crate::driver::queue::Entry;
use crate::driver::tasks::{Info, RawTask};
use crate::driver::timers::{Fired, TimerId};

/// A callback id that is never live.
pub(crate) const DEAD_CALLBACK: (u32, u64) = (u32::MAX, 0);
/// A timer id that is never live.
pub(crate) const DEAD_TIMER: TimerId = TimerId {
    key: u32::MAX,
    id: 0,
};

/// What became of work given to a loop that does not take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The loop is being dropped: the work was dropped unrun, as teardown does with all work.
    Closing,
    /// The loop was dropped: giving it work is a programming error, for the caller to report.
    Closed,
}

impl Core {
    /// `Ok` if the loop takes work; otherwise drops `work` (with no borrow held) and says why.
    #[inline]
    pub(crate) fn admit<T: 'static>(&self, work: T) -> Result<T, Refused> {
        match self.life.get() {
            Life::Open => Ok(work),
            life => {
                self.discard(work);
                Err(if life == Life::Closing {
                    Refused::Closing
                } else {
                    Refused::Closed
                })
            }
        }
    }

    /// Queues a callback; returns its key and id for cancellation.
    pub(crate) fn call_soon(&self, f: Callback) -> Result<(u32, u64), Refused> {
        let f = self.admit(f)?;
        Ok(self.with(|d| d.queue.push_callback(f)))
    }

    /// Cancels a queued callback: whether it was still pending.
    pub(crate) fn cancel_callback(&self, key: u32, id: u64) -> bool {
        match self.with(|d| d.queue.take_callback(key, id)) {
            Some(cb) => {
                self.discard(cb);
                true
            }
            None => false,
        }
    }

    /// Arms a timer.
    pub(crate) fn add_timer(&self, deadline: u64, action: Action) -> Result<TimerId, Refused> {
        let action = self.admit(action)?;
        Counters::bump(&self.metrics.timers_armed);
        Ok(self.with(|d| d.timers.insert(deadline, action)))
    }

    /// Cancels a timer: whether it was live.
    pub(crate) fn cancel_timer(&self, id: TimerId) -> bool {
        match self.with(|d| d.timers.cancel(id)) {
            Some(action) => {
                self.discard(action);
                true
            }
            None => false,
        }
    }

    /// Removes the timer of a `Sleep`, by key (see `TimerQueue::remove`).
    pub(crate) fn remove_timer(&self, key: u32) {
        match self.with(|d| d.timers.remove(key)) {
            // The common case, on every dropped `sleep` or timeout: no waker, or one of the loop's
            // own, whose drop runs nothing. It skips the trash (thread-locals, `catch_unwind`).
            Some(Action::Wake { waker, .. }) if waker.as_ref().is_none_or(waker::is_ours) => {}
            Some(action) => self.discard(action),
            None => {}
        }
    }

    /// Moves the deadline of a `Sleep`'s timer; false if it is gone.
    pub(crate) fn reset_timer(&self, key: u32, deadline: u64) -> bool {
        self.with(|d| d.timers.reset(key, deadline))
    }

    /// A `Sleep`'s poll: whether its timer fired, storing `waker` if not. The waker is cloned, and
    /// the one it replaces dropped, with no borrow held (a foreign waker's clone and drop are user
    /// code).
    pub(crate) fn poll_timer(&self, key: u32, waker: &Waker) -> bool {
        match self.with(|d| d.timers.poll_fired(key, waker)) {
            Fired::Yes => true,
            Fired::Waiting => false,
            Fired::NewWaker => {
                let new = waker::clone_waker(waker);
                if let Some(old) = self.with(|d| d.timers.set_waker(key, new)) {
                    self.discard(old);
                }
                false
            }
        }
    }

    /// Stores a new task and queues it; `make` builds it from its packed waker data. Returns the
    /// task (for its `JoinHandle`), or the refusal with the task cancelled and its future dropped.
    /// `site` and `name` are what the dump and debug mode show of it.
    pub(crate) fn spawn<T: RawTask + 'static>(
        &self,
        make: impl FnOnce(usize) -> Rc<T>,
        site: &'static Location<'static>,
        name: Option<Rc<str>>,
    ) -> Result<Rc<T>, (Refused, Rc<T>)> {
        let (key, gen) = self.with(|d| d.tasks.vacant(waker::GEN_MASK));
        let key = u32::try_from(key)
            .ok()
            .filter(|k| *k < waker::MAIN_KEY)
            .expect("evloop: more than 268 million live tasks");
        let task = make(waker::pack(self.index, key, gen));
        if let Some(refused) = self.refusal() {
            if let Some(panic) = task.shutdown() {
                self.report_drop_panics(vec![panic]);
            }
            return Err((refused, task));
        }
        let raw: Rc<dyn RawTask> = task.clone();
        Counters::bump(&self.metrics.tasks_spawned);
        let info = Info {
            site,
            born: self.now_ns(),
        };
        self.with(|d| {
            let inserted = d.tasks.insert(gen, raw, info, name);
            debug_assert_eq!(inserted, key);
            d.queue.push(Entry::Task { key, gen });
        });
        Ok(task)
    }

    /// Why the loop takes no work now, if it does not.
    pub(crate) fn refusal(&self) -> Option<Refused> {
        match self.life.get() {
            Life::Open => None,
            Life::Closing => Some(Refused::Closing),
            Life::Closed => Some(Refused::Closed),
        }
    }
}
