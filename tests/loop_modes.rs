//! How the loop is driven: `run`, `run_once`, `run_nowait`, stopping, keep-alive, a host loop
//! polling the loop's descriptor, and re-entrancy errors.

mod util;

use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, Interest};
use util::{bump, counter, drain_udp, log, udp_bound, udp_sender, watchdog};

#[test]
fn run_returns_at_once_when_nothing_is_alive() {
    let _wd = watchdog("run_returns_at_once_when_nothing_is_alive", 60);
    let lp = EventLoop::new().unwrap();
    assert!(!lp.is_alive());
    lp.run().unwrap();
    assert!(!lp.run_once().unwrap());
    assert!(!lp.run_nowait().unwrap());
}

#[test]
fn run_returns_once_the_last_timer_fired() {
    let _wd = watchdog("run_returns_once_the_last_timer_fired", 60);
    let lp = EventLoop::new().unwrap();
    let n = counter();
    let n2 = n.clone();
    lp.call_later(Duration::from_millis(2), move |h| {
        bump(&n2);
        let n3 = n2.clone();
        h.call_later(Duration::from_millis(1), move |_| bump(&n3));
    });
    assert!(lp.is_alive());
    lp.run().unwrap();
    assert_eq!(n.get(), 2);
    assert!(!lp.is_alive());
    assert_eq!(lp.pending_counts(), (0, 0));
}

#[test]
fn stop_returns_after_the_current_entry_and_keeps_the_rest_queued() {
    let _wd = watchdog(
        "stop_returns_after_the_current_entry_and_keeps_the_rest_queued",
        60,
    );
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let s = seen.clone();
    lp.call_soon(move |h| {
        s.borrow_mut().push(1);
        h.stop();
    });
    let s = seen.clone();
    lp.call_soon(move |_| s.borrow_mut().push(2));
    lp.run().unwrap();
    assert_eq!(*seen.borrow(), vec![1]);
    assert!(lp.is_alive(), "the second callback is still queued");
    // The stop request was consumed: the next run runs the rest.
    lp.run().unwrap();
    assert_eq!(*seen.borrow(), vec![1, 2]);
}

#[test]
fn stop_ends_run_with_a_periodic_timer_still_armed() {
    let _wd = watchdog("stop_ends_run_with_a_periodic_timer_still_armed", 60);
    let lp = EventLoop::new().unwrap();
    let ticks = counter();
    let t = ticks.clone();
    let id = lp.call_every(Duration::from_millis(1), move |h| {
        bump(&t);
        if t.get() == 3 {
            h.stop();
        }
    });
    lp.run().unwrap();
    assert_eq!(ticks.get(), 3);
    assert!(lp.timer_is_live(id));
    assert!(lp.cancel_timer(id));
    lp.run().unwrap();
    assert_eq!(ticks.get(), 3);
}

#[test]
fn stop_from_a_remote_thread() {
    let _wd = watchdog("stop_from_a_remote_thread", 60);
    let lp = EventLoop::new().unwrap();
    let _alive = lp.keep_alive();
    let remote = lp.remote();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        remote.stop();
    });
    // Blocks in the poller (nothing to do, kept alive) until the other thread stops it.
    lp.run().unwrap();
    t.join().unwrap();

    // A stop that arrives before `run` is honoured by the next run, after one turn.
    lp.remote().stop();
    let ran = counter();
    let r = ran.clone();
    lp.call_soon(move |_| bump(&r));
    lp.run().unwrap();
    assert_eq!(ran.get(), 1);
}

#[test]
fn run_once_blocks_until_a_timer_fires_and_reports_liveness() {
    let _wd = watchdog(
        "run_once_blocks_until_a_timer_fires_and_reports_liveness",
        60,
    );
    let lp = EventLoop::new().unwrap();
    let fired = Rc::new(Cell::new(None));
    let f = fired.clone();
    let deadline = Instant::now() + Duration::from_millis(10);
    lp.call_at(deadline, move |_| f.set(Some(Instant::now())));
    let keep = lp.call_later(Duration::from_secs(3600), |_| panic!("must not fire"));

    // A non-blocking run_once would spin thousands of times in 10 ms; a blocking one sleeps until
    // the deadline. Allow a couple of turns (an interrupted sleep) but no spinning.
    let mut turns = 0;
    while fired.get().is_none() {
        turns += 1;
        assert!(turns <= 3, "run_once did not block until the timer");
        assert!(lp.run_once().unwrap(), "the 1 h timer keeps the loop alive");
    }
    assert!(fired.get().unwrap() >= deadline);
    assert!(lp.cancel_timer(keep));
    assert!(!lp.is_alive());

    // The last timer: run_once returns false once it has fired.
    let f = fired.clone();
    lp.call_later(Duration::from_millis(1), move |_| f.set(None));
    let mut turns = 0;
    loop {
        turns += 1;
        assert!(turns <= 3, "run_once did not block until the timer");
        if !lp.run_once().unwrap() {
            break;
        }
    }
    assert_eq!(fired.get(), None, "the timer ran");
}

