//! The inbox's hand-off under loom: every interleaving of producers and the loop, up to a
//! preemption bound, with the very file the crate compiles.
//!
//! In the main model the loop thread sleeps in a modelled poller (a flag and a condvar, set by
//! `Notify`) between looks, as the real loop sleeps in `mio::Poll`. A lost wake-up therefore
//! leaves it asleep with work in the inbox, which loom reports as a deadlock; work left behind
//! without `notified` is caught by the checks after the producers are joined.
//!
//! The modelled loop sleeps after every look, even when `notified` is set again, where the real
//! one polls with a zero timeout. That asks more of the inbox (every addition after a clear must
//! reach the poller), which is what the ordering argument in the module docs proves.

#![cfg(loom)]

#[path = "../../src/driver/inbox.rs"]
#[allow(dead_code)]
mod inbox;

use inbox::{Batch, Inbox, Notify};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// The loop's poller: `notify` makes it readable, `wait` blocks until it is and consumes it,
/// like the eventfd behind `mio::Waker`.
#[derive(Default)]
struct Poller {
    readable: Mutex<bool>,
    cv: Condvar,
}

impl Notify for Poller {
    fn notify(&self) {
        *self.readable.lock().unwrap() = true;
        self.cv.notify_one();
    }
}

impl Poller {
    fn wait(&self) {
        let mut readable = self.readable.lock().unwrap();
        while !*readable {
            readable = self.cv.wait(readable).unwrap();
        }
        *readable = false;
    }
}

/// Three preemptions explore all three models in about five seconds on this machine (two cores);
/// four take a minute. `LOOM_MAX_PREEMPTIONS` overrides it for a deeper run.
fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(3);
    }
    b
}

/// What a producer does, in order.
#[derive(Clone, Copy)]
enum Op {
    Post(u32),
    Wake(u32),
    Main,
    Stop,
}

fn run(inbox: &Inbox<u32>, poller: &Poller, ops: &[Op]) -> Vec<u32> {
    let mut refused = Vec::new();
    for &op in ops {
        match op {
            Op::Post(p) => {
                if let Err(p) = inbox.post(p, poller) {
                    refused.push(p);
                }
            }
            Op::Wake(key) => inbox.wake_task(key, 0, poller),
            Op::Main => inbox.wake_main(poller),
            Op::Stop => inbox.stop(poller),
        }
    }
    refused
}

/// Everything the loop took, batch by batch.
#[derive(Default)]
struct Seen {
    posts: Vec<u32>,
    wakes: Vec<Vec<u32>>,
    main: bool,
    stop: bool,
    /// The index in `wakes` of the batch that first had `stop`.
    stop_at: Option<usize>,
}

impl Seen {
    fn record(&mut self, batch: &mut Batch<u32>) {
        self.posts.append(&mut batch.posts);
        let mut keys = std::mem::take(&mut batch.wakes);
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            keys.len(),
            "a key twice in one batch: {keys:?}"
        );
        self.wakes.push(sorted);
        keys.clear();
        batch.wakes = keys;
        batch.tags.clear();
        self.main |= batch.main;
        self.stop |= batch.stop;
        if batch.stop && self.stop_at.is_none() {
            self.stop_at = Some(self.wakes.len() - 1);
        }
    }

    fn woke(&self, key: u32) -> bool {
        self.wakes.iter().any(|b| b.contains(&key))
    }
}

