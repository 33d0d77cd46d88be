//! `BroadcastStream`: a broadcast receiver as a `Stream` whose lags are items.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::sync::broadcast::{self, Receiver, RecvError};

/// A [`broadcast::Receiver`] as a [`Stream`]: each value sent, an
/// `Err(`[`BroadcastStreamRecvError::Lagged`]`)` item where the receiver fell behind and missed
/// values (it then goes on with the oldest value still held), and the end once every sender is
/// gone and every value has been taken. The shape of tokio-stream's `BroadcastStream`.
///
/// ```
/// use evloop::interop::{BroadcastStream, BroadcastStreamRecvError};
/// use evloop::sync::broadcast;
/// use futures_core::Stream;
/// use std::future::poll_fn;
/// use std::pin::Pin;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, rx) = broadcast::channel(2);
///     for i in 0..4 {
///         tx.send(i).unwrap();
///     }
///     drop(tx);
///     let mut stream = BroadcastStream::new(rx);
///     let mut items = Vec::new();
///     while let Some(item) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
///         items.push(item);
///     }
///     assert_eq!(items, [Err(BroadcastStreamRecvError::Lagged(2)), Ok(2), Ok(3)]);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct BroadcastStream<T> {
    rx: Receiver<T>,
    /// The waiter slot of the receive in progress, as `Recv` keeps one.
    key: Option<usize>,
}

/// The error item of a [`BroadcastStream`].
///
/// ```
/// use evloop::interop::{BroadcastStream, BroadcastStreamRecvError};
/// use evloop::sync::broadcast;
/// use futures_core::Stream;
/// use std::future::poll_fn;
/// use std::pin::Pin;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, rx) = broadcast::channel(1);
///     let mut stream = BroadcastStream::new(rx);
///     tx.send(1).unwrap();
///     tx.send(2).unwrap();
///     let item = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
///     assert_eq!(item, Some(Err(BroadcastStreamRecvError::Lagged(1))), "1 was overwritten");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastStreamRecvError {
    /// The receiver fell more than the channel's capacity behind: that many values were
    /// overwritten before it took them. The next item is the oldest value still held.
    Lagged(u64),
}

impl<T> BroadcastStream<T> {
    /// Wraps `rx`: the stream yields what `rx` would receive from now on.
    ///
    /// ```
    /// use evloop::interop::BroadcastStream;
    /// use evloop::sync::broadcast;
    ///
    /// let (tx, rx) = broadcast::channel::<u8>(4);
    /// let stream = BroadcastStream::new(rx);
    /// assert_eq!(tx.receiver_count(), 1, "the stream is the receiver");
    /// drop(stream);
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn new(rx: Receiver<T>) -> BroadcastStream<T> {
        BroadcastStream { rx, key: None }
    }
}

impl<T: Clone> Stream for BroadcastStream<T> {
    type Item = Result<T, BroadcastStreamRecvError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        broadcast::poll_recv(&mut this.rx, &mut this.key, cx).map(|r| match r {
            Ok(v) => Some(Ok(v)),
            Err(RecvError::Lagged(n)) => Some(Err(BroadcastStreamRecvError::Lagged(n))),
            Err(RecvError::Closed) => None,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

impl<T> Drop for BroadcastStream<T> {
    fn drop(&mut self) {
        broadcast::leave(&self.rx, &mut self.key);
    }
}

impl<T> fmt::Debug for BroadcastStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastStream")
            .field("rx", &self.rx)
            .finish()
    }
}

impl fmt::Display for BroadcastStreamRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastStreamRecvError::Lagged(n) => {
                write!(f, "receiver lagged behind by {n} values")
            }
        }
    }
}

impl std::error::Error for BroadcastStreamRecvError {}
