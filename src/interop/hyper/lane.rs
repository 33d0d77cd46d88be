//! The lane: a loop's FIFO of hyper sleeps whose deadlines come in order, behind one loop timer.
//!
//! hyper arms a header-read timeout of the same length (30 s by default) for every request and
//! drops it as soon as the head arrived, so each request would cost a timer-heap insert, a removal,
//! and later the pop of the dead heap entry. Those deadlines arrive in non-decreasing order, so
//! they can queue instead: a sleep whose deadline is not earlier than the last one queued is
//! pushed at the back, a dropped one is marked dead (and popped once it reaches the front), and a
//! single loop timer, armed for the front, fires the sleeps that are due. A sleep that would break
//! the order takes a timer of its own (the caller's fallback). The head timer is moved lazily: a
//! front that left early leaves it armed, and when it fires early it re-arms for the new front, so
//! a stream of sleeps that never fire touches the timer heap only when the lane empties.
//!
//! A lane is also its loop's identity for the sleeps, so that a sleep holds a plain number (its
//! lane's `epoch`, unique in the process) rather than an `Arc` of the loop: creating and dropping a
//! sleep then touches no shared counter. The lane holds the loop's remote side, so its address is
//! never reused while the lane lives, and registers it in [`DOORS`] under its epoch, where a sleep
//! dropped on another thread finds the loop to post its removal to.
//!
//! Nothing here runs user code while the lane is borrowed: wakers are cloned before, and woken or
//! dropped after, each borrow.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::Waker;
use std::time::Instant;

use crate::driver::timers::TimerId;
use crate::runtime::core::{Action, Core};
use crate::runtime::remote::RemoteShared;
use crate::runtime::waker;
use crate::Remote;

pub(super) use super::slots::Place;
use super::slots::Slots;

struct Entry {
    deadline: Instant,
    fired: bool,
    waker: Option<Waker>,
}

pub(super) struct Lane {
    /// The loop this lane belongs to (compared by address; held, so the address stays its own).
    home: Arc<RemoteShared>,
    /// This lane's number, unique in the process: what its sleeps hold to name their loop.
    epoch: u64,
    entries: Slots<Entry>,
    /// Arming order, deadlines non-decreasing. Holds dead places (their entry gone, or reused by
    /// another generation) until they reach the front or a compaction.
    order: VecDeque<Place>,
    /// How many places in `order` are dead.
    dead: usize,
    /// The deadline of the back of `order` (what a new place must not precede).
    last: Instant,
    /// The loop's turn time (`Core::now_ns`) and the `Instant` it stands for, computed once per
    /// turn: hyper asks for the time and gives deadlines as `Instant`s, and the lane keeps them as
    /// such, so a request's timeout costs no conversion to the loop's clock and back.
    now: (u64, Instant),
    /// The loop timer armed for the front, with its deadline (at or before the front's).
    head: Option<(TimerId, Instant)>,
}

thread_local! {
    /// The lane of this thread's loop. A thread runs one loop nearly always; the sleeps of a second
    /// live loop on the same thread take timers of their own.
    static LANE: RefCell<Option<Lane>> = const { RefCell::new(None) };
}

/// Lane epochs are handed out in order from 1 (0 is never a lane's).
static EPOCHS: AtomicU64 = AtomicU64::new(1);

/// The remote side of each lane's loop by epoch, for sleeps dropped on another thread. Touched when
/// a lane is made (once per loop) and by those drops, never on the loop's hot path. Weak, so that
/// a loop's remote side (and its poller's wake-up descriptor) goes when the loop and its lane do.
static DOORS: Mutex<Vec<(u64, Weak<RemoteShared>)>> = Mutex::new(Vec::new());

/// The epoch of the lane of `core`'s loop, made on first use; `None` if this thread's lane
/// belongs to another loop that is still alive (this loop's sleeps then take timers of their own).
pub(super) fn epoch_of(core: &Core) -> Option<u64> {
    let found = LANE
        .try_with(|cell| match &*cell.borrow() {
            Some(l) if Arc::ptr_eq(&l.home, &core.remote) => Ok(l.epoch),
            Some(l)
                if (Remote {
                    shared: l.home.clone(),
                })
                .is_alive() =>
            {
                Err(false)
            }
            _ => Err(true),
        })
        .ok()?;
    match found {
        Ok(epoch) => Some(epoch),
        Err(false) => None,
        Err(true) => Some(new_lane(core)),
    }
}

