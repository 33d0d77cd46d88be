//! `Sender`: the sending end of an mpmc channel.

use std::fmt;
use std::rc::Rc;

use super::{Chan, SendError, TrySendError};
use crate::sync::bounded_send::{self, SendFuture};

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
        SendFuture::new(&self.chan.state, value).await
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
        bounded_send::try_send(&self.chan.state, value)
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
