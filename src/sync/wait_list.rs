//! `WaitList`: the first-in, first-out queue of suspended futures behind every primitive here.
//!
//! A waiter's slot belongs to the future that created it, not to the list: waking a waiter only
//! *unlinks* its slot (and may write what it was handed into the slot's data), and the slot is freed
//! when the future next polls or is dropped. So a key held by a future always names that future's
//! own slot, never a reused one, and a dropped future can see whether it had been handed something
//! it must pass on.
//!
//! Slots live in a slab and are linked through their keys, so pushing, unlinking any waiter and
//! removing it are O(1) and, once the slab has grown to the peak number of waiters, allocate nothing.
//!
//! The list never clones, wakes or drops a waker itself: it is given clones, and hands back every
//! waker it lets go of, for the primitive to wake or drop once its state is no longer borrowed (a
//! foreign waker's code may use the primitive; see [`NewWaker`]).

use std::cell::RefCell;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::{NeedsClone, NewWaker};

const NIL: usize = usize::MAX;

pub(crate) struct WaitList<T> {
    nodes: Slab<Node<T>>,
    head: usize,
    tail: usize,
    /// A buffer for waking many waiters at once, kept between uses for its capacity.
    spare: Vec<Waker>,
}

struct Node<T> {
    prev: usize,
    next: usize,
    linked: bool,
    waker: Option<Waker>,
    data: T,
}

impl<T> Default for WaitList<T> {
    fn default() -> Self {
        WaitList::new()
    }
}

impl<T> WaitList<T> {
    pub(crate) const fn new() -> Self {
        WaitList {
            nodes: Slab::new(),
            head: NIL,
            tail: NIL,
            spare: Vec::new(),
        }
    }

    /// Whether no waiter is linked (slots of woken waiters that have not polled yet do not count).
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Links a new waiter at the back and returns its key.
    pub(crate) fn push_back(&mut self, waker: Waker, data: T) -> usize {
        let key = self.nodes.insert(Node {
            prev: self.tail,
            next: NIL,
            linked: true,
            waker: Some(waker),
            data,
        });
        self.link_tail(key);
        key
    }

    fn link_tail(&mut self, key: usize) {
        if self.tail == NIL {
            self.head = key;
        } else {
            self.nodes[self.tail].next = key;
        }
        self.tail = key;
    }

    /// The key of the first linked waiter.
    pub(crate) fn front(&self) -> Option<usize> {
        (self.head != NIL).then_some(self.head)
    }

    pub(crate) fn is_linked(&self, key: usize) -> bool {
        self.nodes[key].linked
    }

    /// Whether the waiter is linked with a waker that wakes the same task as `waker`: a poll that
    /// must keep waiting then has nothing to store. ([`Waker::will_wake`] runs no user code.)
    #[inline]
    pub(crate) fn waits_with(&self, key: usize, waker: &Waker) -> bool {
        let node = &self.nodes[key];
        node.linked && node.waker.as_ref().is_some_and(|w| w.will_wake(waker))
    }

    pub(crate) fn data_mut(&mut self, key: usize) -> &mut T {
        &mut self.nodes[key].data
    }

    /// Records the waker of a linked waiter's latest poll, if it would wake a different task; see
    /// [`NewWaker::store`].
    pub(crate) fn set_waker(
        &mut self,
        key: usize,
        new: &mut NewWaker<'_>,
    ) -> Result<(), NeedsClone> {
        new.store(&mut self.nodes[key].waker)
    }

    /// Unlinks a waiter, keeping its slot for its future, and returns the waker to wake (once no
    /// borrow of the primitive's state is held). `None` if it was not linked.
    pub(crate) fn unlink(&mut self, key: usize) -> Option<Waker> {
        let node = &mut self.nodes[key];
        if !node.linked {
            return None;
        }
        node.linked = false;
        let (prev, next) = (node.prev, node.next);
        let waker = node.waker.take();
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
        waker
    }

    /// Frees a waiter's slot (unlinking it if needed) and returns its data, and its waker if it was
    /// still linked, to drop once no borrow of the primitive's state is held.
    pub(crate) fn remove(&mut self, key: usize) -> (T, Option<Waker>) {
        let waker = self.unlink(key);
        (self.nodes.remove(key).data, waker)
    }

    /// Frees the slot of a waiter that was unlinked (its waker went with it) and returns its data.
    pub(crate) fn remove_unlinked(&mut self, key: usize) -> T {
        debug_assert!(!self.nodes[key].linked, "evloop: waiter still linked");
        self.nodes.remove(key).data
    }

    /// Unlinks every waiter, letting `mark` write into each one's data, and returns their wakers.
    /// Wake them with no borrow held, then hand the buffer back with [`WaitList::recycle`].
    pub(crate) fn unlink_all(&mut self, mut mark: impl FnMut(&mut T)) -> Vec<Waker> {
        if self.head == NIL {
            return Vec::new();
        }
        let mut wakers = std::mem::take(&mut self.spare);
        while self.head != NIL {
            let key = self.head;
            mark(&mut self.nodes[key].data);
            wakers.extend(self.unlink(key));
        }
        wakers
    }

    /// Takes back a buffer returned by [`WaitList::unlink_all`], emptied, for its capacity. (An
    /// empty list returns a buffer with none, which callers need not bother giving back.)
    pub(crate) fn recycle(&mut self, mut wakers: Vec<Waker>) {
        wakers.clear();
        if wakers.capacity() > self.spare.capacity() {
            self.spare = wakers;
        }
    }
}

