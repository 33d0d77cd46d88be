//! The `SIGCHLD` fallback: how children are reaped where the kernel has no pidfds.
//!
//! Each loop that has such children gets one [`Hub`]: a [`Signal`] listener for `SIGCHLD` (made
//! with `set_keep_alive(false)`: it never keeps the loop alive by itself), the wakers of the
//! fallback children waiting in that loop, and the orphans (fallback children dropped before they
//! were reaped). A task of the loop polls the listener; on each delivery (deliveries coalesce: one
//! may stand for many exits) it wakes every waiting child, whose next poll reaps its own pid with
//! `WNOHANG` (`std::process::Child::try_wait`), and tries each orphan the same way. Nothing here
//! calls `waitpid(-1)`: children that other code spawned are never reaped behind its back, and the
//! standard library stays the only code that reaps ours (so its `kill` cannot reach a recycled
//! pid).
//!
//! **No lost exits.** The listener counts deliveries from its creation, and a child always tries
//! `try_wait` *after* it is registered with a hub whose listener exists: an exit that this try
//! misses raises a `SIGCHLD` that the hub sees and wakes it for.
//!
//! **Keeping the loop alive.** A waiting child holds a [`KeepAlive`] guard from its first poll
//! until it is reaped or dropped (as the blocking-pool job of the older fallback did); orphans and
//! the hub do not keep the loop alive (like the pidfd path's unreferenced orphan watchers).
//!
//! **Lifetime.** The hub's task ends, dropping the listener (and so, if it was the last `SIGCHLD`
//! listener, putting the previous disposition back), once no child waits and no orphan is left.
//! If the loop goes away first, the task is dropped and its orphans are handed to detached reaper
//! threads ([`reap_later`]).
//!
//! No user code runs under a borrow of a hub's state: wakers (which may be of any origin) are
//! moved out, and woken or dropped after the borrow has ended.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::reap::reap_later;
use crate::event_loop::{Handle, KeepAlive};
use crate::signal::unix::{Signal, SignalKind};

thread_local! {
    /// The hubs of this thread's loops (at most one live hub per loop). Weak: a hub is owned by
    /// its task and its waiting children. Borrowed only to look up or insert; nothing is dropped
    /// for good under the borrow (every entry kept is also owned elsewhere).
    static HUBS: RefCell<Vec<Weak<Hub>>> = const { RefCell::new(Vec::new()) };
}

/// One loop's `SIGCHLD` reaper; see the module docs.
pub(crate) struct Hub {
    /// Registered (with `keep_alive` off) before any child of this hub tries `try_wait`.
    signal: Signal,
    /// Its loop.
    handle: Handle,
    /// The task has ended (idle, refused, or dropped with its loop): take no more children.
    done: Cell<bool>,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// The waiting children's wakers (`None` once woken, until polled again).
    waiters: Slab<Option<Waker>>,
    /// Dropped children still running.
    orphans: Vec<std::process::Child>,
    /// The hub task's waker, to end it once the hub is idle.
    task: Option<Waker>,
}

impl Hub {
    /// This loop's live hub, or a new one (a new `SIGCHLD` listener and task).
    fn get(handle: &Handle) -> io::Result<Rc<Hub>> {
        if handle.is_closed() {
            return Err(io::Error::other("evloop: the event loop has been dropped"));
        }
        let found = HUBS.with(|hubs| {
            let mut hubs = hubs.borrow_mut();
            hubs.retain(|w| w.upgrade().is_some_and(|h| !h.done.get()));
            hubs.iter()
                .filter_map(Weak::upgrade)
                .find(|h| h.handle.same_loop(handle))
        });
        if let Some(hub) = found {
            return Ok(hub);
        }
        let signal = Signal::new(handle, SignalKind::child())?;
        signal.set_keep_alive(false);
        let hub = Rc::new(Hub {
            signal,
            handle: handle.clone(),
            done: Cell::new(false),
            state: RefCell::new(State::default()),
        });
        // Detached; a loop that is closing refuses it and drops it at once (see `Run::drop`).
        drop(handle.spawn(run(Run(hub.clone()))));
        if hub.done.get() {
            return Err(io::Error::other("evloop: the event loop is closing"));
        }
        let weak = Rc::downgrade(&hub);
        HUBS.with(|hubs| hubs.borrow_mut().push(weak));
        Ok(hub)
    }

