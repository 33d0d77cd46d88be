//! Paused time: the clock moves only by `advance` and by auto-advance when the loop is idle, with
//! no rounding, and every kind of timer follows it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::time::{advance, interval, is_paused, pause, resume, sleep, sleep_until, timeout};
use evloop::{EventLoop, Handle};

fn now() -> Instant {
    Handle::current().now()
}

#[test]
fn auto_advance_jumps_to_each_deadline_exactly() {
    let real = Instant::now();
    evloop::test::run(async {
        assert!(is_paused());
        let start = now();
        for d in [
            Duration::from_nanos(1),
            Duration::from_micros(7),
            Duration::from_secs(3600),
        ] {
            let before = now();
            sleep(d).await;
            assert_eq!(now() - before, d, "no rounding, no extra millisecond");
        }
        assert_eq!(
            now() - start,
            Duration::from_secs(3600) + Duration::from_micros(7) + Duration::from_nanos(1)
        );
    });
    assert!(real.elapsed() < Duration::from_secs(3600));
}

#[test]
fn callback_timers_and_sleeps_share_the_paused_clock_and_fire_in_arming_order() {
    let order = evloop::test::run(async {
        let h = Handle::current();
        let order = Rc::new(RefCell::new(Vec::new()));
        let o = order.clone();
        h.call_later(Duration::from_secs(10), move |h| {
            o.borrow_mut().push(("callback", h.now()))
        });
        let o = order.clone();
        let s = sleep(Duration::from_secs(10));
        let task = evloop::spawn(async move {
            s.await;
            o.borrow_mut().push(("sleep", now()));
        });
        let start = now();
        task.await.unwrap();
        let got = order.borrow().clone();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "callback", "armed first, fires first");
        assert_eq!(got[1].0, "sleep");
        assert!(got
            .iter()
            .all(|(_, at)| *at - start == Duration::from_secs(10)));
        got.len()
    });
    assert_eq!(order, 2);
}

#[test]
fn advance_runs_what_came_due_before_it_returns() {
    evloop::test::run(async {
        let ran = Rc::new(Cell::new(0u32));
        let h = Handle::current();
        for secs in 1..=5 {
            let r = ran.clone();
            h.call_later(Duration::from_secs(secs), move |_| r.set(r.get() + 1));
        }
        advance(Duration::from_secs(3)).await;
        assert_eq!(ran.get(), 3);
        advance(Duration::from_millis(1999)).await;
        assert_eq!(ran.get(), 4);
        advance(Duration::from_millis(1)).await;
        assert_eq!(ran.get(), 5);
    });
}

#[test]
fn intervals_tick_on_exact_multiples_under_paused_time() {
    evloop::test::run(async {
        let start = now();
        let mut every = interval(Duration::from_millis(250));
        for i in 0..8u32 {
            let at = every.tick().await;
            assert_eq!(at - start, Duration::from_millis(250) * i);
            assert_eq!(now() - start, Duration::from_millis(250) * i);
        }
    });
}

#[test]
fn a_blocking_job_in_flight_holds_auto_advance_back() {
    evloop::test::run(async {
        // Real work on the pool takes real time: the 1 h timeout must not fire meanwhile.
        let job = evloop::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(30));
            7
        });
        assert_eq!(
            timeout(Duration::from_secs(3600), job)
                .await
                .unwrap()
                .unwrap(),
            7
        );
    });
}

#[test]
fn resume_goes_on_from_the_paused_time_and_never_backwards() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        pause();
        let start = now();
        advance(Duration::from_secs(86_400)).await;
        resume();
        assert!(!is_paused());
        // Running again, from a day ahead of the real clock.
        let t = now();
        assert!(t - start >= Duration::from_secs(86_400));
        sleep(Duration::from_millis(2)).await;
        assert!(now() - t >= Duration::from_millis(2));
        // Deadlines on the loop's clock still work.
        let d = now() + Duration::from_millis(1);
        sleep_until(d).await;
        assert!(now() >= d);
    });
}

#[test]
fn advance_with_the_clock_running_moves_it_ahead() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let fired = Rc::new(Cell::new(false));
        let f = fired.clone();
        Handle::current().call_later(Duration::from_secs(600), move |_| f.set(true));
        advance(Duration::from_secs(600)).await;
        assert!(
            fired.get(),
            "the 10-minute timer fired once the clock jumped"
        );
    });
}

#[test]
fn pausing_twice_and_resuming_twice_are_no_ops() {
    evloop::test::run(async {
        pause();
        let t = now();
        pause();
        assert_eq!(now(), t);
        resume();
        resume();
        assert!(!is_paused());
    });
}
