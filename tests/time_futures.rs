//! Time for tasks: `sleep` (never early, `Duration::MAX`, reset, cancel on drop), `timeout`, and
//! `interval` with each `MissedTickBehavior` when the task blocks the thread.
//!
//! No test asserts that something happens *within* a time (machines stall); only lower bounds
//! ("never early") and facts that follow from the schedule itself.

mod util;

use std::future::{pending, poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use evloop::time::{
    interval, interval_at, sleep, sleep_until, timeout, Elapsed, Interval, MissedTickBehavior,
    Sleep,
};
use evloop::{yield_now, EventLoop};
use util::net::GUARD;
use util::{watchdog, Rng};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Polls `f` once inside the running loop; returns whether it was ready.
async fn poll_once<F: Future + Unpin>(f: &mut F) -> bool {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx).is_ready())).await
}

/// An instant `ago` in the past (or now, if the clock cannot go back that far).
fn past(ago: Duration) -> Instant {
    let now = Instant::now();
    now.checked_sub(ago).unwrap_or(now)
}

// ---------------------------------------------------------------------------------------------
// sleep
// ---------------------------------------------------------------------------------------------

#[test]
fn sleep_never_completes_early() {
    let _wd = watchdog("sleep_never_completes_early", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        for ms in [0u64, 1, 2, 5, 10, 20] {
            let d = Duration::from_millis(ms);
            let start = Instant::now();
            sleep(d).await;
            let took = start.elapsed();
            assert!(took >= d, "sleep({d:?}) completed after {took:?}");
        }
        for us in [1u64, 10, 100, 999] {
            let d = Duration::from_micros(us);
            let start = Instant::now();
            sleep(d).await;
            assert!(start.elapsed() >= d);
        }
        let at = Instant::now() + Duration::from_millis(3);
        sleep_until(at).await;
        assert!(Instant::now() >= at);
        // A deadline in the past completes (in a later turn).
        sleep_until(past(Duration::from_millis(5))).await;
    });

    // Many concurrent sleeps with random durations, each checked against its own start.
    let mut rng = Rng::from_state(0xDEAD_BEEF_1234_5678);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let d = Duration::from_micros(rng.next_u64() % 30_000);
            lp.spawn(async move {
                let start = Instant::now();
                let mut s = sleep(d);
                let deadline = s.deadline().expect("a finite sleep has a deadline");
                assert!(deadline >= start + d);
                assert!(!s.is_elapsed());
                (&mut s).await;
                assert!(s.is_elapsed());
                let now = Instant::now();
                assert!(now >= deadline, "woke {:?} early", deadline - now);
                assert!(now - start >= d);
            })
        })
        .collect();
    lp.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(lp.pending_counts().0, 0);
}

#[test]
fn sleep_duration_max_never_completes_and_timeout_ends_it() {
    let _wd = watchdog("sleep_duration_max_never_completes", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let s = sleep(Duration::MAX);
        assert_eq!(s.deadline(), None, "Duration::MAX has no deadline");
        let start = Instant::now();
        let r: Result<(), Elapsed> = timeout(Duration::from_millis(10), s).await;
        assert!(r.is_err());
        assert!(start.elapsed() >= Duration::from_millis(10));

        // Polled a few times over several turns, it stays pending.
        let mut s = sleep(Duration::MAX);
        for _ in 0..5 {
            assert!(!poll_once(&mut s).await);
            sleep(Duration::from_millis(1)).await;
        }
        assert!(!s.is_elapsed());
        assert_eq!(lp.pending_counts().0, 1);
        drop(s);
        assert_eq!(lp.pending_counts().0, 0);
    });
}

