//! The timer queue: a binary min-heap of deadlines plus a slab of timer slots.
//!
//! # Why a heap with lazy deletion, not a hierarchical wheel
//!
//! - Arming is one slab insert and one heap push: `O(log n)` comparisons of 16-byte entries, and `O(1)` in
//!   the common case where deadlines grow (a new timeout is usually the latest one).
//! - Cancelling is `O(1)`: the slot is removed from the slab and its heap entry becomes *dead*; it is
//!   recognised (its sequence number no longer matches a slot) and discarded when it reaches the top.
//!   When dead entries outnumber live ones the heap is compacted in `O(n)`, so memory stays
//!   proportional to the live timers and the amortised cost of a cancel stays constant.
//! - Deadlines have nanosecond resolution and any range (a wheel rounds to its tick and needs overflow
//!   levels), and firing is exact: a timer never fires before its deadline.
//! - With a million live timers a push or pop touches about 20 heap entries; a wheel would win only
//!   for workloads dominated by cancel-before-fire churn, which lazy deletion already makes cheap.
//!
//! Entries are ordered by `(deadline, sequence)`, so timers with equal deadlines fire in the order
//! they were armed. Deadlines are nanoseconds since the loop's origin, saturated to `u64::MAX`, so
//! `Duration::MAX` or a far-future `Instant` never overflows: such a timer simply never comes due.
//!
//! The sequence is 32 bits, to keep an entry at 16 bytes. When it runs out, the heap is renumbered
//! (`TimerQueue::renumber`): dead entries are dropped and the live ones get `1..` in firing order.
//! So within one numbering every sequence is unique, and a dead entry can never carry the sequence
//! its slot is armed with later (which would fire the re-armed timer at the dead entry's deadline).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;

use slab::Slab;

use super::queue::{Entry, Queue};

mod action;
mod id;

pub(crate) use action::{Action, EveryCallback, Periodic};
pub use id::TimerId;

/// A deadline that is never reached.
pub(crate) const NEVER: u64 = u64::MAX;

/// 32 bytes: a sleeping task's timer costs this plus a 16-byte heap entry.
struct Slot<O, P: ?Sized> {
    /// Identity of the timer, checked by [`TimerId`] and queue entries.
    id: u64,
    action: Action<O, P>,
}

impl<O, P: ?Sized> Slot<O, P> {
    /// A constant, so that `Slab::insert` copies it from read-only memory (see `insert`).
    const VACANT: Self = Slot {
        id: 0,
        action: Action::EMPTY,
    };
}

/// The size of a timer slot for callback types `O` and `P`, for the size guards.
#[cfg(test)]
pub(crate) fn slot_size<O, P: ?Sized>() -> usize {
    std::mem::size_of::<Slot<O, P>>()
}

/// `(deadline, sequence, key)`, min-first.
type HeapEntry = Reverse<(u64, u32, u32)>;

/// All timers of one loop. `O` and `P` are the one-shot and periodic callback types (see
/// [`Action`]).
pub(crate) struct TimerQueue<O, P: ?Sized> {
    heap: BinaryHeap<HeapEntry>,
    slots: Slab<Slot<O, P>>,
    next_id: u64,
    next_seq: u32,
    /// The heap is renumbered when `next_seq` reaches this; lowered by tests to exercise it.
    seq_limit: u32,
    dead: usize,
    referenced: usize,
}

impl<O, P: ?Sized> Default for TimerQueue<O, P> {
    fn default() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            slots: Slab::new(),
            next_id: 1,
            next_seq: 1,
            seq_limit: u32::MAX,
            dead: 0,
            referenced: 0,
        }
    }
}

impl<O, P: ?Sized> TimerQueue<O, P> {
    /// Number of live timers (armed, queued or running).
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether some timer keeps the loop alive.
    pub(crate) fn is_referenced(&self) -> bool {
        self.referenced > 0
    }

