//! Paused time: [`pause`], [`advance`], [`resume`], on the current loop's clock.

use std::time::Duration;

use crate::event_loop::Handle;

/// Stops the current loop's clock. Until [`resume`], time moves only by [`advance`] and by
/// *auto-advance*: whenever the loop has nothing to run, no event is ready and no blocking job is
/// in flight, the clock jumps to the next timer's deadline, exactly (no rounding), and that timer
/// fires. So a test of a 30 s timeout takes no time, and the order of events is the same on
/// every run.
///
/// All the loop's timers follow the paused clock: [`sleep`](super::sleep), [`timeout`](super::timeout),
/// [`interval`](super::interval), the callback timers of [`Handle::call_later`], and
/// [`Handle::now`]. `std::time::Instant::now()` does not: compute deadlines from `Handle::now()`.
/// Sockets, processes and other threads still run in real time; while one of them is about to
/// answer, auto-advance may let a timeout expire first (a blocking job holds it back), so under
/// paused time prefer work that the loop itself completes. Pausing a paused clock does nothing.
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```
/// use std::time::{Duration, Instant};
/// use evloop::time::{pause, sleep, timeout};
///
/// let lp = evloop::EventLoop::new()?;
/// let real = Instant::now();
/// lp.block_on(async {
///     pause();
///     let h = evloop::Handle::current();
///     let start = h.now();
///     // Nothing else to do: the clock jumps to the deadline at once.
///     assert!(timeout(Duration::from_secs(30), sleep(Duration::from_secs(60))).await.is_err());
///     assert_eq!(h.now() - start, Duration::from_secs(30));
/// });
/// assert!(real.elapsed() < Duration::from_secs(30));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pause() {
    Handle::current().core.pause_clock();
}

/// Lets the current loop's clock run again, from where it was paused (it does not jump back to
/// the real clock: time never goes backwards). Resuming a running clock does nothing.
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```
/// use evloop::time::{is_paused, pause, resume};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let h = evloop::Handle::current();
///     pause();
///     evloop::time::advance(std::time::Duration::from_secs(10)).await;
///     let paused_at = h.now();
///     resume();
///     assert!(!is_paused());
///     assert!(h.now() >= paused_at, "resumed from where it was: time never goes back");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn resume() {
    Handle::current().core.resume_clock();
}

/// Whether the current loop's clock is paused.
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```
/// use evloop::time::{is_paused, pause};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     assert!(!is_paused());
///     pause();
///     assert!(is_paused());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn is_paused() -> bool {
    Handle::current().core.paused.get()
}

/// Moves the current loop's clock forward by `duration`, then lets every timer that came due fire
/// and the tasks they wake run, before it returns. Works whether or not time is paused (running,
/// the clock then stays `duration` ahead of the real one).
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use evloop::time::{advance, pause, sleep};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     pause();
///     let fired = Rc::new(Cell::new(0));
///     for secs in [1, 2, 3] {
///         // The deadline is set when the sleep is made: 1, 2 and 3 s from now.
///         let (fired, sleeping) = (fired.clone(), sleep(Duration::from_secs(secs)));
///         evloop::spawn(async move {
///             sleeping.await;
///             fired.set(fired.get() + 1);
///         });
///     }
///     advance(Duration::from_millis(2500)).await;
///     assert_eq!(fired.get(), 2); // the 1 s and 2 s sleepers ran, the 3 s one waits
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn advance(duration: Duration) {
    let handle = Handle::current();
    handle.core.advance_clock(duration);
    // Armed after every timer now due, at the same deadline or later: it fires last, so the tasks
    // those timers wake are queued, and run, before this one resumes.
    super::sleep::Sleep::armed_at(handle.clone(), handle.core.clock_ns()).await;
}
