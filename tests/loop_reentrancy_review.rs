//! Regressions found by a review of the rebuilt core: false `Stalled` reports, panicking
//! `Source` methods, promises polled with a waker that settles them, a fired sleep that kept
//! `run` alive, a dropped loop made current again, nested teardowns, the wrong-loop check behind
//! a wrapping waker, and foreign wakes lost to a resumed panic.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::task::{Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

use evloop::{EventLoop, LoopError};

fn stalled_counter(lp: &EventLoop) -> Rc<Cell<u32>> {
    let n = Rc::new(Cell::new(0));
    let n2 = n.clone();
    lp.set_error_hook(move |_, e| {
        eprintln!("hook: {e}");
        if matches!(e, LoopError::Stalled) {
            n2.set(n2.get() + 1);
        }
    });
    n
}

/// Stalled false positive 1: remote_channel (evloop's own cross-thread channel) stores the main
/// waker inline (no vtable clone): `main_escaped` stays false, the sender holds no Remote.
#[test]
fn stalled_false_positive_remote_channel() {
    let lp = EventLoop::new().unwrap();
    let n = stalled_counter(&lp);
    let v = lp.block_on(async {
        let (tx, mut rx) = evloop::sync::remote_channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            tx.send(7).unwrap();
        });
        rx.recv().await
    });
    assert_eq!(v, Some(7));
    assert_eq!(n.get(), 0, "Stalled was reported, yet the future completed");
}

/// Stalled false positive 2: the main future waits on a Notify; the notifier is a task whose
/// (non-main) waker escaped to a thread. Non-main clones are never counted.
#[test]
fn stalled_false_positive_task_waker_on_thread() {
    let lp = EventLoop::new().unwrap();
    let n = stalled_counter(&lp);
    lp.block_on(async {
        let notify = Rc::new(evloop::sync::Notify::new());
        let n2 = notify.clone();
        evloop::spawn(async move {
            let mut sent = false;
            poll_fn(|cx| {
                if sent {
                    return Poll::Ready(());
                }
                sent = true;
                let w = cx.waker().clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    w.wake();
                });
                Poll::Pending
            })
            .await;
            n2.notify_one();
        });
        notify.notified().await;
    });
    assert_eq!(n.get(), 0, "Stalled was reported, yet the future completed");
}

/// Stalled false positive 3: a waker stored by an earlier block_on is equal (will_wake) to the new
/// one, so a primitive that stores only "if !will_wake" never clones again; main_escaped was reset.
#[test]
fn stalled_false_positive_second_block_on_same_waker() {
    use std::sync::{Arc, Mutex};
    let lp = EventLoop::new().unwrap();
    let n = stalled_counter(&lp);
    let slot: Arc<Mutex<(Option<Waker>, bool)>> = Arc::new(Mutex::new((None, false)));
    let poll_once = |slot: Arc<Mutex<(Option<Waker>, bool)>>| {
        poll_fn(move |cx| {
            let mut s = slot.lock().unwrap();
            if s.1 {
                s.1 = false;
                return Poll::Ready(());
            }
            if !s.0.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                s.0 = Some(cx.waker().clone());
            }
            Poll::Pending
        })
    };
    for _ in 0..2 {
        let s2 = slot.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let w = {
                let mut s = s2.lock().unwrap();
                s.1 = true;
                s.0.clone()
            };
            w.unwrap().wake();
        });
        lp.block_on(poll_once(slot.clone()));
        t.join().unwrap();
    }
    assert_eq!(
        n.get(),
        0,
        "Stalled was reported on the second block_on, yet it completed"
    );
}

