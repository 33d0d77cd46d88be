//! A `Handle` that outlives its loop: new work is refused loudly (a panic that says so, with the
//! work dropped first), never queued where it would keep the loop's state alive or be lost
//! silently. While the loop is being dropped, work that destructors queue is dropped quietly.

mod util;

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use evloop::{EventLoop, Interest};
use util::DropGuard as Tracker;

/// Counts its drop, from any thread.
struct SendTracker(Arc<AtomicUsize>);

impl Drop for SendTracker {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Runs `f`, which must panic with the closed-loop message naming `what`.
fn refused(what: &str, f: impl FnOnce()) {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("work on a dropped loop must panic");
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(
        msg.contains(&format!(
            "Handle::{what} on an event loop that has been dropped"
        )),
        "{what}: {msg}"
    );
    assert!(
        msg.contains("is_closed"),
        "the message says what to do: {msg}"
    );
}

#[test]
fn work_given_to_a_dropped_loop_is_dropped_and_refused_with_a_panic() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle().clone();
    assert!(!handle.is_closed());
    drop(lp);
    assert!(handle.is_closed());
    let drops = Rc::new(Cell::new(0));

    let t = Tracker(drops.clone());
    let h = handle.clone();
    refused("call_soon", || {
        handle.call_soon(move |_| drop((t, h)));
    });
    assert_eq!(drops.get(), 1, "call_soon dropped its callback");

    let t = Tracker(drops.clone());
    refused("call_later", || {
        handle.call_later(Duration::from_millis(1), move |_| drop(t));
    });
    assert_eq!(drops.get(), 2, "call_later dropped its callback");

    let t = Tracker(drops.clone());
    refused("call_at", || {
        handle.call_at(std::time::Instant::now(), move |_| drop(t));
    });
    let t2 = Tracker(drops.clone());
    refused("call_every", || {
        handle.call_every(Duration::from_millis(1), move |_| {
            let _ = &t2;
        });
    });
    assert_eq!(
        drops.get(),
        4,
        "call_at and call_every dropped their callbacks"
    );

    let t = Tracker(drops.clone());
    refused("spawn", || {
        handle.spawn(async move { drop(t) });
    });
    assert_eq!(drops.get(), 5, "spawn dropped its future");

    let sent = Arc::new(AtomicUsize::new(0));
    let t = SendTracker(sent.clone());
    refused("spawn_blocking", || {
        handle.spawn_blocking(move || drop(t));
    });
    assert_eq!(sent.load(SeqCst), 1, "spawn_blocking dropped its closure");

    let socket = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let t = Tracker(drops.clone());
    let watched = handle.watch(socket, Interest::READABLE, move |_, _, _| {
        let _ = &t;
    });
    let err = watched.expect_err("watch refused");
    assert!(err.to_string().contains("dropped"), "{err}");
    assert_eq!(drops.get(), 6, "watch dropped its callback");
    // Only the handles themselves keep the core now.
    assert_eq!(Rc::strong_count(&drops), 1);
}

#[test]
fn work_queued_by_destructors_during_the_drop_is_dropped_quietly() {
    let lp = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    /// Queues more work from its `Drop`, while the loop is being torn down.
    struct Requeue(evloop::Handle, Rc<Cell<usize>>, Arc<AtomicUsize>);
    impl Drop for Requeue {
        fn drop(&mut self) {
            let h = &self.0;
            let t = Tracker(self.1.clone());
            h.call_soon(move |_| drop(t));
            let t = Tracker(self.1.clone());
            h.call_later(Duration::from_millis(1), move |_| drop(t));
            let t = Tracker(self.1.clone());
            let task = h.spawn(async move { drop(t) });
            assert!(
                task.is_finished(),
                "a task spawned during teardown is cancelled"
            );
            let t = SendTracker(self.2.clone());
            drop(h.spawn_blocking(move || drop(t)));
        }
    }
    let sent = Arc::new(AtomicUsize::new(0));
    let r = Requeue(lp.handle().clone(), drops.clone(), sent.clone());
    lp.call_soon(move |_| drop(r));
    drop(lp);
    assert_eq!(
        drops.get(),
        3,
        "everything queued during the drop was dropped"
    );
    assert_eq!(sent.load(SeqCst), 1, "the blocking job was dropped unrun");
    assert_eq!(Rc::strong_count(&drops), 1);
}
