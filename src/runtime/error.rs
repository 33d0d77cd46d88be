//! What the loop reports to its error hook.

use std::any::Any;
use std::fmt;
use std::io;

use crate::driver::reactor::WatcherId;

/// Something that went wrong inside the loop with nobody to return it to.
///
/// The loop hands each one to its error hook (see [`Handle::set_error_hook`](crate::Handle::set_error_hook)).
/// The default hook prints it to stderr and the loop keeps running. A hook that wants a panic to end
/// the program can call [`LoopError::resume_unwind`]: the panic then leaves `run` (or `block_on`)
/// with the loop consistent, so it may be run again.
///
/// ```
/// use evloop::LoopError;
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let lp = evloop::EventLoop::new()?;
/// let panics = Rc::new(Cell::new(0));
/// let p = panics.clone();
/// lp.set_error_hook(move |_, error| match error {
///     LoopError::CallbackPanic(_) | LoopError::TaskPanic(_) => p.set(p.get() + 1),
///     other => eprintln!("evloop: {other}"), // the set may grow: keep a catch-all arm
/// });
/// lp.call_soon(|_| panic!("boom"));
/// lp.run()?; // the loop goes on
/// assert_eq!(panics.get(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[non_exhaustive]
pub enum LoopError {
    /// A callback (`call_soon`, a timer, a watcher or a remote post) panicked. The callback is dropped;
    /// a watcher or a periodic timer stays registered and is called again on its next event.
    CallbackPanic(Box<dyn Any + Send>),
    /// A detached task panicked (a task whose `JoinHandle` still exists gets the panic through it).
    TaskPanic(Box<dyn Any + Send>),
    /// Changing a watcher's interest from inside its own callback failed when it was applied.
    Interest(WatcherId, io::Error),
    /// A rejected promise was dropped without anyone observing the rejection.
    UnobservedRejection(String),
    /// Dropping user data panicked: a callback, timer or watcher that was cancelled, removed or
    /// had run, a task's future after it finished, a detached task's output, a replaced error
    /// hook or waker, or anything the loop dropped while it was itself being dropped. The loop
    /// stays consistent; the rest of what it was dropping is still dropped.
    DropPanic(Box<dyn Any + Send>),
    /// [`EventLoop::block_on`](crate::EventLoop::block_on) is about to wait for a future that
    /// nothing can wake: no queued work, no timer, no socket or watcher, no
    /// [`KeepAlive`](crate::KeepAlive) guard, no [`Remote`](crate::Remote) handle, no blocking
    /// job, and its waker was never cloned (so nothing keeps it). It would wait forever.
    /// Reported once per `block_on`, which then waits as asked.
    Stalled,
    /// Debug mode only (see [`Handle::set_debug`](crate::Handle::set_debug)): one callback,
    /// watcher dispatch or task poll held the loop for `took`, at least the `threshold`
    /// ([`Handle::set_slow_threshold`](crate::Handle::set_slow_threshold), 100 ms unless set).
    /// `what` names it: a task by its name and spawn site, a callback, timer or watcher by where
    /// it was scheduled, armed or registered.
    Slow {
        /// What ran, and where it came from (`file:line:column`).
        what: String,
        /// How long it ran.
        took: std::time::Duration,
        /// The threshold it crossed.
        threshold: std::time::Duration,
    },
}

impl LoopError {
    /// The panic message, when this is a panic whose payload is a string.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let message = Rc::new(RefCell::new(None));
    /// let m = message.clone();
    /// lp.set_error_hook(move |_, e| *m.borrow_mut() = e.panic_message().map(String::from));
    /// lp.call_soon(|_| panic!("disk full"));
    /// lp.run()?;
    /// assert_eq!(message.borrow().as_deref(), Some("disk full"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            LoopError::CallbackPanic(p) | LoopError::TaskPanic(p) | LoopError::DropPanic(p) => {
                Some(payload_str(p.as_ref()))
            }
            _ => None,
        }
    }

    /// Continues unwinding with the original panic payload (or a panic describing the error).
    ///
    /// ```
    /// use std::panic::{catch_unwind, AssertUnwindSafe};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// // Fail fast: a panic in any callback ends `run` (the loop stays usable).
    /// lp.set_error_hook(|_, e| e.resume_unwind());
    /// lp.call_soon(|_| panic!("fatal"));
    /// let result = catch_unwind(AssertUnwindSafe(|| lp.run()));
    /// assert!(result.is_err());
    /// lp.call_soon(|_| println!("runs again"));
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn resume_unwind(self) -> ! {
        match self {
            LoopError::CallbackPanic(p) | LoopError::TaskPanic(p) | LoopError::DropPanic(p) => {
                std::panic::resume_unwind(p)
            }
            other => panic!("{other}"),
        }
    }
}

pub(crate) fn payload_str(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

impl fmt::Display for LoopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoopError::CallbackPanic(p) => {
                write!(f, "callback panicked: {}", payload_str(p.as_ref()))
            }
            LoopError::TaskPanic(p) => {
                write!(f, "detached task panicked: {}", payload_str(p.as_ref()))
            }
            LoopError::Interest(id, e) => write!(f, "changing the interest of {id:?} failed: {e}"),
            LoopError::UnobservedRejection(e) => {
                write!(f, "promise rejection was never observed: {e}")
            }
            LoopError::DropPanic(p) => {
                write!(
                    f,
                    "dropping user data panicked: {}",
                    payload_str(p.as_ref())
                )
            }
            LoopError::Stalled => f.write_str(
                "block_on is waiting for a future that nothing can wake (no queued work, timers, \
                 sockets, watchers, keep-alive guards, remote handles or blocking jobs, and its \
                 waker was never cloned): it will wait forever",
            ),
            LoopError::Slow {
                what,
                took,
                threshold,
            } => write!(
                f,
                "slow: {what} held the loop for {:.1} ms (debug mode warns at {} ms)",
                took.as_secs_f64() * 1e3,
                threshold.as_millis()
            ),
        }
    }
}

impl fmt::Debug for LoopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LoopError({self})")
    }
}
