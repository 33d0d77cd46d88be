//! The cross-thread inbox: where other threads leave posts and wake-ups for one loop.
//!
//! This is storage only. It knows nothing of the loop, the poller or task wakers: a post is any
//! `P`, a task is a key, and waking the loop's poller is a [`Notify`] the caller passes in. It
//! imports nothing from the crate so that the loom model (`loom/`) can include this very file.
//!
//! # Shape
//!
//! A mutex guards the contents (posts, woken keys, the `main` and `stop` flags, `closed`); an
//! atomic `notified` flag says "there may be something in the inbox since the loop last looked".
//! The first producer to add something after the loop cleared the flag sets it again and calls
//! [`Notify::notify`], so a burst of posts and wakes costs one poller wake-up.
//!
//! # Memory is bounded by the tasks, not by the wakes
//!
//! Wakes are coalesced per key: an index under the mutex maps each key already waiting to its
//! entry, and a key already there is not pushed again. Millions of wakes of one task between two
//! turns leave one entry. The wake list is thus at most the number of distinct keys, and the index
//! one word per key up to the highest key ever woken, both bounded by the task slab.
//!
//! Each entry carries a tag (the task's generation), so that a stale waker of a finished task
//! does not wake the task that took its slot. Two wakes of one key with different tags (a stale
//! waker and the live one, between two takes) leave the entry tagged [`ANY_TAG`]: the loop then
//! schedules whatever task lives at that key, a spurious wake-up at worst (allowed by the
//! `Future` contract), never a lost one.
//!
//! Posts cannot be coalesced, but the buffers they leave behind shrink: at every [`Inbox::take`]
//! the spare buffer handed back to the producers is freed if its capacity is far above what this
//! batch needed, so capacity grown by a burst is returned after it (at the next take) instead of
//! being kept for the life of the loop. Steady state reuses the two buffers and allocates nothing.
//!
//! # Why no post or wake is lost
//!
//! A producer adds under the mutex, releases it, then sets `notified` (`swap(true)`) and calls
//! `notify` if the flag was clear. The loop, in [`Inbox::take`], clears `notified` *before* it
//! locks and swaps the contents out. Take any addition and the take that follows it:
//!
//! - If the addition's critical section comes before the take's, the take delivers it.
//! - Otherwise the producer locked after the loop unlocked, so the loop's clear happens before the
//!   producer's swap (clear, then the loop's lock and unlock, then the producer's lock, in program
//!   and lock order). By coherence the swap reads that clear or a later value of the flag. If it
//!   reads `false`, this producer notifies. If it reads `true`, the first swap after the clear in
//!   the flag's modification order read `false`, and its producer notifies. Either way the flag is
//!   set after the clear and the poller is woken after it, so the loop comes back and takes the
//!   addition.
//!
//! Clearing after the swap would break this: a producer adding between the loop's unlock and its
//! clear sees the old `true`, does not notify, and the clear then erases the only trace of its
//! addition. The loom model checks exactly that interleaving.
//!
//! A call that adds nothing (a key already waiting, `main` or `stop` already set) skips the
//! notify: whoever added the pending entry is bound by the argument above to notify for it, and the
//! entry is taken together with anything that would have been added.
//!
//! The flag carries no data (the mutex does), so the argument needs only its coherence. Every
//! write to it is a swap, the loop's clear included: C++ would allow a plain store there, but
//! loom 0.7 lets a plain store fall between the read and the write of a concurrent swap
//! (tokio-rs/loom#254), which would make the model report a lost wake-up that cannot happen.
//! The producers do not test the flag with a plain load before swapping either, tempting as that
//! is in a burst: it is as correct, but loom tracks only the last access to an atomic to decide
//! which interleavings to try, and the load would hide the loop's accesses from the producer's
//! swap, so that the model would explore one interleaving where it should explore dozens.
//!
//! # Nothing user-provided runs under the lock
//!
//! A refused post is handed back (`Err(p)`) and [`Inbox::close`] returns the untaken posts, so any
//! user `Drop` runs outside the mutex. Hence a poisoned mutex still guards consistent data, and is
//! recovered with [`PoisonError::into_inner`].

use std::mem;
#[cfg(not(loom))]
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::PoisonError;
#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard};

