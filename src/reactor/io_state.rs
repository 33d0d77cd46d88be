//! The readiness of one async I/O resource, shared by the reactor and the socket that owns it.
//!
//! The socket checks and clears readiness on every operation, so it holds this state directly
//! (an `Rc`, no slab lookup, no `RefCell` borrow); the reactor keeps a clone to set readiness and
//! take the waiting wakers when an event arrives.

use std::cell::{Cell, RefCell};
use std::task::{Context, Poll, Waker};

use super::{Direction, Ready};

pub(crate) struct IoState {
    readiness: Cell<Ready>,
    /// The task waiting to read; almost always the only one.
    reader: Cell<Option<Waker>>,
    writer: Cell<Option<Waker>>,
    /// Further tasks waiting on the same socket (for example two tasks awaiting `readable()` on a
    /// shared stream), so that none of them is forgotten. Empty, and never allocated, otherwise.
    others: RefCell<Vec<Waker>>,
    /// `others` is not empty: lets an event skip the `RefCell` in the common case.
    has_others: Cell<bool>,
}

impl IoState {
    /// Unknown readiness counts as ready: the first operation tries the syscall at once.
    pub(crate) fn new() -> IoState {
        IoState {
            readiness: Cell::new(Ready::READABLE | Ready::WRITABLE),
            reader: Cell::new(None),
            writer: Cell::new(None),
            others: RefCell::new(Vec::new()),
            has_others: Cell::new(false),
        }
    }

    #[inline]
    fn slot(&self, dir: Direction) -> &Cell<Option<Waker>> {
        match dir {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
        }
    }

    /// The readiness known for `dir`, or `Pending` with the task's waker stored.
    #[inline]
    pub(crate) fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<Ready> {
        let ready = Ready::from_bits(self.readiness.get().bits() & dir.mask().bits());
        if !ready.is_empty() {
            return Poll::Ready(ready);
        }
        self.park(dir, cx);
        Poll::Pending
    }

    /// Whether `dir` may be ready (so the operation is worth trying).
    #[inline]
    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.readiness.get().intersects(dir.mask())
    }

    /// Stores the task's waker for `dir`. A different task already waiting is kept in `others` and
    /// woken with it.
    #[inline]
    pub(crate) fn park(&self, dir: Direction, cx: &mut Context<'_>) {
        let slot = self.slot(dir);
        // The common case: the last event took the waker out, so the slot is empty.
        match slot.take() {
            None => slot.set(Some(crate::task::waker::clone_waker(cx.waker()))),
            Some(old) => self.park_beside(slot, old, cx),
        }
    }

    #[cold]
    fn park_beside(&self, slot: &Cell<Option<Waker>>, old: Waker, cx: &mut Context<'_>) {
        if old.will_wake(cx.waker()) {
            slot.set(Some(old));
            return;
        }
        // Cloned before `others` is borrowed, and `old` dropped (if it waits there already) after:
        // a foreign waker's clone and drop are user code, which may park on this very resource.
        let waker = crate::task::waker::clone_waker(cx.waker());
        let mut others = self.others.borrow_mut();
        let duplicate = if others.iter().any(|o| o.will_wake(&old)) {
            Some(old)
        } else {
            others.push(old);
            self.has_others.set(true);
            None
        };
        drop(others);
        drop(duplicate);
        slot.set(Some(waker));
    }

    /// After `WouldBlock`: forget that `dir` is ready. A pending error was reported by the operation
    /// that just ran (or is gone), so it is forgotten too; closure flags stay, as they are final.
    #[inline]
    pub(crate) fn clear_ready(&self, dir: Direction) {
        let clear = match dir {
            Direction::Read => Ready::READABLE | Ready::ERROR,
            Direction::Write => Ready::WRITABLE | Ready::ERROR,
        };
        self.readiness.set(self.readiness.get() - clear);
    }

    /// After a short read or write: the queue is drained (or the buffer full), so forget plain
    /// readiness, but keep an error or closure flag, which no later edge would report again.
    #[inline]
    pub(crate) fn clear_drained(&self, dir: Direction) {
        let clear = match dir {
            Direction::Read => Ready::READABLE,
            Direction::Write => Ready::WRITABLE,
        };
        self.readiness.set(self.readiness.get() - clear);
    }

    /// Forgets readiness for `dir` entirely (a connect waits for its real completion event).
    pub(crate) fn clear_assumed(&self, dir: Direction) {
        self.readiness.set(self.readiness.get() - dir.mask());
    }

    /// An event arrived: records it and hands the wakers it concerns to `wake`.
    #[inline]
    pub(crate) fn set_ready(&self, ready: Ready, mut wake: impl FnMut(Waker)) {
        self.readiness.set(self.readiness.get() | ready);
        if ready.intersects(Direction::Read.mask()) {
            if let Some(w) = self.reader.take() {
                wake(w);
            }
        }
        if ready.intersects(Direction::Write.mask()) {
            if let Some(w) = self.writer.take() {
                wake(w);
            }
        }
        // Extra waiters may wait on either direction: all are woken on any event (a spurious
        // wake-up at worst), which keeps the common single-waiter case free of bookkeeping.
        if self.has_others.get() {
            self.wake_others(wake);
        }
    }

    #[cold]
    fn wake_others(&self, wake: impl FnMut(Waker)) {
        if let Ok(mut others) = self.others.try_borrow_mut() {
            self.has_others.set(false);
            others.drain(..).for_each(wake);
        }
    }

    /// The resource is gone: every waiting task should look again (and find it closed).
    pub(crate) fn take_wakers(&self, wake: &mut Vec<Waker>) {
        wake.extend(self.reader.take());
        wake.extend(self.writer.take());
        if let Ok(mut others) = self.others.try_borrow_mut() {
            self.has_others.set(false);
            wake.append(&mut others);
        }
    }
}