#[test]
fn run_nowait_never_blocks() {
    let _wd = watchdog("run_nowait_never_blocks", 60);
    let lp = EventLoop::new().unwrap();
    let id = lp.call_later(Duration::from_secs(3600), |_| panic!("must not fire"));
    let (sock, _addr) = udp_bound();
    let w = lp
        .watch(sock, Interest::READABLE, |_, _, _| {
            panic!("no data was sent")
        })
        .unwrap();
    let start = Instant::now();
    for _ in 0..100 {
        assert!(
            lp.run_nowait().unwrap(),
            "the timer and the watcher keep it alive"
        );
    }
    // A hang guard only: 100 blocking turns would take 100 hours.
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(lp.timer_is_live(id));
    assert!(lp.unwatch(w));
    assert!(lp.cancel_timer(id));
    assert!(!lp.run_nowait().unwrap());
}

#[test]
fn keep_alive_guard_keeps_run_going() {
    let _wd = watchdog("keep_alive_guard_keeps_run_going", 60);
    let lp = EventLoop::new().unwrap();
    let guard = lp.keep_alive();
    assert!(lp.is_alive());
    assert!(lp.run_nowait().unwrap());
    let second = lp.keep_alive();
    drop(guard);
    assert!(lp.is_alive(), "one guard is left");
    drop(second);
    assert!(!lp.is_alive());

    // `run` keeps going while a guard lives, even with only an unreferenced timer around; the
    // timer still fires because the loop runs for another reason, and dropping the guard ends `run`.
    let guard = Rc::new(RefCell::new(Some(lp.keep_alive())));
    let g = guard.clone();
    let ticks = counter();
    let t = ticks.clone();
    let id = lp.call_every(Duration::from_millis(1), move |_| {
        bump(&t);
        if t.get() == 3 {
            g.borrow_mut().take();
        }
    });
    assert!(lp.set_timer_keep_alive(id, false));
    lp.run().unwrap();
    assert_eq!(ticks.get(), 3);
    assert!(guard.borrow().is_none());
    assert!(lp.timer_is_live(id), "unreferenced, not cancelled");
    assert!(lp.cancel_timer(id));
}

#[test]
fn unreferenced_timers_and_watchers_let_run_return() {
    let _wd = watchdog("unreferenced_timers_and_watchers_let_run_return", 60);
    let lp = EventLoop::new().unwrap();
    let t = lp.call_later(Duration::from_secs(3600), |_| panic!("must not fire"));
    assert!(lp.is_alive());
    assert!(lp.set_timer_keep_alive(t, false));
    assert!(lp.set_timer_keep_alive(t, false), "idempotent");
    assert!(!lp.is_alive());
    lp.run().unwrap(); // returns at once

    let (sock, _addr) = udp_bound();
    let w = lp.watch(sock, Interest::READABLE, |_, _, _| {}).unwrap();
    assert!(lp.is_alive());
    assert!(lp.set_watcher_keep_alive(w, false));
    assert!(!lp.is_alive());
    lp.run().unwrap(); // returns at once
    assert_eq!(lp.pending_counts(), (1, 1), "still registered");

    // Referencing again makes them count again.
    assert!(lp.set_timer_keep_alive(t, true));
    assert!(lp.is_alive());
    assert!(lp.set_timer_keep_alive(t, false));
    assert!(lp.set_watcher_keep_alive(w, true));
    assert!(lp.is_alive());

    // Gone: false.
    assert!(lp.cancel_timer(t));
    assert!(!lp.set_timer_keep_alive(t, true));
    assert!(lp.unwatch(w));
    assert!(!lp.set_watcher_keep_alive(w, true));
    assert!(!lp.is_alive());
}

/// `poll(2)` on one descriptor, as a host loop would.
fn poll_fd(fd: i32, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is a valid, initialised pollfd that outlives the call, and the count is 1.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    assert!(n >= 0, "poll failed: {}", std::io::Error::last_os_error());
    n == 1 && pfd.revents & libc::POLLIN != 0
}

fn timeout_ms(t: Option<Duration>) -> i32 {
    // Round up so the host never wakes before the deadline; cap so a bug cannot hang the test.
    match t {
        Some(d) => d.as_nanos().div_ceil(1_000_000).min(1000) as i32,
        None => 1000,
    }
}

