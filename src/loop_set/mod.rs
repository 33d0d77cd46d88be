//! Thread-per-core: N independent loops on N threads, sharing a port and nothing else.
//!
//! A single-threaded loop scales out the way nginx, Redis, Seastar, glommio and monoio do: one loop
//! per core, each with its own listener on the same port
//! ([`TcpListener::bind_reuseport`](crate::net::TcpListener::bind_reuseport)), its own tasks and
//! its own state, so that nothing is shared on the hot path. [`LoopSet`] starts them, one thread
//! each (by default as many as the CPUs this process may use, [`available_cpus`]), optionally
//! pinned one per CPU, runs a setup future on each, and joins them all.
//!
//! - **Shutdown.** On `SIGINT` or `SIGTERM` (listened for by the set's coordinator thread; see
//!   [`ShutdownHandle`] for how the loops learn), on [`ShutdownHandle::shutdown`], or when a loop fails, every loop's
//!   [`LoopContext::shutdown_token`] is cancelled: stop accepting, finish what is in flight. A
//!   loop whose setup future has not returned [`grace`](LoopSet::grace) later is abandoned (its
//!   future and tasks are dropped) and reported.
//! - **Failures.** A setup future that returns an error or panics (or a loop that cannot start)
//!   shuts the others down; [`LoopSet::run`] then returns a [`LoopSetError`] that says which loop
//!   failed and how. Nothing is left running for ever.
//! - **Messages between loops** go through each loop's [`Remote`] ([`LoopContext::remote`]), or a
//!   [`remote_channel`](crate::sync::remote_channel) for values to a task. A cross-thread wake
//!   takes no process-wide lock.
//! - **Metrics** are per loop: [`Handle::metrics`](crate::Handle::metrics) on a loop's thread
//!   (or in a closure posted to its `Remote`) reads that loop's; [`Metrics::merge`] or
//!   `iter().sum()` totals them. `examples/echo_multi.rs` returns each loop's from its setup
//!   future and prints them and their sum at shutdown:
//!
//! ```
//! use evloop::event_loop::Metrics;
//!
//! let per_loop = evloop::LoopSet::new().loops(2).handle_signals(false).run(|_ctx| async move {
//!     evloop::spawn(async {}).await.unwrap();
//!     Ok::<_, std::io::Error>(evloop::Handle::current().metrics())
//! })?;
//! assert!(per_loop.iter().all(|m| m.tasks_spawned() >= 1));
//! let all: Metrics = per_loop.into_iter().sum();
//! assert!(all.tasks_spawned() >= 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Metrics::merge`]: crate::event_loop::Metrics::merge
//!
//! A shared counter kept by loop 0 and bumped by messages from the others:
//!
//! ```
//! use evloop::LoopSet;
//! use std::cell::Cell;
//!
//! thread_local! {
//!     // Loop 0's own state: only closures posted to loop 0 touch it.
//!     static TOTAL: Cell<u64> = const { Cell::new(0) };
//! }
//!
//! let totals = LoopSet::new().loops(3).handle_signals(false).run(|ctx| async move {
//!     // Each loop tells loop 0 how much work it did...
//!     let done = 10 * (ctx.index() as u64 + 1);
//!     ctx.remote(0).post(move |_| TOTAL.with(|t| t.set(t.get() + done))).unwrap();
//!     if ctx.index() == 0 {
//!         // ...and loop 0 waits until all three have reported (10 + 20 + 30), then stops the set.
//!         while TOTAL.with(Cell::get) < 60 {
//!             evloop::yield_now().await;
//!         }
//!         ctx.shutdown_handle().shutdown();
//!     }
//!     ctx.shutdown_token().cancelled().await;
//!     Ok(TOTAL.with(Cell::get)) // 60 on loop 0, 0 elsewhere
//! })?;
//! assert_eq!(totals, [60, 0, 0]);
//! # Ok::<(), std::io::Error>(())
//! ```

mod affinity;
mod error;
mod run;
mod shutdown;

use std::time::Duration;

