//! Unix signals by kind: [`signal`] creates a [`Signal`] listener, whose [`recv`](Signal::recv)
//! completes each time the signal arrives.
//!
//! ```no_run
//! use evloop::signal::unix::{signal, SignalKind};
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     let mut hangup = signal(SignalKind::hangup())?;
//!     while hangup.recv().await.is_some() {
//!         println!("SIGHUP: reloading the configuration");
//!     }
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! See the [module above](crate::signal) for how deliveries coalesce, keep the loop alive, and
//! reach several loops.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll};

use libc::c_int;

use super::local::{Attachment, Entry};
use crate::driver::signal::{self as sys, Registration};
use crate::event_loop::{Handle, KeepAlive};

/// A kind of signal: a signal number, with constructors for the usual ones.
///
/// ```
/// use evloop::signal::unix::SignalKind;
///
/// assert_eq!(SignalKind::interrupt().as_raw_value(), libc::SIGINT);
/// assert_eq!(SignalKind::from_raw(libc::SIGUSR1), SignalKind::user_defined1());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(c_int);

impl SignalKind {
    /// Any signal by number, for example a real-time signal (`libc::SIGRTMIN() + 1`). Whether a
    /// listener can be created for it is checked by [`signal`].
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let rt = libc::SIGRTMIN() + 1;
    /// let mut sig = signal(SignalKind::from_raw(rt))?;
    /// // SAFETY: the signal has a handler now (installed by `signal`).
    /// unsafe { libc::raise(rt) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(()));
    /// assert_eq!(sig.kind(), SignalKind::from(rt)); // `From<c_int>` is the same
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn from_raw(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    ///
    /// ```
    /// use evloop::signal::unix::SignalKind;
    ///
    /// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
    /// assert_eq!(libc::c_int::from(SignalKind::hangup()), libc::SIGHUP);
    /// ```
    pub const fn as_raw_value(&self) -> c_int {
        self.0
    }

    /// `SIGALRM`: a timer set with `alarm(2)` or `setitimer(2)` expired.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut sig = signal(SignalKind::alarm())?;
    /// // SAFETY: SIGALRM has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGALRM) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(())); // the timer fired
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process exited or stopped.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut chld = signal(SignalKind::child())?;
    /// // A child that exits (std's `status` also reaps it) ...
    /// assert!(std::process::Command::new("true").status()?.success());
    /// // ... is reported (evloop's own `process` module needs no listener).
    /// assert_eq!(lp.block_on(chld.recv()), Some(()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`: the terminal hung up; daemons often take it as "reload the configuration".
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut sig = signal(SignalKind::hangup())?;
    /// // SAFETY: SIGHUP has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGHUP) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(())); // reload the configuration here
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`: an interrupt from the terminal (Ctrl-C). See also [`ctrl_c`](crate::signal::ctrl_c).
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut sig = signal(SignalKind::interrupt())?;
    /// // SAFETY: SIGINT has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGINT) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(())); // Ctrl-C: shut down gracefully
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`: I/O is possible on a descriptor set up for it.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut sig = signal(SignalKind::io())?;
    /// // SAFETY: SIGIO has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGIO) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(())); // a descriptor is ready
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`: a write to a pipe or socket whose reader is gone.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut sig = signal(SignalKind::pipe())?;
    /// // SAFETY: SIGPIPE has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGPIPE) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(())); // the write itself fails with `BrokenPipe`
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`: a quit from the terminal (Ctrl-\\).
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut sig = signal(SignalKind::quit())?;
    /// // SAFETY: SIGQUIT has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGQUIT) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(())); // Ctrl-\: dump state and stop
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`: a request to terminate (what `kill` sends by default).
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut sig = signal(SignalKind::terminate())?;
    /// // SAFETY: SIGTERM has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGTERM) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(())); // asked to stop: drain and exit
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`, for the program's own use.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut sig = signal(SignalKind::user_defined1())?;
    /// // SAFETY: SIGUSR1 has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGUSR1) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(())); // whatever the program says it means
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`, for the program's own use.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut sig = signal(SignalKind::user_defined2())?;
    /// // SAFETY: SIGUSR2 has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGUSR2) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(())); // whatever the program says it means
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal's window size changed.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut sig = signal(SignalKind::window_change())?;
    /// // SAFETY: SIGWINCH has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGWINCH) };
    /// assert_eq!(lp.block_on(sig.recv()), Some(())); // redraw for the new size
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<c_int> for SignalKind {
    fn from(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for c_int {
    fn from(kind: SignalKind) -> c_int {
        kind.0
    }
}

/// Listens for one kind of signal on the current loop; see [`Signal`].
///
/// Deliveries are counted from this call on: a signal that arrives after it returns, even before
/// the first [`recv`](Signal::recv), is reported.
///
/// # Errors
///
/// [`InvalidInput`](io::ErrorKind::InvalidInput) for a number that is not a signal (`<= 0` or
/// beyond the largest), for `SIGKILL` and `SIGSTOP` (which cannot be caught), for the fault
/// signals `SIGILL`, `SIGFPE`, `SIGSEGV` and `SIGBUS`, and for signals the OS refuses a handler
/// for (such as the real-time signals the C library keeps for itself). An error too if the
/// loop's wake descriptor cannot be made or watched, or if more than 64 loops would listen for
/// signals at once (each listening loop holds one slot of a fixed table).
///
/// # Panics
///
/// If this thread has no event loop (the listener keeps that loop alive; see [`Signal`]).
///
/// ```
/// use evloop::signal::unix::{signal, SignalKind};
///
/// let lp = evloop::EventLoop::new()?;
/// let mut usr1 = signal(SignalKind::user_defined1())?;
/// // SAFETY: raising a signal that has a handler (installed by `signal`) is harmless.
/// unsafe { libc::raise(libc::SIGUSR1) };
/// assert_eq!(lp.block_on(usr1.recv()), Some(()));
///
/// let refused = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
/// assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    Signal::new(&Handle::current(), kind)
}

/// A listener for one kind of signal: [`recv`](Signal::recv) completes once for each delivery.
///
/// # Deliveries
///
/// A delivery is reported if the signal arrived after the listener was created and after the
/// last delivery it reported. Signals that arrive faster than they are received **coalesce**: a
/// burst of any size is reported at least once, not once per signal. Every listener sees every
/// delivery, whatever loop or thread it belongs to.
///
/// A listener is woken by the loop that last polled it (at first, the loop it was created on),
/// so that loop must be running for a waiting task to be woken; no thread of evloop's does it.
///
/// # Keeping the loop alive
///
/// Like a socket, a listener keeps the loop that was current when it was created alive
/// ([`EventLoop::run`](crate::EventLoop::run) does not return while it exists), so a task waiting
/// in [`recv`](Signal::recv) is not abandoned. [`set_keep_alive(false)`](Signal::set_keep_alive)
/// (libuv's unref) lets `run` return while the listener exists.
///
/// A listener belongs to the thread of its loop (it is neither `Send` nor `Sync`), like a socket;
/// it may be polled by any task of that thread.
///
/// # Dropping
///
/// Dropping the last listener for a signal (of any loop) puts back the disposition that the
/// first one replaced: the default action, an ignored signal, or another handler.
///
/// ```
/// use evloop::signal::unix::{signal, SignalKind};
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let mut hup = signal(SignalKind::hangup())?;
///     for _ in 0..3 {
///         // SAFETY: SIGHUP has a handler now (installed by `signal`).
///         unsafe { libc::raise(libc::SIGHUP) };
///     }
///     assert_eq!(hup.recv().await, Some(())); // the burst is one delivery...
///     let more = evloop::time::timeout(Duration::from_millis(1), hup.recv()).await;
///     assert!(more.is_err(), "... not three");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Signal {
    kind: SignalKind,
    /// `None` once closed.
    registration: Option<Registration>,
    /// The count of deliveries seen, and the waker to wake.
    entry: Rc<Entry>,
    /// The listener's place in the registry of the loop that wakes it; `None` once closed.
    attachment: RefCell<Option<Attachment>>,
    /// Held while the listener keeps its loop alive.
    keep_alive: Cell<Option<KeepAlive>>,
    handle: Handle,
}

