//! Task-executor costs of evloop (spawn+join, yield ping-pong, cross-thread wake, sleep/timeout arm+cancel inside a task), each group comparing them with tokio current_thread + LocalSet (`spawn_local`).
//!
//! Every group holds the evloop and tokio variants side by side, so that ratios are taken from one
//! run on the same (noisy) machine. Tasks that spawn tasks use the free functions on both sides
//! (`evloop::spawn`, `tokio::task::spawn_local`), which find the runtime through a thread-local.
//!
//! Run with, for example:
//! `taskset -c 1 cargo bench -p evloop-bench --bench task -- --warm-up-time 1 --measurement-time 3`

mod common;

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use common::{evloop, tokio_park_with_timer, tokio_rt, WakeSelfOnce};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio::task::LocalSet;

/// Elements per batch.
const N: usize = 1000;
/// Cross-thread wakes per iteration (each is a full round trip between two threads).
const WAKES: usize = 100;

/// Spawning a trivial task and awaiting its JoinHandle: a batch (spawn N, then await them in order)
/// and one at a time (spawn, await, repeat).
fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    g.throughput(Throughput::Elements(N as u64));

    let lp = evloop();
    g.bench_function("evloop_batch", |b| {
        b.iter(|| {
            lp.block_on(async {
                let mut tasks = Vec::with_capacity(N);
                for i in 0..N {
                    tasks.push(evloop::spawn(async move { i }));
                }
                for t in tasks {
                    black_box(t.await.unwrap());
                }
            })
        })
    });
    g.bench_function("evloop_one_by_one", |b| {
        b.iter(|| {
            lp.block_on(async {
                for i in 0..N {
                    black_box(evloop::spawn(async move { i }).await.unwrap());
                }
            })
        })
    });
    drop(lp);

    let rt = tokio_rt();
    let local = LocalSet::new();
    g.bench_function("tokio_batch", |b| {
        b.iter(|| {
            local.block_on(&rt, async {
                let mut tasks = Vec::with_capacity(N);
                for i in 0..N {
                    tasks.push(tokio::task::spawn_local(async move { i }));
                }
                for t in tasks {
                    black_box(t.await.unwrap());
                }
            })
        })
    });
    g.bench_function("tokio_one_by_one", |b| {
        b.iter(|| {
            local.block_on(&rt, async {
                for i in 0..N {
                    black_box(tokio::task::spawn_local(async move { i }).await.unwrap());
                }
            })
        })
    });
    g.finish();
}

/// One side of a ping-pong: takes `n` turns, yielding with `yield_fn` while it is the other's turn.
async fn player<Y, F>(turn: Rc<Cell<bool>>, me: bool, n: usize, yield_fn: F)
where
    Y: Future<Output = ()>,
    F: Fn() -> Y,
{
    for _ in 0..n {
        while turn.get() != me {
            yield_fn().await;
        }
        turn.set(!me);
    }
}

/// Two tasks handing a turn back and forth through a shared `Rc<Cell<bool>>`, each yielding while it
/// is not its turn: N hand-offs per iteration, about one yield and one poll each.
///
/// `*_yield_now` uses each runtime's `yield_now`. Tokio's defers the wake-up until the scheduler has
/// run out of ready tasks and polled its driver, so its round trips include an `epoll_wait`;
/// `*_wake_self` yields with [`WakeSelfOnce`] on both sides to compare the executors alone.
fn yield_pingpong(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield_pingpong");
    g.throughput(Throughput::Elements(N as u64));

    let lp = evloop();
    g.bench_function("evloop_yield_now", |b| {
        b.iter(|| {
            lp.block_on(async {
                let turn = Rc::new(Cell::new(true));
                let a = evloop::spawn(player(turn.clone(), true, N / 2, evloop::yield_now));
                let b = evloop::spawn(player(turn, false, N / 2, evloop::yield_now));
                a.await.unwrap();
                b.await.unwrap();
            })
        })
    });
    g.bench_function("evloop_wake_self", |b| {
        b.iter(|| {
            lp.block_on(async {
                let turn = Rc::new(Cell::new(true));
                let a = evloop::spawn(player(turn.clone(), true, N / 2, || WakeSelfOnce(false)));
                let b = evloop::spawn(player(turn, false, N / 2, || WakeSelfOnce(false)));
                a.await.unwrap();
                b.await.unwrap();
            })
        })
    });
    drop(lp);

    let rt = tokio_rt();
    let local = LocalSet::new();
    g.bench_function("tokio_yield_now", |b| {
        b.iter(|| {
            local.block_on(&rt, async {
                let turn = Rc::new(Cell::new(true));
                let yield_now = tokio::task::yield_now;
                let a = tokio::task::spawn_local(player(turn.clone(), true, N / 2, yield_now));
                let b = tokio::task::spawn_local(player(turn, false, N / 2, yield_now));
                a.await.unwrap();
                b.await.unwrap();
            })
        })
    });
    g.bench_function("tokio_wake_self", |b| {
        b.iter(|| {
            local.block_on(&rt, async {
                let turn = Rc::new(Cell::new(true));
                let yield_fn = || WakeSelfOnce(false);
                let a = tokio::task::spawn_local(player(turn.clone(), true, N / 2, yield_fn));
                let b = tokio::task::spawn_local(player(turn, false, N / 2, yield_fn));
                a.await.unwrap();
                b.await.unwrap();
            })
        })
    });
    g.finish();
}

