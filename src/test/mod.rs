//! A test loop that fails on leaks: [`run`] a future on a fresh loop with paused time, then
//! check that it left nothing behind.
//!
//! A test that returns while a task still runs, a timer is armed, a socket is open or a blocking
//! job is in flight has leaked it, and the next test may trip over it (a port still bound, a
//! callback firing into freed state, a flaky count). Twisted's trial calls that a *dirty
//! reactor* and fails the test; so does [`run`], listing what was left. Time is paused
//! ([`time::pause`](crate::time::pause)), so timeouts of any length take no time and the run is
//! the same every time.
//!
//! ```
//! use std::time::Duration;
//! use evloop::time::{sleep, timeout};
//!
//! // A 30 s timeout, tested in no time: the clock jumps whenever the loop is idle.
//! let elapsed = evloop::test::run(async {
//!     let start = evloop::Handle::current().now();
//!     assert!(timeout(Duration::from_secs(30), sleep(Duration::from_secs(60))).await.is_err());
//!     evloop::Handle::current().now() - start
//! });
//! assert_eq!(elapsed, Duration::from_secs(30));
//!
//! // A test that leaves a task and a listener behind fails, saying so.
//! let dirty = evloop::test::try_run(async {
//!     let listener = evloop::net::TcpListener::bind("127.0.0.1:0").unwrap();
//!     evloop::spawn(async move {
//!         let _ = listener.accept().await;
//!     });
//! });
//! let leftovers = dirty.unwrap_err();
//! assert_eq!((leftovers.tasks(), leftovers.resources()), (1, 1));
//! assert!(leftovers.to_string().contains("1 task, 1 I/O resource"));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! What is counted: live tasks, armed or queued timers (callbacks, periodic callbacks
//! and sleeps), callback watchers ([`Handle::watch`](crate::Handle::watch), signal handlers),
//! async I/O resources (every socket, pipe, child process or other descriptor the loop watches),
//! queued callbacks, blocking jobs in flight and [`KeepAlive`](crate::KeepAlive) guards.
//! Descriptors the loop never sees (a `std::fs::File`, a `std` socket) are not.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::driver::timers::NEVER;
use crate::runtime::census::Census;
use crate::EventLoop;

/// Runs `future` to completion on a fresh loop with paused time, and returns its output.
///
/// # Panics
///
/// If the loop cannot be created, if `future` panics, or if it left anything behind: the panic
/// message lists what (see [`Leftovers`]).
///
/// ```
/// use std::time::Duration;
///
/// #[derive(Debug, PartialEq)]
/// struct Reply(&'static str);
///
/// // An hour-long retry schedule, tested in no time and the same way every run.
/// let reply = evloop::test::run(async {
///     for _ in 0..3 {
///         evloop::time::sleep(Duration::from_secs(20 * 60)).await; // back off
///     }
///     Reply("ok")
/// });
/// assert_eq!(reply, Reply("ok"));
///
/// let leak = std::panic::catch_unwind(|| {
///     evloop::test::run(async { evloop::spawn(std::future::pending::<()>()) })
/// });
/// assert!(leak.is_err(), "a task left behind fails the test");
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    Builder::new().run(future)
}

/// Like [`run`], but hands back what was left instead of panicking.
///
/// # Errors
///
/// [`Leftovers`], if the future left anything behind.
///
/// # Panics
///
/// If the loop cannot be created, or if `future` panics.
///
/// ```
/// let clean = evloop::test::try_run(async { evloop::spawn(async { 1 }).await.unwrap() });
/// assert_eq!(clean, Ok(1));
///
/// let dirty = evloop::test::try_run(async {
///     evloop::Handle::current().call_later(std::time::Duration::from_secs(60), |_| {});
/// });
/// assert_eq!(dirty.unwrap_err().timers(), 1);
/// ```
pub fn try_run<F: Future>(future: F) -> Result<F::Output, Leftovers> {
    Builder::new().try_run(future)
}