#[cfg(loom)]
use loom::sync::atomic::AtomicBool;
#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};

/// Keys are at most this many bits (task wakers pack a 28-bit key).
const KEY_BITS: u32 = 28;

/// Spare buffers at or below this many elements are always kept: re-growing them would cost more
/// than they weigh.
const SHRINK_FLOOR: usize = 1024;

/// A spare buffer whose capacity is more than this many times what the batch needed is freed.
const SHRINK_FACTOR: usize = 4;

/// The tag of an entry woken with different tags: whatever lives at the key is to be woken.
pub(crate) const ANY_TAG: u32 = u32::MAX;

/// What the inbox calls to wake the loop's poller (the runtime implements it with `mio::Waker`).
///
/// Called outside the inbox's lock, at most once per clear of `notified`.
pub(crate) trait Notify {
    fn notify(&self);
}

/// The shared side: producers on any thread add, the loop takes.
pub(crate) struct Inbox<P> {
    state: Mutex<State<P>>,
    /// Set by the first addition after the loop last cleared it; see the module docs.
    notified: AtomicBool,
}

struct State<P> {
    posts: Vec<P>,
    wakes: Vec<u32>,
    /// The tag of each entry of `wakes`.
    tags: Vec<u32>,
    /// Per key, one more than its index in `wakes` while it is there, else 0.
    pending: Vec<u32>,
    main: bool,
    stop: bool,
    closed: bool,
}

/// The loop's side of one hand-off, taken in one swap. Keep it between turns: its buffers are
/// swapped back into the inbox at the next take, so steady state allocates nothing.
pub(crate) struct Batch<P> {
    /// Posts in the order they were posted.
    pub(crate) posts: Vec<P>,
    /// Woken task keys, each at most once, in the order first woken.
    pub(crate) wakes: Vec<u32>,
    /// The tag each key was woken with, or [`ANY_TAG`] (see the module docs).
    pub(crate) tags: Vec<u32>,
    /// The `block_on` future was woken.
    pub(crate) main: bool,
    /// Someone asked the loop to stop.
    pub(crate) stop: bool,
}

impl<P> Batch<P> {
    pub(crate) fn new() -> Self {
        Batch {
            posts: Vec::new(),
            wakes: Vec::new(),
            tags: Vec::new(),
            main: false,
            stop: false,
        }
    }

    /// Whether a burst left the buffers large (see [`Batch::shrink_if_idle`]).
    pub(crate) fn is_large(&self) -> bool {
        self.posts.capacity().max(self.wakes.capacity()) > SHRINK_FLOOR
    }

    /// Frees buffers a burst left large, for a loop about to wait: otherwise a drained batch keeps
    /// its capacity until two more takes have passed it through the inbox.
    pub(crate) fn shrink_if_idle(&mut self) {
        drop(shrink(&mut self.posts, 0));
        drop(shrink(&mut self.wakes, 0));
        drop(shrink(&mut self.tags, 0));
    }

    /// Whether the batch holds nothing (the models and tests check a take with it).
    #[cfg_attr(not(any(test, loom)), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.posts.is_empty() && self.wakes.is_empty() && !self.main && !self.stop
    }
}

impl<P> Default for Batch<P> {
    fn default() -> Self {
        Batch::new()
    }
}

impl<P> Inbox<P> {
    pub(crate) fn new() -> Self {
        Inbox {
            state: Mutex::new(State {
                posts: Vec::new(),
                wakes: Vec::new(),
                tags: Vec::new(),
                pending: Vec::new(),
                main: false,
                stop: false,
                closed: false,
            }),
            notified: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<P>> {
        // Nothing user-provided runs under this lock, so a poisoned one still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called after adding something, with the lock released (see the module docs).
    fn notify(&self, n: &impl Notify) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            n.notify();
        }
    }

    /// Adds `p`; `Err(p)` hands the post back when the inbox is closed, so that the caller drops
    /// it outside the lock (its `Drop` is user code).
    pub(crate) fn post(&self, p: P, n: &impl Notify) -> Result<(), P> {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            return Err(p);
        }
        state.posts.push(p);
        drop(state);
        self.notify(n);
        Ok(())
    }

