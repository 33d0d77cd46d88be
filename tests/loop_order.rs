//! Ordering and fairness of the message queue: FIFO callbacks, cancellation, turn boundaries, and a
//! callback that re-queues itself forever not starving timers or I/O.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use evloop::{EventLoop, Handle, Interest};
use util::{bump, counter, drain_udp, log, udp_bound, udp_sender, watchdog};

#[test]
fn call_soon_runs_in_fifo_order() {
    let _wd = watchdog("call_soon_runs_in_fifo_order", 60);
    let lp = EventLoop::new().unwrap();
    let seen = log();
    // More than one drain budget (256), so the order must also hold across turns.
    for i in 0..1000 {
        let seen = seen.clone();
        lp.call_soon(move |_| seen.borrow_mut().push(i));
    }
    lp.run().unwrap();
    assert_eq!(*seen.borrow(), (0..1000).collect::<Vec<_>>());
}

#[test]
fn callbacks_queued_by_a_callback_keep_fifo_order() {
    let _wd = watchdog("callbacks_queued_by_a_callback_keep_fifo_order", 60);
    let lp = EventLoop::new().unwrap();
    let seen = log();
    for i in 0..3 {
        let seen = seen.clone();
        lp.call_soon(move |h| {
            seen.borrow_mut().push(i);
            for j in 0..3 {
                let seen = seen.clone();
                h.call_soon(move |_| seen.borrow_mut().push(10 * (i + 1) + j));
            }
        });
    }
    lp.run().unwrap();
    assert_eq!(
        *seen.borrow(),
        vec![0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32]
    );
}

#[test]
fn cancel_callback_before_it_runs() {
    let _wd = watchdog("cancel_callback_before_it_runs", 60);
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let push = |c: char| {
        let seen = seen.clone();
        move |_: &Handle| seen.borrow_mut().push(c)
    };
    let a = lp.call_soon(push('a'));
    let b = lp.call_soon(push('b'));
    let c = lp.call_soon(push('c'));
    assert!(lp.cancel_callback(b), "b was pending");
    assert!(!lp.cancel_callback(b), "cancelling twice reports false");
    lp.run().unwrap();
    assert_eq!(*seen.borrow(), vec!['a', 'c']);
    assert!(!lp.cancel_callback(a), "a already ran");
    assert!(!lp.cancel_callback(c), "c already ran");

    // New callbacks reuse the freed slots; stale ids must not reach them.
    let d = lp.call_soon(push('d'));
    let e = lp.call_soon(push('e'));
    let f = lp.call_soon(push('f'));
    for stale in [a, b, c] {
        assert!(
            !lp.cancel_callback(stale),
            "stale id {stale:?} cancelled a new callback"
        );
    }
    assert_ne!(d, a);
    lp.run().unwrap();
    assert_eq!(*seen.borrow(), vec!['a', 'c', 'd', 'e', 'f']);
    assert!(!lp.cancel_callback(e) && !lp.cancel_callback(f));
}

#[test]
fn cancel_callback_from_an_earlier_callback_in_the_same_drain() {
    let _wd = watchdog(
        "cancel_callback_from_an_earlier_callback_in_the_same_drain",
        60,
    );
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let victim = Rc::new(Cell::new(None));
    let cancelled = Rc::new(Cell::new(None));
    {
        let (seen, victim, cancelled) = (seen.clone(), victim.clone(), cancelled.clone());
        lp.call_soon(move |h| {
            seen.borrow_mut().push(1);
            cancelled.set(Some(h.cancel_callback(victim.get().unwrap())));
        });
    }
    let s = seen.clone();
    victim.set(Some(lp.call_soon(move |_| s.borrow_mut().push(2))));
    let s = seen.clone();
    lp.call_soon(move |_| s.borrow_mut().push(3));
    // Everything is queued before the drain begins: all three are in the same turn.
    lp.run_nowait().unwrap();
    assert_eq!(cancelled.get(), Some(true));
    assert_eq!(*seen.borrow(), vec![1, 3]);
    assert!(!lp.is_alive());
}

