//! Cross-thread wakes at scale: threads that each wake a task of their own loop, 1 thread against 2, and two loops waking each other's tasks; evloop only (compare a run on an older commit to see what the loop table changed).
//!
//! If the wake path shares nothing across the process, two threads waking two loops take about
//! the time one thread takes for one loop (given two free cores); if it is serialised (as with a
//! process-wide lock), they take twice as long or more. Run with, for example:
//! `cargo bench -p evloop-bench --bench wake -- --warm-up-time 1 --measurement-time 3`

use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use evloop::EventLoop;

/// A loop (not running) with one pending task, and that task's waker.
fn idle_loop() -> (EventLoop, Waker) {
    let lp = EventLoop::new().unwrap();
    let (tx, rx) = mpsc::channel();
    let task = lp.spawn(poll_fn(move |cx| {
        let _ = tx.send(cx.waker().clone());
        Poll::<()>::Pending
    }));
    lp.run_once().unwrap();
    drop(task);
    let waker = rx.recv().unwrap();
    (lp, waker)
}

/// `threads` threads, each waking the task of its own idle loop `iters` times; the time of the
/// slowest, from a common start.
fn wake_idle_loops(threads: usize, iters: u64) -> Duration {
    let loops: Vec<_> = (0..threads).map(|_| idle_loop()).collect();
    let start = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = loops
        .iter()
        .map(|(_, w)| {
            let (w, start) = (w.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let t = Instant::now();
                for _ in 0..iters {
                    w.wake_by_ref();
                }
                t.elapsed()
            })
        })
        .collect();
    let slowest = workers.into_iter().map(|t| t.join().unwrap()).max();
    drop(loops);
    slowest.unwrap()
}

/// Two loops on two threads, each task waking the other's `per_side` times (16 per poll, then
/// it yields), until both have seen the other finish; the wall time of the exchange.
fn exchange(per_side: u64) -> Duration {
    let sent = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let (to_b, from_a) = mpsc::channel();
    let (to_a, from_b) = mpsc::channel();
    let start = Arc::new(Barrier::new(2));
    let side = move |mine: Arc<AtomicU64>,
                     peer: Arc<AtomicU64>,
                     give: mpsc::Sender<Waker>,
                     take: mpsc::Receiver<Waker>,
                     start: Arc<Barrier>| {
        let lp = EventLoop::new().unwrap();
        let task = lp.spawn(async move {
            let mut other: Option<Waker> = None;
            poll_fn(|cx| {
                let w = other.get_or_insert_with(|| {
                    give.send(cx.waker().clone()).unwrap();
                    let w = take.recv().unwrap();
                    start.wait();
                    w
                });
                let from = mine.load(Ordering::Relaxed);
                for _ in from..per_side.min(from + 16) {
                    mine.fetch_add(1, Ordering::Release);
                    w.wake_by_ref();
                }
                if mine.load(Ordering::Relaxed) < per_side {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else if peer.load(Ordering::Acquire) == per_side {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await
        });
        let t = Instant::now();
        lp.block_on(task).unwrap();
        t.elapsed()
    };
    let other = {
        let (a, b, start) = (sent[0].clone(), sent[1].clone(), start.clone());
        thread::spawn(move || side(b, a, to_a, from_a, start))
    };
    let here = side(sent[0].clone(), sent[1].clone(), to_b, from_b, start);
    here.max(other.join().unwrap())
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("cross_wake");
    for threads in [1, 2] {
        g.bench_function(format!("idle_loop_per_thread/threads={threads}"), |b| {
            b.iter_custom(|iters| wake_idle_loops(threads, iters))
        });
    }
    g.sample_size(20);
    g.bench_function("two_loops_exchange_100k_each", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| exchange(100_000)).sum())
    });
    g.finish();
}

criterion_group!(wake, benches);
criterion_main!(wake);