/// A Source whose register panics leaks its reserved slot: keep_alive stays counted.
#[test]
fn panicking_register_leaks_a_slot() {
    struct Bad;
    impl mio::event::Source for Bad {
        fn register(
            &mut self,
            _: &mio::Registry,
            _: mio::Token,
            _: mio::Interest,
        ) -> std::io::Result<()> {
            panic!("register")
        }
        fn reregister(
            &mut self,
            _: &mio::Registry,
            _: mio::Token,
            _: mio::Interest,
        ) -> std::io::Result<()> {
            Ok(())
        }
        fn deregister(&mut self, _: &mio::Registry) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lp = EventLoop::new().unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        lp.watch(Bad, mio::Interest::READABLE, |_, _, _| {})
    }));
    assert!(r.is_err());
    assert_eq!(lp.pending_counts().1, 0, "slot leaked");
    assert!(!lp.is_alive(), "the leaked slot keeps run() alive for ever");
}

/// A Source whose reregister panics (set_interest from outside its callback) leaves the slot
/// lent for ever; the panic also skips putting the watch back.
#[test]
fn panicking_reregister_leaves_slot_lent() {
    struct R(mio::net::UdpSocket, Rc<Cell<bool>>);
    impl mio::event::Source for R {
        fn register(
            &mut self,
            r: &mio::Registry,
            t: mio::Token,
            i: mio::Interest,
        ) -> std::io::Result<()> {
            self.0.register(r, t, i)
        }
        fn reregister(
            &mut self,
            r: &mio::Registry,
            t: mio::Token,
            i: mio::Interest,
        ) -> std::io::Result<()> {
            if self.1.get() {
                panic!("reregister")
            }
            self.0.reregister(r, t, i)
        }
        fn deregister(&mut self, r: &mio::Registry) -> std::io::Result<()> {
            self.0.deregister(r)
        }
    }
    let lp = EventLoop::new().unwrap();
    let flag = Rc::new(Cell::new(false));
    let sock = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let id = lp
        .watch(R(sock, flag.clone()), mio::Interest::READABLE, |_, _, _| {})
        .unwrap();
    flag.set(true);
    let r = catch_unwind(AssertUnwindSafe(|| {
        lp.set_interest(id, mio::Interest::WRITABLE)
    }));
    assert!(r.is_err());
    flag.set(false);
    // The watcher can no longer be removed: unwatch says "deferred", nothing ever finishes it.
    assert!(lp.unwatch(id));
    assert_eq!(
        lp.pending_counts().1,
        0,
        "slot stays lent for ever after unwatch"
    );
}

/// Foreign waker clone under Promise's State borrow (poll_take): a waker whose clone settles the
/// promise panics with BorrowMutError.
#[test]
fn promise_poll_take_clones_foreign_waker_under_borrow() {
    use evloop::promise::{Promise, Resolver};
    thread_local! {
        static RES: RefCell<Option<Resolver<u32, ()>>> = const { RefCell::new(None) };
    }
    fn clone(_: *const ()) -> RawWaker {
        RES.with(|r| {
            if let Some(r) = r.borrow_mut().take() {
                let _ = r.resolve(1);
            }
        });
        RawWaker::new(std::ptr::null(), &VT)
    }
    fn noop(_: *const ()) {}
    static VT: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    let lp = EventLoop::new().unwrap();
    let (mut p, r) = Promise::<u32, ()>::new();
    RES.with(|s| *s.borrow_mut() = Some(r));
    // SAFETY: the vtable's functions ignore the data pointer and do nothing unsafe.
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VT)) };
    let mut cx = std::task::Context::from_waker(&waker);
    let out = catch_unwind(AssertUnwindSafe(|| {
        let _ = std::pin::Pin::new(&mut p).poll(&mut cx);
    }));
    assert!(
        out.is_ok(),
        "foreign waker clone ran under the promise's borrow: {:?}",
        out.err().map(|e| e
            .downcast_ref::<String>()
            .cloned()
            .or(e.downcast_ref::<&str>().map(|s| s.to_string())))
    );
    drop(lp);
}

