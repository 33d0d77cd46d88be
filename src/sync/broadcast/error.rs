//! The errors of [`broadcast`](super) channels.

use std::fmt;

/// No receiver is subscribed; the value that could not be sent is inside.
///
/// ```
/// use evloop::sync::broadcast;
///
/// let (tx, rx) = broadcast::channel(1);
/// drop(rx);
/// let err = tx.send(5).unwrap_err();
/// assert_eq!(err.0, 5, "the value comes back");
/// assert_eq!(err.to_string(), "no receiver is subscribed");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why [`Receiver::recv`](super::Receiver::recv) returned no value.
///
/// ```
/// use evloop::sync::broadcast::{self, RecvError};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut rx) = broadcast::channel(1);
///     tx.send(1).unwrap();
///     tx.send(2).unwrap(); // overwrites 1, which `rx` had not taken
///     let lag = rx.recv().await.unwrap_err();
///     assert_eq!(lag, RecvError::Lagged(1));
///     assert_eq!(lag.to_string(), "receiver lagged behind by 1 values");
///     assert_eq!(rx.recv().await, Ok(2));
///     drop(tx);
///     let closed = rx.recv().await.unwrap_err();
///     assert_eq!(closed, RecvError::Closed);
///     assert_eq!(closed.to_string(), "channel closed");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Every sender is gone and this receiver has received everything sent.
    Closed,
    /// This receiver fell more than the channel's capacity behind: that many values were
    /// overwritten before it received them. The next receive returns the oldest value still held.
    Lagged(u64),
}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no value.
///
/// ```
/// use evloop::sync::broadcast::{self, TryRecvError};
///
/// let (tx, mut rx) = broadcast::channel(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// assert_eq!(TryRecvError::Empty.to_string(), "no new value");
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1)));
/// assert_eq!(TryRecvError::Lagged(1).to_string(), "receiver lagged behind by 1 values");
/// assert_eq!(rx.try_recv(), Ok(2));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// assert_eq!(TryRecvError::Closed.to_string(), "channel closed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing new yet, but a sender is still alive.
    Empty,
    /// Every sender is gone and this receiver has received everything sent.
    Closed,
    /// As [`RecvError::Lagged`].
    Lagged(u64),
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no receiver is subscribed")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("channel closed"),
            RecvError::Lagged(n) => write!(f, "receiver lagged behind by {n} values"),
        }
    }
}

impl std::error::Error for RecvError {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no new value"),
            TryRecvError::Closed => f.write_str("channel closed"),
            TryRecvError::Lagged(n) => write!(f, "receiver lagged behind by {n} values"),
        }
    }
}

impl std::error::Error for TryRecvError {}
