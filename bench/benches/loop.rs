//! Loop-level costs of evloop (call_soon, timer arm/cancel, timer firing, cross-thread posts), each group comparing them with the nearest tokio current_thread (+ LocalSet) equivalent.
//!
//! Every group holds the evloop variant(s) and the tokio variant(s) side by side, so that ratios are
//! taken from one run on the same (noisy) machine. Batched groups report per-element throughput.
//!
//! Run with, for example:
//! `taskset -c 1 cargo bench -p evloop-bench --bench loop -- --warm-up-time 1 --measurement-time 3`

mod common;

use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::pin::pin;
use std::sync::mpsc;
use std::task::Poll;
use std::thread;
use std::time::Duration;

use common::{evloop, tokio_park_with_timer, tokio_rt};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use evloop::Remote;
use tokio::task::LocalSet;

/// Elements per batch in the batched groups.
const N: usize = 1000;

/// Posting N callbacks and running them, vs spawning N ready local tasks on a LocalSet and running
/// them to completion. Each callback / task captures one `usize`, so each costs one allocation on
/// both sides.
fn call_soon(c: &mut Criterion) {
    let mut g = c.benchmark_group("call_soon");
    g.throughput(Throughput::Elements(N as u64));

    let lp = evloop();
    g.bench_function("evloop_call_soon", |b| {
        b.iter(|| {
            for i in 0..N {
                lp.call_soon(move |_| {
                    black_box(i);
                });
            }
            lp.run().unwrap();
        })
    });
    // Not the target comparison, for context: the same work as detached evloop tasks.
    g.bench_function("evloop_spawn_detached", |b| {
        b.iter(|| {
            for i in 0..N {
                drop(lp.spawn(async move {
                    black_box(i);
                }));
            }
            lp.run().unwrap();
        })
    });
    drop(lp);

    let rt = tokio_rt();
    let mut local = LocalSet::new();
    g.bench_function("tokio_spawn_local", |b| {
        b.iter(|| {
            for i in 0..N {
                drop(local.spawn_local(async move {
                    black_box(i);
                }));
            }
            // A LocalSet is a future that completes once all its tasks have.
            rt.block_on(&mut local);
        })
    });
    g.finish();
}

/// Arming a timer 1 s out and cancelling it before it fires, N times per iteration, vs a tokio
/// `sleep(1 s)` created, polled once (which registers it in the timer wheel) and dropped.
fn timer_arm_cancel(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer_arm_cancel");
    g.throughput(Throughput::Elements(N as u64));
    let second = Duration::from_secs(1);

    let lp = evloop();
    g.bench_function("evloop_call_later_cancel", |b| {
        b.iter(|| {
            for _ in 0..N {
                let id = lp.call_later(second, |_| {});
                black_box(lp.cancel_timer(black_box(id)));
            }
        })
    });
    g.bench_function("evloop_sleep_poll_drop", |b| {
        b.iter(|| {
            lp.block_on(poll_fn(|cx| {
                for _ in 0..N {
                    let mut s = pin!(evloop::time::sleep(second));
                    black_box(s.as_mut().poll(cx).is_pending());
                }
                Poll::Ready(())
            }))
        })
    });
    drop(lp);

    let rt = tokio_rt();
    // As in a running server: the driver has parked since a timer earlier than the new ones was
    // armed, so it knows its next wake-up and arming a later timer does not wake it (an eventfd
    // write). Without a park, tokio's driver treats every new timer as possibly the earliest.
    g.bench_function("tokio_sleep_poll_drop", |b| {
        b.iter(|| {
            rt.block_on(async {
                tokio_park_with_timer(second / 2).await;
                poll_fn(|cx| {
                    for _ in 0..N {
                        let mut s = pin!(tokio::time::sleep(second));
                        black_box(s.as_mut().poll(cx).is_pending());
                    }
                    Poll::Ready(())
                })
                .await
            })
        })
    });
    // For comparison with earlier figures: the same with a driver that never parked.
    g.bench_function("tokio_sleep_poll_drop_never_parked", |b| {
        b.iter(|| {
            rt.block_on(poll_fn(|cx| {
                for _ in 0..N {
                    let mut s = pin!(tokio::time::sleep(second));
                    black_box(s.as_mut().poll(cx).is_pending());
                }
                Poll::Ready(())
            }))
        })
    });
    g.finish();
}

