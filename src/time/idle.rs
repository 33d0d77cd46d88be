//! `IdleTimeout`: one timer, pushed back on every operation, for the "no traffic for N seconds"
//! rule of servers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Elapsed, Sleep};
use crate::event_loop::Handle;

/// An idle timeout: each [`run`](Self::run) gives its future `period` from the current turn,
/// re-using one timer, and fails with [`Elapsed`] if the period passes first.
///
/// This is the pattern of a server that drops connections silent for 30 s, without touching a
/// timer per read. A `run` only notes the time: the timer stays armed where it was, and when it
/// fires the timeout checks whether the period really passed since the last `run`; if not, it
/// re-arms the timer once for the rest (Linux's TCP keep-alive timer and Netty's idle handler work
/// the same way). A busy connection so costs one timer operation per period, not one per message.
/// While the timer has not come due and the same task polls, a poll does not look at the timer
/// at all. The period counts from the start of the turn in which `run` is called (for a read after
/// a readiness event, the moment the event was seen), which spares a clock read per call.
///
/// # Panics
///
/// [`new`](Self::new) panics if this thread has no event loop.
///
/// ```
/// use std::time::Duration;
/// use evloop::time::{sleep, IdleTimeout};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     evloop::time::pause();
///     let mut idle = IdleTimeout::new(Duration::from_secs(30));
///     // Each operation that finishes within 30 s keeps the connection alive...
///     for _ in 0..3 {
///         assert_eq!(idle.run(async { sleep(Duration::from_secs(20)).await; 1 }).await, Ok(1));
///     }
///     // ...and 30 s of silence ends it.
///     assert!(idle.run(sleep(Duration::from_secs(60))).await.is_err());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct IdleTimeout {
    /// Armed at or before `until` (never after it).
    sleep: Sleep,
    period: u64,
    /// When the current period ends: the last `run` or `reset` plus `period`.
    until: u64,
    /// The waker (data and vtable addresses) the armed timer holds, once a poll stored it and
    /// until the timer fires; `None` when unknown.
    armed_for: Option<(usize, usize)>,
}

impl IdleTimeout {
    /// An idle timeout of `period` on the current loop. `Duration::MAX` never expires.
    ///
    /// ```
    /// use evloop::time::IdleTimeout;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut never = IdleTimeout::new(Duration::MAX);
    ///     assert_eq!(never.run(async { 1 }).await, Ok(1));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(period: Duration) -> IdleTimeout {
        let handle = Handle::current();
        let period = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        let until = handle.core.now_ns().saturating_add(period);
        IdleTimeout {
            sleep: Sleep::new(handle, until),
            period,
            until,
            armed_for: None,
        }
    }

    /// The period.
    ///
    /// ```
    /// use evloop::time::IdleTimeout;
    /// use std::time::Duration;
    ///
    /// let _lp = evloop::EventLoop::new()?;
    /// let idle = IdleTimeout::new(Duration::from_secs(30));
    /// assert_eq!(idle.period(), Duration::from_secs(30));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period)
    }

    /// Restarts the period from the current turn (a store: the timer is not touched).
    ///
    /// ```
    /// use evloop::time::{sleep, IdleTimeout};
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     evloop::time::pause();
    ///     let mut idle = IdleTimeout::new(Duration::from_secs(30));
    ///     sleep(Duration::from_secs(20)).await;
    ///     idle.reset(); // activity outside `run`: 30 s from now
    ///     let h = evloop::Handle::current();
    ///     let start = h.now();
    ///     // `run` resets too; the future below is cut 30 s after it.
    ///     assert!(idle.run(sleep(Duration::from_secs(60))).await.is_err());
    ///     assert_eq!(h.now() - start, Duration::from_secs(30));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn reset(&mut self) {
        let now = self.sleep.handle().core.now_ns();
        self.until = now.saturating_add(self.period);
    }

    /// Restarts the period, then runs `future` until it completes (`Ok`) or the period passes
    /// (`Err(Elapsed)`, and `future` is dropped). The future is polled first, so one that is ready
    /// at once completes even if the period has passed.
    ///
    /// ```
    /// use evloop::time::{sleep, IdleTimeout};
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     evloop::time::pause();
    ///     let mut idle = IdleTimeout::new(Duration::from_secs(5));
    ///     assert_eq!(idle.run(async { "ready at once" }).await, Ok("ready at once"));
    ///     assert!(idle.run(sleep(Duration::from_secs(6))).await.is_err());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn run<F: Future>(&mut self, future: F) -> Idle<'_, F> {
        self.reset();
        Idle {
            future,
            timeout: self,
        }
    }

    /// Whether a whole period passed since the last `run`; if not, the timer is armed with the
    /// task's waker.
    #[inline]
    fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> bool {
        let w = cx.waker();
        let id = (w.data() as usize, w.vtable() as *const _ as usize);
        let now = self.sleep.handle().core.now_ns();
        // The timer fires only once the turn's time reaches its deadline, and that time never goes
        // back: before then, it still holds the waker it was given.
        if now < self.sleep.deadline_ns() && self.armed_for == Some(id) {
            return false;
        }
        self.poll_timer(cx, id, now)
    }

    #[cold]
    #[inline(never)]
    fn poll_timer(&mut self, cx: &mut Context<'_>, id: (usize, usize), now: u64) -> bool {
        loop {
            match Pin::new(&mut self.sleep).poll(cx) {
                Poll::Pending => {
                    self.armed_for = Some(id);
                    return false;
                }
                Poll::Ready(()) if self.until <= now => {
                    self.armed_for = None;
                    return true;
                }
                // Fired early for the period that `run` moved on: wait for the rest of it.
                Poll::Ready(()) => self.sleep.reset_ns(self.until),
            }
        }
    }
}

/// The future of [`IdleTimeout::run`].
///
/// ```
/// use evloop::time::{sleep, IdleTimeout};
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     evloop::time::pause();
///     let mut idle = IdleTimeout::new(Duration::from_secs(1));
///     let read = idle.run(sleep(Duration::from_secs(2))); // an `Idle`: a future like any other
///     assert!(read.await.is_err());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Idle<'a, F> {
    future: F,
    timeout: &'a mut IdleTimeout,
}

impl<F: Future> Future for Idle<'_, F> {
    type Output = Result<F::Output, Elapsed>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned and nothing else is: it is never moved out of
        // `self` (only polled through this pinned reference), `Idle` implements neither `Drop` nor
        // `Unpin` by hand (it is `Unpin` only if `F` is), and `timeout` (a `&mut`) is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above; `this.future` stays where it is for as long as `self` is pinned.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(v) = future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        if this.timeout.poll_elapsed(cx) {
            Poll::Ready(Err(Elapsed::new()))
        } else {
            Poll::Pending
        }
    }
}