#[test]
fn sleep_reset_moves_the_deadline() {
    let _wd = watchdog("sleep_reset_moves_the_deadline", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        // Armed an hour out, then moved to 5 ms from now: completes, never before the new deadline.
        let mut s = sleep(Duration::from_secs(3600));
        assert!(!poll_once(&mut s).await);
        assert_eq!(lp.pending_counts().0, 1);
        let new = Instant::now() + Duration::from_millis(5);
        s.reset(new);
        assert_eq!(s.deadline(), Some(new));
        timeout(GUARD, &mut s)
            .await
            .expect("the reset sleep completes");
        assert!(Instant::now() >= new);
        assert!(s.is_elapsed());
        assert_eq!(lp.pending_counts().0, 0);

        // Reset after completion: it waits again.
        let again = Instant::now() + Duration::from_millis(3);
        s.reset(again);
        assert!(!s.is_elapsed());
        timeout(GUARD, &mut s).await.unwrap();
        assert!(Instant::now() >= again);

        // Reset before the first poll, to a later deadline.
        let mut s = sleep(Duration::ZERO);
        let later = Instant::now() + Duration::from_millis(4);
        s.reset(later);
        (&mut s).await;
        assert!(Instant::now() >= later);

        // Reset to the past while pending: completes in a later turn.
        let mut s = sleep(Duration::from_secs(3600));
        assert!(!poll_once(&mut s).await);
        s.reset(past(Duration::from_secs(1)));
        timeout(GUARD, &mut s).await.unwrap();

        // Reset from an hour to another hour, then dropped: the timer goes away.
        let mut s = sleep(Duration::from_secs(3600));
        assert!(!poll_once(&mut s).await);
        s.reset(Instant::now() + Duration::from_secs(7200));
        assert!(!poll_once(&mut s).await);
        assert_eq!(lp.pending_counts().0, 1);
        drop(s);
        assert_eq!(lp.pending_counts().0, 0);
    });
}

#[test]
fn dropping_a_pending_sleep_cancels_its_timer() {
    let _wd = watchdog("dropping_a_pending_sleep_cancels_its_timer", 60);
    let lp = EventLoop::new().unwrap();
    assert_eq!(lp.pending_counts().0, 0);
    lp.block_on(async {
        let mut s = sleep(Duration::from_secs(3600));
        assert_eq!(lp.pending_counts().0, 0, "no timer before the first poll");
        assert!(!poll_once(&mut s).await);
        assert_eq!(lp.pending_counts().0, 1);
        drop(s);
        assert_eq!(lp.pending_counts().0, 0);

        // Many at once.
        let mut many: Vec<Sleep> = (0..1000)
            .map(|i| sleep(Duration::from_secs(3600 + i)))
            .collect();
        for s in &mut many {
            assert!(!poll_once(s).await);
        }
        assert_eq!(lp.pending_counts().0, 1000);
        many.truncate(400);
        assert_eq!(lp.pending_counts().0, 400);
        drop(many);
        assert_eq!(lp.pending_counts().0, 0);
    });

    // A task parked on a sleep and aborted.
    let t = lp.spawn(sleep(Duration::from_secs(3600)));
    lp.block_on(async {
        while lp.pending_counts().0 == 0 {
            yield_now().await;
        }
    });
    assert_eq!(lp.pending_counts().0, 1);
    t.abort();
    assert!(lp.block_on(t).unwrap_err().is_cancelled());
    assert_eq!(lp.pending_counts().0, 0);

    // An interval's timer goes away with it.
    lp.block_on(async {
        let mut iv = interval(Duration::from_secs(3600));
        iv.tick().await;
        let mut tick = Box::pin(iv.tick());
        assert!(!poll_fn(|cx| Poll::Ready(tick.as_mut().poll(cx).is_ready())).await);
        drop(tick);
        assert_eq!(lp.pending_counts().0, 1);
        drop(iv);
        assert_eq!(lp.pending_counts().0, 0);
    });
}

// ---------------------------------------------------------------------------------------------
// timeout
// ---------------------------------------------------------------------------------------------