/// With `live` sleeps armed (deadlines an hour out, never reached): arming and cancelling one more
/// (`arm_cancel`), and pushing one of the live ones later (`reset`, the idle-timeout pattern), N
/// times per iteration. tokio's driver has parked once the live sleeps were armed, as a server's
/// would have.
fn timer_live(c: &mut Criterion) {
    let hour = Duration::from_secs(3600);
    for live in [1_000usize, 100_000, 1_000_000] {
        let mut g = c.benchmark_group(format!("timer_live_{live}"));
        g.throughput(Throughput::Elements(N as u64));
        if live >= 100_000 {
            g.sample_size(20);
        }

        let lp = evloop();
        let mut sleeps: Vec<_> = lp.block_on(async {
            let start = evloop::Handle::current().now();
            (0..live)
                .map(|i| {
                    Box::pin(evloop::time::sleep_until(
                        start + hour + Duration::from_micros(i as u64),
                    ))
                })
                .collect()
        });
        // Arm them: poll each once inside the loop.
        lp.block_on(poll_fn(|cx| {
            for s in &mut sleeps {
                black_box(s.as_mut().poll(cx).is_pending());
            }
            Poll::Ready(())
        }));
        g.bench_function("evloop_arm_cancel", |b| {
            b.iter(|| {
                lp.block_on(poll_fn(|cx| {
                    for _ in 0..N {
                        let mut s = pin!(evloop::time::sleep(hour * 2));
                        black_box(s.as_mut().poll(cx).is_pending());
                    }
                    Poll::Ready(())
                }))
            })
        });
        let later = std::cell::Cell::new(0u64);
        let base = lp.handle().now() + hour * 3;
        g.bench_function("evloop_reset", |b| {
            b.iter(|| {
                for _ in 0..N {
                    let k = later.get();
                    later.set(k + 1);
                    let s = &mut sleeps[k as usize % live];
                    s.as_mut().reset(base + Duration::from_nanos(k));
                }
            })
        });
        drop(sleeps);
        drop(lp);

        let rt = tokio_rt();
        let mut sleeps: Vec<_> = rt.block_on(async {
            let start = tokio::time::Instant::now();
            let mut v: Vec<_> = (0..live)
                .map(|i| {
                    Box::pin(tokio::time::sleep_until(
                        start + hour + Duration::from_micros(i as u64),
                    ))
                })
                .collect();
            poll_fn(|cx| {
                for s in &mut v {
                    black_box(s.as_mut().poll(cx).is_pending());
                }
                Poll::Ready(())
            })
            .await;
            tokio::task::yield_now().await; // the driver parks, knowing its next wake-up
            v
        });
        g.bench_function("tokio_arm_cancel", |b| {
            b.iter(|| {
                rt.block_on(async {
                    tokio::task::yield_now().await;
                    poll_fn(|cx| {
                        for _ in 0..N {
                            let mut s = pin!(tokio::time::sleep(hour * 2));
                            black_box(s.as_mut().poll(cx).is_pending());
                        }
                        Poll::Ready(())
                    })
                    .await
                })
            })
        });
        let base = tokio::time::Instant::now() + hour * 3;
        let later = std::cell::Cell::new(0u64);
        g.bench_function("tokio_reset", |b| {
            b.iter(|| {
                rt.block_on(async {
                    tokio::task::yield_now().await;
                    for _ in 0..N {
                        let k = later.get();
                        later.set(k + 1);
                        let s = &mut sleeps[k as usize % live];
                        s.as_mut().reset(base + Duration::from_nanos(k));
                    }
                })
            })
        });
        drop(sleeps);
        g.finish();
    }
}

/// Arming N timers that are already due and running until all have fired.
///
/// evloop: N `call_later(0)` callbacks; and N tasks each awaiting `sleep(0)` (its deadline is later
/// than the turn's cached time, so it really goes through the timer queue and fires next turn).
/// tokio: N local tasks each awaiting `sleep(0)`. Tokio rounds deadlines up to its 1 ms tick, so this
/// includes waiting for the next millisecond boundary (that is tokio's real behaviour for a zero
/// sleep); `sleep_until(past)` is the variant that fires without waiting (it still goes through the
/// wheel's lock and fires on registration).
fn timer_fire(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer_fire");
    g.throughput(Throughput::Elements(N as u64));

    let lp = evloop();
    g.bench_function("evloop_call_later_zero", |b| {
        b.iter(|| {
            for i in 0..N {
                lp.call_later(Duration::ZERO, move |_| {
                    black_box(i);
                });
            }
            lp.run().unwrap();
        })
    });
    g.bench_function("evloop_tasks_sleep_zero", |b| {
        b.iter(|| {
            for _ in 0..N {
                // Created inside the task: the deadline is then later than the turn's cached time.
                drop(lp.spawn(async { evloop::time::sleep(Duration::ZERO).await }));
            }
            lp.run().unwrap();
        })
    });
    drop(lp);

    let rt = tokio_rt();
    let mut local = LocalSet::new();
    g.bench_function("tokio_tasks_sleep_zero", |b| {
        b.iter(|| {
            for _ in 0..N {
                drop(local.spawn_local(async { tokio::time::sleep(Duration::ZERO).await }));
            }
            rt.block_on(&mut local);
        })
    });
    g.bench_function("tokio_tasks_sleep_until_past", |b| {
        b.iter(|| {
            let past = tokio::time::Instant::now() - Duration::from_millis(10);
            for _ in 0..N {
                drop(local.spawn_local(async move { tokio::time::sleep_until(past).await }));
            }
            rt.block_on(&mut local);
        })
    });
    g.finish();
}

