//! Spawning and joining tasks: from `block_on`, from a task, from a callback, through the thread's
//! current loop; `JoinHandle` (detach, `is_finished`, `abort`), panics (through the handle and through
//! the loop's error hook), what dropping the loop does to pending tasks, and re-entrancy.

mod util;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::{pending, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use evloop::io::AsyncRead;
use evloop::net::UnixStream;
use evloop::time::sleep;
use evloop::{yield_now, EventLoop, Handle, JoinError, JoinHandle, LoopError};
use util::{bump, counter, noop_waker, watchdog, yield_until, Counter, DropGuard};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn panic_text(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Polls a future once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    Pin::new(f).poll(&mut cx)
}

// ---------------------------------------------------------------------------------------------
// Spawning and joining
// ---------------------------------------------------------------------------------------------

#[test]
fn spawn_and_join_from_block_on() {
    let _wd = watchdog("spawn_and_join_from_block_on", 60);
    let lp = EventLoop::new().unwrap();
    let a = lp.spawn(async { 6 * 7 });
    let b = lp.spawn(async {
        yield_now().await;
        String::from("text")
    });
    assert_eq!(lp.task_count(), 2);
    assert_eq!(lp.block_on(a).unwrap(), 42);
    assert_eq!(lp.block_on(b).unwrap(), "text");
    assert_eq!(lp.task_count(), 0);

    // Joining in the opposite order of completion, inside one block_on.
    let handles: Vec<JoinHandle<u64>> = (0..50u64)
        .map(|i| {
            lp.spawn(async move {
                for _ in 0..(i % 7) {
                    yield_now().await;
                }
                i * 3
            })
        })
        .collect();
    let out = lp.block_on(async {
        let mut v = Vec::new();
        for h in handles.into_iter().rev() {
            v.push(h.await.unwrap());
        }
        v
    });
    assert_eq!(out, (0..50u64).rev().map(|i| i * 3).collect::<Vec<_>>());
    assert_eq!(lp.task_count(), 0);
}

#[test]
fn spawn_and_join_from_inside_a_task() {
    let _wd = watchdog("spawn_and_join_from_inside_a_task", 60);
    let lp = EventLoop::new().unwrap();
    let h = lp.handle().clone();
    let outer = lp.spawn(async move {
        let h2 = h.clone();
        let child = h.spawn(async move {
            let grandchild = h2.spawn(async {
                yield_now().await;
                1u32
            });
            grandchild.await.unwrap() + 10
        });
        child.await.unwrap() + 100
    });
    assert_eq!(lp.block_on(outer).unwrap(), 111);

    // A task that spawns many children and joins them all.
    let h = lp.handle().clone();
    let parent = lp.spawn(async move {
        let kids: Vec<_> = (0..100u64)
            .map(|i| {
                h.spawn(async move {
                    for _ in 0..(i % 5) {
                        yield_now().await;
                    }
                    i * i
                })
            })
            .collect();
        let mut sum = 0;
        for k in kids {
            sum += k.await.unwrap();
        }
        sum
    });
    assert_eq!(
        lp.block_on(parent).unwrap(),
        (0..100u64).map(|i| i * i).sum()
    );
    assert_eq!(lp.task_count(), 0);
}

#[test]
fn spawn_from_a_call_soon_callback_through_the_handle() {
    let _wd = watchdog("spawn_from_a_call_soon_callback_through_the_handle", 60);
    let lp = EventLoop::new().unwrap();
    let slot: Rc<RefCell<Option<JoinHandle<u32>>>> = Rc::new(RefCell::new(None));
    let s = slot.clone();
    lp.call_soon(move |h: &Handle| {
        *s.borrow_mut() = Some(h.spawn(async {
            yield_now().await;
            5
        }));
    });
    assert!(
        slot.borrow().is_none(),
        "call_soon must not run synchronously"
    );
    // `run` returns once the queue is empty: the callback, then the task (two polls).
    lp.run().unwrap();
    let j = slot.borrow_mut().take().expect("the callback ran");
    assert!(j.is_finished(), "the task ran to completion inside run()");
    assert_eq!(lp.block_on(j).unwrap(), 5);

    // The same from a callback queued while block_on runs, joined from the block_on future.
    let slot: Rc<RefCell<Option<JoinHandle<&'static str>>>> = Rc::new(RefCell::new(None));
    let out = lp.block_on(async {
        let s = slot.clone();
        lp.call_soon(move |h| *s.borrow_mut() = Some(h.spawn(async { "from callback" })));
        yield_until(1000, || slot.borrow().is_some()).await;
        let j = slot.borrow_mut().take().unwrap();
        j.await
    });
    assert_eq!(out.unwrap(), "from callback");
    assert_eq!(lp.task_count(), 0);
}

#[test]
fn spawn_on_the_threads_current_loop() {
    let _wd = watchdog("spawn_on_the_threads_current_loop", 60);
    let lp = EventLoop::new().unwrap();
    // Not running: the first loop created on this thread is current.
    let j = evloop::spawn(async { 1 });
    assert_eq!(lp.task_count(), 1);
    let out = lp.block_on(async {
        // Running: the running loop is current.
        let inner = evloop::spawn(async {
            let innermost = evloop::spawn(async { 2 });
            innermost.await.unwrap() * 10
        });
        inner.await.unwrap() + j.await.unwrap()
    });
    assert_eq!(out, 21);
    assert_eq!(lp.task_count(), 0);

    // A second loop on the thread is current only while it runs.
    let lp2 = EventLoop::new().unwrap();
    let on_first = evloop::spawn(async { "first" });
    assert_eq!((lp.task_count(), lp2.task_count()), (1, 0));
    let (on_second, count_inside) = lp2.block_on(async {
        let t = evloop::spawn(async { "second" });
        let n = lp2.task_count();
        (t.await.unwrap(), n)
    });
    assert_eq!((on_second, count_inside), ("second", 1));
    assert_eq!(lp.block_on(on_first).unwrap(), "first");
    drop(lp2);
    drop(lp);

    // No loop at all on a thread: a clear panic.
    let msg = std::thread::spawn(|| {
        let r = catch_unwind(|| drop(evloop::spawn(async {})));
        panic_text(&*r.expect_err("spawn without a loop must panic"))
    })
    .join()
    .unwrap();
    assert!(msg.contains("no event loop"), "unexpected message: {msg}");
}

#[test]
fn is_finished_tracks_the_task() {
    let _wd = watchdog("is_finished_tracks_the_task", 60);
    let lp = EventLoop::new().unwrap();
    let j = lp.spawn(async {
        yield_now().await;
        yield_now().await;
        3
    });
    assert!(!j.is_finished());
    assert!(format!("{j:?}").contains("false"));
    // Each turn polls the task once: it yields twice, then completes in the third turn.
    lp.run_nowait().unwrap();
    assert!(!j.is_finished());
    lp.run_nowait().unwrap();
    assert!(!j.is_finished());
    lp.run_nowait().unwrap();
    assert!(j.is_finished());
    assert!(format!("{j:?}").contains("true"));
    assert_eq!(lp.task_count(), 0);
    let mut j = j;
    match poll_once(&mut j) {
        Poll::Ready(Ok(3)) => {}
        other => panic!("expected Ready(Ok(3)), got {:?}", other.map(|r| r.is_ok())),
    }

    // Cancelled and panicked tasks are finished too.
    let a = lp.spawn(pending::<()>());
    a.abort();
    let p = lp.spawn(async { panic!("finish by panic") });
    lp.block_on(async { yield_until(1000, || a.is_finished() && p.is_finished()).await });
    assert!(lp.block_on(a).unwrap_err().is_cancelled());
    assert!(lp.block_on(p).unwrap_err().is_panic());
}

#[test]
fn dropping_the_join_handle_detaches_the_task() {
    let _wd = watchdog("dropping_the_join_handle_detaches_the_task", 60);
    let lp = EventLoop::new().unwrap();
    let done = Rc::new(Cell::new(false));
    let future_drops = counter();
    let output_drops = counter();
    let (d, g, o) = (
        done.clone(),
        DropGuard(future_drops.clone()),
        output_drops.clone(),
    );
    let j = lp.spawn(async move {
        let _g = g;
        sleep(Duration::from_millis(1)).await;
        yield_now().await;
        d.set(true);
        DropGuard(o)
    });
    drop(j);
    assert_eq!(future_drops.get(), 0);
    // The sleep keeps `run` going until the task is done.
    lp.run().unwrap();
    assert!(done.get(), "a detached task still runs to completion");
    assert_eq!(future_drops.get(), 1, "the future is dropped once");
    assert_eq!(
        output_drops.get(),
        1,
        "the output nobody reads is dropped once"
    );
    assert_eq!(lp.task_count(), 0);

    // Detaching after the task finished frees the output at once.
    let output_drops = counter();
    let o = output_drops.clone();
    let j = lp.spawn(async move { DropGuard(o) });
    lp.block_on(async { yield_until(1000, || j.is_finished()).await });
    assert_eq!(output_drops.get(), 0, "the output waits for its reader");
    drop(j);
    assert_eq!(output_drops.get(), 1);
    drop(lp);
    assert_eq!(output_drops.get(), 1);
}

// ---------------------------------------------------------------------------------------------
// abort
// ---------------------------------------------------------------------------------------------

#[test]
fn abort_before_the_first_poll() {
    let _wd = watchdog("abort_before_the_first_poll", 60);
    let lp = EventLoop::new().unwrap();
    let polled = counter();
    let drops = counter();
    let (p, g) = (polled.clone(), DropGuard(drops.clone()));
    let j = lp.spawn(async move {
        let _g = g;
        bump(&p);
    });
    j.abort();
    j.abort(); // twice is harmless
    let r = lp.block_on(j);
    assert!(matches!(r, Err(JoinError::Cancelled)), "got {r:?}");
    assert_eq!(polled.get(), 0, "an aborted task is never polled");
    assert_eq!(drops.get(), 1, "its future is dropped exactly once");
    assert_eq!(lp.task_count(), 0);
    drop(lp);
    assert_eq!(drops.get(), 1);
}

#[test]
fn abort_while_pending() {
    let _wd = watchdog("abort_while_pending", 60);
    let lp = EventLoop::new().unwrap();

    // Parked on a future that never completes.
    let polled = counter();
    let drops = counter();
    let (p, g) = (polled.clone(), DropGuard(drops.clone()));
    let j = lp.spawn(async move {
        let _g = g;
        bump(&p);
        pending::<()>().await;
        bump(&p);
    });
    lp.block_on(async { yield_until(1000, || polled.get() == 1).await });
    assert!(!j.is_finished());
    assert_eq!(drops.get(), 0);
    j.abort();
    let err = lp.block_on(j).unwrap_err();
    assert!(err.is_cancelled() && !err.is_panic());
    assert_eq!(err.to_string(), "task was cancelled");
    assert_eq!(polled.get(), 1, "the future is not resumed after abort");
    assert_eq!(drops.get(), 1);

    // Parked on a sleep, aborted from another task: the sleep's timer goes away with it.
    let drops = counter();
    let g = DropGuard(drops.clone());
    let sleeper = lp.spawn(async move {
        let _g = g;
        sleep(Duration::from_secs(3600)).await;
        "woke up"
    });
    lp.block_on(async { yield_until(1000, || lp.pending_counts().0 == 1).await });
    let sleeper = Rc::new(RefCell::new(Some(sleeper)));
    let s = sleeper.clone();
    let killer = lp.spawn(async move {
        let j = s.borrow_mut().take().unwrap();
        j.abort();
        j.await
    });
    let r = lp.block_on(killer).unwrap();
    assert!(matches!(r, Err(JoinError::Cancelled)));
    assert_eq!(drops.get(), 1);
    assert_eq!(lp.pending_counts().0, 0, "the sleep's timer was cancelled");

    // Aborting a finished task changes nothing.
    let j = lp.spawn(async { 9 });
    lp.block_on(async { yield_until(1000, || j.is_finished()).await });
    j.abort();
    assert_eq!(lp.block_on(j).unwrap(), 9);
    assert_eq!(lp.task_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Panics
// ---------------------------------------------------------------------------------------------

#[test]
fn a_panicking_task_gives_join_error_panic_with_its_message() {
    let _wd = watchdog(
        "a_panicking_task_gives_join_error_panic_with_its_message",
        60,
    );
    let lp = EventLoop::new().unwrap();
    let drops = counter();
    let g = DropGuard(drops.clone());
    let j = lp.spawn(async move {
        let _g = g;
        yield_now().await;
        if always() {
            panic!("task exploded: {}", 42);
        }
        0u8
    });
    let err = lp.block_on(j).unwrap_err();
    assert!(err.is_panic() && !err.is_cancelled());
    assert!(err.to_string().contains("task exploded: 42"), "{err}");
    assert!(format!("{err:?}").contains("task exploded: 42"));
    assert_eq!(drops.get(), 1, "the panicked future is dropped once");
    let payload = err.try_into_panic().expect("a panic payload");
    assert_eq!(panic_text(&*payload), "task exploded: 42");

    // A static-string payload, and the loop still works afterwards.
    let j = lp.spawn(async { panic!("static message") });
    let payload = lp.block_on(j).unwrap_err().try_into_panic().unwrap();
    assert_eq!(panic_text(&*payload), "static message");
    assert_eq!(lp.block_on(lp.spawn(async { 1 })).unwrap(), 1);

    // try_into_panic gives a cancellation back.
    let j = lp.spawn(async {});
    j.abort();
    let e = lp.block_on(j).unwrap_err();
    assert!(e.try_into_panic().unwrap_err().is_cancelled());
    assert_eq!(lp.task_count(), 0);
}

/// Keeps the compiler from seeing that the panic above is unconditional.
fn always() -> bool {
    std::hint::black_box(true)
}

#[test]
fn a_detached_panicking_task_is_reported_to_the_error_hook_and_the_loop_keeps_running() {
    let _wd = watchdog("a_detached_panicking_task_is_reported", 60);
    let lp = EventLoop::new().unwrap();
    let reports: Rc<RefCell<Vec<String>>> = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    lp.set_error_hook(move |_h, e| {
        let line = match &e {
            LoopError::TaskPanic(p) => format!("task: {}", panic_text(&**p)),
            other => format!("other: {other}"),
        };
        assert_eq!(
            e.panic_message().map(str::to_string),
            line.strip_prefix("task: ").map(str::to_string)
        );
        r.borrow_mut().push(line);
    });

    let drops = counter();
    let g = DropGuard(drops.clone());
    drop(lp.spawn(async move {
        let _g = g;
        yield_now().await;
        panic!("detached boom {}", 1);
    }));
    let after = lp.block_on(async {
        yield_until(1000, || !reports.borrow().is_empty()).await;
        lp.spawn(async { 9 }).await.unwrap()
    });
    assert_eq!(after, 9, "the loop keeps running after the panic");
    assert_eq!(*reports.borrow(), vec!["task: detached boom 1".to_string()]);
    assert_eq!(drops.get(), 1);

    // Through `run`: the panic is reported and later work still runs.
    let later = Rc::new(Cell::new(false));
    let l = later.clone();
    drop(lp.spawn(async { panic!("second") }));
    lp.call_later(Duration::from_millis(1), move |_| l.set(true));
    lp.run().unwrap();
    assert!(later.get());
    assert_eq!(
        *reports.borrow(),
        vec![
            "task: detached boom 1".to_string(),
            "task: second".to_string()
        ]
    );

    // A panic observed through its JoinHandle is not reported.
    let j = lp.spawn(async { panic!("observed") });
    assert!(lp.block_on(j).unwrap_err().is_panic());
    assert_eq!(reports.borrow().len(), 2);
    assert_eq!(lp.task_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Dropping the loop
// ---------------------------------------------------------------------------------------------

#[test]
fn dropping_the_loop_drops_every_pending_future_exactly_once() {
    let _wd = watchdog(
        "dropping_the_loop_drops_every_pending_future_exactly_once",
        60,
    );
    let lp = EventLoop::new().unwrap();
    let drops = counter();
    let polls = counter();
    let mut kept: Vec<JoinHandle<()>> = Vec::new();
    let mut expected_drops = 0;

    // Parked on sleeps.
    for i in 0..10 {
        let (g, p) = (DropGuard(drops.clone()), polls.clone());
        let j = lp.spawn(async move {
            let _g = g;
            bump(&p);
            sleep(Duration::from_secs(3600 + i)).await;
            unreachable!("the sleep never ends");
        });
        if i % 2 == 0 {
            kept.push(j);
        }
        expected_drops += 1;
    }
    // Parked on a future that never completes.
    for i in 0..10 {
        let (g, p) = (DropGuard(drops.clone()), polls.clone());
        let j = lp.spawn(async move {
            let _g = g;
            bump(&p);
            pending::<()>().await;
        });
        if i % 2 == 1 {
            kept.push(j);
        }
        expected_drops += 1;
    }
    // Parked on a socket read (the peer stays open and silent).
    let mut peers = Vec::new();
    for _ in 0..5 {
        let (mut a, b) = UnixStream::pair().unwrap();
        peers.push(b);
        let (g, p) = (DropGuard(drops.clone()), polls.clone());
        kept.push(lp.spawn(async move {
            let _g = g;
            bump(&p);
            let mut buf = [0u8; 8];
            let _ = a.read(&mut buf).await;
            unreachable!("nothing is ever written");
        }));
        expected_drops += 1;
    }
    // Awaiting another pending task.
    let (g, p) = (DropGuard(drops.clone()), polls.clone());
    let inner = lp.spawn(async move {
        let _g = g;
        bump(&p);
        pending::<u8>().await
    });
    let (g, p) = (DropGuard(drops.clone()), polls.clone());
    kept.push(lp.spawn(async move {
        let _g = g;
        bump(&p);
        let _ = inner.await;
    }));
    expected_drops += 2;
    // A future whose destructor spawns another task: that one is dropped too.
    struct SpawnOnDrop(Handle, Counter);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let g = DropGuard(self.1.clone());
            drop(self.0.spawn(async move {
                let _g = g;
                unreachable!("spawned while the loop is being dropped");
            }));
        }
    }
    let (s, p) = (
        SpawnOnDrop(lp.handle().clone(), drops.clone()),
        polls.clone(),
    );
    let gs = DropGuard(drops.clone());
    drop(lp.spawn(async move {
        let _s = s;
        let _gs = gs;
        bump(&p);
        pending::<()>().await;
    }));
    expected_drops += 2;

    let parked = 10 + 10 + 5 + 2 + 1;
    lp.block_on(async { yield_until(1000, || polls.get() == parked).await });
    assert_eq!(drops.get(), 0);

    // Queued and never polled.
    for i in 0..10 {
        let (g, p) = (DropGuard(drops.clone()), polls.clone());
        let j = lp.spawn(async move {
            let _g = g;
            bump(&p);
        });
        if i % 3 == 0 {
            kept.push(j);
        }
        expected_drops += 1;
    }
    assert_eq!(lp.task_count(), parked + 10);
    assert!(lp.pending_counts().0 >= 10);

    drop(lp);
    assert_eq!(
        drops.get(),
        expected_drops,
        "every future dropped exactly once"
    );
    assert_eq!(polls.get(), parked, "nothing was polled during the drop");
    // The handles that outlive the loop report cancellation.
    for mut j in kept {
        assert!(j.is_finished());
        match poll_once(&mut j) {
            Poll::Ready(Err(JoinError::Cancelled)) => {}
            other => panic!("expected Ready(Err(Cancelled)), got {:?}", other.is_ready()),
        }
    }
    // The sockets left over are closed without trouble after their loop is gone.
    drop(peers);
    assert_eq!(drops.get(), expected_drops);
}

// ---------------------------------------------------------------------------------------------
// Re-entrancy
// ---------------------------------------------------------------------------------------------

#[test]
fn nested_block_on_panics_with_a_clear_message() {
    let _wd = watchdog("nested_block_on_panics_with_a_clear_message", 60);
    let lp = Rc::new(EventLoop::new().unwrap());

    // From the block_on future itself.
    let msg = lp.block_on(async {
        let r = catch_unwind(AssertUnwindSafe(|| lp.block_on(async { 1 })));
        panic_text(&*r.expect_err("nested block_on must panic"))
    });
    assert!(msg.contains("already running"), "unexpected message: {msg}");
    assert!(msg.contains("block_on"), "unexpected message: {msg}");

    // From a task.
    let lp2 = lp.clone();
    let j = lp.spawn(async move {
        let r = catch_unwind(AssertUnwindSafe(|| lp2.block_on(async { 2 })));
        let run = lp2.run();
        let once = lp2.run_once();
        let nowait = lp2.run_nowait();
        (
            panic_text(&*r.expect_err("nested block_on must panic")),
            run.unwrap_err().to_string(),
            once.unwrap_err().to_string(),
            nowait.unwrap_err().to_string(),
        )
    });
    let (from_task, run, once, nowait) = lp.block_on(j).unwrap();
    for m in [&from_task, &run, &once, &nowait] {
        assert!(m.contains("already running"), "unexpected message: {m}");
    }

    // From a callback while `run` runs.
    let seen: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
    let (lp3, s) = (lp.clone(), seen.clone());
    lp.call_soon(move |_| {
        let r = catch_unwind(AssertUnwindSafe(|| lp3.block_on(async {})));
        *s.borrow_mut() = Some(panic_text(&*r.expect_err("nested block_on must panic")));
    });
    lp.run().unwrap();
    let m = seen.borrow_mut().take().expect("the callback ran");
    assert!(m.contains("already running"), "unexpected message: {m}");

    // The loop is still usable.
    assert_eq!(
        lp.block_on(async { lp.spawn(async { 3 }).await.unwrap() }),
        3
    );
    assert_eq!(lp.task_count(), 0);
}
