//! The per-loop side of signals: each loop with listeners holds one [`WakeSlot`], watches its
//! read end with its own reactor (a watcher that does not keep the loop alive), and on each
//! wake-up wakes those of its listeners whose signal's counter moved. The registry is per thread
//! (a loop and its listeners belong to one thread), so no lock is taken for listeners' wakers.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::task::Waker;

use libc::c_int;
use mio::Interest;
use slab::Slab;

use crate::driver::signal::{self as sys, WakeSlot};
use crate::event_loop::Handle;
use crate::reactor::{FdSource, WatcherId};

/// What a listener shares with the loop that wakes it.
pub(crate) struct Entry {
    signum: c_int,
    /// The signal's counter as of the last delivery reported (or the registration).
    seen: Cell<u64>,
    /// The waker of the latest poll, until woken.
    waker: RefCell<Option<Waker>>,
}

impl Entry {
    pub(crate) fn new(signum: c_int) -> Entry {
        Entry {
            signum,
            seen: Cell::new(0),
            waker: RefCell::new(None),
        }
    }

    /// Sets the count the deliveries to report come after.
    pub(crate) fn set_seen(&self, seen: u64) {
        self.seen.set(seen);
    }

    /// Whether the signal arrived since the last delivery reported; if so it is reported now.
    pub(crate) fn take_delivery(&self) -> bool {
        let now = sys::deliveries(self.signum);
        if now != self.seen.get() {
            self.seen.set(now);
            true
        } else {
            false
        }
    }

    fn moved(&self) -> bool {
        sys::deliveries(self.signum) != self.seen.get()
    }

    /// Stores `waker` unless the stored one would wake the same task; hands back the one it
    /// replaced (to be dropped with no borrow held).
    pub(crate) fn set_waker(&self, waker: &Waker) -> Option<Waker> {
        if self
            .waker
            .borrow()
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
        {
            return None;
        }
        // Cloned with the slot free: a foreign waker's `clone` is user code.
        let new = waker.clone();
        self.waker.borrow_mut().replace(new)
    }

    /// Takes the stored waker (to be dropped with no borrow held).
    pub(crate) fn take_waker(&self) -> Option<Waker> {
        self.waker.borrow_mut().take()
    }
}

/// One loop's listeners and its wake slot's watcher.
struct LoopSignals {
    handle: Handle,
    watcher: Cell<Option<WatcherId>>,
    listeners: RefCell<Slab<Rc<Entry>>>,
}

thread_local! {
    /// The loops of this thread that have listeners.
    static LOOPS: RefCell<Vec<Weak<LoopSignals>>> = const { RefCell::new(Vec::new()) };
}

/// The source of the wake watcher: the slot's read end. Dropping it (with the watcher, when the
/// last listener goes or the loop is dropped) gives the slot back.
struct WakeSource {
    slot: WakeSlot,
}

impl AsRawFd for WakeSource {
    fn as_raw_fd(&self) -> RawFd {
        self.slot.read_fd()
    }
}

impl LoopSignals {
    /// `handle`'s registry, or a new one (with a slot and its watcher).
    fn of(handle: &Handle) -> io::Result<Rc<LoopSignals>> {
        let found = LOOPS.with(|loops| {
            let mut loops = loops.borrow_mut();
            loops.retain(|w| w.strong_count() > 0);
            loops
                .iter()
                .filter_map(Weak::upgrade)
                .find(|l| l.handle.same_loop(handle))
        });
        if let Some(found) = found {
            return Ok(found);
        }
        if handle.is_closed() {
            return Err(io::Error::other("evloop: the event loop has been dropped"));
        }
        let slot = WakeSlot::acquire()?;
        let signals = Rc::new(LoopSignals {
            handle: handle.clone(),
            watcher: Cell::new(None),
            listeners: RefCell::new(Slab::new()),
        });
        let weak = Rc::downgrade(&signals);
        let id = handle.watch(
            FdSource(WakeSource { slot }),
            Interest::READABLE,
            move |_, source, _| {
                // Drained before looking at the counters: a signal after the drain makes the
                // read end readable again.
                source.0.slot.drain();
                if let Some(signals) = weak.upgrade() {
                    signals.wake_moved();
                }
            },
        )?;
        // Listeners keep the loop alive (or not) themselves.
        handle.set_watcher_keep_alive(id, false);
        signals.watcher.set(Some(id));
        LOOPS.with(|loops| loops.borrow_mut().push(Rc::downgrade(&signals)));
        Ok(signals)
    }

    /// Wakes the listeners whose signal arrived since they last reported one, with no borrow
    /// held.
    fn wake_moved(&self) {
        let wake: Vec<Waker> = self
            .listeners
            .borrow()
            .iter()
            .filter(|(_, e)| e.moved())
            .filter_map(|(_, e)| e.take_waker())
            .collect();
        for w in wake {
            w.wake();
        }
    }
}

impl Drop for LoopSignals {
    fn drop(&mut self) {
        // Drops the watcher, whose source gives the slot back. (If the loop was dropped, so was
        // the watcher, and this finds nothing.)
        if let Some(id) = self.watcher.take() {
            self.handle.unwatch(id);
        }
    }
}

/// A listener's place in one loop's registry; dropping it leaves the registry (and the last one
/// to leave gives the loop's slot back).
pub(crate) struct Attachment {
    signals: Rc<LoopSignals>,
    key: usize,
}

impl Attachment {
    /// Adds `entry` to `handle`'s loop's listeners.
    ///
    /// # Errors
    ///
    /// If the loop was dropped, if too many loops listen for signals at once, or if the slot
    /// cannot be made or watched.
    pub(crate) fn new(handle: &Handle, entry: &Rc<Entry>) -> io::Result<Attachment> {
        let signals = LoopSignals::of(handle)?;
        let key = signals.listeners.borrow_mut().insert(entry.clone());
        Ok(Attachment { signals, key })
    }

    /// Whether this is a place in `handle`'s loop.
    pub(crate) fn in_loop(&self, handle: &Handle) -> bool {
        self.signals.handle.same_loop(handle)
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let removed = self.signals.listeners.borrow_mut().try_remove(self.key);
        drop(removed);
    }
}