    fn seq(&mut self) -> u32 {
        if self.next_seq >= self.seq_limit {
            self.renumber();
        }
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Starts a new numbering: drops the dead entries and gives the live ones `1..` in
    /// `(deadline, sequence)` order, which keeps their firing order. `O(n log n)`, once every
    /// `u32::MAX` arms.
    fn renumber(&mut self) {
        let slots = &mut self.slots;
        let mut live = std::mem::take(&mut self.heap).into_vec();
        live.retain(|Reverse((_, seq, key))| {
            slots
                .get(*key as usize)
                .is_some_and(|s| s.action.armed() == *seq)
        });
        live.sort_unstable_by_key(|e| e.0);
        let mut next = 1u32;
        for Reverse((_, seq, key)) in &mut live {
            *seq = next;
            slots[*key as usize].action.set_armed(next);
            next += 1;
        }
        assert!(
            next < self.seq_limit,
            "more armed timers than sequence numbers"
        );
        self.next_seq = next;
        self.dead = 0;
        self.heap = BinaryHeap::from(live);
    }

    /// Arms a new timer.
    pub(crate) fn insert(&mut self, deadline: u64, action: Action<O, P>) -> TimerId {
        let id = self.next_id;
        self.next_id += 1;
        let key = self.slots.vacant_key();
        let key32 = u32::try_from(key).expect("more than 4 billion live timers");
        let referenced = action.keep_alive();
        // `Slab::insert` is not inlined and copies the slot through a stack temporary in 16-byte
        // moves; a temporary assembled from narrower stores (tag, flags, id) stalls store
        // forwarding on that copy, about a tenth of an arm + cancel. So: a constant, then fields.
        self.slots.insert(Slot::VACANT);
        let slot = &mut self.slots[key];
        slot.id = id;
        slot.action = action;
        self.count_ref(false, referenced);
        self.arm(key32, deadline);
        TimerId { key: key32, id }
    }

    fn arm(&mut self, key: u32, deadline: u64) {
        let seq = self.seq();
        self.slots[key as usize].action.set_armed(seq);
        self.heap.push(Reverse((deadline, seq, key)));
    }

    fn slot(&self, t: TimerId) -> Option<&Slot<O, P>> {
        self.slots.get(t.key as usize).filter(|s| s.id == t.id)
    }

    fn slot_mut(&mut self, t: TimerId) -> Option<&mut Slot<O, P>> {
        self.slots.get_mut(t.key as usize).filter(|s| s.id == t.id)
    }

    /// Whether the timer is still live.
    pub(crate) fn contains(&self, t: TimerId) -> bool {
        self.slot(t).is_some()
    }

    /// Removes a timer; its heap entry or queue entry becomes stale. Returns the action so the
    /// caller drops it (and any user closure) with no borrow held.
    pub(crate) fn cancel(&mut self, t: TimerId) -> Option<Action<O, P>> {
        self.slot(t)?;
        self.remove(t.key)
    }

    /// [`cancel`](Self::cancel) by key alone, for the owner of a timer whose id is never handed out
    /// (a `Sleep`): nothing else can remove it, so its key names it for as long as the owner holds
    /// it (a closed loop arms no timer, so reuses no key).
    pub(crate) fn remove(&mut self, key: u32) -> Option<Action<O, P>> {
        let slot = self.slots.get_mut(key as usize)?;
        let action = std::mem::replace(&mut slot.action, Action::EMPTY);
        self.count_ref(action.keep_alive(), false);
        if action.armed() != 0 {
            self.dead += 1;
        }
        // Nothing left to drop, and forgetting it spares `Slab::remove` copying the slot out,
        // which stalls store forwarding just like the copy in `insert`.
        std::mem::forget(self.slots.remove(key as usize));
        // Also when the slot was not armed (a fired timer being removed): fewer live timers can
        // leave the dead entries outnumbering them.
        self.maybe_compact();
        Some(action)
    }

    fn maybe_compact(&mut self) {
        if self.dead > 64 && self.dead > self.slots.len() {
            let slots = &self.slots;
            self.heap.retain(|Reverse((_, seq, key))| {
                slots
                    .get(*key as usize)
                    .is_some_and(|s| s.action.armed() == *seq)
            });
            self.dead = 0;
        }
    }

    /// Marks whether the timer keeps the loop alive. Returns false if it is gone.
    pub(crate) fn set_keep_alive(&mut self, t: TimerId, keep: bool) -> bool {
        let Some(slot) = self.slot_mut(t) else {
            return false;
        };
        let was = slot.action.replace_keep_alive(keep);
        self.count_ref(was, keep);
        true
    }

    /// A timer's keep-alive mark changed from `was` to `now` (a new timer was not, a removed one
    /// is no more): the one place that counts the timers keeping the loop alive.
    #[inline]
    fn count_ref(&mut self, was: bool, now: bool) {
        match (was, now) {
            (false, true) => self.referenced += 1,
            (true, false) => self.referenced -= 1,
            _ => {}
        }
    }

    /// Moves the deadline of a live timer, by key like [`remove`](Self::remove) (used by
    /// `Sleep::reset`).
    pub(crate) fn reset(&mut self, key: u32, deadline: u64) -> bool {
        let Some(slot) = self.slots.get_mut(key as usize) else {
            return false;
        };
        let was_armed = slot.action.armed() != 0;
        let mut recount = false;
        if let Action::Wake {
            fired, keep_alive, ..
        } = &mut slot.action
        {
            recount = *fired && !std::mem::replace(keep_alive, true);
            *fired = false;
        }
        if recount {
            self.count_ref(false, true);
        }
        self.arm(key, deadline);
        // Counted after arming: a renumbering while arming keeps the old entry, still live then.
        if was_armed {
            self.dead += 1;
        }
        self.maybe_compact();
        true
    }

    /// Whether the earliest heap entry (live or dead) is due at `now`.
    pub(crate) fn is_due(&self, now: u64) -> bool {
        self.heap
            .peek()
            .is_some_and(|Reverse((deadline, _, _))| *deadline <= now)
    }

    /// The earliest deadline of a live timer, dropping dead entries found on the way.
    #[inline]
    pub(crate) fn next_deadline(&mut self) -> Option<u64> {
        while let Some(&Reverse((deadline, seq, key))) = self.heap.peek() {
            if self.is_live(seq, key) {
                return Some(deadline);
            }
            self.heap.pop();
            self.dead = self.dead.saturating_sub(1);
        }
        None
    }

    fn is_live(&self, seq: u32, key: u32) -> bool {
        self.slots
            .get(key as usize)
            .is_some_and(|s| s.action.armed() == seq)
    }

    /// Moves every timer due at `now` out of the heap: callback timers become queue entries (in
    /// deadline order), `Sleep` timers are marked fired and their wakers handed to `wake`.
    pub(crate) fn fire_due<C>(
        &mut self,
        now: u64,
        queue: &mut Queue<C>,
        mut wake: impl FnMut(&mut Queue<C>, Waker),
    ) {
        while let Some(&Reverse((deadline, seq, key))) = self.heap.peek() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if !self.is_live(seq, key) {
                self.dead = self.dead.saturating_sub(1);
                continue;
            }
            let slot = &mut self.slots[key as usize];
            slot.action.set_armed(0);
            let mut fired_sleep = false;
            match &mut slot.action {
                Action::Wake {
                    waker,
                    fired,
                    keep_alive,
                    ..
                } => {
                    *fired = true;
                    // A fired sleep waits for its task, which may never poll it again: it no
                    // longer keeps the loop alive (a reset counts it again).
                    fired_sleep = std::mem::replace(keep_alive, false);
                    if let Some(w) = waker.take() {
                        wake(queue, w);
                    }
                }
                Action::Every { callback, .. } => {
                    // Taken only while it runs, when it is not armed: always here.
                    if let Some(p) = callback {
                        p.deadline = deadline;
                    }
                    queue.push(Entry::Timer { key, id: slot.id });
                }
                Action::Once { .. } => queue.push(Entry::Timer { key, id: slot.id }),
            }
            if fired_sleep {
                self.count_ref(true, false);
            }
        }
    }

