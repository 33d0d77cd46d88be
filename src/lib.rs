//! # evloop
//!
//! A hand-rolled, single-threaded event loop runtime: a reactor over `mio`, a message queue, timers,
//! a small executor for `async` code, and promises, on one thread.
//!
//! See [`event_loop`] for the phases of one turn of the loop.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod event_loop;
pub mod interop;
pub mod io;
pub mod net;
mod queue;
pub mod reactor;
mod remote;
pub mod task;
pub mod time;
pub mod timer;

pub use event_loop::{spawn, CallbackId, EventLoop, Handle, KeepAlive, LoopError};
pub use mio::Interest;
pub use reactor::{IoEvent, RawFdSource, Ready, WatcherId};
pub use remote::{PostError, Remote};
pub use task::{yield_now, JoinError, JoinHandle};
pub use timer::TimerId;
