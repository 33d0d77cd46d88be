//! The lane: a loop's FIFO of hyper sleeps whose deadlines come in order, behind one loop timer.
//!
//! hyper arms a header-read timeout of the same length (30 s by default) for every request and
//! drops it as soon as the head arrived, so each request would cost a timer-heap insert, a removal,
//! and later the pop of the dead heap entry: about 500 instructions, 6% of a small request. Those
//! deadlines arrive in non-decreasing order, so they can queue instead: a sleep whose deadline is
//! not earlier than the last one queued is pushed at the back, a dropped one is marked dead (and
//! popped once it reaches the front), and a single loop timer, armed for the front, fires the
//! sleeps that are due. A sleep that would break the order takes a timer of its own (the caller's
//! fallback).
//!
//! Nothing here runs user code while the lane is borrowed: wakers are cloned before, and woken or
//! dropped after, each borrow.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;

use slab::Slab;

use crate::driver::timers::TimerId;
use crate::runtime::core::{Action, Core};
use crate::runtime::remote::RemoteShared;
use crate::runtime::waker;
use crate::Remote;

/// A sleep's place in its loop's lane.
#[derive(Clone, Copy, Debug)]
pub(super) struct Place {
    key: u32,
    gen: u32,
}

struct Entry {
    deadline: u64,
    gen: u32,
    waker: Option<Waker>,
    fired: bool,
}

pub(super) struct Lane {
    /// The loop this lane belongs to (compared by address).
    home: Arc<RemoteShared>,
    entries: Slab<Entry>,
    /// Arming order, deadlines non-decreasing. Holds dead places (their entry gone, or reused by
    /// another generation) until they reach the front or a compaction.
    order: VecDeque<Place>,
    /// How many places in `order` are dead.
    dead: usize,
    /// The deadline of the back of `order` (what a new place must not precede).
    last: u64,
    /// The loop timer armed for the front, with its deadline.
    head: Option<(TimerId, u64)>,
    next_gen: u32,
}

thread_local! {
    /// The lane of this thread's loop. A thread runs one loop nearly always; the sleeps of a second
    /// live loop on the same thread take timers of their own.
    static LANE: RefCell<Option<Lane>> = const { RefCell::new(None) };
}

/// Runs `f` with the lane of `core`'s loop (made on first use), or gives `None` if this thread's
/// lane belongs to another loop that is still alive. `f` must run no user code (the lane is
/// borrowed).
fn with_lane<R>(core: &Core, f: impl FnOnce(&mut Lane) -> R) -> Option<R> {
    LANE.try_with(|cell| {
        let mut slot = cell.borrow_mut();
        match &mut *slot {
            Some(l) if Arc::ptr_eq(&l.home, &core.remote) => return Some(f(l)),
            // Another loop's, still alive: this loop's sleeps take timers of their own.
            Some(l)
                if (Remote {
                    shared: l.home.clone(),
                })
                .is_alive() =>
            {
                return None
            }
            _ => {}
        }
        // No lane yet, or the lane of a loop that is gone (its sleeps can only be gone or inert):
        // the old one is dropped with the cell free, since its wakers' drops are user code.
        let old = slot.replace(Lane {
            home: core.remote.clone(),
            entries: Slab::new(),
            order: VecDeque::new(),
            dead: 0,
            last: 0,
            head: None,
            next_gen: 0,
        });
        drop(slot);
        drop(old);
        cell.borrow_mut().as_mut().map(f)
    })
    .ok()
    .flatten()
}

/// Queues a sleep due at `deadline` waking `waker`, if that keeps the lane in order; `None` means
/// the caller arms a timer of its own.
pub(super) fn arm(core: &Core, deadline: u64, waker: &Waker) -> Option<Place> {
    // Cloned before the borrow: a foreign waker's clone is user code.
    let mut waker = Some(waker::clone_waker(waker));
    let armed = with_lane(core, |l| {
        if !l.order.is_empty() && deadline < l.last {
            return None;
        }
        let gen = l.next_gen;
        l.next_gen = l.next_gen.wrapping_add(1);
        let key = l.entries.insert(Entry {
            deadline,
            gen,
            waker: waker.take(),
            fired: false,
        });
        let place = Place {
            key: u32::try_from(key).expect("more than 4 billion hyper sleeps"),
            gen,
        };
        l.order.push_back(place);
        l.last = deadline;
        Some((place, l.head.is_none()))
    })
    .flatten();
    // Refused (out of order, or another loop's lane): the clone is dropped with the lane free.
    drop(waker);
    let (place, arm_head) = armed?;
    if arm_head {
        arm_head_timer(core, deadline);
    }
    Some(place)
}

