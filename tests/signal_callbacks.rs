//! `Handle::on_signal`, `remove_signal` and `set_signal_keep_alive`, with real signals.
//!
//! As in `signal_recv.rs`: each test uses its own signal and raises it only while one of its own
//! listeners is installed.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::thread;

use evloop::signal::unix::{signal, SignalKind};
use evloop::{EventLoop, LoopError};
use util::{bump, counter, watchdog};

fn rt(n: i32) -> SignalKind {
    SignalKind::from_raw(libc::SIGRTMIN() + n)
}

fn raise(kind: SignalKind) {
    // SAFETY: called only while a listener for `kind` exists, so evloop's handler runs.
    let rc = unsafe { libc::raise(kind.as_raw_value()) };
    assert_eq!(rc, 0);
}

fn kill_self(kind: SignalKind) {
    // SAFETY: as for `raise`.
    let rc = unsafe { libc::kill(libc::getpid(), kind.as_raw_value()) };
    assert_eq!(rc, 0);
}

fn handler_address(signum: i32) -> libc::sighandler_t {
    // SAFETY: a zeroed `sigaction` is valid; a null new action only queries.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signum, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

#[test]
fn a_handler_runs_on_the_loop_for_each_delivery() {
    let _wd = watchdog("a_handler_runs_for_each_delivery", 20);
    let lp = EventLoop::new().unwrap();
    let kind = SignalKind::hangup();
    let calls = counter();
    let c = calls.clone();
    let id = lp
        .on_signal(kind, move |h| {
            bump(&c);
            h.stop();
        })
        .unwrap();
    // Raised before the loop runs (and before the handler's task first polls): not lost.
    raise(kind);
    lp.run().unwrap(); // the handler stops it; it would keep the loop alive otherwise
    assert_eq!(calls.get(), 1);

    let sender = thread::spawn(move || kill_self(kind));
    lp.run().unwrap();
    sender.join().unwrap();
    assert_eq!(calls.get(), 2);

    assert!(lp.remove_signal(id));
    assert!(!lp.remove_signal(id), "already removed");
}

#[test]
fn several_handlers_for_one_signal_all_run() {
    let _wd = watchdog("several_handlers_for_one_signal", 20);
    let lp = EventLoop::new().unwrap();
    let kind = rt(10);
    let log = util::log();
    let ids: Vec<_> = (0..3)
        .map(|i| {
            let log = log.clone();
            lp.on_signal(kind, move |h| {
                log.borrow_mut().push(i);
                if log.borrow().len() == 3 {
                    h.stop();
                }
            })
            .unwrap()
        })
        .collect();
    raise(kind);
    lp.run().unwrap();
    let mut seen = log.borrow().clone();
    seen.sort();
    assert_eq!(seen, [0, 1, 2]);
    for id in ids {
        assert!(lp.remove_signal(id));
    }
}

#[test]
fn a_removed_handler_never_runs_again_and_the_disposition_is_restored() {
    let _wd = watchdog("a_removed_handler_never_runs_again", 20);
    let lp = EventLoop::new().unwrap();
    let kind = rt(11);
    let before = handler_address(kind.as_raw_value());
    let removed_calls = counter();
    let c = removed_calls.clone();
    let id = lp.on_signal(kind, move |_| bump(&c)).unwrap();
    // A second listener keeps a handler installed, so the signal can still be raised.
    let mut witness = signal(kind).unwrap();

    // A delivery arrives, then the handler is removed before its task runs.
    raise(kind);
    assert!(lp.remove_signal(id));
    lp.block_on(async {
        assert_eq!(witness.recv().await, Some(()));
        util::settle().await;
    });
    raise(kind);
    lp.block_on(async {
        assert_eq!(witness.recv().await, Some(()));
        util::settle().await;
    });
    assert_eq!(removed_calls.get(), 0);
    drop(witness);
    assert_eq!(handler_address(kind.as_raw_value()), before);
    assert!(
        !lp.is_alive(),
        "the removed handler's task let go of the loop"
    );
}

#[test]
fn a_handler_can_remove_itself() {
    let _wd = watchdog("a_handler_can_remove_itself", 20);
    let lp = EventLoop::new().unwrap();
    let kind = rt(12);
    let calls = counter();
    let id_cell = Rc::new(RefCell::new(None));
    let (c, ids) = (calls.clone(), id_cell.clone());
    let id = lp
        .on_signal(kind, move |h| {
            bump(&c);
            let id = ids.borrow().unwrap();
            assert!(h.remove_signal(id));
        })
        .unwrap();
    *id_cell.borrow_mut() = Some(id);
    let mut witness = signal(kind).unwrap();
    witness.set_keep_alive(false);
    raise(kind);
    lp.run().unwrap(); // returns once the handler removed itself
    assert_eq!(calls.get(), 1);
    raise(kind);
    lp.block_on(async {
        assert_eq!(witness.recv().await, Some(()));
        util::settle().await;
    });
    assert_eq!(calls.get(), 1);
}

#[test]
fn a_panicking_handler_is_reported_and_stays() {
    let _wd = watchdog("a_panicking_handler_stays", 20);
    let lp = EventLoop::new().unwrap();
    let kind = rt(13);
    let reports = util::log();
    let r = reports.clone();
    lp.set_error_hook(move |_, e| {
        let panicked = matches!(e, LoopError::CallbackPanic(_));
        r.borrow_mut().push(panicked);
        // The next delivery, for the handler that just panicked.
        raise(kind);
    });
    let calls = counter();
    let c = calls.clone();
    let id = lp
        .on_signal(kind, move |h| {
            bump(&c);
            if c.get() == 1 {
                panic!("first delivery");
            }
            h.stop();
        })
        .unwrap();
    raise(kind);
    lp.run().unwrap();
    assert_eq!(calls.get(), 2);
    assert_eq!(*reports.borrow(), [true]);
    assert!(lp.remove_signal(id));
}

#[test]
fn a_handler_without_keep_alive_lets_run_return() {
    let _wd = watchdog("a_handler_without_keep_alive", 20);
    let lp = EventLoop::new().unwrap();
    let kind = rt(14);
    let (tx, rx) = evloop::sync::oneshot::channel();
    let tx = RefCell::new(Some(tx));
    let id = lp
        .on_signal(kind, move |_| {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(());
            }
        })
        .unwrap();
    assert!(lp.set_signal_keep_alive(id, false));
    lp.run().unwrap(); // returns with the handler registered
    assert!(!lp.is_alive());
    assert!(lp.set_signal_keep_alive(id, true));
    assert!(lp.is_alive());
    assert!(lp.set_signal_keep_alive(id, false));
    // It still runs while the loop runs for another reason.
    raise(kind);
    lp.block_on(rx).unwrap();
    assert!(lp.remove_signal(id));
    assert!(!lp.set_signal_keep_alive(id, true), "gone");
}

