//! The one place where user data that left the loop's containers is dropped: libuv's
//! closing-handles phase, for one value at a time.
//!
//! [`dispose`] drops a value with no borrow held (its callers have ended theirs) and under
//! `catch_unwind`, so a panicking `Drop` is reported and leaves the loop consistent. Drops nest:
//! dropping a callback can drop a resolver, which settles a promise, which drops the next link of
//! a chain... Each nested `dispose` only parks its value on a thread-local list, and the outermost
//! one drops the list's values one by one, so the stack stays flat however long the chain (a
//! recursive drop of 200,000 promise links would overflow it).
//!
//! During thread teardown the list may be gone already (a thread-local `EventLoop` dropped after
//! it): then each value is dropped in place, still under `catch_unwind`.

use std::any::Any;
use std::cell::RefCell;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A panic payload.
pub(crate) type Panic = Box<dyn Any + Send>;

/// The drops under way on this thread.
struct Trash {
    /// A `dispose` is dropping values: nested ones park theirs in `parked`.
    active: bool,
    parked: Vec<Box<dyn Any>>,
}

thread_local! {
    static TRASH: RefCell<Trash> = const {
        RefCell::new(Trash {
            active: false,
            parked: Vec::new(),
        })
    };
}

/// Drops `value` (see the module docs). Returns the panics of its drop and of the drops it
/// nested, for the caller to report, if there were any; a nested call returns `None` and leaves
/// its panics to the outermost one.
#[inline]
pub(crate) fn dispose<T: 'static>(value: T) -> Option<Vec<Panic>> {
    if !mem::needs_drop::<T>() {
        return None;
    }
    dispose_now(value)
}

fn dispose_now<T: 'static>(value: T) -> Option<Vec<Panic>> {
    let mut value = Some(value);
    let parked = TRASH.try_with(|t| {
        let mut t = t.borrow_mut();
        if t.active {
            // Boxing runs no user code; the value is dropped by the outermost `dispose`.
            t.parked.push(Box::new(value.take()));
        }
        !t.active || value.is_none()
    });
    if parked.is_ok() && value.is_none() {
        return None;
    }
    let panics = outermost(move || drop(value));
    (!panics.is_empty()).then_some(panics)
}

/// Runs `f` as the outermost drop, apart from any drop under way (whose parked values wait until
/// `f` and everything it parked are dropped): the loop's own teardown, so that it completes while
/// the loop is still closing. Returns the panics of `f` and of the drops it made.
pub(crate) fn scope(f: impl FnOnce()) -> Vec<Panic> {
    let outer = TRASH.try_with(|t| {
        let mut t = t.borrow_mut();
        (mem::replace(&mut t.active, false), mem::take(&mut t.parked))
    });
    let panics = outermost(f);
    if let Ok((active, mut parked)) = outer {
        let _ = TRASH.try_with(|t| {
            let mut t = t.borrow_mut();
            t.active = active;
            // Empty: the scope dropped everything it parked.
            parked.append(&mut t.parked);
            t.parked = parked;
        });
    }
    panics
}

/// Marks this thread as dropping, runs `f`, then drops what `f`'s drops parked, one by one.
fn outermost(f: impl FnOnce()) -> Vec<Panic> {
    /// Clears `active` however `outermost` ends.
    struct Active;
    impl Drop for Active {
        fn drop(&mut self) {
            let _ = TRASH.try_with(|t| t.borrow_mut().active = false);
        }
    }
    let mut panics = Vec::new();
    let active = TRASH.try_with(|t| t.borrow_mut().active = true).is_ok();
    let _active = active.then_some(Active);
    panics.extend(catch(f));
    while let Some(next) = TRASH
        .try_with(|t| t.borrow_mut().parked.pop())
        .ok()
        .flatten()
    {
        panics.extend(catch(move || drop(next)));
    }
    // A long chain parked many values: give the room back.
    let _ = TRASH.try_with(|t| {
        let mut t = t.borrow_mut();
        if t.parked.capacity() > 1024 {
            t.parked = Vec::new();
        }
    });
    panics
}

fn catch(f: impl FnOnce()) -> Option<Panic> {
    catch_unwind(AssertUnwindSafe(f)).err()
}
