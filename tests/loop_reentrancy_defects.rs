//! The core's re-entrancy, panic and misuse defects, one regression test each (numbered as in the
//! issue that listed them). Defect 7 (cross-thread wake memory) has a file of its own, since it
//! counts the whole process's memory; 9 and 11 need a pause or a fault injected inside the crate,
//! so they are unit tests (`runtime::tests`, `driver::pool::tests`).

mod util;

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use evloop::promise::{Promise, PromiseError};
use evloop::{EventLoop, Handle, Interest, LoopError, RawFdSource};
use util::{counter, watchdog, Counter};

/// A hook that records every report's text.
fn recording_hook(lp: &EventLoop) -> Rc<RefCell<Vec<String>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_error_hook(move |_, e| s.borrow_mut().push(e.to_string()));
    seen
}

/// 1. A replaced hook is dropped after the replacement, with nothing borrowed: its `Drop` may use
///    the loop, hooks included. Likewise the hook the loop drops when it is dropped.
#[test]
fn defect_1_an_old_error_hook_may_use_the_loop_from_its_drop() {
    struct ReplacesHook(Handle, Counter);
    impl Drop for ReplacesHook {
        fn drop(&mut self) {
            self.0.set_error_hook(|_, _| {});
            self.0.call_soon(|_| {});
            util::bump(&self.1);
        }
    }
    let lp = EventLoop::new().unwrap();
    let drops = counter();
    let r = ReplacesHook(lp.handle().clone(), drops.clone());
    lp.set_error_hook(move |_, _| {
        let _ = &r;
    });
    lp.set_error_hook(|_, _| {});
    assert_eq!(drops.get(), 1);
    lp.run().unwrap();

    let r = ReplacesHook(lp.handle().clone(), drops.clone());
    lp.set_error_hook(move |_, _| {
        let _ = &r;
    });
    drop(lp);
    assert_eq!(drops.get(), 2, "the loop's drop dropped its hook");
}

/// A source whose `register`, `reregister` and `deregister` use the loop: they run with nothing
/// borrowed.
struct LoopUsingSource {
    fd: RawFdSource,
    handle: Handle,
    inner: Rc<Cell<Option<evloop::WatcherId>>>,
    calls: Counter,
}

impl mio::event::Source for LoopUsingSource {
    fn register(&mut self, r: &mio::Registry, t: mio::Token, i: Interest) -> io::Result<()> {
        // Opens a socket and watches it, and arms a timer, from inside the registration.
        let sock = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
        self.inner.set(Some(self.handle.watch(
            sock,
            Interest::READABLE,
            |_, _, _| {},
        )?));
        self.handle.call_later(Duration::from_millis(1), |_| {});
        util::bump(&self.calls);
        self.fd.register(r, t, i)
    }

    fn reregister(&mut self, r: &mio::Registry, t: mio::Token, i: Interest) -> io::Result<()> {
        self.handle.call_soon(|_| {});
        util::bump(&self.calls);
        self.fd.reregister(r, t, i)
    }

    fn deregister(&mut self, r: &mio::Registry) -> io::Result<()> {
        if let Some(id) = self.inner.take() {
            assert!(self.handle.unwatch(id));
        }
        util::bump(&self.calls);
        self.fd.deregister(r)
    }
}

/// 2. A user `Source`'s registration methods may use the loop (watch, unwatch, arm a timer).
#[test]
fn defect_2_a_source_may_use_the_loop_while_it_is_registered() {
    let lp = EventLoop::new().unwrap();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let calls = counter();
    let source = LoopUsingSource {
        fd: RawFdSource(a.as_raw_fd()),
        handle: lp.handle().clone(),
        inner: Rc::new(Cell::new(None)),
        calls: calls.clone(),
    };
    let id = lp.watch(source, Interest::READABLE, |_, _, _| {}).unwrap();
    assert_eq!(lp.pending_counts(), (1, 2), "a timer and the two watchers");
    lp.set_interest(id, Interest::READABLE | Interest::WRITABLE)
        .unwrap();
    assert!(lp.unwatch(id));
    assert_eq!(calls.get(), 3, "register, reregister, deregister");
    assert_eq!(lp.pending_counts().1, 0, "both watchers are gone");
    lp.run().unwrap();
}

/// A foreign waker whose `Drop` arms a timer and spawns a task on the current loop.
struct UsesLoopOnDrop;

