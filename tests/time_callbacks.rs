//! Callback timers: `call_later`, `call_at`, `call_every`, cancellation, far deadlines, and a
//! million live timers.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, TimerId};
use util::{bump, counter, log, watchdog, Rng};

#[test]
fn call_later_and_call_at_never_fire_early() {
    let _wd = watchdog("call_later_and_call_at_never_fire_early", 60);
    let lp = EventLoop::new().unwrap();
    let checked = counter();
    for (i, ms) in [0u64, 1, 2, 3, 5, 8, 13, 0, 1, 4].into_iter().enumerate() {
        let delay = Duration::from_millis(ms) + Duration::from_micros(137 * i as u64);
        // Taken before arming, so it is no later than the loop's own deadline.
        let deadline = Instant::now() + delay;
        let c = checked.clone();
        lp.call_later(delay, move |h| {
            let now = Instant::now();
            assert!(
                now >= deadline,
                "call_later fired {:?} early",
                deadline - now
            );
            assert!(
                h.now() >= deadline,
                "the turn's time is before the deadline"
            );
            bump(&c);
        });
        let at = Instant::now() + delay + Duration::from_micros(500);
        let c = checked.clone();
        lp.call_at(at, move |_| {
            let now = Instant::now();
            assert!(now >= at, "call_at fired {:?} early", at - now);
            bump(&c);
        });
    }
    lp.run().unwrap();
    assert_eq!(checked.get(), 20);
}

#[test]
fn a_timer_armed_late_in_a_long_turn_is_not_early() {
    // The deadline of `call_later` counts from the real clock, not from the start of the turn.
    let _wd = watchdog("a_timer_armed_late_in_a_long_turn_is_not_early", 60);
    let lp = EventLoop::new().unwrap();
    let checked = counter();
    let c = checked.clone();
    lp.call_soon(move |h| {
        std::thread::sleep(Duration::from_millis(10));
        let deadline = Instant::now() + Duration::from_millis(2);
        let c = c.clone();
        h.call_later(Duration::from_millis(2), move |_| {
            assert!(Instant::now() >= deadline, "fired early");
            bump(&c);
        });
    });
    lp.run().unwrap();
    assert_eq!(checked.get(), 1);
}

#[test]
fn call_at_in_the_past_runs_in_the_next_turn() {
    let _wd = watchdog("call_at_in_the_past_runs_in_the_next_turn", 60);
    let lp = EventLoop::new().unwrap();
    let ran = counter();
    let r = ran.clone();
    let past = Instant::now()
        .checked_sub(Duration::from_secs(10))
        .unwrap_or_else(Instant::now);
    lp.call_at(past, move |_| bump(&r));
    // Earlier than the loop itself was created: saturates to "now".
    let r = ran.clone();
    let long_ago = Instant::now()
        .checked_sub(Duration::from_secs(3600))
        .unwrap_or(past);
    lp.call_at(long_ago, move |_| bump(&r));
    lp.run_nowait().unwrap();
    assert_eq!(ran.get(), 2);
    assert!(!lp.is_alive());
}

#[test]
fn equal_deadlines_fire_in_arming_order() {
    let _wd = watchdog("equal_deadlines_fire_in_arming_order", 60);
    let lp = EventLoop::new().unwrap();
    let seen = log();
    let base = Instant::now() + Duration::from_millis(3);
    let mut expected: Vec<(u32, usize)> = Vec::new();
    // Three deadlines, armed interleaved: order is by deadline, then by arming order.
    for i in 0..300 {
        let which = (i * 7 % 3) as u32;
        let at = base + Duration::from_micros(200) * which;
        let s = seen.clone();
        lp.call_at(at, move |_| s.borrow_mut().push((which, i)));
        expected.push((which, i));
    }
    expected.sort(); // stable in `i` within a deadline, as `i` is the arming order
    lp.run().unwrap();
    assert_eq!(*seen.borrow(), expected);
}

