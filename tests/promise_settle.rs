//! Settling promises: once only, dropped resolvers, resolving from another thread, cancellation with
//! cancellers, and timeouts.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::promise::{AlreadySettled, Promise, PromiseError, RemoteResolver};
use evloop::EventLoop;
use util::{counter, watchdog, DropGuard};

#[test]
fn settling_twice_is_an_error_value() {
    let _wd = watchdog("settling_twice_is_an_error_value", 30);
    let lp = EventLoop::new().unwrap();
    let (p, r) = Promise::<u32, &str>::new();
    assert!(!r.is_settled() && !p.is_settled());
    assert_eq!(r.resolve(1), Ok(()));
    assert_eq!(r.resolve(2), Err(AlreadySettled));
    assert_eq!(r.reject("no"), Err(AlreadySettled));
    assert!(r.is_settled() && p.is_settled());
    assert_eq!(lp.block_on(p), Ok(1));

    let (p, r) = Promise::<u32, &str>::new();
    assert_eq!(r.reject("first"), Ok(()));
    assert_eq!(r.resolve(2), Err(AlreadySettled));
    assert_eq!(lp.block_on(p), Err(PromiseError::Rejected("first")));
}

#[test]
fn the_rejected_value_offered_twice_is_dropped() {
    let _wd = watchdog("the_rejected_value_offered_twice_is_dropped", 30);
    let lp = EventLoop::new().unwrap();
    let drops = counter();
    let (p, r) = Promise::<DropGuard, ()>::new();
    r.resolve(DropGuard(drops.clone())).unwrap();
    assert_eq!(r.resolve(DropGuard(drops.clone())), Err(AlreadySettled));
    assert_eq!(drops.get(), 1, "the refused value is dropped at once");
    drop(lp.block_on(p));
    assert_eq!(drops.get(), 2);
}

#[test]
fn dropping_an_unused_resolver_fails_the_promise_with_dropped() {
    let _wd = watchdog(
        "dropping_an_unused_resolver_fails_the_promise_with_dropped",
        30,
    );
    let lp = EventLoop::new().unwrap();
    let (p, r) = Promise::<u32, ()>::new();
    let chained = p.map(|v| v + 1);
    drop(r);
    assert_eq!(lp.block_on(chained), Err(PromiseError::Dropped));
}

#[test]
fn resolve_from_another_thread() {
    let _wd = watchdog("resolve_from_another_thread", 30);
    let lp = EventLoop::new().unwrap();
    let (p, r) = Promise::<Vec<u32>, String>::new();
    let remote = r.into_remote();
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    assert_send_sync(&remote);
    let got = Rc::new(Cell::new(0));
    let g = got.clone();
    let _end = p.map(move |v| g.set(v.iter().sum()));
    let worker = thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        let first = remote.resolve(vec![1, 2, 3]);
        let second = remote.resolve(vec![4]);
        (first, second)
    });
    // The remote resolver keeps the loop alive until it is used, so `run` waits for the thread.
    lp.run().unwrap();
    assert_eq!(got.get(), 6);
    assert_eq!(worker.join().unwrap(), (Ok(()), Err(AlreadySettled)));
}

#[test]
fn reject_from_another_thread_and_drop_unused() {
    let _wd = watchdog("reject_from_another_thread_and_drop_unused", 30);
    let lp = EventLoop::new().unwrap();
    let (p, r) = Promise::<u32, String>::new();
    let remote: RemoteResolver<u32, String> = r.into_remote();
    thread::spawn(move || remote.reject("worker failed".into()).unwrap())
        .join()
        .unwrap();
    assert_eq!(
        lp.block_on(p),
        Err(PromiseError::Rejected("worker failed".to_string()))
    );

    let (p, r) = Promise::<u32, String>::new();
    let remote = r.into_remote();
    thread::spawn(move || drop(remote)).join().unwrap();
    assert_eq!(lp.block_on(p), Err(PromiseError::Dropped));
    lp.run().unwrap(); // nothing keeps the loop alive any more
}

