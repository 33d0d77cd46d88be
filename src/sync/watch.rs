//! A channel for the latest value: receivers can look at the current value at any time and wait
//! for it to change. Values in between may be skipped; only the latest matters.
//!
//! Every [`Receiver`] remembers the version it last saw. [`Receiver::changed`] completes as soon as
//! the value has a version that receiver has not seen (which it then has).
//!
//! # Closing and dropping
//!
//! - When the [`Sender`] is dropped, the value stays readable. [`Receiver::changed`] still reports a
//!   change not seen yet, and after that fails with [`RecvError`].
//! - When every receiver is dropped, [`Sender::send`] fails (giving the value back) and
//!   [`Sender::closed`] completes. [`Sender::send_replace`] and [`Sender::send_modify`] still
//!   update the value, for receivers subscribed later with [`Sender::subscribe`].
//!
//! # Borrows
//!
//! [`Sender::borrow`] and [`Receiver::borrow`] return a [`Ref`] to the value. Do not hold one across
//! an `.await`: updating the value while a `Ref` is alive panics.
//!
//! ```
//! use evloop::sync::watch;
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     let (tx, mut rx) = watch::channel("starting");
//!     evloop::spawn(async move {
//!         tx.send("ready").unwrap();
//!         tx.send("serving").unwrap(); // "ready" is skipped: only the latest matters
//!     });
//!     rx.changed().await.unwrap();
//!     assert_eq!(*rx.borrow_and_update(), "serving");
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

