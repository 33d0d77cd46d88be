//! The remote handle: how other threads reach a loop.
//!
//! Posts and cross-thread wake-ups go into an inbox behind a mutex; the first one after the loop last
//! looked sets `notified` and writes to the loop's `mio::Waker`, so a burst of posts costs one
//! wake-up. The loop clears `notified` *before* it empties the inbox, so a post that races with the
//! emptying either is taken in this turn or sets the flag again and wakes the next one: none is lost.
//!
//! Every live loop also has an index in a process-wide table, so that a task `Waker`, which is only
//! integers, can find the loop's inbox from any thread.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::event_loop::Handle;
use crate::reactor::WAKER_TOKEN;

/// A callback posted from another thread.
pub(crate) type Post = Box<dyn FnOnce(&Handle) + Send>;

#[derive(Default)]
pub(crate) struct Inbox {
    pub(crate) posts: Vec<Post>,
    /// Tasks woken from other threads, as packed waker data.
    pub(crate) wakes: Vec<usize>,
    pub(crate) stop: bool,
    closed: bool,
}

pub(crate) struct RemoteShared {
    inbox: Mutex<Inbox>,
    notified: AtomicBool,
    waker: mio::Waker,
    /// This loop's index in [`LOOPS`].
    pub(crate) index: u16,
}

/// Live loops by index, for cross-thread wakers.
static LOOPS: Mutex<Vec<Weak<RemoteShared>>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing user-provided runs under these locks, so a poisoned one still holds consistent data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RemoteShared {
    pub(crate) fn new(registry: &mio::Registry) -> std::io::Result<Arc<RemoteShared>> {
        let waker = mio::Waker::new(registry, WAKER_TOKEN)?;
        let mut loops = lock(&LOOPS);
        let index = match loops.iter().position(|w| w.strong_count() == 0) {
            Some(i) => i,
            None => {
                loops.push(Weak::new());
                loops.len() - 1
            }
        };
        let index = u16::try_from(index)
            .map_err(|_| std::io::Error::other("more than 65536 event loops alive at once"))?;
        let shared = Arc::new(RemoteShared {
            inbox: Mutex::new(Inbox::default()),
            notified: AtomicBool::new(false),
            waker,
            index,
        });
        loops[index as usize] = Arc::downgrade(&shared);
        Ok(shared)
    }

    /// The loop registered at `index`, if it is still alive.
    pub(crate) fn lookup(index: u16) -> Option<Arc<RemoteShared>> {
        lock(&LOOPS).get(index as usize).and_then(Weak::upgrade)
    }

    fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            // An error here means the poller itself is gone; the loop is being torn down.
            let _ = self.waker.wake();
        }
    }

    /// Adds to the inbox and wakes the loop; false if the loop is gone.
    fn send(&self, f: impl FnOnce(&mut Inbox)) -> bool {
        let mut inbox = lock(&self.inbox);
        if inbox.closed {
            return false;
        }
        f(&mut inbox);
        drop(inbox);
        self.notify();
        true
    }

    /// Wakes the loop with nothing posted, so it re-checks whether it is alive.
    pub(crate) fn wake_loop(&self) {
        self.notify();
    }

    pub(crate) fn wake_task(&self, data: usize) {
        self.send(|i| i.wakes.push(data));
    }

    /// Whether something was posted since the loop last looked.
    pub(crate) fn is_notified(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// Swaps the inbox's contents with `spare` (emptied buffers with capacity, so that steady state
    /// allocates nothing). Call only after seeing `is_notified`.
    pub(crate) fn take(&self, spare: &mut Inbox) {
        self.notified.store(false, Ordering::Release);
        let mut inbox = lock(&self.inbox);
        std::mem::swap(&mut inbox.posts, &mut spare.posts);
        std::mem::swap(&mut inbox.wakes, &mut spare.wakes);
        spare.stop = std::mem::take(&mut inbox.stop);
    }

    /// Refuses further posts and hands back the ones not yet taken, to be dropped on the loop thread.
    pub(crate) fn close(&self) -> Vec<Post> {
        let mut inbox = lock(&self.inbox);
        inbox.closed = true;
        inbox.wakes = Vec::new();
        std::mem::take(&mut inbox.posts)
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
    pub fn post<F>(&self, f: F) -> Result<(), PostError>
    where
        F: FnOnce(&Handle) + Send + 'static,
    {
        let post: Post = Box::new(f);
        if self.shared.send(|i| i.posts.push(post)) {
            Ok(())
        } else {
            Err(PostError(()))
        }
    }

    /// Asks the loop to stop: `run` returns once the current turn is over.
    pub fn stop(&self) {
        self.shared.send(|i| i.stop = true);
    }

    /// Whether the loop is still alive.
    pub fn is_alive(&self) -> bool {
        !lock(&self.shared.inbox).closed
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostError(());

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the event loop has been dropped")
    }
}

impl std::error::Error for PostError {}
