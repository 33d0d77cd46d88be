//! A watcher as the runtime stores it: a source and its callback, with their types erased.

use mio::event::Source;

use super::debug::Site;
use super::Handle;
use crate::driver::reactor::IoEvent;

/// What the reactor stores for a watcher (see [`Handle::watch`]).
pub(crate) type Watch = Box<dyn ErasedWatch>;

/// A watcher with its types erased, so the reactor can store any of them.
pub(crate) trait ErasedWatch {
    fn dispatch(&mut self, handle: &Handle, event: IoEvent);
    fn source(&mut self) -> &mut dyn Source;
    /// Where it was registered, if debug mode was on then (our field, not user code).
    fn site(&self) -> Option<Site>;
}

/// A source and the callback that handles its readiness.
pub(crate) struct Watcher<S, F> {
    pub(crate) source: S,
    pub(crate) callback: F,
    /// Where it was registered, noted in debug mode only.
    pub(crate) site: Option<Site>,
}

impl<S, F> ErasedWatch for Watcher<S, F>
where
    S: Source,
    F: FnMut(&Handle, &mut S, IoEvent),
{
    fn dispatch(&mut self, handle: &Handle, event: IoEvent) {
        (self.callback)(handle, &mut self.source, event)
    }

    fn source(&mut self) -> &mut dyn Source {
        &mut self.source
    }

    fn site(&self) -> Option<Site> {
        self.site
    }
}