/// Posts and wakes from two producers while the loop takes: each post delivered exactly once and
/// in its producer's order, each woken key and flag at least once, nothing left behind unnotified,
/// and the dedup marks all cleared.
#[test]
fn hand_off_loses_nothing() {
    const A: [Op; 3] = [Op::Post(0), Op::Wake(1), Op::Post(1)];
    const B: [Op; 3] = [Op::Wake(1), Op::Main, Op::Post(2)];
    builder().check(|| {
        let inbox = Arc::new(Inbox::<u32>::new());
        let poller = Arc::new(Poller::default());
        let producers: Vec<_> = [&A[..], &B[..]]
            .into_iter()
            .map(|ops| {
                let (inbox, poller) = (inbox.clone(), poller.clone());
                thread::spawn(move || run(&inbox, &poller, ops))
            })
            .collect();

        let mut seen = Seen::default();
        let mut batch = Batch::new();
        loop {
            if inbox.is_notified() {
                inbox.take(&mut batch);
                seen.record(&mut batch);
            }
            if seen.posts.len() == 3 {
                break;
            }
            poller.wait();
        }
        for p in producers {
            assert!(p.join().unwrap().is_empty(), "an open inbox refused a post");
        }

        // The producers are done: whatever is still inside must have left `notified` set, or the
        // loop would never come back for it.
        let notified = inbox.is_notified();
        inbox.take(&mut batch);
        assert!(
            notified || batch.is_empty(),
            "left in the inbox without notified"
        );
        seen.record(&mut batch);

        let mut posts = seen.posts.clone();
        posts.sort_unstable();
        assert_eq!(posts, [0, 1, 2], "each post exactly once");
        let a: Vec<_> = seen.posts.iter().filter(|&&p| p < 2).collect();
        assert_eq!(a, [&0, &1], "a producer's posts out of order");
        assert!(seen.woke(1) && seen.main, "a wake lost");
        assert!(!seen.stop);

        // Every take cleared the marks of the keys it took: the same key wakes again.
        inbox.wake_task(1, 0, &*poller);
        inbox.wake_task(1, 0, &*poller);
        assert!(inbox.is_notified());
        inbox.take(&mut batch);
        assert_eq!(batch.wakes, [1]);
    });
}

/// One producer against a loop that takes between its adds, so a take can split them: the wake
/// raced with the first take must come back in a later one (or the same), never be swallowed by a
/// stale mark.
#[test]
fn wake_racing_take_is_delivered() {
    builder().check(|| {
        let inbox = Arc::new(Inbox::<u32>::new());
        let poller = Arc::new(Poller::default());
        let producer = {
            let (inbox, poller) = (inbox.clone(), poller.clone());
            thread::spawn(move || run(&inbox, &poller, &[Op::Wake(3), Op::Stop, Op::Wake(3)]))
        };
        let mut seen = Seen::default();
        let mut batch = Batch::new();
        // Two looks at most: the model checks that nothing is lost, not that the loop finishes.
        for _ in 0..2 {
            if inbox.is_notified() {
                inbox.take(&mut batch);
                seen.record(&mut batch);
            }
        }
        producer.join().unwrap();
        let notified = inbox.is_notified();
        inbox.take(&mut batch);
        assert!(
            notified || batch.is_empty(),
            "left in the inbox without notified"
        );
        seen.record(&mut batch);
        // The second wake was added after the stop, so the stop's batch or a later one has key 3
        // (pushed again, or still waiting from the first wake).
        let stop_at = seen.stop_at.expect("the stop was lost");
        assert!(
            seen.wakes[stop_at..].iter().any(|b| b.contains(&3)),
            "a wake after a take swallowed by a stale mark: {:?}",
            seen.wakes
        );
    });
}

/// `close` racing with posts and wakes: every post is delivered, returned by `close`, or handed
/// back by `post`, exactly once; nothing is accepted after the close.
#[test]
fn close_racing_post_loses_nothing() {
    builder().check(|| {
        let inbox = Arc::new(Inbox::<u32>::new());
        let poller = Arc::new(Poller::default());
        let producers: Vec<_> = [&[Op::Post(0), Op::Wake(5), Op::Post(1)][..], &[Op::Post(2)]]
            .into_iter()
            .map(|ops| {
                let (inbox, poller) = (inbox.clone(), poller.clone());
                thread::spawn(move || run(&inbox, &poller, ops))
            })
            .collect();

        let mut seen = Seen::default();
        let mut batch = Batch::new();
        if inbox.is_notified() {
            inbox.take(&mut batch);
            seen.record(&mut batch);
        }
        let mut all = inbox.close();
        assert!(inbox.is_closed());
        for p in producers {
            all.extend(p.join().unwrap());
        }
        all.extend_from_slice(&seen.posts);
        all.sort_unstable();
        assert_eq!(all, [0, 1, 2], "a post lost or duplicated");

        // Closed: nothing more gets in, nothing was kept.
        assert_eq!(inbox.post(9, &*poller), Err(9));
        inbox.wake_task(5, 0, &*poller);
        inbox.take(&mut batch);
        assert!(batch.is_empty());
        assert!(inbox.close().is_empty());
    });
}
