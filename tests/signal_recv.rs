//! `signal::unix::signal` and `signal::ctrl_c`, with real signals sent to the test process.
//!
//! Signals are process-wide and the tests of this file run in parallel threads: each test uses a
//! signal of its own, and raises a signal only while one of its own listeners is installed (with
//! the default disposition, most signals end the process).

mod util;

use std::io;
use std::sync::{Arc, Barrier};
use std::thread;

use evloop::signal::unix::{signal, Signal, SignalKind};
use evloop::EventLoop;
use util::watchdog;

fn rt(n: i32) -> SignalKind {
    SignalKind::from_raw(libc::SIGRTMIN() + n)
}

fn raise(kind: SignalKind) {
    // SAFETY: called only while a listener for `kind` exists, so evloop's handler runs.
    let rc = unsafe { libc::raise(kind.as_raw_value()) };
    assert_eq!(rc, 0);
}

fn kill_self(kind: SignalKind) {
    // SAFETY: as for `raise`; `kill` to our own pid sends a process-directed signal.
    let rc = unsafe { libc::kill(libc::getpid(), kind.as_raw_value()) };
    assert_eq!(rc, 0);
}

/// The current disposition of `signum`: its handler address and flags.
fn disposition(signum: i32) -> (libc::sighandler_t, i32) {
    // SAFETY: a zeroed `sigaction` is valid; a null new action only queries.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signum, std::ptr::null(), &mut old), 0);
        (old.sa_sigaction, old.sa_flags)
    }
}

fn set_ignored(signum: i32) {
    // SAFETY: installing SIG_IGN has no memory-safety preconditions; the signal is this test's.
    let previous = unsafe { libc::signal(signum, libc::SIG_IGN) };
    assert_ne!(previous, libc::SIG_ERR);
}

#[test]
fn a_raised_signal_completes_recv() {
    let _wd = watchdog("a_raised_signal_completes_recv", 20);
    let lp = EventLoop::new().unwrap();
    let kind = SignalKind::user_defined1();
    let mut sig = signal(kind).unwrap();
    assert_eq!(sig.kind(), kind);
    lp.block_on(async {
        for _ in 0..3 {
            raise(kind);
            assert_eq!(sig.recv().await, Some(()));
        }
    });
}

#[test]
fn a_signal_before_the_first_recv_is_not_lost() {
    let _wd = watchdog("a_signal_before_the_first_recv_is_not_lost", 20);
    let lp = EventLoop::new().unwrap();
    let kind = rt(1);
    let mut sig = signal(kind).unwrap();
    // Sent before any poll, and from another thread (the loop is not even running).
    let t = thread::spawn(move || kill_self(kind));
    t.join().unwrap();
    assert_eq!(lp.block_on(sig.recv()), Some(()));
}

#[test]
fn a_listener_counts_from_its_creation() {
    let _wd = watchdog("a_listener_counts_from_its_creation", 20);
    let lp = EventLoop::new().unwrap();
    let kind = rt(2);
    let mut first = signal(kind).unwrap();
    // `raise` runs the handler on this thread before it returns: the delivery is counted.
    raise(kind);
    let mut second = signal(kind).unwrap();
    assert!(util::poll_pinned(std::pin::pin!(second.recv())).is_pending());
    assert_eq!(lp.block_on(first.recv()), Some(()));
    raise(kind);
    lp.block_on(async {
        assert_eq!(first.recv().await, Some(()));
        assert_eq!(second.recv().await, Some(()));
    });
}

#[test]
fn a_storm_from_another_thread_is_delivered_at_least_once() {
    let _wd = watchdog("a_storm_from_another_thread", 30);
    let lp = EventLoop::new().unwrap();
    let kind = SignalKind::user_defined2();
    let mut sig = signal(kind).unwrap();
    let storm = thread::spawn(move || {
        for _ in 0..1000 {
            kill_self(kind);
        }
    });
    let got = lp.block_on(async {
        let mut got = 0;
        // At least one delivery while the storm lasts or after it.
        assert_eq!(sig.recv().await, Some(()));
        got += 1;
        got
    });
    storm.join().unwrap();
    assert!(got >= 1);
    // The listener still works after the storm (whatever of it is still pending coalesces).
    raise(kind);
    assert_eq!(lp.block_on(sig.recv()), Some(()));
}

