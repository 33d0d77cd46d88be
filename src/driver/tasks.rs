//! The executor's storage: live tasks in a slab, each with its `scheduled` flag.
//!
//! A wake sets the flag and queues the task, unless it was already set, so a task woken many times
//! before it runs is polled once. Polling clones the task's `Rc` out of the slab (a non-atomic
//! increment) so that no borrow is held while the future runs. The slab only stores tasks and
//! hands them back: it never polls or drops one.

use std::any::Any;
use std::collections::HashMap;
use std::panic::Location;
use std::rc::Rc;
use std::task::{Context, Poll};

use slab::Slab;

/// A panic payload, to be reported.
pub(crate) type Panic = Box<dyn Any + Send>;

/// A task as the loop sees it: something to poll and, at shutdown, to drop.
pub(crate) trait RawTask {
    /// Polls the future once. `Ready` means it is finished (completed, panicked or cancelled) and
    /// its future dropped; what it carries are panics nobody else will observe (see
    /// [`Finished`]).
    fn poll(&self, cx: &mut Context<'_>) -> Poll<Finished>;
    /// Drops the future in place, as the loop is dropped; returns a panic of its `Drop`.
    fn shutdown(&self) -> Option<Panic>;
}

/// What a finished task leaves for the loop to report: panics nobody else will observe. Almost
/// always there are none, so they are boxed and a finished poll returns one word.
#[derive(Default)]
pub(crate) struct Finished(Option<Box<Reports>>);

#[derive(Default)]
struct Reports {
    /// The future panicked and its `JoinHandle` is gone (the task was detached).
    unobserved: Option<Panic>,
    /// Dropping the future, or a detached task's output, panicked.
    in_drop: Option<Panic>,
}

impl Finished {
    pub(crate) fn new(unobserved: Option<Panic>, in_drop: Option<Panic>) -> Finished {
        if unobserved.is_none() && in_drop.is_none() {
            return Finished(None);
        }
        Finished(Some(Box::new(Reports {
            unobserved,
            in_drop,
        })))
    }

    /// Adds a panic of a drop (or of waking the task's joiner), unless one is there already.
    pub(crate) fn add_drop_panic(&mut self, p: Panic) {
        self.0
            .get_or_insert_with(Box::default)
            .in_drop
            .get_or_insert(p);
    }

    /// The detached task's panic, and a drop's.
    #[inline]
    pub(crate) fn into_panics(self) -> (Option<Panic>, Option<Panic>) {
        match self.0 {
            None => (None, None),
            Some(r) => (r.unobserved, r.in_drop),
        }
    }
}

/// The spawn `Info` is kept flat here, not as a nested struct, so that the fields pack: 48 bytes
/// for every live task.
struct Slot {
    gen: u32,
    scheduled: bool,
    /// Whether a `Builder` gave it a name: a key in [`Tasks::names`].
    named: bool,
    /// Polls so far.
    polls: u32,
    /// The longest poll measured (in a timed turn or in debug mode), in microseconds.
    longest_us: u32,
    task: Rc<dyn RawTask>,
    site: &'static Location<'static>,
    born: u64,
}

impl Slot {
    fn info(&self) -> Info {
        Info {
            site: self.site,
            born: self.born,
        }
    }
}

/// What a task was spawned with, for the dump and for debug mode's warnings.
#[derive(Clone, Copy)]
pub(crate) struct Info {
    /// Where `spawn` (or a `Builder`) was called.
    pub(crate) site: &'static Location<'static>,
    /// When it was spawned, in the loop's nanoseconds.
    pub(crate) born: u64,
}

/// One live task as the dump shows it.
pub(crate) struct Snapshot {
    pub(crate) key: u32,
    pub(crate) gen: u32,
    pub(crate) scheduled: bool,
    pub(crate) polls: u32,
    pub(crate) longest_us: u32,
    pub(crate) info: Info,
    pub(crate) name: Option<Rc<str>>,
}

/// The live tasks of one loop.
#[derive(Default)]
pub(crate) struct Tasks {
    slots: Slab<Slot>,
    next_gen: u32,
    /// The names of named tasks, by key (few tasks have one; a slot says whether it does).
    names: HashMap<u32, Rc<str>>,
}

impl Tasks {
    /// The key and generation the next task gets (`gen_mask` bounds the generation), so that the
    /// task can be built knowing its own waker before it is inserted.
    pub(crate) fn vacant(&self, gen_mask: u32) -> (usize, u32) {
        (self.slots.vacant_key(), self.next_gen & gen_mask)
    }

