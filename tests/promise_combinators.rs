//! Combinators over futures and promises: `join_all` (gather) keeps input order, `try_join_all`
//! short-circuits and drops the rest, `race` and `select` drop the losers, `all_settled` keeps every
//! outcome.

mod util;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use evloop::promise::{
    all_settled, join_all, race, select, try_join_all, Either, Promise, PromiseError,
};
use evloop::EventLoop;
use util::{counter, watchdog, Counter, DropGuard};

/// A future that is ready with `value` on its `n`-th poll (waking itself before that), and counts
/// its drops.
struct CountDown<T> {
    left: usize,
    value: Option<T>,
    _guard: DropGuard,
}

fn count_down<T>(n: usize, value: T, drops: &Counter) -> CountDown<T> {
    CountDown {
        left: n,
        value: Some(value),
        _guard: DropGuard(drops.clone()),
    }
}

impl<T: Unpin> Future for CountDown<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.left = self.left.saturating_sub(1);
        if self.left == 0 {
            return Poll::Ready(self.value.take().expect("polled after completion"));
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn join_all_keeps_input_order() {
    let _wd = watchdog("join_all_keeps_input_order", 30);
    let lp = EventLoop::new().unwrap();
    let mut promises = Vec::new();
    let mut resolvers = Vec::new();
    for _ in 0..5 {
        let (p, r) = Promise::<usize, ()>::new();
        promises.push(p);
        resolvers.push(r);
    }
    // Settled in reverse order, one per turn.
    for (i, r) in resolvers.into_iter().enumerate().rev() {
        lp.call_later(Duration::from_millis(5 - i as u64), move |_| {
            r.resolve(i * 10).unwrap();
        });
    }
    let out = lp.block_on(join_all(promises));
    assert_eq!(out, [Ok(0), Ok(10), Ok(20), Ok(30), Ok(40)]);

    // Plain futures too, finishing in reverse order.
    let drops = counter();
    let futures: Vec<_> = (0..4).map(|i| count_down(8 - 2 * i, i, &drops)).collect();
    assert_eq!(lp.block_on(join_all(futures)), [0, 1, 2, 3]);
    assert_eq!(drops.get(), 4);

    let empty: Vec<Promise<u8, ()>> = Vec::new();
    assert!(lp.block_on(join_all(empty)).is_empty());
}

#[test]
fn try_join_all_short_circuits_and_drops_the_rest() {
    let _wd = watchdog("try_join_all_short_circuits_and_drops_the_rest", 30);
    let lp = EventLoop::new().unwrap();
    let drops = counter();
    let futures = [
        count_down(1, Ok(1), &drops), // done at once
        count_down(1000, Ok(2), &drops),
        count_down(3, Err("bad"), &drops),
        count_down(1000, Ok(4), &drops),
    ];
    let mut all = try_join_all(futures);
    let out = lp.block_on(&mut all);
    assert_eq!(out, Err("bad"));
    // Everything was dropped when the failure came in, before `all` itself is dropped.
    assert_eq!(drops.get(), 4);
    drop(all);

    let out = lp.block_on(try_join_all([
        Promise::<u32, &str>::resolved(1),
        Promise::resolved(2),
    ]));
    assert_eq!(out, Ok(vec![1, 2]));

    // Promises wrapped with `cancel_on_drop` are cancelled when dropped.
    let cancelled = counter();
    let c = cancelled.clone();
    let (slow, _r) = Promise::<u32, &str>::with_canceller(move || c.set(c.get() + 1));
    let out = lp.block_on(try_join_all([
        slow.cancel_on_drop(),
        Promise::rejected("no").cancel_on_drop(),
    ]));
    assert_eq!(out, Err(PromiseError::Rejected("no")));
    assert_eq!(cancelled.get(), 1);
}

#[test]
fn race_returns_the_first_and_drops_the_losers() {
    let _wd = watchdog("race_returns_the_first_and_drops_the_losers", 30);
    let lp = EventLoop::new().unwrap();
    let drops = counter();
    let mut r = race([
        count_down(50, "slow", &drops),
        count_down(2, "fast", &drops),
        count_down(1000, "slowest", &drops),
    ]);
    assert_eq!(lp.block_on(&mut r), "fast");
    assert_eq!(
        drops.get(),
        3,
        "the losers are dropped as soon as there is a winner"
    );
    drop(r);

    // Ties go to the first in input order.
    let drops = counter();
    let r = race([count_down(1, 'a', &drops), count_down(1, 'b', &drops)]);
    assert_eq!(lp.block_on(r), 'a');

    // Losing promises wrapped with `cancel_on_drop` are cancelled.
    let cancelled = counter();
    let c = cancelled.clone();
    let (slow, slow_resolver) = Promise::<u32, ()>::with_canceller(move || c.set(c.get() + 1));
    let (fast, fast_resolver) = Promise::<u32, ()>::new();
    lp.call_later(Duration::from_millis(1), move |_| {
        fast_resolver.resolve(7).unwrap();
    });
    let out = lp.block_on(race([slow.cancel_on_drop(), fast.cancel_on_drop()]));
    assert_eq!(out, Ok(7));
    assert_eq!(cancelled.get(), 1);
    assert!(slow_resolver.is_settled());
}

#[test]
#[should_panic(expected = "race of no futures")]
fn race_of_nothing_panics() {
    drop(race(Vec::<std::future::Ready<()>>::new()));
}

#[test]
fn select_returns_either_and_drops_the_loser() {
    let _wd = watchdog("select_returns_either_and_drops_the_loser", 30);
    let lp = EventLoop::new().unwrap();
    let drops = counter();
    let (p, _r) = Promise::<u32, ()>::new();
    let out = lp.block_on(select(p, count_down(3, "timer", &drops)));
    assert_eq!(out, Either::Right("timer"));
    assert_eq!(drops.get(), 1);

    let drops = counter();
    let mut s = select(Promise::<u32, ()>::resolved(1), count_down(100, (), &drops));
    assert_eq!(lp.block_on(&mut s), Either::Left(Ok(1)));
    assert_eq!(drops.get(), 1, "the loser is dropped before the select is");
}

#[test]
fn all_settled_keeps_every_outcome() {
    let _wd = watchdog("all_settled_keeps_every_outcome", 30);
    let lp = EventLoop::new().unwrap();
    let (p, r) = Promise::<u32, &str>::new();
    drop(r);
    let (q, q_resolver) = Promise::<u32, &str>::new();
    q.cancel();
    drop(q_resolver);
    let out = lp.block_on(all_settled([
        Promise::resolved(1),
        Promise::rejected("x"),
        p,
        q,
        Promise::from_future(async { Ok(5) }),
    ]));
    assert_eq!(
        out,
        [
            Ok(1),
            Err(PromiseError::Rejected("x")),
            Err(PromiseError::Dropped),
            Err(PromiseError::Cancelled),
            Ok(5),
        ]
    );
}