    /// Wakes task `key` (below 2^28) of generation `tag`. A key already waiting is not pushed
    /// again (see the module docs for the tag).
    pub(crate) fn wake_task(&self, key: u32, tag: u32, n: &impl Notify) {
        debug_assert!(key < 1 << KEY_BITS, "task key {key} out of range");
        let added = {
            let mut state = self.lock();
            !state.closed && state.mark(key, tag)
        };
        if added {
            self.notify(n);
        }
    }

    /// Wakes the `block_on` future, which has no slab key.
    pub(crate) fn wake_main(&self, n: &impl Notify) {
        self.set_flag(|s| &mut s.main, n);
    }

    /// Asks the loop to stop.
    pub(crate) fn stop(&self, n: &impl Notify) {
        self.set_flag(|s| &mut s.stop, n);
    }

    fn set_flag(&self, flag: impl FnOnce(&mut State<P>) -> &mut bool, n: &impl Notify) {
        let added = {
            let mut state = self.lock();
            !state.closed && !mem::replace(flag(&mut state), true)
        };
        if added {
            self.notify(n);
        }
    }

    /// Wakes the poller with nothing added (a blocking job finished and the loop should re-check
    /// whether it is alive). Works after `close` too: the loop may still be running.
    pub(crate) fn wake_loop(&self, n: &impl Notify) {
        self.notify(n);
    }