#[test]
fn timeout_that_fires_and_timeout_that_does_not() {
    let _wd = watchdog("timeout_that_fires_and_timeout_that_does_not", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        // Fires: the inner future is dropped.
        struct Flag(Rc<std::cell::Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = Rc::new(std::cell::Cell::new(false));
        let flag = Flag(dropped.clone());
        let start = Instant::now();
        let r = timeout(Duration::from_millis(10), async move {
            let _f = flag;
            pending::<u32>().await
        })
        .await;
        assert!(r.is_err());
        assert!(start.elapsed() >= Duration::from_millis(10), "fired early");
        assert!(dropped.get(), "the timed-out future is dropped");
        let e = r.unwrap_err();
        assert_eq!(e.to_string(), "deadline has elapsed");
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(lp.pending_counts().0, 0);

        // Does not fire: the output comes through and the deadline's timer is gone.
        let r = timeout(Duration::from_secs(3600), async {
            sleep(Duration::from_millis(2)).await;
            "done"
        })
        .await;
        assert_eq!(r, Ok("done"));
        assert_eq!(lp.pending_counts().0, 0);

        // A task that completes first.
        let t = evloop::spawn(async {
            yield_now().await;
            7
        });
        assert_eq!(
            timeout(Duration::from_secs(3600), t)
                .await
                .unwrap()
                .unwrap(),
            7
        );
        assert_eq!(lp.pending_counts().0, 0);
    });
}

#[test]
fn timeout_with_zero_duration() {
    let _wd = watchdog("timeout_with_zero_duration", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        // A ready future wins even against a zero deadline: it is polled first.
        assert_eq!(timeout(Duration::ZERO, async { 5 }).await, Ok(5));
        assert_eq!(
            timeout(Duration::ZERO, std::future::ready("x")).await,
            Ok("x")
        );
        // A pending one loses.
        assert!(timeout(Duration::ZERO, pending::<()>()).await.is_err());
        // Ready at its second poll, which comes before the zero deadline is looked at.
        assert_eq!(timeout(Duration::ZERO, yield_now()).await, Ok(()));
        assert_eq!(lp.pending_counts().0, 0);
    });
}

// ---------------------------------------------------------------------------------------------
// interval
// ---------------------------------------------------------------------------------------------

const P: Duration = Duration::from_millis(10);

struct Run {
    /// The first tick's scheduled instant, and when it completed.
    t0: Instant,
    c0: Instant,
    /// When the thread-blocking pause ended.
    block_end: Instant,
    /// Ticks after the pause: (scheduled instant, completion instant).
    ticks: Vec<(Instant, Instant)>,
}

/// Ticks once, blocks the thread for 3.5 periods, then collects ticks until two have a scheduled
/// instant later than the end of the pause.
fn run_interval(behavior: MissedTickBehavior) -> Run {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let before = Instant::now();
        let mut iv: Interval = interval(P);
        assert_eq!(
            iv.missed_tick_behavior(),
            MissedTickBehavior::Skip,
            "the default"
        );
        iv.set_missed_tick_behavior(behavior);
        assert_eq!(iv.missed_tick_behavior(), behavior);
        assert_eq!(iv.period(), P);
        let t0 = iv.tick().await;
        let c0 = Instant::now();
        assert!(
            t0 >= before && t0 <= c0,
            "the first tick is the start instant"
        );
        std::thread::sleep(P * 7 / 2);
        let block_end = Instant::now();
        let mut ticks = Vec::new();
        let mut after_pause = 0;
        while after_pause < 2 {
            let s = iv.tick().await;
            let c = Instant::now();
            ticks.push((s, c));
            if s > block_end {
                after_pause += 1;
            }
            assert!(ticks.len() < 1000, "runaway interval");
        }
        Run {
            t0,
            c0,
            block_end,
            ticks,
        }
    })
}

fn check_common(r: &Run) {
    let mut prev = r.t0;
    for (i, &(s, c)) in r.ticks.iter().enumerate() {
        assert!(c >= s, "tick {i} completed before its scheduled instant");
        assert!(s > prev, "tick {i} scheduled at or before the previous one");
        prev = s;
    }
}

fn missed(r: &Run) -> Vec<Instant> {
    r.ticks
        .iter()
        .map(|&(s, _)| s)
        .filter(|&s| s < r.block_end)
        .collect()
}

