//! `TaskTracker`: `wait` completes once the tracker is closed and every tracked task is gone.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use evloop::sync::CancellationToken;
use evloop::task::TaskTracker;
use evloop::EventLoop;

#[test]
fn wait_needs_closed_and_empty() {
    let lp = EventLoop::new().unwrap();
    let tracker = TaskTracker::new();
    let done = Rc::new(Cell::new(0));
    for i in 0..5u64 {
        let d = done.clone();
        tracker.spawn(async move {
            evloop::time::sleep(Duration::from_millis(i)).await;
            d.set(d.get() + 1);
        });
    }
    assert_eq!(tracker.len(), 5);
    // Open: `wait` does not complete even when the tasks are done.
    lp.run().unwrap();
    assert!(tracker.is_empty());
    let waited = Rc::new(Cell::new(false));
    let (t, w) = (tracker.clone(), waited.clone());
    lp.spawn(async move {
        t.wait().await;
        w.set(true);
    });
    lp.run_nowait().unwrap();
    assert!(!waited.get(), "an open tracker is never done");
    assert!(tracker.close());
    assert!(!tracker.close(), "closed once");
    lp.run().unwrap();
    assert!(waited.get());
    assert_eq!(done.get(), 5);
}

#[test]
fn tokens_and_tracked_futures_count_until_dropped() {
    let lp = EventLoop::new().unwrap();
    let tracker = TaskTracker::new();
    tracker.close();
    let token = tracker.token();
    let fut = tracker.track_future(async { 1 });
    assert_eq!(tracker.len(), 2);
    drop(fut);
    assert_eq!(tracker.len(), 1);
    let handle = lp.handle().clone();
    lp.call_later(Duration::from_millis(1), move |_| drop(token));
    lp.block_on(tracker.wait());
    assert!(tracker.is_empty());
    assert!(tracker.reopen());
    let task = tracker.spawn_on(async { 2 }, &handle);
    assert_eq!(lp.block_on(task).unwrap(), 2);
}

/// The pattern of a graceful shutdown: stop, let work finish within a grace period, then cancel
/// the rest; aborted tasks count out too. On the test loop (paused time), which also checks that
/// the shutdown left nothing behind.
#[test]
fn a_grace_period_then_cancel() {
    let (finished, cancelled) = evloop::test::run(async {
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let finished = Rc::new(Cell::new(0));
        let cancelled = Rc::new(Cell::new(0));
        for i in 0..4 {
            let (stop, f, c) = (shutdown.child_token(), finished.clone(), cancelled.clone());
            tracker.spawn(async move {
                // Half finish quickly, half would take an hour.
                let secs = if i % 2 == 0 { 1 } else { 3600 };
                let work = evloop::time::sleep(Duration::from_secs(secs));
                match stop.run_until_cancelled(work).await {
                    Some(()) => f.set(f.get() + 1),
                    None => c.set(c.get() + 1),
                }
            });
        }
        let aborted = tracker.spawn(std::future::pending::<()>());
        tracker.close();
        let start = evloop::Handle::current().now();
        let grace = evloop::time::timeout(Duration::from_secs(5), tracker.wait()).await;
        assert!(grace.is_err(), "the slow ones outlive the grace period");
        assert_eq!(
            evloop::Handle::current().now() - start,
            Duration::from_secs(5)
        );
        shutdown.cancel();
        aborted.abort();
        tracker.wait().await;
        assert!(tracker.is_empty());
        (finished.get(), cancelled.get())
    });
    assert_eq!((finished, cancelled), (2, 2));
}