pub use affinity::available_cpus;
pub use error::{LoopFailure, LoopSetError};
pub use shutdown::ShutdownHandle;

use crate::sync::CancellationToken;
use crate::Remote;

/// Starts N event loops on N threads and joins them (see the [module docs](self)).
///
/// ```no_run
/// use evloop::net::TcpListener;
/// use evloop::LoopSet;
///
/// fn main() -> std::io::Result<()> {
///     // One listener per loop on the same port; the kernel spreads the connections.
///     let accepted = LoopSet::new().pin(true).run(|ctx| async move {
///         let listener = TcpListener::bind_reuseport("127.0.0.1:7878")?;
///         let mut n = 0u64;
///         while let Some(conn) = ctx.shutdown_token().run_until_cancelled(listener.accept()).await {
///             let (_stream, _) = conn?;
///             n += 1;
///         }
///         Ok(n)
///     })?;
///     println!("connections per loop: {accepted:?}");
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct LoopSet {
    loops: Option<usize>,
    pin: bool,
    signals: bool,
    grace: Duration,
    name: String,
    shutdown: ShutdownHandle,
}

impl Default for LoopSet {
    fn default() -> Self {
        LoopSet::new()
    }
}

impl LoopSet {
    /// A set with one loop per available CPU, not pinned, stopping on `SIGINT`/`SIGTERM`, with a
    /// grace period of 5 seconds.
    ///
    /// ```
    /// let cpus = evloop::loop_set::available_cpus()?.len();
    /// let indexes = evloop::LoopSet::new()
    ///     .handle_signals(false)
    ///     .run(|ctx| async move { Ok(ctx.index()) })?;
    /// assert_eq!(indexes, (0..cpus).collect::<Vec<_>>(), "one loop per CPU, results by index");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> LoopSet {
        LoopSet {
            loops: None,
            pin: false,
            signals: true,
            grace: Duration::from_secs(5),
            name: String::from("evloop"),
            shutdown: ShutdownHandle::default(),
        }
    }

    /// The number of loops (threads); by default, the number of [`available_cpus`]. Zero is an
    /// `InvalidInput` error from [`run`](LoopSet::run).
    ///
    /// ```
    /// let sizes = evloop::LoopSet::new()
    ///     .loops(3)
    ///     .handle_signals(false)
    ///     .run(|ctx| async move { Ok(ctx.loops()) })?;
    /// assert_eq!(sizes, [3, 3, 3]);
    /// let zero = evloop::LoopSet::new().loops(0).run(|_| async { Ok(()) }).unwrap_err();
    /// assert!(matches!(
    ///     zero.failures(),
    ///     [(0, evloop::loop_set::LoopFailure::Error(e))] if e.kind() == std::io::ErrorKind::InvalidInput
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn loops(mut self, n: usize) -> LoopSet {
        self.loops = Some(n);
        self
    }

    /// Pins loop `i` to the `i`-th available CPU (wrapping around if there are more loops than
    /// CPUs). Off by default: pinning pays when the machine is not shared (or when each core's
    /// other work is pinned elsewhere), and hurts when another process wants the same core.
    ///
    /// ```
    /// use evloop::loop_set::available_cpus;
    ///
    /// let cpus = available_cpus()?;
    /// let pinned = evloop::LoopSet::new()
    ///     .loops(2)
    ///     .pin(true)
    ///     .handle_signals(false)
    ///     .run(|_| async { available_cpus() })?; // each loop's thread may run on one CPU now
    /// assert_eq!(pinned, [vec![cpus[0]], vec![cpus[1 % cpus.len()]]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pin(mut self, pin: bool) -> LoopSet {
        self.pin = pin;
        self
    }

    /// Whether the set listens for `SIGINT` and `SIGTERM` (on its coordinator thread) and shuts
    /// the set down on either (on by default). The listeners are in place before any setup future
    /// runs.
    ///
    /// ```
    /// let stopped = evloop::LoopSet::new().loops(2).run(|ctx| async move {
    ///     if ctx.index() == 1 {
    ///         // SAFETY: the set listens for SIGTERM (installed before any setup runs): no default action.
    ///         unsafe { libc::raise(libc::SIGTERM) };
    ///     }
    ///     ctx.shutdown_token().cancelled().await; // the signal shuts every loop down
    ///     Ok(true)
    /// })?;
    /// assert_eq!(stopped, [true, true]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_signals(mut self, yes: bool) -> LoopSet {
        self.signals = yes;
        self
    }

    /// How long a loop's setup future may take to return once the shutdown began, before it is
    /// dropped and the loop reported as [`LoopFailure::Abandoned`]. 5 seconds by default.
    ///
    /// ```
    /// use evloop::loop_set::LoopFailure;
    /// use std::time::Duration;
    ///
    /// let set = evloop::LoopSet::new().loops(1).handle_signals(false).grace(Duration::from_millis(10));
    /// let stop = set.shutdown_handle();
    /// let err = set
    ///     .run(move |_| {
    ///         stop.shutdown();
    ///         // Ignores the shutdown: dropped once the grace period is over.
    ///         std::future::pending::<std::io::Result<()>>()
    ///     })
    ///     .unwrap_err();
    /// assert!(matches!(err.failures(), [(0, LoopFailure::Abandoned)]));
    /// ```
    pub fn grace(mut self, grace: Duration) -> LoopSet {
        self.grace = grace;
        self
    }

    /// The threads' names are `NAME-0`, `NAME-1`, ... (`evloop-0`, ... by default).
    ///
    /// ```
    /// let names = evloop::LoopSet::new()
    ///     .loops(2)
    ///     .name("web")
    ///     .handle_signals(false)
    ///     .run(|_| async { Ok(std::thread::current().name().map(String::from)) })?;
    /// assert_eq!(names, [Some("web-0".to_string()), Some("web-1".to_string())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> LoopSet {
        self.name = name.into();
        self
    }

    /// A handle that shuts this set down, from any thread.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let set = evloop::LoopSet::new().loops(2).handle_signals(false);
    /// let stop = set.shutdown_handle();
    /// let stopper = std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_millis(5)); // e.g. an admin command, later
    ///     stop.shutdown();
    /// });
    /// let done = set.run(|ctx| async move {
    ///     ctx.shutdown_token().cancelled().await;
    ///     Ok("stopped")
    /// })?;
    /// assert_eq!(done, ["stopped", "stopped"]);
    /// stopper.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }
}