    /// Takes a due callback timer's action so it can run with no borrow held.
    pub(crate) fn take_due(&mut self, key: u32, id: u64) -> Option<Due<O, P>> {
        let slot = self.slot_mut(TimerId { key, id })?;
        match &mut slot.action {
            Action::Once { callback, .. } => callback.take().map(Due::Once),
            Action::Every { callback, .. } => callback.take().map(Due::Every),
            Action::Wake { .. } => None,
        }
    }

    /// After a periodic callback ran: gives the callback back and re-arms it, unless it was cancelled
    /// meanwhile, in which case the callback is handed back to be dropped.
    ///
    /// Missed ticks are skipped: the next deadline is the first multiple of `period` after the
    /// deadline it was due at that is later than `now`, so a slow callback or a stalled loop never
    /// causes a burst.
    pub(crate) fn rearm_every(
        &mut self,
        key: u32,
        id: u64,
        callback: EveryCallback<P>,
        now: u64,
    ) -> Option<EveryCallback<P>> {
        let Some(slot) = self.slot_mut(TimerId { key, id }) else {
            return Some(callback);
        };
        let next = next_tick(callback.deadline, callback.period, now);
        if let Action::Every { callback: c, .. } = &mut slot.action {
            *c = Some(callback);
        }
        // Re-armed from inside the callback (reset): keep that deadline.
        if slot.action.armed() == 0 {
            self.arm(key, next);
        }
        None
    }

