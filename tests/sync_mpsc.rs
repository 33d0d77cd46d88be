//! `sync::mpsc`: capacity and backpressure, ordering, closing, dropping and cancellation.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use evloop::sync::mpsc::{self, TryRecvError, TrySendError};
use evloop::time::{sleep, timeout};
use util::{run, settle, DropGuard as Tracked};

#[test]
fn bounded_channel_holds_exactly_its_capacity() {
    let (tx, mut rx) = mpsc::channel(2);
    assert_eq!(tx.max_capacity(), 2);
    assert_eq!(tx.capacity(), 2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.capacity(), 0);
    assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(tx.capacity(), 1);
    tx.try_send(3).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn zero_capacity_panics() {
    let _ = mpsc::channel::<u8>(0);
}

#[test]
fn send_waits_for_room() {
    run(async {
        let (tx, mut rx) = mpsc::channel(1);
        let sent = Rc::new(Cell::new(0));
        let s = sent.clone();
        let producer = evloop::spawn(async move {
            for i in 0..3 {
                tx.send(i).await.unwrap();
                s.set(i + 1);
            }
        });
        settle().await;
        // One value buffered, the second offered and waiting for room.
        assert_eq!(sent.get(), 1);
        assert_eq!(rx.len(), 1);
        assert_eq!(rx.recv().await, Some(0));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
        producer.await.unwrap();
        assert_eq!(sent.get(), 3);
    });
}

#[test]
fn waiting_senders_are_served_first_come_first_served() {
    run(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(0).await.unwrap();
        let mut tasks = Vec::new();
        for id in 1..=3 {
            let tx = tx.clone();
            tasks.push(evloop::spawn(async move { tx.send(id).await.unwrap() }));
            // Each starts waiting before the next is spawned.
            settle().await;
        }
        // Room made by the receiver goes to the waiters, not to a newcomer.
        for expected in 0..=3 {
            assert!(matches!(tx.try_send(99), Err(TrySendError::Full(99))));
            assert_eq!(rx.recv().await, Some(expected));
        }
        for t in tasks {
            t.await.unwrap();
        }
        tx.try_send(4).unwrap();
        assert_eq!(rx.recv().await, Some(4));
    });
}

