//! Tasks: spawning (with a name: [`Builder`]), [`JoinHandle`], [`yield_now`].
//!
//! Spawning allocates once (an `Rc` holding the future inline, later its output) and queues a
//! task entry in the message queue. A woken task is just another entry: a wake marks the task
//! scheduled and queues it unless it already was, so a task woken many times before it runs is
//! polled once.
//!
//! ```
//! use evloop::task::{self, JoinHandle};
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     let a: JoinHandle<u32> = evloop::spawn(async { 1 });
//!     let b = task::Builder::new().name("two").spawn(async {
//!         task::yield_now().await; // let the others run
//!         2
//!     })?;
//!     assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod builder;
mod cell;
mod coop;
mod join;
mod tracker;

pub use builder::Builder;
pub(crate) use cell::TaskCell;
pub use coop::yield_now;
pub(crate) use coop::{poll_proceed, spend_budget};
pub use join::{JoinError, JoinHandle};
pub use tracker::{TaskTracker, TaskTrackerToken, TaskTrackerWait};
