//! Waiting for many futures: `join_all` (JavaScript's `Promise.all` / asyncio's `gather`),
//! `try_join_all` and `all_settled`.
//!
//! The futures are polled in place, in input order, each time the combinator is woken (so a wake
//! costs one poll of each future still pending). Building one allocates the state vector and boxes
//! each future once, to pin it without `unsafe`; polling allocates nothing, and completing
//! allocates the result vector.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

enum Slot<F: Future> {
    Pending(Pin<Box<F>>),
    Done(F::Output),
    Taken,
}

impl<F: Future> Slot<F> {
    fn take(&mut self) -> Option<F::Output> {
        match mem::replace(self, Slot::Taken) {
            Slot::Done(v) => Some(v),
            _ => None,
        }
    }
}

fn slots<I>(futures: I) -> Vec<Slot<I::Item>>
where
    I: IntoIterator,
    I::Item: Future,
{
    futures
        .into_iter()
        .map(|f| Slot::Pending(Box::pin(f)))
        .collect()
}

/// Waits for all of `futures` and returns their outputs in input order, whatever order they
/// finish in. An empty input completes at once with an empty vector.
///
/// With promises, the output is one `Result` per promise: nothing short-circuits (see
/// [`try_join_all`] for that).
///
/// ```
/// use evloop::promise::{join_all, Promise};
/// use evloop::time::sleep;
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// let out = lp.block_on(join_all((1..=3u64).map(|i| async move {
///     sleep(Duration::from_millis(4 - i)).await; // the last one finishes first
///     i * 10
/// })));
/// assert_eq!(out, [10, 20, 30]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "gather")]
pub fn join_all<I>(futures: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let slots = slots(futures);
    JoinAll {
        pending: slots.len(),
        slots,
        done: false,
    }
}

/// Waits for all of `futures`, which may fail, and returns every outcome in input order: like
/// [`join_all`] (which it is), named after JavaScript's `Promise.allSettled` for code that wants
/// to say it handles each failure.
///
/// ```
/// use evloop::promise::{all_settled, Promise, PromiseError};
///
/// let lp = evloop::EventLoop::new()?;
/// let out = lp.block_on(all_settled([
///     Promise::<u8, &str>::resolved(1),
///     Promise::rejected("no"),
/// ]));
/// assert_eq!(out, [Ok(1), Err(PromiseError::Rejected("no"))]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn all_settled<I, T, E>(futures: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    join_all(futures)
}

/// The future returned by [`join_all`] and [`all_settled`].
///
/// ```
/// use evloop::promise::{join_all, Promise};
///
/// let lp = evloop::EventLoop::new()?;
/// let all = join_all([Promise::<u8, ()>::resolved(1), Promise::resolved(2)]);
/// assert_eq!(lp.block_on(all), [Ok(1), Ok(2)]); // in the order given
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct JoinAll<F: Future> {
    slots: Vec<Slot<F>>,
    pending: usize,
    done: bool,
}

// The futures are boxed and the outputs are never pinned, so nothing is pinned through `JoinAll`.
impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = self.get_mut();
        assert!(!this.done, "evloop: JoinAll polled after it completed");
        for slot in &mut this.slots {
            if let Slot::Pending(f) = slot {
                if let Poll::Ready(v) = f.as_mut().poll(cx) {
                    *slot = Slot::Done(v);
                    this.pending -= 1;
                }
            }
        }
        if this.pending > 0 {
            return Poll::Pending;
        }
        let out = this
            .slots
            .iter_mut()
            .map(|s| s.take().expect("every slot is done"))
            .collect();
        this.slots = Vec::new();
        this.done = true;
        Poll::Ready(out)
    }
}

impl<F: Future> fmt::Debug for JoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinAll")
            .field("len", &self.slots.len())
            .field("pending", &self.pending)
            .finish()
    }
}

/// Waits for all of `futures` to succeed and returns their values in input order, or the first
/// failure (in completion order). On a failure the futures still pending are dropped at once
/// (which cancels a future; a [`Promise`](super::Promise) is detached unless wrapped with
/// [`cancel_on_drop`](super::Promise::cancel_on_drop)), and the values already produced are
/// dropped.
///
/// ```
/// use evloop::promise::{try_join_all, Promise, PromiseError};
///
/// let lp = evloop::EventLoop::new()?;
/// let (never, _resolver) = Promise::<u8, &str>::new();
/// let out = lp.block_on(try_join_all([
///     Promise::resolved(1),
///     never,
///     Promise::rejected("bad"),
/// ]));
/// assert_eq!(out, Err(PromiseError::Rejected("bad")));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn try_join_all<I, T, E>(futures: I) -> TryJoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    let slots = slots(futures);
    TryJoinAll {
        pending: slots.len(),
        slots,
        done: false,
    }
}

/// The future returned by [`try_join_all`].
///
/// ```
/// use evloop::promise::try_join_all;
/// use std::future::ready;
///
/// let lp = evloop::EventLoop::new()?;
/// let ok = try_join_all([ready(Ok::<u8, &str>(1)), ready(Ok(2))]);
/// assert_eq!(lp.block_on(ok), Ok(vec![1, 2]));
/// let failed = try_join_all([ready(Ok(1)), ready(Err("bad"))]);
/// assert_eq!(lp.block_on(failed), Err("bad"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct TryJoinAll<F: Future> {
    slots: Vec<Slot<F>>,
    pending: usize,
    done: bool,
}

// As for `JoinAll`: nothing is pinned through it.
impl<F: Future> Unpin for TryJoinAll<F> {}

impl<F, T, E> Future for TryJoinAll<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<T>, E>> {
        let this = self.get_mut();
        assert!(!this.done, "evloop: TryJoinAll polled after it completed");
        for i in 0..this.slots.len() {
            let Slot::Pending(f) = &mut this.slots[i] else {
                continue;
            };
            match f.as_mut().poll(cx) {
                Poll::Pending => {}
                Poll::Ready(Ok(v)) => {
                    this.slots[i] = Slot::Done(Ok(v));
                    this.pending -= 1;
                }
                Poll::Ready(Err(e)) => {
                    // Short-circuit: drop the rest now, not when this future is dropped.
                    this.slots = Vec::new();
                    this.done = true;
                    return Poll::Ready(Err(e));
                }
            }
        }
        if this.pending > 0 {
            return Poll::Pending;
        }
        let out = this
            .slots
            .iter_mut()
            .map(|s| match s.take() {
                Some(Ok(v)) => v,
                _ => unreachable!("every slot is done with a value"),
            })
            .collect();
        this.slots = Vec::new();
        this.done = true;
        Poll::Ready(Ok(out))
    }
}

impl<F: Future> fmt::Debug for TryJoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryJoinAll")
            .field("len", &self.slots.len())
            .field("pending", &self.pending)
            .finish()
    }
}
