//! `Handle::metrics`: each counter against a workload whose count is known, and the sampled
//! times and histograms where the sampling is exact (the first turn of a loop, and turns that
//! last a millisecond or more, are all timed).

mod util;

use std::sync::mpsc;
use std::task::Poll;
use std::thread;
use std::time::Duration;

use evloop::event_loop::Histogram;
use evloop::{EventLoop, Interest};

#[test]
fn callbacks_tasks_and_queue_depth_are_counted_exactly() {
    let lp = EventLoop::new().unwrap();
    let m0 = lp.metrics();
    assert_eq!(m0.turns(), 0);
    assert_eq!(m0.callbacks_run(), 0);
    const N: u64 = 10;
    const M: u64 = 7;
    let ran = util::counter();
    for _ in 0..N {
        let r = ran.clone();
        lp.call_soon(move |_| util::bump(&r));
    }
    // A cancelled callback never runs and is not counted.
    let gone = lp.call_soon(|_| unreachable!());
    assert!(lp.cancel_callback(gone));
    for _ in 0..M {
        // Each task is polled twice: yield_now returns Pending once.
        drop(lp.spawn(async { evloop::yield_now().await }));
    }
    assert_eq!(lp.metrics().queue_depth(), (N + 1 + M) as usize);
    lp.run().unwrap();
    let m = lp.metrics();
    assert_eq!(ran.get() as u64, N);
    assert_eq!(m.callbacks_run(), N);
    assert_eq!(m.tasks_spawned(), M);
    assert_eq!(m.tasks_polled(), 2 * M);
    assert_eq!(m.tasks_alive(), 0);
    // The first drain saw N callbacks, the cancelled one's stale entry and M tasks.
    assert_eq!(m.queue_depth_max(), (N + 1 + M) as usize);
    assert_eq!(m.queue_depth(), 0);
    // Two turns: one for everything queued, one for the M tasks that yielded.
    assert_eq!(m.turns(), 2);
    assert_eq!(m.watcher_events(), 0);
    assert_eq!(m.timers_armed(), 0);
    assert_eq!(m.remote_posts(), 0);
}

#[test]
fn timers_and_sleeps_are_counted_when_armed_and_when_fired() {
    let lp = EventLoop::new().unwrap();
    for i in 0..3 {
        lp.call_later(Duration::from_millis(i), |_| {});
    }
    let cancelled = lp.call_later(Duration::from_millis(1), |_| unreachable!());
    let ticks = util::counter();
    let t = ticks.clone();
    lp.call_every(Duration::from_millis(1), move |h| {
        util::bump(&t);
        if t.get() == 4 {
            h.stop();
        }
    });
    assert!(lp.cancel_timer(cancelled));
    assert_eq!(lp.metrics().timers_live(), 4);
    lp.run().unwrap();
    let m = lp.metrics();
    assert_eq!(m.timers_armed(), 5);
    assert_eq!(ticks.get(), 4);
    // Three one-shot timers and four ticks ran their callbacks.
    assert_eq!(m.timers_fired(), 7);
    assert_eq!(m.callbacks_run(), 7);
    assert_eq!(m.timers_live(), 1, "the periodic timer is still armed");

    // Two sleeps in a task: armed twice, fired twice, and the task polled three times.
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let task = evloop::spawn(async {
            evloop::time::sleep(Duration::from_millis(2)).await;
            evloop::time::sleep(Duration::from_millis(2)).await;
        });
        task.await.unwrap();
    });
    let m = lp.metrics();
    assert_eq!(m.timers_armed(), 2);
    assert_eq!(m.timers_fired(), 2);
    assert_eq!(m.tasks_polled(), 3);
    assert_eq!(m.timers_live(), 0);
}

#[test]
fn watcher_events_and_polls_are_counted() {
    let lp = EventLoop::new().unwrap();
    let (sock, addr) = util::udp_bound();
    let got = util::log::<Vec<u8>>();
    let g = got.clone();
    lp.watch(sock, Interest::READABLE, move |h, s, ev| {
        let mut buf = [0; 64];
        while let Ok(n) = s.recv(&mut buf) {
            g.borrow_mut().push(buf[..n].to_vec());
        }
        if !g.borrow().is_empty() {
            h.unwatch(ev.watcher());
        }
    })
    .unwrap();
    assert_eq!(lp.metrics().watchers(), 1);
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"ping", addr)
        .unwrap();
    lp.run().unwrap();
    assert_eq!(*got.borrow(), vec![b"ping".to_vec()]);
    let m = lp.metrics();
    // The watcher got one event, then removed itself; it may have been woken once before the
    // datagram was readable only if the OS said so, which epoll does not for a fresh socket.
    assert_eq!(m.watcher_events(), 1);
    assert_eq!(m.watchers(), 0);
    assert!(m.io_polls() >= 1);
    assert!(m.io_events() >= 1);
    assert!(m.io_polls() <= m.turns());
}