/// Waiters that are woken whenever their condition may have changed, and check it again.
impl WaitList<()> {
    /// Links the waiter whose slot `key` holds (if any) with the polling task's waker: refreshes
    /// its waker if it is still linked, or links it again at the back if it was woken but must
    /// keep waiting. On [`NeedsClone`] nothing changed.
    pub(crate) fn wait(
        &mut self,
        key: &mut Option<usize>,
        new: &mut NewWaker<'_>,
    ) -> Result<(), NeedsClone> {
        match *key {
            Some(k) if self.is_linked(k) => return self.set_waker(k, new),
            Some(k) => {
                let waker = new.take()?;
                self.remove_unlinked(k);
                *key = Some(self.push_back(waker, ()));
            }
            None => *key = Some(self.push_back(new.take()?, ())),
        }
        Ok(())
    }

    /// Frees the waiter's slot, if it has one (its wait is over, or its future was dropped).
    /// Returns its waker if it was still linked, to drop once no borrow is held.
    #[must_use = "the waker must be dropped once no borrow is held"]
    pub(crate) fn cancel(&mut self, key: &mut Option<usize>) -> Option<Waker> {
        let k = key.take()?;
        self.remove(k).1
    }
}

/// Polls a waiter that waits until `done()`: ready once it is (its slot freed), else linked (or
/// refreshed) with the polling task's waker. A foreign waker is cloned, and one it replaces
/// dropped, with the list free; `done` is looked at under the borrow, so it must run no user code.
#[inline]
pub(crate) fn poll_until(
    list: &RefCell<WaitList<()>>,
    key: &mut Option<usize>,
    cx: &Context<'_>,
    done: impl Fn() -> bool,
) -> Poll<()> {
    // The common poll, woken by something else (a `select!` sibling, a timer), still waiting with
    // the same waker: a shared borrow and one look at the slot, nothing stored or dropped.
    if let Some(k) = *key {
        if !done() && list.borrow().waits_with(k, cx.waker()) {
            return Poll::Pending;
        }
    }
    poll_until_slow(list, key, cx, done)
}

/// [`poll_until`] when there is something to do: a first poll, a new waker, or the wait is over.
#[inline(never)]
fn poll_until_slow(
    list: &RefCell<WaitList<()>>,
    key: &mut Option<usize>,
    cx: &Context<'_>,
    done: impl Fn() -> bool,
) -> Poll<()> {
    // Declared before the borrow: a waker it replaces is dropped after the borrow ends.
    let mut new = NewWaker::new(cx.waker());
    loop {
        let mut waiters = list.borrow_mut();
        if done() {
            let old = waiters.cancel(key);
            drop(waiters);
            drop(old);
            return Poll::Ready(());
        }
        match waiters.wait(key, &mut new) {
            Ok(()) => return Poll::Pending,
            Err(NeedsClone) => new.clone_after(waiters),
        }
    }
}

/// Wakes the waiters whose wakers [`WaitList::unlink_all`] returned, with no borrow of `state`
/// held (a waker may be anyone's), then gives the buffer back, for its capacity, to the list that
/// `list` picks out of `state`.
pub(crate) fn wake_all<S, T>(
    state: &RefCell<S>,
    list: fn(&mut S) -> &mut WaitList<T>,
    mut wakers: Vec<Waker>,
) {
    if wakers.is_empty() {
        return;
    }
    for w in wakers.drain(..) {
        w.wake();
    }
    list(&mut state.borrow_mut()).recycle(wakers);
}

/// Frees the slot of a waiter whose future is dropped; its waker is dropped with the list free.
pub(crate) fn leave(list: &RefCell<WaitList<()>>, key: &mut Option<usize>) {
    let old = list.borrow_mut().cancel(key);
    drop(old);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Noop;

    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    fn order(list: &WaitList<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut k = list.head;
        while k != NIL {
            out.push(list.nodes[k].data);
            k = list.nodes[k].next;
        }
        out
    }

    #[test]
    fn fifo_with_unlinks_anywhere() {
        let w = &Waker::from(Arc::new(Noop));
        let mut list = WaitList::new();
        let keys: Vec<usize> = (0..5).map(|i| list.push_back(w.clone(), i)).collect();
        assert_eq!(order(&list), [0, 1, 2, 3, 4]);
        assert!(list.unlink(keys[2]).is_some());
        assert!(list.unlink(keys[2]).is_none(), "already unlinked");
        let (data, waker) = list.remove(keys[0]);
        assert_eq!(data, 0);
        assert!(waker.is_some(), "a linked waiter's waker comes back");
        assert_eq!(list.remove(keys[4]).0, 4);
        assert_eq!(order(&list), [1, 3]);
        assert_eq!(list.front(), Some(keys[1]));
        // The unlinked slot still belongs to its future until removed.
        assert_eq!(*list.data_mut(keys[2]), 2);
        assert!(!list.is_linked(keys[2]));
        let k5 = list.push_back(w.clone(), 5);
        assert_ne!(k5, keys[2], "a held slot is never reused");
        let wakers = list.unlink_all(|d| *d += 10);
        assert_eq!(wakers.len(), 3);
        assert!(list.is_empty());
        assert_eq!(*list.data_mut(keys[1]), 11);
        list.recycle(wakers);
        assert_eq!(list.remove_unlinked(keys[2]), 2);
        for k in [keys[1], keys[3], k5] {
            assert!(
                list.remove(k).1.is_none(),
                "unlinked: its waker went with it"
            );
        }
        assert_eq!(list.nodes.len(), 0);
    }
}