#[test]
fn two_loops_on_two_threads_both_get_the_signal() {
    let _wd = watchdog("two_loops_on_two_threads", 30);
    let kind = rt(3);
    // A listener of the test thread too, so that the signal always has evloop's handler.
    let _guard_loop = EventLoop::new().unwrap();
    let _guard = signal(kind).unwrap();
    let ready = Arc::new(Barrier::new(3));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let ready = ready.clone();
            thread::spawn(move || {
                let lp = EventLoop::new().unwrap();
                let mut sig = signal(kind).unwrap();
                ready.wait();
                lp.block_on(sig.recv())
            })
        })
        .collect();
    ready.wait(); // both listeners registered
    kill_self(kind);
    for t in threads {
        assert_eq!(t.join().unwrap(), Some(()));
    }
}

#[test]
fn a_signal_from_the_blocking_pool_wakes_the_loop() {
    let _wd = watchdog("a_signal_from_the_blocking_pool", 20);
    let lp = EventLoop::new().unwrap();
    let kind = rt(4);
    let mut sig = signal(kind).unwrap();
    lp.block_on(async {
        let job = evloop::spawn_blocking(move || kill_self(kind));
        assert_eq!(sig.recv().await, Some(()));
        job.await.unwrap();
    });
}

#[test]
fn a_waiting_listener_keeps_run_going() {
    let _wd = watchdog("a_waiting_listener_keeps_run_going", 20);
    let lp = EventLoop::new().unwrap();
    let kind = rt(5);
    let mut sig = signal(kind).unwrap();
    assert!(sig.keeps_alive());
    let done = util::counter();
    let d = done.clone();
    lp.spawn(async move {
        assert_eq!(sig.recv().await, Some(()));
        util::bump(&d);
        // `sig` is dropped here: nothing keeps the loop alive any more.
    });
    let sender = thread::spawn(move || kill_self(kind));
    lp.run().unwrap();
    sender.join().unwrap();
    assert_eq!(done.get(), 1);
}

#[test]
fn a_listener_without_keep_alive_lets_run_return() {
    let _wd = watchdog("a_listener_without_keep_alive", 20);
    let lp = EventLoop::new().unwrap();
    let kind = rt(6);
    let sig = signal(kind).unwrap();
    sig.set_keep_alive(false);
    assert!(!sig.keeps_alive());
    assert!(!lp.is_alive());
    lp.run().unwrap(); // returns with the listener still there
    sig.set_keep_alive(true);
    assert!(lp.is_alive());
    sig.set_keep_alive(false);
    lp.run().unwrap();

    // It still receives while the loop runs for another reason (block_on).
    let mut sig = sig;
    raise(kind);
    assert_eq!(lp.block_on(sig.recv()), Some(()));
}

#[test]
fn dropping_the_last_listener_restores_the_previous_disposition() {
    let _wd = watchdog("dropping_the_last_listener_restores", 20);
    let _lp = EventLoop::new().unwrap();
    let signum = libc::SIGRTMIN() + 7;
    set_ignored(signum);
    assert_eq!(disposition(signum).0, libc::SIG_IGN);

    let a = signal(SignalKind::from_raw(signum)).unwrap();
    let (handler, flags) = disposition(signum);
    assert_ne!(handler, libc::SIG_IGN);
    assert_ne!(handler, libc::SIG_DFL);
    assert_ne!(flags & libc::SA_RESTART, 0, "installed with SA_RESTART");

    let b = signal(SignalKind::from_raw(signum)).unwrap();
    drop(a);
    assert_eq!(disposition(signum).0, handler, "b still listens");
    drop(b);
    assert_eq!(disposition(signum).0, libc::SIG_IGN, "restored");

    // Again, from the default disposition.
    // SAFETY: installing SIG_DFL has no memory-safety preconditions; nothing raises this signal now.
    unsafe { libc::signal(signum, libc::SIG_DFL) };
    let c = signal(SignalKind::from_raw(signum)).unwrap();
    assert_eq!(disposition(signum).0, handler);
    drop(c);
    assert_eq!(disposition(signum).0, libc::SIG_DFL);
}

