//! `sync::oneshot`: delivery, and what dropping or closing either end does.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use evloop::sync::oneshot::{self, RecvError, TryRecvError};
use evloop::time::timeout;
use util::{run, DropGuard as Tracked};

#[test]
fn value_sent_before_or_while_waiting_arrives() {
    run(async {
        let (tx, rx) = oneshot::channel();
        tx.send(1).unwrap();
        assert_eq!(rx.await, Ok(1));

        let (tx, rx) = oneshot::channel();
        evloop::spawn(async move {
            evloop::yield_now().await;
            tx.send("later").unwrap();
        });
        assert_eq!(rx.await, Ok("later"));
    });
}

#[test]
fn dropping_the_sender_fails_the_receiver() {
    run(async {
        let (tx, rx) = oneshot::channel::<u8>();
        drop(tx);
        let err: RecvError = rx.await.unwrap_err();
        assert_eq!(err.to_string(), "the sender was dropped without sending");

        // Also while the receiver is already waiting.
        let (tx, rx) = oneshot::channel::<u8>();
        evloop::spawn(async move {
            evloop::yield_now().await;
            drop(tx);
        });
        assert!(rx.await.is_err());
    });
}

#[test]
fn dropping_the_receiver_gives_the_value_back() {
    run(async {
        let (tx, rx) = oneshot::channel();
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(7), Err(7));
    });
}

#[test]
fn closed_completes_when_the_receiver_goes() {
    run(async {
        let (mut tx, rx) = oneshot::channel::<u8>();
        let dropper = evloop::spawn(async move {
            evloop::yield_now().await;
            drop(rx);
        });
        tx.closed().await;
        assert!(tx.is_closed());
        dropper.await.unwrap();

        let (mut tx, mut rx) = oneshot::channel::<u8>();
        rx.close();
        tx.closed().await;
        assert_eq!(tx.send(1), Err(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn a_value_sent_before_close_is_still_received() {
    run(async {
        let (tx, mut rx) = oneshot::channel();
        tx.send(3).unwrap();
        rx.close();
        assert_eq!(rx.await, Ok(3));
    });
}

#[test]
fn try_recv_reports_empty_then_the_value_then_closed() {
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(5).unwrap();
    assert_eq!(rx.try_recv(), Ok(5));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn an_unreceived_value_is_dropped_with_the_receiver() {
    let drops = Rc::new(Cell::new(0));
    let (tx, rx) = oneshot::channel();
    assert!(tx.send(Tracked(drops.clone())).is_ok());
    assert_eq!(drops.get(), 0);
    drop(rx);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_timed_out_receive_loses_nothing() {
    run(async {
        let (tx, mut rx) = oneshot::channel();
        assert!(timeout(Duration::from_millis(1), &mut rx).await.is_err());
        tx.send(9).unwrap();
        assert_eq!(rx.await, Ok(9));
    });
}
