//! `Sender`: the sending end of an mpmc channel.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::{Chan, SendError, TrySendError};
use crate::sync::{wake, NeedsClone, NewWaker};

/// Sends values into a channel made by [`channel`](super::channel); clone it for more producers.
///
/// When every `Sender` of a channel is dropped, the receivers get the values still buffered,
/// then `None`.
///
/// ```
/// use evloop::sync::mpmc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, rx) = mpmc::channel(2);
///     for p in 0..3 {
///         let tx = tx.clone(); // one per producer
///         evloop::spawn(async move { tx.send(p).await.unwrap() });
///     }
///     drop(tx);
///     let mut got = Vec::new();
///     while let Some(v) = rx.recv().await {
///         got.push(v);
///     }
///     got.sort();
///     assert_eq!(got, [0, 1, 2]);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Sender<T> {
    chan: Rc<Chan<T>>,
}

impl<T> Sender<T> {
    pub(super) fn new(chan: Rc<Chan<T>>) -> Self {
        Sender { chan }
    }

    /// Sends `value`, first waiting for room if the channel is full. Senders that wait are served
    /// in the order they started waiting.
    ///
    /// Dropping the future before it completes withdraws the value (it is dropped, never
    /// received). Once the future has started waiting, the value may be received even if the
    /// future is not polled again.
    ///
    /// # Errors
    ///
    /// Gives `value` back if the channel is closed (or every receiver is gone), also while
    /// waiting for room.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, rx) = mpmc::channel(1);
    ///     tx.send(1).await.unwrap();
    ///     // The channel is full: this send waits until a receiver makes room.
    ///     let producer = evloop::spawn(async move { tx.send(2).await });
    ///     assert_eq!(rx.recv().await, Some(1));
    ///     assert_eq!(rx.recv().await, Some(2));
    ///     assert!(producer.await.unwrap().is_ok());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        SendFuture {
            chan: &self.chan,
            value: Some(value),
            key: None,
        }
        .await
    }

    /// Sends `value` if there is room now and no sender is already waiting for room.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], with the value.
    ///
    /// ```
    /// use evloop::sync::mpmc::{self, TrySendError};
    ///
    /// let (tx, rx) = mpmc::channel(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut st = self.chan.state.borrow_mut();
        if st.closed {
            return Err(TrySendError::Closed(value));
        }
        if st.buf.len() >= st.bound || !st.send_waiters.is_empty() {
            return Err(TrySendError::Full(value));
        }
        let waker = st.push(value);
        drop(st);
        wake(waker);
        Ok(())
    }

    /// Closes the channel for every end: further sends fail, and so do senders waiting for room
    /// (they get their values back); receivers still get the values buffered, then `None`.
    /// Returns whether this call closed it (false if it was closed already).
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, rx) = mpmc::channel(4);
    ///     tx.send("last").await.unwrap();
    ///     assert!(tx.close());
    ///     assert!(tx.send("refused").await.is_err());
    ///     assert_eq!(rx.recv().await, Some("last"));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed (by [`close`](Sender::close), or because every receiver is
    /// gone), so that sending would fail.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, rx) = mpmc::channel::<u8>(1);
    /// let rx2 = rx.clone();
    /// drop(rx);
    /// assert!(!tx.is_closed(), "a receiver is left");
    /// drop(rx2);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// How many values could be sent now without waiting.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, rx) = mpmc::channel(3);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(tx.capacity(), 2);
    /// rx.try_recv().unwrap();
    /// assert_eq!(tx.capacity(), 3);
    /// ```
    pub fn capacity(&self) -> usize {
        let st = self.chan.state.borrow();
        if st.send_waiters.is_empty() {
            st.bound - st.buf.len()
        } else {
            0
        }
    }

    /// The capacity the channel was created with.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, _rx) = mpmc::channel(3);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(tx.max_capacity(), 3, "does not change as the channel fills");
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.chan.state.borrow().bound
    }

    /// How many values are buffered.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, rx) = mpmc::channel(4);
    /// tx.try_send(1).unwrap();
    /// tx.try_send(2).unwrap();
    /// assert_eq!(tx.len(), 2);
    /// rx.try_recv().unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no value is buffered.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, rx) = mpmc::channel(1);
    /// tx.try_send(()).unwrap();
    /// assert!(!tx.is_empty());
    /// rx.try_recv().unwrap();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many receivers are alive.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, rx) = mpmc::channel::<u8>(1);
    /// let workers = vec![rx.clone(), rx.clone()];
    /// assert_eq!(tx.receiver_count(), 3);
    /// drop((rx, workers));
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.chan.receivers.get()
    }

    /// Whether both senders send into the same channel.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (a, _rx) = mpmc::channel::<u8>(1);
    /// let (b, _rx2) = mpmc::channel::<u8>(1);
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.set(self.chan.senders.get() + 1);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let left = self.chan.senders.get() - 1;
        self.chan.senders.set(left);
        if left == 0 {
            self.chan.state.borrow_mut().senders_gone = true;
            self.chan.wake_receivers();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The future of [`Sender::send`]. Its value is either in `value` (not yet offered) or in its
/// waiter slot, whose key is `key`.
struct SendFuture<'a, T> {
    chan: &'a Chan<T>,
    value: Option<T>,
    key: Option<usize>,
}

// The value is only ever moved, never pinned in place.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut new = NewWaker::new(cx.waker());
        loop {
            let mut st = this.chan.state.borrow_mut();
            let waiting = match this.key {
                Some(key) if st.send_waiters.is_linked(key) => {
                    st.send_waiters.set_waker(key, &mut new)
                }
                Some(key) => {
                    this.key = None;
                    // Unlinked either by a receiver, which moved the value into the buffer, or
                    // by closing, which left it here for us to give back.
                    return Poll::Ready(match st.send_waiters.remove_unlinked(key) {
                        None => Ok(()),
                        Some(v) => Err(SendError(v)),
                    });
                }
                None => {
                    let value = this
                        .value
                        .take()
                        .expect("evloop: mpmc send future polled after completion");
                    if st.closed {
                        return Poll::Ready(Err(SendError(value)));
                    }
                    if st.buf.len() < st.bound && st.send_waiters.is_empty() {
                        let waker = st.push(value);
                        drop(st);
                        wake(waker);
                        return Poll::Ready(Ok(()));
                    }
                    match new.take() {
                        Ok(waker) => {
                            this.key = Some(st.send_waiters.push_back(waker, Some(value)));
                            Ok(())
                        }
                        Err(NeedsClone) => {
                            this.value = Some(value); // for the poll that starts over
                            Err(NeedsClone)
                        }
                    }
                }
            };
            match waiting {
                Ok(()) => return Poll::Pending,
                Err(NeedsClone) => new.clone_after(st),
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Both dropped with no borrow held: the value's destructor, or a foreign waker's, may
            // use the channel.
            let (withdrawn, waker) = self.chan.state.borrow_mut().send_waiters.remove(key);
            drop(waker);
            drop(withdrawn);
        }
    }
}
