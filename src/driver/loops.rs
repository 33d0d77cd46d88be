//! The table of live loops: how a task waker, which is only integers, finds its loop from any
//! thread without taking a lock.
//!
//! This is storage only: a slot holds an `Arc<T>` (the runtime's `T` is a loop's remote side) and
//! lends it to readers. It imports nothing from the crate so that the loom model (`loom/`) can
//! include this very file.
//!
//! # Shape
//!
//! Up to 65,536 slots (a waker packs a 16-bit index), in chunks of 256 allocated on first use and
//! never freed, so a reader never follows a pointer to a chunk that could go away. A loop takes a
//! free index when it is created and gives it back when it is dropped; those two go through a
//! mutex, since creating a loop is rare and already costs a poller and an eventfd. Reading a slot,
//! which every cross-thread wake does, takes no lock and touches only that slot's cache line
//! (each slot is padded to 64 bytes): loops that wake each other do not serialise on anything
//! shared by the whole process, only on the inbox of the loop they wake.
//!
//! # Why a reader never sees a freed value
//!
//! A [`Slot`] is a pointer (from `Arc::into_raw`, or null) and one atomic word that holds a
//! `PRESENT` bit and a count of readers. Every access to the word is a read-modify-write or a
//! load of that one location, so the argument needs only its modification order (no `SeqCst`,
//! which loom does not model):
//!
//! - The owner fills a slot by storing the pointer and then setting `PRESENT` (a release).
//! - A reader adds one to the word (an acquire) and looks at the value it replaced. Without
//!   `PRESENT` it takes the one back and touches nothing. With it, its add read from the owner's
//!   set or a later read-modify-write of the word, all in the release sequence of the set, so the
//!   pointer's store is visible; it uses the value and then subtracts one (a release).
//! - The owner empties a slot by clearing `PRESENT` and then loading the word (acquires) until the
//!   count is zero; only then does it take the pointer and release the `Arc`. A reader whose add
//!   came after the clear in the word's order saw no `PRESENT`. One whose add came before it is
//!   counted in every value the owner loads until its subtraction, which is a release after its
//!   last use of the value; the owner's load that finds the count at zero reads that subtraction
//!   or a later one (read-modify-writes continue each other's release sequences), so the use
//!   happens before the `Arc` is released.
//!
//! A reader holds the count only while it uses the value: the runtime's readers mark a task in the
//! inbox and write to an eventfd, and run no user code, so the owner's wait is short and bounded.
//! The loom model (`loom/tests/loops.rs`) checks this hand-off with a value whose destructor writes
//! what the readers read.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[cfg(not(loom))]
use std::sync::atomic::{AtomicPtr, AtomicUsize};
#[cfg(not(loom))]
use std::thread::yield_now;

#[cfg(loom)]
use loom::sync::atomic::{AtomicPtr, AtomicUsize};
#[cfg(loom)]
use loom::thread::yield_now;

/// The bit of [`Slot::state`] that says the pointer is there; the bits below count readers.
const PRESENT: usize = 1 << (usize::BITS - 1);

/// One entry of the table: an `Arc<T>` lent to readers on any thread.
///
/// # Invariant
///
/// While `PRESENT` is set in `state`, `ptr` came from `Arc::into_raw` and is owned by the slot.
/// It is taken out only by [`Slot::clear`], after `PRESENT` was cleared and the count of readers
/// read as zero.
#[repr(align(64))]
pub(crate) struct Slot<T> {
    ptr: AtomicPtr<T>,
    /// `PRESENT`, and the number of readers between their add and their subtract.
    state: AtomicUsize,
    /// A slot shares `&T` with any thread and may release the `Arc` on any thread: it is `Send`
    /// and `Sync` exactly when `Arc<T>` is.
    _owns: PhantomData<Arc<T>>,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Slot {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
            state: AtomicUsize::new(0),
            _owns: PhantomData,
        }
    }

    /// Puts `value` in the slot, which must be empty (the owner of the index fills it once).
    pub(crate) fn install(&self, value: Arc<T>) {
        let old = self
            .ptr
            .swap(Arc::into_raw(value).cast_mut(), Ordering::Relaxed);
        assert!(old.is_null(), "a loop slot filled twice");
        self.state.fetch_or(PRESENT, Ordering::Release);
    }

    /// Runs `f` with the value in the slot, if there is one; `f` must be short and run no user
    /// code (the owner's [`Slot::clear`] waits for it).
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        if self.state.fetch_add(1, Ordering::Acquire) & PRESENT == 0 {
            self.state.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let ptr = self.ptr.load(Ordering::Relaxed);
        // SAFETY: our add saw `PRESENT`, so `ptr` is the pointer stored before it was set (see the
        // module docs), it came from `Arc::into_raw`, and `clear` does not release it before our
        // subtraction below.
        let out = f(unsafe { &*ptr });
        self.state.fetch_sub(1, Ordering::Release);
        Some(out)
    }

    /// Empties the slot and hands back its value once no reader holds it.
    pub(crate) fn clear(&self) -> Option<Arc<T>> {
        if self.state.fetch_and(!PRESENT, Ordering::Acquire) & PRESENT == 0 {
            return None;
        }
        while self.state.load(Ordering::Acquire) != 0 {
            yield_now();
        }
        let ptr = self.ptr.swap(std::ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: `PRESENT` was set, so `ptr` came from `Arc::into_raw` in `install` and was owned
        // by the slot; no reader can use it any more (the count read as zero after `PRESENT` was
        // cleared, see the module docs), and it has been taken out.
        Some(unsafe { Arc::from_raw(ptr) })
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        drop(self.clear());
    }
}