#[test]
fn a_host_loop_drives_the_loop_through_its_descriptor() {
    let _wd = watchdog("a_host_loop_drives_the_loop_through_its_descriptor", 60);
    let lp = EventLoop::new().unwrap();
    let fd = lp.as_raw_fd();
    assert_eq!(lp.next_timeout(), None, "nothing to wait for");
    assert!(!poll_fd(fd, 0));

    // Queued work: zero timeout.
    let ran = counter();
    let r = ran.clone();
    lp.call_soon(move |_| bump(&r));
    assert_eq!(lp.next_timeout(), Some(Duration::ZERO));
    lp.run_nowait().unwrap();
    assert_eq!(ran.get(), 1);

    // A datagram makes the descriptor readable; run_nowait delivers it and consumes the event.
    let (sock, addr) = udp_bound();
    let got = counter();
    let g = got.clone();
    let w = lp
        .watch(sock, Interest::READABLE, move |_, s, _| {
            g.set(g.get() + drain_udp(s));
        })
        .unwrap();
    assert_eq!(lp.next_timeout(), None, "a watcher alone has no deadline");
    udp_sender().send_to(b"x", addr).unwrap();
    assert!(
        poll_fd(fd, 1000),
        "the poller's descriptor reports the datagram"
    );
    lp.run_nowait().unwrap();
    assert_eq!(got.get(), 1);
    assert!(!poll_fd(fd, 0), "the event was consumed");

    // A post from another thread makes the descriptor readable and the timeout zero.
    let remote = lp.remote();
    std::thread::spawn(move || remote.post(|h| h.stop()).unwrap())
        .join()
        .unwrap();
    assert!(poll_fd(fd, 1000));
    assert_eq!(lp.next_timeout(), Some(Duration::ZERO));
    lp.run_nowait().unwrap();
    assert_eq!(lp.next_timeout(), None);

    // A timer: the host sleeps in poll(2) for next_timeout, then runs the loop without blocking.
    let deadline = Instant::now() + Duration::from_millis(15);
    let fired = Rc::new(Cell::new(None));
    let f = fired.clone();
    lp.call_at(deadline, move |_| f.set(Some(Instant::now())));
    let first = lp.next_timeout().expect("a timer is armed");
    assert!(first <= Duration::from_millis(15));
    let mut iterations = 0;
    while fired.get().is_none() {
        iterations += 1;
        assert!(iterations < 1000, "the timer never fired");
        let timeout = lp.next_timeout();
        assert!(timeout.is_some(), "the timer is still armed");
        poll_fd(fd, timeout_ms(timeout));
        lp.run_nowait().unwrap();
    }
    assert!(fired.get().unwrap() >= deadline);
    assert_eq!(lp.next_timeout(), None);
    assert!(lp.unwatch(w));
}

#[test]
fn nested_run_from_a_callback_is_an_error() {
    let _wd = watchdog("nested_run_from_a_callback_is_an_error", 60);
    let lp = Rc::new(EventLoop::new().unwrap());
    let results = log();
    let (inner, r) = (lp.clone(), results.clone());
    lp.call_soon(move |_| {
        r.borrow_mut().push(inner.run().map(|_| true));
        r.borrow_mut().push(inner.run_once());
        r.borrow_mut().push(inner.run_nowait());
    });
    lp.run().unwrap();
    let results = results.borrow();
    assert_eq!(results.len(), 3);
    for r in results.iter() {
        let e = r.as_ref().expect_err("a nested run must fail");
        assert!(
            e.to_string().contains("already running"),
            "unclear error: {e}"
        );
    }
    // Still usable afterwards.
    let n = counter();
    let n2 = n.clone();
    lp.call_soon(move |_| bump(&n2));
    lp.run().unwrap();
    assert_eq!(n.get(), 1);
}

#[test]
fn nested_block_on_panics_with_a_clear_message() {
    let _wd = watchdog("nested_block_on_panics_with_a_clear_message", 60);
    let lp = Rc::new(EventLoop::new().unwrap());
    let message = Rc::new(RefCell::new(None));
    let (inner, m) = (lp.clone(), message.clone());
    lp.call_soon(move |_| {
        let r = catch_unwind(AssertUnwindSafe(|| inner.block_on(async { 1 })));
        let payload = r.expect_err("a nested block_on must panic");
        let text = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
        *m.borrow_mut() = text;
    });
    lp.run().unwrap();
    let message = message.borrow().clone().expect("a string panic message");
    assert!(message.contains("block_on"), "{message}");
    assert!(message.contains("already running"), "{message}");
    // The loop still works, including block_on from the outside.
    assert_eq!(lp.block_on(async { 7 }), 7);
}

#[test]
fn a_stale_block_on_waker_does_not_make_the_loop_spin() {
    let _wd = watchdog("a_stale_block_on_waker_does_not_make_the_loop_spin", 60);
    let lp = EventLoop::new().unwrap();
    // A block_on future hands its waker out, then completes; the waker is woken later, in `run`.
    let stash: Rc<RefCell<Option<std::task::Waker>>> = Rc::new(RefCell::new(None));
    let s = stash.clone();
    lp.block_on(std::future::poll_fn(move |cx| {
        *s.borrow_mut() = Some(cx.waker().clone());
        std::task::Poll::Ready(())
    }));
    let s = stash.clone();
    lp.call_soon(move |_| s.borrow_mut().take().unwrap().wake());
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    lp.call_later(Duration::from_millis(20), move |_| f.set(true));
    // Blocking turns: the timer fires within a few. A loop that believes the block_on future is
    // still waiting to be polled never sleeps, and needs thousands.
    let mut turns = 0;
    while !fired.get() {
        turns += 1;
        assert!(
            turns <= 4,
            "run_once stopped blocking after a stale wake-up"
        );
        lp.run_once().unwrap();
    }
}
