//! `WatchStream`: a watch receiver as a `Stream` of the latest value.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::sync::watch::{self, Receiver};

/// A [`watch::Receiver`] as a [`Stream`] of the latest value: a clone of the value each time it
/// has a version the receiver has not seen, values in between skipped. Ends once the sender is
/// gone and its last value has been yielded. The shape of tokio-stream's `WatchStream`:
/// [`WatchStream::new`] yields the current value first, [`WatchStream::from_changes`] only the
/// changes.
///
/// ```
/// use evloop::interop::WatchStream;
/// use evloop::sync::watch;
/// use futures_core::Stream;
/// use std::future::poll_fn;
/// use std::pin::Pin;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, rx) = watch::channel("starting");
///     let mut states = WatchStream::new(rx);
///     assert_eq!(next(&mut states).await, Some("starting"));
///     tx.send("running").unwrap();
///     tx.send("stopped").unwrap(); // only the latest counts
///     assert_eq!(next(&mut states).await, Some("stopped"));
///     drop(tx);
///     assert_eq!(next(&mut states).await, None);
/// });
///
/// async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
///     poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct WatchStream<T> {
    rx: Receiver<T>,
    /// The waiter slot of the wait in progress, as `Changed` keeps one.
    key: Option<usize>,
    /// Yield the current value before waiting for a change.
    current_first: bool,
}

impl<T> WatchStream<T> {
    /// A stream that yields the current value at once, then each change.
    ///
    /// ```
    /// use evloop::interop::WatchStream;
    /// use evloop::sync::watch;
    /// use futures_core::Stream;
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (_tx, rx) = watch::channel(5);
    ///     let mut stream = WatchStream::new(rx);
    ///     let first = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
    ///     assert_eq!(first, Some(5), "the current value, at once");
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(rx: Receiver<T>) -> WatchStream<T> {
        WatchStream {
            rx,
            key: None,
            current_first: true,
        }
    }

    /// A stream that yields only changes: the first item is the first value this receiver has
    /// not seen.
    ///
    /// ```
    /// use evloop::interop::WatchStream;
    /// use evloop::sync::watch;
    /// use futures_core::Stream;
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, rx) = watch::channel(5);
    ///     let mut stream = WatchStream::from_changes(rx);
    ///     evloop::spawn(async move { tx.send(6).unwrap() });
    ///     let first = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
    ///     assert_eq!(first, Some(6), "the first change, not the value it started with");
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_changes(rx: Receiver<T>) -> WatchStream<T> {
        WatchStream {
            rx,
            key: None,
            current_first: false,
        }
    }
}

impl<T: Clone> Stream for WatchStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if std::mem::take(&mut this.current_first) {
            return Poll::Ready(Some(this.rx.borrow_and_update().clone()));
        }
        watch::poll_changed(&mut this.rx, &mut this.key, cx)
            .map(|changed| changed.ok().map(|()| this.rx.borrow_and_update().clone()))
    }
}

impl<T> Drop for WatchStream<T> {
    fn drop(&mut self) {
        watch::leave_changed(&self.rx, &mut self.key);
    }
}

impl<T> fmt::Debug for WatchStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream").field("rx", &self.rx).finish()
    }
}
