//! Promise chains: delivery through the loop's queue, ordering, flattening, recovery, `finally`,
//! the bridge with coroutines, and the reporting of unobserved rejections.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use evloop::promise::{Promise, PromiseError};
use evloop::{EventLoop, LoopError};
use util::watchdog;

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// Records what reaches the error hook: "unobserved: <message>" or "other: <error>".
fn hook_log(lp: &EventLoop) -> Log {
    let seen = log();
    let s = seen.clone();
    lp.set_error_hook(move |_, e| match e {
        LoopError::UnobservedRejection(msg) => push(&s, format!("unobserved: {msg}")),
        other => push(&s, format!("other: {other}")),
    });
    seen
}

#[test]
fn callbacks_on_a_settled_promise_run_from_the_queue_not_inline() {
    let _wd = watchdog(
        "callbacks_on_a_settled_promise_run_from_the_queue_not_inline",
        30,
    );
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let s = seen.clone();
    let p = Promise::<u32, ()>::resolved(1).then(move |v| {
        push(&s, format!("then {v}"));
        Ok(v)
    });
    push(&seen, "after then");
    let s = seen.clone();
    p.on_settled(move |_| push(&s, "observer"));
    push(&seen, "after on_settled");
    lp.run().unwrap();
    assert_eq!(
        entries(&seen),
        ["after then", "after on_settled", "then 1", "observer"]
    );
}

#[test]
fn resolve_never_runs_callbacks_inline() {
    let _wd = watchdog("resolve_never_runs_callbacks_inline", 30);
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let (p, r) = Promise::<u32, ()>::new();
    let s = seen.clone();
    let _end = p.map(move |v| push(&s, format!("callback {v}")));
    let s = seen.clone();
    lp.call_soon(move |_| {
        r.resolve(7).unwrap();
        push(&s, "after resolve");
    });
    lp.run().unwrap();
    assert_eq!(entries(&seen), ["after resolve", "callback 7"]);
}

#[test]
fn callbacks_on_one_promise_run_in_attachment_order() {
    let _wd = watchdog("callbacks_on_one_promise_run_in_attachment_order", 30);
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let (p, r) = Promise::<u32, ()>::new();
    for i in 0..5 {
        let s = seen.clone();
        p.on_settled(move |o| push(&s, format!("observer {i} {o:?}")));
    }
    let s = seen.clone();
    let _end = p.map(move |v| push(&s, format!("consumer {v}")));
    r.resolve(3).unwrap();
    lp.run().unwrap();
    let mut want: Vec<String> = (0..5).map(|i| format!("observer {i} Ok(3)")).collect();
    want.push("consumer 3".into());
    assert_eq!(entries(&seen), want);
}

#[test]
fn chains_interleave_in_settlement_order() {
    let _wd = watchdog("chains_interleave_in_settlement_order", 30);
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let (p1, r1) = Promise::<u32, ()>::new();
    let (p2, r2) = Promise::<u32, ()>::new();
    let step = |tag: &'static str| {
        let s = seen.clone();
        move |v: u32| {
            push(&s, tag);
            v + 1
        }
    };
    let _a = p1.map(step("a1")).map(step("a2")).map(step("a3"));
    let _b = p2.map(step("b1")).map(step("b2")).map(step("b3"));
    r1.resolve(0).unwrap();
    r2.resolve(0).unwrap();
    lp.run().unwrap();
    // Like JavaScript's microtasks: each link settles the next one, which queues behind the other
    // chain's pending link.
    assert_eq!(entries(&seen), ["a1", "b1", "a2", "b2", "a3", "b3"]);
}

#[test]
fn then_flattens_returned_promises() {
    let _wd = watchdog("then_flattens_returned_promises", 30);
    let lp = EventLoop::new().unwrap();
    let h = lp.handle().clone();
    let p = Promise::<u32, String>::resolved(1)
        .then(move |v| {
            // A promise settled later, by a timer.
            let (inner, r) = Promise::new();
            h.call_later(Duration::from_millis(2), move |_| {
                r.resolve(v + 1).unwrap();
            });
            inner
        })
        .then(|v| Promise::resolved(v * 10).then(|v| Ok(v + 1)))
        .then(|v| Ok(v * 2));
    assert_eq!(lp.block_on(p), Ok(42));

    let failed = Promise::<u32, String>::resolved(1)
        .then(|_| Promise::<u32, String>::rejected("inner".into()))
        .then(|v| Ok(v + 100));
    assert_eq!(
        lp.block_on(failed),
        Err(PromiseError::Rejected("inner".to_string()))
    );
}

