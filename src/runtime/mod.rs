//! Layer 2, the runtime: owns a loop's containers, runs its turn, and is the only code that
//! borrows loop state.
//!
//! - [`core`]: [`Core`], the driver behind one `RefCell`, lent out only by [`Core::with`], and
//!   the facts kept beside it (run state, life, time, keep-alive count, error hook).
//! - [`turn`]: one turn of the loop, phase by phase, and the dispatch of each entry.
//! - [`guard`] and [`trash`]: user code runs under `catch_unwind` with nothing borrowed; user data
//!   that leaves a container is dropped at one point, flat and under `catch_unwind`.
//! - [`state`]: the run state and the life of a loop, one enum each.
//! - [`current`]: the thread's current loop.
//! - [`waker`]: task wakers, three integers in a word.
//! - [`remote`]: how other threads reach a loop ([`Remote`]).
//! - [`watch`]: a watcher as the reactor stores it.
//! - [`metrics`], [`debug`] and [`hooks`]: what the loop tells about itself: counters and sampled
//!   timings, debug mode's slow-entry warnings, and the hooks around the poller's wait.
//!
//! The public modules on top ([`event_loop`](crate::event_loop), [`task`](crate::task),
//! [`time`](crate::time), [`net`](crate::net), ...) reach loop state only through `Core`'s methods.

use std::rc::Rc;

pub(crate) mod census;
pub(crate) mod core;
pub(crate) mod current;
pub(crate) mod debug;
mod error;
pub(crate) mod guard;
pub(crate) mod hooks;
mod io;
pub(crate) mod metrics;
pub(crate) mod remote;
pub(crate) mod state;
pub(crate) mod submit;
mod teardown;
pub(crate) mod trash;
pub(crate) mod turn;
pub(crate) mod waker;
pub(crate) mod watch;

#[cfg(test)]
mod tests;

pub(crate) use self::core::Core;
pub(crate) use error::payload_str;
pub use error::LoopError;
pub use remote::{PostError, Remote};

/// A reference to an event loop, for use on the loop's thread.
///
/// Every callback receives one; cloning it is a non-atomic reference-count increment. It is neither
/// `Send` nor `Sync`: to reach the loop from another thread use [`Handle::remote`].
///
/// ```
/// use evloop::EventLoop;
/// use std::time::Duration;
///
/// let lp = EventLoop::new()?;
/// lp.call_soon(|h| {
///     h.call_later(Duration::from_millis(1), |_| println!("a millisecond later"));
/// });
/// lp.run()?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # A handle that outlives its loop
///
/// Once its [`EventLoop`](crate::EventLoop) is dropped, a handle refuses new work loudly: the
/// methods that queue work ([`call_soon`](Handle::call_soon), [`call_later`](Handle::call_later),
/// [`call_at`](Handle::call_at), [`call_every`](Handle::call_every), [`spawn`](Handle::spawn),
/// [`spawn_blocking`](Handle::spawn_blocking)) panic with a message that says so, after dropping
/// the work (asyncio raises "Event loop is closed" likewise); [`watch`](Handle::watch) returns an
/// error. Check [`Handle::is_closed`] first where a handle may outlive its loop. While the loop is
/// being dropped, work that destructors queue is dropped without running, and without a panic.
#[derive(Clone)]
pub struct Handle {
    pub(crate) core: Rc<Core>,
}