#[test]
fn callbacks_queued_during_a_drain_run_in_the_next_turn() {
    let _wd = watchdog("callbacks_queued_during_a_drain_run_in_the_next_turn", 60);
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let s = seen.clone();
    lp.call_soon(move |h| {
        s.borrow_mut().push("first");
        let s = s.clone();
        h.call_soon(move |h| {
            s.borrow_mut().push("queued by first");
            let s = s.clone();
            h.call_soon(move |_| s.borrow_mut().push("queued by queued"));
        });
    });
    let s = seen.clone();
    lp.call_soon(move |_| s.borrow_mut().push("second"));

    assert!(lp.run_nowait().unwrap(), "work is still queued");
    assert_eq!(*seen.borrow(), vec!["first", "second"]);
    assert!(lp.run_nowait().unwrap());
    assert_eq!(*seen.borrow(), vec!["first", "second", "queued by first"]);
    assert!(!lp.run_nowait().unwrap(), "nothing left");
    assert_eq!(
        *seen.borrow(),
        vec!["first", "second", "queued by first", "queued by queued"]
    );
}

#[test]
fn a_self_requeueing_callback_runs_once_per_turn() {
    let _wd = watchdog("a_self_requeueing_callback_runs_once_per_turn", 60);
    fn again(h: &Handle, n: Rc<Cell<usize>>) {
        n.set(n.get() + 1);
        h.call_soon(move |h| again(h, n));
    }
    let lp = EventLoop::new().unwrap();
    let n = Rc::new(Cell::new(0));
    let n2 = n.clone();
    lp.call_soon(move |h| again(h, n2));
    for turn in 1..=1000 {
        assert!(lp.run_nowait().unwrap());
        assert_eq!(n.get(), turn);
    }
}

/// Shared state of the fairness test.
struct Fairness {
    spins: Cell<usize>,
    timer_fired: Cell<bool>,
    datagram_seen: Cell<bool>,
}

/// A cap on the self-requeueing callback so a starving loop fails the test instead of hanging it.
const SPIN_CAP: usize = 2_000_000;

fn spin(h: &Handle, st: Rc<Fairness>) {
    st.spins.set(st.spins.get() + 1);
    if (st.timer_fired.get() && st.datagram_seen.get()) || st.spins.get() >= SPIN_CAP {
        h.stop();
        return;
    }
    h.call_soon(move |h| spin(h, st));
}

#[test]
fn a_callback_requeueing_itself_forever_does_not_starve_timers_or_io() {
    let _wd = watchdog(
        "a_callback_requeueing_itself_forever_does_not_starve_timers_or_io",
        120,
    );
    let lp = EventLoop::new().unwrap();
    let st = Rc::new(Fairness {
        spins: Cell::new(0),
        timer_fired: Cell::new(false),
        datagram_seen: Cell::new(false),
    });

    let (sock, addr) = udp_bound();
    let s = st.clone();
    let watcher = lp
        .watch(sock, Interest::READABLE, move |_, sock, _| {
            if drain_udp(sock) > 0 {
                s.datagram_seen.set(true);
            }
        })
        .unwrap();
    let s = st.clone();
    lp.call_later(Duration::from_millis(5), move |_| s.timer_fired.set(true));
    let s = st.clone();
    lp.call_soon(move |h| spin(h, s));
    udp_sender().send_to(b"ping", addr).unwrap();

    lp.run().unwrap();
    let spins = st.spins.get();
    assert!(
        spins < SPIN_CAP,
        "the spinning callback starved the loop ({spins} spins)"
    );
    assert!(st.timer_fired.get(), "timer starved");
    assert!(st.datagram_seen.get(), "watcher starved");
    assert!(lp.unwatch(watcher));
}

#[test]
fn many_spinning_callbacks_do_not_starve_a_timer() {
    let _wd = watchdog("many_spinning_callbacks_do_not_starve_a_timer", 120);
    // More self-requeueing callbacks than one drain budget: the queue is never empty.
    let lp = EventLoop::new().unwrap();
    let st = Rc::new(Fairness {
        spins: Cell::new(0),
        timer_fired: Cell::new(false),
        datagram_seen: Cell::new(true),
    });
    for _ in 0..300 {
        let s = st.clone();
        lp.call_soon(move |h| spin(h, s));
    }
    let s = st.clone();
    lp.call_later(Duration::from_millis(5), move |_| s.timer_fired.set(true));
    lp.run().unwrap();
    assert!(st.timer_fired.get());
    assert!(st.spins.get() < SPIN_CAP);
}

#[test]
fn run_runs_each_callback_once_then_returns() {
    // `run` with only callbacks returns once they are all done, having run each exactly once.
    let _wd = watchdog("run_runs_each_callback_once_then_returns", 60);
    let lp = EventLoop::new().unwrap();
    let n = counter();
    for _ in 0..10 {
        let n = n.clone();
        lp.call_soon(move |_| bump(&n));
    }
    lp.run().unwrap();
    assert_eq!(n.get(), 10);
    assert!(!lp.is_alive());
}