#[test]
fn signals_that_cannot_be_listened_for_are_invalid_input() {
    let _lp = EventLoop::new().unwrap();
    let mut refused = vec![
        0,
        -1,
        65,
        1000,
        i32::MIN,
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
    ];
    // The real-time signals below SIGRTMIN are the C library's own.
    if libc::SIGRTMIN() > 32 {
        refused.push(32);
    }
    for signum in refused {
        let err = signal(SignalKind::from_raw(signum)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "signal {signum}");
        assert!(err.to_string().contains("signal"), "{err}");
    }
    // SIGKILL's disposition is untouched, and a refused kind leaves nothing registered.
    assert_eq!(disposition(libc::SIGKILL).0, libc::SIG_DFL);
}

#[test]
fn ctrl_c_completes_on_sigint() {
    let _wd = watchdog("ctrl_c_completes_on_sigint", 20);
    let lp = EventLoop::new().unwrap();
    let ctrl_c = evloop::signal::ctrl_c(); // the listener exists from here on
    raise(SignalKind::interrupt());
    lp.block_on(ctrl_c).unwrap();
}

#[test]
fn sigterm_can_be_handled() {
    let _wd = watchdog("sigterm_can_be_handled", 20);
    let lp = EventLoop::new().unwrap();
    let mut term: Signal = signal(SignalKind::terminate()).unwrap();
    let t = thread::spawn(|| kill_self(SignalKind::terminate()));
    assert_eq!(lp.block_on(term.recv()), Some(()));
    t.join().unwrap();
}

#[test]
fn a_signal_polled_from_a_task_of_another_loop_still_wakes_it() {
    let _wd = watchdog("a_signal_polled_from_another_loop", 20);
    let kind = rt(8);
    let mut sig = {
        let _creator = EventLoop::new().unwrap();
        signal(kind).unwrap()
    };
    let lp = EventLoop::new().unwrap();
    let t = thread::spawn(move || kill_self(kind));
    assert_eq!(lp.block_on(sig.recv()), Some(()));
    t.join().unwrap();
}

#[test]
fn ctrl_c_without_keep_alive_lets_run_return() {
    let _wd = watchdog("ctrl_c_without_keep_alive", 20);
    let lp = EventLoop::new().unwrap();
    let ctrl_c = evloop::signal::ctrl_c();
    assert!(lp.is_alive(), "a pending ctrl_c keeps the loop alive");
    ctrl_c.set_keep_alive(false);
    lp.run().unwrap();
    drop(ctrl_c);
}

#[test]
fn block_on_a_listener_without_keep_alive_is_not_a_stall() {
    let _wd = watchdog("block_on_a_listener_without_keep_alive", 20);
    let lp = EventLoop::new().unwrap();
    let errors = util::log();
    let e = errors.clone();
    lp.set_error_hook(move |_, err| e.borrow_mut().push(err.to_string()));
    let kind = rt(9);
    let mut sig = signal(kind).unwrap();
    sig.set_keep_alive(false);
    let sender = thread::spawn(move || kill_self(kind));
    assert_eq!(lp.block_on(sig.recv()), Some(()));
    sender.join().unwrap();
    assert!(errors.borrow().is_empty(), "{:?}", errors.borrow());
}

