//! The errors of [`mpsc`](super) channels.

use std::fmt;

/// The channel is closed; the value that could not be sent is inside.
///
/// ```
/// use evloop::sync::mpsc;
///
/// let (tx, rx) = mpsc::unbounded_channel();
/// drop(rx);
/// let err = tx.send(String::from("lost?")).unwrap_err();
/// assert_eq!(err.to_string(), "sending on a closed channel");
/// assert_eq!(err.0, "lost?", "no: given back");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`](super::Sender::try_send) failed; the value is inside.
///
/// ```
/// use evloop::sync::mpsc::{self, TrySendError};
///
/// let (tx, mut rx) = mpsc::channel(1);
/// tx.try_send(1).unwrap();
/// let full = tx.try_send(2).unwrap_err();
/// assert_eq!(full, TrySendError::Full(2));
/// assert_eq!(full.to_string(), "the channel is full");
/// rx.close();
/// let closed = tx.try_send(3).unwrap_err();
/// assert_eq!(closed, TrySendError::Closed(3));
/// assert_eq!(closed.to_string(), "sending on a closed channel");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel holds `capacity` values, or senders are already waiting for room.
    Full(T),
    /// The receiver has been closed or dropped.
    Closed(T),
}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no value.
///
/// ```
/// use evloop::sync::mpsc::{self, TryRecvError};
///
/// let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
/// let empty = rx.try_recv().unwrap_err();
/// assert_eq!(empty, TryRecvError::Empty);
/// assert_eq!(empty.to_string(), "the channel is empty");
/// drop(tx);
/// let gone = rx.try_recv().unwrap_err();
/// assert_eq!(gone, TryRecvError::Disconnected);
/// assert_eq!(gone.to_string(), "the channel is empty and closed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing buffered, but a sender is still alive.
    Empty,
    /// Nothing buffered, and nothing ever will be: every sender is gone, or the receiver was
    /// closed.
    Disconnected,
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (tx, _rx) = mpsc::channel(1);
    /// tx.try_send(String::from("first")).unwrap();
    /// let refused = tx.try_send(String::from("second")).unwrap_err();
    /// assert_eq!(refused.into_inner(), "second"); // nothing is lost
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// Whether the channel was full (rather than closed).
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// tx.try_send(1).unwrap();
    /// assert!(tx.try_send(2).unwrap_err().is_full()); // try again later
    /// rx.close();
    /// assert!(!tx.try_send(3).unwrap_err().is_full()); // closed: give up
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Closed(e.0)
    }
}

// Debug without `T: Debug`, so that `unwrap` works on any channel's results.
impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the channel is full"),
            TrySendError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the channel is empty"),
            TryRecvError::Disconnected => f.write_str("the channel is empty and closed"),
        }
    }
}

impl std::error::Error for TryRecvError {}