    /// The task's poll: reacts to deliveries until the hub is idle.
    fn poll_task(&self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let delivered = self.signal.poll_shared(cx);
            if let Poll::Ready(Some(())) = delivered {
                self.on_sigchld();
                continue;
            }
            let mut state = self.state.borrow_mut();
            if delivered.is_ready() || (state.waiters.is_empty() && state.orphans.is_empty()) {
                // Idle (or the listener was closed, which ours never is): the next child starts a
                // new hub.
                self.done.set(true);
                let waker = state.task.take();
                drop(state);
                drop(waker);
                return Poll::Ready(());
            }
            let old = match &state.task {
                Some(w) if w.will_wake(cx.waker()) => None,
                _ => state.task.replace(cx.waker().clone()),
            };
            drop(state);
            drop(old);
            return Poll::Pending;
        }
    }

    /// A `SIGCHLD` (or several) arrived: wake the waiting children, reap the orphans that exited.
    fn on_sigchld(&self) {
        let (wakers, mut orphans) = {
            let mut state = self.state.borrow_mut();
            let wakers: Vec<Waker> = state
                .waiters
                .iter_mut()
                .filter_map(|(_, w)| w.take())
                .collect();
            (wakers, std::mem::take(&mut state.orphans))
        };
        for w in wakers {
            w.wake();
        }
        // Each for its own pid, `WNOHANG`.
        orphans.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        if !orphans.is_empty() {
            // Orphans adopted meanwhile (by code a waker ran) are kept too.
            self.state.borrow_mut().orphans.append(&mut orphans);
        }
    }

    /// Hands the orphans to reaper threads (the hub's task is gone).
    fn release_orphans(&self) {
        let orphans = std::mem::take(&mut self.state.borrow_mut().orphans);
        for child in orphans {
            reap_later(child);
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        // Normally empty: the task released them. Left only if it never ran.
        self.release_orphans();
    }
}

/// The hub's task, owning it; dropped unfinished (its loop going away), it lets the orphans go
/// to reaper threads.
struct Run(Rc<Hub>);

impl Drop for Run {
    fn drop(&mut self) {
        self.0.done.set(true);
        self.0.release_orphans();
        let waker = self.0.state.borrow_mut().task.take();
        drop(waker);
    }
}

async fn run(run: Run) {
    poll_fn(|cx| run.0.poll_task(cx)).await;
}

/// A fallback child waiting in a loop: woken by that loop's hub on each `SIGCHLD`. It keeps the
/// loop alive while it exists.
pub(crate) struct Registration {
    hub: Rc<Hub>,
    key: usize,
    _alive: KeepAlive,
}

impl Registration {
    /// Registers a waiting child with `handle`'s hub (starting one if needed). On return the hub's
    /// listener exists: an exit after this call is seen.
    pub(crate) fn new(handle: &Handle) -> io::Result<Registration> {
        let hub = Hub::get(handle)?;
        let key = hub.state.borrow_mut().waiters.insert(None);
        Ok(Registration {
            hub,
            key,
            _alive: handle.keep_alive(),
        })
    }

    /// Whether this registration is with `handle`'s loop, and its hub still runs (it does not
    /// once that loop was dropped: a child that outlived it registers again with the next).
    pub(crate) fn serves(&self, handle: &Handle) -> bool {
        !self.hub.done.get() && self.hub.handle.same_loop(handle)
    }

    /// Stores `waker`, to be woken on the next `SIGCHLD`.
    pub(crate) fn set_waker(&self, waker: &Waker) {
        let stored = match self.hub.state.borrow().waiters.get(self.key) {
            Some(Some(w)) => w.will_wake(waker),
            Some(None) => false,
            None => true, // gone: nothing to store
        };
        if stored {
            return;
        }
        // Cloned, and the old one dropped, with the state free: a foreign waker's code may run.
        let new = waker.clone();
        let old = match self.hub.state.borrow_mut().waiters.get_mut(self.key) {
            Some(slot) => slot.replace(new),
            None => Some(new),
        };
        drop(old);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let (old, task) = {
            let mut state = self.hub.state.borrow_mut();
            let old = state.waiters.try_remove(self.key).flatten();
            let idle = state.waiters.is_empty() && state.orphans.is_empty();
            (old, if idle { state.task.take() } else { None })
        };
        drop(old);
        // The last child left: the task ends its hub (unless another joins first).
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// Hands a dropped, still running fallback child to `handle`'s hub, which reaps it on a later
/// `SIGCHLD`; or gives it back if the loop cannot take it (closed, or no listener possible).
pub(crate) fn adopt(
    handle: &Handle,
    mut child: std::process::Child,
) -> Result<(), std::process::Child> {
    let Ok(hub) = Hub::get(handle) else {
        return Err(child);
    };
    // Tried again now that the listener exists: an exit from here on raises a delivery it sees.
    if !matches!(child.try_wait(), Ok(None)) {
        return Ok(());
    }
    hub.state.borrow_mut().orphans.push(child);
    Ok(())
}

#[cfg(test)]
/// Whether `handle`'s loop has a live hub (tests: it ends once idle).
pub(crate) fn has_hub(handle: &Handle) -> bool {
    HUBS.with(|hubs| {
        hubs.borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .any(|h| !h.done.get() && h.handle.same_loop(handle))
    })
}
