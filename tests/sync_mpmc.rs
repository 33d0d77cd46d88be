//! `sync::mpmc`: ordering, fairness between consumers, closing, dropping of either end,
//! cancellation without loss, and no allocation per message in steady state.

mod util;

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use evloop::sync::mpmc::{self, TryRecvError, TrySendError};
use util::alloc::allocs;
use util::{counter, log, poll_pinned, run, settle, watchdog, DropGuard as Tracked, Rng};

// Counts allocations per thread; only `steady_state_allocates_nothing` looks at the count.
#[global_allocator]
static GLOBAL: util::alloc::Counting = util::alloc::Counting;

#[test]
fn holds_exactly_its_capacity_and_keeps_order() {
    let (tx, rx) = mpmc::channel(3);
    let rx2 = rx.clone();
    assert_eq!((tx.max_capacity(), tx.capacity()), (3, 3));
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.capacity(), 0);
    assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
    assert_eq!((rx.len(), tx.len()), (3, 3));
    // Two receivers taking turns see one sequence, in order.
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(rx2.try_recv(), Ok(1));
    tx.try_send(3).unwrap();
    assert_eq!(rx2.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(rx.same_channel(&rx2) && tx.same_channel(&tx.clone()));
    assert_eq!((tx.receiver_count(), rx.sender_count()), (2, 1));
    drop(tx);
    assert_eq!(rx2.try_recv(), Err(TryRecvError::Disconnected));
    assert!(rx.is_closed());
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn zero_capacity_panics() {
    let _ = mpmc::channel::<u8>(0);
}

#[test]
fn values_leave_in_the_order_they_were_sent_each_to_one_worker() {
    run(async {
        let (tx, rx) = mpmc::channel(4);
        let taken = log::<(usize, u32)>();
        let mut workers = Vec::new();
        for w in 0..4 {
            let (rx, taken) = (rx.clone(), taken.clone());
            workers.push(evloop::spawn(async move {
                while let Some(v) = rx.recv().await {
                    taken.borrow_mut().push((w, v));
                    if v % 3 == 0 {
                        evloop::yield_now().await; // uneven work
                    }
                }
            }));
        }
        drop(rx);
        let producers: Vec<_> = (0..2u32)
            .map(|p| {
                let tx = tx.clone();
                evloop::spawn(async move {
                    for i in 0..1000 {
                        tx.send(p * 10_000 + i).await.unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        for p in producers {
            p.await.unwrap();
        }
        for w in workers {
            w.await.unwrap();
        }
        let taken = taken.borrow();
        assert_eq!(taken.len(), 2000, "every value received once");
        // Each producer's values were taken in the order it sent them (one shared queue).
        for p in 0..2 {
            let mine: Vec<u32> = taken
                .iter()
                .map(|t| t.1)
                .filter(|v| v / 10_000 == p)
                .collect();
            assert_eq!(mine, (0..1000).map(|i| p * 10_000 + i).collect::<Vec<_>>());
        }
        let mut per_worker = [0; 4];
        for (w, _) in taken.iter() {
            per_worker[*w] += 1;
        }
        assert!(
            per_worker.iter().all(|&n| n > 0),
            "every worker got work: {per_worker:?}"
        );
    });
}

#[test]
fn idle_workers_take_turns_in_the_order_they_became_idle() {
    run(async {
        let (tx, rx) = mpmc::channel(8);
        let taken = log::<usize>();
        for w in 0..3 {
            let (rx, taken) = (rx.clone(), taken.clone());
            evloop::spawn(async move {
                while rx.recv().await.is_some() {
                    taken.borrow_mut().push(w);
                }
            });
            settle().await; // worker w waits before worker w + 1
        }
        // One value at a time: each goes to the longest-idle worker.
        for i in 0..9 {
            tx.send(i).await.unwrap();
            settle().await;
        }
        assert_eq!(*taken.borrow(), [0, 1, 2, 0, 1, 2, 0, 1, 2]);
        // A burst: three values promised to the three waiting workers, one each.
        taken.borrow_mut().clear();
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        settle().await;
        let mut burst = taken.borrow().clone();
        burst.sort();
        assert_eq!(burst, [0, 1, 2]);
    });
}

#[test]
fn a_value_promised_to_a_waiting_worker_is_not_snatched() {
    run(async {
        let (tx, rx) = mpmc::channel(4);
        let worker = {
            let rx = rx.clone();
            evloop::spawn(async move { rx.recv().await })
        };
        settle().await;
        tx.try_send("for the worker").unwrap();
        // The worker has not run yet; a receiver that did not wait finds nothing free.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(rx.len(), 1);
        tx.try_send("free").unwrap();
        assert_eq!(rx.try_recv(), Ok("for the worker"), "values leave in order");
        assert_eq!(worker.await.unwrap(), Some("free"));
    });
}

#[test]
fn a_dropped_receive_passes_its_value_on() {
    let _wd = watchdog("mpmc a_dropped_receive_passes_its_value_on", 60);
    run(async {
        let (tx, rx) = mpmc::channel(4);
        let rx2 = rx.clone();
        // First in line: a receive that will be dropped once promised a value.
        let mut first = Box::pin(rx.recv());
        assert!(poll_pinned(first.as_mut()).is_pending());
        let second = evloop::spawn(async move { rx2.recv().await });
        settle().await;
        tx.try_send(1).unwrap(); // promised to `first`
        drop(first); // ... which goes: `second` gets it, woken for it
        settle().await;
        assert!(second.is_finished(), "the promise was passed on");
        assert_eq!(second.await.unwrap(), Some(1));

        // Promised, dropped, and nobody else waits: the value stays, free.
        let mut third = Box::pin(rx.recv());
        assert!(poll_pinned(third.as_mut()).is_pending());
        tx.try_send(2).unwrap();
        drop(third);
        assert_eq!(rx.try_recv(), Ok(2));
    });
}

#[test]
fn nothing_is_lost_under_cancellation() {
    let _wd = watchdog("mpmc nothing_is_lost_under_cancellation", 60);
    run(async {
        let (tx, rx) = mpmc::channel(3);
        let got = Rc::new(RefCell::new(vec![0u32; 3000]));
        let mut workers = Vec::new();
        for w in 0..5u64 {
            let (rx, got) = (rx.clone(), got.clone());
            workers.push(evloop::spawn(async move {
                let mut rng = Rng::scrambled(w);
                loop {
                    let mut recv = pin!(rx.recv());
                    // Now and then poll a receive once and give up on it: if it was promised a
                    // value meanwhile, that value must reach someone else.
                    if rng.below(3) == 0 {
                        let polled = poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await;
                        match polled {
                            Poll::Ready(Some(v)) => got.borrow_mut()[v as usize] += 1,
                            Poll::Ready(None) => return,
                            Poll::Pending => {
                                evloop::yield_now().await;
                                continue; // drops `recv`
                            }
                        }
                    } else {
                        match recv.await {
                            Some(v) => got.borrow_mut()[v as usize] += 1,
                            None => return,
                        }
                    }
                    if rng.below(2) == 0 {
                        evloop::yield_now().await;
                    }
                }
            }));
        }
        drop(rx);
        for p in 0..3u32 {
            let tx = tx.clone();
            evloop::spawn(async move {
                // Slower than the workers, so that they wait (and give up waiting) often.
                let mut rng = Rng::scrambled(100 + u64::from(p));
                for i in 0..1000 {
                    tx.send(p * 1000 + i).await.unwrap();
                    for _ in 0..rng.below(3) {
                        evloop::yield_now().await;
                    }
                }
            });
        }
        drop(tx);
        for w in workers {
            w.await.unwrap();
        }
        let got = got.borrow();
        let wrong: Vec<_> = (0..3000).filter(|&i| got[i] != 1).collect();
        assert!(
            wrong.is_empty(),
            "values not received exactly once: {wrong:?}"
        );
    });
}

#[test]
fn closing_refuses_new_values_and_fails_waiting_senders_but_drains_the_buffer() {
    for by_sender in [false, true] {
        run(async {
            let (tx, rx) = mpmc::channel(1);
            tx.send(1).await.unwrap();
            let waiting = {
                let tx = tx.clone();
                evloop::spawn(async move { tx.send(2).await })
            };
            settle().await;
            let closed = if by_sender { tx.close() } else { rx.close() };
            assert!(closed);
            assert!(!tx.close(), "closed once");
            assert_eq!(
                waiting.await.unwrap().unwrap_err().0,
                2,
                "the value comes back"
            );
            assert!(tx.is_closed() && rx.is_closed());
            assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
            assert_eq!(tx.send(4).await.unwrap_err().0, 4);
            assert_eq!(rx.recv().await, Some(1));
            assert_eq!(rx.recv().await, None);
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        });
    }
}

#[test]
fn waiting_receivers_hear_the_end() {
    let _wd = watchdog("mpmc waiting_receivers_hear_the_end", 60);
    run(async {
        let (tx, rx) = mpmc::channel(2);
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                evloop::spawn(async move { rx.recv().await })
            })
            .collect();
        settle().await;
        tx.try_send(7).unwrap(); // promised to the first
        drop(tx); // the other two are told, and get `None` once 7 is taken
        let results: Vec<_> = {
            let mut r = Vec::new();
            for w in waiting {
                r.push(w.await.unwrap());
            }
            r
        };
        assert_eq!(results, [Some(7), None, None]);
        assert_eq!(rx.recv().await, None);

        // Closed while idle receivers wait, with nothing buffered: they all end.
        let (tx, rx) = mpmc::channel::<u8>(2);
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                evloop::spawn(async move { rx.recv().await })
            })
            .collect();
        settle().await;
        rx.close();
        for w in waiting {
            assert_eq!(w.await.unwrap(), None);
        }
        drop(tx);
    });
}

#[test]
fn dropping_every_receiver_closes_and_drops_what_is_buffered() {
    run(async {
        let drops = counter();
        let (tx, rx) = mpmc::channel(2);
        let rx2 = rx.clone();
        tx.try_send(Tracked(drops.clone())).unwrap();
        tx.try_send(Tracked(drops.clone())).unwrap();
        let waiting = {
            let tx = tx.clone();
            let value = Tracked(drops.clone());
            evloop::spawn(async move { tx.send(value).await.map_err(|e| e.0) })
        };
        settle().await;
        drop(rx);
        assert!(!tx.is_closed(), "one receiver is left");
        drop(rx2);
        assert!(tx.is_closed());
        assert_eq!(drops.get(), 2, "the buffered values are dropped");
        let back = waiting.await.unwrap().unwrap_err();
        assert_eq!(
            drops.get(),
            2,
            "the waiting sender's value comes back, not dropped"
        );
        drop(back);
        assert!(tx.try_send(Tracked(drops.clone())).is_err());
        assert_eq!(drops.get(), 4);
    });
}

#[test]
fn a_dropped_send_withdraws_its_value() {
    run(async {
        let drops = counter();
        let (tx, rx) = mpmc::channel(1);
        tx.try_send(Tracked(drops.clone())).unwrap();
        let mut send = Box::pin(tx.send(Tracked(drops.clone())));
        assert!(poll_pinned(send.as_mut()).is_pending());
        drop(send);
        assert_eq!(drops.get(), 1);
        drop(rx.recv().await);
        assert_eq!(drops.get(), 2);
        assert_eq!(
            rx.try_recv().err(),
            Some(TryRecvError::Empty),
            "nothing else arrived"
        );
    });
}

#[test]
fn a_value_that_holds_a_sender_may_be_dropped_by_the_channel() {
    // The last receiver drops the buffer with no borrow held: the value's own drop uses the
    // channel (drops the last sender, which wakes receivers).
    struct HoldsSender(#[allow(dead_code)] mpmc::Sender<HoldsSender>);
    let (tx, rx) = mpmc::channel(2);
    tx.try_send(HoldsSender(tx.clone())).unwrap();
    drop(tx);
    drop(rx);
}

#[test]
fn steady_state_allocates_nothing() {
    let _wd = watchdog("mpmc steady_state_allocates_nothing", 60);
    const WARM: u32 = 1_000;
    const N: u32 = 10_000;
    let window = Rc::new((Cell::new(0u64), Cell::new(0u64)));
    run(async {
        let (tx, rx) = mpmc::channel(4);
        let received = Rc::new(Cell::new(0u32));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (rx, received) = (rx.clone(), received.clone());
                evloop::spawn(async move {
                    while let Some(v) = rx.recv().await {
                        assert_eq!(v, received.get(), "in order");
                        received.set(v + 1);
                    }
                })
            })
            .collect();
        drop(rx);
        let w = window.clone();
        // Senders wait for room and receivers for values: both waiter lists and the buffer are
        // exercised every round.
        for i in 0..WARM + N {
            if i == WARM {
                w.0.set(allocs());
            }
            tx.send(i).await.unwrap();
        }
        w.1.set(allocs());
        drop(tx);
        for worker in workers {
            worker.await.unwrap();
        }
        assert_eq!(received.get(), WARM + N);
    });
    assert_eq!(window.1.get() - window.0.get(), 0, "{N} messages allocated");
}