fn arm_head_timer(core: &Core, deadline: u64) {
    let action = Action::once(Box::new(|h: &crate::Handle| fire(&h.core)));
    // A closed loop arms nothing: the lane's sleeps then stay pending, like its other work.
    if let Ok(id) = core.add_timer(deadline, action) {
        with_lane(core, |l| l.head = Some((id, deadline)));
    }
}

/// The head timer fired: wakes the due sleeps at the front, re-arms for the next one.
fn fire(core: &Core) {
    let now = core.now_ns();
    let mut due = Vec::new();
    let next = with_lane(core, |l| {
        l.head = None;
        while let Some(&front) = l.order.front() {
            match l.entries.get_mut(front.key as usize) {
                Some(e) if e.gen == front.gen => {
                    if e.deadline > now {
                        return Some(e.deadline);
                    }
                    e.fired = true;
                    due.extend(e.waker.take());
                }
                _ => l.dead -= 1,
            }
            l.order.pop_front();
        }
        None
    })
    .flatten();
    if let Some(deadline) = next {
        arm_head_timer(core, deadline);
    }
    // Woken with the lane free: a foreign waker's `wake` is user code.
    for w in due {
        w.wake();
    }
}

/// A queued sleep's poll: whether it fired, storing `waker` if not.
pub(super) fn poll(core: &Core, place: Place, waker: &Waker) -> bool {
    let state = with_lane(core, |l| match l.entries.get(place.key as usize) {
        Some(e) if e.gen == place.gen && !e.fired => {
            Some(e.waker.as_ref().is_some_and(|w| w.will_wake(waker)))
        }
        _ => None,
    })
    .flatten();
    match state {
        None => true,
        Some(true) => false,
        Some(false) => {
            let new = waker::clone_waker(waker);
            let old = with_lane(core, |l| {
                l.entries
                    .get_mut(place.key as usize)
                    .filter(|e| e.gen == place.gen)
                    .and_then(|e| e.waker.replace(new))
            })
            .flatten();
            drop(old);
            false
        }
    }
}

/// Takes a sleep off the lane (it was dropped, reset, or completed).
pub(super) fn remove(core: &Core, place: Place) {
    let mut head = None;
    let waker = with_lane(core, |l| {
        let e = l.entries.get_mut(place.key as usize)?;
        if e.gen != place.gen {
            return None;
        }
        let waker = e.waker.take();
        let fired = e.fired;
        l.entries.remove(place.key as usize);
        if !fired {
            // Still in `order`: now a dead place there.
            l.dead += 1;
        }
        // Dead places at the front go at once (sleeps mostly end in the order they began). A
        // fired sleep left `order` when it fired, so a place is live exactly while its entry is.
        while let Some(&front) = l.order.front() {
            if l.entries
                .get(front.key as usize)
                .is_some_and(|e| e.gen == front.gen)
            {
                break;
            }
            l.dead -= 1;
            l.order.pop_front();
        }
        // Behind a long-lived sleep they pile up: compact when they outnumber the live ones.
        if l.dead > 64 && l.dead > l.entries.len() {
            let Lane { entries, order, .. } = l;
            order.retain(|p| entries.get(p.key as usize).is_some_and(|e| e.gen == p.gen));
            l.dead = 0;
        }
        // Nothing left to time: the head timer goes too, so it keeps no loop alive.
        if l.order.is_empty() {
            head = l.head.take();
        }
        waker
    })
    .flatten();
    if let Some((id, _)) = head {
        core.cancel_timer(id);
    }
    // Dropped with the lane free: a foreign waker's drop is user code.
    drop(waker);
}