use std::cell::{Cell, Ref, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::wait_list::{self, WaitList};
use super::{NeedsClone, NewWaker};

/// Creates a watch channel holding `init`, with one receiver; more subscribe with
/// [`Sender::subscribe`] or by cloning a receiver.
///
/// ```
/// use evloop::sync::watch;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut rx) = watch::channel("starting");
///     let observer = evloop::spawn(async move {
///         while rx.changed().await.is_ok() {
///             if *rx.borrow_and_update() == "stopped" {
///                 return true;
///             }
///         }
///         false // the sender is gone
///     });
///     tx.send("running").unwrap();
///     tx.send("stopped").unwrap(); // "running" may never be seen: only the latest counts
///     assert!(observer.await.unwrap());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        value: RefCell::new(init),
        version: Cell::new(0),
        sender_alive: Cell::new(true),
        receivers: Cell::new(1),
        waiters: RefCell::new(Waiters {
            changed: WaitList::new(),
            closed: WaitList::new(),
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

struct Shared<T> {
    value: RefCell<T>,
    version: Cell<u64>,
    sender_alive: Cell<bool>,
    receivers: Cell<usize>,
    waiters: RefCell<Waiters>,
}

struct Waiters {
    /// Receivers in [`Receiver::changed`].
    changed: WaitList<()>,
    /// The sender in [`Sender::closed`].
    closed: WaitList<()>,
}

impl<T> Shared<T> {
    fn wake_all(&self, list: fn(&mut Waiters) -> &mut WaitList<()>) {
        let wakers = list(&mut self.waiters.borrow_mut()).unlink_all(|_| {});
        wait_list::wake_all(&self.waiters, list, wakers);
    }

    fn changed(&self) {
        self.version.set(self.version.get() + 1);
        self.wake_all(|w| &mut w.changed);
    }
}

/// Updates the value; see [`channel`].
///
/// ```
/// use evloop::sync::watch;
///
/// let (config, rx) = watch::channel(String::from("v1"));
/// config.send_modify(|c| c.push_str("+patch"));
/// assert_eq!(*rx.borrow(), "v1+patch");
/// ```
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

/// Sees the latest value and waits for changes; see [`channel`]. Cloning it gives a receiver that
/// has seen the same version.
///
/// ```
/// use evloop::sync::watch;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut rx) = watch::channel(0);
///     let reader = evloop::spawn(async move {
///         rx.changed().await.unwrap();
///         *rx.borrow_and_update()
///     });
///     evloop::yield_now().await;
///     tx.send(7).unwrap();
///     assert_eq!(reader.await.unwrap(), 7);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
    /// The version this receiver has seen.
    seen: u64,
}

/// The [`Sender`] is gone and this receiver has seen its last value.
///
/// ```
/// use evloop::sync::watch;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut rx) = watch::channel(0);
///     drop(tx);
///     let err = rx.changed().await.unwrap_err();
///     assert_eq!(err.to_string(), "the watch sender is gone");
///     assert_eq!(*rx.borrow(), 0, "the last value stays readable");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

/// No receiver is subscribed; the value that was not sent is inside.
///
/// ```
/// use evloop::sync::watch;
///
/// let (tx, rx) = watch::channel(0);
/// drop(rx);
/// let err = tx.send(1).unwrap_err();
/// assert_eq!(err.0, 1, "the value comes back");
/// assert_eq!(err.to_string(), "no watch receiver is subscribed");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> Sender<T> {
    /// Replaces the value and tells every receiver.
    ///
    /// # Errors
    ///
    /// If no receiver is subscribed, the value is left alone and `value` is given back.
    ///
    /// # Panics
    ///
    /// If a [`Ref`] to the value (from a `borrow`) is alive.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow(), 2);
    /// drop(rx);
    /// assert_eq!(tx.send(3).unwrap_err().0, 3, "no receiver: the value is left alone");
    /// assert_eq!(*tx.borrow(), 2);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.get() == 0 {
            return Err(SendError(value));
        }
        let old = self.send_replace(value);
        drop(old);
        Ok(())
    }

    /// Replaces the value, even with no receiver subscribed, tells every receiver and returns the
    /// previous value.
    ///
    /// # Panics
    ///
    /// If a [`Ref`] to the value (from a `borrow`) is alive.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, _rx) = watch::channel("old");
    /// assert_eq!(tx.send_replace("new"), "old");
    /// assert_eq!(*tx.borrow(), "new");
    /// ```
    pub fn send_replace(&self, value: T) -> T {
        let old = self.shared.value.replace(value);
        self.shared.changed();
        old
    }

    /// Modifies the value in place, even with no receiver subscribed, and tells every receiver.
    ///
    /// # Panics
    ///
    /// If a [`Ref`] to the value (from a `borrow`) is alive, including inside `modify`.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, mut rx) = watch::channel(vec![1]);
    /// tx.send_modify(|v| v.push(2));
    /// assert!(rx.has_changed().unwrap());
    /// assert_eq!(*rx.borrow_and_update(), [1, 2]);
    /// ```
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        modify(&mut self.shared.value.borrow_mut());
        self.shared.changed();
    }

    /// Modifies the value in place and tells every receiver if `modify` returns true (it did
    /// change something). Returns what `modify` returned.
    ///
    /// # Panics
    ///
    /// As for [`Sender::send_modify`].
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(10);
    /// let raise = |v: &mut i32| if *v < 20 { *v = 20; true } else { false };
    /// assert!(tx.send_if_modified(raise));
    /// assert!(!tx.send_if_modified(raise), "unchanged: receivers are not told");
    /// assert_eq!(*rx.borrow(), 20);
    /// ```
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let modified = modify(&mut self.shared.value.borrow_mut());
        if modified {
            self.shared.changed();
        }
        modified
    }

    /// The current value. Do not hold the [`Ref`] across an `.await`.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, _rx) = watch::channel(vec![1]);
    /// tx.send_modify(|v| v.push(2));
    /// assert_eq!(*tx.borrow(), [1, 2]);
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        self.shared.value.borrow()
    }

    /// A new receiver, which has seen the current value.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(0);
    /// drop(rx);
    /// tx.send_replace(1); // kept for later subscribers
    /// let late = tx.subscribe();
    /// assert_eq!(*late.borrow(), 1);
    /// assert!(!late.has_changed().unwrap(), "it has seen the current value");
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            seen: self.shared.version.get(),
        }
    }

    /// How many receivers are subscribed.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(());
    /// let rx2 = rx.clone();
    /// assert_eq!(tx.receiver_count(), 2);
    /// drop((rx, rx2));
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.get()
    }

    /// Whether every receiver has been dropped.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(());
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// assert!(tx.send(()).is_err());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.receivers.get() == 0
    }

    /// Completes once every receiver has been dropped.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, rx) = watch::channel(0);
    ///     evloop::spawn(async move { drop(rx) });
    ///     tx.closed().await;
    ///     assert!(tx.send(1).is_err());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn closed(&self) {
        Closed {
            shared: &self.shared,
            key: None,
        }
        .await
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.sender_alive.set(false);
        self.shared.wake_all(|w| &mut w.changed);
    }
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen. Do not hold the [`Ref`] across an `.await`.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(0);
    /// tx.send(1).unwrap();
    /// assert_eq!(*rx.borrow(), 1);
    /// assert!(rx.has_changed().unwrap(), "looked at, but not marked seen");
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        self.shared.value.borrow()
    }

    /// The current value, marking it seen. Do not hold the [`Ref`] across an `.await`.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, mut rx) = watch::channel(0);
    /// tx.send(1).unwrap();
    /// assert_eq!(*rx.borrow_and_update(), 1);
    /// assert!(!rx.has_changed().unwrap(), "seen now");
    /// ```
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        self.seen = self.shared.version.get();
        self.shared.value.borrow()
    }

    /// Whether the value changed since this receiver last saw it.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if it did not and the sender is gone, so it never will.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, mut rx) = watch::channel(0);
    /// assert!(!rx.has_changed().unwrap());
    /// tx.send(1).unwrap();
    /// assert!(rx.has_changed().unwrap());
    /// rx.mark_unchanged();
    /// drop(tx);
    /// assert!(rx.has_changed().is_err(), "nothing will change any more");
    /// ```
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        if self.shared.version.get() != self.seen {
            Ok(true)
        } else if self.shared.sender_alive.get() {
            Ok(false)
        } else {
            Err(RecvError(()))
        }
    }

    /// Marks the current value seen.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, mut rx) = watch::channel(0);
    /// tx.send(1).unwrap();
    /// assert!(rx.has_changed().unwrap());
    /// rx.mark_unchanged(); // skip this version without reading it
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn mark_unchanged(&mut self) {
        self.seen = self.shared.version.get();
    }

    /// Waits until the value has a version this receiver has not seen, and marks it seen. Completes
    /// at once if there is one already. Look at the value with [`Receiver::borrow`].
    ///
    /// Dropping the future before it completes loses nothing.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the sender is gone and the value it left has been seen.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, mut rx) = watch::channel("idle");
    ///     evloop::spawn(async move {
    ///         tx.send("busy").unwrap();
    ///         // dropped here: after this change, `changed` fails
    ///     });
    ///     assert!(rx.changed().await.is_ok());
    ///     assert_eq!(*rx.borrow_and_update(), "busy");
    ///     assert!(rx.changed().await.is_err());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        Changed {
            rx: self,
            key: None,
        }
        .await
    }

    /// Whether both receivers watch the same channel.
    ///
    /// ```
    /// use evloop::sync::watch;
    ///
    /// let (tx, a) = watch::channel(0);
    /// let (_tx2, b) = watch::channel(0);
    /// assert!(a.same_channel(&tx.subscribe()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let left = self.shared.receivers.get() - 1;
        self.shared.receivers.set(left);
        if left == 0 {
            self.shared.wake_all(|w| &mut w.closed);
        }
    }
}

