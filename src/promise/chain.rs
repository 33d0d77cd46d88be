//! Chaining: `then`, `catch`, `map`, `map_err`, `finally`, and `IntoPromise`, what callbacks return.
//!
//! Every chaining method consumes its promise, makes it the *source* of a new *derived* promise and
//! returns the derived one. The source's outcome reaches the callback from a loop callback; the
//! callback's result settles the derived promise (at once for a value, when it settles for a
//! promise). Cancelling the derived promise cancels what it waits on: the source while it is
//! pending, afterwards the promise the callback returned.

use std::fmt::Debug;

use super::state::Outcome;
use super::{Promise, PromiseError, Resolver};

/// What a [`then`](Promise::then) or [`catch`](Promise::catch) callback may return: an outcome,
/// known now, or a promise of one, which the chain waits for (chains flatten).
///
/// It is implemented for:
///
/// - `Result<T, PromiseError<E>>`: `Ok(v)` continues with `v`, `Err(e)` fails the chain with `e`.
///   Thanks to `From<E> for PromiseError<E>`, `?` works on plain `Result<_, E>`s inside the
///   callback, and a `catch` callback can pass a failure on unchanged with `Err(e)`;
/// - [`Promise<T, E>`]: the chain continues with its outcome once it settles.
///
/// One method taking either reads like JavaScript's `then`, without a separate `and_then` /
/// `then_promise` pair.
///
/// ```
/// use evloop::promise::{Promise, PromiseError};
///
/// let lp = evloop::EventLoop::new()?;
/// // A value known now ...
/// let now = Promise::<u8, ()>::resolved(1).then(|n| Ok::<_, PromiseError<()>>(n + 1));
/// // ... or a promise of one: the chain waits for it.
/// let later = Promise::<u8, ()>::resolved(1).then(|n| Promise::resolved(n + 1));
/// assert_eq!(lp.block_on(now), Ok(2));
/// assert_eq!(lp.block_on(later), Ok(2));
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait IntoPromise: Sized {
    /// The success type.
    type Value: 'static;
    /// The rejection type.
    type Error: Debug + 'static;

    /// Converts into a promise (on the current loop, for a value).
    ///
    /// # Panics
    ///
    /// If this thread has no event loop and a new promise is needed.
    ///
    /// ```
    /// use evloop::promise::{IntoPromise, PromiseError};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let promise = Ok::<u8, PromiseError<()>>(3).into_promise();
    /// assert_eq!(lp.block_on(promise), Ok(3));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn into_promise(self) -> Promise<Self::Value, Self::Error>;

    /// Settles `resolver` with this outcome: now if it is known, else once it is. The default
    /// goes through [`IntoPromise::into_promise`].
    ///
    /// ```
    /// use evloop::promise::{IntoPromise, Promise};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<u8, ()>::new();
    /// Promise::<u8, ()>::resolved(7).settle_into(resolver); // forwards the outcome
    /// assert_eq!(lp.block_on(promise), Ok(7));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn settle_into(self, resolver: Resolver<Self::Value, Self::Error>) {
        self.into_promise().forward_to(resolver);
    }
}

impl<T: 'static, E: Debug + 'static> IntoPromise for Result<T, PromiseError<E>> {
    type Value = T;
    type Error = E;

    fn into_promise(self) -> Promise<T, E> {
        Promise::settled_in(&crate::Handle::current(), self)
    }

    fn settle_into(self, resolver: Resolver<T, E>) {
        let _ = resolver.settle(self);
    }
}

impl<T: 'static, E: Debug + 'static> IntoPromise for Promise<T, E> {
    type Value = T;
    type Error = E;

    fn into_promise(self) -> Promise<T, E> {
        self
    }

    fn settle_into(self, resolver: Resolver<T, E>) {
        self.forward_to(resolver);
    }
}

impl<T: 'static, E: Debug + 'static> Promise<T, E> {
    /// Makes `self` the source of a new promise on the same loop: `f` gets the source's outcome
    /// from a loop callback, and the new promise's resolver.
    fn chain<U, E2, F>(self, f: F) -> Promise<U, E2>
    where
        U: 'static,
        E2: Debug + 'static,
        F: FnOnce(Outcome<T, E>, Resolver<U, E2>) + 'static,
    {
        let (derived, resolver) = Promise::new_in(&self.state.handle());
        resolver.state().set_upstream(self.state.cancel_link());
        self.state
            .subscribe(Box::new(move |outcome| f(outcome, resolver)));
        derived
    }

