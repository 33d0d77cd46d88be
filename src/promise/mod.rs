//! Promises: values that will exist later, with callbacks chained to them, awaitable by tasks.
//!
//! A [`Promise<T, E>`] is the consumer's side of a result that is not there yet, in the spirit of
//! Twisted's `Deferred` and JavaScript's `Promise`; its [`Resolver<T, E>`] is the producer's side.
//! The producer settles it once: [`resolve`](Resolver::resolve)d with a `T` or
//! [`reject`](Resolver::reject)ed with an `E`. The consumer chains callbacks
//! ([`then`](Promise::then), [`catch`](Promise::catch), [`map`](Promise::map),
//! [`finally`](Promise::finally), ...) or `.await`s it.
//!
//! ```
//! use evloop::promise::Promise;
//! use evloop::EventLoop;
//! use std::time::Duration;
//!
//! let lp = EventLoop::new()?;
//! let (promise, resolver) = Promise::<u32, String>::new();
//! lp.call_later(Duration::from_millis(1), move |_| {
//!     resolver.resolve(20).unwrap();
//! });
//! let doubled = promise
//!     .then(|n| Ok(n + 1)) // a value ...
//!     .then(|n| Promise::resolved(n * 2)); // ... or another promise: chains flatten
//! assert_eq!(lp.block_on(doubled), Ok(42));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Callbacks and coroutines
//!
//! The bridge goes both ways: a `Promise` is a [`Future`] (`promise.await` gives
//! `Result<T, PromiseError<E>>`), and any future becomes a promise with [`Promise::from_future`]
//! (spawned as a task on the current loop). The combinators of this module ([`join_all`],
//! [`try_join_all`], [`race`], [`select`], [`all_settled`]) take any futures, promises included.
//!
//! # Delivery through the loop
//!
//! Chained callbacks never run inside [`resolve`](Resolver::resolve) nor inside the call that
//! attaches them, even to a promise that is already settled: settling queues one loop callback
//! ([`Handle::call_soon`]) that delivers the outcome. So the code after `.then(...)` always runs
//! before the callback, and a long chain cannot grow the stack. Callbacks attached to the same
//! promise run in attachment order: the observers ([`on_settled`](Promise::on_settled)), then the
//! one consumer (a chained callback, or the task awaiting it). Deliveries for different promises
//! are queued in the order they become due (when the promise is settled, or when a callback is
//! attached to a promise settled already), so two chains settled one after the other advance in
//! step, link by link, like JavaScript's microtasks.
//!
//! # Ownership
//!
//! A `Promise` has one consumer: chaining methods take it by value and return the next promise;
//! any number of observers may look at the outcome by reference first. Dropping a pending promise
//! *detaches* it (its producer keeps running, and a later failure is reported as below); it does
//! not cancel it. To cancel, call [`Promise::cancel`], or wrap it with
//! [`Promise::cancel_on_drop`] to make dropping cancel, as Rust futures do.
//!
//! # Failure
//!
//! A promise fails with a [`PromiseError<E>`]: [`Rejected(E)`](PromiseError::Rejected) from its
//! producer, or [`Cancelled`](PromiseError::Cancelled), [`TimedOut`](PromiseError::TimedOut) or
//! [`Dropped`](PromiseError::Dropped) (its resolver was dropped without settling it: a promise that
//! can never settle fails rather than hanging its consumers).
//!
//! A promise that was rejected or timed out and whose failure nobody observed (no callback
//! attached, never awaited to the end) is reported to the loop's error hook as
//! [`LoopError::UnobservedRejection`](crate::LoopError::UnobservedRejection), exactly once: when
//! its `Promise` is dropped after the failure, or when it fails after its `Promise` was dropped.
//! The report is delivered from a loop callback, never from inside a `drop`. Along a chain, each
//! link hands its failure to the next, so only the end of the chain is reported. Cancellation and
//! dropped resolvers are not reported: the first was asked for, the second follows teardown or a
//! panic that was reported already. The report carries the error's `Debug` text, which is why
//! promise constructors require `E: Debug`.
//!
//! # Threads
//!
//! Promises are not `Send`: they live on their loop's thread. A producer on another thread uses a
//! [`RemoteResolver`] (see [`Resolver::into_remote`]).

use std::fmt;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::event_loop::Handle;

mod cancel_on_drop;
mod chain;
mod error;
mod join;
mod race;
mod remote;
mod resolver;
mod state;
mod timeout;

pub use cancel_on_drop::CancelOnDrop;
pub use chain::IntoPromise;
pub use error::{AlreadySettled, PromiseError};
pub use join::{all_settled, join_all, try_join_all, JoinAll, TryJoinAll};
pub use race::{race, select, Either, Race, Select};
pub use remote::RemoteResolver;
pub use resolver::Resolver;

use state::{Outcome, State};

