//! Loops on different threads waking each other's tasks: a million wakes with none lost, and loops
//! dropped (and their table slots reused) while another thread keeps waking their tasks.

mod util;

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};

use evloop::EventLoop;
use util::watchdog;

/// Wakes each side sends to the other.
const PER_SIDE: u64 = 500_000;
/// Wakes sent per poll before the task wakes itself and yields.
const BATCH: u64 = 16;

/// One side of the exchange: how many wakes it has sent, and how often its task was polled.
#[derive(Default)]
struct Side {
    sent: AtomicU64,
}

/// Runs one loop whose task wakes the peer's task `PER_SIDE` times, and finishes once it has
/// sent them all and has seen (in a poll that a wake caused) that the peer sent all of its own.
/// Returns the task's number of polls.
fn side(
    mine: Arc<Side>,
    peer: Arc<Side>,
    give: mpsc::Sender<Waker>,
    take: mpsc::Receiver<Waker>,
) -> u64 {
    let lp = EventLoop::new().unwrap();
    let task = lp.spawn(async move {
        let mut peer_waker: Option<Waker> = None;
        let mut polls = 0u64;
        poll_fn(|cx| {
            polls += 1;
            let w = peer_waker.get_or_insert_with(|| {
                give.send(cx.waker().clone()).unwrap();
                take.recv().unwrap()
            });
            let start = mine.sent.load(Ordering::Relaxed);
            for _ in start..PER_SIDE.min(start + BATCH) {
                // Counted before the wake, so the poll that the last wake causes sees it.
                mine.sent.fetch_add(1, Ordering::Release);
                w.wake_by_ref();
            }
            if mine.sent.load(Ordering::Relaxed) < PER_SIDE {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if peer.sent.load(Ordering::Acquire) == PER_SIDE {
                return Poll::Ready(polls);
            }
            // All ours are sent: only the peer's next wake brings us back.
            Poll::Pending
        })
        .await
    });
    lp.block_on(task).unwrap()
}

#[test]
fn two_loops_wake_each_others_tasks_1_000_000_times() {
    // A lost wake would leave a task waiting for ever: report it instead of hanging.
    let _dog = watchdog("two_loops_wake_each_others_tasks_1_000_000_times", 120);
    let (a, b) = (Arc::new(Side::default()), Arc::new(Side::default()));
    let (to_b, from_a) = mpsc::channel();
    let (to_a, from_b) = mpsc::channel();
    let t = {
        let (a, b) = (a.clone(), b.clone());
        std::thread::spawn(move || side(b, a, to_a, from_a))
    };
    let polls_a = side(a.clone(), b.clone(), to_b, from_b);
    let polls_b = t.join().unwrap();
    assert_eq!(a.sent.load(Ordering::Relaxed), PER_SIDE);
    assert_eq!(b.sent.load(Ordering::Relaxed), PER_SIDE);
    // Each task needs a poll per batch, plus any caused by the peer's wakes alone.
    for polls in [polls_a, polls_b] {
        assert!(polls >= PER_SIDE / BATCH, "{polls} polls");
    }
}

#[test]
fn loops_dropped_while_another_thread_wakes_their_tasks() {
    let _dog = watchdog("loops_dropped_while_another_thread_wakes_their_tasks", 120);
    let (wakers, latest) = mpsc::channel::<Waker>();
    let stop = Arc::new(AtomicBool::new(false));
    let woken = Arc::new(AtomicU64::new(0));
    let hammer = {
        let (stop, woken) = (stop.clone(), woken.clone());
        std::thread::spawn(move || {
            // Every waker ever received, woken over and over: most of them belong to dropped loops
            // whose table slot a later loop has taken.
            let mut all: Vec<Waker> = Vec::new();
            while !stop.load(Ordering::Acquire) {
                all.extend(latest.try_iter());
                for w in &all {
                    w.wake_by_ref();
                    woken.fetch_add(1, Ordering::Relaxed);
                }
                if all.is_empty() {
                    std::thread::yield_now();
                }
            }
            // A task may have finished through a stale waker's spurious wake-up before its own
            // waker was taken here: take what is left (all sent before `stop` was set).
            all.extend(latest.try_iter());
            all.len()
        })
    };
    for round in 0..300u64 {
        let lp = EventLoop::new().unwrap();
        let wakers = wakers.clone();
        let seen = Arc::new(AtomicU64::new(0));
        let target = round % 7 + 2;
        let task = {
            let seen = seen.clone();
            lp.spawn(async move {
                poll_fn(|cx| {
                    let polls = seen.fetch_add(1, Ordering::Relaxed) + 1;
                    if polls == 1 {
                        wakers.send(cx.waker().clone()).unwrap();
                    }
                    // Finished after a few polls, which only the hammering thread (or a stale
                    // waker of an older loop at this index: a spurious wake-up) can cause.
                    if polls >= target {
                        Poll::Ready(polls)
                    } else {
                        Poll::Pending
                    }
                })
                .await
            })
        };
        assert_eq!(lp.block_on(task).unwrap(), target);
        // Half the loops are dropped while their task is still pending, half after it finished.
        if round % 2 == 0 {
            let pending = lp.spawn(poll_fn(|cx| {
                cx.waker().wake_by_ref();
                Poll::<()>::Pending
            }));
            lp.run_once().unwrap();
            drop(pending); // a dropped handle detaches the task
        }
        drop(lp);
    }
    stop.store(true, Ordering::Release);
    assert_eq!(hammer.join().unwrap(), 300);
    assert!(woken.load(Ordering::Relaxed) >= 300);
}
