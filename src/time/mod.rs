//! Time for tasks: [`sleep`], [`timeout`] and [`interval`], on the loop's timer queue.
//!
//! They share the timer structure of the callback API ([`Handle::call_later`](crate::Handle::call_later)):
//! a sleeping task is a timer slot holding the task's waker, so arming and cancelling a sleep costs
//! the same as a callback timer and allocates nothing in steady state.

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
