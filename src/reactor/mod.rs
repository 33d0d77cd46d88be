//! The reactor: OS readiness through `mio`, turned into queue entries and task wake-ups.
//!
//! Two kinds of source are registered here:
//!
//! - **Watchers** (the callback API): the reactor owns the source and a callback. A readiness event
//!   becomes an I/O entry in the message queue; the loop later takes the callback out of its slot,
//!   runs it with no borrow held, and puts it back.
//! - **I/O resources** (the async socket types): the socket owns itself; the reactor keeps its
//!   readiness bits and the wakers of the tasks waiting to read and to write. An event sets the bits
//!   and wakes those tasks, which is itself a queue entry per task.
//!
//! A token is the slab key in its low 32 bits and a generation in its high 32 bits. A slot freed and
//! reused within one batch of events gets a new generation, so a stale event never reaches the new
//! occupant.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Events, Interest, Registry, Token};
use slab::Slab;

use crate::queue::{Entry, Queue};

mod io_state;
mod ready;
pub(crate) mod watcher;

pub(crate) use io_state::IoState;
pub use ready::{IoEvent, Ready};
pub(crate) use watcher::ErasedWatch;
pub use watcher::{RawFdSource, WatcherId};

/// The token of the cross-thread waker.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

const EVENTS_CAPACITY: usize = 1024;

enum Kind {
    /// `watch`: the callback is `None` while it runs.
    Callback {
        watch: Option<Box<dyn ErasedWatch>>,
        /// An interest change asked for while the callback ran.
        pending_interest: Option<Interest>,
        /// `unwatch` called while the callback ran.
        removed: bool,
    },
    Io(Rc<IoState>),
}

struct Slot {
    gen: u32,
    keep_alive: bool,
    kind: Kind,
}

/// Which half of an I/O resource an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    #[inline]
    pub(crate) fn mask(self) -> Ready {
        match self {
            Direction::Read => Ready::READABLE | Ready::READ_CLOSED | Ready::ERROR,
            Direction::Write => Ready::WRITABLE | Ready::WRITE_CLOSED | Ready::ERROR,
        }
    }
}

/// The loop's poller and everything registered with it.
pub(crate) struct Reactor {
    poll: RefCell<mio::Poll>,
    events: RefCell<Events>,
    registry: Registry,
    slots: RefCell<Slab<Slot>>,
    next_gen: Cell<u32>,
    referenced: Cell<usize>,
    /// The loop was dropped: new watchers are refused.
    closed: Cell<bool>,
}

fn token(key: usize, gen: u32) -> Token {
    Token(((gen as usize) << 32) | key)
}

