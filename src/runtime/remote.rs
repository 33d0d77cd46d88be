//! The remote handle: how other threads reach a loop.
//!
//! Posts and cross-thread wake-ups go into the loop's [`Inbox`] (see it for why none is lost and
//! why a burst costs one wake-up of the poller and memory bounded by the number of tasks).
//!
//! Every live loop also has an index in a process-wide table ([`driver::loops`](crate::driver::loops)),
//! so that a task `Waker`, which is only integers, can find the loop's inbox from any thread. That
//! lookup takes no lock: two loops that wake each other's tasks meet only in each other's inbox.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use super::core::Post;
use super::Handle;
use crate::driver::inbox::{self, Inbox, Notify};
use crate::driver::loops::Table;
use crate::driver::reactor::WAKER_TOKEN;

/// The loop's side of its inbox: the buffers of one take, reused.
pub(crate) type Batch = inbox::Batch<Post>;

/// The part of a loop that other threads reach: its inbox and the waker of its poller.
pub(crate) struct RemoteShared {
    inbox: Inbox<Post>,
    waker: PollWaker,
    /// This loop's index in [`LOOPS`].
    pub(crate) index: u16,
}

/// Writes to the loop's `mio::Waker`, the inbox's way to wake the poller.
struct PollWaker(mio::Waker);

impl Notify for PollWaker {
    fn notify(&self) {
        // An error here means the poller itself is gone; the loop is being torn down.
        let _ = self.0.wake();
    }
}

/// Live loops by index, for cross-thread wakers. It holds one `Arc` of each registered loop.
static LOOPS: Table<RemoteShared> = Table::new();

/// A loop's place in [`LOOPS`], given back when the loop closes (or, at the latest, when its
/// core is dropped).
pub(crate) struct Registration(Cell<Option<u16>>);

impl Registration {
    /// Leaves the table: from now on wakers of this loop find nothing and do nothing. Waits for
    /// a wake that is reading the slot right now on another thread (it runs no user code).
    pub(crate) fn release(&self) {
        if let Some(index) = self.0.take() {
            drop(LOOPS.remove(index));
        }
    }

    /// Whether the loop is still in the table (it holds an `Arc` of the remote side then).
    pub(crate) fn is_registered(&self) -> bool {
        self.0.get().is_some()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.release();
    }
}

impl RemoteShared {
    pub(crate) fn new(
        registry: &mio::Registry,
    ) -> std::io::Result<(Arc<RemoteShared>, Registration)> {
        let waker = PollWaker(mio::Waker::new(registry, WAKER_TOKEN)?);
        let mut shared = None;
        let index = LOOPS
            .insert(|index| {
                let s = Arc::new(RemoteShared {
                    inbox: Inbox::new(),
                    waker,
                    index,
                });
                shared = Some(s.clone());
                s
            })
            .ok_or_else(|| std::io::Error::other("more than 65536 event loops alive at once"))?;
        let shared = shared.expect("the table built the loop's remote side");
        Ok((shared, Registration(Cell::new(Some(index)))))
    }

    /// Runs `f` with the loop registered at `index`, if it is still alive; takes no lock.
    #[inline]
    pub(crate) fn with<R>(index: u16, f: impl FnOnce(&RemoteShared) -> R) -> Option<R> {
        LOOPS.with(index, f)
    }

    /// Wakes the loop with nothing posted, so it re-checks whether it is alive.
    pub(crate) fn wake_loop(&self) {
        self.inbox.wake_loop(&self.waker);
    }

    /// A wake of task `key`/`gen` from another thread (coalesced per key).
    pub(crate) fn wake_task(&self, key: u32, gen: u32) {
        self.inbox.wake_task(key, gen, &self.waker);
    }

    /// A wake of the `block_on` future from another thread.
    pub(crate) fn wake_main(&self) {
        self.inbox.wake_main(&self.waker);
    }

    /// Whether something was posted since the loop last looked.
    #[inline]
    pub(crate) fn is_notified(&self) -> bool {
        self.inbox.is_notified()
    }

