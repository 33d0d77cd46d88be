//! Readiness: what the loop reports to a watcher ([`Handle::watch`](crate::Handle::watch)), and
//! [`RawFdSource`] for descriptors `mio` has no type for.
//!
//! The reactor itself, the poller and its registrations, is loop machinery: a watcher's event
//! becomes an entry in the loop's message queue, and its callback runs from there with no loop
//! state borrowed (see [`event_loop`](crate::event_loop)).

mod raw_fd;

pub use crate::driver::reactor::{IoEvent, Ready, WatcherId};
pub(crate) use raw_fd::FdSource;
pub use raw_fd::RawFdSource;