    /// Whether something may have been added since the loop last took.
    pub(crate) fn is_notified(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// Moves everything waiting into `batch`, which must be empty (drained since the last take).
    ///
    /// Clears `notified` first, so that an addition racing with the swap is either in this batch
    /// or notifies again (see the module docs).
    pub(crate) fn take(&self, batch: &mut Batch<P>) {
        debug_assert!(
            batch.posts.is_empty() && batch.wakes.is_empty() && batch.tags.is_empty(),
            "take into a batch that was not drained"
        );
        // A swap where a store would do, for the loom model's sake (see the module docs).
        self.notified.swap(false, Ordering::AcqRel);
        let (old_posts, old_wakes, old_tags) = {
            let mut state = self.lock();
            let state = &mut *state;
            mem::swap(&mut state.posts, &mut batch.posts);
            mem::swap(&mut state.wakes, &mut batch.wakes);
            mem::swap(&mut state.tags, &mut batch.tags);
            batch.main = mem::take(&mut state.main);
            batch.stop = mem::take(&mut state.stop);
            for &key in &batch.wakes {
                state.pending[key as usize] = 0;
            }
            (
                shrink(&mut state.posts, batch.posts.len()),
                shrink(&mut state.wakes, batch.wakes.len()),
                shrink(&mut state.tags, batch.tags.len()),
            )
        };
        // Freed outside the lock: the buffers are empty, but returning a large one is a syscall.
        drop((old_posts, old_wakes, old_tags));
    }

    /// Refuses further posts and wakes and returns the untaken posts, for the caller to drop on
    /// the loop thread, outside the lock.
    pub(crate) fn close(&self) -> Vec<P> {
        let (posts, wakes, tags, pending) = {
            let mut state = self.lock();
            state.closed = true;
            state.main = false;
            state.stop = false;
            (
                mem::take(&mut state.posts),
                mem::take(&mut state.wakes),
                mem::take(&mut state.tags),
                mem::take(&mut state.pending),
            )
        };
        drop((wakes, tags, pending));
        posts
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

impl<P> Default for Inbox<P> {
    fn default() -> Self {
        Inbox::new()
    }
}

impl<P> State<P> {
    /// Marks `key` as waiting with `tag` and queues it; false if it already was (its entry's
    /// tag becomes [`ANY_TAG`] if `tag` differs).
    fn mark(&mut self, key: u32, tag: u32) -> bool {
        let k = key as usize;
        if k >= self.pending.len() {
            // Grown lazily to the highest key woken so far: bounded by the task slab.
            self.pending.resize(k + 1, 0);
        }
        match self.pending[k] {
            0 => {
                self.wakes.push(key);
                self.tags.push(tag);
                self.pending[k] = self.wakes.len() as u32;
                true
            }
            at => {
                let t = &mut self.tags[at as usize - 1];
                if *t != tag {
                    *t = ANY_TAG;
                }
                false
            }
        }
    }
}

/// Takes `spare` (empty) out for freeing if a burst left it far larger than `needed`; the
/// producers then start from an empty buffer, which re-grows only as far as they fill it.
fn shrink<T>(spare: &mut Vec<T>, needed: usize) -> Option<Vec<T>> {
    let cap = spare.capacity();
    (cap > SHRINK_FLOOR && cap / SHRINK_FACTOR > needed).then(|| mem::take(spare))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    /// Counts poller wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Notify for Count {
        fn notify(&self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    impl Count {
        fn get(&self) -> usize {
            self.0.load(Ordering::Relaxed)
        }
    }

    fn taken<P>(inbox: &Inbox<P>) -> Batch<P> {
        let mut batch = Batch::new();
        inbox.take(&mut batch);
        batch
    }

    #[test]
    fn millions_of_wakes_of_one_task_are_one_entry() {
        let inbox = Inbox::<()>::new();
        let n = Count::default();
        for _ in 0..8_000_000 {
            inbox.wake_task(12, 0, &n);
        }
        assert_eq!(n.get(), 1, "one poller wake-up for the whole burst");
        {
            let state = inbox.lock();
            assert_eq!(state.wakes, [12]);
            assert!(state.wakes.capacity() <= 16, "{}", state.wakes.capacity());
            assert_eq!(state.pending.len(), 13);
        }
        let batch = taken(&inbox);
        assert_eq!(batch.wakes, [12]);
        assert!(!inbox.is_notified());
    }

    #[test]
    fn several_keys_once_each_in_first_wake_order() {
        let inbox = Inbox::<()>::new();
        let n = Count::default();
        for key in [5, 900, 5, 0, 900, 63, 64, 0] {
            inbox.wake_task(key, 0, &n);
        }
        let mut batch = taken(&inbox);
        assert_eq!(batch.wakes, [5, 900, 0, 63, 64]);
        assert!(!batch.main && !batch.stop && batch.posts.is_empty());
        // Taking cleared the marks: the same keys wake again.
        batch.wakes.clear();
        batch.tags.clear();
        inbox.wake_task(900, 0, &n);
        inbox.wake_task(5, 0, &n);
        inbox.take(&mut batch);
        assert_eq!(batch.wakes, [900, 5]);
        assert_eq!(n.get(), 2);
    }

    #[test]
    fn the_highest_key_fits() {
        let inbox = Inbox::<()>::new();
        let n = Count::default();
        let top = (1 << KEY_BITS) - 1;
        inbox.wake_task(top, 0, &n);
        inbox.wake_task(top, 0, &n);
        assert_eq!(taken(&inbox).wakes, [top]);
    }

    #[test]
    fn main_is_a_flag() {
        let inbox = Inbox::<()>::new();
        let n = Count::default();
        inbox.wake_main(&n);
        inbox.wake_main(&n);
        let mut batch = taken(&inbox);
        assert!(batch.main && batch.wakes.is_empty());
        assert_eq!(n.get(), 1);
        inbox.take(&mut batch);
        assert!(!batch.main, "the flag is cleared by the take");
    }

    #[test]
    fn stop() {
        let inbox = Inbox::<()>::new();
        let n = Count::default();
        inbox.stop(&n);
        assert!(inbox.is_notified());
        let mut batch = taken(&inbox);
        assert!(batch.stop && !batch.main);
        inbox.take(&mut batch);
        assert!(batch.is_empty());
    }

    #[test]
    fn wake_loop_only_notifies() {
        let inbox = Inbox::<()>::new();
        let n = Count::default();
        inbox.wake_loop(&n);
        assert!(inbox.is_notified());
        assert_eq!(n.get(), 1);
        assert!(taken(&inbox).is_empty());
        assert!(!inbox.is_notified());
    }

    #[test]
    fn notifies_once_per_take() {
        let inbox = Inbox::new();
        let n = Count::default();
        inbox.post(1, &n).unwrap();
        inbox.post(2, &n).unwrap();
        inbox.wake_task(3, 0, &n);
        assert_eq!(n.get(), 1);
        let mut batch = taken(&inbox);
        assert_eq!(batch.posts, [1, 2]);
        batch.posts.clear();
        batch.wakes.clear();
        batch.tags.clear();
        inbox.post(3, &n).unwrap();
        assert_eq!(n.get(), 2);
    }

    #[test]
    fn closed_refuses_and_hands_back() {
        let inbox = Inbox::new();
        let n = Count::default();
        inbox.post(String::from("taken"), &n).unwrap();
        inbox.post(String::from("untaken"), &n).unwrap();
        inbox.wake_task(7, 0, &n);
        assert!(!inbox.is_closed());
        assert_eq!(inbox.close(), ["taken", "untaken"]);
        assert!(inbox.is_closed());
        assert_eq!(
            inbox.post(String::from("late"), &n),
            Err(String::from("late"))
        );
        inbox.wake_task(8, 0, &n);
        inbox.wake_main(&n);
        inbox.stop(&n);
        let batch = taken(&inbox);
        assert!(batch.is_empty());
        assert!(inbox.close().is_empty());
    }

    #[test]
    fn spare_buffers_shrink_after_a_burst() {
        let inbox = Inbox::new();
        let n = Count::default();
        let mut batch = Batch::new();
        for i in 0..100_000u32 {
            inbox.post(i, &n).unwrap();
            inbox.wake_task(i, 0, &n);
        }
        inbox.take(&mut batch);
        assert_eq!(batch.posts.len(), 100_000);
        assert_eq!(batch.wakes.len(), 100_000);
        batch.posts.clear();
        batch.wakes.clear();
        batch.tags.clear();
        // The burst is over: each buffer is freed at the first take that finds it in the inbox.
        for _ in 0..2 {
            inbox.post(0, &n).unwrap();
            inbox.wake_task(0, 0, &n);
            inbox.take(&mut batch);
            assert_eq!((batch.posts.len(), batch.wakes.len()), (1, 1));
            batch.posts.clear();
            batch.wakes.clear();
            batch.tags.clear();
        }
        let state = inbox.lock();
        assert!(state.posts.capacity() <= SHRINK_FLOOR);
        assert!(state.wakes.capacity() <= SHRINK_FLOOR);
        assert!(batch.posts.capacity() <= SHRINK_FLOOR);
        assert!(batch.wakes.capacity() <= SHRINK_FLOOR);
    }

    #[test]
    fn steady_state_keeps_its_buffers() {
        let inbox = Inbox::new();
        let n = Count::default();
        let mut batch = Batch::new();
        let fill = |inbox: &Inbox<u32>| {
            for i in 0..3000 {
                inbox.post(i, &n).unwrap();
            }
        };
        fill(&inbox);
        inbox.take(&mut batch);
        batch.posts.clear();
        fill(&inbox);
        inbox.take(&mut batch);
        batch.posts.clear();
        let ptrs = (batch.posts.as_ptr(), inbox.lock().posts.as_ptr());
        for _ in 0..4 {
            fill(&inbox);
            inbox.take(&mut batch);
            batch.posts.clear();
        }
        assert_eq!((batch.posts.as_ptr(), inbox.lock().posts.as_ptr()), ptrs);
    }

    #[test]
    fn no_post_lost_across_take() {
        const PRODUCERS: u32 = 2;
        const PER: u32 = 50_000;
        let inbox = Arc::new(Inbox::new());
        let n = Arc::new(Count::default());
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|t| {
                let (inbox, n) = (inbox.clone(), n.clone());
                std::thread::spawn(move || {
                    for i in 0..PER {
                        inbox.post(t * PER + i, &*n).unwrap();
                        inbox.wake_task(t, 0, &*n);
                    }
                })
            })
            .collect();
        let mut seen = vec![false; (PRODUCERS * PER) as usize];
        let mut last = [None::<u32>; PRODUCERS as usize];
        let mut batch = Batch::new();
        let mut got = 0;
        while got < seen.len() {
            if !inbox.is_notified() {
                std::thread::yield_now();
                continue;
            }
            inbox.take(&mut batch);
            for p in batch.posts.drain(..) {
                assert!(!mem::replace(&mut seen[p as usize], true), "{p} twice");
                let t = (p / PER) as usize;
                assert!(last[t] < Some(p), "producer {t} out of order");
                last[t] = Some(p);
                got += 1;
            }
            let mut keys = mem::take(&mut batch.wakes);
            keys.sort_unstable();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "a key twice");
            keys.clear();
            batch.wakes = keys;
            batch.tags.clear();
        }
        for p in producers {
            p.join().unwrap();
        }
        assert!(n.get() >= 1);
    }
}
