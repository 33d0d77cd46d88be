//! `spawn_blocking`: results come back to the loop, panics come back as errors, the pool stays
//! within its thread limit, and `run` stays alive while jobs are in flight.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use evloop::{spawn_blocking, EventLoop};

#[test]
fn results_come_back_in_order_of_awaiting() {
    let lp = EventLoop::new().unwrap();
    let sums = lp.block_on(async {
        let handles: Vec<_> = (0..10u64)
            .map(|i| spawn_blocking(move || (0..=i).sum::<u64>()))
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    });
    assert_eq!(
        sums,
        (0..10u64).map(|i| i * (i + 1) / 2).collect::<Vec<_>>()
    );
}

#[test]
fn a_panic_comes_back_as_an_error_and_the_pool_keeps_working() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let err = spawn_blocking(|| -> u32 { panic!("boom in the pool") })
            .await
            .unwrap_err();
        assert!(err.is_panic());
        assert!(err.to_string().contains("boom in the pool"), "{err}");
        assert_eq!(spawn_blocking(|| 7).await.unwrap(), 7);
    });
}

#[test]
fn saturation_queues_jobs_and_never_exceeds_the_limit() {
    let lp = EventLoop::new().unwrap();
    lp.set_blocking_threads(2);
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let done = lp.block_on(async {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let (running, peak) = (running.clone(), peak.clone());
                spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        let mut done = Vec::new();
        for h in handles {
            done.push(h.await.unwrap());
        }
        done
    });
    assert_eq!(done, (0..20).collect::<Vec<_>>());
    assert!(
        peak.load(Ordering::SeqCst) <= 2,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
    assert_eq!(peak.load(Ordering::SeqCst), 2, "both threads were used");
}

#[test]
fn the_loop_thread_keeps_running_while_the_pool_works() {
    let lp = EventLoop::new().unwrap();
    // The job waits until the loop has proven it is not blocked by running a callback later.
    let gate = Arc::new(Barrier::new(2));
    let ticks = lp.block_on({
        let gate = gate.clone();
        async move {
            let theirs = gate.clone();
            let job = spawn_blocking(move || {
                theirs.wait();
                "done"
            });
            evloop::time::sleep(Duration::from_millis(5)).await;
            gate.wait();
            job.await.unwrap()
        }
    });
    assert_eq!(ticks, "done");
}

#[test]
fn run_stays_alive_for_a_detached_job_and_returns_after_it() {
    let lp = EventLoop::new().unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    lp.call_soon(move |h| {
        // Detached: nobody awaits it, yet `run` must wait for it rather than return at once.
        drop(h.spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(20));
            f.fetch_add(1, Ordering::SeqCst);
        }));
    });
    lp.run().unwrap();
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}
