//! `sync::watch`: latest value, change notification, closing from either side.

mod util;

use std::time::Duration;

use evloop::sync::watch;
use evloop::time::timeout;
use util::{run, settle};

#[test]
fn receivers_see_the_latest_value_and_skip_intermediate_ones() {
    run(async {
        let (tx, mut rx) = watch::channel(0);
        assert_eq!(*rx.borrow(), 0);
        assert_eq!(rx.has_changed(), Ok(false));
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(rx.has_changed(), Ok(true));
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow_and_update(), 2);
        assert_eq!(rx.has_changed(), Ok(false));
        assert_eq!(*tx.borrow(), 2);
    });
}

#[test]
fn changed_waits_for_a_send() {
    run(async {
        let (tx, mut rx) = watch::channel("a");
        let watcher = evloop::spawn(async move {
            rx.changed().await.unwrap();
            *rx.borrow()
        });
        settle().await;
        assert!(!watcher.is_finished());
        tx.send("b").unwrap();
        assert_eq!(watcher.await.unwrap(), "b");
    });
}

#[test]
fn one_send_wakes_every_waiting_receiver() {
    run(async {
        let (tx, rx) = watch::channel(0);
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let mut rx = rx.clone();
                evloop::spawn(async move {
                    rx.changed().await.unwrap();
                    *rx.borrow_and_update()
                })
            })
            .collect();
        settle().await;
        assert!(tasks.iter().all(|t| !t.is_finished()));
        tx.send(7).unwrap();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 7);
        }
    });
}

#[test]
fn modify_in_place() {
    let (tx, mut rx) = watch::channel(vec![1]);
    tx.send_modify(|v| v.push(2));
    assert_eq!(rx.has_changed(), Ok(true));
    assert_eq!(*rx.borrow_and_update(), [1, 2]);
    assert!(!tx.send_if_modified(|_| false));
    assert_eq!(rx.has_changed(), Ok(false));
    assert!(tx.send_if_modified(|v| {
        v.clear();
        true
    }));
    assert_eq!(rx.has_changed(), Ok(true));
    rx.mark_unchanged();
    assert_eq!(rx.has_changed(), Ok(false));
    assert!(rx.borrow().is_empty());
}

#[test]
fn sender_drop_reports_the_last_change_then_errors() {
    run(async {
        let (tx, mut rx) = watch::channel(0);
        tx.send(1).unwrap();
        drop(tx);
        // The change made before the drop is still reported.
        assert_eq!(rx.has_changed(), Ok(true));
        rx.changed().await.unwrap();
        assert!(rx.changed().await.is_err());
        assert!(rx.has_changed().is_err());
        assert_eq!(*rx.borrow(), 1, "the value stays readable");

        // A waiting receiver is woken by the drop.
        let (tx, mut rx) = watch::channel(0);
        evloop::spawn(async move {
            evloop::yield_now().await;
            drop(tx);
        });
        assert!(rx.changed().await.is_err());
    });
}

#[test]
fn receivers_gone_closes_the_sender() {
    run(async {
        let (tx, rx) = watch::channel(0);
        let rx2 = rx.clone();
        assert_eq!(tx.receiver_count(), 2);
        drop(rx);
        assert!(!tx.is_closed());
        evloop::spawn(async move {
            evloop::yield_now().await;
            drop(rx2);
        });
        tx.closed().await;
        assert!(tx.is_closed());
        assert_eq!(tx.send(5).unwrap_err().0, 5);
        assert_eq!(*tx.borrow(), 0, "a failed send leaves the value alone");
        // send_replace still updates, for later subscribers.
        assert_eq!(tx.send_replace(6), 0);
        let mut late = tx.subscribe();
        assert_eq!(late.has_changed(), Ok(false));
        assert_eq!(*late.borrow_and_update(), 6);
        tx.send(7).unwrap();
        assert!(late.changed().await.is_ok());
    });
}

#[test]
fn a_cancelled_changed_leaves_no_waiter_and_loses_nothing() {
    run(async {
        let (tx, mut rx) = watch::channel(0);
        assert!(timeout(Duration::from_millis(1), rx.changed())
            .await
            .is_err());
        let (tx_closed, rx_closed) = (tx, rx.clone());
        assert!(timeout(Duration::from_millis(1), tx_closed.closed())
            .await
            .is_err());
        drop(rx_closed);
        tx_closed.send(1).unwrap();
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 1);
    });
}

#[test]
#[should_panic(expected = "already borrowed")]
fn sending_while_a_borrow_is_held_panics() {
    let (tx, rx) = watch::channel(0);
    let _held = rx.borrow();
    let _ = tx.send(1);
}