#[test]
fn cancelling_a_remotely_resolved_promise_tells_the_other_thread() {
    let _wd = watchdog(
        "cancelling_a_remotely_resolved_promise_tells_the_other_thread",
        30,
    );
    let lp = EventLoop::new().unwrap();
    let (p, r) = Promise::<u32, ()>::new();
    let remote = r.into_remote();
    let (cancelled_tx, cancelled_rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        cancelled_rx.recv().unwrap();
        // The loop learns of the cancellation in its next turn; wait for it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !remote.is_settled() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        remote.resolve(1)
    });
    lp.call_soon(move |_| {
        assert!(p.cancel());
        cancelled_tx.send(()).unwrap();
    });
    // Cancelling releases the loop: `run` returns without waiting for the worker.
    lp.run().unwrap();
    assert_eq!(worker.join().unwrap(), Err(AlreadySettled));
}

#[test]
fn the_canceller_runs_exactly_once_and_only_on_cancel() {
    let _wd = watchdog("the_canceller_runs_exactly_once_and_only_on_cancel", 30);
    let lp = EventLoop::new().unwrap();
    let calls = counter();
    let c = calls.clone();
    let (p, r) = Promise::<u32, ()>::with_canceller(move || c.set(c.get() + 1));
    assert!(p.cancel());
    assert!(!p.cancel(), "a second cancel finds the promise settled");
    assert_eq!(calls.get(), 1);
    assert_eq!(r.resolve(1), Err(AlreadySettled));
    assert!(r.is_settled());
    assert_eq!(lp.block_on(p), Err(PromiseError::Cancelled));
    assert_eq!(calls.get(), 1);

    // Settled normally: the canceller is dropped, never called.
    let calls = counter();
    let dropped = counter();
    let (c, guard) = (calls.clone(), DropGuard(dropped.clone()));
    let (p, r) = Promise::<u32, ()>::with_canceller(move || {
        let _guard = &guard;
        c.set(c.get() + 1);
    });
    r.resolve(5).unwrap();
    assert_eq!(
        dropped.get(),
        1,
        "the canceller is dropped once the promise settles"
    );
    assert!(!p.cancel());
    assert_eq!(lp.block_on(p), Ok(5));
    assert_eq!(calls.get(), 0);
}

#[test]
fn cancelling_a_chain_cancels_what_it_waits_on() {
    let _wd = watchdog("cancelling_a_chain_cancels_what_it_waits_on", 30);
    let lp = EventLoop::new().unwrap();

    // While the source is pending: the source is cancelled.
    let calls = counter();
    let c = calls.clone();
    let (source, _r) = Promise::<u32, ()>::with_canceller(move || c.set(c.get() + 1));
    let end = source.map(|v| v + 1).then(|v| Ok(v * 2));
    assert!(end.cancel());
    assert_eq!(calls.get(), 1);
    assert_eq!(lp.block_on(end), Err(PromiseError::Cancelled));

    // Once the callback returned a pending promise: that promise is cancelled.
    let calls = counter();
    let c = calls.clone();
    let inner_resolver = Rc::new(RefCell::new(None));
    let ir = inner_resolver.clone();
    let end = Promise::<u32, ()>::resolved(1).then(move |_| {
        let (inner, r) = Promise::<u32, ()>::with_canceller(move || c.set(c.get() + 1));
        *ir.borrow_mut() = Some(r);
        inner
    });
    // Let the callback run and return its promise.
    let ir = inner_resolver.clone();
    lp.block_on(async move {
        while ir.borrow().is_none() {
            evloop::yield_now().await;
        }
    });
    assert!(end.cancel());
    assert_eq!(
        calls.get(),
        1,
        "the promise returned by the callback was cancelled"
    );
    assert_eq!(lp.block_on(end), Err(PromiseError::Cancelled));
}