#[test]
fn cancelling_from_another_callback_of_the_same_turn_prevents_firing() {
    let _wd = watchdog(
        "cancelling_from_another_callback_of_the_same_turn_prevents_firing",
        60,
    );
    let lp = EventLoop::new().unwrap();
    let period = Duration::from_millis(2);
    let at = Instant::now() + period;
    let victim: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let periodic_victim: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let results = log();
    let (v, pv, r) = (victim.clone(), periodic_victim.clone(), results.clone());
    // The earliest deadline (armed first among equals): it runs first in the turn.
    lp.call_at(at, move |h| {
        let v = v.get().unwrap();
        let pv = pv.get().unwrap();
        r.borrow_mut().push(h.timer_is_live(v));
        r.borrow_mut().push(h.cancel_timer(v));
        r.borrow_mut().push(h.cancel_timer(pv));
        r.borrow_mut().push(h.cancel_timer(v));
        r.borrow_mut().push(h.timer_is_live(v));
    });
    victim.set(Some(lp.call_at(at, |_| panic!("cancelled timer fired"))));
    // First tick at or after `at`.
    periodic_victim.set(Some(
        lp.call_every(period, |_| panic!("cancelled periodic timer fired")),
    ));
    // Keep the loop busy until every deadline has passed, so that all three are due in the same
    // turn (and queued before the first one runs).
    let all_due = Instant::now() + period + Duration::from_millis(1);
    lp.call_soon(move |_| std::thread::sleep(all_due.saturating_duration_since(Instant::now())));
    lp.run().unwrap();
    assert_eq!(*results.borrow(), vec![true, true, true, false, false]);
    assert_eq!(lp.pending_counts(), (0, 0));
}

#[test]
fn a_cancelled_timer_slot_reused_by_a_new_timer_is_not_affected_by_the_stale_id() {
    let _wd = watchdog("a_cancelled_timer_slot_reused_by_a_new_timer", 60);
    let lp = EventLoop::new().unwrap();
    let old = lp.call_later(Duration::from_millis(1), |_| panic!("cancelled"));
    assert!(lp.cancel_timer(old));
    let ran = counter();
    let r = ran.clone();
    let new = lp.call_later(Duration::from_millis(1), move |_| bump(&r));
    assert_ne!(old, new);
    assert!(!lp.cancel_timer(old), "stale id");
    assert!(!lp.set_timer_keep_alive(old, false), "stale id");
    assert!(!lp.timer_is_live(old));
    assert!(lp.timer_is_live(new));
    lp.run().unwrap();
    assert_eq!(ran.get(), 1);
    assert!(
        !lp.timer_is_live(new),
        "a one-shot timer is gone once it ran"
    );
    assert!(!lp.cancel_timer(new));
}

#[test]
fn call_every_repeats_and_can_cancel_itself() {
    let _wd = watchdog("call_every_repeats_and_can_cancel_itself", 60);
    let lp = EventLoop::new().unwrap();
    let period = Duration::from_millis(2);
    let calls = log();
    let own: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let cancelled = Rc::new(Cell::new(None));
    let (c, o, x) = (calls.clone(), own.clone(), cancelled.clone());
    let start = Instant::now();
    own.set(Some(lp.call_every(period, move |h| {
        c.borrow_mut().push(Instant::now());
        if c.borrow().len() == 5 {
            x.set(Some(h.cancel_timer(o.get().unwrap())));
        }
    })));
    lp.run().unwrap(); // returns because the timer cancelled itself
    assert_eq!(cancelled.get(), Some(true));
    let calls = calls.borrow();
    assert_eq!(calls.len(), 5);
    // Call k handles tick k or a later one (skipped ticks), never an earlier one.
    for (k, t) in calls.iter().enumerate() {
        assert!(*t >= start + period * (k as u32 + 1), "call {k} came early");
    }
    assert!(!lp.timer_is_live(own.get().unwrap()));
    assert_eq!(lp.pending_counts(), (0, 0));
}

#[test]
fn call_every_skips_missed_ticks_instead_of_bursting() {
    let _wd = watchdog("call_every_skips_missed_ticks_instead_of_bursting", 60);
    let lp = EventLoop::new().unwrap();
    let p = Duration::from_millis(10);
    // (turn time, real time) of each call, and when the stall ended.
    let calls: Rc<RefCell<Vec<(Instant, Instant)>>> = Rc::new(RefCell::new(Vec::new()));
    let stall_end = Rc::new(Cell::new(None));
    let own: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let (c, e, o) = (calls.clone(), stall_end.clone(), own.clone());
    let start = Instant::now();
    own.set(Some(lp.call_every(p, move |h| {
        c.borrow_mut().push((h.now(), Instant::now()));
        let n = c.borrow().len();
        if n == 1 {
            // Block the loop thread for five periods.
            std::thread::sleep(p * 5);
            e.set(Some(Instant::now()));
        }
        if n == 8 {
            h.cancel_timer(o.get().unwrap());
        }
    })));
    lp.run().unwrap();
    let calls = calls.borrow();
    let stall_end = stall_end.get().unwrap();
    assert_eq!(calls.len(), 8);

    // Ticks 2..=6 were all due during the stall; at most the late tick 2 runs, then the schedule
    // resumes at tick 7 or later: no burst of the missed ones.
    assert!(
        calls[2].1 >= start + p * 7,
        "the third call came {:?} after the start, before tick 7",
        calls[2].1 - start
    );
    let right_after = calls
        .iter()
        .filter(|(_, t)| *t >= stall_end && *t < stall_end + p)
        .count();
    assert!(
        right_after <= 2,
        "{right_after} calls within one period after the stall"
    );
    // In general: after a call at turn time S, the call after next is at least one period later.
    for w in calls.windows(3) {
        assert!(
            w[2].1 >= w[0].0 + p,
            "three calls within one period: {:?}",
            w[2].1 - w[0].0
        );
    }
    // Never early with respect to the original schedule.
    for (k, (_, t)) in calls.iter().enumerate() {
        assert!(*t >= start + p * (k as u32 + 1));
    }
}

