//! `timeout`: a future with a deadline.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use super::sleep;

/// The deadline of a [`timeout`] passed before its future completed.
///
/// ```
/// use evloop::time::{sleep, timeout};
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let err = timeout(Duration::from_millis(1), sleep(Duration::from_secs(60))).await.unwrap_err();
///     assert_eq!(err.to_string(), "deadline has elapsed");
///     let io: std::io::Error = err.into(); // for `?` in functions returning io::Result
///     assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl Elapsed {
    pub(crate) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `future` for at most `duration`. The future is polled first, so one that is ready at once
/// completes even with a zero duration; on expiry it is dropped.
///
/// # Errors
///
/// [`Elapsed`] if the deadline passed first.
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```
/// use std::time::Duration;
/// use evloop::time::{sleep, timeout};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     assert!(timeout(Duration::from_millis(1), sleep(Duration::from_secs(10))).await.is_err());
///     assert_eq!(timeout(Duration::from_secs(10), async { 5 }).await, Ok(5));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    let mut future = pin!(future);
    let mut deadline = sleep(duration);
    poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut deadline).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
