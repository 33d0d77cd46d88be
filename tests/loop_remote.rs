//! `Remote`: posting from other threads, ordering, wake-up coalescing, and posting to a dropped loop.

mod util;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use evloop::{EventLoop, PostError, Remote};
use util::watchdog;

/// `Remote` can be moved to and shared between threads, and cloned.
const _: () = {
    const fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Remote>();
    assert_traits::<PostError>();
};

#[test]
fn four_threads_post_100k_each_all_run_once_in_per_thread_order() {
    let _wd = watchdog("four_threads_post_100k_each", 300);
    const THREADS: usize = 4;
    const PER_THREAD: u64 = 100_000;
    let lp = EventLoop::new().unwrap();
    // Only touched on the loop thread, but posts must be `Send`, so atomics it is.
    let next: Arc<[AtomicU64; THREADS]> = Arc::new(Default::default());
    let out_of_order = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(THREADS));
    let alive = lp.keep_alive();

    let posters: Vec<_> = (0..THREADS)
        .map(|t| {
            let remote = lp.remote();
            let (next, out_of_order, total, start) = (
                next.clone(),
                out_of_order.clone(),
                total.clone(),
                start.clone(),
            );
            thread::spawn(move || {
                start.wait();
                for seq in 0..PER_THREAD {
                    let (next, out_of_order, total) =
                        (next.clone(), out_of_order.clone(), total.clone());
                    remote
                        .post(move |h| {
                            if next[t].load(Ordering::Relaxed) != seq {
                                out_of_order.fetch_add(1, Ordering::Relaxed);
                            }
                            next[t].store(seq + 1, Ordering::Relaxed);
                            if total.fetch_add(1, Ordering::Relaxed) + 1
                                == THREADS as u64 * PER_THREAD
                            {
                                h.stop();
                            }
                        })
                        .expect("the loop is alive");
                }
            })
        })
        .collect();
    lp.run().unwrap();
    for p in posters {
        p.join().unwrap();
    }
    drop(alive);
    // Nothing is left over and nothing runs twice.
    while lp.run_nowait().unwrap() {}
    assert_eq!(out_of_order.load(Ordering::Relaxed), 0);
    assert_eq!(total.load(Ordering::Relaxed), THREADS as u64 * PER_THREAD);
    for t in 0..THREADS {
        assert_eq!(next[t].load(Ordering::Relaxed), PER_THREAD, "thread {t}");
    }
}

#[test]
fn posts_from_one_thread_run_in_posting_order() {
    let _wd = watchdog("posts_from_one_thread_run_in_posting_order", 60);
    let lp = EventLoop::new().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let remote = lp.remote();
    let s = seen.clone();
    thread::spawn(move || {
        for i in 0..5 {
            let s = s.clone();
            remote.post(move |_| s.lock().unwrap().push(i)).unwrap();
        }
    })
    .join()
    .unwrap();
    assert!(lp.is_alive(), "pending posts keep the loop alive");
    lp.run().unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

/// How many times the loop's cross-thread waker was written to: the count of its eventfd, found
/// through the epoll descriptor's fdinfo (the waker is registered with token `usize::MAX`).
#[cfg(target_os = "linux")]
fn waker_writes(lp: &EventLoop) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let epoll = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", lp.as_raw_fd())).ok()?;
    let tfd: i32 = epoll
        .lines()
        .find(|l| l.starts_with("tfd:") && l.contains("data: ffffffffffffffff"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let eventfd = std::fs::read_to_string(format!("/proc/self/fdinfo/{tfd}")).ok()?;
    let count = eventfd
        .lines()
        .find_map(|l| l.strip_prefix("eventfd-count:"))?
        .trim();
    u64::from_str_radix(count, 16).ok()
}

#[cfg(target_os = "linux")]
#[test]
fn a_burst_of_posts_costs_one_wake_up() {
    let _wd = watchdog("a_burst_of_posts_costs_one_wake_up", 60);
    let lp = EventLoop::new().unwrap();
    let Some(before) = waker_writes(&lp) else {
        eprintln!("skipped: cannot read the loop's eventfd count through /proc");
        return;
    };
    let ran = Arc::new(AtomicUsize::new(0));
    let burst = |n: usize| {
        let (remote, ran) = (lp.remote(), ran.clone());
        thread::spawn(move || {
            for _ in 0..n {
                let ran = ran.clone();
                remote
                    .post(move |_| {
                        ran.fetch_add(1, Ordering::Relaxed);
                    })
                    .unwrap();
            }
        })
        .join()
        .unwrap();
    };

    burst(10_000);
    assert_eq!(
        waker_writes(&lp),
        Some(before + 1),
        "10,000 posts, one wake-up"
    );
    // One turn takes the whole inbox (and runs one drain budget of it).
    assert!(lp.run_nowait().unwrap());
    let after_one_turn = ran.load(Ordering::Relaxed);
    assert!(after_one_turn > 0 && after_one_turn < 10_000);

    // The loop looked at the inbox, so the next burst wakes it once more, and only once.
    burst(10_000);
    assert_eq!(waker_writes(&lp), Some(before + 2));
    lp.run().unwrap();
    assert_eq!(ran.load(Ordering::Relaxed), 20_000);
    assert_eq!(
        waker_writes(&lp),
        Some(before + 2),
        "running the queue wakes nobody"
    );

    // A stop request is a wake-up too, coalesced with posts that follow before the loop looks.
    let remote = lp.remote();
    thread::spawn(move || {
        remote.stop();
        remote.post(|_| {}).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(waker_writes(&lp), Some(before + 3));
    lp.run().unwrap();
}

#[test]
fn post_after_the_loop_is_dropped_fails_and_drops_the_closure() {
    let _wd = watchdog("post_after_the_loop_is_dropped", 60);
    let lp = EventLoop::new().unwrap();
    let remote = lp.remote();
    let clone = remote.clone();
    assert!(remote.is_alive());
    drop(lp);
    assert!(!remote.is_alive());
    let token = Arc::new(());
    let t = token.clone();
    let err = remote.post(move |_| drop(t)).unwrap_err();
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "the rejected closure was dropped"
    );
    assert!(err.to_string().contains("dropped"), "{err}");
    // From another thread, through a clone, and stop: no panic either.
    thread::spawn(move || {
        assert!(clone.post(|_| {}).is_err());
        clone.stop();
    })
    .join()
    .unwrap();
}

#[test]
fn posts_pending_when_the_loop_is_dropped_are_dropped_on_the_loop_thread() {
    let _wd = watchdog("posts_pending_when_the_loop_is_dropped", 60);
    struct OnDrop(Arc<std::sync::Mutex<Option<thread::ThreadId>>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(thread::current().id());
        }
    }
    let lp = EventLoop::new().unwrap();
    let remote = lp.remote();
    let dropped_on = Arc::new(std::sync::Mutex::new(None));
    let guard = OnDrop(dropped_on.clone());
    thread::spawn(move || {
        remote
            .post(move |_| {
                let _g = guard;
                panic!("never runs");
            })
            .unwrap();
    })
    .join()
    .unwrap();
    drop(lp);
    assert_eq!(*dropped_on.lock().unwrap(), Some(thread::current().id()));
}
