//! The executor: tasks are futures stored in a slab and polled from the message queue.
//!
//! Spawning allocates once (an `Rc` holding the future inline, later its output) and queues a
//! task entry in the message queue. A wake sets the task's `scheduled` flag and queues it, unless
//! the flag was already set, so a task woken many times before it runs is polled once. Polling
//! clones the task's `Rc` out of the slab (a non-atomic increment) so that no borrow is held while
//! the future runs.

use std::future::Future;
use std::rc::Rc;

use slab::Slab;

mod cell;
mod coop;
mod join;
pub(crate) mod waker;

pub(crate) use cell::RawTask;
use cell::TaskCell;
pub use coop::yield_now;
pub(crate) use coop::{poll_proceed, spend_budget, BUDGET};
pub use join::{JoinError, JoinHandle};

struct Slot {
    gen: u32,
    scheduled: bool,
    task: Rc<dyn RawTask>,
}

/// The live tasks of one loop.
#[derive(Default)]
pub(crate) struct Tasks {
    slots: Slab<Slot>,
    next_gen: u32,
    /// The loop was dropped: new tasks are cancelled at once.
    closed: bool,
}

/// What became of a spawned task.
pub(crate) enum Spawned {
    /// Stored and scheduled under this key and generation.
    Queued(u32, u32),
    /// The loop is gone: the caller shuts the task down (dropping its future) with no borrow held.
    Refused(Rc<dyn RawTask>),
}

impl Tasks {
    /// Stores a new task, already scheduled; returns its handle and where it went.
    pub(crate) fn insert<F>(
        &mut self,
        loop_index: u16,
        future: F,
    ) -> (JoinHandle<F::Output>, Spawned)
    where
        F: Future + 'static,
    {
        let key = self.slots.vacant_key();
        let key = u32::try_from(key)
            .ok()
            .filter(|k| *k < waker::MAIN_KEY)
            .expect("evloop: more than 268 million live tasks");
        let gen = self.next_gen & waker::GEN_MASK;
        self.next_gen = self.next_gen.wrapping_add(1);
        let cell = Rc::new(TaskCell::new(future, waker::pack(loop_index, key, gen)));
        if self.closed {
            return (JoinHandle::new(cell.clone()), Spawned::Refused(cell));
        }
        self.slots.insert(Slot {
            gen,
            scheduled: true,
            task: cell.clone(),
        });
        (JoinHandle::new(cell), Spawned::Queued(key, gen))
    }

    /// Marks a task scheduled; true if it was not already (the caller then queues it).
    #[inline]
    pub(crate) fn schedule(&mut self, key: u32, gen: u32) -> bool {
        match self.slots.get_mut(key as usize) {
            Some(s) if s.gen == gen && !s.scheduled => {
                s.scheduled = true;
                true
            }
            _ => false,
        }
    }

    /// The task to poll for a queue entry, with its `scheduled` flag cleared.
    pub(crate) fn start_poll(&mut self, key: u32, gen: u32) -> Option<Rc<dyn RawTask>> {
        match self.slots.get_mut(key as usize) {
            Some(s) if s.gen == gen => {
                s.scheduled = false;
                Some(s.task.clone())
            }
            _ => None,
        }
    }

    /// Removes a finished task; the caller drops it with no borrow held.
    pub(crate) fn remove(&mut self, key: u32, gen: u32) -> Option<Rc<dyn RawTask>> {
        match self.slots.get(key as usize) {
            Some(s) if s.gen == gen => Some(self.slots.remove(key as usize).task),
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Takes every task out, for the loop's drop.
    pub(crate) fn drain(&mut self) -> Vec<Rc<dyn RawTask>> {
        self.closed = true;
        self.slots.drain().map(|s| s.task).collect()
    }
}
