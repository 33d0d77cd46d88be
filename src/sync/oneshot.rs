//! A channel for a single value: one [`Sender`], one [`Receiver`].
//!
//! # Closing and dropping
//!
//! - [`Sender::send`] consumes the sender. Dropping the sender without sending makes the receiver
//!   complete with [`RecvError`].
//! - Dropping the receiver, or calling [`Receiver::close`], makes [`Sender::send`] hand the value
//!   back, [`Sender::is_closed`] return true and [`Sender::closed`] complete. A value sent before
//!   [`Receiver::close`] can still be received; one sent before the receiver was dropped is dropped
//!   with it.
//!
//! ```
//! use evloop::sync::oneshot;
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     let (tx, rx) = oneshot::channel();
//!     evloop::spawn(async move { tx.send("done").unwrap() });
//!     assert_eq!(rx.await, Ok("done"));
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

use std::cell::Cell;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::{set_waker, wake};

/// Creates a one-shot channel.
///
/// ```
/// use evloop::sync::oneshot;
///
/// let lp = evloop::EventLoop::new()?;
/// let answer = lp.block_on(async {
///     let (tx, rx) = oneshot::channel();
///     evloop::spawn(async move {
///         tx.send(42).unwrap();
///     });
///     rx.await
/// });
/// assert_eq!(answer, Ok(42));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Rc::new(Inner {
        value: Cell::new(None),
        rx_waker: Cell::new(None),
        tx_waker: Cell::new(None),
        tx_gone: Cell::new(false),
        rx_closed: Cell::new(false),
    });
    (
        Sender {
            inner: inner.clone(),
        },
        Receiver { inner },
    )
}

struct Inner<T> {
    value: Cell<Option<T>>,
    /// The receiver waiting for the value.
    rx_waker: Cell<Option<Waker>>,
    /// The sender waiting in [`Sender::closed`].
    tx_waker: Cell<Option<Waker>>,
    /// The sender was dropped, after sending or not.
    tx_gone: Cell<bool>,
    /// The receiver was dropped or closed.
    rx_closed: Cell<bool>,
}

impl<T> Inner<T> {
    /// What the receiver completes with now, if anything.
    fn poll_value(&self) -> Poll<Result<T, RecvError>> {
        if let Some(v) = self.value.take() {
            Poll::Ready(Ok(v))
        } else if self.tx_gone.get() {
            Poll::Ready(Err(RecvError(())))
        } else {
            Poll::Pending
        }
    }
}

/// Sends the value; see [`channel`].
///
/// ```
/// use evloop::sync::oneshot;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, rx) = oneshot::channel();
///     // A request handed to a worker, with the sender to answer it.
///     evloop::spawn(async move { tx.send("answer").unwrap() });
///     assert_eq!(rx.await, Ok("answer"));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Sender<T> {
    inner: Rc<Inner<T>>,
}

/// Receives the value: await it for `Ok(value)`, or [`RecvError`] if the sender was dropped without
/// sending. See [`channel`].
///
/// Once it has completed, awaiting it again yields [`RecvError`].
///
/// ```
/// use evloop::sync::oneshot;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, rx) = oneshot::channel::<u32>();
///     drop(tx); // gave up without sending
///     assert!(rx.await.is_err());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Receiver<T> {
    inner: Rc<Inner<T>>,
}

/// The [`Sender`] was dropped without sending.
///
/// ```
/// use evloop::sync::oneshot;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, rx) = oneshot::channel::<u8>();
///     drop(tx);
///     let err = rx.await.unwrap_err();
///     assert_eq!(err.to_string(), "the sender was dropped without sending");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

/// Why [`Receiver::try_recv`] returned no value.
///
/// ```
/// use evloop::sync::oneshot::{self, TryRecvError};
///
/// let (tx, mut rx) = oneshot::channel::<u8>();
/// let empty = rx.try_recv().unwrap_err();
/// assert_eq!(empty, TryRecvError::Empty);
/// assert_eq!(empty.to_string(), "no value sent yet");
/// drop(tx);
/// let closed = rx.try_recv().unwrap_err();
/// assert_eq!(closed, TryRecvError::Closed);
/// assert_eq!(closed.to_string(), "the sender is gone and no value is left");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing sent yet; the sender is still alive.
    Empty,
    /// The sender was dropped without sending, or the value was already received.
    Closed,
}

