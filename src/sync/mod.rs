//! Synchronization for tasks: channels, [`Notify`], [`Semaphore`] and an async [`Mutex`].
//!
//! | | |
//! |---|---|
//! | [`oneshot`] | one value, sent once |
//! | [`mpsc`] | many senders, one receiver; bounded with backpressure, or unbounded |
//! | [`mpmc`] | many senders, many receivers (a worker pool's queue); bounded, each value to one receiver |
//! | [`broadcast`] | every receiver gets every value sent after it subscribed |
//! | [`watch`] | receivers see the latest value and are told when it changes |
//! | [`Notify`] | wake one waiting task, or all of them |
//! | [`Semaphore`] | a pool of permits, handed out first come, first served |
//! | [`Mutex`] | exclusive access across `.await`s, first come, first served |
//! | [`remote_channel`] | values from any thread to a task on the loop |
//!
//! # One loop
//!
//! Everything here but [`remote_channel`] is for tasks of **one** loop. The state lives in `Rc`,
//! `Cell` and `RefCell`, so the types are neither `Send` nor `Sync` and no operation takes a lock or
//! touches an atomic. Sending to a task of another loop, or from another thread, is what
//! [`remote_channel`] is for.
//!
//! # Waiting and cancellation
//!
//! Tasks that wait (for a value, for room in a channel, for a permit, for the lock) are queued first
//! in, first out and woken once what they wait for is theirs. Waking one is cheap: a loop's
//! [`Waker`] is a plain integer, and storing or cloning one allocates nothing.
//!
//! Any other waker (a future here polled by another executor, or by a hand-written combinator) is
//! cloned, woken and dropped with none of the primitive's state borrowed: its code may use the same
//! primitive (send on the channel, add a permit) without a panic on a `RefCell` borrow.
//!
//! Dropping a waiting future (for example when a [`timeout`](crate::time::timeout) expires, or a
//! task is aborted) takes it out of the queue. If it had already been handed something (a permit,
//! the lock, a notification), that is passed on to the next waiter: cancellation neither loses
//! nor leaks anything. A cancelled [`mpsc::Sender::send`] drops its value, which was never sent.
//!
//! # Fairness with the loop
//!
//! A task receiving from a channel that always has a value ready still yields to the loop now and
//! then (after a fixed number of values per poll), so that it cannot starve I/O, timers or other
//! tasks.
//!
//! ```
//! use evloop::sync::{mpsc, Notify};
//! use std::rc::Rc;
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     // Plain `Rc` sharing, no `Arc`, no lock: these are for tasks of one loop.
//!     let ready = Rc::new(Notify::new());
//!     let (tx, mut rx) = mpsc::channel(1);
//!     let r = ready.clone();
//!     evloop::spawn(async move {
//!         r.notified().await;
//!         tx.send("go").await.unwrap();
//!     });
//!     ready.notify_one();
//!     assert_eq!(rx.recv().await, Some("go"));
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

use std::cell::Cell;
use std::task::{Context, Poll, Waker};

mod bounded_send;
pub mod broadcast;
mod cancel;
pub mod mpmc;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod remote;
mod semaphore;
pub(crate) mod wait_list;
pub mod watch;

