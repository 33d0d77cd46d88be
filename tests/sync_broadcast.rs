//! `sync::broadcast`: fan-out, exact lag reports, closing, and dropping receivers.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use evloop::sync::broadcast::{self, RecvError, TryRecvError};
use evloop::time::timeout;
use util::{run, settle, DropGuard as Tracked};

#[test]
fn every_receiver_gets_every_value_in_order() {
    run(async {
        let (tx, rx) = broadcast::channel(8);
        let mut tasks = Vec::new();
        for mut rx in [rx, tx.subscribe(), tx.subscribe()] {
            tasks.push(evloop::spawn(async move {
                let mut got = Vec::new();
                loop {
                    match rx.recv().await {
                        Ok(v) => got.push(v),
                        Err(RecvError::Closed) => return got,
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            }));
        }
        // A task, like the receivers: its yield lets all of them catch up.
        let producer = evloop::spawn(async move {
            for i in 0..100 {
                assert_eq!(tx.send(i), Ok(3));
                // Never more than the capacity ahead of the receivers.
                if i % 8 == 7 {
                    evloop::yield_now().await;
                }
            }
        });
        producer.await.unwrap();
        for t in tasks {
            assert_eq!(t.await.unwrap(), (0..100).collect::<Vec<_>>());
        }
    });
}

#[test]
fn lagging_receiver_learns_exactly_how_many_it_missed() {
    run(async {
        let (tx, mut rx) = broadcast::channel(4);
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.len(), 10);
        assert_eq!(rx.recv().await, Err(RecvError::Lagged(6)));
        for i in 6..10 {
            assert_eq!(rx.recv().await, Ok(i));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

        // Lag in the middle of a stream.
        for i in 10..13 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.recv().await, Ok(10));
        for i in 13..18 {
            tx.send(i).unwrap();
        }
        // Held: 14..18; 11, 12 and 13 were overwritten.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(3)));
        assert_eq!(rx.try_recv(), Ok(14));
        // Exactly the capacity behind is not lagging.
        tx.send(18).unwrap();
        assert_eq!(rx.len(), 4);
        for i in 15..19 {
            assert_eq!(rx.recv().await, Ok(i));
        }
    });
}

#[test]
fn a_fast_receiver_is_unaffected_by_a_lagging_one() {
    run(async {
        let (tx, mut fast) = broadcast::channel(2);
        let mut slow = tx.subscribe();
        for i in 0..5 {
            tx.send(i).unwrap();
            assert_eq!(fast.recv().await, Ok(i));
        }
        assert_eq!(slow.recv().await, Err(RecvError::Lagged(3)));
        assert_eq!(slow.recv().await, Ok(3));
        assert_eq!(slow.recv().await, Ok(4));
    });
}

#[test]
fn closed_after_the_last_sender_once_caught_up() {
    run(async {
        let (tx, mut rx) = broadcast::channel(4);
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        drop(tx);
        assert!(!rx.is_closed());
        tx2.send(2).unwrap();
        drop(tx2);
        assert!(rx.is_closed());
        assert_eq!(rx.recv().await, Ok(1));
        assert_eq!(rx.recv().await, Ok(2));
        assert_eq!(rx.recv().await, Err(RecvError::Closed));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));

        // A waiting receiver is woken by the last sender's drop.
        let (tx, mut rx) = broadcast::channel::<u8>(4);
        evloop::spawn(async move {
            evloop::yield_now().await;
            drop(tx);
        });
        assert_eq!(rx.recv().await, Err(RecvError::Closed));
    });
}

#[test]
fn send_without_receivers_fails_and_new_subscribers_see_only_later_values() {
    let (tx, rx) = broadcast::channel(4);
    drop(rx);
    assert_eq!(tx.receiver_count(), 0);
    assert_eq!(tx.send(1).unwrap_err().0, 1);
    let mut rx = tx.subscribe();
    tx.send(2).unwrap();
    let mut late = rx.resubscribe();
    tx.send(3).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(late.try_recv(), Ok(3));
    assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(tx.receiver_count(), 2);
}

#[test]
fn values_are_dropped_once_every_receiver_took_them() {
    let drops = Rc::new(Cell::new(0));
    let (tx, mut a) = broadcast::channel(8);
    let mut b = tx.subscribe();
    tx.send(Tracked(drops.clone())).unwrap();
    drop(a.try_recv().unwrap()); // a clone
    assert_eq!(drops.get(), 1);
    drop(b.try_recv().unwrap()); // the original: the channel holds nothing now
    assert_eq!(drops.get(), 2);

    // A dropped receiver gives up its claim on what it had not taken.
    tx.send(Tracked(drops.clone())).unwrap();
    tx.send(Tracked(drops.clone())).unwrap();
    drop(a.try_recv().unwrap());
    assert_eq!(drops.get(), 3);
    drop(b);
    assert_eq!(drops.get(), 4, "the value only b had yet to take");
    drop(a); // a had yet to take the second
    assert_eq!(drops.get(), 5);
    drop(tx);
    assert_eq!(drops.get(), 5);
}

#[test]
fn overwritten_values_are_dropped() {
    let drops = Rc::new(Cell::new(0));
    let (tx, _rx) = broadcast::channel(2);
    for _ in 0..5 {
        tx.send(Tracked(drops.clone())).unwrap();
    }
    assert_eq!(drops.get(), 3);
}

#[test]
fn a_cancelled_receive_loses_nothing() {
    run(async {
        let (tx, mut rx) = broadcast::channel(4);
        assert!(timeout(Duration::from_millis(1), rx.recv()).await.is_err());
        tx.send(1).unwrap();
        assert_eq!(rx.recv().await, Ok(1));
        // And a live waiter is still woken afterwards.
        let waiter = evloop::spawn(async move { rx.recv().await });
        settle().await;
        assert!(!waiter.is_finished());
        tx.send(2).unwrap();
        assert_eq!(waiter.await.unwrap(), Ok(2));
    });
}
