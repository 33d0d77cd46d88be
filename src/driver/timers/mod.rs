//! The timer queue: a binary min-heap of deadlines plus a slab of timer slots, with lazy
//! deletion and lazy deadline extension.
//!
//! # Why a heap with lazy extension, not a hierarchical wheel
//!
//! Most timers of a server never fire: an idle timeout is armed, pushed back on every message and
//! cancelled when the connection closes. So the operations to make `O(1)` are cancel and
//! *extend*; firing is the rare case.
//!
//! - **Cancel** removes the slot; its heap entry becomes *dead* (its sequence number no longer
//!   matches the slot's) and is discarded when it reaches the top. When dead entries outnumber
//!   live ones the heap is compacted in `O(n)`, so memory stays proportional to the live timers and
//!   the amortised cost of a cancel stays constant.
//! - **Re-arm to a later deadline** (`reset`, the idle-timeout pattern) only writes the new
//!   deadline into the slot: the heap entry stays where it is, earlier than the slot's deadline.
//!   When it reaches the top, the timer is not due yet: the entry is re-pushed at the slot's real
//!   deadline, once (`O(log n)`), however many times the timer was pushed back meanwhile. A reset
//!   to an *earlier* deadline pushes a new entry and leaves the old one dead.
//! - **Arm** is one slab insert and one heap push: `O(log n)` comparisons of 16-byte entries, and
//!   `O(1)` in the common case where deadlines grow (a new timeout is usually the latest one).
//! - Deadlines keep nanosecond resolution and any range, and a timer never fires before its
//!   deadline nor out of `(deadline, arming order)`. A wheel (tokio's) gives `O(1)` arming too but
//!   rounds every deadline to its 1 ms tick, needs overflow levels for far deadlines, and cascades
//!   entries between levels; here the only `O(log n)` work is for timers that do come due (once per
//!   firing, plus once per period of pushing back for an extended one).
//!
//! A slot keeps the timer's real `(deadline, order)` beside the sequence of its heap entry
//! (`armed`); an entry is *exact* when the two agree, and *early* (lazily extended) otherwise.
//! Popping an early entry re-pushes it at `(deadline, order)` with `order` as its sequence, so
//! the order among equal deadlines is the order of the last arming, as if the timer had been
//! moved at once.
//!
//! Deadlines are nanoseconds since the loop's origin, saturated to `u64::MAX`, so `Duration::MAX`
//! or a far-future `Instant` never overflows: such a timer simply never comes due.
//!
//! The sequence is 32 bits, to keep an entry at 16 bytes. When it runs out, the heap is renumbered
//! (`TimerQueue::renumber`): it is rebuilt from the slots' real deadlines, and the live timers get
//! `1..` in firing order. So within one numbering every sequence is unique, and a dead entry can
//! never carry the sequence its slot is armed with later (which would fire the re-armed timer at
//! the dead entry's deadline).

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

/// 48 bytes: a sleeping task's timer costs this plus a 16-byte heap entry.
struct Slot<O, P: ?Sized> {
    /// Identity of the timer, checked by [`TimerId`] and queue entries.
    id: u64,
    /// The real deadline while armed; the heap entry (`action.armed()`) may be earlier.
    deadline: u64,
    /// The sequence of the last arming, which orders equal deadlines.
    order: u32,
    action: Action<O, P>,
}

