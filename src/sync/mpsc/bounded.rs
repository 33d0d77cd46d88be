//! `Sender`: the sending half of a bounded channel.

use std::fmt;
use std::rc::Rc;

use super::{Chan, SendError, TrySendError};
use crate::sync::bounded_send::SendFuture;

/// Sends values into a channel made by [`channel`](super::channel); clone it for more producers.
///
/// When every `Sender` (and [`UnboundedSender`](super::UnboundedSender)) of a channel is dropped,
/// the receiver gets the values still buffered, then `None`.
///
/// ```
/// use evloop::sync::mpsc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut rx) = mpsc::channel(8);
///     for id in 0..2 {
///         let tx = tx.clone(); // one per producer
///         evloop::spawn(async move { tx.send(id).await.unwrap() });
///     }
///     drop(tx);
///     let (mut got, mut sum) = (0, 0);
///     while let Some(id) = rx.recv().await {
///         got += 1;
///         sum += id;
///     }
///     assert_eq!((got, sum), (2, 1));
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

    /// Sends `value`, first waiting for room if the channel is full. Senders that wait are served in
    /// the order they started waiting.
    ///
    /// Dropping the future before it completes withdraws the value (it is dropped, never received).
    /// Once the future has started waiting, the value may be received even if the future is not
    /// polled again.
    ///
    /// # Errors
    ///
    /// Gives `value` back if the receiver is closed or dropped, also while waiting for room.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     tx.send(1).await.unwrap();
    ///     // The channel is full: this send waits until the receiver makes room.
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
    /// use evloop::sync::mpsc::{self, TrySendError};
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)), "never waits");
    /// rx.close();
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_push(value)
    }

    /// Whether the receiver has been closed or dropped, so that sending would fail.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel::<u8>(1);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// How many values could be sent now without waiting.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel(3);
    /// tx.try_send(()).unwrap();
    /// assert_eq!((tx.capacity(), tx.max_capacity()), (2, 3));
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
    /// use evloop::sync::mpsc;
    ///
    /// let (tx, _rx) = mpsc::channel(8);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(tx.max_capacity(), 8, "does not change as the channel fills");
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.chan.state.borrow().bound
    }

    /// Whether both senders send into the same channel.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (a, _rx) = mpsc::channel::<u8>(1);
    /// let (b, _rx2) = mpsc::channel::<u8>(1);
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}
