//! The first of several futures to finish: `race` (JavaScript's `Promise.race`) and `select`.
//!
//! The losers are dropped as soon as there is a winner, which cancels a future; a
//! [`Promise`](super::Promise) is detached unless wrapped with
//! [`cancel_on_drop`](super::Promise::cancel_on_drop). Futures are polled in input order, so when
//! several are ready in the same poll the first one wins. As in [`join_all`](super::join_all),
//! building boxes each future once; polling allocates nothing.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Waits for the first of `futures` to finish and returns its output; the others are dropped at
/// that moment.
///
/// # Panics
///
/// If `futures` is empty: there would be no winner, ever.
///
/// ```
/// use evloop::promise::race;
/// use evloop::time::sleep;
/// use std::time::Duration;
///
/// async fn after(ms: u64, tag: &str) -> &str {
///     sleep(Duration::from_millis(ms)).await;
///     tag
/// }
///
/// let lp = evloop::EventLoop::new()?;
/// let winner = lp.block_on(race([after(60_000, "slow"), after(1, "fast")]));
/// assert_eq!(winner, "fast"); // and the slow one's timer is gone with it
/// assert_eq!(lp.pending_counts().0, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn race<I>(futures: I) -> Race<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    assert!(!futures.is_empty(), "evloop: race of no futures");
    Race { futures }
}

/// The future returned by [`race`].
///
/// ```
/// use evloop::promise::race;
/// use std::future::{pending, ready, Future};
/// use std::pin::Pin;
///
/// let lp = evloop::EventLoop::new()?;
/// // Futures of different types race as boxed trait objects.
/// let contenders: Vec<Pin<Box<dyn Future<Output = u8>>>> =
///     vec![Box::pin(pending()), Box::pin(ready(2))];
/// assert_eq!(lp.block_on(race(contenders)), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Race<F> {
    futures: Vec<Pin<Box<F>>>,
}

impl<F: Future> Future for Race<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        assert!(
            !self.futures.is_empty(),
            "evloop: Race polled after it completed"
        );
        let ready = self
            .futures
            .iter_mut()
            .find_map(|f| match f.as_mut().poll(cx) {
                Poll::Ready(v) => Some(v),
                Poll::Pending => None,
            });
        match ready {
            Some(v) => {
                // The losers are dropped now, not when this future is.
                self.futures = Vec::new();
                Poll::Ready(v)
            }
            None => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Race<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Race")
            .field("len", &self.futures.len())
            .finish()
    }
}

/// One of two values: the output of [`select`].
///
/// ```
/// use evloop::promise::{select, Either};
/// use std::future::{pending, ready};
///
/// let lp = evloop::EventLoop::new()?;
/// let first = lp.block_on(select(pending::<u8>(), ready("done")));
/// assert_eq!(first, Either::Right("done"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Either<L, R> {
    /// The first future finished first.
    Left(L),
    /// The second future finished first.
    Right(R),
}

/// Waits for the first of two futures, of possibly different types, to finish; the other is
/// dropped at that moment. If both are ready in the same poll, `a` wins.
///
/// ```
/// use evloop::promise::{select, Either, Promise};
/// use evloop::time::sleep;
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// let (reply, _resolver) = Promise::<String, ()>::new();
/// match lp.block_on(select(reply, sleep(Duration::from_millis(1)))) {
///     Either::Left(r) => println!("reply: {r:?}"),
///     Either::Right(()) => println!("no reply yet"),
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn select<A: Future, B: Future>(a: A, b: B) -> Select<A, B> {
    Select {
        pair: Some((Box::pin(a), Box::pin(b))),
    }
}

/// The future returned by [`select`].
///
/// ```
/// use evloop::promise::{select, Either};
/// use std::future::ready;
///
/// let lp = evloop::EventLoop::new()?;
/// // Both ready at once: the first one wins.
/// assert_eq!(lp.block_on(select(ready(1), ready('b'))), Either::Left(1));
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Select<A, B> {
    pair: Option<Pair<A, B>>,
}

/// The two contenders, until one wins.
type Pair<A, B> = (Pin<Box<A>>, Pin<Box<B>>);

impl<A: Future, B: Future> Future for Select<A, B> {
    type Output = Either<A::Output, B::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (a, b) = self
            .pair
            .as_mut()
            .expect("evloop: Select polled after it completed");
        let out = if let Poll::Ready(v) = a.as_mut().poll(cx) {
            Either::Left(v)
        } else if let Poll::Ready(v) = b.as_mut().poll(cx) {
            Either::Right(v)
        } else {
            return Poll::Pending;
        };
        // The loser is dropped now, not when this future is.
        self.pair = None;
        Poll::Ready(out)
    }
}

impl<A, B> fmt::Debug for Select<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("done", &self.pair.is_none())
            .finish()
    }
}