#[test]
fn a_watcher_event_whose_watcher_was_removed_first_is_not_counted() {
    // Two watchers readable in the same poll; whichever runs first removes both, so the other's
    // queued event finds its watcher gone and is not delivered.
    let lp = EventLoop::new().unwrap();
    let ids = util::log::<evloop::WatcherId>();
    let ran = util::counter();
    let mut addrs = Vec::new();
    for _ in 0..2 {
        let (sock, addr) = util::udp_bound();
        addrs.push(addr);
        let (all, ran) = (ids.clone(), ran.clone());
        let id = lp
            .watch(sock, Interest::READABLE, move |h, _, _| {
                util::bump(&ran);
                for id in all.borrow().iter() {
                    h.unwatch(*id);
                }
            })
            .unwrap();
        ids.borrow_mut().push(id);
    }
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for addr in &addrs {
        sender.send_to(b"x", addr).unwrap();
    }
    lp.run().unwrap();
    assert_eq!(ran.get(), 1);
    let m = lp.metrics();
    assert_eq!(m.watcher_events(), 1);
    assert_eq!(m.io_events(), 2, "both events came in one poll");
}

#[test]
fn remote_posts_and_wakes_are_counted() {
    let lp = EventLoop::new().unwrap();
    let remote = lp.remote();
    let poster = thread::spawn(move || {
        for _ in 0..5 {
            remote.post(|_| {}).unwrap();
        }
    });
    poster.join().unwrap();
    lp.run().unwrap();
    let m = lp.metrics();
    assert_eq!(m.remote_posts(), 5);
    assert_eq!(m.callbacks_run(), 5);

    // A task woken once from another thread.
    let (tx, rx) = mpsc::channel::<std::task::Waker>();
    let waker_thread = thread::spawn(move || rx.recv().unwrap().wake());
    let task = lp.spawn(async move {
        let mut tx = Some(tx);
        std::future::poll_fn(move |cx| match tx.take() {
            Some(tx) => {
                tx.send(cx.waker().clone()).unwrap();
                Poll::Pending
            }
            None => Poll::Ready(()),
        })
        .await
    });
    lp.block_on(task).unwrap();
    waker_thread.join().unwrap();
    let m = lp.metrics();
    assert_eq!(m.remote_wakes(), 1);
    assert_eq!(m.tasks_polled(), 2);
}

#[test]
fn blocking_pool_jobs_are_reported_while_they_run() {
    let lp = EventLoop::new().unwrap();
    assert_eq!(lp.metrics().blocking_threads(), 0);
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let job = lp.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        7
    });
    started_rx.recv().unwrap();
    let m = lp.metrics();
    assert_eq!(m.blocking_threads(), 1);
    assert_eq!(m.blocking_running(), 1);
    assert_eq!(m.blocking_queued(), 0);
    go_tx.send(()).unwrap();
    assert_eq!(lp.block_on(job).unwrap(), 7);
}

#[test]
fn a_known_sleep_is_idle_time_and_a_blocking_poll_is_poll_duration() {
    // Turns of a millisecond or more are all timed, so these are exact.
    let lp = EventLoop::new().unwrap();
    lp.call_later(Duration::from_millis(30), |_| {});
    lp.run().unwrap();
    let m = lp.metrics();
    assert_eq!(m.timed_turns(), m.turns(), "slow turns are all timed");
    // The loop waits whole milliseconds in the poller until the deadline is under 2 ms away, and
    // the poller never returns early: at least 28 of the 30 ms are one measured wait. (The time
    // before the first turn and between turns belongs to no turn, so the sum may fall short of 30.)
    assert!(m.idle_time() >= Duration::from_millis(28), "{m:?}");

    // A task that blocks in its one poll for 20 ms, polled in the loop's first turn.
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        evloop::spawn(async { thread::sleep(Duration::from_millis(20)) })
            .await
            .unwrap()
    });
    let m = lp.metrics();
    let polls = m.poll_duration();
    assert_eq!(polls.total(), 1, "{m:?}");
    let bucket = polls.counts().iter().position(|c| *c == 1).unwrap();
    let (_, end) = Histogram::bucket_range(bucket);
    assert!(end.is_none_or(|end| end > Duration::from_millis(20)));
    assert!(Histogram::bucket_range(bucket).0 <= polls.quantile_upper_bound(1.0).unwrap());
    assert!(m.busy_time() >= Duration::from_millis(20));
    assert_eq!(m.schedule_latency().total(), 1);
    assert!(polls.bars(20).contains('#'));
}

#[test]
fn histogram_buckets_cover_every_duration_once() {
    let mut prev_end = Duration::ZERO;
    for i in 0..Histogram::BUCKETS {
        let (start, end) = Histogram::bucket_range(i);
        assert_eq!(start, prev_end);
        match end {
            Some(end) => prev_end = end,
            None => assert_eq!(i, Histogram::BUCKETS - 1),
        }
    }
}
