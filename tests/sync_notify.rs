//! `sync::Notify`: permits, order, `notify_waiters`, and cancellation.

mod util;

use std::cell::RefCell;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use evloop::sync::Notify;
use evloop::time::timeout;
use util::{poll_pinned as poll_once, run, settle};

#[test]
fn notify_one_without_a_waiter_stores_one_permit() {
    let notify = Notify::new();
    notify.notify_one();
    notify.notify_one(); // still one permit
    assert!(poll_once(pin!(notify.notified())).is_ready());
    let mut second = pin!(notify.notified());
    assert!(poll_once(second.as_mut()).is_pending());
    notify.notify_one();
    assert!(poll_once(second.as_mut()).is_ready());
    // The notification went to the waiter: no permit left over.
    assert!(poll_once(pin!(notify.notified())).is_pending());
}

#[test]
fn notify_one_wakes_waiters_in_order() {
    run(async {
        let notify = Rc::new(Notify::new());
        let order = Rc::new(RefCell::new(Vec::new()));
        for id in 0..3 {
            let (n, o) = (notify.clone(), order.clone());
            evloop::spawn(async move {
                n.notified().await;
                o.borrow_mut().push(id);
            });
            settle().await;
        }
        for done in 1..=3 {
            notify.notify_one();
            settle().await;
            assert_eq!(*order.borrow(), (0..done).collect::<Vec<_>>());
        }
    });
}

#[test]
fn notify_waiters_wakes_everyone_waiting_and_stores_nothing() {
    run(async {
        let notify = Rc::new(Notify::new());
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let n = notify.clone();
                evloop::spawn(async move { n.notified().await })
            })
            .collect();
        settle().await;
        // Created before the call, never polled: also completed by it.
        let created = notify.notified();
        notify.notify_waiters();
        created.await;
        for t in tasks {
            t.await.unwrap();
        }
        assert!(poll_once(pin!(notify.notified())).is_pending(), "no permit");
    });
}

#[test]
fn a_timed_out_waiter_leaves_no_phantom() {
    run(async {
        let notify = Rc::new(Notify::new());
        assert!(timeout(Duration::from_millis(1), notify.notified())
            .await
            .is_err());
        let n = notify.clone();
        let live = evloop::spawn(async move { n.notified().await });
        settle().await;
        notify.notify_one();
        // Reaches the live waiter, not the dropped one.
        live.await.unwrap();
        assert!(
            poll_once(pin!(notify.notified())).is_pending(),
            "nothing left over"
        );
    });
}

#[test]
fn a_dropped_waiter_passes_its_notification_on() {
    let notify = Notify::new();
    let mut first = Box::pin(notify.notified());
    let mut second = pin!(notify.notified());
    assert!(poll_once(first.as_mut()).is_pending());
    assert!(poll_once(second.as_mut()).is_pending());
    notify.notify_one(); // goes to `first`...
    drop(first); // ...which never sees it: passed to `second`
    assert!(poll_once(second.as_mut()).is_ready());

    // With nobody else waiting, it becomes the permit.
    let mut third = Box::pin(notify.notified());
    assert!(poll_once(third.as_mut()).is_pending());
    notify.notify_one();
    drop(third);
    assert!(poll_once(pin!(notify.notified())).is_ready());
}

#[test]
fn a_waiter_dropped_after_notify_waiters_passes_nothing_on() {
    let notify = Notify::new();
    let mut first = Box::pin(notify.notified());
    assert!(poll_once(first.as_mut()).is_pending());
    notify.notify_waiters();
    drop(first);
    assert!(poll_once(pin!(notify.notified())).is_pending());
}
