//! `TaskTracker`: counts the tasks of one job (a server's connections), and waits for them all.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::JoinHandle;
use crate::event_loop::Handle;
use crate::sync::wait_list::{self, WaitList};

/// Tracks tasks, and waits until they have all finished once it is closed (tokio-util's
/// `TaskTracker`, for one loop thread).
///
/// Tasks spawned through it (or futures wrapped with [`track_future`](Self::track_future)) count
/// as tracked until they complete or are dropped. [`wait`](Self::wait) completes once the tracker
/// is [`close`](Self::close)d and no tracked task is left. Closing only means "no more are
/// expected": tracking more after it still works (and delays `wait`). Cloning is cheap; clones
/// share the count. It is not `Send`.
///
/// With a [`CancellationToken`](crate::sync::CancellationToken), it makes a graceful shutdown:
///
/// ```
/// use evloop::sync::CancellationToken;
/// use evloop::task::TaskTracker;
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tracker, shutdown) = (TaskTracker::new(), CancellationToken::new());
///     for i in 0..3u64 {
///         let stop = shutdown.child_token();
///         tracker.spawn(async move {
///             // Work that notices the shutdown, or finishes on its own.
///             stop.run_until_cancelled(evloop::time::sleep(Duration::from_millis(i))).await;
///         });
///     }
///     tracker.close();
///     let grace = evloop::time::timeout(Duration::from_secs(5), tracker.wait());
///     if grace.await.is_err() {
///         shutdown.cancel(); // the grace period is over: cancel what is left
///         tracker.wait().await;
///     }
///     assert!(tracker.is_empty());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// ```
/// use evloop::task::TaskTracker;
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let tracker = TaskTracker::new();
///     let done = Rc::new(Cell::new(0));
///     for _ in 0..3 {
///         let done = done.clone();
///         tracker.spawn(async move {
///             evloop::yield_now().await;
///             done.set(done.get() + 1);
///         });
///     }
///     tracker.close(); // no more tasks: `wait` can complete once these are done
///     tracker.wait().await;
///     assert_eq!(done.get(), 3);
///     assert!(tracker.is_empty());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TaskTracker {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    tracked: Cell<usize>,
    closed: Cell<bool>,
    waiters: RefCell<WaitList<()>>,
}

impl Inner {
    fn is_done(&self) -> bool {
        self.closed.get() && self.tracked.get() == 0
    }

    /// Wakes the tasks in `wait` if the tracker is done, with nothing borrowed when they wake.
    fn wake_if_done(&self) {
        if self.is_done() {
            let wakers = self.waiters.borrow_mut().unlink_all(|_| {});
            wait_list::wake_all(&self.waiters, |w| w, wakers);
        }
    }
}

impl TaskTracker {
    /// An open tracker with no tasks.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let tracker = TaskTracker::new();
    /// assert!(tracker.is_empty() && !tracker.is_closed());
    /// ```
    pub fn new() -> TaskTracker {
        TaskTracker::default()
    }

