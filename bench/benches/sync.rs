//! Sync-primitive costs of evloop (oneshot round trip, bounded/unbounded mpsc throughput, broadcast fan-out, spawn_blocking round trip, a 10-step promise chain), each group comparing them with the tokio current_thread (+ LocalSet) equivalent.
//!
//! Every group holds the evloop variant(s) and the tokio variant(s) side by side, so that ratios are
//! taken from one run on the same (noisy) machine. Batched groups report per-element throughput.
//! Tasks are spawned with the free functions on both sides (`evloop::spawn`,
//! `tokio::task::spawn_local`), inside one `block_on` per iteration.
//!
//! Run with, for example:
//! `taskset -c 1 cargo bench -p evloop-bench --bench sync -- --warm-up-time 1 --measurement-time 3`

mod common;

use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::pin::pin;
use std::task::Poll;

use common::{evloop, tokio_rt, WakeSelfOnce};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use evloop::promise::Promise;
use tokio::task::LocalSet;

/// Oneshot round trips per iteration.
const ONESHOTS: usize = 1000;
/// Values sent through an mpsc channel per iteration.
const MPSC_N: u64 = 10_000;
/// Capacity of the bounded mpsc channels.
const MPSC_CAP: usize = 128;
/// Broadcast receivers, each its own task.
const RECEIVERS: usize = 100;
/// Broadcast messages per iteration.
const BCAST_N: u64 = 1000;
/// Broadcast capacity for the burst variant: every message fits, nobody lags. A power of two, so
/// that tokio (which rounds up) holds exactly as many as evloop.
const BCAST_BURST_CAP: usize = 1024;
/// Broadcast capacity for the lock-step variant (receivers are never more than one message behind).
const BCAST_STEP_CAP: usize = 16;
/// Sequential spawn_blocking round trips per iteration.
const BLOCKING_N: u64 = 100;
/// Links per promise chain.
const STEPS: usize = 10;
/// Chains built and awaited per iteration.
const CHAINS: usize = 100;

/// Creating a oneshot channel, sending a value and receiving it, ONESHOTS times inside one
/// `block_on`.
///
/// `*_send_await`: send first, then await the receiver (ready at once: no waker is stored).
/// `*_poll_send_poll`: poll the receiver first (pending: it stores the task's waker), then send
/// (which wakes that waker), then poll again (ready). This is the path of a receiver that really
/// waits, without the cost of another task to send from.
fn oneshot_round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("oneshot_round_trip");
    g.throughput(Throughput::Elements(ONESHOTS as u64));

    let lp = evloop();
    g.bench_function("evloop_send_await", |b| {
        b.iter(|| {
            lp.block_on(async {
                for i in 0..ONESHOTS {
                    let (tx, rx) = evloop::sync::oneshot::channel();
                    tx.send(i).unwrap();
                    black_box(rx.await.unwrap());
                }
            })
        })
    });
    g.bench_function("evloop_poll_send_poll", |b| {
        b.iter(|| {
            lp.block_on(poll_fn(|cx| {
                for i in 0..ONESHOTS {
                    let (tx, rx) = evloop::sync::oneshot::channel();
                    let mut rx = pin!(rx);
                    assert!(rx.as_mut().poll(cx).is_pending());
                    tx.send(i).unwrap();
                    black_box(rx.as_mut().poll(cx).is_ready());
                }
                Poll::Ready(())
            }))
        })
    });
    drop(lp);

    let rt = tokio_rt();
    let local = LocalSet::new();
    g.bench_function("tokio_send_await", |b| {
        b.iter(|| {
            local.block_on(&rt, async {
                for i in 0..ONESHOTS {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    tx.send(i).unwrap();
                    black_box(rx.await.unwrap());
                }
            })
        })
    });
    g.bench_function("tokio_poll_send_poll", |b| {
        b.iter(|| {
            local.block_on(
                &rt,
                poll_fn(|cx| {
                    for i in 0..ONESHOTS {
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        let mut rx = pin!(rx);
                        assert!(rx.as_mut().poll(cx).is_pending());
                        tx.send(i).unwrap();
                        black_box(rx.as_mut().poll(cx).is_ready());
                    }
                    Poll::Ready(())
                }),
            )
        })
    });
    g.finish();
}

