//! The loop table's slot under loom: readers on other threads (cross-thread wakers) against the
//! owner emptying the slot and releasing the value (a loop being dropped), with the very file the
//! crate compiles.
//!
//! The value's destructor writes a `loom::cell::UnsafeCell` that every reader reads while it holds
//! the value, so a reader that could still use the value when it is released is reported by loom
//! as a data race; a reader that saw a value after `clear` returned fails an assertion.

#![cfg(loom)]

#[path = "../../src/driver/loops.rs"]
#[allow(dead_code)]
mod loops;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use loops::Slot;
use std::sync::Arc;

/// A loop's remote side, as far as the hand-off is concerned.
struct Value {
    id: u32,
    /// Read by readers, written by the destructor.
    cell: UnsafeCell<u32>,
}

impl Drop for Value {
    fn drop(&mut self) {
        self.cell.with_mut(|p| {
            // SAFETY: `with_mut` is loom's checked exclusive access.
            unsafe { *p = u32::MAX }
        });
    }
}

fn value(id: u32) -> Arc<Value> {
    Arc::new(Value {
        id,
        cell: UnsafeCell::new(id),
    })
}

/// Reads the slot as a waker does; the value it read, if any.
fn read(slot: &Slot<Value>) -> Option<u32> {
    slot.with(|v| {
        // SAFETY: `with` is loom's checked shared access.
        let seen = v.cell.with(|p| unsafe { *p });
        assert_eq!(seen, v.id, "read a released value");
        seen
    })
}

fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(3);
    }
    b
}

/// Two readers against the owner emptying the slot and releasing the value.
#[test]
fn readers_never_see_a_released_value() {
    builder().check(|| {
        let slot = Arc::new(Slot::new());
        slot.install(value(1));
        let cleared = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (slot, cleared) = (slot.clone(), cleared.clone());
                thread::spawn(move || {
                    let got = read(&slot);
                    // Once `clear` has returned, nobody finds the value.
                    if cleared.load(Ordering::Acquire) {
                        assert_eq!(read(&slot), None);
                    }
                    got
                })
            })
            .collect();
        let taken = slot.clear().expect("the installed value");
        cleared.store(true, Ordering::Release);
        drop(taken); // the destructor writes what readers read
        for r in readers {
            assert!(matches!(r.join().unwrap(), None | Some(1)));
        }
        assert_eq!(read(&slot), None);
    });
}

/// The slot is reused by a later loop while a reader is at work: it sees the old value, the new
/// one or nothing, each whole, and neither is released under it.
#[test]
fn reuse_while_reading() {
    builder().check(|| {
        let slot = Arc::new(Slot::new());
        slot.install(value(1));
        let reader = {
            let slot = slot.clone();
            thread::spawn(move || [read(&slot), read(&slot)])
        };
        drop(slot.clear());
        slot.install(value(2));
        let got = reader.join().unwrap();
        for g in got {
            assert!(matches!(g, None | Some(1) | Some(2)), "{g:?}");
        }
        // A later read never goes back to the older value.
        assert!(!(got[0] == Some(2) && got[1] == Some(1)), "{got:?}");
        drop(slot.clear());
    });
}