/// Runs the test `name` alone in a fresh process of this test binary, with `var` set, and
/// asserts it passed.
fn in_child(name: &str, var: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1", "--nocapture"])
        .env(var, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How many threads this process has.
#[cfg(target_os = "linux")]
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
#[cfg(target_os = "linux")]
fn listening_for_signals_starts_no_thread() {
    const CHILD: &str = "EVLOOP_TEST_NO_SIGNAL_THREAD";
    if std::env::var_os(CHILD).is_some() {
        // In a fresh process running only this test: nothing else starts threads meanwhile.
        let before = threads();
        let lp = EventLoop::new().unwrap();
        let kind = rt(17);
        let mut sig = signal(kind).unwrap();
        raise(kind);
        assert_eq!(lp.block_on(sig.recv()), Some(()));
        let mut ctrl_c = evloop::signal::ctrl_c();
        raise(SignalKind::interrupt());
        lp.block_on(&mut ctrl_c).unwrap();
        let after = threads();
        assert_eq!(before, after, "a listener started a thread");
        return;
    }
    let _wd = watchdog("listening_for_signals_starts_no_thread", 60);
    in_child("listening_for_signals_starts_no_thread", CHILD);
}

#[test]
fn loops_that_stop_listening_give_their_slot_to_later_loops() {
    const CHILD: &str = "EVLOOP_TEST_SIGNAL_SLOT_REUSE";
    if std::env::var_os(CHILD).is_none() {
        let _wd = watchdog("loops_that_stop_listening_give_their_slot", 60);
        return in_child(
            "loops_that_stop_listening_give_their_slot_to_later_loops",
            CHILD,
        );
    }
    // Far more loops than slots, one after the other: each gets a slot back and its signals.
    let kind = rt(18);
    for _ in 0..200 {
        let lp = EventLoop::new().unwrap();
        let mut sig = signal(kind).unwrap();
        raise(kind);
        assert_eq!(lp.block_on(sig.recv()), Some(()));
        // A listener dropped while the loop lives gives the slot back too (every other round,
        // the loop goes first).
        drop(sig);
    }
    for _ in 0..200 {
        let lp = EventLoop::new().unwrap();
        let sig = signal(kind).unwrap();
        drop(lp);
        drop(sig);
    }
    let lp = EventLoop::new().unwrap();
    let mut sig = signal(kind).unwrap();
    raise(kind);
    assert_eq!(lp.block_on(sig.recv()), Some(()));
}

#[test]
fn too_many_loops_listening_at_once_is_an_error() {
    const CHILD: &str = "EVLOOP_TEST_SIGNAL_SLOTS_FULL";
    if std::env::var_os(CHILD).is_none() {
        let _wd = watchdog("too_many_loops_listening_at_once", 60);
        return in_child("too_many_loops_listening_at_once_is_an_error", CHILD);
    }
    // `on_signal` listens on the loop it is called on (`signal` would take the thread's first).
    let kind = rt(19);
    let heard = std::rc::Rc::new(std::cell::Cell::new(0));
    let listen = |lp: &EventLoop| {
        let heard = heard.clone();
        lp.on_signal(kind, move |h| {
            heard.set(heard.get() + 1);
            h.stop();
        })
    };
    let mut held = Vec::new();
    let err = loop {
        let lp = EventLoop::new().unwrap();
        match listen(&lp) {
            Ok(_) => held.push(lp),
            Err(e) => break e,
        }
        assert!(held.len() <= 64, "more than 64 loops got a slot");
    };
    assert_eq!(held.len(), 64);
    assert!(err.to_string().contains("too many event loops"), "{err}");
    // Once one loop lets go, the next one gets its slot, and a signal reaches every loop.
    drop(held.pop());
    let lp = EventLoop::new().unwrap();
    listen(&lp).unwrap();
    held.push(lp);
    raise(kind);
    for lp in &held {
        lp.run().unwrap();
    }
    assert_eq!(heard.get(), 64);
}

extern "C" fn installed_later(_: libc::c_int) {}

/// Dropping the last listener puts the saved disposition back only if evloop's handler is still
/// the one installed: a handler that other code installed meanwhile stays.
#[test]
fn the_last_listener_leaves_a_handler_installed_after_evloops() {
    let signum = libc::SIGRTMIN() + 20;
    let lp = EventLoop::new().unwrap();
    let listener = lp
        .block_on(async { signal(SignalKind::from_raw(signum)) })
        .unwrap();
    let theirs = installed_later as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: all-zero `sigaction`s are valid; the handler does nothing, so it is
    // async-signal-safe; the pointers are to live locals.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = theirs;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(signum, &sa, std::ptr::null_mut()), 0);
    }
    drop(listener);
    // SAFETY: a query: a null new action, and `now` is a live, writable local.
    let now = unsafe {
        let mut now: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signum, std::ptr::null(), &mut now);
        now.sa_sigaction
    };
    assert_eq!(
        now, theirs,
        "evloop put its saved disposition over someone else's handler"
    );
}