/// What a loop's setup closure is given: which loop it is, the other loops' [`Remote`]s, and the
/// set's shutdown.
///
/// ```
/// let seen = evloop::LoopSet::new().loops(2).handle_signals(false).run(|ctx| async move {
///     Ok((ctx.index(), ctx.loops(), ctx.remotes().len()))
/// })?;
/// assert_eq!(seen, [(0, 2, 2), (1, 2, 2)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LoopContext {
    index: usize,
    remotes: std::sync::Arc<[Remote]>,
    token: CancellationToken,
    force: CancellationToken,
    shutdown: ShutdownHandle,
}

impl LoopContext {
    /// This loop's index, from 0.
    ///
    /// ```
    /// let indexes = evloop::LoopSet::new()
    ///     .loops(3)
    ///     .handle_signals(false)
    ///     .run(|ctx| async move { Ok(ctx.index()) })?;
    /// assert_eq!(indexes, [0, 1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many loops the set has.
    ///
    /// ```
    /// let n = evloop::LoopSet::new()
    ///     .loops(2)
    ///     .handle_signals(false)
    ///     .run(|ctx| async move { Ok(ctx.loops()) })?;
    /// assert_eq!(n, [2, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn loops(&self) -> usize {
        self.remotes.len()
    }

    /// The [`Remote`] of loop `index`, to post work to it (this loop's own included).
    ///
    /// # Panics
    ///
    /// If `index` is not below [`loops`](LoopContext::loops).
    ///
    /// ```
    /// let replies = evloop::LoopSet::new().loops(2).handle_signals(false).run(|ctx| async move {
    ///     if ctx.index() == 1 {
    ///         ctx.shutdown_token().cancelled().await; // a loop ends with its setup future: stay
    ///         return Ok(None);
    ///     }
    ///     // Loop 0 asks loop 1 which thread it runs on.
    ///     let (tx, mut rx) = evloop::sync::remote_channel();
    ///     ctx.remote(1)
    ///         .post(move |_| tx.send(std::thread::current().name().map(String::from)).unwrap())
    ///         .unwrap();
    ///     let name = rx.recv().await.flatten();
    ///     ctx.shutdown_handle().shutdown();
    ///     Ok(name)
    /// })?;
    /// assert_eq!(replies[0].as_deref(), Some("evloop-1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn remote(&self, index: usize) -> &Remote {
        match self.remotes.get(index) {
            Some(r) => r,
            None => panic!(
                "LoopContext::remote({index}): the set has {} loops",
                self.remotes.len()
            ),
        }
    }

    /// Every loop's [`Remote`], by index.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let hits = Arc::new(AtomicUsize::new(0));
    /// let h = hits.clone();
    /// evloop::LoopSet::new().loops(3).handle_signals(false).run(move |ctx| {
    ///     let h = h.clone();
    ///     async move {
    ///         if ctx.index() == 0 {
    ///             for remote in ctx.remotes() {
    ///                 let h = h.clone();
    ///                 remote.post(move |_| { h.fetch_add(1, Ordering::Relaxed); }).unwrap();
    ///             }
    ///             while h.load(Ordering::Relaxed) < 3 {
    ///                 evloop::yield_now().await;
    ///             }
    ///             ctx.shutdown_handle().shutdown();
    ///         }
    ///         ctx.shutdown_token().cancelled().await;
    ///         Ok(())
    ///     }
    /// })?;
    /// assert_eq!(hits.load(Ordering::Relaxed), 3, "a post to every loop, loop 0's own included");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remotes(&self) -> &[Remote] {
        &self.remotes
    }

    /// Cancelled when the set shuts down: stop accepting, finish what is in flight, and return.
    ///
    /// ```
    /// let result = evloop::LoopSet::new().loops(2).handle_signals(false).run(|ctx| async move {
    ///     if ctx.index() == 1 {
    ///         return Err(std::io::Error::other("loop 1 gives up"));
    ///     }
    ///     ctx.shutdown_token().cancelled().await; // a failed loop shuts the others down
    ///     Ok(())
    /// });
    /// assert_eq!(result.unwrap_err().failures().len(), 1, "loop 0 returned Ok once told");
    /// ```
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.token
    }

    /// Cancelled after the shutdown token when the shutdown is to be cut short: a second
    /// `SIGINT`/`SIGTERM`, or [`ShutdownHandle::force`]. Stop waiting for work in flight then.
    ///
    /// ```
    /// let forced = evloop::LoopSet::new().loops(1).handle_signals(false).run(|ctx| async move {
    ///     ctx.shutdown_handle().force(); // a second Ctrl-C does this
    ///     ctx.shutdown_token().cancelled().await;
    ///     ctx.force_token().cancelled().await;
    ///     Ok(ctx.force_token().is_cancelled())
    /// })?;
    /// assert_eq!(forced, [true]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn force_token(&self) -> &CancellationToken {
        &self.force
    }

    /// Shuts the whole set down (see [`ShutdownHandle`]).
    ///
    /// ```
    /// let done = evloop::LoopSet::new().loops(2).handle_signals(false).run(|ctx| async move {
    ///     if ctx.index() == 0 {
    ///         ctx.shutdown_handle().shutdown(); // from inside: stops every loop
    ///     }
    ///     ctx.shutdown_token().cancelled().await;
    ///     Ok(ctx.shutdown_handle().is_shutting_down())
    /// })?;
    /// assert_eq!(done, [true, true]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_handle(&self) -> &ShutdownHandle {
        &self.shutdown
    }
}