/// Dropping the thread's default loop while another loop runs leaves the dropped loop current:
/// Enter's drop restores it.
#[test]
fn dropped_default_loop_is_restored_as_current() {
    let a = EventLoop::new().unwrap(); // default current
    let b = EventLoop::new().unwrap();
    let cell = Rc::new(RefCell::new(Some(a)));
    let c2 = cell.clone();
    b.call_soon(move |_| drop(c2.borrow_mut().take()));
    b.run().unwrap();
    assert!(cell.borrow().is_none());
    let current = evloop::Handle::try_current();
    assert!(
        current.as_ref().is_none_or(|h| !h.is_closed()),
        "the current loop is one that was dropped"
    );
}

/// A loop dropped inside another loop's trash (nested dispose) drops its work after it is Closed:
/// a destructor that gives it work then panics instead of being refused quietly, and the panic
/// goes to the other loop's hook.
#[test]
fn nested_teardown_drops_work_after_closed() {
    struct Requeue(evloop::Handle, Rc<Cell<Option<bool>>>);
    impl Drop for Requeue {
        fn drop(&mut self) {
            // What the destructor sees: Closing (quiet) or Closed (panic).
            let closed_for_good = catch_unwind(AssertUnwindSafe(|| {
                self.0.call_soon(|_| {});
            }))
            .is_err();
            self.1.set(Some(closed_for_good));
        }
    }
    let a = EventLoop::new().unwrap();
    let b = EventLoop::new().unwrap();
    let seen = Rc::new(Cell::new(None));
    let guard = Requeue(b.handle().clone(), seen.clone());
    b.call_soon(move |_| drop(guard));
    let id = a.call_soon(move |_| drop(b));
    assert!(a.cancel_callback(id)); // drops b inside a's trash
    assert_eq!(
        seen.get(),
        Some(false),
        "the destructor ran after b was Closed: call_soon panicked"
    );
}

/// A panicking Source::deregister during teardown skips the rest of the teardown.
#[test]
fn panicking_deregister_in_teardown_skips_the_rest() {
    struct D(mio::net::UdpSocket, bool, Rc<Cell<u32>>);
    impl mio::event::Source for D {
        fn register(
            &mut self,
            r: &mio::Registry,
            t: mio::Token,
            i: mio::Interest,
        ) -> std::io::Result<()> {
            self.0.register(r, t, i)
        }
        fn reregister(
            &mut self,
            r: &mio::Registry,
            t: mio::Token,
            i: mio::Interest,
        ) -> std::io::Result<()> {
            self.0.reregister(r, t, i)
        }
        fn deregister(&mut self, r: &mio::Registry) -> std::io::Result<()> {
            self.2.set(self.2.get() + 1);
            if self.1 {
                panic!("deregister")
            }
            self.0.deregister(r)
        }
    }
    let calls = Rc::new(Cell::new(0));
    let lp = EventLoop::new().unwrap();
    for bad in [true, false] {
        let s = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        lp.watch(
            D(s, bad, calls.clone()),
            mio::Interest::READABLE,
            |_, _, _| {},
        )
        .unwrap();
    }
    let _ = catch_unwind(AssertUnwindSafe(|| drop(lp)));
    assert_eq!(calls.get(), 2, "the second watcher was never deregistered");
}

/// A fired Sleep that its task no longer polls keeps `run` alive for ever (the slot stays
/// referenced with no heap entry: poll_io waits with no timeout).
#[test]
fn fired_unpolled_sleep_keeps_run_alive_forever() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        lp.spawn(async {
            let mut s = Box::pin(evloop::time::sleep(Duration::from_millis(5)));
            // Poll once to arm it, then wait on something else for ever.
            poll_fn(|cx| {
                let _ = s.as_mut().poll(cx);
                Poll::Ready(())
            })
            .await;
            let (_tx, rx) = evloop::sync::oneshot::channel::<()>();
            std::mem::forget(_tx);
            let _ = rx.await;
            drop(s);
        });
        lp.run().unwrap();
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(2)).is_ok(),
        "run() never returned: the fired Sleep keeps the loop alive"
    );
}

