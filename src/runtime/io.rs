//! Registering sources with the poller: watchers and async I/O resources.
//!
//! A source's `register`, `reregister` and `deregister` are `mio::event::Source` methods, which a
//! user type implements as it likes (it may open a socket, arm a timer, or watch another source
//! from there). So none of them runs while the driver is borrowed: the reactor reserves or lends a
//! slot in one borrow, the source is (re-, de-)registered with none, and the slot is filled or
//! given back in another. A panic of one of these methods is caught, the slot put back in order,
//! and the panic continued in the call that made it (or reported, from the loop's own dispatch).

use std::io;
use std::rc::Rc;

use mio::event::Source;
use mio::Interest;

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use super::core::Core;
use super::guard::catch;
use super::trash::Panic;
use super::watch::Watch;
use crate::driver::reactor::{Finish, IoKey, IoState, SetInterest, Unwatch, WatcherId};

/// Continues a panic of a source's method in the user's own call, once the loop is consistent.
fn resume(panic: Option<Panic>) {
    if let Some(p) = panic {
        resume_unwind(p);
    }
}

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
        let registered = catch_unwind(AssertUnwindSafe(|| {
            self.registry.register(watch.source(), token, interest)
        }));
        if !matches!(registered, Ok(Ok(()))) {
            self.with(|d| d.reactor.unreserve(id.key, id.gen));
            self.discard(watch);
            return registered.unwrap_or_else(|p| resume_unwind(p)).map(|()| id);
        }
        let finish = self.with(|d| d.reactor.fill(id, watch));
        let (result, panic) = self.finish_watch(id, finish);
        if result.is_err() || panic.is_some() {
            // The caller gets no id: the watcher must not stay behind, unreachable.
            self.unwatch(id);
        }
        resume(panic);
        result.map(|()| id)
    }

    /// Completes giving a lent watch back: deregisters and drops a removed one, re-registers one
    /// whose interest changed meanwhile (again until it stays), all with no borrow held. A panic of
    /// the source's methods is caught and handed back, with the watch back in its slot (or
    /// dropped, if it was removed).
    pub(crate) fn finish_watch(
        &self,
        id: WatcherId,
        mut finish: Finish<Watch>,
    ) -> (io::Result<()>, Option<Panic>) {
        let mut result = Ok(());
        let mut panic = None;
        loop {
            match finish {
                Finish::Kept => return (result, panic),
                Finish::Removed(mut w) => {
                    if let Some(p) = catch(|| drop(self.registry.deregister(w.source()))) {
                        panic.get_or_insert(p);
                    }
                    self.discard(w);
                    return (result, panic);
                }
                Finish::Reregister(mut w, token, interest) => {
                    match catch_unwind(AssertUnwindSafe(|| {
                        self.registry.reregister(w.source(), token, interest)
                    })) {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => result = Err(e),
                        Err(p) => {
                            panic.get_or_insert(p);
                        }
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
                let result = catch_unwind(AssertUnwindSafe(|| {
                    self.registry.reregister(w.source(), token, interest)
                }));
                let finish = self.with(|d| d.reactor.finish(id.key, id.gen, w));
                let (later, panic) = self.finish_watch(id, finish);
                let result = result.unwrap_or_else(|p| resume_unwind(p));
                resume(panic);
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
            Unwatch::Removed(w) => {
                let (_, panic) = self.finish_watch(id, Finish::Removed(w));
                resume(panic);
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
