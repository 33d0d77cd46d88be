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
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! let lp = evloop::EventLoop::new()?;
//! let fired = Rc::new(RefCell::new(Vec::new()));
//! for (name, ms) in [("b", 2), ("a", 1), ("never", 3)] {
//!     let f = fired.clone();
//!     let id = lp.call_later(Duration::from_millis(ms), move |_| f.borrow_mut().push(name));
//!     if name == "never" {
//!         assert!(lp.cancel_timer(id));
//!     }
//! }
//! lp.run()?;
//! assert_eq!(*fired.borrow(), ["a", "b"], "in deadline order; the cancelled one never");
//! # Ok::<(), std::io::Error>(())
//! ```

pub use crate::driver::timers::TimerId;
