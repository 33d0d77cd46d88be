//! Unix signals, for tasks and for callbacks.
//!
//! - [`ctrl_c`]: a future that completes on the next `SIGINT`.
//! - [`unix::signal`]: a [`Signal`] listener for any [`SignalKind`],
//!   whose [`recv`](Signal::recv) completes once per delivery.
//! - [`Handle::on_signal`]: a callback run on the loop for each delivery (asyncio's
//!   `add_signal_handler`), removed with [`Handle::remove_signal`].
//!
//! A graceful shutdown on Ctrl-C:
//!
//! ```no_run
//! use evloop::net::TcpListener;
//!
//! async fn serve(listener: TcpListener) -> std::io::Result<()> {
//!     loop {
//!         let (_stream, _) = listener.accept().await?;
//!     }
//! }
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:7878")?;
//!     let server = evloop::spawn(serve(listener));
//!     evloop::signal::ctrl_c().await?; // waits for Ctrl-C
//!     println!("shutting down");
//!     server.abort();
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How a signal reaches a loop
//!
//! No thread is started: a loop that listens for signals stays single-threaded. The OS handler
//! does only what is async-signal-safe: it bumps a per-signal counter (an atomic in static
//! memory), then writes one byte (non-blocking, `errno` preserved) to every wake descriptor in a
//! fixed static table. Each loop that has at least one listener holds one slot of that table, a
//! non-blocking socket pair whose read end it watches with its own reactor (a watcher that does
//! not keep the loop alive). When the read end becomes readable, the loop drains it and wakes
//! those of *its own* listeners whose signal's counter moved since they last reported a
//! delivery; the registry of listeners is per loop and per thread, so no lock is taken for them.
//! So signals work with any number of loops on any number of threads (each loop has its own
//! slot, and the handler writes to all of them) and whichever thread the OS runs the handler
//! on. `signalfd` is not used.
//!
//! A slot's descriptors are never closed while the process lives, since the handler may have
//! read a descriptor from the table just before its slot was given back: a loop whose last
//! listener is dropped (or that is dropped itself) gives its slot back, and a later loop reuses
//! it, drained. Installing and restoring dispositions is process-wide bookkeeping under a lock,
//! off the handler's path.
//!
//! A listener is woken by the loop that polls it (at first, the loop current when it was
//! created), so that loop must be running while a task waits for a signal.
//!
//! # Guarantees
//!
//! - **Nothing is lost after registering.** A listener counts from the moment it was created: a
//!   signal that arrives before its first `recv` (or before the handler task first runs) is
//!   reported.
//! - **Deliveries coalesce.** A listener reports a delivery whenever the signal arrived since the
//!   last one it reported, so a burst of a thousand signals is reported at least once, not
//!   necessarily a thousand times. (The OS itself merges a standard signal that is already
//!   pending.)
//! - **Every listener sees every delivery**: two listeners for the same signal, in one loop or
//!   in two, are both woken.
//! - **Dispositions are restored.** The first listener for a signal installs evloop's handler
//!   (`SA_RESTART`) and saves the disposition it replaced; when the last listener for it is
//!   dropped (of whatever loop), that disposition is put back. While evloop's handler is in
//!   place, the previous handler is not called, and the default action (for `SIGINT` and
//!   `SIGTERM`, ending the process) does not happen.
//! - **Refused signals are errors**, not panics: `SIGKILL`, `SIGSTOP`, the fault signals
//!   (`SIGILL`, `SIGFPE`, `SIGSEGV`, `SIGBUS`), numbers that are not signals, and signals the OS
//!   keeps for itself give an [`InvalidInput`](std::io::ErrorKind::InvalidInput) error.
//!
//! # Keeping the loop alive
//!
//! A listener keeps its loop alive as a socket does: [`EventLoop::run`](crate::EventLoop::run)
//! does not return while a [`Signal`], a pending [`CtrlC`] or an
//! [`on_signal`](Handle::on_signal) handler exists, so a task waiting for a signal is not
//! abandoned. Turn that off (libuv's unref) with [`Signal::set_keep_alive`],
//! [`CtrlC::set_keep_alive`] or [`Handle::set_signal_keep_alive`], for a listener that should
//! not by itself keep a program running that has finished its work.
//!
//! # Limitations
//!
//! - At most 64 loops can have listeners at the same time; registering a listener in one more
//!   loop is an error. The slots' descriptors (two per slot ever used) stay open for the life of
//!   the process; they are closed on `exec`.
//! - In a child made by `fork` without `exec`, the inherited slots are shared with the parent:
//!   a signal to either process wakes the loops of both (a spurious wake-up, harmless, since a
//!   listener reports a delivery only when its own process's counter moved).
//! - Only Unix (Linux first).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use slab::Slab;