/// No lane yet, or the lane of a loop that is gone (its sleeps can only be gone or inert): a new
/// one for `core`'s loop.
#[cold]
fn new_lane(core: &Core) -> u64 {
    let epoch = EPOCHS.fetch_add(1, Ordering::Relaxed);
    {
        let mut doors = DOORS.lock().unwrap_or_else(|e| e.into_inner());
        // The doors of loops that are gone go now: the table holds only those of loops whose
        // remote side lives (the removals of the others would find nothing to remove). Counted,
        // not upgraded: no remote side may be dropped, with its inbox, under the lock.
        doors.retain(|(_, door)| door.strong_count() > 0);
        doors.push((epoch, Arc::downgrade(&core.remote)));
    }
    let old = LANE.with(|cell| {
        cell.borrow_mut().replace(Lane {
            home: core.remote.clone(),
            epoch,
            entries: Slots::new(),
            order: VecDeque::new(),
            dead: 0,
            last: now_instant(core),
            now: (core.now_ns(), now_instant(core)),
            head: None,
        })
    });
    // Dropped with the cell free: its wakers' drops are user code.
    drop(old);
    epoch
}

/// The loop's turn time as an `Instant`, computed.
fn now_instant(core: &Core) -> Instant {
    core.ns_to_instant(core.now_ns())
        .unwrap_or_else(Instant::now)
}

impl Lane {
    /// The loop's turn time as an `Instant`, from the per-turn cache.
    #[inline]
    fn now(&mut self, core: &Core) -> Instant {
        let ns = core.now_ns();
        if self.now.0 != ns {
            self.now = (ns, now_instant(core));
        }
        self.now.1
    }
}

/// The loop's turn time as an `Instant` (hyper's `Timer::now`): from the lane's per-turn cache
/// when this thread's lane is `core`'s loop's.
#[inline]
pub(super) fn now(core: &Core) -> Instant {
    LANE.try_with(|cell| match &mut *cell.borrow_mut() {
        Some(l) if Arc::ptr_eq(&l.home, &core.remote) => Some(l.now(core)),
        _ => None,
    })
    .ok()
    .flatten()
    .unwrap_or_else(|| now_instant(core))
}

/// The remote side of the loop whose lane is `epoch`, if that loop is alive.
pub(super) fn door(epoch: u64) -> Option<Remote> {
    let doors = DOORS.lock().unwrap_or_else(|e| e.into_inner());
    let shared = doors.iter().find(|(e, _)| *e == epoch)?.1.upgrade()?;
    drop(doors);
    Some(Remote { shared }).filter(Remote::is_alive)
}

/// Runs `f` with lane `epoch` if it is this thread's lane and belongs to `core`'s loop; `None`
/// otherwise (the sleep is polled off its loop, or its loop is gone). `f` must run no user code.
#[inline]
fn with_lane<R>(core: &Core, epoch: u64, f: impl FnOnce(&mut Lane) -> R) -> Option<R> {
    LANE.try_with(|cell| match &mut *cell.borrow_mut() {
        Some(l) if l.epoch == epoch && Arc::ptr_eq(&l.home, &core.remote) => Some(f(l)),
        _ => None,
    })
    .ok()
    .flatten()
}

/// Whether lane `epoch` is this thread's and `core`'s loop's.
pub(super) fn owns(core: &Core, epoch: u64) -> bool {
    with_lane(core, epoch, |_| ()).is_some()
}

/// What [`arm`] did.
pub(super) enum Armed {
    /// Queued in lane `epoch` at this place.
    Queued(u64, Place),
    /// The deadline is earlier than the last of lane `epoch`: the caller arms a timer of its own.
    OutOfOrder(u64),
    /// Already due (lane `epoch`): nothing was queued.
    Due(u64),
    /// This thread's lane is another live loop's: the caller arms a timer, naming the loop by its
    /// remote side.
    NotMine,
}

/// Queues a sleep due at `deadline` waking `waker` in the lane of `core`'s loop, if that keeps
/// the lane in order. `epoch` is the sleep's lane if it has one already (a sleep that was reset);
/// `None` if that is not this thread's `core`'s.
#[inline]
pub(super) fn arm(core: &Core, epoch: Option<u64>, deadline: Instant, w: &Waker) -> Option<Armed> {
    // Cloned before the borrow: a foreign waker's clone is user code (one of ours is a copy).
    let mut waker = Some(waker::clone_waker(w));
    let armed = LANE
        .try_with(|cell| {
            let mut slot = cell.borrow_mut();
            let l = match &mut *slot {
                Some(l) if Arc::ptr_eq(&l.home, &core.remote) => l,
                _ => return None,
            };
            if epoch.is_some_and(|e| e != l.epoch) {
                return Some((None, false));
            }
            // The turn time is never later than the real time, so this is never early.
            if deadline <= l.now(core) {
                return Some((Some(Armed::Due(l.epoch)), false));
            }
            if !l.order.is_empty() && deadline < l.last {
                return Some((Some(Armed::OutOfOrder(l.epoch)), false));
            }
            let place = l.entries.insert(Entry {
                deadline,
                fired: false,
                waker: waker.take(),
            });
            l.order.push_back(place);
            l.last = deadline;
            Some((Some(Armed::Queued(l.epoch, place)), l.head.is_none()))
        })
        .ok()
        .flatten();
    // Refused: the clone is dropped with the lane free.
    drop(waker);
    match armed {
        Some((Some(Armed::Queued(e, place)), arm_head)) => {
            if arm_head {
                arm_head_timer(core, e, deadline);
            }
            Some(Armed::Queued(e, place))
        }
        Some((armed, _)) => armed,
        // No lane for this loop yet (or the lane of a loop that is gone, or of another live loop).
        None => match epoch {
            Some(_) => None,
            None => match epoch_of(core) {
                Some(e) => arm(core, Some(e), deadline, w),
                None => Some(Armed::NotMine),
            },
        },
    }
}