#[test]
fn far_future_deadlines_neither_panic_nor_fire() {
    let _wd = watchdog("far_future_deadlines_neither_panic_nor_fire", 60);
    let lp = EventLoop::new().unwrap();
    let never = [
        lp.call_later(Duration::MAX, |_| panic!("Duration::MAX fired")),
        lp.call_at(
            Instant::now() + Duration::from_secs(u32::MAX as u64 * 1000),
            |_| panic!("far instant fired"),
        ),
        lp.call_every(Duration::MAX, |_| panic!("Duration::MAX period fired")),
        lp.call_later(Duration::from_secs(u64::MAX / 4), |_| {
            panic!("huge delay fired")
        }),
    ];
    assert_eq!(
        lp.next_timeout(),
        None,
        "unrepresentable deadlines are 'never'"
    );
    for _ in 0..10 {
        assert!(
            lp.run_nowait().unwrap(),
            "referenced timers keep the loop alive"
        );
    }
    for t in never {
        assert!(lp.timer_is_live(t));
        assert!(lp.set_timer_keep_alive(t, false));
    }
    assert!(!lp.is_alive());
    lp.run().unwrap(); // returns at once: nothing referenced

    // Far but representable: a deadline a hundred years out.
    let century = Duration::from_secs(100 * 365 * 24 * 3600);
    let armed_at = Instant::now();
    let t = lp.call_later(century, |_| panic!("a century passed"));
    assert!(lp.set_timer_keep_alive(t, false));
    let left = lp.next_timeout().expect("a representable deadline");
    assert!(left <= century);
    assert!(left >= century - armed_at.elapsed());
    lp.run_nowait().unwrap();
    assert_eq!(lp.pending_counts().0, 5);
    for t in never.into_iter().chain([t]) {
        assert!(lp.cancel_timer(t));
    }
    assert_eq!(lp.pending_counts().0, 0);
    assert_eq!(lp.next_timeout(), None);
}

/// A million live timers. Arming and cancelling are `O(log n)` and `O(1)` amortised; this runs in
/// a couple of seconds in a debug build.
#[test]
fn a_million_live_timers() {
    let _wd = watchdog("a_million_live_timers", 300);
    const N: usize = 1_000_000;
    let lp = EventLoop::new().unwrap();
    let mut rng = Rng::new(0x5eed);
    let first_armed = Instant::now();
    let mut ids: Vec<(TimerId, Duration)> = Vec::with_capacity(N);
    for _ in 0..N {
        // Between one hour and about 12 days, with many equal delays.
        let delay = Duration::from_secs(3600 + rng.below(1_000_000));
        ids.push((lp.call_later(delay, |_| panic!("far timer fired")), delay));
    }
    assert_eq!(lp.pending_counts(), (N, 0));
    let earliest = ids.iter().map(|&(_, d)| d).min().unwrap();
    let left = lp.next_timeout().unwrap();
    assert!(left <= earliest && left >= earliest - first_armed.elapsed());
    // A turn with a million armed timers fires none of them.
    assert!(lp.run_nowait().unwrap());

    // Cancel in a random order (exercises lazy deletion and heap compaction).
    for i in (1..ids.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        ids.swap(i, j);
    }
    let (keep, keep_delay) = ids.pop().unwrap();
    for (k, &(id, _)) in ids.iter().enumerate() {
        assert!(lp.cancel_timer(id));
        if k % 100_000 == 0 {
            assert_eq!(lp.pending_counts().0, N - k - 1);
        }
    }
    assert_eq!(lp.pending_counts(), (1, 0));
    for &(id, _) in ids.iter().take(1000) {
        assert!(!lp.cancel_timer(id), "cancelled twice");
    }
    // The survivor is now the next deadline, whatever was cancelled before it.
    let left = lp.next_timeout().unwrap();
    assert!(left <= keep_delay && left >= keep_delay - first_armed.elapsed());
    assert!(lp.cancel_timer(keep));
    assert_eq!(lp.pending_counts(), (0, 0));
    assert_eq!(lp.next_timeout(), None);
    assert!(!lp.is_alive());
}