use crate::event_loop::{Handle, LoopError};
use crate::runtime::guard;
use crate::task::JoinHandle;

mod local;
pub mod unix;

use unix::{Signal, SignalKind};

/// Completes on the next `SIGINT` (Ctrl-C) after this call.
///
/// The listener is registered by this call, not by the first poll: a Ctrl-C pressed in between
/// is not lost. While the returned future exists, `SIGINT` no longer ends the process; once it
/// is dropped (and no other listener for `SIGINT` exists) the previous disposition is back.
///
/// # Errors
///
/// The future yields an error if the listener could not be registered (see
/// [`unix::signal`]).
///
/// # Panics
///
/// If this thread has no event loop.
///
/// ```no_run
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     println!("press Ctrl-C");
///     evloop::signal::ctrl_c().await?;
///     println!("bye");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn ctrl_c() -> CtrlC {
    CtrlC {
        signal: Some(unix::signal(SignalKind::interrupt())),
    }
}

/// The future of [`ctrl_c`].
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// let ctrl_c = evloop::signal::ctrl_c(); // listening from here on
/// // SAFETY: SIGINT has a handler now (installed by `ctrl_c`).
/// unsafe { libc::raise(libc::SIGINT) };
/// lp.block_on(ctrl_c)?; // the process goes on
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct CtrlC {
    /// `None` once it has yielded an error.
    signal: Option<io::Result<Signal>>,
}

impl CtrlC {
    /// Marks whether this future keeps its loop alive while it waits (see the
    /// [module docs](self)); it does by default.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let ctrl_c = evloop::signal::ctrl_c();
    /// ctrl_c.set_keep_alive(false);
    /// lp.run()?; // returns at once: a Ctrl-C alone is no reason to keep running
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_keep_alive(&self, keep_alive: bool) {
        if let Some(Ok(signal)) = &self.signal {
            signal.set_keep_alive(keep_alive);
        }
    }
}

impl Future for CtrlC {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.signal {
            Some(Ok(signal)) => signal.poll_recv(cx).map(|_| Ok(())),
            Some(Err(_)) => match self.signal.take() {
                Some(Err(e)) => Poll::Ready(Err(e)),
                _ => unreachable!("matched above"),
            },
            None => Poll::Ready(Err(io::Error::other(
                "evloop: CtrlC polled after it completed",
            ))),
        }
    }
}

impl fmt::Debug for CtrlC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CtrlC").finish_non_exhaustive()
    }
}

/// Identifies a signal handler added with [`Handle::on_signal`], to remove it.
///
/// ```
/// use evloop::signal::unix::SignalKind;
///
/// let lp = evloop::EventLoop::new()?;
/// let id = lp.on_signal(SignalKind::user_defined1(), |_| println!("SIGUSR1"))?;
/// assert!(lp.remove_signal(id)); // the id is the handler's only name
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalId {
    key: u32,
    gen: u32,
}

/// A handler's listener, shared by its task (which owns it) and the thread's table (which does
/// not: a handler dropped with its loop takes its listener and its keep-alive with it).
struct Shared {
    signal: RefCell<Signal>,
}

struct Entry {
    gen: u32,
    shared: Weak<Shared>,
    task: JoinHandle<()>,
}

thread_local! {
    /// The handlers of this thread's loops. Borrowed only to move entries in and out: no user
    /// code runs (and nothing is dropped) under the borrow.
    static HANDLERS: RefCell<Slab<Entry>> = const { RefCell::new(Slab::new()) };
    static NEXT_GEN: Cell<u32> = const { Cell::new(0) };
}

