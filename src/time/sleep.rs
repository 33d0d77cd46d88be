//! `Sleep`: a future that completes at a deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::event_loop::Handle;
use crate::runtime::core::Action;

/// Waits until `duration` has elapsed. `Duration::MAX` sleeps forever.
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let lp = evloop::EventLoop::new()?;
/// let start = Instant::now();
/// lp.block_on(evloop::time::sleep(Duration::from_millis(5)));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let handle = Handle::current();
    let deadline = handle.core.deadline_after(duration);
    Sleep::new(handle, deadline)
}

/// Waits until `deadline`.
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(2);
///     evloop::time::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    let handle = Handle::current();
    let deadline = handle.core.instant_to_ns(deadline);
    Sleep::new(handle, deadline)
}

/// The future returned by [`sleep`] and [`sleep_until`]. Dropping it cancels its timer.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     // An idle timeout, pushed back each time there is activity.
///     let mut idle = Box::pin(evloop::time::sleep(Duration::from_millis(1)));
///     idle.as_mut().reset(Instant::now() + Duration::from_millis(3));
///     idle.as_mut().await;
///     assert!(idle.is_elapsed());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    handle: Handle,
    deadline: u64,
    /// The slab key of the armed timer, if `armed`. Its id is never handed out, so only this
    /// future removes it and the key alone names it (see `TimerQueue::remove`): without the id a
    /// `TimerId` holds, a sleeping task's future is 8 bytes smaller.
    timer_key: u32,
    armed: bool,
    done: bool,
    /// Arm the timer on first poll even if the deadline has passed (see `armed_at`).
    arm_due: bool,
}

impl Sleep {
    fn timer(&self) -> Option<u32> {
        self.armed.then_some(self.timer_key)
    }

    fn set_timer(&mut self, key: Option<u32>) {
        (self.timer_key, self.armed) = key.map_or((0, false), |k| (k, true));
    }

    pub(crate) fn new(handle: Handle, deadline: u64) -> Sleep {
        Sleep {
            handle,
            deadline,
            timer_key: 0,
            armed: false,
            done: false,
            arm_due: false,
        }
    }

    /// A sleep that arms its timer on first poll even if `deadline` has passed, so that it
    /// completes only after the timers already due at `deadline` fired (used by `advance`).
    pub(crate) fn armed_at(handle: Handle, deadline: u64) -> Sleep {
        let mut sleep = Sleep::new(handle, deadline);
        sleep.arm_due = true;
        sleep
    }

    /// The instant this sleep completes at (`None` if it never does).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     evloop::time::pause();
    ///     let h = evloop::Handle::current();
    ///     let s = evloop::time::sleep(Duration::from_secs(3));
    ///     assert_eq!(s.deadline(), Some(h.now() + Duration::from_secs(3)));
    ///     assert_eq!(evloop::time::sleep(Duration::MAX).deadline(), None, "never completes");
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        if self.deadline == crate::driver::timers::NEVER {
            return None;
        }
        self.handle.core.ns_to_instant(self.deadline)
    }

    /// Whether the deadline has been reached.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut s = evloop::time::sleep(Duration::from_millis(1));
    ///     assert!(!s.is_elapsed());
    ///     (&mut s).await;
    ///     assert!(s.is_elapsed());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_elapsed(&self) -> bool {
        self.done
    }

    /// Moves the deadline, also after the sleep completed (it then waits again). The timer is
    /// kept: moving a deadline later is `O(1)`, which makes a sleep reset on every message the
    /// cheap way to keep an idle timeout (see also [`IdleTimeout`](super::IdleTimeout)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use evloop::time::sleep;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     evloop::time::pause();
    ///     let h = evloop::Handle::current();
    ///     let start = h.now();
    ///     let mut s = sleep(Duration::from_secs(1));
    ///     s.reset(start + Duration::from_secs(5));
    ///     (&mut s).await;
    ///     assert_eq!(h.now() - start, Duration::from_secs(5));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.reset_ns(self.handle.core.instant_to_ns(deadline));
    }

    pub(crate) fn reset_ns(&mut self, deadline: u64) {
        self.deadline = deadline;
        self.done = false;
        if let Some(t) = self.timer() {
            if !self.handle.core.reset_timer(t, deadline) {
                self.set_timer(None);
            }
        }
    }

    pub(crate) fn deadline_ns(&self) -> u64 {
        self.deadline
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    fn cancel(&mut self) {
        if let Some(t) = self.timer() {
            self.set_timer(None);
            self.handle.core.remove_timer(t);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        let core = &self.handle.core;
        let fired = match self.timer() {
            // The cached turn time is never later than the real time, so this is never early.
            None if self.deadline <= core.now_ns() && !self.arm_due => true,
            None => {
                let action = Action::wake(crate::runtime::waker::clone_waker(cx.waker()));
                // A closed loop arms nothing and runs nothing: stay unarmed (pending for ever,
                // like the loop's other work).
                let armed = core.add_timer(self.deadline, action).ok();
                self.set_timer(armed.map(|t| t.key));
                false
            }
            Some(t) => core.poll_timer(t, cx.waker()),
        };
        if fired {
            self.cancel();
            self.done = true;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    /// A sleeping task's future holds one: keep it from growing unnoticed.
    #[test]
    fn sleep_stays_three_words() {
        assert_eq!(std::mem::size_of::<super::Sleep>(), 24);
    }
}