#[test]
fn cancelling_a_future_promise_drops_the_future() {
    let _wd = watchdog("cancelling_a_future_promise_drops_the_future", 30);
    let lp = EventLoop::new().unwrap();
    let drops = counter();
    let polled = counter();
    let (guard, p2) = (DropGuard(drops.clone()), polled.clone());
    let p = Promise::<(), ()>::from_future(async move {
        let _guard = guard;
        p2.set(p2.get() + 1);
        std::future::pending::<()>().await;
        Ok(())
    });
    lp.run_nowait().unwrap(); // the task starts and waits
    assert_eq!(polled.get(), 1);
    assert_eq!(drops.get(), 0);
    assert!(p.cancel());
    lp.run().unwrap(); // the aborted task drops its future
    assert_eq!(drops.get(), 1);
    assert_eq!(lp.task_count(), 0);
    assert_eq!(lp.block_on(p), Err(PromiseError::Cancelled));
}

#[test]
fn timeout_fires_and_cancels_the_source() {
    let _wd = watchdog("timeout_fires_and_cancels_the_source", 30);
    let lp = EventLoop::new().unwrap();
    let calls = counter();
    let c = calls.clone();
    let (source, r) = Promise::<u32, ()>::with_canceller(move || c.set(c.get() + 1));
    let start = Instant::now();
    let p = source.timeout(Duration::from_millis(20));
    assert_eq!(lp.block_on(p), Err(PromiseError::TimedOut));
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(calls.get(), 1, "the source's canceller ran once");
    assert_eq!(r.resolve(1), Err(AlreadySettled));
    lp.run().unwrap();
    assert_eq!(calls.get(), 1);
}

#[test]
fn timeout_does_not_fire_when_settled_in_time() {
    let _wd = watchdog("timeout_does_not_fire_when_settled_in_time", 30);
    let lp = EventLoop::new().unwrap();
    let calls = counter();
    let c = calls.clone();
    let (source, r) = Promise::<u32, ()>::with_canceller(move || c.set(c.get() + 1));
    lp.call_later(Duration::from_millis(2), move |_| r.resolve(9).unwrap());
    let p = source.timeout(Duration::from_secs(20));
    let start = Instant::now();
    assert_eq!(lp.block_on(p), Ok(9));
    // The deadline timer is gone: `run` has nothing left to wait for.
    assert_eq!(lp.pending_counts().0, 0);
    lp.run().unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(calls.get(), 0);

    // An already settled promise wins even with a zero timeout.
    let p = Promise::<u32, ()>::resolved(3).timeout(Duration::ZERO);
    assert_eq!(lp.block_on(p), Ok(3));
}

#[test]
fn cancelling_a_timeout_disarms_it_and_cancels_the_source() {
    let _wd = watchdog("cancelling_a_timeout_disarms_it_and_cancels_the_source", 30);
    let lp = EventLoop::new().unwrap();
    let calls = counter();
    let c = calls.clone();
    let (source, _r) = Promise::<u32, ()>::with_canceller(move || c.set(c.get() + 1));
    let p = source.timeout(Duration::from_secs(60));
    assert_eq!(lp.pending_counts().0, 1);
    assert!(p.cancel());
    assert_eq!(lp.pending_counts().0, 0);
    assert_eq!(calls.get(), 1);
    assert_eq!(lp.block_on(p), Err(PromiseError::Cancelled));
}

#[test]
fn dropping_the_loop_settles_what_it_was_producing() {
    let _wd = watchdog("dropping_the_loop_settles_what_it_was_producing", 30);
    let lp = EventLoop::new().unwrap();
    let from_task = Promise::<u32, ()>::from_future(std::future::pending());
    let (remote_promise, r) = Promise::<u32, ()>::new();
    let remote = r.into_remote();
    lp.run_nowait().unwrap(); // both tasks start waiting
    assert!(!from_task.is_settled() && !remote_promise.is_settled());
    drop(lp);
    // The tasks' futures were dropped with the loop, and their resolvers with them.
    assert!(from_task.is_settled() && remote_promise.is_settled());
    let worker = thread::spawn(move || remote.resolve(1));
    assert_eq!(worker.join().unwrap(), Err(AlreadySettled));
}