/// One producer task sends MPSC_N `u64`s through a bounded channel (capacity MPSC_CAP), one
/// consumer task receives them all; the iteration ends when both are done.
///
/// `tokio_spawn` is the same on tokio's own scheduler (`tokio::spawn`, no LocalSet), for context.
fn mpsc_bounded(c: &mut Criterion) {
    let mut g = c.benchmark_group("mpsc_bounded");
    g.throughput(Throughput::Elements(MPSC_N));

    let lp = evloop();
    g.bench_function("evloop", |b| {
        b.iter(|| {
            lp.block_on(async {
                let (tx, mut rx) = evloop::sync::mpsc::channel(MPSC_CAP);
                let producer = evloop::spawn(async move {
                    for i in 0..MPSC_N {
                        tx.send(i).await.unwrap();
                    }
                });
                let consumer = evloop::spawn(async move {
                    let mut sum = 0u64;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                });
                producer.await.unwrap();
                black_box(consumer.await.unwrap())
            })
        })
    });
    drop(lp);

    let rt = tokio_rt();
    let local = LocalSet::new();
    g.bench_function("tokio_spawn_local", |b| {
        b.iter(|| {
            local.block_on(&rt, async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(MPSC_CAP);
                let producer = tokio::task::spawn_local(async move {
                    for i in 0..MPSC_N {
                        tx.send(i).await.unwrap();
                    }
                });
                let consumer = tokio::task::spawn_local(async move {
                    let mut sum = 0u64;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                });
                producer.await.unwrap();
                black_box(consumer.await.unwrap())
            })
        })
    });
    g.bench_function("tokio_spawn", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(MPSC_CAP);
                let producer = tokio::spawn(async move {
                    for i in 0..MPSC_N {
                        tx.send(i).await.unwrap();
                    }
                });
                let consumer = tokio::spawn(async move {
                    let mut sum = 0u64;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                });
                producer.await.unwrap();
                black_box(consumer.await.unwrap())
            })
        })
    });
    g.finish();
}

/// As [`mpsc_bounded`], through an unbounded channel (the producer never waits).
fn mpsc_unbounded(c: &mut Criterion) {
    let mut g = c.benchmark_group("mpsc_unbounded");
    g.throughput(Throughput::Elements(MPSC_N));

    let lp = evloop();
    g.bench_function("evloop", |b| {
        b.iter(|| {
            lp.block_on(async {
                let (tx, mut rx) = evloop::sync::mpsc::unbounded_channel();
                let producer = evloop::spawn(async move {
                    for i in 0..MPSC_N {
                        tx.send(i).unwrap();
                    }
                });
                let consumer = evloop::spawn(async move {
                    let mut sum = 0u64;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                });
                producer.await.unwrap();
                black_box(consumer.await.unwrap())
            })
        })
    });
    drop(lp);

    let rt = tokio_rt();
    let local = LocalSet::new();
    g.bench_function("tokio_spawn_local", |b| {
        b.iter(|| {
            local.block_on(&rt, async {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let producer = tokio::task::spawn_local(async move {
                    for i in 0..MPSC_N {
                        tx.send(i).unwrap();
                    }
                });
                let consumer = tokio::task::spawn_local(async move {
                    let mut sum = 0u64;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                });
                producer.await.unwrap();
                black_box(consumer.await.unwrap())
            })
        })
    });
    g.bench_function("tokio_spawn", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let producer = tokio::spawn(async move {
                    for i in 0..MPSC_N {
                        tx.send(i).unwrap();
                    }
                });
                let consumer = tokio::spawn(async move {
                    let mut sum = 0u64;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                });
                producer.await.unwrap();
                black_box(consumer.await.unwrap())
            })
        })
    });
    g.finish();
}

/// One sender, RECEIVERS receiver tasks, BCAST_N `u64` messages; every receiver gets every message
/// (checked: nobody lags). Throughput counts deliveries (BCAST_N × RECEIVERS).
///
/// `*_burst`: the receivers are spawned and wait; the sender (the `block_on` future) sends all
/// messages in one go into a ring that holds them all, then drops. One wake-up per receiver, then
/// each takes BCAST_N values (yielding to the runtime's budget now and then).
/// `*_lockstep`: the sender yields after each message, so the receivers take it before the next
/// one: every message wakes all RECEIVERS waiting receivers (the wait-list path).
fn broadcast_fan_out(c: &mut Criterion) {
    let mut g = c.benchmark_group("broadcast_fan_out");
    g.throughput(Throughput::Elements(BCAST_N * RECEIVERS as u64));

    let lp = evloop();
    for (name, cap, lockstep) in [
        ("evloop_burst", BCAST_BURST_CAP, false),
        ("evloop_lockstep", BCAST_STEP_CAP, true),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                lp.block_on(async {
                    let (tx, rx) = evloop::sync::broadcast::channel::<u64>(cap);
                    let receivers: Vec<_> = (0..RECEIVERS)
                        .map(|_| {
                            let mut rx = tx.subscribe();
                            evloop::spawn(async move {
                                let mut n = 0u64;
                                while let Ok(v) = rx.recv().await {
                                    black_box(v);
                                    n += 1;
                                }
                                n
                            })
                        })
                        .collect();
                    drop(rx);
                    // Let every receiver start waiting.
                    WakeSelfOnce(false).await;
                    for i in 0..BCAST_N {
                        tx.send(i).unwrap();
                        if lockstep {
                            WakeSelfOnce(false).await;
                        }
                    }
                    drop(tx);
                    for r in receivers {
                        assert_eq!(r.await.unwrap(), BCAST_N, "a receiver lagged");
                    }
                })
            })
        });
    }
    drop(lp);

    let rt = tokio_rt();
    let local = LocalSet::new();
    for (name, cap, lockstep) in [
        ("tokio_burst", BCAST_BURST_CAP, false),
        ("tokio_lockstep", BCAST_STEP_CAP, true),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                local.block_on(&rt, async {
                    let (tx, rx) = tokio::sync::broadcast::channel::<u64>(cap);
                    let receivers: Vec<_> = (0..RECEIVERS)
                        .map(|_| {
                            let mut rx = tx.subscribe();
                            tokio::task::spawn_local(async move {
                                let mut n = 0u64;
                                while let Ok(v) = rx.recv().await {
                                    black_box(v);
                                    n += 1;
                                }
                                n
                            })
                        })
                        .collect();
                    drop(rx);
                    WakeSelfOnce(false).await;
                    for i in 0..BCAST_N {
                        tx.send(i).unwrap();
                        if lockstep {
                            WakeSelfOnce(false).await;
                        }
                    }
                    drop(tx);
                    for r in receivers {
                        assert_eq!(r.await.unwrap(), BCAST_N, "a receiver lagged");
                    }
                })
            })
        });
    }
    g.finish();
}

