//! `Resolver`: the producer's side of a promise.

use std::fmt;
use std::rc::Rc;

use super::state::{Outcome, State};
use super::{AlreadySettled, PromiseError};

/// Settles its [`Promise`](super::Promise), once.
///
/// Settling never runs the promise's callbacks inline: they are queued on the loop. A second
/// attempt, or one after the promise was cancelled or timed out, returns [`AlreadySettled`] and
/// drops the value; it never panics.
///
/// **Dropping a resolver that has not settled its promise rejects the promise with
/// [`PromiseError::Dropped`]**, so that consumers are told instead of waiting forever (the usual
/// cause is a panic in the code that was to settle it). Such failures are not reported to the
/// error hook.
///
/// A `Resolver` is not `Send`: it settles its promise on the loop's thread. To settle from another
/// thread, convert it with [`Resolver::into_remote`].
///
/// ```
/// use evloop::promise::{Promise, PromiseError};
///
/// let lp = evloop::EventLoop::new()?;
/// let (promise, resolver) = Promise::<u8, ()>::new();
/// drop(resolver); // the consumer is told rather than left waiting
/// assert_eq!(lp.block_on(promise), Err(PromiseError::Dropped));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Resolver<T, E> {
    /// `None` only inside `drop`, which takes it out to dispose of it.
    state: Option<Rc<State<T, E>>>,
}

impl<T, E> Resolver<T, E> {
    pub(crate) fn new(state: Rc<State<T, E>>) -> Self {
        Resolver { state: Some(state) }
    }

    pub(crate) fn state(&self) -> &Rc<State<T, E>> {
        self.state
            .as_ref()
            .expect("evloop: resolver used while it is dropped")
    }

    /// Resolves the promise with `value`.
    ///
    /// # Errors
    ///
    /// [`AlreadySettled`] if the promise was settled already (`value` is dropped).
    ///
    /// ```
    /// use evloop::promise::Promise;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<u32, String>::new();
    /// // A callback API settles the promise; a coroutine awaits it.
    /// lp.call_later(Duration::from_millis(1), move |_| resolver.resolve(42).unwrap());
    /// assert_eq!(lp.block_on(promise), Ok(42));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn resolve(&self, value: T) -> Result<(), AlreadySettled> {
        self.settle(Ok(value))
    }

    /// Rejects the promise with `error`: it fails with [`PromiseError::Rejected`].
    ///
    /// # Errors
    ///
    /// [`AlreadySettled`] if the promise was settled already (`error` is dropped).
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<u32, &str>::new();
    /// resolver.reject("not found").unwrap();
    /// let err = lp.block_on(promise).unwrap_err();
    /// assert_eq!(err.rejected(), Some(&"not found"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reject(&self, error: E) -> Result<(), AlreadySettled> {
        self.settle(Err(PromiseError::Rejected(error)))
    }

    /// Settles the promise with an outcome (for forwarding one promise's outcome to another).
    pub(crate) fn settle(&self, outcome: Outcome<T, E>) -> Result<(), AlreadySettled> {
        // The canceller and upstream link are dropped unused: the promise was not cancelled.
        self.state().settle(outcome).map(drop)
    }

    /// Whether the promise is settled: by this resolver, or because it was cancelled or timed out.
    /// A producer doing long work may check it to stop early.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<u8, ()>::new();
    /// assert!(!resolver.is_settled());
    /// promise.cancel(); // the consumer gave up: the producer may stop
    /// assert!(resolver.is_settled());
    /// assert!(lp.block_on(promise).unwrap_err().is_cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_settled(&self) -> bool {
        !self.state().is_pending()
    }
}

impl<T, E> Drop for Resolver<T, E> {
    /// Rejects a pending promise with `Dropped`, then lets go of it through the loop's trash: the
    /// promise's callbacks may hold the next link's resolver, and so on down a chain of any
    /// length, which is dropped one link at a time instead of recursively.
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        if state.is_pending() {
            let _ = state.settle(Err(PromiseError::Dropped));
        }
        state.dispose();
    }
}

impl<T, E> fmt::Debug for Resolver<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("settled", &self.is_settled())
            .finish()
    }
}
