//! Tasks: spawning (with a name: [`Builder`]), [`JoinHandle`], [`yield_now`].
//!
//! Spawning allocates once (an `Rc` holding the future inline, later its output) and queues a
//! task entry in the message queue. A woken task is just another entry: a wake marks the task
//! scheduled and queues it unless it already was, so a task woken many times before it runs is
//! polled once.

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
