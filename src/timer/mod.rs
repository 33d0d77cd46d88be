//! Callback timers: [`Handle::call_later`](crate::Handle::call_later),
//! [`call_at`](crate::Handle::call_at) and [`call_every`](crate::Handle::call_every) return a
//! [`TimerId`] to cancel them with.
//!
//! Timers live in a binary min-heap of `(deadline, arming order)` with lazy cancellation: arming
//! is `O(log n)` (`O(1)` when deadlines grow, the common case), cancelling `O(1)`, and timers with
//! equal deadlines fire in the order they were armed. A due timer's callback is queued in the
//! loop's message queue like any other work. Deadlines have nanosecond resolution, though the
//! poller's wait is in milliseconds; a timer never fires before its deadline. For tasks, see
//! [`time`](crate::time).

pub use crate::driver::timers::TimerId;
