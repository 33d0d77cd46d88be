//! The thread's current loop, so library code can spawn and wake without a handle in hand.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::core::Core;
use super::state::RunState;
use super::Handle;

/// The current loop's handle. Its destructor nulls `CURRENT_CORE` first, so that a waker woken later
/// in this thread's teardown never sees a dangling pointer.
struct Current(RefCell<Option<Handle>>);

impl Drop for Current {
    fn drop(&mut self) {
        let _ = CURRENT_CORE.try_with(|c| c.set(std::ptr::null()));
    }
}

thread_local! {
    static CURRENT: Current = const { Current(RefCell::new(None)) };
    /// # Invariant
    ///
    /// Always `Rc::as_ptr` of the core of the handle in `CURRENT`, or null when that is `None`:
    /// both are written only by [`replace`]. So while it is non-null, `CURRENT` keeps its core alive.
    static CURRENT_CORE: Cell<*const Core> = const { Cell::new(std::ptr::null()) };
}

/// Sets the current loop, returning the previous one.
fn replace(handle: Option<Handle>) -> Option<Handle> {
    let ptr = handle
        .as_ref()
        .map_or(std::ptr::null(), |h| Rc::as_ptr(&h.core));
    let result = CURRENT.try_with(|c| std::mem::replace(&mut *c.0.borrow_mut(), handle));
    // Torn down already: the handle was not stored, so no pointer may be published either.
    let ptr = if result.is_ok() {
        ptr
    } else {
        std::ptr::null()
    };
    let _ = CURRENT_CORE.try_with(|c| c.set(ptr));
    result.ok().flatten()
}

/// Runs `f` with the current loop's core, the waker's fast path: no reference count, no
/// `RefCell`. `f` must not change the current loop (it schedules a task; no user code runs).
#[inline]
pub(crate) fn with_current_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    let ptr = CURRENT_CORE.try_with(Cell::get).ok()?;
    if ptr.is_null() {
        return None;
    }
    // SAFETY: by the invariant of `CURRENT_CORE`, `CURRENT` holds an `Rc` to this core, and `f`
    // does not replace `CURRENT`, so the core outlives the call. Only shared access is created.
    Some(f(unsafe { &*ptr }))
}

/// Runs `f` with the current loop of this thread, if any. Never panics, also during thread teardown.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    let mut f = Some(f);
    let r = CURRENT.try_with(|c| match c.0.try_borrow() {
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
    if with_current(|c| c.is_none()) {
        replace(Some(handle.clone()));
    }
}

/// Forgets `handle` if it is current (the loop is being dropped).
pub(crate) fn unset(handle: &Handle) {
    if with_current(|c| c.is_some_and(|h| h.same_loop(handle))) {
        drop(replace(None));
    }
}

/// While alive, `handle` is the current loop and is in run state `state`; restores both on drop,
/// also when unwinding out of a panic (which also forgets a stop request: it ended the run it was
/// made in).
pub(crate) struct Enter {
    handle: Handle,
    previous: Option<Handle>,
}

impl Enter {
    /// Enters the loop, or returns the error to report if it is already running on this thread (a
    /// nested `run` or `block_on` from inside a callback or task).
    pub(crate) fn new(handle: &Handle, what: &str, state: RunState) -> Result<Enter, String> {
        let core = &handle.core;
        if core.run.get().is_running() {
            return Err(format!(
                "evloop: {what} was called while this event loop is already running (from inside a \
                 callback or task); a loop cannot be run re-entrantly: await the future or queue \
                 the work instead"
            ));
        }
        core.run.set(state);
        let previous = replace(Some(handle.clone()));
        Ok(Enter {
            handle: handle.clone(),
            previous,
        })
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        self.handle.core.run.set(RunState::Idle);
        // A loop dropped while this one ran (from one of its callbacks) is not current again.
        let previous = self.previous.take().filter(|h| h.core.is_open());
        drop(replace(previous));
    }
}