    /// Moves the inbox's contents into `batch` (emptied buffers with capacity, so that steady
    /// state allocates nothing). Call only after seeing `is_notified`.
    pub(crate) fn take(&self, batch: &mut Batch) {
        self.inbox.take(batch);
    }

    /// Refuses further posts and hands back the ones not yet taken, to be dropped on the loop thread.
    pub(crate) fn close(&self) -> Vec<Post> {
        self.inbox.close()
    }

    /// How many `Arc`s to this beyond the loop's own, the table's while the loop is registered,
    /// and `others` more (the blocking pool's): the remote handles that could still post.
    pub(crate) fn handles(self: &Arc<Self>, registered: bool, others: usize) -> usize {
        Arc::strong_count(self).saturating_sub(1 + usize::from(registered) + others)
    }
}

/// A handle to post work to a loop from any thread, and to stop it.
///
/// It is `Send + Sync` and cheap to clone. Posted closures run on the loop thread, in the order
/// they were posted, each exactly once, as long as the loop is alive; posting to a loop that has been
/// dropped returns [`PostError`] with the closure dropped.
///
/// ```
/// use evloop::EventLoop;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let lp = EventLoop::new()?;
/// let remote = lp.remote();
/// let seen = Arc::new(AtomicUsize::new(0));
/// let seen2 = seen.clone();
/// std::thread::spawn(move || {
///     remote.post(move |_| { seen2.fetch_add(1, Ordering::SeqCst); }).unwrap();
///     remote.stop();
/// });
/// let _alive = lp.keep_alive(); // stay alive until the other thread stops us
/// lp.run()?;
/// assert_eq!(seen.load(Ordering::SeqCst), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Remote {
    pub(crate) shared: Arc<RemoteShared>,
}

impl Remote {
    /// Runs `f` on the loop thread in a later turn.
    ///
    /// # Errors
    ///
    /// [`PostError`] if the loop has been dropped.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let remote = lp.remote();
    /// let thread = std::thread::spawn(move || {
    ///     // `Remote` is `Send`: the closure runs on the loop thread, with the loop's handle.
    ///     remote.post(|h| h.stop()).unwrap();
    /// });
    /// let _alive = lp.keep_alive();
    /// lp.run()?; // until the posted `stop`
    /// thread.join().unwrap();
    /// drop(_alive);
    /// drop(lp);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn post<F>(&self, f: F) -> Result<(), PostError>
    where
        F: FnOnce(&Handle) + Send + 'static,
    {
        let shared = &self.shared;
        match shared.inbox.post(Box::new(f), &shared.waker) {
            Ok(()) => Ok(()),
            Err(refused) => {
                // Dropped here, outside the inbox's lock: its `Drop` is user code.
                drop(refused);
                Err(PostError(()))
            }
        }
    }

    /// Asks the loop to stop: `run` returns once the current turn is over. It has no effect on
    /// `block_on`, which runs until its future completes (the request is then used up). Sent while
    /// the loop is not running, it is kept, like asyncio's `stop` before `run_forever`: the next
    /// run returns after its first turn, so a stop that races with the start of a run is not lost.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let remote = lp.remote();
    /// remote.stop(); // before the run: kept, so the run returns after its first turn
    /// let _alive = lp.keep_alive();
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self) {
        self.shared.inbox.stop(&self.shared.waker);
    }

    /// Whether the loop is still alive.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let remote = lp.remote();
    /// assert!(remote.is_alive());
    /// drop(lp);
    /// assert!(!remote.is_alive());
    /// assert!(remote.post(|_| {}).is_err(), "a post to a dropped loop is refused");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        !self.shared.inbox.is_closed()
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("loop", &self.shared.index)
            .finish()
    }
}

/// The loop a [`Remote`] posts to has been dropped.
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// let remote = lp.remote();
/// drop(lp);
/// let err = remote.post(|_| unreachable!("no loop to run it")).unwrap_err();
/// assert_eq!(err.to_string(), "the event loop has been dropped");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostError(());

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the event loop has been dropped")
    }
}

impl std::error::Error for PostError {}