impl<T> Sender<T> {
    /// Sends `value`, waking the receiver.
    ///
    /// # Errors
    ///
    /// Gives `value` back if the receiver has been dropped or closed.
    ///
    /// ```
    /// use evloop::sync::oneshot;
    ///
    /// let (tx, rx) = oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(5), Err(5), "nobody wants it: the value comes back");
    /// ```
    pub fn send(self, value: T) -> Result<(), T> {
        if self.inner.rx_closed.get() {
            return Err(value);
        }
        self.inner.value.set(Some(value));
        // Dropping `self` marks the sender gone and wakes the receiver.
        Ok(())
    }

    /// Whether the receiver has been dropped or closed, so that sending would fail.
    ///
    /// ```
    /// use evloop::sync::oneshot;
    ///
    /// let (tx, mut rx) = oneshot::channel::<()>();
    /// assert!(!tx.is_closed());
    /// rx.close();
    /// assert!(tx.is_closed(), "no need to compute the value");
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.rx_closed.get()
    }

    /// Completes once the receiver is dropped or closed: the result is no longer wanted.
    ///
    /// ```
    /// use evloop::sync::oneshot;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (mut tx, rx) = oneshot::channel::<u32>();
    ///     evloop::spawn(async move { drop(rx) });
    ///     tx.closed().await;
    ///     assert!(tx.send(1).is_err());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for the receiver being dropped or closed.
    ///
    /// ```
    /// use evloop::sync::oneshot;
    /// use std::future::poll_fn;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (mut tx, rx) = oneshot::channel::<u8>();
    ///     evloop::spawn(async move { drop(rx) });
    ///     poll_fn(|cx| tx.poll_closed(cx)).await; // what `closed` awaits
    ///     assert!(tx.is_closed());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.rx_closed.get() {
            return Poll::Ready(());
        }
        set_waker(&self.inner.tx_waker, cx.waker());
        // Look again: a foreign waker's clone, run just now while no waker was stored, may have
        // closed the receiver, waking no one.
        if self.inner.rx_closed.get() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.inner.tx_gone.set(true);
        wake(self.inner.rx_waker.take());
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it has been sent, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing was sent yet, [`TryRecvError::Closed`] if nothing ever
    /// will be.
    ///
    /// ```
    /// use evloop::sync::oneshot::{self, TryRecvError};
    ///
    /// let (tx, mut rx) = oneshot::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "taken already");
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.inner.value.take() {
            Some(v) => Ok(v),
            None if self.inner.tx_gone.get() => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Refuses the value: [`Sender::send`] fails from now on. A value already sent can still be
    /// received.
    ///
    /// ```
    /// use evloop::sync::oneshot;
    ///
    /// let (tx, mut rx) = oneshot::channel();
    /// rx.close();
    /// assert_eq!(tx.send(1), Err(1));
    /// assert!(rx.try_recv().is_err());
    /// ```
    pub fn close(&mut self) {
        self.inner.rx_closed.set(true);
        wake(self.inner.tx_waker.take());
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(out) = self.inner.poll_value() {
            return Poll::Ready(out);
        }
        set_waker(&self.inner.rx_waker, cx.waker());
        // Look again: a foreign waker's clone, run just now while no waker was stored, may have sent
        // the value or dropped the sender, waking no one.
        self.inner.poll_value()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        drop(self.inner.value.take());
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("sender_gone", &self.inner.tx_gone.get())
            .finish()
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the sender was dropped without sending")
    }
}

impl std::error::Error for RecvError {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no value sent yet"),
            TryRecvError::Closed => f.write_str("the sender is gone and no value is left"),
        }
    }
}

impl std::error::Error for TryRecvError {}
