//! The reactor's storage: the `mio` poller and what is registered with it, turned into queue
//! entries and task wake-ups.
//!
//! Two kinds of source are registered here:
//!
//! - **Watchers** (the callback API): the slot owns a watch `W` (a source plus its callback). A
//!   readiness event becomes an I/O entry in the message queue; the runtime later takes the watch
//!   out of its slot, runs it with no borrow held, and puts it back.
//! - **I/O resources** (the async socket types): the socket owns itself; the slot keeps its
//!   readiness state, with the wakers of the tasks waiting to read and to write. An event sets the
//!   bits and hands those wakers to the runtime, which queues their tasks.
//!
//! This module never touches a source: registering, re-registering and deregistering call the
//! source's own `mio::event::Source` methods, which may be user code, so the runtime does them
//! with no borrow held, between a `reserve_*` (or a `lend`) and a `fill` (or `finish`). A watch is
//! never dropped here either: whatever leaves a slot is handed back.
//!
//! A token is the slab key in its low 32 bits and a generation in its high 32 bits. A slot freed and
//! reused within one batch of events gets a new generation, so a stale event never reaches the new
//! occupant.

use std::io;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use mio::{Events, Interest, Registry, Token};
use slab::Slab;

use super::queue::{Entry, Queue};

mod io_state;
mod precise;
mod ready;

pub(crate) use io_state::IoState;
use precise::{PreciseTimer, PRECISE_TOKEN};
pub use ready::{IoEvent, Ready, WatcherId};

/// The token of the cross-thread waker.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

const EVENTS_CAPACITY: usize = 1024;

enum Kind<W> {
    /// `watch`: the watch is `None` while it is lent out (its callback runs, or its source is being
    /// registered or re-registered).
    Callback {
        watch: Option<W>,
        /// An interest change asked for while the watch was lent out.
        pending_interest: Option<Interest>,
        /// `unwatch` called while the watch was lent out.
        removed: bool,
    },
    Io(Rc<IoState>),
}

struct Slot<W> {
    gen: u32,
    keep_alive: bool,
    kind: Kind<W>,
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

/// The registration of one async I/O resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoKey {
    pub(crate) key: u32,
    pub(crate) gen: u32,
}

/// What becomes of a lent watch when it is given back.
pub(crate) enum Finish<W> {
    /// Back in its slot.
    Kept,
    /// It was removed meanwhile (or its slot is gone): deregister its source and drop it, with no
    /// borrow held.
    Removed(W),
    /// An interest change is pending: re-register its source with this token and interest (no
    /// borrow held), then give it back again.
    Reregister(W, Token, Interest),
}

/// What `set_interest` found.
pub(crate) enum SetInterest<W> {
    /// No such watcher.
    NotFound,
    /// It is lent out: the change applies when it is given back.
    Deferred,
    /// Lent for the change: re-register with this token, then give it back with `finish`.
    Lent(W, Token),
}

/// What `unwatch` found.
pub(crate) enum Unwatch<W> {
    /// No such watcher (or an I/O resource, or already removed).
    NotFound,
    /// It is lent out: removed when it is given back.
    Deferred,
    /// Removed: deregister its source and drop it, with no borrow held.
    Removed(W),
}

/// The loop's poller and everything registered with it. `W` is the watch type.
pub(crate) struct Reactor<W> {
    poll: mio::Poll,
    events: Events,
    slots: Slab<Slot<W>>,
    next_gen: u32,
    /// Registrations that keep the loop alive: changed only through `count_ref`.
    referenced: usize,
    /// For waits shorter than a millisecond.
    precise: PreciseTimer,
    /// Events returned by the poller so far, the loop's own wake-ups (cross-thread, precise
    /// timer) included (for the metrics:
    /// a plain field of the borrowed reactor is the cheapest place to count them).
    pub(crate) events_seen: u64,
}

fn token(key: u32, gen: u32) -> Token {
    Token(((gen as usize) << 32) | key as usize)
}

fn split(token: Token) -> (u32, u32) {
    (token.0 as u32, (token.0 >> 32) as u32)
}

