//! Steady-state dispatch allocates nothing: watcher readiness, periodic timer re-arming, a
//! zero-sized `call_soon` callback, and task wake-ups.
//!
//! A counting global allocator counts the allocations of the current thread while a window is
//! open; tests run on separate threads, so they do not see each other's allocations.

mod util;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use evloop::{yield_now, EventLoop, Interest};
use util::alloc::count_allocations;
use util::{udp_bound, udp_sender, watchdog};

#[global_allocator]
static GLOBAL: util::alloc::Counting = util::alloc::Counting;

const WARM_UP: usize = 200;
const ITERATIONS: usize = 1000;

#[test]
fn the_window_counts_allocations() {
    // The harness itself: a test that would pass with a broken counter proves nothing.
    let (_, n) = count_allocations(|| std::hint::black_box(Box::new(5u64)));
    assert_eq!(n, 1);
    let (_, n) = count_allocations(|| std::hint::black_box(vec![1u8; 3]));
    assert_eq!(n, 1);
    let lp = EventLoop::new().unwrap();
    let payload = vec![0u8; 16];
    let (_, n) = count_allocations(|| {
        lp.call_soon(move |_| drop(payload));
    });
    assert_eq!(n, 1, "a capturing closure is boxed");
    lp.run().unwrap();
}

#[test]
fn dispatching_readiness_to_a_watcher_allocates_nothing() {
    let _wd = watchdog("dispatching_readiness_to_a_watcher_allocates_nothing", 120);
    let lp = EventLoop::new().unwrap();
    let (sock, addr) = udp_bound();
    let sender = udp_sender();
    let received = Rc::new(Cell::new(0usize));
    let r = received.clone();
    lp.watch(sock, Interest::READABLE, move |_, sock, _| {
        let mut buf = [0u8; 64];
        while let Ok(n) = sock.recv(&mut buf) {
            assert_eq!(&buf[..n], b"ping");
            r.set(r.get() + 1);
        }
    })
    .unwrap();
    let iteration = || {
        sender.send_to(b"ping", addr).unwrap();
        assert!(lp.run_once().unwrap());
    };
    for _ in 0..WARM_UP {
        iteration();
    }
    let ((), allocations) = count_allocations(|| {
        for _ in 0..ITERATIONS {
            iteration();
        }
    });
    assert_eq!(received.get(), WARM_UP + ITERATIONS);
    assert_eq!(
        allocations, 0,
        "allocations while dispatching {ITERATIONS} readiness events"
    );
}

#[test]
fn rearming_a_periodic_timer_allocates_nothing() {
    let _wd = watchdog("rearming_a_periodic_timer_allocates_nothing", 120);
    let lp = EventLoop::new().unwrap();
    let ticks = Rc::new(Cell::new(0usize));
    let t = ticks.clone();
    // Due again by the next turn, every turn.
    let id = lp.call_every(Duration::from_nanos(1), move |_| t.set(t.get() + 1));
    for _ in 0..WARM_UP {
        lp.run_once().unwrap();
    }
    let before = ticks.get();
    let ((), allocations) = count_allocations(|| {
        for _ in 0..ITERATIONS {
            lp.run_once().unwrap();
        }
    });
    assert_eq!(ticks.get() - before, ITERATIONS, "one tick per turn");
    assert_eq!(
        allocations, 0,
        "allocations while firing {ITERATIONS} periodic ticks"
    );
    assert!(lp.cancel_timer(id));
}

thread_local! {
    static ZST_RUNS: Cell<usize> = const { Cell::new(0) };
}

#[test]
fn a_zero_sized_call_soon_callback_allocates_nothing() {
    let _wd = watchdog("a_zero_sized_call_soon_callback_allocates_nothing", 120);
    let lp = EventLoop::new().unwrap();
    let callback = |_: &evloop::Handle| ZST_RUNS.with(|n| n.set(n.get() + 1));
    assert_eq!(std::mem::size_of_val(&callback), 0);
    for _ in 0..WARM_UP {
        lp.call_soon(callback);
        lp.run_nowait().unwrap();
    }
    let ((), allocations) = count_allocations(|| {
        for _ in 0..ITERATIONS {
            lp.call_soon(callback);
            let cancelled = lp.call_soon(callback);
            assert!(lp.cancel_callback(cancelled));
            lp.run_nowait().unwrap();
        }
    });
    assert_eq!(ZST_RUNS.with(Cell::get), WARM_UP + ITERATIONS);
    assert_eq!(
        allocations, 0,
        "allocations for {ITERATIONS} call_soon + dispatch"
    );
}

#[test]
fn waking_a_task_allocates_nothing() {
    let _wd = watchdog("waking_a_task_allocates_nothing", 120);
    let lp = EventLoop::new().unwrap();
    let polls = Rc::new(Cell::new(0usize));
    let p = polls.clone();
    let task = lp.spawn(async move {
        loop {
            yield_now().await;
            p.set(p.get() + 1);
        }
    });
    for _ in 0..WARM_UP {
        lp.run_nowait().unwrap();
    }
    let before = polls.get();
    let ((), allocations) = count_allocations(|| {
        for _ in 0..ITERATIONS {
            lp.run_nowait().unwrap();
        }
    });
    assert_eq!(polls.get() - before, ITERATIONS, "one poll per turn");
    assert_eq!(
        allocations, 0,
        "allocations for {ITERATIONS} yield_now wake-ups"
    );
    task.abort();
    lp.run_nowait().unwrap();
    assert_eq!(lp.task_count(), 0);
}

/// A future that wakes itself, alternately through the waker by reference and through a clone it
/// stored (as a future handing its waker to an event source would), replacing the previous clone.
struct SelfWaking {
    polls: Rc<Cell<usize>>,
    stored: Option<Waker>,
}

impl Future for SelfWaking {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let n = self.polls.get() + 1;
        self.polls.set(n);
        if n % 2 == 0 {
            self.stored = Some(cx.waker().clone());
            if let Some(w) = self.stored.take() {
                w.wake();
            }
        } else {
            self.stored = Some(cx.waker().clone());
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

#[test]
fn a_future_woken_by_its_own_waker_allocates_nothing() {
    let _wd = watchdog("a_future_woken_by_its_own_waker_allocates_nothing", 120);
    let lp = EventLoop::new().unwrap();
    let polls = Rc::new(Cell::new(0usize));
    let task = lp.spawn(SelfWaking {
        polls: polls.clone(),
        stored: None,
    });
    for _ in 0..WARM_UP {
        lp.run_nowait().unwrap();
    }
    let before = polls.get();
    let ((), allocations) = count_allocations(|| {
        for _ in 0..ITERATIONS {
            lp.run_nowait().unwrap();
        }
    });
    assert_eq!(polls.get() - before, ITERATIONS);
    assert_eq!(allocations, 0, "allocations for {ITERATIONS} self wake-ups");
    task.abort();
    lp.run_nowait().unwrap();
    assert_eq!(lp.task_count(), 0);
}