/// A result that will be available later; see the [module documentation](self).
///
/// Awaiting it yields `Ok(T)` or `Err(PromiseError<E>)`. A promise is eager: its producer runs
/// and its callbacks are delivered whether or not anyone keeps the `Promise` (dropping it
/// detaches it), so, unlike a future, it is not `#[must_use]`.
///
/// ```
/// use evloop::promise::Promise;
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// let (promise, resolver) = Promise::<u32, String>::new();
/// lp.call_later(Duration::from_millis(1), move |_| resolver.resolve(20).unwrap());
/// // Chain callbacks (Twisted's or JavaScript's style) ...
/// let doubled = promise.map(|v| v * 2);
/// // ... or await it from a coroutine.
/// assert_eq!(lp.block_on(doubled), Ok(40));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Promise<T, E> {
    state: Rc<State<T, E>>,
}

/// Creates a pending promise and its resolver, on the current loop; the same as [`Promise::new`].
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```
/// use evloop::promise::pending;
///
/// let lp = evloop::EventLoop::new()?;
/// let (promise, resolver) = pending::<u8, ()>();
/// resolver.resolve(5).unwrap();
/// assert_eq!(lp.block_on(promise), Ok(5));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pending<T: 'static, E: Debug + 'static>() -> (Promise<T, E>, Resolver<T, E>) {
    Promise::new()
}

impl<T: 'static, E: Debug + 'static> Promise<T, E> {
    /// Creates a pending promise and the resolver that settles it, on the current loop.
    ///
    /// # Panics
    ///
    /// If this thread has no event loop.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<&str, ()>::new();
    /// resolver.resolve("done").unwrap();
    /// assert!(resolver.resolve("again").is_err()); // settled once, an error value after that
    /// assert_eq!(lp.block_on(promise), Ok("done"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> (Promise<T, E>, Resolver<T, E>) {
        Self::new_in(&Handle::current())
    }

    pub(crate) fn new_in(handle: &Handle) -> (Promise<T, E>, Resolver<T, E>) {
        let state = State::new(handle.clone());
        (
            Promise {
                state: state.clone(),
            },
            Resolver::new(state),
        )
    }

    /// Like [`Promise::new`], with a canceller: `canceller` runs (once) if [`Promise::cancel`] is
    /// called while the promise is pending, after the promise has failed with
    /// [`PromiseError::Cancelled`]. It is dropped unused if the promise settles otherwise. This is
    /// Twisted's `Deferred(canceller)`.
    ///
    /// # Panics
    ///
    /// If this thread has no event loop.
    ///
    /// ```
    /// use evloop::promise::{Promise, PromiseError};
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let timer = lp.call_later(Duration::from_secs(60), |_| {});
    /// let h = lp.handle().clone();
    /// let (promise, _resolver) = Promise::<(), ()>::with_canceller(move || {
    ///     h.cancel_timer(timer); // stop the work the promise stands for
    /// });
    /// assert!(promise.cancel());
    /// assert_eq!(lp.block_on(promise), Err(PromiseError::Cancelled));
    /// assert!(!lp.timer_is_live(timer));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_canceller<F>(canceller: F) -> (Promise<T, E>, Resolver<T, E>)
    where
        F: FnOnce() + 'static,
    {
        let (promise, resolver) = Self::new();
        promise.state.set_canceller(Box::new(canceller));
        (promise, resolver)
    }

    /// A promise already resolved with `value`. Callbacks chained to it still run from the loop's
    /// queue, never inline.
    ///
    /// # Panics
    ///
    /// If this thread has no event loop.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let cached = Promise::<&str, ()>::resolved("from the cache");
    /// assert_eq!(lp.block_on(cached), Ok("from the cache"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn resolved(value: T) -> Promise<T, E> {
        Self::settled_in(&Handle::current(), Ok(value))
    }

    /// A promise already rejected with `error`.
    ///
    /// # Panics
    ///
    /// If this thread has no event loop.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let failed = Promise::<(), &str>::rejected("bad input");
    /// assert!(lp.block_on(failed).unwrap_err().is_rejected());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn rejected(error: E) -> Promise<T, E> {
        Self::settled_in(&Handle::current(), Err(PromiseError::Rejected(error)))
    }

    pub(crate) fn settled_in(handle: &Handle, outcome: Outcome<T, E>) -> Promise<T, E> {
        let (promise, resolver) = Self::new_in(handle);
        let _ = resolver.settle(outcome);
        promise
    }

    /// Runs `future` as a task on the current loop and returns a promise of its output: `Ok(v)`
    /// resolves it, `Err(e)` rejects it with `e`. It starts in a later turn, whether or not the
    /// promise is used; cancelling the promise aborts the task (its future is dropped).
    ///
    /// # Panics
    ///
    /// If this thread has no event loop.
    ///
    /// ```
    /// use evloop::promise::Promise;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let promise = Promise::from_future(async {
    ///     evloop::time::sleep(Duration::from_millis(1)).await;
    ///     "42".parse::<u32>()
    /// });
    /// assert_eq!(lp.block_on(promise.map(|n| n + 1)), Ok(43));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_future<F>(future: F) -> Promise<T, E>
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        Self::from_coroutine(async move { future.await.map_err(PromiseError::Rejected) })
    }

    /// Like [`Promise::from_future`], for a coroutine that fails with a [`PromiseError`] itself
    /// (Twisted's `Deferred.fromCoroutine`): a failure of a promise it awaits, cancellation and
    /// timeouts included, passes through unchanged, and `?` also accepts plain `Result<_, E>`s.
    /// Because `?` accepts both, name the types (`Promise::<T, E>::from_coroutine`) where nothing
    /// else tells the compiler what `E` is.
    ///
    /// # Panics
    ///
    /// If this thread has no event loop.
    ///
    /// ```
    /// use evloop::promise::{Promise, PromiseError};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let a = Promise::<u32, String>::resolved(1);
    /// let b = Promise::<u32, String>::rejected("no b".into());
    /// let sum = Promise::from_coroutine(async move { Ok(a.await? + b.await?) });
    /// assert_eq!(lp.block_on(sum), Err(PromiseError::Rejected("no b".to_string())));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_coroutine<F>(future: F) -> Promise<T, E>
    where
        F: Future<Output = Result<T, PromiseError<E>>> + 'static,
    {
        let handle = Handle::current();
        let (promise, resolver) = Self::new_in(&handle);
        let task = handle.spawn(async move {
            let outcome = future.await;
            let _ = resolver.settle(outcome);
        });
        // Settling drops this canceller, which detaches the (finished) task.
        promise.state.set_canceller(Box::new(move || task.abort()));
        promise
    }
}