impl std::task::Wake for UsesLoopOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for UsesLoopOnDrop {
    fn drop(&mut self) {
        let h = Handle::current();
        h.call_later(Duration::from_millis(1), |_| {});
        h.spawn(async {});
    }
}

/// 3. A `Sleep` that is polled with a new waker drops the old one with nothing borrowed.
#[test]
fn defect_3_a_sleep_drops_a_replaced_foreign_waker_with_nothing_borrowed() {
    let lp = EventLoop::new().unwrap();
    let seen = recording_hook(&lp);
    let task = lp.spawn(async {
        let mut sleep = std::pin::pin!(evloop::time::sleep(Duration::from_millis(5)));
        for _ in 0..2 {
            let waker = std::task::Waker::from(Arc::new(UsesLoopOnDrop));
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(sleep.as_mut().poll(&mut cx).is_pending());
        }
        sleep.await;
    });
    lp.block_on(task).unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

/// A future that completes at once and panics when dropped.
struct PanicsOnDrop(&'static str);

impl Future for PanicsOnDrop {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

/// 4. A panic in a task's `Drop` (its future after `Ready`) is reported to the error hook, and the
///    task leaves the slab.
#[test]
fn defect_4_a_panic_in_a_finished_tasks_drop_is_reported_and_the_task_removed() {
    let lp = EventLoop::new().unwrap();
    let seen = recording_hook(&lp);
    drop(lp.spawn(PanicsOnDrop("future drop")));
    let joined = lp.spawn(PanicsOnDrop("joined future drop"));
    lp.run().unwrap();
    assert_eq!(lp.task_count(), 0, "no task stuck in the slab");
    assert_eq!(lp.block_on(joined).ok(), Some(()));
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen
        .iter()
        .all(|s| s.contains("dropping user data panicked")));
}

/// 5. A panic while the loop's drop drops a task does not skip the rest of the teardown: the loop
///    stops being current, its descriptors are closed, and a later loop works.
#[test]
fn defect_5_a_panic_during_teardown_completes_the_teardown() {
    let lp = EventLoop::new().unwrap();
    let seen = recording_hook(&lp);
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let watched = mio::net::UnixStream::from_std(a);
    lp.watch(watched, Interest::READABLE, |_, _, _| {}).unwrap();
    // Pending at teardown: its future is dropped then, and panics.
    lp.spawn(async {
        let _p = PanicsOnDrop("teardown drop");
        std::future::pending::<()>().await;
    });
    lp.run_nowait().unwrap();
    drop(lp);
    assert_eq!(seen.borrow().len(), 1, "{:?}", seen.borrow());
    // The watched socket was closed: its peer reads end-of-file.
    let mut b = b;
    b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(b.read(&mut [0; 8]).unwrap(), 0);
    // The dead loop is not current any more: a new loop's `spawn` goes to the new loop.
    assert!(Handle::try_current().is_none());
    let lp2 = EventLoop::new().unwrap();
    assert_eq!(lp2.block_on(evloop::spawn(async { 7 })).unwrap(), 7);
}

/// 6. Dropping a loop that holds a long pending promise chain tears it down one link at a time,
///    on a thread with a small stack (this overflowed it at about 15,000 links).
#[test]
fn defect_6_a_long_promise_chain_is_dropped_without_recursion() {
    const LINKS: usize = 200_000;
    let t = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let lp = EventLoop::new().unwrap();
            let (first, resolver) = Promise::<usize, ()>::new();
            let mut p = first;
            for _ in 0..LINKS {
                p = p.then(|n| Ok(n + 1));
            }
            let end = Rc::new(Cell::new(None));
            let e = end.clone();
            p.on_settled(move |r| e.set(Some(r.clone())));
            // The resolver is held by a timer that never fires: the loop's drop drops it.
            lp.call_later(Duration::from_secs(3600), move |_| drop(resolver));
            drop(p);
            drop(lp);
            end.take()
        })
        .unwrap();
    assert_eq!(
        t.join().expect("no stack overflow"),
        None::<Result<usize, PromiseError<()>>>
    );
    // And the other way round: a chain whose resolver is dropped while the loop lives settles,
    // link by link, with `Dropped`.
    let t = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let lp = EventLoop::new().unwrap();
            let (first, resolver) = Promise::<usize, ()>::new();
            let mut p = first;
            for _ in 0..LINKS {
                p = p.then(|n| Ok(n + 1));
            }
            drop(resolver);
            lp.block_on(p)
        })
        .unwrap();
    assert_eq!(
        t.join().expect("no stack overflow"),
        Err(PromiseError::Dropped)
    );
}

