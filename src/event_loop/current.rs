//! The thread's current loop, so library code can spawn and wake without a handle in hand.

use std::cell::RefCell;

use super::Handle;

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Runs `f` with the current loop of this thread, if any. Never panics, also during thread teardown.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    let mut f = Some(f);
    let r = CURRENT.try_with(|c| match c.try_borrow() {
        Ok(h) => (f.take().expect("called once"))(h.as_ref()),
        Err(_) => (f.take().expect("called once"))(None),
    });
    match r {
        Ok(r) => r,
        Err(_) => (f.take().expect("called once"))(None),
    }
}

/// Makes `handle` current unless another loop already is (the first loop of a thread stays current
/// while nothing runs).
pub(crate) fn set_default(handle: &Handle) {
    let _ = CURRENT.try_with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(handle.clone());
        }
    });
}

/// Forgets `handle` if it is current (the loop is being dropped).
pub(crate) fn unset(handle: &Handle) {
    let _ = CURRENT.try_with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_some_and(|h| h.same_loop(handle)) {
            *c = None;
        }
    });
}

/// While alive, `handle` is the current loop and is marked running; restores both on drop, also when
/// unwinding out of a panic, and clears any stop request.
pub(crate) struct Enter {
    handle: Handle,
    previous: Option<Handle>,
}

impl Enter {
    /// Enters the loop, or returns the error to report if it is already running on this thread (a
    /// nested `run` or `block_on` from inside a callback or task).
    pub(crate) fn new(handle: &Handle, what: &str) -> Result<Enter, String> {
        if handle.core.running.get() {
            return Err(format!(
                "evloop: {what} was called while this event loop is already running (from inside a \
                 callback or task); a loop cannot be run re-entrantly: await the future or queue \
                 the work instead"
            ));
        }
        handle.core.running.set(true);
        let previous = CURRENT
            .try_with(|c| c.borrow_mut().replace(handle.clone()))
            .ok()
            .flatten();
        Ok(Enter {
            handle: handle.clone(),
            previous,
        })
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        self.handle.core.running.set(false);
        // A stop request ends the run it was made in, also one that unwinds (an error hook that
        // resumes a panic): it must not make the next run return at once.
        self.handle.core.stopping.set(false);
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}