/// The wrong-loop check is skipped when the waker is wrapped (any combinator with its own waker).
#[test]
fn wrong_loop_check_bypassed_by_wrapped_waker() {
    use std::sync::Arc;
    use std::task::Wake;
    struct Fwd(Waker);
    impl Wake for Fwd {
        fn wake(self: Arc<Self>) {
            self.0.wake_by_ref()
        }
    }
    let first = EventLoop::new().unwrap();
    let second = EventLoop::new().unwrap();
    let listener = evloop::net::TcpListener::bind("127.0.0.1:0").unwrap(); // on `first`
    let _ = &first;
    let out = second.block_on(async {
        let mut accept = Box::pin(listener.accept());
        let wrapped = poll_fn(|cx| {
            let w = Waker::from(Arc::new(Fwd(cx.waker().clone())));
            let mut cx2 = std::task::Context::from_waker(&w);
            accept.as_mut().poll(&mut cx2).map(|r| r.map(|_| ()))
        });
        let sleep = evloop::time::sleep(Duration::from_millis(200));
        let mut wrapped = Box::pin(wrapped);
        let mut sleep = Box::pin(sleep);
        poll_fn(|cx| {
            if let Poll::Ready(r) = wrapped.as_mut().poll(cx) {
                return Poll::Ready(Some(r));
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    });
    assert!(
        out.is_some(),
        "no error: the accept would have waited for ever"
    );
}

/// `Remote::stop` sent while the loop is not running is kept, as asyncio's `stop` before
/// `run_forever`: the next run returns after its first turn (documented on `Remote::stop`).
#[test]
fn remote_stop_while_idle_ends_the_next_run_after_one_turn() {
    let lp = EventLoop::new().unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    lp.call_later(Duration::from_millis(30), move |_| f.set(true));
    lp.remote().stop(); // not running
    lp.run().unwrap();
    assert!(
        !fired.get(),
        "the run ended after one turn, before its timer"
    );
    lp.run().unwrap();
    assert!(
        fired.get(),
        "the stop was used up: the next run runs to the end"
    );
}

/// wake_foreign_now reports a panicking foreign wake before waking the rest: a hook that resumes
/// the panic drops the remaining foreign wakers unwoken (lost wake-ups).
#[test]
fn resumed_foreign_wake_panic_loses_other_wakes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;
    struct W(bool, Arc<AtomicUsize>);
    impl Wake for W {
        fn wake(self: Arc<Self>) {
            self.1.fetch_add(1, Ordering::SeqCst);
            if self.0 {
                panic!("foreign wake");
            }
        }
    }
    let lp = EventLoop::new().unwrap();
    lp.set_error_hook(|_, e| e.resume_unwind());
    let woken = Arc::new(AtomicUsize::new(0));
    let mut sleeps = Vec::new();
    for bad in [true, false] {
        let w = Waker::from(Arc::new(W(bad, woken.clone())));
        let mut s = Box::pin(evloop::time::sleep(Duration::from_millis(5)));
        let _ = s.as_mut().poll(&mut std::task::Context::from_waker(&w));
        sleeps.push(s);
    }
    std::thread::sleep(Duration::from_millis(10));
    let r = catch_unwind(AssertUnwindSafe(|| lp.run_once()));
    assert!(r.is_err(), "the hook resumed the panic");
    let _ = lp.run_nowait();
    assert_eq!(
        woken.load(Ordering::SeqCst),
        2,
        "the second foreign waker was never woken"
    );
}

/// A loop kept in a thread-local is dropped at thread exit, possibly after the trash's own
/// thread-local: its teardown drops in place then, instead of aborting the process.
#[test]
fn a_thread_local_loop_is_dropped_at_thread_exit() {
    thread_local! {
        static LP: EventLoop = EventLoop::new().unwrap();
    }
    std::thread::spawn(|| {
        LP.with(|lp| {
            let id = lp.call_soon(|_| {});
            assert!(lp.cancel_callback(id)); // through the trash: its thread-local exists now
            lp.call_soon(|_| {}); // left for the teardown
            lp.call_later(Duration::from_secs(60), |_| {});
        });
    })
    .join()
    .expect("the thread ended without a panic or an abort");
}