#[test]
fn an_id_of_another_loop_is_not_found() {
    let _wd = watchdog("an_id_of_another_loop", 20);
    let a = EventLoop::new().unwrap();
    let b = EventLoop::new().unwrap();
    let kind = rt(15);
    let id = a.on_signal(kind, |_| {}).unwrap();
    assert!(!b.remove_signal(id));
    assert!(!b.set_signal_keep_alive(id, false));
    assert!(a.remove_signal(id));
}

#[test]
fn a_handler_dropped_with_its_loop_unregisters() {
    let _wd = watchdog("a_handler_dropped_with_its_loop", 20);
    let kind = rt(16);
    let before = handler_address(kind.as_raw_value());
    let id = {
        let lp = EventLoop::new().unwrap();
        let id = lp.on_signal(kind, |_| {}).unwrap();
        assert_ne!(handler_address(kind.as_raw_value()), before);
        id
    };
    assert_eq!(handler_address(kind.as_raw_value()), before);
    let lp = EventLoop::new().unwrap();
    assert!(!lp.remove_signal(id));
    // The table's stale entry is swept by the next registration.
    let id2 = lp.on_signal(kind, |_| {}).unwrap();
    assert!(lp.remove_signal(id2));
}

#[test]
fn on_signal_refuses_what_signal_refuses() {
    let lp = EventLoop::new().unwrap();
    let err = lp
        .on_signal(SignalKind::from_raw(libc::SIGKILL), |_| {})
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(!lp.is_alive());
}