impl<O, P: ?Sized> Slot<O, P> {
    /// A constant, so that `Slab::insert` copies it from read-only memory (see `insert`).
    const VACANT: Self = Slot {
        id: 0,
        deadline: NEVER,
        order: 0,
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

    /// Starts a new numbering: rebuilds the heap from the armed slots' real `(deadline, order)`,
    /// which drops dead entries and resolves early ones, and gives the timers `1..` in firing order.
    /// `O(n log n)`, once every `u32::MAX` arms.
    fn renumber(&mut self) {
        let mut live: Vec<HeapEntry> = self
            .slots
            .iter()
            .filter(|(_, s)| s.action.armed() != 0)
            .map(|(key, s)| Reverse((s.deadline, s.order, key as u32)))
            .collect();
        live.sort_unstable_by_key(|e| e.0);
        let mut next = 1u32;
        for Reverse((_, seq, key)) in &mut live {
            *seq = next;
            let slot = &mut self.slots[*key as usize];
            slot.order = next;
            slot.action.set_armed(next);
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

    /// Pushes an exact heap entry for the timer at `deadline`.
    fn arm(&mut self, key: u32, deadline: u64) {
        let seq = self.seq();
        let slot = &mut self.slots[key as usize];
        slot.deadline = deadline;
        slot.order = seq;
        slot.action.set_armed(seq);
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
    /// `Sleep::reset`). `O(1)` when the timer is armed and the deadline does not move earlier: the
    /// heap entry stays, early (see the module docs).
    pub(crate) fn reset(&mut self, key: u32, deadline: u64) -> bool {
        let Some(slot) = self.slots.get_mut(key as usize) else {
            return false;
        };
        let was_armed = slot.action.armed() != 0;
        if was_armed && deadline >= slot.deadline {
            // The entry is at or before the old deadline, so before the new one: keep it. (A
            // renumbering in `seq` rebuilds it exact at the old deadline, still before the new.)
            let order = self.seq();
            let slot = &mut self.slots[key as usize];
            slot.deadline = deadline;
            slot.order = order;
            return true;
        }
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

    /// The earliest deadline of a live timer, dropping dead entries and re-pushing early ones found
    /// on the way.
    #[inline]
    pub(crate) fn next_deadline(&mut self) -> Option<u64> {
        while let Some(&Reverse((deadline, seq, key))) = self.heap.peek() {
            match self.entry_state(deadline, seq, key) {
                EntryState::Exact => return Some(deadline),
                EntryState::Dead => self.pop_dead(),
                EntryState::Early => self.repush_top(key),
            }
        }
        None
    }

    /// A time no later than the earliest live deadline, cheaply: the top entry's, after dropping
    /// dead entries. It may be an early entry's (a timer pushed back since), which the poller can
    /// wait for all the same: waking early is harmless, and moving early entries only when they
    /// come due (in `fire_due`) is what keeps a reset `O(1)`. Resolving them here instead would
    /// move one per message in a busy server, whose least recently active connection is always at
    /// the top and always just pushed back.
    #[inline]
    pub(crate) fn next_wake(&mut self) -> Option<u64> {
        while let Some(&Reverse((deadline, seq, key))) = self.heap.peek() {
            if self.entry_state(deadline, seq, key) != EntryState::Dead {
                return Some(deadline);
            }
            self.pop_dead();
        }
        None
    }

    /// What the heap entry `(deadline, seq, key)` stands for now.
    #[inline]
    fn entry_state(&self, deadline: u64, seq: u32, key: u32) -> EntryState {
        match self.slots.get(key as usize) {
            Some(s) if s.action.armed() == seq => {
                if s.deadline == deadline && s.order == seq {
                    EntryState::Exact
                } else {
                    EntryState::Early
                }
            }
            _ => EntryState::Dead,
        }
    }

    /// Drops the dead entry at the top of the heap and counts it out (saturating: the count only
    /// decides when to compact).
    #[inline]
    fn pop_dead(&mut self) {
        self.heap.pop();
        self.dead = self.dead.saturating_sub(1);
    }

    /// Moves the early entry at the top of the heap to its slot's real `(deadline, order)`.
    #[cold]
    fn repush_top(&mut self, key: u32) {
        let slot = &mut self.slots[key as usize];
        slot.action.set_armed(slot.order);
        let entry = Reverse((slot.deadline, slot.order, key));
        // `PeekMut` sifts the replaced top down in place: one pass instead of a pop and a push.
        if let Some(mut top) = self.heap.peek_mut() {
            *top = entry;
        }
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
            match self.entry_state(deadline, seq, key) {
                EntryState::Exact => {}
                EntryState::Dead => {
                    self.pop_dead();
                    continue;
                }
                EntryState::Early => {
                    self.repush_top(key);
                    continue;
                }
            }
            self.heap.pop();
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

    /// Live timers by kind (one-shot callbacks, periodic callbacks, sleeps) and the earliest real
    /// deadline among them, for a report of what is left.
    pub(crate) fn kinds(&self) -> TimerKinds {
        let mut k = TimerKinds::default();
        for (_, s) in &self.slots {
            match s.action {
                Action::Once { .. } => k.once += 1,
                Action::Every { .. } => k.every += 1,
                Action::Wake { .. } => k.sleeps += 1,
            }
            if s.action.armed() != 0 {
                k.earliest = Some(k.earliest.map_or(s.deadline, |e: u64| e.min(s.deadline)));
            }
        }
        k
    }

    /// Removes every timer, handing the actions back to be dropped with no borrow held.
    pub(crate) fn clear(&mut self) -> Vec<Action<O, P>> {
        self.heap.clear();
        self.dead = 0;
        self.referenced = 0;
        self.slots.drain().map(|s| s.action).collect()
    }
}

/// What [`TimerQueue::kinds`] counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimerKinds {
    pub(crate) once: usize,
    pub(crate) every: usize,
    pub(crate) sleeps: usize,
    /// The earliest deadline of an armed timer (`NEVER` if it never comes due).
    pub(crate) earliest: Option<u64>,
}

/// A heap entry, against its slot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EntryState {
    /// The slot is armed at this entry's deadline and order.
    Exact,
    /// The slot is armed by this entry, but at a later `(deadline, order)` (lazily extended).
    Early,
    /// The slot was cancelled, re-armed elsewhere or fired: the entry is stale.
    Dead,
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
