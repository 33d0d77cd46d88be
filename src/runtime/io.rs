//! Registering sources with the poller: watchers and async I/O resources.
//!
//! A source's `register`, `reregister` and `deregister` are `mio::event::Source` methods, which a
//! user type implements as it likes (it may open a socket, arm a timer, or watch another source
//! from there). So none of them runs while the driver is borrowed: the reactor reserves or lends a
//! slot in one borrow, the source is (re-, de-)registered with none, and the slot is filled or
//! given back in another.

use std::io;
use std::rc::Rc;

use mio::event::Source;
use mio::Interest;

use super::core::Core;
use super::watch::Watch;
use crate::driver::reactor::{Finish, IoKey, IoState, SetInterest, Unwatch, WatcherId};

/// The error for work given to a loop that is being dropped or was dropped.
pub(crate) fn closed() -> io::Error {
    io::Error::other("evloop: the event loop has been dropped")
}

impl Core {
    /// Registers a watcher that owns its source and callback.
    pub(crate) fn watch(&self, mut watch: Watch, interest: Interest) -> io::Result<WatcherId> {
        if !self.is_open() {
            self.discard(watch);
            return Err(closed());
        }
        let reserved = self.with(|d| d.reactor.reserve_watch());
        let (id, token) = match reserved {
            Ok(r) => r,
            Err(e) => {
                self.discard(watch);
                return Err(e);
            }
        };
        if let Err(e) = self.registry.register(watch.source(), token, interest) {
            self.with(|d| d.reactor.unreserve(id.key, id.gen));
            self.discard(watch);
            return Err(e);
        }
        let finish = self.with(|d| d.reactor.fill(id, watch));
        self.finish_watch(id, finish)?;
        Ok(id)
    }

    /// Completes giving a lent watch back: deregisters and drops a removed one, re-registers one
    /// whose interest changed meanwhile (again until it stays), all with no borrow held.
    pub(crate) fn finish_watch(&self, id: WatcherId, mut finish: Finish<Watch>) -> io::Result<()> {
        let mut result = Ok(());
        loop {
            match finish {
                Finish::Kept => return result,
                Finish::Removed(mut w) => {
                    let _ = self.registry.deregister(w.source());
                    self.discard(w);
                    return result;
                }
                Finish::Reregister(mut w, token, interest) => {
                    if let Err(e) = self.registry.reregister(w.source(), token, interest) {
                        result = Err(e);
                    }
                    finish = self.with(|d| d.reactor.finish(id.key, id.gen, w));
                }
            }
        }
    }

    /// Changes a watcher's interest; deferred until its callback returns if it is running.
    pub(crate) fn set_interest(&self, id: WatcherId, interest: Interest) -> io::Result<()> {
        match self.with(|d| d.reactor.set_interest(id, interest)) {
            SetInterest::NotFound => {
                Err(io::Error::new(io::ErrorKind::NotFound, "no such watcher"))
            }
            SetInterest::Deferred => Ok(()),
            SetInterest::Lent(mut w, token) => {
                let result = self.registry.reregister(w.source(), token, interest);
                let finish = self.with(|d| d.reactor.finish(id.key, id.gen, w));
                let later = self.finish_watch(id, finish);
                result.and(later)
            }
        }
    }

    /// Removes a watcher: deregisters and drops its source and callback (from inside its own
    /// callback, once the callback returns). Returns whether it existed.
    pub(crate) fn unwatch(&self, id: WatcherId) -> bool {
        match self.with(|d| d.reactor.unwatch(id)) {
            Unwatch::NotFound => false,
            Unwatch::Deferred => true,
            Unwatch::Removed(mut w) => {
                let _ = self.registry.deregister(w.source());
                self.discard(w);
                true
            }
        }
    }

    /// Registers an async I/O resource for both directions; the caller keeps the source and the
    /// returned readiness state.
    pub(crate) fn register_io(&self, source: &mut dyn Source) -> io::Result<(IoKey, Rc<IoState>)> {
        if !self.is_open() {
            return Err(closed());
        }
        let state = Rc::new(IoState::new());
        let (key, token) = self.with(|d| d.reactor.reserve_io(state.clone()))?;
        let both = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.registry.register(source, token, both) {
            self.with(|d| d.reactor.unreserve(key.key, key.gen));
            return Err(e);
        }
        Ok((key, state))
    }

    /// Deregisters an async I/O resource.
    pub(crate) fn deregister_io(&self, io: IoKey, source: &mut dyn Source) {
        let _ = self.registry.deregister(source);
        if let Some(state) = self.with(|d| d.reactor.remove_io(io)) {
            // Its wakers (a foreign one's drop is user code) go with no borrow held.
            self.discard(state);
        }
    }
}