    /// Stores a task under the key and generation `vacant` gave, already scheduled.
    pub(crate) fn insert(
        &mut self,
        gen: u32,
        task: Rc<dyn RawTask>,
        info: Info,
        name: Option<Rc<str>>,
    ) -> u32 {
        self.next_gen = self.next_gen.wrapping_add(1);
        let key = self.slots.insert(Slot {
            gen,
            scheduled: true,
            named: name.is_some(),
            polls: 0,
            longest_us: 0,
            task,
            site: info.site,
            born: info.born,
        }) as u32;
        if let Some(name) = name {
            self.names.insert(key, name);
        }
        key
    }

    /// Records a measured poll of a task, if it is still there.
    pub(crate) fn note_poll(&mut self, key: u32, gen: u32, took_ns: u64) {
        if let Some(s) = self.slots.get_mut(key as usize).filter(|s| s.gen == gen) {
            let us = u32::try_from(took_ns / 1_000).unwrap_or(u32::MAX);
            s.longest_us = s.longest_us.max(us);
        }
    }

    /// What a live task was spawned with, and its name.
    pub(crate) fn info(&self, key: u32, gen: u32) -> Option<(Info, Option<Rc<str>>)> {
        let s = self.slots.get(key as usize).filter(|s| s.gen == gen)?;
        Some((s.info(), self.name(key, s)))
    }

    fn name(&self, key: u32, slot: &Slot) -> Option<Rc<str>> {
        if !slot.named {
            return None;
        }
        self.names.get(&key).cloned()
    }

    /// Every live task, in key order.
    pub(crate) fn snapshot(&self) -> Vec<Snapshot> {
        self.slots
            .iter()
            .map(|(key, s)| Snapshot {
                key: key as u32,
                gen: s.gen,
                scheduled: s.scheduled,
                polls: s.polls,
                longest_us: s.longest_us,
                info: s.info(),
                name: self.name(key as u32, s),
            })
            .collect()
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

    /// [`schedule`](Self::schedule) for whatever task lives at `key`, whatever its generation
    /// (wakes from other threads of two generations were coalesced: a spurious wake-up at worst).
    /// Returns the generation to queue it with.
    pub(crate) fn schedule_key(&mut self, key: u32) -> Option<u32> {
        match self.slots.get_mut(key as usize) {
            Some(s) if !s.scheduled => {
                s.scheduled = true;
                Some(s.gen)
            }
            _ => None,
        }
    }

    /// The task to poll for a queue entry, with its `scheduled` flag cleared.
    #[inline]
    pub(crate) fn start_poll(&mut self, key: u32, gen: u32) -> Option<Rc<dyn RawTask>> {
        match self.slots.get_mut(key as usize) {
            Some(s) if s.gen == gen => {
                s.scheduled = false;
                s.polls = s.polls.wrapping_add(1);
                Some(s.task.clone())
            }
            _ => None,
        }
    }

    /// Removes a finished task; the caller drops it with no borrow held.
    pub(crate) fn remove(&mut self, key: u32, gen: u32) -> Option<Rc<dyn RawTask>> {
        match self.slots.get(key as usize) {
            Some(s) if s.gen == gen => {
                let slot = self.slots.remove(key as usize);
                if slot.named {
                    self.names.remove(&key);
                }
                Some(slot.task)
            }
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Takes every task out, for the loop's drop.
    pub(crate) fn drain(&mut self) -> Vec<Rc<dyn RawTask>> {
        self.names.clear();
        self.slots.drain().map(|s| s.task).collect()
    }
}

#[cfg(test)]
mod size_tests {
    /// Every live task pays for one slot: keep it from growing unnoticed.
    #[test]
    fn a_task_slot_stays_48_bytes() {
        assert_eq!(std::mem::size_of::<super::Slot>(), 48);
    }
}
