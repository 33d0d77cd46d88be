//! Task names and the dump, turn hooks, and debug mode seen through the error hook (the
//! subprocess view of debug mode is `loop_debug.rs`).

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use evloop::task::Builder;
use evloop::{EventLoop, LoopError};

#[test]
fn the_dump_lists_live_tasks_with_their_names_sites_and_polls() {
    let lp = EventLoop::new().unwrap();
    let worker = Builder::new().name("worker");
    let (named, line) = (worker.spawn(std::future::pending::<()>()).unwrap(), line!());
    let (plain, plain_line) = (lp.spawn(async { evloop::yield_now().await }), line!());
    let timer = lp.call_later(Duration::from_secs(60), |_| {});
    let dump = lp.dump();
    assert_eq!(dump.tasks().len(), 2);
    assert_eq!(dump.timers(), 1);
    assert_eq!(dump.queued(), 2, "both tasks are queued to be polled");
    let w = &dump.tasks()[0];
    assert_eq!(w.name(), Some("worker"));
    assert_eq!(w.spawn_site().file(), file!());
    assert_eq!(w.spawn_site().line(), line);
    assert!(w.is_scheduled());
    assert_eq!(w.polls(), 0);
    let p = &dump.tasks()[1];
    assert_eq!(p.name(), None);
    assert_eq!(p.spawn_site().line(), plain_line);
    assert_ne!(w.id(), p.id());

    // One turn: both polled once; the plain one yielded (scheduled again), the named one waits.
    lp.run_nowait().unwrap();
    let dump = lp.dump();
    assert_eq!(dump.tasks()[0].polls(), 1);
    assert!(!dump.tasks()[0].is_scheduled());
    assert_eq!(dump.tasks()[1].polls(), 1);
    assert!(dump.tasks()[1].is_scheduled());
    let text = dump.to_string();
    assert!(text.starts_with("evloop dump: 2 tasks, 1 timers"), "{text}");
    assert!(text.contains("\"worker\""), "{text}");
    assert!(text.contains(&format!("{}:{line}:", file!())), "{text}");
    assert!(dump.next_timer().unwrap() > Duration::from_secs(50));

    lp.block_on(plain).unwrap();
    named.abort();
    lp.cancel_timer(timer);
    lp.run().unwrap();
    assert!(lp.dump().tasks().is_empty());
}

#[test]
fn builder_errors_without_a_loop_and_after_it_was_dropped() {
    let err = std::thread::spawn(|| Builder::new().spawn(async {}).map(drop))
        .join()
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("no event loop"), "{err}");
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle().clone();
    drop(lp);
    let err = Builder::new()
        .spawn_on(async {}, &handle)
        .map(drop)
        .unwrap_err();
    assert!(err.to_string().contains("dropped"), "{err}");
}

#[test]
fn turn_hooks_run_around_each_poll_in_order_and_can_be_removed() {
    let lp = EventLoop::new().unwrap();
    let log = util::log::<&'static str>();
    let (a, b) = (log.clone(), log.clone());
    let before = lp.on_before_sleep(move |_| a.borrow_mut().push("before"));
    let after = lp.on_after_wake(move |_| b.borrow_mut().push("after"));
    lp.run_nowait().unwrap();
    assert_eq!(*log.borrow(), ["before", "after"]);
    // With work queued and few entries run since the last poll, a turn skips the poll (see the
    // loop's turn), and the hooks with it.
    let c = log.clone();
    lp.call_soon(move |_| c.borrow_mut().push("callback"));
    lp.run_nowait().unwrap();
    assert_eq!(*log.borrow(), ["before", "after", "callback"]);
    log.borrow_mut().clear();
    assert!(lp.remove_turn_hook(before));
    assert!(!lp.remove_turn_hook(before), "removed once");
    log.borrow_mut().clear();
    lp.run_nowait().unwrap();
    assert_eq!(*log.borrow(), ["after"]);
    assert!(lp.remove_turn_hook(after));
    log.borrow_mut().clear();
    lp.run_nowait().unwrap();
    assert!(log.borrow().is_empty());
}

#[test]
fn a_before_sleep_hook_that_queues_work_keeps_the_poll_from_sleeping() {
    let lp = EventLoop::new().unwrap();
    let ran = util::counter();
    let r = ran.clone();
    // With nothing queued, the poll would wait an hour for this timer, unless the hook's
    // callback makes it not sleep.
    lp.call_later(Duration::from_secs(3600), |_| {});
    let hook = lp.on_before_sleep(move |h| {
        let r = r.clone();
        h.call_soon(move |h| {
            util::bump(&r);
            h.stop();
        });
    });
    lp.run().unwrap();
    assert_eq!(ran.get(), 1);
    lp.remove_turn_hook(hook);
}

#[test]
fn a_hook_may_remove_itself_and_a_panicking_hook_is_reported() {
    let lp = EventLoop::new().unwrap();
    let errors = Rc::new(RefCell::new(Vec::new()));
    let e = errors.clone();
    lp.set_error_hook(move |_, err| e.borrow_mut().push(err.to_string()));
    let id = Rc::new(RefCell::new(None));
    let i = id.clone();
    let runs = util::counter();
    let r = runs.clone();
    *id.borrow_mut() = Some(lp.on_after_wake(move |h| {
        util::bump(&r);
        assert!(h.remove_turn_hook(i.borrow().unwrap()));
    }));
    let panicky = lp.on_before_sleep(|_| panic!("hook failed"));
    lp.run_nowait().unwrap();
    lp.run_nowait().unwrap();
    assert_eq!(runs.get(), 1, "it removed itself in its first run");
    assert_eq!(errors.borrow().len(), 2, "{:?}", errors.borrow());
    assert!(errors.borrow()[0].contains("hook failed"));
    assert!(
        lp.remove_turn_hook(panicky),
        "a panicking hook stays registered"
    );
}

#[test]
fn debug_mode_reports_a_slow_callback_to_the_error_hook_and_off_it_does_not() {
    let lp = EventLoop::new().unwrap();
    let slow = Rc::new(RefCell::new(Vec::new()));
    let s = slow.clone();
    lp.set_error_hook(move |_, e| {
        if let LoopError::Slow {
            what,
            took,
            threshold,
        } = e
        {
            s.borrow_mut().push((what, took, threshold));
        }
    });
    let block = Duration::from_millis(30);
    lp.set_slow_threshold(Duration::from_millis(20));
    lp.call_soon(move |_| std::thread::sleep(block));
    lp.run().unwrap();
    assert!(slow.borrow().is_empty(), "debug mode is off");

    lp.set_debug(true);
    assert!(lp.is_debug());
    let line = line!() + 1;
    lp.call_soon(move |_| std::thread::sleep(block));
    lp.run().unwrap();
    let got = slow.borrow().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let (what, took, threshold) = &got[0];
    let site = format!("callback scheduled at {}:{line}:", file!());
    assert!(
        what.starts_with(&site),
        "{what:?} does not start with {site:?}"
    );
    assert!(*took >= block);
    assert_eq!(*threshold, Duration::from_millis(20));
    lp.set_debug(false);
}
