//! `Interval`: ticks at a fixed period.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::Sleep;
use crate::driver::timers::next_tick;
use crate::event_loop::Handle;

/// What an [`Interval`] does when ticks were missed because the task was busy.
///
/// ```
/// use evloop::time::{interval, MissedTickBehavior};
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let mut poll = interval(Duration::from_millis(1));
///     // A slow consumer should not get a burst of catch-up ticks.
///     poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
///     poll.tick().await;
///     std::thread::sleep(Duration::from_millis(5)); // busy: ticks are missed
///     let late = poll.tick().await; // one tick now...
///     let next = poll.tick().await; // ... and the next a full period later
///     assert!(next - late >= Duration::from_millis(1));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, then keep the original schedule.
    Burst,
    /// Fire once now, then count the period from now: the schedule shifts.
    Delay,
    /// Fire once now, then continue at the next tick of the original schedule. The default, and the
    /// policy of [`Handle::call_every`](crate::Handle::call_every).
    #[default]
    Skip,
}

/// Ticks every `period`; the first tick completes at once.
///
/// # Panics
///
/// If `period` is zero, or if this thread has no event loop.
///
/// ```
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let mut every = evloop::time::interval(Duration::from_millis(2));
///     for _ in 0..3 {
///         every.tick().await;
///     }
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn interval(period: Duration) -> Interval {
    // The loop's clock, not `Instant::now()`: they differ once time was paused or advanced.
    interval_at(Handle::current().clock_now(), period)
}

/// Ticks at `start`, then every `period`.
///
/// # Panics
///
/// If `period` is zero, or if this thread has no event loop.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let start = Instant::now() + Duration::from_millis(2);
///     let mut every = evloop::time::interval_at(start, Duration::from_millis(1));
///     assert!(every.tick().await >= start, "the first tick is at `start`, not at once");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "evloop: interval period must be non-zero"
    );
    let handle = Handle::current();
    let start = handle.core.instant_to_ns(start);
    Interval {
        sleep: Sleep::new(handle, start),
        period: u64::try_from(period.as_nanos()).unwrap_or(u64::MAX),
        behavior: MissedTickBehavior::default(),
    }
}

/// A stream of ticks; see [`interval`].
///
/// ```
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let mut heartbeat = evloop::time::interval(Duration::from_millis(1));
///     let mut beats = 0;
///     while beats < 3 {
///         heartbeat.tick().await; // the first completes at once
///         beats += 1;
///     }
///     assert_eq!(heartbeat.period(), Duration::from_millis(1));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: u64,
    behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     evloop::time::pause();
    ///     let mut every = evloop::time::interval(Duration::from_secs(1));
    ///     let first = every.tick().await;
    ///     let second = every.tick().await;
    ///     assert_eq!(second - first, Duration::from_secs(1), "the scheduled instants");
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut every = evloop::time::interval(Duration::from_millis(1));
    ///     let first = poll_fn(|cx| every.poll_tick(cx)).await; // what `tick` awaits
    ///     let second = poll_fn(|cx| every.poll_tick(cx)).await;
    ///     assert!(second > first);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline_ns();
        let core = &self.sleep.handle().core;
        let now = core.clock_ns();
        let next = match self.behavior {
            MissedTickBehavior::Burst => scheduled.saturating_add(self.period),
            MissedTickBehavior::Delay => now.saturating_add(self.period),
            MissedTickBehavior::Skip => next_tick(scheduled, self.period, now),
        };
        let at = core.ns_to_instant(scheduled).unwrap_or_else(Instant::now);
        self.sleep.reset_ns(next);
        Poll::Ready(at)
    }

    /// Sets the missed-tick policy.
    ///
    /// ```
    /// use evloop::time::MissedTickBehavior;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     evloop::time::pause();
    ///     let mut every = evloop::time::interval(Duration::from_secs(1));
    ///     every.set_missed_tick_behavior(MissedTickBehavior::Burst);
    ///     let start = every.tick().await;
    ///     evloop::time::advance(Duration::from_millis(3500)).await; // three ticks missed
    ///     for n in 1..=3 {
    ///         // Burst: each missed tick, back to back, at its scheduled instant.
    ///         assert_eq!(every.tick().await - start, Duration::from_secs(n));
    ///     }
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.behavior = behavior;
    }

    /// The missed-tick policy.
    ///
    /// ```
    /// use evloop::time::MissedTickBehavior;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut every = evloop::time::interval(Duration::from_secs(1));
    ///     assert_eq!(every.missed_tick_behavior(), MissedTickBehavior::Skip, "the default");
    ///     every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ///     assert_eq!(every.missed_tick_behavior(), MissedTickBehavior::Delay);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.behavior
    }

    /// The period.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let _lp = evloop::EventLoop::new()?;
    /// let every = evloop::time::interval(Duration::from_millis(250));
    /// assert_eq!(every.period(), Duration::from_millis(250));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period)
    }

    /// Restarts the schedule: the next tick is one period from now.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     evloop::time::pause();
    ///     let h = evloop::Handle::current();
    ///     let mut every = evloop::time::interval(Duration::from_secs(2));
    ///     every.tick().await;
    ///     evloop::time::advance(Duration::from_secs(1)).await;
    ///     every.reset(); // next tick two seconds from now, not one
    ///     let reset_at = h.now();
    ///     every.tick().await;
    ///     assert_eq!(h.now() - reset_at, Duration::from_secs(2));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(&mut self) {
        let next = self
            .sleep
            .handle()
            .core
            .clock_ns()
            .saturating_add(self.period);
        self.sleep.reset_ns(next);
    }
}
