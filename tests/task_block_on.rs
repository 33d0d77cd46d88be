//! `block_on`'s future is scheduled like any task: a yield puts it behind everything queued.

use std::cell::Cell;
use std::rc::Rc;

use evloop::EventLoop;

#[test]
fn yield_in_block_on_runs_everything_queued_first() {
    let lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(0));
    let seen = lp.block_on({
        let ran = ran.clone();
        async move {
            for _ in 0..3 {
                let ran = ran.clone();
                evloop::spawn(async move { ran.set(ran.get() + 1) });
            }
            evloop::yield_now().await;
            ran.get()
        }
    });
    assert_eq!(seen, 3);
}

#[test]
fn block_on_after_block_on_and_run_in_between() {
    let lp = EventLoop::new().unwrap();
    assert_eq!(lp.block_on(async { 1 }), 1);
    // A waker of the finished `block_on` future, woken later, must not disturb `run`.
    let stale = lp.block_on(std::future::poll_fn(|cx| {
        std::task::Poll::Ready(cx.waker().clone())
    }));
    stale.wake_by_ref();
    lp.call_soon(|_| {});
    lp.run().unwrap();
    stale.wake();
    assert_eq!(
        lp.block_on(async {
            evloop::yield_now().await;
            2
        }),
        2
    );
}