#[test]
fn failures_skip_then_and_are_recovered_by_catch() {
    let _wd = watchdog("failures_skip_then_and_are_recovered_by_catch", 30);
    let lp = EventLoop::new().unwrap();
    let skipped = Rc::new(Cell::new(false));
    let s = skipped.clone();
    let p = Promise::<u32, String>::rejected("boom".into())
        .then(move |v| {
            s.set(true);
            Ok(v)
        })
        .map(|v| v + 1)
        .catch(|e| match e {
            PromiseError::Rejected(msg) if msg == "boom" => Ok(7),
            other => Err(other),
        })
        .map(|v| v * 6);
    assert_eq!(lp.block_on(p), Ok(42));
    assert!(!skipped.get(), "then must not run on a failure");

    // catch passes a failure on, or recovers with a promise; success skips it.
    let passed = Promise::<u32, String>::rejected("a".into())
        .catch(Err)
        .map_err(|e| format!("{e}!"));
    assert_eq!(
        lp.block_on(passed),
        Err(PromiseError::Rejected("a!".to_string()))
    );
    let recovered = Promise::<u32, String>::rejected("a".into()).catch(|_| Promise::resolved(5));
    assert_eq!(lp.block_on(recovered), Ok(5));
    let untouched = Promise::<u32, String>::resolved(1).catch(|_| Ok(99));
    assert_eq!(lp.block_on(untouched), Ok(1));

    // `?` inside a callback rejects with the plain error.
    let parsed =
        Promise::<&str, std::num::ParseIntError>::resolved("x").then(|s| Ok(s.parse::<u8>()?));
    assert!(matches!(
        lp.block_on(parsed),
        Err(PromiseError::Rejected(_))
    ));
}

#[test]
fn finally_runs_once_either_way_and_passes_the_outcome_on() {
    let _wd = watchdog("finally_runs_once_either_way_and_passes_the_outcome_on", 30);
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let s1 = seen.clone();
    let s2 = seen.clone();
    let ok = Promise::<u32, &str>::resolved(1)
        .finally(move || push(&s1, "finally ok"))
        .map(|v| v + 1);
    let err = Promise::<u32, &str>::rejected("e")
        .finally(move || push(&s2, "finally err"))
        .map(|v| v + 1);
    assert_eq!(lp.block_on(ok), Ok(2));
    assert_eq!(lp.block_on(err), Err(PromiseError::Rejected("e")));
    lp.run().unwrap();
    assert_eq!(entries(&seen), ["finally ok", "finally err"]);
}

#[test]
fn promises_and_coroutines_bridge_both_ways() {
    let _wd = watchdog("promises_and_coroutines_bridge_both_ways", 30);
    let lp = EventLoop::new().unwrap();
    let (p, r) = Promise::<u32, String>::new();
    // A task awaits a promise ...
    let task = lp.spawn(async move { p.await.map(|v| v * 2) });
    // ... and a coroutine becomes a promise.
    let q = Promise::from_future(async {
        evloop::time::sleep(Duration::from_millis(1)).await;
        Ok::<_, String>(20)
    });
    let qr = q.map(move |v| {
        r.resolve(v + 1).unwrap();
    });
    lp.block_on(qr).unwrap();
    assert_eq!(lp.block_on(task).unwrap(), Ok(42));

    // A coroutine's failures of awaited promises pass through unchanged.
    let (never, _r) = Promise::<u32, String>::new();
    never.cancel();
    let c = Promise::<u32, String>::from_coroutine(async move { Ok(never.await? + 1) });
    assert_eq!(lp.block_on(c), Err(PromiseError::Cancelled));
}

#[test]
fn awaiting_waits_for_earlier_observers() {
    let _wd = watchdog("awaiting_waits_for_earlier_observers", 30);
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let p = Promise::<u32, ()>::resolved(5);
    let s = seen.clone();
    p.on_settled(move |_| push(&s, "observer"));
    let s = seen.clone();
    let out = lp.block_on(async move {
        let v = p.await;
        push(&s, "awaited");
        v
    });
    assert_eq!(out, Ok(5));
    assert_eq!(entries(&seen), ["observer", "awaited"]);
}

