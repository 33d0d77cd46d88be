//! `CancelOnDrop`: a promise that is cancelled when dropped, as Rust futures are.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Promise, PromiseError};

impl<T, E> Promise<T, E> {
    /// Wraps the promise so that dropping it while pending cancels it (see [`Promise::cancel`])
    /// instead of detaching it. Useful with [`race`](super::race) and
    /// [`try_join_all`](super::try_join_all), which drop the futures they no longer need.
    ///
    /// ```
    /// use evloop::promise::{race, Promise};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (slow, resolver) = Promise::<u8, ()>::new();
    /// let fast = Promise::<u8, ()>::resolved(1);
    /// let winner = lp.block_on(race([slow.cancel_on_drop(), fast.cancel_on_drop()]));
    /// assert_eq!(winner, Ok(1));
    /// assert!(resolver.is_settled()); // the loser was cancelled
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel_on_drop(self) -> CancelOnDrop<T, E> {
        CancelOnDrop { promise: self }
    }
}

/// A [`Promise`] that is cancelled if dropped while pending; see [`Promise::cancel_on_drop`].
///
/// ```
/// use evloop::promise::Promise;
///
/// let _lp = evloop::EventLoop::new()?;
/// let (promise, resolver) = Promise::<u8, ()>::new();
/// let guarded = promise.cancel_on_drop();
/// drop(guarded);
/// assert!(resolver.is_settled()); // cancelled, not detached
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "dropping it cancels the promise"]
pub struct CancelOnDrop<T, E> {
    promise: Promise<T, E>,
}

impl<T, E> CancelOnDrop<T, E> {
    /// The promise.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let guarded = Promise::<u8, ()>::resolved(1).cancel_on_drop();
    /// assert!(guarded.promise().is_settled());
    /// assert_eq!(lp.block_on(guarded), Ok(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn promise(&self) -> &Promise<T, E> {
        &self.promise
    }
}

impl<T, E> Future for CancelOnDrop<T, E> {
    type Output = Result<T, PromiseError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.promise).poll(cx)
    }
}

impl<T, E> Drop for CancelOnDrop<T, E> {
    fn drop(&mut self) {
        self.promise.cancel();
    }
}

impl<T, E> fmt::Debug for CancelOnDrop<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CancelOnDrop").field(&self.promise).finish()
    }
}