/// 8. `spawn_blocking` on the handle of a dropped loop refuses the job like every other method,
///    instead of starting a new pool and running it.
#[test]
fn defect_8_spawn_blocking_on_a_dropped_loop_is_refused() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle().clone();
    drop(lp);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let refused = catch_unwind(AssertUnwindSafe(|| {
        handle.spawn_blocking(move || r.store(true, SeqCst));
    }));
    assert!(refused.is_err(), "refused with a panic");
    std::thread::sleep(Duration::from_millis(50));
    assert!(!ran.load(SeqCst), "the job never ran");
}

/// 10. A cancelled promise converts to an `io::Error` that retry loops do not retry.
#[test]
fn defect_10_a_cancelled_promise_is_not_an_interrupted_io_error() {
    let e = io::Error::from(PromiseError::<io::Error>::Cancelled);
    assert_ne!(e.kind(), io::ErrorKind::Interrupted);
    assert!(e.to_string().contains("cancelled"), "{e}");
    /// A reader that fails the way a cancelled read would: `read_exact` must give up at once.
    struct Cancelled(usize);
    impl Read for Cancelled {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            self.0 += 1;
            assert!(self.0 < 10, "read_exact retried a cancelled read");
            Err(PromiseError::<io::Error>::Cancelled.into())
        }
    }
    let mut r = Cancelled(0);
    assert!(r.read_exact(&mut [0; 4]).is_err());
    assert_eq!(r.0, 1);
}

/// 12a. Giving work to the handle of a dropped loop is loud: see `loop_after_drop.rs`. Here, the
///      rule as the docs state it: `is_closed` tells.
#[test]
fn defect_12a_a_dropped_loops_handle_says_it_is_closed() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle().clone();
    assert!(!handle.is_closed());
    drop(lp);
    assert!(handle.is_closed());
    assert!(catch_unwind(AssertUnwindSafe(|| handle.call_soon(|_| {}))).is_err());
}

/// 12b. A socket registered with one loop and awaited by a task of another loop on the same thread
///      is an error the caller sees, not a hang.
#[test]
fn defect_12b_a_socket_awaited_from_another_loop_is_an_error() {
    let _wd = watchdog("defect_12b", 30);
    let first = EventLoop::new().unwrap();
    let second = EventLoop::new().unwrap();
    // Created outside any run: it registers with the thread's current loop, the first one.
    let listener = evloop::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = second
        .block_on(listener.accept())
        .expect_err("an error, not a hang");
    assert!(
        err.to_string().contains("registered with event loop"),
        "{err}"
    );
    // In its own loop it works.
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || std::net::TcpStream::connect(addr).unwrap());
    first.block_on(listener.accept()).unwrap();
    client.join().unwrap();
}

/// 12c. `block_on` of a future that nothing can wake is reported to the error hook (once), instead
///      of sleeping for ever in silence.
#[test]
fn defect_12c_block_on_of_a_future_nothing_can_wake_is_reported() {
    let _wd = watchdog("defect_12c", 30);
    let lp = EventLoop::new().unwrap();
    lp.set_error_hook(|_, e| {
        if matches!(e, LoopError::Stalled) {
            // The test ends the wait; a real program would log and go on waiting.
            std::panic::panic_any("stalled");
        }
    });
    // Never stores (so never clones) its waker: nothing can ever wake it.
    let out = catch_unwind(AssertUnwindSafe(|| {
        lp.block_on(poll_fn(|_| Poll::<()>::Pending))
    }));
    let err = out.expect_err("reported, and the hook ended the wait");
    assert_eq!(err.downcast_ref::<&str>(), Some(&"stalled"));
    // A future that keeps its waker, or a loop with a timer, is not reported.
    let reported = Rc::new(Cell::new(0));
    let r = reported.clone();
    lp.set_error_hook(move |_, _| r.set(r.get() + 1));
    lp.block_on(evloop::time::sleep(Duration::from_millis(2)));
    let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
    let waker_thread = std::thread::spawn(move || rx.recv().unwrap().wake());
    let mut sent = Some(tx);
    lp.block_on(poll_fn(move |cx| match sent.take() {
        Some(tx) => {
            tx.send(cx.waker().clone()).unwrap();
            Poll::Pending
        }
        None => Poll::Ready(()),
    }));
    waker_thread.join().unwrap();
    assert_eq!(reported.get(), 0);
}
