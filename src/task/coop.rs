//! Cooperative budget: an always-ready task yields after a fixed number of operations.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::event_loop::Handle;
use crate::runtime::Core;

/// Spends one unit of the running task's budget. When it is used up, wakes the task (so it runs
/// again in the next turn, after I/O and timers) and returns `Pending`.
#[inline]
pub(crate) fn poll_proceed(handle: &Handle, cx: &mut Context<'_>) -> Poll<()> {
    if spend_budget(&handle.core) {
        return Poll::Ready(());
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Spends one unit of the running task's budget; false if none was left.
#[inline]
pub(crate) fn spend_budget(core: &Core) -> bool {
    let left = core.budget.get();
    if left == 0 {
        return false;
    }
    core.budget.set(left - 1);
    true
}

/// Yields once to the loop: the task is queued behind everything already queued.
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async { evloop::yield_now().await });
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn yield_now() {
    YieldNow(false).await
}

struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