pub use cancel::{CancellationToken, DropGuard, WaitForCancellation};
pub use mutex::{Mutex, MutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use remote::{remote_channel, RemoteReceiver, RemoteSender};
pub use semaphore::{
    Acquire, AcquireError, AcquireOwned, OwnedPermit, Permit, Semaphore, TryAcquireError,
};

/// Spends one unit of the running task's cooperative budget, before handing out a value that was
/// ready. Outside a loop (a future polled by some other executor) there is no budget to spend.
///
/// For a poll that holds no borrow of its state; one that does uses [`spend_budget`].
#[inline]
pub(crate) fn poll_budget(cx: &Context<'_>) -> Poll<()> {
    if spend_budget() {
        return Poll::Ready(());
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Spends one unit of the running task's cooperative budget, as [`poll_budget`] does, but leaves
/// the waking to the caller: false if the budget is used up, and the task must yield. The caller
/// then releases its borrow, wakes `cx.waker()` (which may be anyone's) and returns `Pending`.
#[inline]
pub(crate) fn spend_budget() -> bool {
    crate::runtime::current::with_current_core(crate::task::spend_budget) != Some(false)
}

/// The polling task's waker, for a poll that may have to store it in its primitive's state.
///
/// A foreign waker's `clone` and `drop` are user code, which may use the very primitive being
/// polled (send on the channel, add a permit, notify), so neither may run while the primitive's
/// state is borrowed or locked. Under its borrow, a poll lets [`NewWaker::store`] check whether the
/// stored waker already wakes this task ([`Waker::will_wake`] runs no user code) and otherwise
/// replace it. One of evloop's own wakers is copied there and then (that runs nothing); a foreign
/// one is refused with [`NeedsClone`], and the poll passes its borrow to [`NewWaker::clone_after`],
/// which releases it and clones, and starts over, as the clone may have changed the state.
///
/// Declare it before the borrow: the waker it replaced, and a clone left unused, are dropped with
/// it, which is then after the borrow ends.
pub(crate) struct NewWaker<'a> {
    waker: &'a Waker,
    /// A clone of a foreign `waker`, made with no borrow held.
    clone: Option<Waker>,
    /// The waker that `waker` replaced, to drop with no borrow held.
    replaced: Option<Waker>,
}

/// A foreign waker must be cloned with no borrow held first: see [`NewWaker`].
pub(crate) struct NeedsClone;

impl<'a> NewWaker<'a> {
    #[inline]
    pub(crate) fn new(waker: &'a Waker) -> NewWaker<'a> {
        NewWaker {
            waker,
            clone: None,
            replaced: None,
        }
    }

    /// The polling task's waker.
    #[inline]
    pub(crate) fn waker(&self) -> &Waker {
        self.waker
    }

    /// A clone of the waker to store, if one can be had under a borrow.
    #[inline]
    pub(crate) fn take(&mut self) -> Result<Waker, NeedsClone> {
        if let Some(clone) = self.clone.take() {
            Ok(clone)
        } else if crate::runtime::waker::decode(self.waker).is_some() {
            // Kept by a primitive, which code anywhere may use to wake the task.
            crate::runtime::waker::note_escape(self.waker.data().addr());
            Ok(crate::runtime::waker::clone_waker(self.waker))
        } else {
            Err(NeedsClone)
        }
    }

    /// Stores the waker in `slot`, unless the one there wakes the same task. The one it replaces
    /// is kept, to be dropped with `self`.
    #[inline]
    pub(crate) fn store(&mut self, slot: &mut Option<Waker>) -> Result<(), NeedsClone> {
        if !slot.as_ref().is_some_and(|w| w.will_wake(self.waker)) {
            let new = self.take()?;
            debug_assert!(self.replaced.is_none(), "evloop: one waker stored per poll");
            self.replaced = slot.replace(new);
        }
        Ok(())
    }

    /// Releases `guard` (the borrow or lock of the state), then clones the foreign waker, so that
    /// the poll, starting over, can store it.
    #[cold]
    pub(crate) fn clone_after<G>(&mut self, guard: G) {
        drop(guard);
        self.clone = Some(self.waker.clone());
    }
}

/// Stores the waker of the latest poll in a `Cell`, cloning only if it would wake a different
/// task. No borrow is held, but the clone and the drop of the waker replaced may run user code
/// that changes the primitive's state: callers look at it again afterwards.
#[inline]
pub(crate) fn set_waker(slot: &Cell<Option<Waker>>, waker: &Waker) {
    let old = slot.take();
    match old {
        Some(w) if w.will_wake(waker) => slot.set(Some(w)),
        _ => slot.set(Some(waker.clone())),
    }
}

/// Wakes `waker`, if any. Callers pass it out of their state's borrow, so that a waker that polls
/// synchronously (not the loop's, but another executor's might) finds the state free.
#[inline]
pub(crate) fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}