impl<W> Reactor<W> {
    /// The poller and a registry for it, which the runtime keeps outside this (borrowed) storage
    /// so that sources register with no borrow held.
    pub(crate) fn new() -> io::Result<(Reactor<W>, Registry)> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let precise = PreciseTimer::new(poll.registry());
        let reactor = Reactor {
            poll,
            events: Events::with_capacity(EVENTS_CAPACITY),
            slots: Slab::new(),
            next_gen: 1,
            referenced: 0,
            precise,
            events_seen: 0,
        };
        Ok((reactor, registry))
    }

    /// Makes the next [`poll_io`](Self::poll_io) with no timeout end `remaining` from now, to the
    /// nanosecond, for the timer deadline `deadline`; false if it cannot (then wait with a
    /// rounded timeout). See `precise.rs`.
    pub(crate) fn arm_precise(&mut self, deadline: u64, remaining: Duration) -> bool {
        self.precise.arm(deadline, remaining)
    }

    /// The epoll (or kqueue) descriptor, for a host loop that polls it.
    pub(crate) fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.poll.as_raw_fd()
    }

    pub(crate) fn is_referenced(&self) -> bool {
        self.referenced > 0
    }

    /// Number of registered watchers and resources.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Registered callback watchers and async I/O resources, for a report of what is left.
    pub(crate) fn kinds(&self) -> (usize, usize) {
        let watchers = self
            .slots
            .iter()
            .filter(|(_, s)| matches!(s.kind, Kind::Callback { .. }))
            .count();
        (watchers, self.slots.len() - watchers)
    }

    fn count_ref(&mut self, was: bool, now: bool) {
        match (was, now) {
            (false, true) => self.referenced += 1,
            (true, false) => self.referenced -= 1,
            _ => {}
        }
    }

    fn reserve(&mut self, kind: Kind<W>) -> io::Result<(u32, u32)> {
        let key = u32::try_from(self.slots.vacant_key())
            .ok()
            .filter(|k| *k != u32::MAX)
            .ok_or_else(|| io::Error::other("too many registered I/O sources"))?;
        // The generation's low bit tells the kind, so an event for a callback watcher is queued
        // without looking at its slot (the dispatch checks the generation anyway).
        let count = self.next_gen;
        self.next_gen = if count >= u32::MAX >> 1 { 1 } else { count + 1 };
        let gen = (count << 1) | u32::from(matches!(kind, Kind::Io(_)));
        self.slots.insert(Slot {
            gen,
            keep_alive: false,
            kind,
        });
        self.set_keep_alive(key, gen, true);
        Ok((key, gen))
    }

    /// A slot for a new watcher, lent out until [`fill`](Self::fill): register its source with
    /// the token, then fill the slot, or [`unreserve`](Self::unreserve) it if that failed.
    pub(crate) fn reserve_watch(&mut self) -> io::Result<(WatcherId, Token)> {
        let (key, gen) = self.reserve(Kind::Callback {
            watch: None,
            pending_interest: None,
            removed: false,
        })?;
        Ok((WatcherId { key, gen }, token(key, gen)))
    }

    /// Puts a newly registered watch in its reserved slot.
    pub(crate) fn fill(&mut self, id: WatcherId, w: W) -> Finish<W> {
        self.finish(id.key, id.gen, w)
    }

    /// A slot for an async I/O resource: register it with the token (both directions), or
    /// [`unreserve`](Self::unreserve) the slot if that failed.
    pub(crate) fn reserve_io(&mut self, state: Rc<IoState>) -> io::Result<(IoKey, Token)> {
        let (key, gen) = self.reserve(Kind::Io(state))?;
        Ok((IoKey { key, gen }, token(key, gen)))
    }

    /// Frees a slot whose registration failed.
    pub(crate) fn unreserve(&mut self, key: u32, gen: u32) {
        self.remove_slot(key, gen);
    }

    /// Removes an async I/O resource (its source already deregistered); hands back its state,
    /// which may hold wakers, to be dropped with no borrow held.
    pub(crate) fn remove_io(&mut self, io: IoKey) -> Option<Rc<IoState>> {
        match self.remove_slot(io.key, io.gen)?.kind {
            Kind::Io(state) => Some(state),
            Kind::Callback { .. } => None,
        }
    }

    fn remove_slot(&mut self, key: u32, gen: u32) -> Option<Slot<W>> {
        self.slots.get(key as usize).filter(|s| s.gen == gen)?;
        let slot = self.slots.remove(key as usize);
        self.count_ref(slot.keep_alive, false);
        Some(slot)
    }

    /// Waits for events (an `EINTR` ends the wait with none: the turn then computes its wait again) and routes them: watcher events
    /// into `queue`, the wakers of tasks waiting on resources to `wake`. Counts them in
    /// `events_seen`.
    #[inline(always)]
    pub(crate) fn poll_io<C>(
        &mut self,
        timeout: Option<Duration>,
        queue: &mut Queue<C>,
        mut wake: impl FnMut(&mut Queue<C>, Waker),
    ) -> io::Result<()> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            // A signal cut the wait short: a turn with no events, after which the loop computes its
            // wait again (so no clock is read here for a retry's remaining time).
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.events.clear(),
            Err(e) => return Err(e),
        }
        let mut n = 0;
        for event in self.events.iter() {
            n += 1;
            if event.token() == WAKER_TOKEN {
                continue;
            }
            if event.token() == PRECISE_TOKEN {
                self.precise.expired();
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
            }) = self.slots.get(key as usize).filter(|s| s.gen == gen)
            {
                state.set_ready(ready, |w| wake(queue, w));
            }
        }
        self.events_seen += n;
        Ok(())
    }

    /// Lends a watcher's watch out for dispatch, if the event is not stale.
    #[inline]
    pub(crate) fn take_watch(&mut self, key: u32, gen: u32) -> Option<W> {
        match self.slots.get_mut(key as usize) {
            Some(Slot {
                gen: g,
                kind: Kind::Callback { watch, .. },
                ..
            }) if *g == gen => watch.take(),
            _ => None,
        }
    }

    /// Gives a lent watch back, applying what was asked for meanwhile.
    #[inline]
    pub(crate) fn finish(&mut self, key: u32, gen: u32, w: W) -> Finish<W> {
        // The common case, inline: nobody removed the watcher or changed its interest.
        if let Some(Slot {
            gen: g,
            kind:
                Kind::Callback {
                    watch: watch @ None,
                    pending_interest: None,
                    removed: false,
                },
            ..
        }) = self.slots.get_mut(key as usize)
        {
            if *g == gen {
                *watch = Some(w);
                return Finish::Kept;
            }
        }
        self.finish_changed(key, gen, w)
    }

    #[cold]
    fn finish_changed(&mut self, key: u32, gen: u32, w: W) -> Finish<W> {
        let Some(slot) = self.slots.get_mut(key as usize).filter(|s| s.gen == gen) else {
            return Finish::Removed(w);
        };
        match &mut slot.kind {
            Kind::Callback { removed: true, .. } | Kind::Io(_) => {
                self.remove_slot(key, gen);
                Finish::Removed(w)
            }
            Kind::Callback {
                watch,
                pending_interest,
                ..
            } => match pending_interest.take() {
                Some(interest) => Finish::Reregister(w, token(key, gen), interest),
                None if watch.is_none() => {
                    *watch = Some(w);
                    Finish::Kept
                }
                // Not reached: a slot holds one watch, and only a lent one comes back.
                None => Finish::Removed(w),
            },
        }
    }

    /// Changes a watcher's interest: lends the watch out for it, or defers the change until the
    /// lent watch is given back.
    pub(crate) fn set_interest(&mut self, id: WatcherId, interest: Interest) -> SetInterest<W> {
        match self.slots.get_mut(id.key as usize) {
            Some(Slot {
                gen,
                kind:
                    Kind::Callback {
                        watch,
                        pending_interest,
                        removed: false,
                    },
                ..
            }) if *gen == id.gen => match watch.take() {
                Some(w) => SetInterest::Lent(w, token(id.key, id.gen)),
                None => {
                    *pending_interest = Some(interest);
                    SetInterest::Deferred
                }
            },
            _ => SetInterest::NotFound,
        }
    }

    /// Removes a watcher: hands it back, or marks it to be removed when its lent watch comes back.
    pub(crate) fn unwatch(&mut self, id: WatcherId) -> Unwatch<W> {
        let Some(slot) = self
            .slots
            .get_mut(id.key as usize)
            .filter(|s| s.gen == id.gen)
        else {
            return Unwatch::NotFound;
        };
        match &mut slot.kind {
            Kind::Callback { removed: true, .. } | Kind::Io(_) => Unwatch::NotFound,
            Kind::Callback {
                watch: None,
                removed,
                ..
            } => {
                *removed = true;
                Unwatch::Deferred
            }
            Kind::Callback { watch: Some(_), .. } => match self.remove_slot(id.key, id.gen) {
                Some(Slot {
                    kind: Kind::Callback { watch: Some(w), .. },
                    ..
                }) => Unwatch::Removed(w),
                _ => unreachable!("matched above"),
            },
        }
    }

    /// Marks whether a watcher or resource keeps the loop alive; false if it is gone.
    pub(crate) fn set_keep_alive(&mut self, key: u32, gen: u32, keep: bool) -> bool {
        let Some(slot) = self.slots.get_mut(key as usize).filter(|s| s.gen == gen) else {
            return false;
        };
        let was = std::mem::replace(&mut slot.keep_alive, keep);
        self.count_ref(was, keep);
        true
    }

    /// Removes every watcher and resource, for the loop's drop: the watches to deregister and drop,
    /// and the resources' states (which may hold wakers) to drop, all with no borrow held.
    pub(crate) fn clear(&mut self) -> (Vec<W>, Vec<Rc<IoState>>) {
        self.referenced = 0;
        let mut watches = Vec::new();
        let mut states = Vec::new();
        for slot in self.slots.drain() {
            match slot.kind {
                Kind::Callback { watch: Some(w), .. } => watches.push(w),
                Kind::Callback { watch: None, .. } => {}
                Kind::Io(state) => states.push(state),
            }
        }
        (watches, states)
    }
}
