//! The message queue: the loop's single FIFO of work.
//!
//! Every source of work (a `call_soon`, a due timer, an I/O readiness event, a woken task, a post from
//! another thread) ends up here as a small [`Entry`]. An entry names its target by slab key plus a
//! generation or id, never by pointer, so pushing one never allocates and an entry whose target was
//! cancelled or removed in the meantime is recognised and skipped when it is popped.

use std::collections::VecDeque;

use slab::Slab;

use super::reactor::Ready;

/// One unit of work in the queue. Kept to 16 bytes so that the queue is a flat ring buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A callback from `call_soon`, stored in [`Queue::callbacks`].
    Callback { key: u32, id: u64 },
    /// A due timer; the timer queue holds its callback.
    Timer { key: u32, id: u64 },
    /// Readiness for a callback watcher.
    Io { key: u32, gen: u32, ready: Ready },
    /// A woken task to poll.
    Task { key: u32, gen: u32 },
}

/// A cancellable `call_soon` callback waiting for its turn.
struct Pending<C> {
    id: u64,
    callback: C,
}

/// The FIFO plus the storage of the callbacks it refers to. `C` is the callback type: the queue
/// only stores it and hands it back, it never calls or drops one.
pub(crate) struct Queue<C> {
    entries: VecDeque<Entry>,
    callbacks: Slab<Pending<C>>,
    next_id: u64,
}

impl<C> Queue<C> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Queue {
            entries: VecDeque::with_capacity(capacity),
            callbacks: Slab::with_capacity(capacity),
            next_id: 1,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, entry: Entry) {
        self.entries.push_back(entry);
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Entry> {
        self.entries.pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Callbacks stored and not yet run (cancelled ones are gone).
    pub(crate) fn callbacks(&self) -> usize {
        self.callbacks.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Stores `callback` and queues it; returns its slab key and id for cancellation.
    pub(crate) fn push_callback(&mut self, callback: C) -> (u32, u64) {
        let id = self.next_id;
        self.next_id += 1;
        let key = self.callbacks.insert(Pending { id, callback });
        let key = u32::try_from(key).expect("more than 4 billion queued callbacks");
        self.entries.push_back(Entry::Callback { key, id });
        (key, id)
    }

    /// Takes the callback an entry refers to, if it is still there: to run it, or to cancel it (the
    /// stale queue entry is then skipped when it comes up).
    pub(crate) fn take_callback(&mut self, key: u32, id: u64) -> Option<C> {
        let key = key as usize;
        match self.callbacks.get(key) {
            Some(p) if p.id == id => Some(self.callbacks.remove(key).callback),
            _ => None,
        }
    }

    /// Empties the queue, handing back the callbacks so the caller can drop them with no borrow
    /// held.
    pub(crate) fn clear(&mut self) -> Vec<C> {
        self.entries.clear();
        self.callbacks.drain().map(|p| p.callback).collect()
    }

    /// Gives back memory kept from a burst, once the queue is empty: the ring buffer and the
    /// callbacks' slab keep their peak capacity otherwise. Keeps `keep` entries of each.
    #[inline]
    pub(crate) fn shrink_if_idle(&mut self, keep: usize) {
        if self.entries.capacity() > keep || self.callbacks.capacity() > keep {
            self.shrink_now(keep);
        }
    }

    #[cold]
    fn shrink_now(&mut self, keep: usize) {
        if !self.entries.is_empty() || !self.callbacks.is_empty() {
            return;
        }
        if self.entries.capacity() > keep {
            self.entries.shrink_to(keep);
        }
        if self.callbacks.capacity() > keep {
            // Empty, so no key is live: a new slab loses nothing.
            self.callbacks = Slab::with_capacity(keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_small() {
        assert!(std::mem::size_of::<Entry>() <= 16);
    }

    #[test]
    fn fifo_and_cancel() {
        let mut q = Queue::with_capacity(4);
        let (k1, id1) = q.push_callback(1);
        let (k2, id2) = q.push_callback(2);
        q.push(Entry::Task { key: 7, gen: 1 });
        assert!(q.take_callback(k1, id1).is_some());
        assert!(q.take_callback(k1, id1).is_none(), "cancel twice");
        // A new callback may reuse the slot; the old entry must not reach it.
        let (k3, id3) = q.push_callback(3);
        assert_eq!(k3, k1);
        let first = q.pop().unwrap();
        assert_eq!(first, Entry::Callback { key: k1, id: id1 });
        assert!(matches!(first, Entry::Callback { key, id } if q.take_callback(key, id).is_none()));
        assert_eq!(q.pop(), Some(Entry::Callback { key: k2, id: id2 }));
        assert!(q.take_callback(k2, id2).is_some());
        assert_eq!(q.pop(), Some(Entry::Task { key: 7, gen: 1 }));
        assert_eq!(q.pop(), Some(Entry::Callback { key: k3, id: id3 }));
        assert_eq!(q.take_callback(k3, id3), Some(3));
        assert!(q.is_empty());
        assert_eq!(q.clear().len(), 0);
    }
}
