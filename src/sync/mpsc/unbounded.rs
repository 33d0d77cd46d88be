//! `UnboundedSender`: the sending half of an unbounded channel.

use std::fmt;
use std::rc::Rc;

use super::{Chan, SendError};

/// Sends values into a channel made by [`unbounded_channel`](super::unbounded_channel), without
/// ever waiting; clone it for more producers.
///
/// When every `UnboundedSender` of a channel is dropped, the receiver gets the values still
/// buffered, then `None`.
///
/// ```
/// use evloop::sync::mpsc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut rx) = mpsc::unbounded_channel();
///     // From a callback, which cannot await: `send` never waits.
///     evloop::Handle::current().call_soon(move |_| tx.send("from a callback").unwrap());
///     assert_eq!(rx.recv().await, Some("from a callback"));
///     assert_eq!(rx.recv().await, None);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnboundedSender<T> {
    chan: Rc<Chan<T>>,
}

impl<T> UnboundedSender<T> {
    pub(super) fn new(chan: Rc<Chan<T>>) -> Self {
        UnboundedSender { chan }
    }

    /// Sends `value` at once.
    ///
    /// # Errors
    ///
    /// Gives `value` back if the receiver is closed or dropped.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::unbounded_channel();
    /// tx.send(1).unwrap();
    /// rx.close();
    /// assert_eq!(tx.send(2).unwrap_err().0, 2);
    /// assert_eq!(rx.try_recv(), Ok(1), "what was sent before closing is still there");
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan
            .try_push(value)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Whether the receiver has been closed or dropped, so that sending would fail.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
    /// assert!(!tx.is_closed());
    /// rx.close();
    /// assert!(tx.is_closed());
    /// assert!(tx.send(1).is_err());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Whether both senders send into the same channel.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (a, _rx) = mpsc::unbounded_channel::<u8>();
    /// let (b, _rx2) = mpsc::unbounded_channel::<u8>();
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &UnboundedSender<T>) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        UnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender")
            .field("closed", &self.is_closed())
            .finish()
    }
}