fn arm_head_timer(core: &Core, epoch: u64, deadline: Instant) {
    let action = Action::once(Box::new(move |h: &crate::Handle| fire(&h.core, epoch)));
    // A closed loop arms nothing: the lane's sleeps then stay pending, like its other work.
    if let Ok(id) = core.add_timer(core.instant_to_ns(deadline), action) {
        with_lane(core, epoch, |l| l.head = Some((id, deadline)));
    }
}

/// The head timer fired: wakes the due sleeps at the front, re-arms for the next one.
fn fire(core: &Core, epoch: u64) {
    let mut due = Vec::new();
    let next = with_lane(core, epoch, |l| {
        l.head = None;
        let now = l.now(core);
        while let Some(&front) = l.order.front() {
            match l.entries.get_mut(front) {
                Some(e) => {
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
        arm_head_timer(core, epoch, deadline);
    }
    // Woken with the lane free: a foreign waker's `wake` is user code.
    for w in due {
        w.wake();
    }
}

/// A queued sleep's poll: `Some(true)` if it fired, `Some(false)` if not (with `waker` stored);
/// `None` if lane `epoch` is not this thread's `core`'s.
pub(super) fn poll(core: &Core, epoch: u64, place: Place, waker: &Waker) -> Option<bool> {
    let state = with_lane(core, epoch, |l| match l.entries.get(place) {
        Some(e) if !e.fired => {
            // The same task polling again (the common case) stores nothing.
            Some(e.waker.as_ref().is_some_and(|w| w.will_wake(waker)))
        }
        _ => None,
    })?;
    Some(match state {
        None => true,
        Some(true) => false,
        Some(false) => {
            let new = waker::clone_waker(waker);
            let old = with_lane(core, epoch, |l| {
                l.entries.get_mut(place).and_then(|e| e.waker.replace(new))
            })
            .flatten();
            drop(old);
            false
        }
    })
}

/// Takes a sleep off the lane (it was dropped, reset, or completed); false if lane `epoch` is not
/// this thread's `core`'s.
pub(super) fn remove(core: &Core, epoch: u64, place: Place) -> bool {
    let mut head = None;
    let Some(waker) = with_lane(core, epoch, |l| {
        let e = l.entries.remove(place)?;
        if !e.fired {
            // Still in `order`: now a dead place there.
            l.dead += 1;
        }
        // Dead places at the front go at once (sleeps mostly end in the order they began). A
        // fired sleep left `order` when it fired, so a place is live exactly while its entry is.
        while let Some(&front) = l.order.front() {
            if l.entries.contains(front) {
                break;
            }
            l.dead -= 1;
            l.order.pop_front();
        }
        // Behind a long-lived sleep they pile up: compact when they outnumber the live ones.
        if l.dead > 64 && l.dead > l.entries.len() {
            let Lane { entries, order, .. } = l;
            order.retain(|&p| entries.contains(p));
            l.dead = 0;
        }
        // Nothing left to time: the head timer goes too, so it keeps no loop alive.
        if l.order.is_empty() {
            head = l.head.take();
        }
        e.waker
    }) else {
        return false;
    };
    if let Some((id, _)) = head {
        core.cancel_timer(id);
    }
    // Dropped with the lane free: a foreign waker's drop is user code.
    drop(waker);
    true
}

/// This thread's lane, if it is `core`'s loop's: (sleeps held, places queued, dead places, whether
/// the head timer is armed).
#[cfg(test)]
pub(super) fn census(core: &Core) -> Option<(usize, usize, usize, bool)> {
    LANE.with(|cell| match &*cell.borrow() {
        Some(l) if Arc::ptr_eq(&l.home, &core.remote) => {
            Some((l.entries.len(), l.order.len(), l.dead, l.head.is_some()))
        }
        _ => None,
    })
}

/// Whether the door of lane `epoch` still holds its loop's remote side alive.
#[cfg(test)]
pub(super) fn door_holds(epoch: u64) -> bool {
    let doors = DOORS.lock().unwrap_or_else(|e| e.into_inner());
    doors
        .iter()
        .any(|(e, door)| *e == epoch && door.strong_count() > 0)
}