fn split(token: Token) -> (u32, u32) {
    (token.0 as u32, (token.0 >> 32) as u32)
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        Ok(Reactor {
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(EVENTS_CAPACITY)),
            registry,
            slots: RefCell::new(Slab::new()),
            next_gen: Cell::new(1),
            referenced: Cell::new(0),
            closed: Cell::new(false),
        })
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The epoll (or kqueue) descriptor, for a host loop that polls it.
    pub(crate) fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.poll.borrow().as_raw_fd()
    }

    pub(crate) fn is_referenced(&self) -> bool {
        self.referenced.get() > 0
    }

    /// Number of registered watchers and resources.
    pub(crate) fn len(&self) -> usize {
        self.slots.borrow().len()
    }

    fn insert(
        &self,
        kind: Kind,
        register: impl FnOnce(Token) -> io::Result<()>,
    ) -> io::Result<(u32, u32)> {
        let mut slots = self.slots.borrow_mut();
        let key = slots.vacant_key();
        let key32 = u32::try_from(key)
            .ok()
            .filter(|k| *k != u32::MAX)
            .ok_or_else(|| io::Error::other("too many registered I/O sources"))?;
        // The generation's low bit tells the kind, so an event for a callback watcher is queued
        // without looking at its slot (the dispatch checks the generation anyway).
        let count = self.next_gen.get();
        self.next_gen
            .set(if count >= u32::MAX >> 1 { 1 } else { count + 1 });
        let gen = (count << 1) | u32::from(matches!(kind, Kind::Io(_)));
        register(token(key, gen))?;
        slots.insert(Slot {
            gen,
            keep_alive: true,
            kind,
        });
        self.referenced.set(self.referenced.get() + 1);
        Ok((key32, gen))
    }

    /// Registers a watcher that owns its source and callback.
    pub(crate) fn watch(
        &self,
        mut watch: Box<dyn ErasedWatch>,
        interest: Interest,
    ) -> io::Result<WatcherId> {
        if self.closed.get() {
            return Err(io::Error::other("the event loop has been dropped"));
        }
        let registry = &self.registry;
        let empty = Kind::Callback {
            watch: None,
            pending_interest: None,
            removed: false,
        };
        let (key, gen) = self.insert(empty, |t| registry.register(watch.source(), t, interest))?;
        if let Some(Slot {
            kind: Kind::Callback { watch: w, .. },
            ..
        }) = self.slots.borrow_mut().get_mut(key as usize)
        {
            *w = Some(watch);
        }
        Ok(WatcherId { key, gen })
    }

    /// Registers an async I/O resource for both directions; the caller keeps the source and the
    /// returned readiness state.
    pub(crate) fn register_io(&self, source: &mut dyn Source) -> io::Result<(IoKey, Rc<IoState>)> {
        let registry = &self.registry;
        let state = Rc::new(IoState::new());
        let (key, gen) = self.insert(Kind::Io(state.clone()), |t| {
            registry.register(source, t, Interest::READABLE | Interest::WRITABLE)
        })?;
        Ok((IoKey { key, gen }, state))
    }

    /// Deregisters an async I/O resource.
    pub(crate) fn deregister_io(&self, io: IoKey, source: &mut dyn Source) {
        let _ = self.registry.deregister(source);
        let mut slots = self.slots.borrow_mut();
        if slots.get(io.key as usize).is_some_and(|s| s.gen == io.gen) {
            let slot = slots.remove(io.key as usize);
            if slot.keep_alive {
                self.referenced.set(self.referenced.get() - 1);
            }
        }
    }

    /// Waits for events (retrying `EINTR` with the remaining time) and routes them: watcher events
    /// into `queue`, the wakers of tasks waiting on resources to `wake`.
    pub(crate) fn poll_io(
        &self,
        timeout: Option<Duration>,
        queue: &mut Queue,
        mut wake: impl FnMut(&mut Queue, Waker),
    ) -> io::Result<()> {
        let mut poll = self.poll.borrow_mut();
        let mut events = self.events.borrow_mut();
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut timeout = timeout;
        loop {
            match poll.poll(&mut events, timeout) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    if let Some(d) = deadline {
                        timeout = Some(d.saturating_duration_since(Instant::now()));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let slots = self.slots.borrow();
        for event in events.iter() {
            if event.token() == WAKER_TOKEN {
                continue;
            }
            let (key, gen) = split(event.token());
            let ready = Ready::from_event(event);
            if gen & 1 == 0 {
                queue.push(Entry::Io { key, gen, ready });
                continue;
            }
            if let Some(Slot {
                kind: Kind::Io(state),
                ..
            }) = slots.get(key as usize).filter(|s| s.gen == gen)
            {
                state.set_ready(ready, |w| wake(queue, w));
            }
        }
        Ok(())
    }

    /// Takes a watcher's callback out for dispatch, if the event is not stale.
    #[inline]
    pub(crate) fn take_watch(&self, key: u32, gen: u32) -> Option<Box<dyn ErasedWatch>> {
        let mut slots = self.slots.borrow_mut();
        match slots.get_mut(key as usize) {
            Some(Slot {
                gen: g,
                kind: Kind::Callback { watch, .. },
                ..
            }) if *g == gen => watch.take(),
            _ => None,
        }
    }

    /// Puts a dispatched watcher back, applying what its callback asked for meanwhile. Returns the
    /// watcher if it was removed, for the caller to drop with no borrow held, and any error of a
    /// deferred interest change.
    #[inline]
    pub(crate) fn finish_watch(
        &self,
        key: u32,
        gen: u32,
        w: Box<dyn ErasedWatch>,
    ) -> (Option<Box<dyn ErasedWatch>>, io::Result<()>) {
        // The common case, inline: the callback neither removed its watcher nor changed interest.
        if let Some(Slot {
            gen: g,
            kind:
                Kind::Callback {
                    watch: watch @ None,
                    pending_interest: None,
                    removed: false,
                },
            ..
        }) = self.slots.borrow_mut().get_mut(key as usize)
        {
            if *g == gen {
                *watch = Some(w);
                return (None, Ok(()));
            }
        }
        self.finish_watch_changed(key, gen, w)
    }

    #[cold]
    fn finish_watch_changed(
        &self,
        key: u32,
        gen: u32,
        mut w: Box<dyn ErasedWatch>,
    ) -> (Option<Box<dyn ErasedWatch>>, io::Result<()>) {
        let mut slots = self.slots.borrow_mut();
        let Some(slot) = slots.get_mut(key as usize).filter(|s| s.gen == gen) else {
            return (Some(w), Ok(()));
        };
        let Kind::Callback {
            watch,
            pending_interest,
            removed,
        } = &mut slot.kind
        else {
            return (Some(w), Ok(()));
        };
        if *removed {
            let keep = slot.keep_alive;
            slots.remove(key as usize);
            if keep {
                self.referenced.set(self.referenced.get() - 1);
            }
            let _ = self.registry.deregister(w.source());
            return (Some(w), Ok(()));
        }
        let mut result = Ok(());
        if let Some(interest) = pending_interest.take() {
            result = self
                .registry
                .reregister(w.source(), token(key as usize, gen), interest);
        }
        *watch = Some(w);
        (None, result)
    }

    /// Changes a watcher's interest; deferred until its callback returns if it is running.
    pub(crate) fn set_interest(&self, id: WatcherId, interest: Interest) -> io::Result<()> {
        let mut slots = self.slots.borrow_mut();
        match slots.get_mut(id.key as usize) {
            Some(Slot {
                gen,
                kind:
                    Kind::Callback {
                        watch,
                        pending_interest,
                        removed: false,
                    },
                ..
            }) if *gen == id.gen => match watch {
                Some(w) => {
                    self.registry
                        .reregister(w.source(), token(id.key as usize, id.gen), interest)
                }
                None => {
                    *pending_interest = Some(interest);
                    Ok(())
                }
            },
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "no such watcher")),
        }
    }

    /// Removes a watcher. Returns it (deregistered) for the caller to drop, or `None` if it is gone or
    /// is running, in which case it is removed when its callback returns.
    pub(crate) fn unwatch(&self, id: WatcherId) -> (bool, Option<Box<dyn ErasedWatch>>) {
        let mut slots = self.slots.borrow_mut();
        let Some(slot) = slots.get_mut(id.key as usize).filter(|s| s.gen == id.gen) else {
            return (false, None);
        };
        match &mut slot.kind {
            Kind::Callback { removed: true, .. } | Kind::Io(_) => (false, None),
            Kind::Callback {
                watch: None,
                removed,
                ..
            } => {
                *removed = true;
                (true, None)
            }
            Kind::Callback { watch: Some(_), .. } => {
                let slot = slots.remove(id.key as usize);
                if slot.keep_alive {
                    self.referenced.set(self.referenced.get() - 1);
                }
                let Kind::Callback {
                    watch: Some(mut w), ..
                } = slot.kind
                else {
                    unreachable!("matched above")
                };
                let _ = self.registry.deregister(w.source());
                (true, Some(w))
            }
        }
    }

    /// Marks whether a watcher or resource keeps the loop alive; false if it is gone.
    pub(crate) fn set_keep_alive(&self, key: u32, gen: u32, keep: bool) -> bool {
        let mut slots = self.slots.borrow_mut();
        let Some(slot) = slots.get_mut(key as usize).filter(|s| s.gen == gen) else {
            return false;
        };
        let was = std::mem::replace(&mut slot.keep_alive, keep);
        match (was, keep) {
            (false, true) => self.referenced.set(self.referenced.get() + 1),
            (true, false) => self.referenced.set(self.referenced.get() - 1),
            _ => {}
        }
        true
    }

    /// Removes every watcher (deregistered) and resource, for the loop's drop. Returns what must be
    /// dropped with no borrow held.
    pub(crate) fn clear(&self) -> (Vec<Box<dyn ErasedWatch>>, Vec<Waker>) {
        self.closed.set(true);
        let drained: Vec<Slot> = self.slots.borrow_mut().drain().collect();
        self.referenced.set(0);
        let mut watches = Vec::new();
        let mut wakers = Vec::new();
        for slot in drained {
            match slot.kind {
                Kind::Callback {
                    watch: Some(mut w), ..
                } => {
                    let _ = self.registry.deregister(w.source());
                    watches.push(w);
                }
                Kind::Callback { watch: None, .. } => {}
                Kind::Io(state) => state.take_wakers(&mut wakers),
            }
        }
        (watches, wakers)
    }
}

/// The registration of one async I/O resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoKey {
    pub(crate) key: u32,
    pub(crate) gen: u32,
}
