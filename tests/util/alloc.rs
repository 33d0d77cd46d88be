//! A counting allocator. A test file that wants it registers it itself:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: util::alloc::Counting = util::alloc::Counting;
//! ```
//!
//! Counts are per thread (the loop runs on the test's thread), so tests running in parallel and
//! the harness's own threads do not disturb them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Forwards to `System`, counting the allocations (and reallocations) of each thread.
pub struct Counting;

thread_local! {
    // Const-initialised and without a destructor: accessing it never allocates, so the allocator
    // may use it.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the allocator may be called while thread-locals are being torn down.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

/// Allocations (including reallocations) made by this thread so far.
pub fn allocs() -> u64 {
    ALLOCS.try_with(Cell::get).unwrap_or(0)
}

/// Runs `f`; returns its result and the allocations this thread made while it ran.
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = allocs();
    let r = f();
    (r, allocs() - before)
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged, so
// the `GlobalAlloc` contract is upheld by `System`; the counting touches only a thread-local `Cell`
// and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract (`ptr` came from
        // this allocator, which is `System` underneath).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}
