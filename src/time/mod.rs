//! Time for tasks: [`sleep`], [`timeout`], [`interval`] and [`IdleTimeout`] on the loop's timer
//! queue, and the loop's clock: [`pause`], [`advance`], [`resume`].
//!
//! They share the timer structure of the callback API ([`Handle::call_later`](crate::Handle::call_later)):
//! a sleeping task is a timer slot holding the task's waker, so arming and cancelling a sleep costs
//! the same as a callback timer and allocates nothing in steady state.
//!
//! - **Deadlines are exact**: nanoseconds on the loop's clock, never rounded to a tick. A timer never
//!   fires before its deadline, never twice, never after it was cancelled, and timers due at the
//!   same instant fire in the order they were (last) armed.
//! - **Short waits are precise**: while the next deadline is more than 2 ms away the loop waits in
//!   the poller, in whole milliseconds and never past it; the last 2 ms are waited on a `timerfd`
//!   (Linux), so a 200 µs sleep takes about 230 µs (the median `bench/benches/timers.rs`
//!   measured), not the 1 ms that a millisecond poll timeout would make of it. Deadlines further
//!   out cost nothing extra.
//! - **Re-arming is `O(1)`**: [`Sleep::reset`] to a later deadline writes the slot and leaves the
//!   timer's heap entry where it is; [`IdleTimeout`] does not even do that per operation (see
//!   `driver/timers` for the design, and the README for the measurements).
//! - **Time can be paused** for tests ([`pause`], [`advance`], auto-advance while idle), and
//!   [`crate::test::run`] runs a test on a fresh paused loop that fails if anything is left.
//!
//! ```
//! use evloop::time::{interval, sleep, timeout};
//! use std::time::Duration;
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     evloop::time::pause(); // the clock jumps from timer to timer: the test takes no time
//!     let h = evloop::Handle::current();
//!     let start = h.now();
//!     sleep(Duration::from_secs(1)).await;
//!     let mut every = interval(Duration::from_secs(2));
//!     every.tick().await; // at once
//!     every.tick().await;
//!     assert!(timeout(Duration::from_secs(1), sleep(Duration::from_secs(9))).await.is_err());
//!     assert_eq!(h.now() - start, Duration::from_secs(1 + 2 + 1));
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

mod clock;
mod idle;
mod interval;
mod sleep;
mod timeout;

pub use clock::{advance, is_paused, pause, resume};
pub use idle::{Idle, IdleTimeout};
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, Elapsed};
