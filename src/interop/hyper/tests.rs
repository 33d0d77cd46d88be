//! The sleeps' bookkeeping, seen from inside: what a sleep leaves in its loop's lane and timer heap
//! when it is dropped on its loop, on another thread, in and out of the lane's order, and on a
//! second loop of the same thread. (The behaviour seen from hyper is tested in
//! `bench/tests/hyper.rs`.)

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

use super::lane;
use super::EvloopTimer;
use crate::runtime::current::with_current_core;
use crate::EventLoop;

/// Polls `sleep` once on the loop, expecting it pending (it arms).
async fn arm(sleep: &mut Pin<Box<dyn Sleep>>) {
    assert!(poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx)))
        .await
        .is_pending());
}

/// The lane of the current loop: (sleeps, places, dead places, head timer armed).
fn census() -> (usize, usize, usize, bool) {
    with_current_core(lane::census)
        .flatten()
        .expect("the loop has a lane")
}

fn later(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

#[test]
fn a_lane_sleep_made_polled_and_dropped_leaves_nothing() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        for _ in 0..100 {
            let mut s = EvloopTimer.sleep_until(later(3600));
            arm(&mut s).await;
            assert_eq!(census(), (1, 1, 0, true));
            drop(s);
            assert_eq!(
                census(),
                (0, 0, 0, false),
                "the lane empties with its head timer"
            );
        }
        // A sleep never polled never enters the lane.
        drop(EvloopTimer.sleep_until(later(3600)));
        assert_eq!(census(), (0, 0, 0, false));
    });
    assert_eq!(lp.pending_counts().0, 0);
}

#[test]
fn lane_sleeps_dropped_on_other_threads_are_removed_by_their_loop() {
    let lp = EventLoop::new().unwrap();
    let sleeps = lp.block_on(async {
        let mut sleeps = Vec::new();
        for i in 0..10 {
            let mut s = EvloopTimer.sleep_until(later(3600 + i));
            arm(&mut s).await;
            sleeps.push(s);
        }
        assert_eq!(census(), (10, 10, 0, true));
        sleeps
    });
    assert_eq!(lp.pending_counts().0, 1, "one head timer for ten sleeps");
    // Dropped elsewhere, in an order unlike the lane's: each posts its removal.
    let mut sleeps = sleeps;
    sleeps.reverse();
    let keep = sleeps.split_off(7);
    thread::spawn(move || drop(sleeps)).join().unwrap();
    lp.run_nowait().unwrap();
    // The three kept are the earliest: the seven later places stay queued, dead, until they
    // reach the front.
    lp.block_on(async { assert_eq!(census(), (3, 10, 7, true)) });
    thread::spawn(move || drop(keep)).join().unwrap();
    lp.run_nowait().unwrap();
    lp.block_on(async { assert_eq!(census(), (0, 0, 0, false)) });
    assert_eq!(
        lp.pending_counts().0,
        0,
        "the head timer went with the last sleep"
    );
}

#[test]
fn an_out_of_order_sleep_takes_a_timer_that_goes_with_it_also_from_another_thread() {
    let lp = EventLoop::new().unwrap();
    let (early, late) = lp.block_on(async {
        let mut late = EvloopTimer.sleep_until(later(7200));
        arm(&mut late).await;
        // Earlier than the lane's last deadline: a timer of its own, beside the head timer.
        let mut early = EvloopTimer.sleep_until(later(3600));
        arm(&mut early).await;
        assert_eq!(census(), (1, 1, 0, true));
        (early, late)
    });
    assert_eq!(lp.pending_counts().0, 2);
    thread::spawn(move || drop(early)).join().unwrap();
    lp.run_nowait().unwrap();
    assert_eq!(
        lp.pending_counts().0,
        1,
        "the early sleep's own timer is gone"
    );
    lp.block_on(async { assert_eq!(census(), (1, 1, 0, true)) });
    drop(late);
    assert_eq!(lp.pending_counts().0, 0);
}

#[test]
fn a_second_loops_sleeps_name_it_by_its_remote_side_and_are_removed_from_elsewhere() {
    let first = EventLoop::new().unwrap();
    first.block_on(async {
        let mut s = EvloopTimer.sleep_until(later(3600));
        arm(&mut s).await;
    });
    let second = EventLoop::new().unwrap();
    // Handed out to be dropped on another thread, not awaited.
    #[allow(clippy::async_yields_async)]
    let sleep = second.block_on(async {
        // This thread's lane is the first loop's, which lives: a timer on the second loop.
        assert_eq!(with_current_core(lane::census).flatten(), None);
        let mut s = EvloopTimer.sleep_until(later(3600));
        arm(&mut s).await;
        s
    });
    assert_eq!(second.pending_counts().0, 1);
    assert_eq!(first.pending_counts().0, 0);
    thread::spawn(move || drop(sleep)).join().unwrap();
    second.run_nowait().unwrap();
    assert_eq!(second.pending_counts().0, 0);
}

#[test]
fn dead_places_behind_a_long_sleep_are_compacted() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let mut long = EvloopTimer.sleep_until(later(3600));
        arm(&mut long).await;
        for i in 0..1000 {
            let mut s = EvloopTimer.sleep_until(later(7200 + i));
            arm(&mut s).await;
        }
        let (live, queued, dead, head) = census();
        assert_eq!((live, head), (1, true));
        assert!(
            queued <= 66 && dead == queued - 1,
            "{queued} places, {dead} dead"
        );
        drop(long);
        assert_eq!(census(), (0, 0, 0, false));
    });
}

#[test]
fn lane_sleeps_fire_in_order_and_wake_their_tasks() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let start = Instant::now();
        let order = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..5u64)
            .map(|i| {
                let deadline = start + Duration::from_millis(2 * i + 1);
                let order = order.clone();
                crate::spawn(async move {
                    EvloopTimer.sleep_until(deadline).await;
                    assert!(Instant::now() >= deadline, "woken early");
                    order.borrow_mut().push(i);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.borrow(), [0, 1, 2, 3, 4]);
        assert_eq!(census(), (0, 0, 0, false));
    });
    assert_eq!(lp.pending_counts().0, 0);
}

#[test]
fn a_loop_and_its_lane_gone_leave_no_remote_side_behind() {
    let epoch = thread::spawn(|| {
        let lp = EventLoop::new().unwrap();
        lp.block_on(async {
            let mut s = EvloopTimer.sleep_until(later(3600));
            arm(&mut s).await;
            let epoch = with_current_core(lane::epoch_of).flatten().unwrap();
            assert!(lane::door_holds(epoch));
            epoch
        })
    })
    .join()
    .unwrap();
    // The loop was dropped, then the thread's lane with the thread: the door held it only weakly,
    // so its remote side (and the poller's wake-up descriptor) is gone, and a sleep of that lane
    // dropped now finds no loop to post to.
    assert!(!lane::door_holds(epoch));
    assert!(lane::door(epoch).is_none());
}
