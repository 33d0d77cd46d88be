//! Panic policy: panics in callbacks and tasks are caught and reported to the error hook; the loop
//! and the other callbacks keep working; a hook may re-raise, and the loop can then be run again.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use evloop::{EventLoop, Handle, Interest, LoopError, TimerId};
use util::{bump, counter, drain_udp, log, udp_bound, udp_sender, watchdog, Log};

/// What the hook saw: "callback: <message>" or "task: <message>".
fn capture_errors(lp: &EventLoop) -> Log<String> {
    let errors = log();
    let e = errors.clone();
    lp.set_error_hook(move |_, err| {
        let text = match &err {
            LoopError::CallbackPanic(_) => format!("callback: {}", err.panic_message().unwrap()),
            LoopError::TaskPanic(_) => format!("task: {}", err.panic_message().unwrap()),
            other => format!("other: {other}"),
        };
        e.borrow_mut().push(text);
    });
    errors
}

/// Silences the default panic hook's output for the expected panics of this file (they all start
/// with "boom"), keeping it for anything else.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !msg.starts_with("boom") {
                default(info);
            }
        }));
    });
}

#[test]
fn the_default_hook_reports_and_keeps_running() {
    let _wd = watchdog("the_default_hook_reports_and_keeps_running", 60);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let ran = counter();
    lp.call_soon(|_| panic!("boom: default hook"));
    let r = ran.clone();
    lp.call_soon(move |_| bump(&r));
    let r = ran.clone();
    lp.call_later(Duration::from_millis(1), move |_| bump(&r));
    lp.run().unwrap();
    assert_eq!(ran.get(), 2);
}

#[test]
fn panicking_callbacks_are_reported_and_everything_else_keeps_working() {
    let _wd = watchdog("panicking_callbacks_are_reported", 60);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let errors = capture_errors(&lp);
    let healthy = counter();

    // call_soon
    lp.call_soon(|_| panic!("boom soon"));
    let h1 = healthy.clone();
    lp.call_soon(move |_| bump(&h1));

    // One-shot timer, and a healthy one due at the same time, armed after it.
    lp.call_later(Duration::from_millis(1), |_| panic!("boom timer"));
    let h2 = healthy.clone();
    lp.call_later(Duration::from_millis(1), move |_| bump(&h2));

    // A periodic timer that panics every time: it keeps firing; it cancels itself on the third.
    let own: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let (o, n) = (own.clone(), counter());
    own.set(Some(lp.call_every(Duration::from_millis(1), move |h| {
        bump(&n);
        if n.get() == 3 {
            h.cancel_timer(o.get().unwrap());
        }
        panic!("boom every {}", n.get());
    })));

    // A watcher that panics: it stays registered and gets the next event.
    let (sock, addr) = udp_bound();
    let sender = Rc::new(udp_sender());
    let (s, n) = (sender.clone(), counter());
    lp.watch(sock, Interest::READABLE, move |h, sock, ev| {
        drain_udp(sock);
        bump(&n);
        if n.get() == 1 {
            s.send_to(b"again", addr).unwrap();
        } else {
            h.unwatch(ev.watcher());
        }
        panic!("boom watch {}", n.get());
    })
    .unwrap();
    sender.send_to(b"first", addr).unwrap();

    // A healthy watcher next to it.
    let (sock2, addr2) = udp_bound();
    let h3 = healthy.clone();
    lp.watch(sock2, Interest::READABLE, move |h, sock, ev| {
        bump(&h3);
        drain_udp(sock);
        h.unwatch(ev.watcher());
    })
    .unwrap();
    sender.send_to(b"healthy", addr2).unwrap();

    lp.run().unwrap(); // returns once every timer and watcher is gone
    assert_eq!(healthy.get(), 3);
    let mut errors = errors.borrow().clone();
    errors.sort();
    assert_eq!(
        errors,
        vec![
            "callback: boom every 1",
            "callback: boom every 2",
            "callback: boom every 3",
            "callback: boom soon",
            "callback: boom timer",
            "callback: boom watch 1",
            "callback: boom watch 2",
        ]
    );
    assert_eq!(lp.pending_counts(), (0, 0));
}