impl Signal {
    pub(crate) fn new(handle: &Handle, kind: SignalKind) -> io::Result<Signal> {
        // The loop's slot first: once the handler is installed, every signal reaches the loop.
        let entry = Rc::new(Entry::new(kind.0));
        let attachment = Attachment::new(handle, &entry)?;
        let (registration, seen) = sys::register(kind.0)?;
        // No delivery is looked at in between: the loop runs on this thread.
        entry.set_seen(seen);
        Ok(Signal {
            kind,
            registration: Some(registration),
            entry,
            attachment: RefCell::new(Some(attachment)),
            keep_alive: Cell::new(Some(handle.keep_alive())),
            handle: handle.clone(),
        })
    }

    /// Waits for the next delivery of the signal. Returns `Some(())` for each (see [`Signal`] for
    /// how deliveries coalesce); `None` only for a listener that was closed (the one inside a
    /// removed [`Handle::on_signal`] handler), never for one made by [`signal`].
    ///
    /// Cancel safe: dropping the future loses no delivery.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut usr1 = signal(SignalKind::user_defined1())?;
    ///     // SAFETY: SIGUSR1 has a handler now (installed by `signal`).
    ///     unsafe { libc::raise(libc::SIGUSR1) };
    ///     assert_eq!(usr1.recv().await, Some(()));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery: `Ready(Some(()))` if the signal arrived since the last one
    /// reported, else `Pending`, with the waker of `cx` stored to be woken when it arrives (only
    /// the waker of the latest poll is woken).
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    /// use std::future::poll_fn;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut usr2 = signal(SignalKind::user_defined2())?;
    /// // SAFETY: SIGUSR2 has a handler now (installed by `signal`).
    /// unsafe { libc::raise(libc::SIGUSR2) };
    /// // For hand-written futures and streams; `recv` is the same as a future.
    /// assert_eq!(lp.block_on(poll_fn(|cx| usr2.poll_recv(cx))), Some(()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.poll_shared(cx)
    }

    pub(crate) fn poll_shared(&self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.registration.is_none() {
            return Poll::Ready(None);
        }
        if self.entry.take_delivery() {
            return Poll::Ready(Some(()));
        }
        self.follow_current_loop();
        // The old waker is dropped with no borrow held (a foreign waker's drop is user code).
        let old = self.entry.set_waker(cx.waker());
        drop(old);
        // Looked at again with the waker stored: a wake-up handled in between found no waker to
        // wake, but its count is visible now.
        if self.entry.take_delivery() {
            return Poll::Ready(Some(()));
        }
        Poll::Pending
    }

    /// Moves the listener to the registry of the loop polling it, if that is another one, so
    /// that a running loop wakes it. If that fails (too many loops listening) it stays where it is.
    fn follow_current_loop(&self) {
        let Some(current) = Handle::try_current() else {
            return;
        };
        let here = self
            .attachment
            .borrow()
            .as_ref()
            .is_some_and(|a| a.in_loop(&current));
        if here {
            return;
        }
        if let Ok(moved) = Attachment::new(&current, &self.entry) {
            let old = self.attachment.replace(Some(moved));
            drop(old);
        }
    }

    /// Marks whether this listener keeps its loop alive (see [`Signal`]): with `false`,
    /// [`EventLoop::run`](crate::EventLoop::run) may return while it exists; it still receives
    /// signals while the loop runs for other reasons.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let usr2 = signal(SignalKind::user_defined2())?;
    /// usr2.set_keep_alive(false);
    /// lp.run()?; // returns at once: nothing else keeps the loop alive
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_keep_alive(&self, keep_alive: bool) {
        let guard = self.keep_alive.take();
        if keep_alive {
            self.keep_alive
                .set(Some(guard.unwrap_or_else(|| self.handle.keep_alive())));
        } else {
            drop(guard);
        }
    }

    /// Whether this listener keeps its loop alive.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let _lp = evloop::EventLoop::new()?;
    /// let usr1 = signal(SignalKind::user_defined1())?;
    /// assert!(usr1.keeps_alive()); // as a socket does
    /// usr1.set_keep_alive(false);
    /// assert!(!usr1.keeps_alive());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn keeps_alive(&self) -> bool {
        let guard = self.keep_alive.take();
        let keeps = guard.is_some();
        self.keep_alive.set(guard);
        keeps
    }

    /// The kind of signal this listens for.
    ///
    /// ```
    /// use evloop::signal::unix::{signal, SignalKind};
    ///
    /// let _lp = evloop::EventLoop::new()?;
    /// let hup = signal(SignalKind::hangup())?;
    /// assert_eq!(hup.kind(), SignalKind::hangup());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kind(&self) -> SignalKind {
        self.kind
    }

    /// Whether this listener belongs to (keeps alive) `handle`'s loop.
    pub(crate) fn in_loop(&self, handle: &Handle) -> bool {
        self.handle.same_loop(handle)
    }

    /// Unregisters at once (putting the disposition back if it was the last listener) and lets
    /// go of the loop; `recv` then returns `None`.
    pub(crate) fn close(&mut self) {
        let registration = self.registration.take();
        drop(registration);
        let attachment = self.attachment.take();
        drop(attachment);
        let waker = self.entry.take_waker();
        drop(waker);
        self.set_keep_alive(false);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind())
            .field("keep_alive", &self.keeps_alive())
            .finish()
    }
}
