//! `sync::Semaphore`: permits, first come first served (a big waiter is not starved), closing,
//! and cancellation.

mod util;

use std::cell::{Cell, RefCell};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use evloop::sync::{Semaphore, TryAcquireError};
use evloop::time::timeout;
use util::{poll_pinned as poll_once, run, settle};

#[test]
fn permits_are_taken_and_given_back() {
    let sem = Semaphore::new(3);
    let a = sem.try_acquire().unwrap();
    let b = sem.try_acquire_many(2).unwrap();
    assert_eq!(b.num_permits(), 2);
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    drop(a);
    assert_eq!(sem.available_permits(), 1);
    drop(b);
    assert_eq!(sem.available_permits(), 3);
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), 5);
    sem.try_acquire_many(2).unwrap().forget();
    assert_eq!(sem.available_permits(), 3);
    assert!(sem.try_acquire_many(0).is_ok());
}

#[test]
fn concurrency_is_bounded() {
    run(async {
        let sem = Rc::new(Semaphore::new(3));
        let inside = Rc::new(Cell::new(0));
        let most = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
                evloop::spawn(async move {
                    let _permit = sem.acquire_owned().await.unwrap();
                    inside.set(inside.get() + 1);
                    most.set(most.get().max(inside.get()));
                    for _ in 0..i % 4 {
                        evloop::yield_now().await;
                    }
                    inside.set(inside.get() - 1);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.get(), 3);
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn a_big_waiter_at_the_head_is_not_starved_by_small_ones() {
    run(async {
        let sem = Rc::new(Semaphore::new(3));
        let mut held: Vec<_> = (0..3).map(|_| sem.try_acquire().unwrap()).collect();
        let order = Rc::new(RefCell::new(Vec::new()));
        let spawn_acquirer = |name: &'static str, n: usize| {
            let (sem, order) = (sem.clone(), order.clone());
            evloop::spawn(async move {
                let permit = sem.acquire_many_owned(n).await.unwrap();
                order.borrow_mut().push(name);
                permit
            })
        };
        let big = spawn_acquirer("big", 3);
        settle().await;
        let small: Vec<_> = (0..3).map(|_| spawn_acquirer("small", 1)).collect();
        settle().await;

        // Permits come back one at a time: each would do for a small acquirer, but the big one is
        // first in line and keeps them until it has all three.
        for _ in 0..2 {
            drop(held.pop());
            settle().await;
            assert!(order.borrow().is_empty());
            assert_eq!(sem.available_permits(), 0);
            assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        }
        drop(held.pop());
        settle().await;
        assert_eq!(*order.borrow(), ["big"]);
        let big_permit = big.await.unwrap();
        assert_eq!(big_permit.num_permits(), 3);
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        drop(big_permit);
        for s in small {
            drop(s.await.unwrap());
        }
        assert_eq!(*order.borrow(), ["big", "small", "small", "small"]);
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn released_permits_gather_at_the_head_until_it_has_enough() {
    run(async {
        let sem = Rc::new(Semaphore::new(0));
        let s = sem.clone();
        let big = evloop::spawn(async move { s.acquire_many(3).await.unwrap().num_permits() });
        settle().await;
        let s = sem.clone();
        let small = evloop::spawn(async move { s.acquire().await.unwrap().num_permits() });
        settle().await;
        for _ in 0..2 {
            sem.add_permits(1);
            settle().await;
            assert!(!big.is_finished() && !small.is_finished());
            assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        }
        sem.add_permits(2); // one completes the big request, one goes to the small
        assert_eq!(big.await.unwrap(), 3);
        assert_eq!(small.await.unwrap(), 1);
        assert_eq!(sem.available_permits(), 4);
    });
}

#[test]
fn close_fails_waiters_and_later_acquires_but_not_held_permits() {
    run(async {
        let sem = Rc::new(Semaphore::new(1));
        let held = sem.acquire().await.unwrap();
        let s = sem.clone();
        let waiter = evloop::spawn(async move { s.acquire_many(2).await.map(|p| p.num_permits()) });
        settle().await;
        sem.close();
        assert!(sem.is_closed());
        assert!(waiter.await.unwrap().is_err());
        assert!(sem.acquire().await.is_err());
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
        drop(held);
        assert_eq!(sem.available_permits(), 1, "permits still come back");
    });
}

#[test]
fn a_timed_out_acquire_gives_back_what_it_gathered() {
    run(async {
        let sem = Rc::new(Semaphore::new(2));
        let one = sem.acquire().await.unwrap();
        // Gathers the free permit, waits for a second one, times out.
        assert!(timeout(Duration::from_millis(1), sem.acquire_many(2))
            .await
            .is_err());
        assert_eq!(sem.available_permits(), 1);
        // No phantom waiter holds up the queue.
        let two = sem.try_acquire().unwrap();
        let s = sem.clone();
        let live = evloop::spawn(async move { s.acquire().await.map(|p| p.num_permits()) });
        settle().await;
        drop(one);
        assert_eq!(live.await.unwrap(), Ok(1));
        drop(two);
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn permits_handed_to_a_dropped_acquire_are_passed_on() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut first = Box::pin(sem.acquire());
    let mut second = pin!(sem.acquire());
    assert!(poll_once(first.as_mut()).is_pending());
    assert!(poll_once(second.as_mut()).is_pending());
    drop(held); // handed to `first`...
    drop(first); // ...which never took it: passed to `second`
    match poll_once(second.as_mut()) {
        Poll::Ready(Ok(p)) => assert_eq!(p.num_permits(), 1),
        other => panic!("second did not get the permit: {other:?}"),
    }
    assert_eq!(sem.available_permits(), 1);
}