impl Handle {
    /// Calls `f` on the loop each time `kind` is delivered (asyncio's `add_signal_handler`),
    /// until [`Handle::remove_signal`].
    ///
    /// Deliveries count from this call on and coalesce (see the [`signal`](crate::signal)
    /// module): `f` runs at least once after any burst of signals, in a turn of the loop, never
    /// inside the OS handler, so it may do anything. Several handlers may be added for one
    /// signal, in one loop or in several; each runs. A panic in `f` goes to the error hook and
    /// the handler stays. The handler keeps the loop alive until it is removed; see
    /// [`Handle::set_signal_keep_alive`].
    ///
    /// # Errors
    ///
    /// As for [`unix::signal`]; also an error if the loop has been dropped.
    ///
    /// ```
    /// use evloop::signal::unix::SignalKind;
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let reloads = Rc::new(Cell::new(0));
    /// let r = reloads.clone();
    /// let id = lp.on_signal(SignalKind::hangup(), move |h| {
    ///     r.set(r.get() + 1);
    ///     h.stop();
    /// })?;
    /// // SAFETY: SIGHUP has a handler now (installed by `on_signal`).
    /// unsafe { libc::raise(libc::SIGHUP) };
    /// lp.run()?;
    /// assert_eq!(reloads.get(), 1);
    /// assert!(lp.remove_signal(id));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_signal<F>(&self, kind: SignalKind, f: F) -> io::Result<SignalId>
    where
        F: FnMut(&Handle) + 'static,
    {
        if self.is_closed() {
            return Err(io::Error::other("evloop: the event loop has been dropped"));
        }
        let shared = Rc::new(Shared {
            signal: RefCell::new(Signal::new(self, kind)?),
        });
        let weak = Rc::downgrade(&shared);
        let handle = self.clone();
        let task = self.spawn(run_handler(shared, handle, f));
        let gen = NEXT_GEN.with(|g| {
            let gen = g.get().wrapping_add(1);
            g.set(gen);
            gen
        });
        let entry = Entry {
            gen,
            shared: weak,
            task,
        };
        let (key, dead) = HANDLERS.with(|t| {
            let mut t = t.borrow_mut();
            // Handlers whose loop was dropped leave their entries: swept here.
            let dead: Vec<usize> = t
                .iter()
                .filter(|(_, e)| e.shared.strong_count() == 0)
                .map(|(k, _)| k)
                .collect();
            let dead: Vec<Entry> = dead.into_iter().map(|k| t.remove(k)).collect();
            (t.insert(entry), dead)
        });
        drop(dead);
        let key = u32::try_from(key).map_err(|_| io::Error::other("too many signal handlers"))?;
        Ok(SignalId { key, gen })
    }

    /// Removes a handler added with [`Handle::on_signal`] (asyncio's `remove_signal_handler`):
    /// it is unregistered at once (the last listener for its signal puts the previous
    /// disposition back) and `f` never runs again, also if a delivery is already queued; it is
    /// dropped in a later turn. From inside `f`, `f` returns first. Returns whether the handler
    /// existed (in this loop).
    ///
    /// ```
    /// use evloop::signal::unix::SignalKind;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let id = lp.on_signal(SignalKind::user_defined2(), |_| unreachable!("removed"))?;
    /// assert!(lp.is_alive(), "a handler keeps the loop alive");
    /// assert!(lp.remove_signal(id));
    /// assert!(!lp.remove_signal(id), "already removed");
    /// lp.run()?; // nothing keeps it alive any more
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remove_signal(&self, id: SignalId) -> bool {
        let Some((shared, entry)) = self.take_handler(id) else {
            return false;
        };
        let mut signal = shared.signal.borrow_mut();
        signal.close();
        drop(signal);
        entry.task.abort();
        true
    }

    /// Marks whether a handler added with [`Handle::on_signal`] keeps
    /// [`EventLoop::run`](crate::EventLoop::run) going (libuv's ref/unref). One that does not
    /// still runs while the loop runs for other reasons. Returns false if the handler is gone.
    ///
    /// ```
    /// use evloop::signal::unix::SignalKind;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// // Reload the configuration on SIGHUP, but do not keep the program running for that alone.
    /// let id = lp.on_signal(SignalKind::hangup(), |_| println!("reloading"))?;
    /// assert!(lp.set_signal_keep_alive(id, false));
    /// lp.run()?; // returns: the handler alone does not keep it going
    /// assert!(lp.remove_signal(id), "but it is still there");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_signal_keep_alive(&self, id: SignalId, keep_alive: bool) -> bool {
        let Some(shared) = self.find_handler(id) else {
            return false;
        };
        shared.signal.borrow().set_keep_alive(keep_alive);
        true
    }

    fn find_handler(&self, id: SignalId) -> Option<Rc<Shared>> {
        let shared = HANDLERS.with(|t| {
            let t = t.borrow();
            let e = t.get(id.key as usize).filter(|e| e.gen == id.gen)?;
            e.shared.upgrade()
        })?;
        let mine = shared.signal.borrow().in_loop(self);
        mine.then_some(shared)
    }

    fn take_handler(&self, id: SignalId) -> Option<(Rc<Shared>, Entry)> {
        let shared = self.find_handler(id)?;
        let entry = HANDLERS.with(|t| t.borrow_mut().remove(id.key as usize));
        Some((shared, entry))
    }
}

/// A handler's task: waits for each delivery and runs `f` under `catch_unwind`, with the
/// listener not borrowed.
async fn run_handler<F: FnMut(&Handle)>(shared: Rc<Shared>, handle: Handle, mut f: F) {
    while poll_fn(|cx| shared.signal.borrow().poll_shared(cx))
        .await
        .is_some()
    {
        if let Some(panic) = guard::catch(|| f(&handle)) {
            handle.report(LoopError::CallbackPanic(panic));
        }
    }
}
