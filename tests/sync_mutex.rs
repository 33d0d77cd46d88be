//! `sync::Mutex`: exclusion across awaits, first come first served, and cancellation.

mod util;

use std::cell::RefCell;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use evloop::sync::Mutex;
use evloop::time::timeout;
use util::{poll_pinned as poll_once, run, settle};

#[test]
fn lock_is_exclusive_across_awaits() {
    run(async {
        let m = Rc::new(Mutex::new(0u32));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let m = m.clone();
                evloop::spawn(async move {
                    for _ in 0..10 {
                        let mut g = m.lock().await;
                        let v = *g;
                        evloop::yield_now().await;
                        *g = v + 1; // lost updates if anyone else got in
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*m.lock().await, 100);
    });
}

#[test]
fn waiters_get_the_lock_in_order_and_try_lock_cannot_barge() {
    run(async {
        let m = Rc::new(Mutex::new(Vec::new()));
        let guard = m.lock().await;
        let order = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..5)
            .map(|id| {
                let (m, order) = (m.clone(), order.clone());
                evloop::spawn(async move {
                    let mut g = m.lock().await;
                    g.push(id);
                    order.borrow_mut().push(id);
                    evloop::yield_now().await;
                })
            })
            .collect();
        settle().await;
        assert!(m.try_lock().is_err());
        drop(guard);
        // Handed straight to the first waiter: still taken.
        assert!(m.try_lock().is_err());
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.borrow(), [0, 1, 2, 3, 4]);
        assert_eq!(*m.try_lock().unwrap(), [0, 1, 2, 3, 4]);
    });
}

#[test]
fn a_timed_out_lock_leaves_no_phantom_waiter() {
    run(async {
        let m = Rc::new(Mutex::new(()));
        let guard = m.lock().await;
        assert!(timeout(Duration::from_millis(1), m.lock()).await.is_err());
        let m2 = m.clone();
        let live = evloop::spawn(async move {
            let _g = m2.lock().await;
        });
        settle().await;
        drop(guard);
        live.await.unwrap();
        assert!(m.try_lock().is_ok());
    });
}

#[test]
fn a_lock_handed_to_a_dropped_waiter_is_passed_on() {
    let m = Mutex::new(1);
    let guard = m.try_lock().unwrap();
    let mut first = Box::pin(m.lock());
    let mut second = pin!(m.lock());
    assert!(poll_once(first.as_mut()).is_pending());
    assert!(poll_once(second.as_mut()).is_pending());
    drop(guard); // handed to `first`...
    drop(first); // ...which never took it
    match poll_once(second.as_mut()) {
        Poll::Ready(g) => assert_eq!(*g, 1),
        Poll::Pending => panic!("the lock was lost"),
    }
    assert!(m.try_lock().is_ok());
}

#[test]
fn get_mut_and_into_inner() {
    let mut m = Mutex::new(String::from("a"));
    m.get_mut().push('b');
    assert_eq!(format!("{m:?}"), "Mutex { value: \"ab\" }");
    assert_eq!(m.into_inner(), "ab");
}