/// Settings of a test loop: [`run`] and [`try_run`] use the defaults.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let real = Instant::now();
/// evloop::test::Builder::new()
///     .start_paused(false)
///     .run(async { evloop::time::sleep(Duration::from_millis(2)).await });
/// assert!(real.elapsed() >= Duration::from_millis(2), "real time: the sleep took its time");
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    paused: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Paused time, as [`run`] uses.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let paused = evloop::test::Builder::new().run(async {
    ///     evloop::time::sleep(Duration::from_secs(3600)).await; // no time at all
    ///     evloop::time::is_paused()
    /// });
    /// assert!(paused);
    /// ```
    pub fn new() -> Builder {
        Builder { paused: true }
    }

    /// Whether time starts paused (the default) or runs in real time.
    ///
    /// ```
    /// let paused = evloop::test::Builder::new()
    ///     .start_paused(false)
    ///     .run(async { evloop::time::is_paused() });
    /// assert!(!paused);
    /// ```
    pub fn start_paused(mut self, paused: bool) -> Builder {
        self.paused = paused;
        self
    }

    /// Runs `future` as [`run`] does, with these settings.
    ///
    /// # Panics
    ///
    /// If the loop cannot be created, if `future` panics, or if it left anything behind.
    ///
    /// ```
    /// let test = evloop::test::Builder::new(); // reusable: one setting for many tests
    /// assert_eq!(test.run(async { 1 }), 1);
    /// assert_eq!(test.run(async { 2 }), 2);
    /// ```
    #[track_caller]
    pub fn run<F: Future>(&self, future: F) -> F::Output {
        match self.try_run(future) {
            Ok(out) => out,
            Err(leftovers) => panic!("evloop::test::run: {leftovers}"),
        }
    }

    /// Runs `future` as [`try_run`] does, with these settings.
    ///
    /// # Errors
    ///
    /// [`Leftovers`], if the future left anything behind.
    ///
    /// # Panics
    ///
    /// If the loop cannot be created, or if `future` panics.
    ///
    /// ```
    /// let left = evloop::test::Builder::new()
    ///     .start_paused(false)
    ///     .try_run(async { evloop::Handle::current().call_soon(|_| {}); })
    ///     .unwrap_err();
    /// assert_eq!(left.queued(), 1);
    /// ```
    pub fn try_run<F: Future>(&self, future: F) -> Result<F::Output, Leftovers> {
        let lp = EventLoop::new().expect("evloop::test: cannot create an event loop");
        let core = &lp.handle().core;
        if self.paused {
            core.pause_clock();
        }
        let out = lp.block_on(future);
        let census = core.census();
        // The loop is dropped here in both cases, cancelling whatever was left.
        if census_is_clean(&census) {
            Ok(out)
        } else {
            Err(Leftovers { census })
        }
    }
}

fn census_is_clean(c: &Census) -> bool {
    let t = &c.timers;
    c.tasks == 0
        && t.once + t.every + t.sleeps == 0
        && c.watchers == 0
        && c.resources == 0
        && c.queued == 0
        && c.blocking == 0
        && c.keep_alive == 0
}

/// What a test left behind: counts by kind, and a `Display` that lists them.
///
/// ```
/// let left = evloop::test::try_run(async {
///     let h = evloop::Handle::current();
///     evloop::spawn(std::future::pending::<()>());
///     h.call_soon(|_| {});
/// })
/// .unwrap_err();
/// assert_eq!((left.tasks(), left.queued()), (1, 1));
/// println!("{left}"); // the list a failed `test::run` panics with
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Leftovers {
    census: Census,
}

impl Leftovers {
    /// Live tasks (spawned and not finished).
    ///
    /// ```
    /// let left = evloop::test::try_run(async {
    ///     evloop::spawn(std::future::pending::<()>());
    ///     evloop::spawn(std::future::pending::<()>());
    /// })
    /// .unwrap_err();
    /// assert_eq!(left.tasks(), 2);
    /// ```
    pub fn tasks(&self) -> usize {
        self.census.tasks
    }

    /// Live timers of every kind: one-shot and periodic callbacks, and sleeps (including those of
    /// timeouts and intervals).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let left = evloop::test::try_run(async {
    ///     let h = evloop::Handle::current();
    ///     h.call_later(Duration::from_secs(1), |_| {});
    ///     h.call_every(Duration::from_secs(1), |_| {});
    ///     evloop::spawn(evloop::time::sleep(Duration::from_secs(1))); // and a task
    /// })
    /// .unwrap_err();
    /// assert_eq!((left.timers(), left.tasks()), (2, 1), "the task's sleep is not armed yet");
    /// ```
    pub fn timers(&self) -> usize {
        let t = &self.census.timers;
        t.once + t.every + t.sleeps
    }

    /// Registered callback watchers (including signal handlers).
    ///
    /// ```
    /// let left = evloop::test::try_run(async {
    ///     let socket = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     evloop::Handle::current()
    ///         .watch(socket, evloop::Interest::READABLE, |_, _, _| {})
    ///         .unwrap();
    /// })
    /// .unwrap_err();
    /// assert_eq!(left.watchers(), 1);
    /// ```
    pub fn watchers(&self) -> usize {
        self.census.watchers
    }

    /// Registered async I/O resources: sockets, pipes, child processes, other descriptors.
    ///
    /// ```
    /// let left = evloop::test::try_run(async {
    ///     evloop::net::UdpSocket::bind("127.0.0.1:0").unwrap() // returned: open when the test ends
    /// })
    /// .unwrap_err();
    /// assert_eq!(left.resources(), 1);
    /// ```
    pub fn resources(&self) -> usize {
        self.census.resources
    }

    /// Callbacks queued and never run.
    ///
    /// ```
    /// let left = evloop::test::try_run(async {
    ///     let h = evloop::Handle::current();
    ///     for _ in 0..3 {
    ///         h.call_soon(|_| {});
    ///     }
    /// })
    /// .unwrap_err();
    /// assert_eq!(left.queued(), 3);
    /// ```
    pub fn queued(&self) -> usize {
        self.census.queued
    }

    /// Blocking jobs still in flight on the pool.
    ///
    /// ```
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let left = evloop::test::try_run(async move {
    ///     evloop::spawn_blocking(move || rx.recv().ok()); // not awaited
    /// })
    /// .unwrap_err();
    /// assert_eq!(left.blocking_jobs(), 1);
    /// drop(tx); // lets the job finish
    /// ```
    pub fn blocking_jobs(&self) -> usize {
        self.census.blocking
    }

    /// `KeepAlive` guards still alive.
    ///
    /// ```
    /// let left = evloop::test::try_run(async { evloop::Handle::current().keep_alive() }).unwrap_err();
    /// assert_eq!(left.keep_alive_guards(), 1, "the guard was still alive when the test returned");
    /// ```
    pub fn keep_alive_guards(&self) -> usize {
        self.census.keep_alive
    }
}

impl fmt::Display for Leftovers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.census;
        let t = &c.timers;
        let mut parts: Vec<String> = Vec::new();
        let mut count = |n: usize, what: &str| {
            if n > 0 {
                let s = if n == 1 { "" } else { "s" };
                parts.push(format!("{n} {what}{s}"));
            }
        };
        count(c.tasks, "task");
        count(t.sleeps, "sleep");
        count(t.once, "callback timer");
        count(t.every, "periodic timer");
        count(c.watchers, "watcher");
        count(c.resources, "I/O resource");
        count(c.queued, "queued callback");
        count(c.blocking, "blocking job");
        count(c.keep_alive, "keep-alive guard");
        write!(f, "the test left {} behind", parts.join(", "))?;
        match t.earliest {
            Some(NEVER) => write!(f, " (the earliest timer never fires)"),
            Some(at) => write!(
                f,
                " (the earliest timer is due in {:?})",
                Duration::from_nanos(at.saturating_sub(c.now))
            ),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Leftovers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Leftovers({self})")
    }
}

impl std::error::Error for Leftovers {}
