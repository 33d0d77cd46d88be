//! The one place where user data that left the loop's containers is dropped: libuv's
//! closing-handles phase, for one value at a time.
//!
//! [`dispose`] drops a value with no borrow held (its callers have ended theirs) and under
//! `catch_unwind`, so a panicking `Drop` is reported and leaves the loop consistent. Drops nest:
//! dropping a callback can drop a resolver, which settles a promise, which drops the next link of
//! a chain... Each nested `dispose` only parks its value on a thread-local list, and the outermost
//! one drops the list's values one by one, so the stack stays flat however long the chain (a
//! recursive drop of 200,000 promise links would overflow it).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A panic payload.
pub(crate) type Panic = Box<dyn Any + Send>;

thread_local! {
    /// A `dispose` is dropping values on this thread: nested ones park theirs here.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static PARKED: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
    /// Panics of the drops under way, for the outermost `dispose` to return.
    static PANICS: RefCell<Vec<Panic>> = const { RefCell::new(Vec::new()) };
}

/// Clears `ACTIVE` however the outermost `dispose` ends.
struct Active;

impl Drop for Active {
    fn drop(&mut self) {
        let _ = ACTIVE.try_with(|a| a.set(false));
    }
}

/// Drops `value` (see the module docs). Returns the panics of its drop and of the drops it
/// nested, for the caller to report, if there were any; a nested call returns `None` and leaves
/// its panics to the outermost one.
#[inline]
pub(crate) fn dispose<T: 'static>(value: T) -> Option<Vec<Panic>> {
    if !std::mem::needs_drop::<T>() {
        return None;
    }
    dispose_now(value)
}

fn dispose_now<T: 'static>(value: T) -> Option<Vec<Panic>> {
    // During thread teardown the lists are gone: drop in place, which is all that is left to do.
    let Ok(nested) = ACTIVE.try_with(|a| a.get()) else {
        drop(value);
        return None;
    };
    if nested {
        let parked = PARKED.try_with(|p| p.borrow_mut().push(Box::new(value)));
        debug_assert!(parked.is_ok());
        return None;
    }
    let panics = outermost(move || drop(value));
    (!panics.is_empty()).then_some(panics)
}

/// Runs `f` as the outermost `dispose` would, so that every drop inside it is flat (the loop's
/// own teardown). Returns the panics of `f` and of the drops it made through `dispose`; nested in
/// a `dispose` or a `scope`, it just runs `f` and leaves the panics to the outer one.
pub(crate) fn scope(f: impl FnOnce()) -> Vec<Panic> {
    match ACTIVE.try_with(|a| a.get()) {
        Ok(false) => outermost(f),
        _ => {
            catch(f);
            Vec::new()
        }
    }
}

fn outermost(f: impl FnOnce()) -> Vec<Panic> {
    ACTIVE.with(|a| a.set(true));
    let _active = Active;
    catch(f);
    while let Some(next) = PARKED.with(|p| p.borrow_mut().pop()) {
        catch(move || drop(next));
    }
    // A long chain parked many values: give the room back.
    PARKED.with(|p| {
        let mut p = p.borrow_mut();
        if p.capacity() > 1024 {
            *p = Vec::new();
        }
    });
    PANICS.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

fn catch(f: impl FnOnce()) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(f)) {
        let _ = PANICS.try_with(|list| list.borrow_mut().push(p));
    }
}
