//! # evloop
//!
//! A hand-rolled, single-threaded event loop runtime. One thread, one queue: a **reactor** turns OS
//! readiness (through `mio`) into entries of a **message queue**, **timers** feed the same queue,
//! and the **loop** drains it one entry at a time. A small **executor** runs `async` code on top: a
//! woken task is just another queue entry. **Promises** bridge plain callbacks and coroutines.
//!
//! Use it when one thread is enough (most I/O-bound services, tools, embedded loops) and you want
//! the cost per event to be close to a hand-written `mio` loop, with callbacks and `async` side by
//! side.
//!
//! ## Callbacks
//!
//! ```
//! use evloop::EventLoop;
//! use std::time::Duration;
//!
//! let lp = EventLoop::new()?;
//! lp.call_soon(|h| println!("first"));
//! let tick = lp.call_every(Duration::from_millis(1), |_| println!("tick"));
//! lp.call_later(Duration::from_millis(5), move |h| {
//!     h.cancel_timer(tick);
//! });
//! lp.run()?; // returns when nothing is left to do
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Coroutines: an echo server
//!
//! ```no_run
//! use evloop::io::{AsyncRead, AsyncWrite};
//! use evloop::net::TcpListener;
//!
//! async fn serve() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:7878")?;
//!     loop {
//!         // Out of file descriptors, `accept` waits instead of failing (see `TcpListener`), so
//!         // `?` ends the server only if the listener itself is broken.
//!         let (mut stream, _) = listener.accept().await?;
//!         evloop::spawn(async move {
//!             let mut buf = [0; 4096];
//!             while let Ok(n @ 1..) = stream.read(&mut buf).await {
//!                 if stream.write_all(&buf[..n]).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! }
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(serve())?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Architecture: one turn of the loop
//!
//! ```text
//!            other threads ──Remote::post / Waker::wake──▶ inbox ─┐
//!                                                                 │ 4. take remote
//!   ┌──────────┐ 1. poll I/O  ┌─────────┐                         ▼
//!   │ mio Poll │─────────────▶│ reactor │──watcher events──▶ ┌───────────────┐ 5. drain (≤256)
//!   └──────────┘              └─────────┘──task wake-ups───▶ │ message queue │──────────────▶ callbacks,
//!   ┌─────────────┐ 3. fire due timers                       │ (one FIFO)    │                watchers,
//!   │ timer heap  │─────────callbacks, wake-ups────────────▶ └───────────────┘                tasks
//!   └─────────────┘                                                 ▲
//!                         call_soon / spawn / wake ─────────────────┘
//! ```
//!
//! 1. **Poll I/O**: wait for readiness (not at all if work is queued; else until the next timer).
//! 2. **Update time**: read the clock once per turn.
//! 3. **Fire due timers**: in `(deadline, arming order)`.
//! 4. **Take remote work**: posts and wake-ups from other threads.
//! 5. **Drain the queue**: the entries queued when the drain began, at most 256, each run with no
//!    loop state borrowed. See [`event_loop`] for the details.
//!
//! ## Layers: user code never runs while loop state is borrowed
//!
//! The crate is built in three layers, and the rule that no callback, future, waker or `Drop` of
//! user data runs while loop state is borrowed follows from how they fit together:
//!
//! 1. **The driver** (`src/driver/`): plain containers, the message queue, the timer heap, the
//!    reactor's registrations, the task slab, the cross-thread inbox, the blocking pool and the
//!    signal handler's counters and wake table. They
//!    know nothing of the loop: they import nothing from the layers above, call no user code, and
//!    hand back whatever they remove or replace instead of dropping it.
//! 2. **The runtime** (`src/runtime/`): owns one loop's containers behind a single `RefCell` and
//!    is the only code that borrows it, in short borrows that move values in and out. It runs the
//!    turn; it calls user code only with nothing borrowed and under `catch_unwind`, puts loop state
//!    back in order, then reports a panic to the error hook; it drops user data that left a
//!    container at one point, flat (a long chain of drops does not recurse) and under
//!    `catch_unwind`. The run state and the loop's life (open, closing, closed) are one enum each.
//! 3. **The public modules** listed below, which reach loop state only through the runtime.
//!
//! ## Modules
//!
//! - [`event_loop`]: [`EventLoop`], [`Handle`], run modes, the error hook; what the loop tells
//!   about itself: [`Handle::metrics`], [`Handle::dump`], debug mode ([`Handle::set_debug`],
//!   `EVLOOP_DEBUG=1`) and turn hooks ([`Handle::on_before_sleep`]).
//! - [`reactor`]: readiness, watchers ([`Handle::watch`]).
//! - [`timer`] and [`time`]: callback timers; `sleep`, `timeout`, `interval` for tasks.
//! - [`task`]: spawning (named: [`task::Builder`]), [`JoinHandle`], [`yield_now`],
//!   [`TaskTracker`](task::TaskTracker).
//! - [`net`] and [`io`]: async TCP, UDP and Unix sockets; host names resolved off the loop
//!   ([`net::lookup_host`]).
//! - [`process`]: child processes with async pipes, reaped through pidfds (no zombies).
//! - [`fs`]: files and directories, each operation one hand-off to the blocking pool.
//! - [`promise`]: promises (deferreds) that bridge callbacks and coroutines; gather, race.
//! - [`sync`]: channels (oneshot, mpsc, mpmc, broadcast, watch, remote), `Notify`, `Semaphore`, `Mutex`,
//!   [`CancellationToken`](sync::CancellationToken) (with `TaskTracker`, a graceful shutdown).
//! - [`blocking`]: [`spawn_blocking`] on a bounded thread pool.
//! - [`signal`]: Unix signals: [`signal::ctrl_c`], [`signal::unix::signal`], and callbacks with
//!   [`Handle::on_signal`].
//! - [`loop_set`]: many cores: [`LoopSet`] runs one loop per CPU, each with its own reuse-port
//!   listener ([`net::TcpListener::bind_reuseport`]), with a coordinated shutdown on signals.
//! - [`interop`]: optional `futures-io` and `Stream` bridges (cargo features `futures-io`, `stream`).
//!
//! ## Platform
//!
//! Unix (Linux first), 64-bit targets.

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

// Layer 1: storage that knows nothing of the loop.
mod driver;
// Layer 2: the runtime, the only code that borrows loop state.
mod runtime;

// Layer 3: the public modules.
pub mod blocking;
pub mod event_loop;
pub mod fs;
pub mod interop;
pub mod io;
pub mod loop_set;
pub mod net;
pub mod process;
pub mod promise;
pub mod reactor;
pub mod signal;
pub mod sync;
pub mod task;
pub mod test;
pub mod time;
pub mod timer;

pub use blocking::{spawn_blocking, BlockingHandle};
pub use event_loop::{spawn, CallbackId, EventLoop, Handle, KeepAlive, LoopError};
pub use loop_set::LoopSet;
pub use mio::Interest;
pub use promise::{Promise, PromiseError, Resolver};
pub use reactor::{IoEvent, RawFdSource, Ready, WatcherId};
pub use runtime::{PostError, Remote};
pub use signal::SignalId;
pub use task::{yield_now, JoinError, JoinHandle};
pub use timer::TimerId;

/// The README's code blocks, compiled and run as doctests so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