/// The future of [`Receiver::changed`]; `key` is its waiter slot while it waits.
struct Changed<'a, T> {
    rx: &'a mut Receiver<T>,
    key: Option<usize>,
}

impl<T> Future for Changed<'_, T> {
    type Output = Result<(), RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        poll_changed(this.rx, &mut this.key, cx)
    }
}

impl<T> Drop for Changed<'_, T> {
    fn drop(&mut self) {
        leave_changed(self.rx, &mut self.key);
    }
}

/// Polls until `rx` has a version it has not seen, waiting in the waiter slot `key` (the
/// caller's, freed once the poll is ready or by [`leave_changed`]): the body of
/// [`Receiver::changed`], shared with the `Stream`.
pub(crate) fn poll_changed<T>(
    rx: &mut Receiver<T>,
    key: &mut Option<usize>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), RecvError>> {
    let shared = &rx.shared;
    let mut new = NewWaker::new(cx.waker());
    let out = loop {
        let version = shared.version.get();
        if version != rx.seen {
            rx.seen = version;
            break Ok(());
        }
        if !shared.sender_alive.get() {
            break Err(RecvError(()));
        }
        let mut waiters = shared.waiters.borrow_mut();
        match waiters.changed.wait(key, &mut new) {
            Ok(()) => return Poll::Pending,
            Err(NeedsClone) => new.clone_after(waiters),
        }
    };
    leave_changed(rx, key);
    Poll::Ready(out)
}

/// Frees the waiter slot `key` of a wait for a change that is over or dropped.
pub(crate) fn leave_changed<T>(rx: &Receiver<T>, key: &mut Option<usize>) {
    if key.is_some() {
        // Dropped with no borrow held, as a waker may be a foreign one that uses the channel.
        let waker = rx.shared.waiters.borrow_mut().changed.cancel(key);
        drop(waker);
    }
}

/// The future of [`Sender::closed`]; `key` is its waiter slot while it waits.
struct Closed<'a, T> {
    shared: &'a Shared<T>,
    key: Option<usize>,
}

impl<T> Future for Closed<'_, T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut new = NewWaker::new(cx.waker());
        loop {
            let mut waiters = this.shared.waiters.borrow_mut();
            if this.shared.receivers.get() == 0 {
                let waker = waiters.closed.cancel(&mut this.key);
                drop(waiters);
                drop(waker);
                return Poll::Ready(());
            }
            match waiters.closed.wait(&mut this.key, &mut new) {
                Ok(()) => return Poll::Pending,
                Err(NeedsClone) => new.clone_after(waiters),
            }
        }
    }
}

impl<T> Drop for Closed<'_, T> {
    fn drop(&mut self) {
        if self.key.is_some() {
            let waker = self
                .shared
                .waiters
                .borrow_mut()
                .closed
                .cancel(&mut self.key);
            drop(waker);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("version", &self.shared.version.get())
            .field("receivers", &self.receiver_count())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("seen", &self.seen)
            .field("version", &self.shared.version.get())
            .finish()
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the watch sender is gone")
    }
}

impl std::error::Error for RecvError {}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no watch receiver is subscribed")
    }
}

impl<T> std::error::Error for SendError<T> {}