#[test]
fn interval_burst_fires_every_missed_tick_back_to_back() {
    let _wd = watchdog("interval_burst", 60);
    let r = run_interval(MissedTickBehavior::Burst);
    check_common(&r);
    // Every tick of the schedule is delivered, none skipped, none shifted.
    for (k, &(s, _)) in r.ticks.iter().enumerate() {
        assert_eq!(s, r.t0 + P * (k as u32 + 1), "tick {k} is off the schedule");
    }
    let m = missed(&r);
    // All the ticks that fell in the pause: at least t0+P, t0+2P, t0+3P.
    let due_in_pause = (1..).take_while(|&k| r.t0 + P * k < r.block_end).count();
    assert!(due_in_pause >= 3);
    assert_eq!(m.len(), due_in_pause, "Burst delivers each missed tick");
    // They all come after the pause, one after the other, without waiting for the schedule.
    for &(s, c) in &r.ticks[..m.len()] {
        assert!(s < r.block_end && c >= r.block_end);
    }
}

#[test]
fn interval_skip_fires_once_then_resumes_the_schedule() {
    let _wd = watchdog("interval_skip", 60);
    let r = run_interval(MissedTickBehavior::Skip);
    check_common(&r);
    let m = missed(&r);
    assert_eq!(
        m,
        vec![r.t0 + P],
        "Skip fires the first missed tick once, late"
    );
    let (s1, c1) = r.ticks[0];
    assert!(c1 >= r.block_end);
    let (s2, _) = r.ticks[1];
    // The next tick is the first point of the original schedule after the late one fired.
    let k = (s2 - r.t0).as_nanos() / P.as_nanos();
    assert_eq!(
        r.t0 + P * k as u32,
        s2,
        "the next tick is on the original schedule"
    );
    assert!(
        s2 > r.block_end,
        "the ticks missed in the pause are skipped"
    );
    assert!(
        s2 - P <= c1,
        "no tick of the schedule is skipped needlessly"
    );
    assert!(s2 >= s1 + P * 3);
    for w in r.ticks[1..].windows(2) {
        let k = (w[1].0 - r.t0).as_nanos() / P.as_nanos();
        assert_eq!(
            r.t0 + P * k as u32,
            w[1].0,
            "later ticks stay on the schedule"
        );
    }
}

#[test]
fn interval_delay_fires_once_then_counts_from_now() {
    let _wd = watchdog("interval_delay", 60);
    let r = run_interval(MissedTickBehavior::Delay);
    check_common(&r);
    let m = missed(&r);
    assert_eq!(m.len(), 1, "Delay fires once for the whole pause");
    // With Delay, even the first period counts from when the first tick was taken.
    let (s1, c1) = r.ticks[0];
    assert!(s1 >= r.t0 + P && s1 <= r.c0 + P);
    // The next one is a full period after the late tick was taken.
    let (s2, c2) = r.ticks[1];
    assert!(
        s2 >= r.block_end + P,
        "the schedule restarts from the late tick"
    );
    assert!(s2 <= c1 + P);
    if let Some(&(s3, _)) = r.ticks.get(2) {
        assert!(s3 - s2 >= P && s3 <= c2 + P);
    }
}

/// On paused time, so that a loaded machine cannot make a tick late (and skipped) and the tick
/// instants are exact.
#[test]
fn interval_at_and_reset() {
    evloop::test::run(async {
        let h = evloop::Handle::current();
        let start = h.now() + Duration::from_millis(5);
        let mut iv = interval_at(start, Duration::from_millis(2));
        let t = iv.tick().await;
        assert_eq!(t, start);
        assert_eq!(h.now(), start, "the first tick waits for its start");
        let t2 = iv.tick().await;
        assert_eq!(t2, start + Duration::from_millis(2));
        assert_eq!(h.now(), t2);

        evloop::time::advance(Duration::from_micros(700)).await;
        let before = h.now();
        iv.reset();
        let t3 = iv.tick().await;
        assert_eq!(
            t3,
            before + Duration::from_millis(2),
            "reset counts a period from now"
        );
        assert_eq!(h.now(), t3);
    });
}

#[test]
#[should_panic(expected = "non-zero")]
fn interval_with_a_zero_period_panics() {
    let _lp = EventLoop::new().unwrap();
    let _ = interval(Duration::ZERO);
}