/// Awaiting `spawn_blocking(|| x + 1)` BLOCKING_N times in a row: each is a round trip to a pool
/// thread and back (a cross-thread wake of the loop). The pool threads are started during warm-up
/// and stay (both pools keep idle threads for 10 s).
///
/// Pinned to one core, each round trip includes thread switches, the same on both sides.
fn spawn_blocking_round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_blocking_round_trip");
    g.throughput(Throughput::Elements(BLOCKING_N));

    let lp = evloop();
    g.bench_function("evloop", |b| {
        b.iter(|| {
            lp.block_on(async {
                let mut x = 0u64;
                for _ in 0..BLOCKING_N {
                    x = evloop::spawn_blocking(move || black_box(x) + 1)
                        .await
                        .unwrap();
                }
                assert_eq!(x, BLOCKING_N);
            })
        })
    });
    drop(lp);

    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut x = 0u64;
                for _ in 0..BLOCKING_N {
                    x = tokio::task::spawn_blocking(move || black_box(x) + 1)
                        .await
                        .unwrap();
                }
                assert_eq!(x, BLOCKING_N);
            })
        })
    });
    g.finish();
}

/// A chain of STEPS links, each adding one, awaited at the end; CHAINS chains one after the other
/// per iteration (throughput counts chains).
///
/// evloop: `Promise::resolved(0)` then STEPS × `.then(|x| Ok(x + 1))` (or `.map(|x| x + 1)`), built
/// up front; each link is delivered from a loop callback.
/// tokio: STEPS awaited oneshots in a row; each value is sent by a freshly spawned local task
/// (`tokio_oneshot_spawn_local`: like a link, each step goes through the scheduler's queue and
/// allocates) or directly before awaiting (`tokio_oneshot_direct`: no scheduling at all, a lower
/// bound).
fn promise_chain(c: &mut Criterion) {
    let mut g = c.benchmark_group("promise_chain");
    g.throughput(Throughput::Elements(CHAINS as u64));

    let lp = evloop();
    g.bench_function("evloop_then", |b| {
        b.iter(|| {
            lp.block_on(async {
                for _ in 0..CHAINS {
                    let mut p = Promise::<u64, ()>::resolved(black_box(0));
                    for _ in 0..STEPS {
                        p = p.then(|x| Ok(x + 1));
                    }
                    assert_eq!(p.await.unwrap(), STEPS as u64);
                }
            })
        })
    });
    g.bench_function("evloop_map", |b| {
        b.iter(|| {
            lp.block_on(async {
                for _ in 0..CHAINS {
                    let mut p = Promise::<u64, ()>::resolved(black_box(0));
                    for _ in 0..STEPS {
                        p = p.map(|x| x + 1);
                    }
                    assert_eq!(p.await.unwrap(), STEPS as u64);
                }
            })
        })
    });
    drop(lp);

    let rt = tokio_rt();
    let local = LocalSet::new();
    g.bench_function("tokio_oneshot_spawn_local", |b| {
        b.iter(|| {
            local.block_on(&rt, async {
                for _ in 0..CHAINS {
                    let mut x = black_box(0u64);
                    for _ in 0..STEPS {
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        drop(tokio::task::spawn_local(async move {
                            let _ = tx.send(x + 1);
                        }));
                        x = rx.await.unwrap();
                    }
                    assert_eq!(x, STEPS as u64);
                }
            })
        })
    });
    g.bench_function("tokio_oneshot_direct", |b| {
        b.iter(|| {
            local.block_on(&rt, async {
                for _ in 0..CHAINS {
                    let mut x = black_box(0u64);
                    for _ in 0..STEPS {
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        tx.send(x + 1).unwrap();
                        x = rx.await.unwrap();
                    }
                    assert_eq!(x, STEPS as u64);
                }
            })
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    oneshot_round_trip,
    mpsc_bounded,
    mpsc_unbounded,
    broadcast_fan_out,
    spawn_blocking_round_trip,
    promise_chain
);
criterion_main!(benches);