    /// Settles `resolver` with this promise's outcome once it settles, and makes cancelling
    /// `resolver`'s promise cancel this one.
    pub(crate) fn forward_to(self, resolver: Resolver<T, E>) {
        if resolver.is_settled() {
            // Nobody wants this outcome any more (the target was cancelled or timed out).
            self.cancel();
            return;
        }
        resolver.state().set_upstream(self.state.cancel_link());
        self.state.subscribe(Box::new(move |outcome| {
            let _ = resolver.settle(outcome);
        }));
    }

    /// On success, continues with what `f` returns: `Ok(value)`, `Err(failure)`, or another
    /// promise, whose outcome the returned promise then takes (chains flatten). A failure skips
    /// `f` and passes on unchanged.
    ///
    /// `f` runs from a loop callback, never inside this call or inside `resolve`. Returning a
    /// plain value that cannot fail is what [`Promise::map`] is for.
    ///
    /// ```
    /// use evloop::promise::{Promise, PromiseError};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let p = Promise::<&str, std::num::ParseIntError>::resolved("20")
    ///     .then(|s| Ok(s.parse::<u32>()?)) // `?` rejects with the ParseIntError
    ///     .then(|n| Promise::resolved(n + 1)) // a promise: the chain waits for it
    ///     .then(|n| if n > 100 { Err(PromiseError::Cancelled) } else { Ok(n * 2) });
    /// assert_eq!(lp.block_on(p), Ok(42));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "and_then")]
    pub fn then<R, F>(self, f: F) -> Promise<R::Value, E>
    where
        R: IntoPromise<Error = E>,
        F: FnOnce(T) -> R + 'static,
    {
        self.chain(move |outcome, resolver| match outcome {
            Ok(v) => f(v).settle_into(resolver),
            Err(e) => {
                let _ = resolver.settle(Err(e));
            }
        })
    }

    /// On failure, recovers with what `f` returns: `Ok(value)`, `Err(failure)` (for example the
    /// same one, to pass it on) or another promise. A success skips `f` and passes on unchanged.
    /// `f` sees every failure, [`Cancelled`](PromiseError::Cancelled) and the others included.
    ///
    /// The error type stays `E`; change it with [`Promise::map_err`].
    ///
    /// ```
    /// use evloop::promise::{Promise, PromiseError};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let p = Promise::<u32, String>::rejected("offline".into()).catch(|e| match e {
    ///     PromiseError::Rejected(msg) if msg == "offline" => Ok(0), // use a default
    ///     other => Err(other),
    /// });
    /// assert_eq!(lp.block_on(p), Ok(0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "or_else")]
    pub fn catch<R, F>(self, f: F) -> Promise<T, E>
    where
        R: IntoPromise<Value = T, Error = E>,
        F: FnOnce(PromiseError<E>) -> R + 'static,
    {
        self.chain(move |outcome, resolver| match outcome {
            Ok(v) => {
                let _ = resolver.settle(Ok(v));
            }
            Err(e) => f(e).settle_into(resolver),
        })
    }

    /// On success, continues with `f(value)`.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let len = Promise::<&str, ()>::resolved("hello").map(|s| s.len());
    /// assert_eq!(lp.block_on(len), Ok(5));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn map<U, F>(self, f: F) -> Promise<U, E>
    where
        U: 'static,
        F: FnOnce(T) -> U + 'static,
    {
        self.chain(move |outcome, resolver| {
            let _ = resolver.settle(outcome.map(f));
        })
    }

    /// On rejection, continues with the error `f(error)`; the other failures pass on unchanged.
    ///
    /// ```
    /// use evloop::promise::{Promise, PromiseError};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let p = Promise::<u8, u16>::rejected(404).map_err(|code| format!("status {code}"));
    /// assert_eq!(lp.block_on(p), Err(PromiseError::Rejected("status 404".to_string())));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn map_err<E2, F>(self, f: F) -> Promise<T, E2>
    where
        E2: Debug + 'static,
        F: FnOnce(E) -> E2 + 'static,
    {
        self.chain(move |outcome, resolver| {
            let _ = resolver.settle(outcome.map_err(|e| e.map(f)));
        })
    }

    /// Runs `f` once the promise settles, whichever way, and passes the outcome on unchanged.
    ///
    /// ```
    /// use evloop::promise::Promise;
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let closed = Rc::new(Cell::new(false));
    /// let c = closed.clone();
    /// let p = Promise::<(), &str>::rejected("boom").finally(move || c.set(true));
    /// assert!(lp.block_on(p).is_err());
    /// assert!(closed.get());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn finally<F>(self, f: F) -> Promise<T, E>
    where
        F: FnOnce() + 'static,
    {
        self.chain(move |outcome, resolver| {
            f();
            let _ = resolver.settle(outcome);
        })
    }
}