/// A task that completes after being woken `left` times by the waker thread. Each poll hands a
/// waker to that thread and waits for it to be woken, so wakes never coalesce and the count is exact:
/// the task terminates after exactly `left` round trips.
struct CountWakes {
    left: usize,
    waker_thread: mpsc::Sender<Waker>,
}

impl Future for CountWakes {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            return Poll::Ready(());
        }
        self.left -= 1;
        self.waker_thread
            .send(cx.waker().clone())
            .expect("waker thread gone");
        Poll::Pending
    }
}

/// A long-lived thread that wakes every waker it receives.
fn waker_thread() -> (mpsc::Sender<Waker>, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<Waker>();
    let t = thread::spawn(move || {
        while let Ok(w) = rx.recv() {
            w.wake();
        }
    });
    (tx, t)
}

/// Another thread wakes a spawned task's waker, WAKES times in a row (one round trip each: the task
/// sends its waker over a std channel, the thread wakes it, the loop polls the task again).
///
/// Pinned to one core, each round trip includes two thread switches, the same on both sides.
fn remote_wake(c: &mut Criterion) {
    let mut g = c.benchmark_group("remote_wake");
    g.throughput(Throughput::Elements(WAKES as u64));

    let (tx, t) = waker_thread();
    let lp = evloop();
    g.bench_function("evloop", |b| {
        b.iter(|| {
            lp.block_on(lp.spawn(CountWakes {
                left: WAKES,
                waker_thread: tx.clone(),
            }))
            .unwrap()
        })
    });
    drop(lp);

    let rt = tokio_rt();
    let local = LocalSet::new();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            local
                .block_on(
                    &rt,
                    local.spawn_local(CountWakes {
                        left: WAKES,
                        waker_thread: tx.clone(),
                    }),
                )
                .unwrap()
        })
    });
    drop(tx);
    t.join().unwrap();
    g.finish();
}

/// Inside a spawned task, N times: a 1 s sleep created, polled once (armed) and dropped (cancelled);
/// tokio's driver has parked once knowing an earlier timer, as in a running server;
/// and `timeout(1 s, f)` around a future `f` that is pending once (so the deadline is armed, the task
/// is polled again, and the timeout is cancelled on completion).
fn sleep_arm_cancel(c: &mut Criterion) {
    let mut g = c.benchmark_group("sleep_arm_cancel");
    g.throughput(Throughput::Elements(N as u64));
    let second = Duration::from_secs(1);

    let lp = evloop();
    g.bench_function("evloop_sleep_poll_drop", |b| {
        b.iter(|| {
            lp.block_on(lp.spawn(poll_fn(move |cx| {
                for _ in 0..N {
                    let mut s = pin!(evloop::time::sleep(second));
                    black_box(s.as_mut().poll(cx).is_pending());
                }
                Poll::Ready(())
            })))
            .unwrap()
        })
    });
    g.bench_function("evloop_timeout", |b| {
        b.iter(|| {
            lp.block_on(lp.spawn(async move {
                for _ in 0..N {
                    let r = evloop::time::timeout(second, WakeSelfOnce(false)).await;
                    black_box(r.is_ok());
                }
            }))
            .unwrap()
        })
    });
    drop(lp);

    let rt = tokio_rt();
    let local = LocalSet::new();
    g.bench_function("tokio_sleep_poll_drop", |b| {
        b.iter(|| {
            local
                .block_on(
                    &rt,
                    local.spawn_local(async move {
                        // As in a running server: the driver parked knowing an earlier timer.
                        tokio_park_with_timer(second / 2).await;
                        poll_fn(move |cx| {
                            for _ in 0..N {
                                let mut s = pin!(tokio::time::sleep(second));
                                black_box(s.as_mut().poll(cx).is_pending());
                            }
                            Poll::Ready(())
                        })
                        .await
                    }),
                )
                .unwrap()
        })
    });
    g.bench_function("tokio_timeout", |b| {
        b.iter(|| {
            local
                .block_on(
                    &rt,
                    local.spawn_local(async move {
                        tokio_park_with_timer(second / 2).await;
                        for _ in 0..N {
                            let r = tokio::time::timeout(second, WakeSelfOnce(false)).await;
                            black_box(r.is_ok());
                        }
                    }),
                )
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    spawn_join,
    yield_pingpong,
    remote_wake,
    sleep_arm_cancel
);
criterion_main!(benches);
