//! `CancellationToken`: cancel wakes every waiter, children follow their parents, and nothing is
//! borrowed while a waker runs.

mod util;

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use evloop::sync::CancellationToken;
use evloop::EventLoop;

#[test]
fn cancel_wakes_every_waiter_and_every_clone_sees_it() {
    let lp = EventLoop::new().unwrap();
    let token = CancellationToken::new();
    let woken = Rc::new(Cell::new(0));
    for _ in 0..10 {
        let (t, w) = (token.clone(), woken.clone());
        lp.spawn(async move {
            t.cancelled().await;
            w.set(w.get() + 1);
        });
    }
    lp.run_nowait().unwrap();
    assert_eq!(woken.get(), 0);
    assert!(!token.is_cancelled());
    token.clone().cancel();
    assert!(token.is_cancelled());
    lp.run().unwrap();
    assert_eq!(woken.get(), 10);
    // Cancelled already: completes at once, and cancelling again changes nothing.
    token.cancel();
    lp.block_on(token.cancelled());
}

#[test]
fn children_follow_their_parent_and_not_the_other_way() {
    let root = CancellationToken::new();
    let child = root.child_token();
    let grandchild = child.child_token();
    let sibling = root.child_token();
    child.cancel();
    assert!(child.is_cancelled() && grandchild.is_cancelled());
    assert!(!root.is_cancelled() && !sibling.is_cancelled());
    root.cancel();
    assert!(sibling.is_cancelled());
    assert!(
        root.child_token().is_cancelled(),
        "a child of a cancelled token"
    );
}

#[test]
fn a_deep_chain_of_tokens_cancels_without_recursion() {
    let root = CancellationToken::new();
    let mut last = root.clone();
    let mut all = Vec::new();
    for _ in 0..200_000 {
        last = last.child_token();
        all.push(last.clone());
    }
    root.cancel();
    assert!(all.iter().all(CancellationToken::is_cancelled));
}

#[test]
fn run_until_cancelled_and_drop_guards() {
    let lp = EventLoop::new().unwrap();
    let token = CancellationToken::new();
    assert_eq!(lp.block_on(token.run_until_cancelled(async { 5 })), Some(5));
    let t = token.clone();
    lp.call_later(Duration::from_millis(2), move |_| t.cancel());
    let never = std::future::pending::<()>();
    assert_eq!(lp.block_on(token.run_until_cancelled(never)), None);
    // A cancelled token does not poll the future at all.
    let polled = Cell::new(false);
    let out = lp.block_on(token.run_until_cancelled(poll_fn(|_| {
        polled.set(true);
        Poll::Ready(())
    })));
    assert_eq!(out, None);
    assert!(!polled.get());

    let guarded = CancellationToken::new();
    drop(guarded.clone().drop_guard());
    assert!(guarded.is_cancelled());
    let kept = CancellationToken::new();
    let back = kept.clone().drop_guard().disarm();
    drop(back);
    assert!(!kept.is_cancelled());
}

#[test]
fn a_dropped_waiter_leaves_nothing_behind() {
    let lp = EventLoop::new().unwrap();
    let token = CancellationToken::new();
    lp.block_on(async {
        for _ in 0..1000 {
            let wait = token.cancelled();
            let _ = evloop::time::timeout(Duration::ZERO, wait).await;
        }
    });
    let t = token.clone();
    let task = lp.spawn(async move { t.cancelled().await });
    lp.run_nowait().unwrap();
    token.cancel();
    lp.block_on(task).unwrap();
}

/// A foreign waker whose `wake` makes and cancels a child of the token and cancels the token: the
/// token is not borrowed then. (The token is not `Send`; the test keeps it on one thread.)
struct ReentrantWaker(CancellationToken);
// SAFETY: only ever used on the test thread.
unsafe impl Send for ReentrantWaker {}
// SAFETY: as above.
unsafe impl Sync for ReentrantWaker {}

impl Wake for ReentrantWaker {
    fn wake(self: Arc<Self>) {
        let child = self.0.child_token();
        child.cancel();
        self.0.cancel();
    }
}

#[test]
fn a_foreign_waker_may_use_the_token_when_woken() {
    let token = CancellationToken::new();
    let mut wait = pin!(token.cancelled());
    let waker = Waker::from(Arc::new(ReentrantWaker(token.clone())));
    let mut cx = Context::from_waker(&waker);
    assert!(wait.as_mut().poll(&mut cx).is_pending());
    token.cancel();
    assert!(wait.as_mut().poll(&mut cx).is_ready());
}

/// A foreign waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_waiter_polled_again_keeps_one_waker_and_is_woken_through_the_latest() {
    let token = CancellationToken::new();
    let mut wait = pin!(token.cancelled());
    let (a, b) = (
        Arc::new(CountingWaker::default()),
        Arc::new(CountingWaker::default()),
    );
    let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
    for _ in 0..3 {
        assert!(wait
            .as_mut()
            .poll(&mut Context::from_waker(&wa))
            .is_pending());
    }
    // Ours (`a`), `wa`, and the one clone the token keeps: polling again cloned nothing more.
    assert_eq!(Arc::strong_count(&a), 3);
    for _ in 0..2 {
        assert!(wait
            .as_mut()
            .poll(&mut Context::from_waker(&wb))
            .is_pending());
    }
    assert_eq!(Arc::strong_count(&a), 2, "the replaced waker was dropped");
    assert_eq!(Arc::strong_count(&b), 3, "the new one is kept, once");
    token.cancel();
    assert_eq!(
        a.0.load(Ordering::SeqCst),
        0,
        "the replaced waker is not woken"
    );
    assert_eq!(b.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        Arc::strong_count(&b),
        2,
        "the token let go of the waker it woke"
    );
    assert!(wait.as_mut().poll(&mut Context::from_waker(&wb)).is_ready());
}

#[test]
fn a_grandchild_is_cancelled_though_its_parent_token_was_dropped() {
    let root = CancellationToken::new();
    let grandchild = root.child_token().child_token();
    root.cancel();
    assert!(grandchild.is_cancelled());
}