#[test]
fn a_panicking_observer_is_reported_and_the_others_still_run() {
    let _wd = watchdog(
        "a_panicking_observer_is_reported_and_the_others_still_run",
        30,
    );
    let lp = EventLoop::new().unwrap();
    let hook = hook_log(&lp);
    let seen = log();
    let p = Promise::<u32, ()>::resolved(1);
    p.on_settled(|_| panic!("observer bug"));
    let s = seen.clone();
    p.on_settled(move |_| push(&s, "second observer"));
    assert_eq!(lp.block_on(p), Ok(1));
    lp.run().unwrap();
    assert_eq!(entries(&seen), ["second observer"]);
    assert_eq!(entries(&hook), ["other: callback panicked: observer bug"]);
}

#[test]
fn a_panicking_callback_fails_its_promise_with_dropped() {
    let _wd = watchdog("a_panicking_callback_fails_its_promise_with_dropped", 30);
    let lp = EventLoop::new().unwrap();
    let hook = hook_log(&lp);
    let p = Promise::<u32, ()>::resolved(1).map(|_| -> u32 { panic!("callback bug") });
    assert_eq!(lp.block_on(p), Err(PromiseError::Dropped));
    lp.run().unwrap();
    assert_eq!(entries(&hook), ["other: callback panicked: callback bug"]);
}

#[test]
fn unobserved_rejection_is_reported_exactly_once() {
    let _wd = watchdog("unobserved_rejection_is_reported_exactly_once", 30);
    let lp = EventLoop::new().unwrap();
    let hook = hook_log(&lp);

    // Dropped after it was rejected.
    drop(Promise::<(), &str>::rejected("early"));
    lp.run().unwrap();
    assert_eq!(entries(&hook), [r#"unobserved: Rejected("early")"#]);

    // Rejected after it was dropped (detached).
    let (p, r) = Promise::<(), &str>::new();
    drop(p);
    r.reject("late").unwrap();
    drop(r);
    lp.run().unwrap();
    // Only the end of a chain is reported, once.
    drop(
        Promise::<u32, &str>::rejected("chain")
            .then(|v| Ok(v + 1))
            .map(|v| v * 2)
            .finally(|| {}),
    );
    // A failing fire-and-forget coroutine.
    drop(Promise::<(), &str>::from_future(async { Err("task") }));
    // A timeout nobody waits for.
    let (slow, _keep) = Promise::<(), &str>::new();
    drop(slow.timeout(Duration::from_millis(1)));
    lp.run().unwrap();
    let mut seen = entries(&hook);
    // The reports come from different turns; their order depends on the chain lengths and timers.
    seen[1..].sort();
    assert_eq!(
        seen,
        [
            r#"unobserved: Rejected("early")"#,
            r#"unobserved: Rejected("chain")"#,
            r#"unobserved: Rejected("late")"#,
            r#"unobserved: Rejected("task")"#,
            "unobserved: TimedOut",
        ]
    );
}

#[test]
fn observed_rejections_are_not_reported() {
    let _wd = watchdog("observed_rejections_are_not_reported", 30);
    let lp = EventLoop::new().unwrap();
    let hook = hook_log(&lp);

    // Awaited.
    assert!(lp.block_on(Promise::<(), &str>::rejected("a")).is_err());
    // Recovered.
    drop(Promise::<(), &str>::rejected("b").catch(|_| Ok(())));
    // Observed.
    let p = Promise::<(), &str>::rejected("c");
    p.on_settled(|_| {});
    drop(p);
    // Cancelled, and resolvers dropped: asked for, or teardown.
    let (p, _r) = Promise::<(), &str>::new();
    p.cancel();
    drop(p);
    let (p, r) = Promise::<(), &str>::new();
    drop(r);
    drop(p);
    // Rejected and observed after the loop ran in between.
    let (p, r) = Promise::<(), &str>::new();
    r.reject("d").unwrap();
    lp.run().unwrap();
    assert_eq!(lp.block_on(p), Err(PromiseError::Rejected("d")));

    lp.run().unwrap();
    assert_eq!(entries(&hook), Vec::<String>::new());
}
