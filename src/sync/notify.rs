//! `Notify`: wakes waiting tasks, one at a time or all at once.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::wait_list::{self, WaitList};
use super::{wake, NeedsClone, NewWaker};

/// Wakes tasks waiting in [`Notify::notified`], without carrying a value.
///
/// - [`Notify::notify_one`] wakes the task that has waited longest. If none waits, it stores a
///   *permit* (at most one; more calls add nothing), and the next [`Notify::notified`] consumes it
///   and completes at once. So a notification sent just before a task starts waiting is not lost.
/// - [`Notify::notify_waiters`] wakes every task waiting now, and every [`Notified`] future created
///   before the call (even if not polled yet). It stores no permit.
///
/// A [`Notified`] that was woken by `notify_one` but is dropped before it completes passes the
/// notification on (to the next waiter, or as the permit), so it is never lost.
///
/// To share a `Notify` between tasks, put it in an `Rc`.
///
/// ```
/// use evloop::sync::Notify;
/// use std::rc::Rc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let notify = Rc::new(Notify::new());
///     let n = notify.clone();
///     let waiter = evloop::spawn(async move {
///         n.notified().await;
///         "notified"
///     });
///     notify.notify_one(); // even if the waiter has not started waiting yet
///     assert_eq!(waiter.await.unwrap(), "notified");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Notify {
    state: RefCell<State>,
}

struct State {
    permit: bool,
    /// How many times `notify_waiters` was called, so that a `Notified` can tell whether a call
    /// came after it was created.
    generation: u64,
    waiters: WaitList<Mark>,
}

/// What a waiter was woken by.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Waiting,
    One,
    All,
}

/// The future of [`Notify::notified`]: completes once notified.
///
/// Dropping it before it completes takes it out of the queue of waiters; a `notify_one`
/// notification it had received is passed on.
///
/// ```
/// use evloop::sync::Notify;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let notify = Notify::new();
///     let notified = notify.notified(); // created before the call, so it sees it
///     notify.notify_waiters();
///     notified.await;
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    generation: u64,
    key: Option<usize>,
    done: bool,
}

impl Notify {
    /// A `Notify` with no permit and no waiter.
    ///
    /// ```
    /// use evloop::sync::Notify;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let notify = Notify::new(); // no permit stored: a wait does not complete by itself
    ///     let waited = evloop::time::timeout(Duration::from_millis(1), notify.notified()).await;
    ///     assert!(waited.is_err());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn new() -> Notify {
        Notify {
            state: RefCell::new(State {
                permit: false,
                generation: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Waits for a notification: a stored permit (consumed), a [`Notify::notify_one`], or a
    /// [`Notify::notify_waiters`] called after this future was created.
    ///
    /// ```
    /// use evloop::sync::Notify;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let notify = Rc::new(Notify::new());
    ///     let n = notify.clone();
    ///     let waiter = evloop::spawn(async move {
    ///         n.notified().await;
    ///         true
    ///     });
    ///     evloop::yield_now().await; // the waiter now waits
    ///     notify.notify_one();
    ///     assert!(waiter.await.unwrap());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.state.borrow().generation,
            key: None,
            done: false,
        }
    }

    /// Wakes the task that has waited longest, or stores a permit if none waits.
    ///
    /// ```
    /// use evloop::sync::Notify;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let notify = Notify::new();
    ///     notify.notify_one(); // nobody waits: a permit is stored...
    ///     notify.notified().await; // ... and the next wait uses it up at once
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notify_one(&self) {
        let mut st = self.state.borrow_mut();
        match st.waiters.front() {
            Some(key) => {
                *st.waiters.data_mut(key) = Mark::One;
                let waker = st.waiters.unlink(key);
                drop(st);
                wake(waker);
            }
            None => st.permit = true,
        }
    }

    /// Wakes every task waiting now, and completes every [`Notified`] created before this call.
    /// Stores no permit.
    ///
    /// ```
    /// use evloop::sync::Notify;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let notify = Rc::new(Notify::new());
    ///     let waiters: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             let n = notify.clone();
    ///             evloop::spawn(async move { n.notified().await })
    ///         })
    ///         .collect();
    ///     evloop::yield_now().await; // they wait now
    ///     notify.notify_waiters(); // wakes all of them, stores no permit
    ///     for w in waiters {
    ///         w.await.unwrap();
    ///     }
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notify_waiters(&self) {
        let mut st = self.state.borrow_mut();
        st.generation += 1;
        let wakers = st.waiters.unlink_all(|m| *m = Mark::All);
        drop(st);
        wait_list::wake_all(&self.state, |st| &mut st.waiters, wakers);
    }
}

impl Default for Notify {
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("Notify")
            .field("permit", &st.permit)
            .field("waiting", &!st.waiters.is_empty())
            .finish()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(());
        }
        let mut new = NewWaker::new(cx.waker());
        loop {
            let mut st = this.notify.state.borrow_mut();
            let waiting = match this.key {
                Some(key) if st.waiters.is_linked(key) => st.waiters.set_waker(key, &mut new),
                Some(key) => {
                    // Woken by a notification.
                    st.waiters.remove_unlinked(key);
                    this.key = None;
                    break;
                }
                // `notify_waiters` was called after this future was created.
                None if st.generation != this.generation => break,
                None if st.permit => {
                    st.permit = false;
                    break;
                }
                None => new.take().map(|waker| {
                    this.key = Some(st.waiters.push_back(waker, Mark::Waiting));
                }),
            };
            match waiting {
                Ok(()) => return Poll::Pending,
                Err(NeedsClone) => new.clone_after(st),
            }
        }
        this.done = true;
        Poll::Ready(())
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let (mark, waker) = self.notify.state.borrow_mut().waiters.remove(key);
        // Dropped with no borrow held, as a waker may be a foreign one that uses this `Notify`.
        drop(waker);
        if mark == Mark::One {
            self.notify.notify_one();
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("waiting", &self.key.is_some())
            .field("done", &self.done)
            .finish()
    }
}