    /// Spawns `future` on the current loop, tracked.
    ///
    /// # Panics
    ///
    /// If this thread has no event loop, or as [`Handle::spawn`] does.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     let task = tracker.spawn(async { 5 });
    ///     assert_eq!(tracker.len(), 1);
    ///     assert_eq!(task.await.unwrap(), 5, "an ordinary JoinHandle");
    ///     assert!(tracker.is_empty());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        Handle::current().spawn(self.track_future(future))
    }

    /// Spawns `future` on `handle`'s loop, tracked.
    ///
    /// # Panics
    ///
    /// As [`Handle::spawn`] does.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let tracker = TaskTracker::new();
    /// tracker.spawn_on(async {}, &lp.handle());
    /// assert_eq!(tracker.len(), 1);
    /// tracker.close();
    /// lp.block_on(tracker.wait());
    /// assert!(tracker.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&self, future: F, handle: &Handle) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        handle.spawn(self.track_future(future))
    }

    /// Wraps `future` so that it counts as tracked until it completes or is dropped.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     let work = tracker.track_future(async { 3 }); // tracked from now, not from its first poll
    ///     assert_eq!(tracker.len(), 1);
    ///     assert_eq!(work.await, 3);
    ///     assert!(tracker.is_empty());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn track_future<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        let token = self.token();
        async move {
            let _token = token;
            future.await
        }
    }

    /// A token that counts as one tracked task while it lives.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let tracker = TaskTracker::new();
    /// let token = tracker.token(); // for work that is not a future: a callback, a thread's job
    /// assert_eq!(tracker.len(), 1);
    /// drop(token);
    /// assert!(tracker.is_empty());
    /// ```
    pub fn token(&self) -> TaskTrackerToken {
        self.inner.tracked.set(self.inner.tracked.get() + 1);
        TaskTrackerToken {
            inner: self.inner.clone(),
        }
    }

    /// Marks the tracker closed; returns whether it was open. `wait` completes once no tracked
    /// task is left.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     tracker.spawn(evloop::yield_now());
    ///     assert!(tracker.close());
    ///     assert!(!tracker.close(), "already closed");
    ///     tracker.wait().await; // completes once the task is done
    ///     assert!(tracker.is_empty());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&self) -> bool {
        let was_open = !self.inner.closed.replace(true);
        self.inner.wake_if_done();
        was_open
    }

    /// Opens a closed tracker again; returns whether it was closed.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let tracker = TaskTracker::new();
    /// tracker.close();
    /// assert!(tracker.reopen());
    /// assert!(!tracker.is_closed());
    /// assert!(!tracker.reopen(), "already open");
    /// ```
    pub fn reopen(&self) -> bool {
        self.inner.closed.replace(false)
    }

    /// Whether the tracker is closed.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let tracker = TaskTracker::new();
    /// assert!(!tracker.is_closed());
    /// tracker.close();
    /// assert!(tracker.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }

    /// Number of tracked tasks alive.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let tracker = TaskTracker::new();
    /// let tokens = [tracker.token(), tracker.token()];
    /// assert_eq!(tracker.len(), 2);
    /// drop(tokens);
    /// assert_eq!(tracker.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.tracked.get()
    }

    /// Whether no tracked task is alive.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let tracker = TaskTracker::new();
    /// let token = tracker.token();
    /// assert!(!tracker.is_empty());
    /// drop(token);
    /// assert!(tracker.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Completes once the tracker is closed and no tracked task is left.
    ///
    /// ```
    /// use evloop::task::TaskTracker;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let tracker = TaskTracker::new();
    ///     tracker.spawn(async {});
    ///     // Not closed: `wait` would also wait for tasks spawned later. Close it first.
    ///     tracker.close();
    ///     tracker.wait().await;
    ///     assert_eq!(tracker.len(), 0);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&self) -> TaskTrackerWait {
        TaskTrackerWait {
            inner: self.inner.clone(),
            key: None,
        }
    }
}

impl fmt::Debug for TaskTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskTracker")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Counts as a tracked task while it lives; see [`TaskTracker::token`].
///
/// ```
/// use evloop::task::TaskTracker;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let tracker = TaskTracker::new();
///     let token = tracker.token();
///     // A callback holds the token: `wait` waits for it like for a task.
///     evloop::Handle::current().call_soon(move |_| drop(token));
///     tracker.close();
///     tracker.wait().await;
///     assert!(tracker.is_empty());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TaskTrackerToken {
    inner: Rc<Inner>,
}

impl Drop for TaskTrackerToken {
    fn drop(&mut self) {
        self.inner.tracked.set(self.inner.tracked.get() - 1);
        self.inner.wake_if_done();
    }
}

impl fmt::Debug for TaskTrackerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskTrackerToken").finish_non_exhaustive()
    }
}

/// The future of [`TaskTracker::wait`].
///
/// ```
/// use evloop::task::TaskTracker;
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let tracker = TaskTracker::new();
///     let _token = tracker.token();
///     tracker.close();
///     let waited = evloop::time::timeout(Duration::from_millis(1), tracker.wait()).await;
///     assert!(waited.is_err(), "a tracked token is still alive");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct TaskTrackerWait {
    inner: Rc<Inner>,
    key: Option<usize>,
}

impl Future for TaskTrackerWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let inner = &this.inner;
        wait_list::poll_until(&inner.waiters, &mut this.key, cx, || inner.is_done())
    }
}

impl Drop for TaskTrackerWait {
    fn drop(&mut self) {
        wait_list::leave(&self.inner.waiters, &mut self.key);
    }
}

impl fmt::Debug for TaskTrackerWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskTrackerWait").finish_non_exhaustive()
    }
}
