//! `IdleTimeout`: one timer, pushed back on every operation, for the "no traffic for N seconds"
//! rule of servers.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use super::{Elapsed, Sleep};
use crate::event_loop::Handle;

/// An idle timeout: each [`run`](Self::run) gives its future `period` from the current turn,
/// re-using one timer, and fails with [`Elapsed`] if the period passes first.
///
/// This is the pattern of a server that drops connections silent for 30 s, without arming a new
/// timer per read: the deadline only moves later, which the timer queue does in `O(1)` (the timer
/// keeps its place until it comes up, then moves once). The period counts from the start of the
/// turn in which `run` is called (for a read after a readiness event, the moment the event was
/// seen), which spares a clock read per call.
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
    sleep: Sleep,
    period: u64,
}

impl IdleTimeout {
    /// An idle timeout of `period` on the current loop. `Duration::MAX` never expires.
    pub fn new(period: Duration) -> IdleTimeout {
        let handle = Handle::current();
        let period = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        let deadline = handle.core.now_ns().saturating_add(period);
        IdleTimeout {
            sleep: Sleep::new(handle, deadline),
            period,
        }
    }

    /// The period.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period)
    }

    /// Restarts the period from the current turn.
    pub fn reset(&mut self) {
        let now = self.sleep.handle().core.now_ns();
        self.sleep.reset_ns(now.saturating_add(self.period));
    }

    /// Restarts the period, then runs `future` until it completes (`Ok`) or the period passes
    /// (`Err(Elapsed)`, and `future` is dropped). The future is polled first, so one that is ready
    /// at once completes even if the period has passed.
    pub async fn run<F: Future>(&mut self, future: F) -> Result<F::Output, Elapsed> {
        self.reset();
        let mut future = pin!(future);
        let sleep = &mut self.sleep;
        poll_fn(|cx| {
            if let Poll::Ready(v) = future.as_mut().poll(cx) {
                return Poll::Ready(Ok(v));
            }
            match Pin::new(&mut *sleep).poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(Elapsed::new())),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}