#[test]
fn hundred_thousand_through_capacity_16_to_a_slow_consumer() {
    const N: u64 = 100_000;
    run(async {
        let (tx, mut rx) = mpsc::channel(16);
        let producer = evloop::spawn(async move {
            for i in 0..N {
                tx.send(i).await.unwrap();
            }
        });
        let mut expected = 0;
        while let Some(v) = rx.recv().await {
            assert_eq!(v, expected, "lost, duplicated or reordered");
            assert!(rx.len() <= 16);
            expected += 1;
            evloop::yield_now().await;
            if expected % 10_000 == 0 {
                sleep(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(expected, N);
        producer.await.unwrap();
    });
}

#[test]
fn many_producers_each_in_order_none_lost() {
    const PRODUCERS: u64 = 4;
    const EACH: u64 = 10_000;
    run(async {
        let (tx, mut rx) = mpsc::channel(16);
        for p in 0..PRODUCERS {
            let tx = tx.clone();
            evloop::spawn(async move {
                for i in 0..EACH {
                    tx.send((p, i)).await.unwrap();
                    if i % 7 == 0 {
                        evloop::yield_now().await;
                    }
                }
            });
        }
        drop(tx);
        let mut next = [0; PRODUCERS as usize];
        let mut total = 0;
        while let Some((p, i)) = rx.recv().await {
            assert_eq!(i, next[p as usize], "producer {p} out of order");
            next[p as usize] += 1;
            total += 1;
        }
        assert_eq!(total, PRODUCERS * EACH);
        assert!(next.iter().all(|n| *n == EACH));
    });
}

#[test]
fn close_keeps_buffered_values_and_fails_senders() {
    run(async {
        let (tx, mut rx) = mpsc::channel(2);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        let tx2 = tx.clone();
        let waiting = evloop::spawn(async move { tx2.send(3).await });
        settle().await;
        rx.close();
        assert!(tx.is_closed());
        // The sender that was waiting for room gets its value back.
        assert_eq!(waiting.await.unwrap().unwrap_err().0, 3);
        assert_eq!(tx.send(4).await.unwrap_err().0, 4);
        assert!(matches!(tx.try_send(5), Err(TrySendError::Closed(5))));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn receiver_ends_once_every_sender_is_gone() {
    run(async {
        let (tx, mut rx) = mpsc::channel(4);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        drop(tx);
        assert!(!rx.is_closed());
        tx2.send(2).await.unwrap();
        evloop::spawn(async move {
            evloop::yield_now().await;
            drop(tx2);
        });
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        // Waits for the last sender's drop.
        assert_eq!(rx.recv().await, None);
        assert!(rx.is_closed());
    });
}

#[test]
fn dropping_the_receiver_drops_buffered_values_and_fails_sends() {
    let drops = Rc::new(Cell::new(0));
    let (tx, rx) = mpsc::channel(4);
    tx.try_send(Tracked(drops.clone())).unwrap();
    tx.try_send(Tracked(drops.clone())).unwrap();
    drop(rx);
    assert_eq!(drops.get(), 2);
    assert!(tx.is_closed());
    let back = tx.try_send(Tracked(drops.clone())).unwrap_err();
    assert!(!back.is_full());
    drop(back);
    assert_eq!(drops.get(), 3);
}

#[test]
fn a_buffered_value_may_hold_a_sender_of_its_own_channel() {
    // Dropping the receiver drops the value, which drops the last sender: no borrow is held then.
    struct HoldsSender(#[allow(dead_code)] mpsc::UnboundedSender<HoldsSender>);
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(HoldsSender(tx.clone())).unwrap();
    drop(tx);
    drop(rx);
}

#[test]
fn unbounded_send_never_waits() {
    run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.len(), 10_000);
        let tx2 = tx.clone();
        assert!(tx.same_channel(&tx2));
        drop(tx);
        drop(tx2);
        for i in 0..10_000 {
            assert_eq!(rx.recv().await, Some(i));
        }
        assert_eq!(rx.recv().await, None);

        let (tx, mut rx) = mpsc::unbounded_channel();
        rx.close();
        assert_eq!(tx.send(1).unwrap_err().0, 1);
    });
}

#[test]
fn a_cancelled_send_withdraws_its_value_and_leaves_no_waiter() {
    run(async {
        let drops = Rc::new(Cell::new(0));
        let (tx, mut rx) = mpsc::channel(1);
        tx.send((0, Tracked(drops.clone()))).await.unwrap();
        // Waits for room, times out: the value is withdrawn and dropped.
        let r = timeout(
            Duration::from_millis(1),
            tx.send((1, Tracked(drops.clone()))),
        )
        .await;
        assert!(r.is_err());
        assert_eq!(drops.get(), 1);
        // A live waiter behind it gets the room.
        let tx2 = tx.clone();
        let live = evloop::spawn(async move {
            let _ = tx2.send((2, Tracked(Rc::new(Cell::new(0))))).await;
        });
        settle().await;
        assert_eq!(rx.recv().await.unwrap().0, 0);
        assert_eq!(rx.recv().await.unwrap().0, 2);
        live.await.unwrap();
        assert_eq!(tx.capacity(), 1);
    });
}

#[test]
fn a_send_that_started_waiting_is_received_even_if_not_polled_again() {
    run(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(0).await.unwrap();
        let tx2 = tx.clone();
        let waiting = evloop::spawn(async move { tx2.send(1).await });
        settle().await;
        // Taking 0 moves 1 into the buffer at once.
        assert_eq!(rx.try_recv(), Ok(0));
        assert_eq!(rx.len(), 1);
        assert_eq!(rx.try_recv(), Ok(1));
        assert!(waiting.await.unwrap().is_ok());
    });
}

#[test]
fn a_busy_receiver_still_lets_other_tasks_run() {
    run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
        let other_ran = Rc::new(Cell::new(false));
        let o = other_ran.clone();
        evloop::spawn(async move { o.set(true) });
        let seen_at = Rc::new(RefCell::new(None));
        for i in 0..10_000 {
            assert_eq!(rx.recv().await, Some(i));
            if other_ran.get() && seen_at.borrow().is_none() {
                *seen_at.borrow_mut() = Some(i);
            }
        }
        // The receiver yielded to the loop long before the backlog was drained.
        assert!(seen_at.borrow().is_some_and(|i| i < 1000));
    });
}
