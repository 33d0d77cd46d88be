//! Task wakers: three integers in a pointer-sized word, no allocation, no reference count.
//!
//! A waker's data is `loop index (16 bits) | generation (20 bits) | task key (28 bits)`. Cloning copies
//! the word and dropping does nothing, so neither touches memory shared with other threads. Waking
//! on the thread whose current loop has that index schedules the task directly (a flag test and a
//! queue push); waking anywhere else looks the loop up in the process-wide table (no lock: see
//! `driver::loops`) and marks the task in its inbox. A waker that outlives its task or its loop finds a missing or newer task and does nothing
//! worse than a spurious wake-up, which the `Future` contract allows.

use std::task::{RawWaker, RawWakerVTable, Waker};

use super::current;
use super::remote::RemoteShared;

pub(crate) const KEY_BITS: u32 = 28;
pub(crate) const GEN_BITS: u32 = 20;
pub(crate) const KEY_MASK: u32 = (1 << KEY_BITS) - 1;
pub(crate) const GEN_MASK: u32 = (1 << GEN_BITS) - 1;
/// The key reserved for the `block_on` future, which lives on the caller's stack, not in the slab.
pub(crate) const MAIN_KEY: u32 = KEY_MASK;

#[cfg(not(target_pointer_width = "64"))]
compile_error!("evloop packs task wakers into 64-bit words and needs a 64-bit target");

/// Every caller passes a key and generation in range (a task's own, from the slab, or the
/// `block_on` key), so nothing is masked: packing the waker of each task poll without the two
/// masks measured 6 instructions less per async echoed message (callgrind).
#[inline(always)]
pub(crate) fn pack(loop_index: u16, key: u32, gen: u32) -> usize {
    debug_assert!(
        key <= KEY_MASK && gen <= GEN_MASK,
        "evloop: task key or generation out of range"
    );
    ((loop_index as usize) << (KEY_BITS + GEN_BITS)) | ((gen as usize) << KEY_BITS) | key as usize
}

pub(crate) fn unpack(data: usize) -> (u16, u32, u32) {
    (
        (data >> (KEY_BITS + GEN_BITS)) as u16,
        (data as u32) & KEY_MASK,
        ((data >> KEY_BITS) as u32) & GEN_MASK,
    )
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);

fn raw(data: usize) -> RawWaker {
    RawWaker::new(std::ptr::without_provenance(data), &VTABLE)
}

/// A waker for task `key`/`gen` of loop `loop_index`.
#[inline(always)]
pub(crate) fn waker(loop_index: u16, key: u32, gen: u32) -> Waker {
    from_data(pack(loop_index, key, gen))
}

/// A waker from packed data (see [`pack`]).
pub(crate) fn from_data(data: usize) -> Waker {
    // SAFETY: the vtable's functions treat the data pointer as a plain integer (never dereferenced),
    // `clone` returns a RawWaker with the same data and vtable, `drop` has nothing to release, and
    // `wake` only touches thread-local state, the loop table's atomics or mutex-protected state, so all four are sound to call
    // from any thread, any number of times, as the `RawWaker` contract requires.
    unsafe { Waker::from_raw(raw(data)) }
}

/// The loop index, key and generation of one of evloop's own wakers; `None` for any other waker.
#[inline]
pub(crate) fn decode(waker: &Waker) -> Option<(u16, u32, u32)> {
    is_ours(waker).then(|| unpack(waker.data().addr()))
}

/// Clones a waker; one of ours is copied inline, without the call through its vtable.
#[inline]
pub(crate) fn clone_waker(waker: &Waker) -> Waker {
    if is_ours(waker) {
        from_data(waker.data().addr())
    } else {
        waker.clone()
    }
}

fn clone(data: *const ()) -> RawWaker {
    let data = data.addr();
    note_escape(data);
    raw(data)
}

/// A waker with this data is being kept by code other than the loop's own containers: from now on
/// the loop cannot tell that nothing will wake its tasks (see `Core::nothing_can_wake`). Only
/// noted on the loop's thread, where the first clone of a waker is made (a waker reaches another
/// thread as a clone).
#[inline]
pub(crate) fn note_escape(data: usize) {
    let index = unpack(data).0;
    current::with_current_core(|core| {
        if core.index == index {
            core.wakers_escaped.set(true);
        }
    });
}

fn drop(_: *const ()) {}

fn wake(data: *const ()) {
    wake_data(data.addr());
}

#[inline]
pub(crate) fn wake_data(data: usize) {
    let (index, key, gen) = unpack(data);
    let local = current::with_current_core(|core| {
        let mine = core.index == index;
        if mine {
            core.schedule(key, gen);
        }
        mine
    });
    if local != Some(true) {
        wake_remote(index, data);
    }
}

/// A wake from a thread that is not running the task's loop: through the loop's inbox, which
/// coalesces wakes per task.
#[cold]
fn wake_remote(index: u16, data: usize) {
    let (_, key, gen) = unpack(data);
    RemoteShared::with(index, |remote| {
        if key == MAIN_KEY {
            remote.wake_main();
        } else {
            remote.wake_task(key, gen);
        }
    });
}

/// Whether `waker` is one of evloop's own (cloning, waking and dropping it run no user code).
#[inline]
pub(crate) fn is_ours(waker: &Waker) -> bool {
    std::ptr::eq(waker.vtable(), &VTABLE)
}

/// The loop a waker belongs to, if it is one of evloop's own.
#[inline]
pub(crate) fn loop_index(waker: &Waker) -> Option<u16> {
    is_ours(waker).then(|| (waker.data().addr() >> (KEY_BITS + GEN_BITS)) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_roundtrip() {
        for (l, k, g) in [(0, 0, 0), (65535, KEY_MASK, GEN_MASK), (7, 12345, 999)] {
            assert_eq!(unpack(pack(l, k, g)), (l, k, g));
        }
    }

    #[test]
    fn waker_is_send_sync_and_cheap() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Waker>();
        let w = waker(3, 4, 5);
        assert!(w.will_wake(&w.clone()));
        assert!(!w.will_wake(&waker(3, 4, 6)));
    }
}
