//! Defect 7: cross-thread wakes of one task are coalesced, so memory is bounded by the number of
//! tasks, not of wakes; and the inbox's buffers shrink after a burst of posts. This file counts
//! the live heap bytes of the whole process, so it holds one test only (tests of one binary run in
//! parallel).

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use evloop::EventLoop;

/// Counts live heap bytes, and their peak since the last `reset_peak`.
struct Live;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Live {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), SeqCst) + layout.size();
        PEAK.fetch_max(now, SeqCst);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), SeqCst);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Live = Live;

fn live() -> usize {
    LIVE.load(SeqCst)
}

fn reset_peak() {
    PEAK.store(live(), SeqCst);
}

const MIB: usize = 1 << 20;

#[test]
fn wakes_are_coalesced_and_buffers_shrink_after_a_burst() {
    let lp = EventLoop::new().unwrap();
    let polls = Arc::new(AtomicUsize::new(0));
    let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
    let (p, s) = (polls.clone(), slot.clone());
    let task = lp.spawn(poll_fn(move |cx| {
        p.fetch_add(1, SeqCst);
        *s.lock().unwrap() = Some(cx.waker().clone());
        Poll::<()>::Pending
    }));
    lp.run_nowait().unwrap();
    assert_eq!(polls.load(SeqCst), 1);

    // 2,000,000 wakes from another thread while the loop does not run (as if it were busy): they
    // took 8 bytes each, 16 MB and more, and the buffer kept that capacity for ever.
    let waker = slot.lock().unwrap().clone().unwrap();
    let before = live();
    reset_peak();
    std::thread::spawn(move || {
        for _ in 0..2_000_000 {
            waker.wake_by_ref();
        }
    })
    .join()
    .unwrap();
    let grown = PEAK.load(SeqCst).saturating_sub(before);
    assert!(
        grown < MIB,
        "2,000,000 wakes of one task took {grown} bytes"
    );
    lp.run_nowait().unwrap();
    assert_eq!(polls.load(SeqCst), 2, "the burst polled the task once");

    // A burst of posts cannot be coalesced, but its buffers are given back afterwards.
    let base = live();
    let remote = lp.remote();
    std::thread::spawn(move || {
        for i in 0..200_000u64 {
            remote.post(move |_| assert!(i < u64::MAX)).unwrap();
        }
    })
    .join()
    .unwrap();
    assert!(
        live() > base + MIB,
        "the posts are queued: {} bytes",
        live() - base
    );
    for _ in 0..1000 {
        lp.run_nowait().unwrap();
    }
    let left = live().saturating_sub(base);
    assert!(left < MIB, "{left} bytes kept after the burst");
    task.abort();
    lp.run_nowait().unwrap();
}