/// A helper thread that runs `job` each time it is told to, until the sender is dropped.
fn helper(mut job: impl FnMut() + Send + 'static) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<()>();
    let t = thread::spawn(move || {
        while rx.recv().is_ok() {
            job();
        }
    });
    (tx, t)
}

/// Another thread posts N closures; the loop runs them. The poster is a long-lived thread woken
/// through a std channel at the start of each iteration (the same overhead on both sides), and the
/// iteration ends when the last closure has run on the loop thread.
///
/// Nearest tokio equivalent, the primary comparison: `Handle::spawn` from the other thread onto the
/// current_thread runtime. Like `Remote::post` it moves user code (one allocation) through a
/// mutex-protected inject queue and unparks the runtime's driver, and needs no receiving task.
/// Secondary: boxed closures sent over an `mpsc::unbounded_channel` to a task that runs them (a
/// lock-free queue plus one task wake-up per burst).
///
/// Pinned to one core, the poster and the loop time-share it, so this mostly measures the posting
/// and running costs plus the wake-ups and context switches between the two threads.
fn remote_post(c: &mut Criterion) {
    let mut g = c.benchmark_group("remote_post");
    g.throughput(Throughput::Elements(N as u64));

    {
        let lp = evloop();
        let remote: Remote = lp.remote();
        let (go, t) = helper(move || {
            for i in 0..N {
                remote
                    .post(move |_| {
                        black_box(i);
                    })
                    .unwrap();
            }
            remote.post(|h| h.stop()).unwrap();
        });
        let _alive = lp.keep_alive();
        g.bench_function("evloop_remote_post", |b| {
            b.iter(|| {
                go.send(()).unwrap();
                lp.run().unwrap();
            })
        });
        drop(go);
        t.join().unwrap();
    }

    let rt = tokio_rt();
    {
        let handle = rt.handle().clone();
        let (done_tx, done_rx) = mpsc::sync_channel::<tokio::sync::oneshot::Sender<()>>(1);
        let (go, t) = helper(move || {
            let done = done_rx.recv().unwrap();
            for i in 0..N {
                drop(handle.spawn(async move {
                    black_box(i);
                }));
            }
            // Tasks spawned from outside run in FIFO order: this one runs last.
            drop(handle.spawn(async move {
                let _ = done.send(());
            }));
        });
        g.bench_function("tokio_handle_spawn", |b| {
            b.iter(|| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                done_tx.send(tx).unwrap();
                go.send(()).unwrap();
                rt.block_on(rx).unwrap();
            })
        });
        drop(go);
        t.join().unwrap();
    }
    {
        type Job = Box<dyn FnOnce() -> bool + Send>;
        let (job_tx, mut job_rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let (go, t) = helper(move || {
            for i in 0..N {
                job_tx
                    .send(Box::new(move || {
                        black_box(i);
                        false
                    }))
                    .unwrap_or_else(|_| panic!("receiver gone"));
            }
            job_tx
                .send(Box::new(|| true))
                .unwrap_or_else(|_| panic!("receiver gone"));
        });
        g.bench_function("tokio_mpsc_closures", |b| {
            b.iter(|| {
                go.send(()).unwrap();
                rt.block_on(async {
                    while let Some(job) = job_rx.recv().await {
                        if job() {
                            break;
                        }
                    }
                })
            })
        });
        drop(go);
        t.join().unwrap();
    }
    g.finish();
}

criterion_group!(
    benches,
    call_soon,
    timer_arm_cancel,
    timer_live,
    timer_fire,
    remote_post
);
criterion_main!(benches);