#[cfg(not(loom))]
pub(crate) use table::Table;

#[cfg(not(loom))]
mod table {
    use super::Slot;
    use std::marker::PhantomData;
    use std::sync::atomic::{AtomicPtr, Ordering};
    use std::sync::{Arc, Mutex, PoisonError};

    const CHUNK: usize = 256;
    const CHUNKS: usize = 256;

    type Chunk<T> = [Slot<T>; CHUNK];

    /// Slots by index, each chunk allocated on first use and then kept for the life of the process.
    pub(crate) struct Table<T> {
        chunks: [AtomicPtr<Chunk<T>>; CHUNKS],
        /// Indices ever handed out, and those given back since.
        free: Mutex<Free>,
        /// Shared like the slots it holds (see [`Slot`]).
        _owns: PhantomData<Arc<T>>,
    }

    struct Free {
        used: usize,
        returned: Vec<u16>,
    }

    impl<T> Table<T> {
        pub(crate) const fn new() -> Self {
            Table {
                chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; CHUNKS],
                free: Mutex::new(Free {
                    used: 0,
                    returned: Vec::new(),
                }),
                _owns: PhantomData,
            }
        }

        /// Takes a free index and puts the value `make` builds for it there; `None` when all
        /// 65,536 are taken.
        pub(crate) fn insert(&self, make: impl FnOnce(u16) -> Arc<T>) -> Option<u16> {
            // Nothing user-provided runs under this lock, so a poisoned one holds consistent data.
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let index = match free.returned.pop() {
                Some(i) => i as usize,
                None if free.used < CHUNK * CHUNKS => {
                    free.used += 1;
                    free.used - 1
                }
                None => return None,
            };
            let chunk = &self.chunks[index / CHUNK];
            if chunk.load(Ordering::Relaxed).is_null() {
                // Published with a release under the lock; readers load it with an acquire.
                let fresh: Box<Chunk<T>> = Box::new(std::array::from_fn(|_| Slot::new()));
                chunk.store(Box::into_raw(fresh), Ordering::Release);
            }
            let index = index as u16;
            let value = make(index);
            self.slot(index)
                .expect("the chunk was just allocated")
                .install(value);
            Some(index)
        }

        /// Empties slot `index` (waiting for its readers) and frees the index for a later loop.
        pub(crate) fn remove(&self, index: u16) -> Option<Arc<T>> {
            let value = self.slot(index)?.clear();
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            free.returned.push(index);
            drop(free);
            value
        }

        /// Runs `f` with the value at `index`, if there is one (see [`Slot::with`]).
        #[inline]
        pub(crate) fn with<R>(&self, index: u16, f: impl FnOnce(&T) -> R) -> Option<R> {
            self.slot(index)?.with(f)
        }

        fn slot(&self, index: u16) -> Option<&Slot<T>> {
            let index = index as usize;
            let chunk = self.chunks[index / CHUNK].load(Ordering::Acquire);
            // SAFETY: a non-null chunk pointer came from `Box::into_raw` and is never freed (a
            // `Table` lives in a static), so it is valid for `'self`.
            (!chunk.is_null()).then(|| unsafe { &(*chunk)[index % CHUNK] })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn indices_are_reused_and_values_released() {
            let table = Box::leak(Box::new(Table::<String>::new()));
            let a = table.insert(|i| Arc::new(format!("a{i}"))).unwrap();
            let b = table.insert(|i| Arc::new(format!("b{i}"))).unwrap();
            assert_ne!(a, b);
            assert_eq!(table.with(a, |s| s.clone()), Some(format!("a{a}")));
            let taken = table.remove(a).unwrap();
            assert_eq!(
                Arc::strong_count(&taken),
                1,
                "the table held the only other count"
            );
            assert_eq!(table.with(a, |s| s.clone()), None);
            assert_eq!(table.insert(|i| Arc::new(format!("c{i}"))), Some(a));
            assert_eq!(table.with(b, |s| s.len()), Some(2));
            assert_eq!(
                table.with(1000, |s| s.len()),
                None,
                "an index never handed out"
            );
        }

        #[test]
        fn full_table_refuses() {
            let table = Box::leak(Box::new(Table::<u8>::new()));
            let value = Arc::new(0);
            for _ in 0..CHUNK * CHUNKS {
                table.insert(|_| value.clone()).unwrap();
            }
            assert_eq!(table.insert(|_| value.clone()), None);
            table.remove(7);
            assert_eq!(table.insert(|_| value.clone()), Some(7));
        }
    }
}