#[test]
fn a_panicking_remote_post_is_reported() {
    let _wd = watchdog("a_panicking_remote_post_is_reported", 60);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let errors = capture_errors(&lp);
    let remote = lp.remote();
    std::thread::spawn(move || {
        remote.post(|_| panic!("boom post")).unwrap();
        remote.post(|h| h.stop()).unwrap();
    })
    .join()
    .unwrap();
    lp.run().unwrap();
    assert_eq!(*errors.borrow(), vec!["callback: boom post"]);
}

fn resume_unwind_hook(lp: &EventLoop) {
    lp.set_error_hook(|_: &Handle, err: LoopError| err.resume_unwind());
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn a_hook_that_resumes_the_unwind_ends_run_and_the_loop_can_run_again() {
    let _wd = watchdog("a_hook_that_resumes_the_unwind_ends_run", 60);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    resume_unwind_hook(&lp);
    let seen = log();
    let s = seen.clone();
    lp.call_soon(move |_| s.borrow_mut().push("before"));
    lp.call_soon(|_| panic!("boom resumed"));
    let s = seen.clone();
    lp.call_soon(move |_| s.borrow_mut().push("after"));

    let err = catch_unwind(AssertUnwindSafe(|| lp.run())).expect_err("run unwinds");
    assert_eq!(panic_message(&*err), "boom resumed");
    assert_eq!(*seen.borrow(), vec!["before"]);

    // Run again: the rest of the queue, new callbacks and timers all work.
    let s = seen.clone();
    lp.call_later(Duration::from_millis(1), move |_| {
        s.borrow_mut().push("timer")
    });
    lp.run().unwrap();
    assert_eq!(*seen.borrow(), vec!["before", "after", "timer"]);
    assert_eq!(lp.block_on(async { 3 }), 3);
}

#[test]
fn a_stop_request_does_not_outlive_a_run_that_unwound() {
    let _wd = watchdog("a_stop_request_does_not_outlive_a_run_that_unwound", 60);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    resume_unwind_hook(&lp);
    lp.call_soon(|h| {
        h.stop();
        panic!("boom after stop");
    });
    let ran = counter();
    let r = ran.clone();
    lp.call_soon(move |_| bump(&r));
    let err = catch_unwind(AssertUnwindSafe(|| lp.run())).expect_err("run unwinds");
    assert_eq!(panic_message(&*err), "boom after stop");
    // `run` has returned (by unwinding): the stop request was for that run, not the next one.
    lp.run().unwrap();
    assert_eq!(ran.get(), 1);
}

#[test]
fn a_periodic_timer_keeps_firing_after_its_panic_was_resumed() {
    let _wd = watchdog(
        "a_periodic_timer_keeps_firing_after_its_panic_was_resumed",
        60,
    );
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    resume_unwind_hook(&lp);
    let own: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let (o, n) = (own.clone(), counter());
    let calls = n.clone();
    own.set(Some(lp.call_every(Duration::from_millis(1), move |h| {
        bump(&n);
        if n.get() == 1 {
            panic!("boom periodic");
        }
        if n.get() == 3 {
            h.cancel_timer(o.get().unwrap());
        }
    })));
    let err = catch_unwind(AssertUnwindSafe(|| lp.run())).expect_err("run unwinds");
    assert_eq!(panic_message(&*err), "boom periodic");
    assert_eq!(calls.get(), 1);
    assert!(lp.timer_is_live(own.get().unwrap()));

    // A fail-safe so that a timer lost by the unwind fails the test instead of hanging it.
    let failsafe = lp.call_later(Duration::from_secs(5), |h| h.stop());
    assert!(lp.set_timer_keep_alive(failsafe, false));
    lp.run().unwrap();
    assert_eq!(
        calls.get(),
        3,
        "the periodic timer stopped firing after the unwind"
    );
    assert!(!lp.timer_is_live(own.get().unwrap()));
    lp.cancel_timer(failsafe);
}

#[test]
fn a_watcher_keeps_working_after_its_panic_was_resumed() {
    let _wd = watchdog("a_watcher_keeps_working_after_its_panic_was_resumed", 60);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    resume_unwind_hook(&lp);
    let (sock, addr) = udp_bound();
    let n = counter();
    let calls = n.clone();
    let id = lp
        .watch(sock, Interest::READABLE, move |h, sock, ev| {
            drain_udp(sock);
            bump(&n);
            if n.get() == 1 {
                panic!("boom watcher");
            }
            h.unwatch(ev.watcher());
        })
        .unwrap();
    let sender = udp_sender();
    sender.send_to(b"1", addr).unwrap();
    let err = catch_unwind(AssertUnwindSafe(|| lp.run())).expect_err("run unwinds");
    assert_eq!(panic_message(&*err), "boom watcher");
    assert_eq!(calls.get(), 1);

    let failsafe = lp.call_later(Duration::from_secs(5), |h| h.stop());
    assert!(lp.set_timer_keep_alive(failsafe, false));
    sender.send_to(b"2", addr).unwrap();
    lp.run().unwrap();
    assert_eq!(calls.get(), 2, "the watcher was lost by the unwind");
    assert!(!lp.unwatch(id), "it removed itself");
    assert_eq!(lp.pending_counts(), (1, 0));
    lp.cancel_timer(failsafe);
}

#[test]
fn a_resumed_task_panic_ends_run_and_the_loop_can_run_again() {
    let _wd = watchdog("a_resumed_task_panic_ends_run", 60);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    resume_unwind_hook(&lp);
    drop(lp.spawn(async { panic!("boom task") }));
    let ok = counter();
    let o = ok.clone();
    drop(lp.spawn(async move { bump(&o) }));
    let err = catch_unwind(AssertUnwindSafe(|| lp.run())).expect_err("run unwinds");
    assert_eq!(panic_message(&*err), "boom task");
    assert_eq!(
        lp.task_count(),
        1,
        "the panicked task is gone, the other is still queued"
    );
    lp.run().unwrap();
    assert_eq!(ok.get(), 1);
    assert_eq!(lp.task_count(), 0);
}

#[test]
fn a_detached_task_panic_is_reported_as_task_panic() {
    let _wd = watchdog("a_detached_task_panic_is_reported_as_task_panic", 60);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let errors = capture_errors(&lp);
    drop(lp.spawn(async { panic!("boom detached") }));
    let ok = counter();
    let o = ok.clone();
    drop(lp.spawn(async move { bump(&o) }));
    lp.run().unwrap();
    assert_eq!(*errors.borrow(), vec!["task: boom detached"]);
    assert_eq!(ok.get(), 1);
    assert_eq!(lp.task_count(), 0);
}

#[test]
fn a_joined_task_panic_goes_to_its_join_handle() {
    let _wd = watchdog("a_joined_task_panic_goes_to_its_join_handle", 60);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let errors = capture_errors(&lp);
    let task = lp.spawn(async {
        evloop::yield_now().await;
        panic!("boom joined");
    });
    let err = lp.block_on(task).expect_err("the task panicked");
    assert!(err.is_panic() && !err.is_cancelled());
    let payload = err.try_into_panic().ok().unwrap();
    assert_eq!(panic_message(&*payload), "boom joined");
    assert!(
        errors.borrow().is_empty(),
        "not reported to the hook: {:?}",
        errors.borrow()
    );

    // Also from inside another task.
    let out = lp.block_on(async {
        let inner = evloop::spawn(async { panic!("boom inner") });
        let e = inner.await.unwrap_err();
        e.to_string()
    });
    assert!(out.contains("boom inner"), "{out}");
    assert!(errors.borrow().is_empty());
}

#[test]
fn an_error_hook_can_use_the_handle_and_replace_itself() {
    let _wd = watchdog("an_error_hook_can_use_the_handle_and_replace_itself", 60);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let seen: Rc<RefCell<Vec<String>>> = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_error_hook(move |h, err| {
        s.borrow_mut().push(format!("first: {err}"));
        let s2 = s.clone();
        // Replacing the hook from inside the hook is allowed.
        h.set_error_hook(move |_, err| s2.borrow_mut().push(format!("second: {err}")));
        h.call_soon(|_| panic!("boom two"));
    });
    lp.call_soon(|_| panic!("boom one"));
    lp.run().unwrap();
    assert_eq!(
        *seen.borrow(),
        vec![
            "first: callback panicked: boom one",
            "second: callback panicked: boom two"
        ]
    );
}