impl<T, E> Promise<T, E> {
    /// Whether the promise is settled (resolved, rejected, cancelled, timed out or dropped). Its
    /// callbacks may not have run yet: they run from the loop's queue.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<u8, ()>::new();
    /// assert!(!promise.is_settled());
    /// resolver.resolve(1).unwrap();
    /// assert!(promise.is_settled()); // its callbacks still wait for the loop
    /// assert_eq!(lp.block_on(promise), Ok(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_settled(&self) -> bool {
        !self.state.is_pending()
    }

    /// Cancels a pending promise: it fails with [`PromiseError::Cancelled`], then its canceller
    /// runs (see [`Promise::with_canceller`]), then what it waits on is cancelled in turn (the
    /// promise it was chained to, or the one its callback returned). Returns whether it was
    /// pending; cancelling a settled promise does nothing.
    ///
    /// The canceller runs inside this call, like Twisted's; the promise's callbacks run later, from
    /// the loop's queue.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<(), ()>::new();
    /// assert!(promise.cancel());
    /// assert!(!promise.cancel(), "settled already");
    /// assert!(resolver.resolve(()).is_err(), "too late");
    /// assert!(lp.block_on(promise).unwrap_err().is_cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.state.cancel()
    }

    /// Runs `f` with a reference to the outcome once the promise is settled, from a loop callback.
    /// Any number of observers may be attached; they run in attachment order, before the
    /// promise's consumer (a chained callback or an awaiting task). An observer counts as
    /// observing a failure. A panic in `f` goes to the loop's error hook; the other callbacks still
    /// run.
    ///
    /// # Panics
    ///
    /// If the promise was already awaited to completion (its outcome is gone).
    ///
    /// ```
    /// use evloop::promise::Promise;
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let promise = Promise::<u8, ()>::resolved(7);
    /// for tag in ["a", "b"] {
    ///     let seen = seen.clone();
    ///     promise.on_settled(move |r| seen.borrow_mut().push(format!("{tag}: {r:?}")));
    /// }
    /// assert_eq!(lp.block_on(promise), Ok(7));
    /// assert_eq!(*seen.borrow(), ["a: Ok(7)", "b: Ok(7)"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_settled<F>(&self, f: F)
    where
        F: FnOnce(&Result<T, PromiseError<E>>) + 'static,
    {
        self.state.observe(Box::new(f));
    }

    /// The loop this promise delivers on.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let promise = Promise::<u8, ()>::resolved(1);
    /// // Follow-up work goes to the loop that delivers the promise.
    /// promise.handle().call_soon(|_| println!("after the promise"));
    /// assert_eq!(lp.block_on(promise), Ok(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> Handle {
        self.state.handle()
    }
}

impl<T, E> Future for Promise<T, E> {
    type Output = Result<T, PromiseError<E>>;

    /// # Panics
    ///
    /// If polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.state.poll_take(cx)
    }
}

impl<T, E> Drop for Promise<T, E> {
    fn drop(&mut self) {
        self.state.promise_dropped();
    }
}

impl<T, E> fmt::Debug for Promise<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Promise")
            .field("state", &self.state.stage_name())
            .finish()
    }
}
