//! Synchronization for tasks: channels, [`Notify`], [`Semaphore`] and an async [`Mutex`].
//!
//! | | |
//! |---|---|
//! | [`oneshot`] | one value, sent once |
//! | [`mpsc`] | many senders, one receiver; bounded with backpressure, or unbounded |
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

use std::cell::Cell;
use std::task::{Context, Poll, Waker};

pub mod broadcast;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod remote;
mod semaphore;
mod wait_list;
pub mod watch;

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
    crate::event_loop::current::with_current_core(crate::task::spend_budget) != Some(false)
}

/// Stores the waker of the latest poll, cloning only if it would wake a different task.
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