    /// For `Sleep`, by key like [`remove`](Self::remove): whether the timer fired, and if not
    /// whether `waker` is the one it will wake. Runs no waker code (`will_wake` compares).
    pub(crate) fn poll_fired(&self, key: u32, waker: &Waker) -> Fired {
        match self.slots.get(key as usize).map(|s| &s.action) {
            Some(Action::Wake {
                fired: false,
                waker: Some(w),
                ..
            }) if w.will_wake(waker) => Fired::Waiting,
            Some(Action::Wake { fired: false, .. }) => Fired::NewWaker,
            _ => Fired::Yes,
        }
    }

    /// Stores the waker of a `Sleep` that has not fired, handing back the one it replaces (to be
    /// dropped with no borrow held: a foreign waker's drop is user code). Gives `waker` back if the
    /// timer fired or is gone meanwhile.
    pub(crate) fn set_waker(&mut self, key: u32, waker: Waker) -> Option<Waker> {
        match self.slots.get_mut(key as usize).map(|s| &mut s.action) {
            Some(Action::Wake {
                fired: false,
                waker: w,
                ..
            }) => w.replace(waker),
            _ => Some(waker),
        }
    }

    /// Removes every timer, handing the actions back to be dropped with no borrow held.
    pub(crate) fn clear(&mut self) -> Vec<Action<O, P>> {
        self.heap.clear();
        self.dead = 0;
        self.referenced = 0;
        self.slots.drain().map(|s| s.action).collect()
    }
}

/// A due callback, taken out of its slot while it runs.
pub(crate) enum Due<O, P: ?Sized> {
    Once(O),
    /// The callback, with the deadline it was due at and its period.
    Every(EveryCallback<P>),
}

/// What a `Sleep`'s poll finds in its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fired {
    /// Fired (or gone): the sleep is over.
    Yes,
    /// Not yet, and the stored waker is the polling task's.
    Waiting,
    /// Not yet, and the polling task's waker must be stored.
    NewWaker,
}

/// The first tick `previous + k * period` (k >= 1) that is later than `now`.
pub(crate) fn next_tick(previous: u64, period: u64, now: u64) -> u64 {
    let period = period.max(1);
    let next = previous.saturating_add(period);
    if next > now {
        return next;
    }
    let missed = (now - previous) / period;
    previous.saturating_add(missed.saturating_add(1).saturating_mul(period))
}

#[cfg(test)]
mod tests;
