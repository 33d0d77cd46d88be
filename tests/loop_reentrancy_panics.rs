//! Panics from user code at every point where the loop runs it: the loop stays runnable.
//!
//! The error hook's contract ([`Handle::set_error_hook`], [`LoopError`]): the default hook prints
//! the error and the loop keeps running; a hook that re-raises with [`LoopError::resume_unwind`]
//! makes `run` (or `block_on`) unwind, "the loop stays consistent and can be run again".
//!
//! For each point where user code runs, a panic is injected, once, and the test checks:
//!
//! - `reported_to_the_hook`: with a hook that records, the hook hears the panic exactly once and
//!   `run` returns normally;
//! - `reraised_from_run` and `reraised_from_block_on`: with a hook that records and re-raises,
//!   `run` (or `block_on`) unwinds with the injected panic;
//!
//! and then, on the SAME loop: whatever the point itself promises afterwards (a periodic timer keeps
//! firing, a watcher that panicked gets its next event), and [`assert_recovers`]: a new `call_soon`
//! callback runs, a timer fires, new tasks run to completion, and `task_count()` and
//! `pending_counts()` are back to zero (no task stuck in the slab, no timer or watcher left over).
//!
//! `tests/loop_panic.rs` covers the basic policy (callbacks, timers, watchers, tasks and posts
//! reported; a re-raise ends `run`); this file extends it to every point, with the full recovery
//! check, plus the loop's own drop.

mod util;

use std::cell::Cell;
use std::future::{pending, poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use evloop::promise::{Promise, PromiseError};
use evloop::{CallbackId, EventLoop, Interest, LoopError, TimerId};
use mio::event::Source;
use util::{bump, counter, drain_udp, log, udp_bound, udp_sender, watchdog, DropGuard, Log};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Silences the default panic hook's output for the injected panics (they all start with "boom"),
/// keeping it for anything else.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = message(info.payload());
            if !msg.starts_with("boom") {
                default(info);
            }
        }));
    });
}

fn message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string payload>".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A hook that records: the panic is reported and `run` returns normally.
    Record,
    /// A hook that records and re-raises; the loop is driven by `run`.
    ReraiseRun,
    /// A hook that records and re-raises; the loop is driven by `block_on`.
    ReraiseBlockOn,
}

/// Installs an error hook that records the text of every error and, unless `mode` is `Record`,
/// re-raises it.
fn install_hook(lp: &EventLoop, mode: Mode) -> Log<String> {
    let heard = log();
    let h = heard.clone();
    lp.set_error_hook(move |_, err: LoopError| {
        h.borrow_mut().push(err.to_string());
        if mode != Mode::Record {
            err.resume_unwind();
        }
    });
    heard
}

/// A fail-safe that stops `run` after two seconds (without keeping the loop alive), cancelled on
/// drop, so that a broken loop fails a test instead of hanging it.
struct Failsafe<'a> {
    lp: &'a EventLoop,
    id: TimerId,
}

impl<'a> Failsafe<'a> {
    fn arm(lp: &'a EventLoop) -> Failsafe<'a> {
        let id = lp.call_later(Duration::from_secs(2), |h| h.stop());
        lp.set_timer_keep_alive(id, false);
        Failsafe { lp, id }
    }
}

impl Drop for Failsafe<'_> {
    fn drop(&mut self) {
        self.lp.cancel_timer(self.id);
    }
}

/// Runs the loop until it has nothing left to do (at most about two seconds). `Err` with the panic
/// message if `run` unwound.
fn run_bounded(lp: &EventLoop) -> Result<(), String> {
    let _failsafe = Failsafe::arm(lp);
    match catch_unwind(AssertUnwindSafe(|| lp.run())) {
        Ok(r) => {
            r.expect("run returns Ok");
            Ok(())
        }
        Err(p) => Err(message(&*p)),
    }
}

/// Drives the loop with `block_on` for at most two seconds. `Err` with the panic message if it
/// unwound.
fn block_on_bounded(lp: &EventLoop) -> Result<(), String> {
    let wait = evloop::time::timeout(Duration::from_secs(2), pending::<()>());
    match catch_unwind(AssertUnwindSafe(|| lp.block_on(wait))) {
        Ok(_) => Ok(()),
        Err(p) => Err(message(&*p)),
    }
}

/// The loop works as new: a callback, a timer and tasks (detached and joined) run; no task, timer
/// or watcher is left in it.
fn assert_recovers(lp: &EventLoop) {
    let (soon, timer, task) = (counter(), counter(), counter());
    let s = soon.clone();
    lp.call_soon(move |_| bump(&s));
    let t = timer.clone();
    lp.call_later(Duration::from_millis(1), move |_| bump(&t));
    let k = task.clone();
    drop(lp.spawn(async move {
        evloop::yield_now().await;
        bump(&k);
    }));
    if let Err(m) = run_bounded(lp) {
        panic!("the loop does not run again: a panic escaped run: {m}");
    }
    assert_eq!(
        (soon.get(), timer.get(), task.get()),
        (1, 1, 1),
        "after the panic: (a call_soon callback, a timer, a task) ran"
    );

    let joined = lp.spawn(async {
        evloop::yield_now().await;
        42
    });
    let out = catch_unwind(AssertUnwindSafe(|| {
        lp.block_on(evloop::time::timeout(Duration::from_secs(2), joined))
    }));
    match out {
        Ok(Ok(Ok(42))) => {}
        Ok(Ok(Ok(other))) => panic!("a joined task returned {other}"),
        Ok(Ok(Err(e))) => panic!("a joined task failed after the panic: {e}"),
        Ok(Err(_)) => panic!("a joined task did not complete after the panic"),
        Err(p) => panic!("block_on unwound after the panic: {}", message(&*p)),
    }
    assert_eq!(
        lp.task_count(),
        0,
        "tasks stuck in the loop after the panic"
    );
    assert_eq!(
        lp.pending_counts(),
        (0, 0),
        "timers and watchers left in the loop after the panic"
    );
}

/// What a scenario checks once the panic has been dealt with, on the same loop.
type After = Box<dyn FnOnce(&EventLoop)>;

fn nothing() -> After {
    Box::new(|_| {})
}

/// Injects one panic with `arm` (whose message contains `boom`), drives the loop as `mode` says,
/// checks how the panic came out, then that the loop recovered.
fn point(name: &'static str, mode: Mode, boom: &str, arm: fn(&EventLoop) -> After) {
    let _wd = watchdog(name, 30);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let heard = install_hook(&lp, mode);
    let after = arm(&lp);
    match mode {
        Mode::Record => {
            if let Err(m) = run_bounded(&lp) {
                panic!("the panic escaped run instead of going to the error hook: {m}");
            }
            let heard = heard.borrow().clone();
            assert_eq!(
                heard.len(),
                1,
                "the hook hears the panic exactly once: {heard:?}"
            );
            assert!(heard[0].contains(boom), "{heard:?} is not {boom:?}");
        }
        Mode::ReraiseRun | Mode::ReraiseBlockOn => {
            let ran = if mode == Mode::ReraiseRun {
                run_bounded(&lp)
            } else {
                block_on_bounded(&lp)
            };
            let m = ran.expect_err("a hook that re-raises makes the loop unwind");
            assert!(
                m.contains(boom),
                "the loop unwound with {m:?}, not the injected {boom:?}"
            );
        }
    }
    after(&lp);
    assert_recovers(&lp);
    let heard = heard.borrow();
    assert!(
        heard.iter().all(|e| e.contains(boom)),
        "the hook heard more than the injected panic: {heard:?}"
    );
}

/// One test per mode for a scenario.
macro_rules! every_mode {
    ($name:ident, $boom:expr, $arm:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn reported_to_the_hook() {
                point(
                    concat!(stringify!($name), "::reported_to_the_hook"),
                    Mode::Record,
                    $boom,
                    $arm,
                );
            }

            #[test]
            fn reraised_from_run() {
                point(
                    concat!(stringify!($name), "::reraised_from_run"),
                    Mode::ReraiseRun,
                    $boom,
                    $arm,
                );
            }

            #[test]
            fn reraised_from_block_on() {
                point(
                    concat!(stringify!($name), "::reraised_from_block_on"),
                    Mode::ReraiseBlockOn,
                    $boom,
                    $arm,
                );
            }
        }
    };
}

/// Panics when dropped (unless the thread is already unwinding, which would abort the tests).
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

/// A future that is ready at once and owns a value, which is dropped with the future (by the loop,
/// after `Ready`), not during `poll`.
struct ReadyOwning<T>(T);

impl<T> Future for ReadyOwning<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

/// A watched socket that panics when dropped.
struct PanicSource {
    sock: mio::net::UdpSocket,
    _panic: PanicOnDrop,
}

impl Source for PanicSource {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: Interest,
    ) -> std::io::Result<()> {
        self.sock.register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: Interest,
    ) -> std::io::Result<()> {
        self.sock.reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> std::io::Result<()> {
        self.sock.deregister(registry)
    }
}

// ---------------------------------------------------------------------------------------------
// Callbacks, timers, watchers, posts
// ---------------------------------------------------------------------------------------------

fn call_soon_callback(lp: &EventLoop) -> After {
    lp.call_soon(|_| panic!("boom call_soon"));
    nothing()
}
every_mode!(a_call_soon_callback, "boom call_soon", call_soon_callback);

fn timer_callback(lp: &EventLoop) -> After {
    lp.call_later(Duration::from_millis(1), |_| panic!("boom timer"));
    nothing()
}
every_mode!(a_timer_callback, "boom timer", timer_callback);

/// Panics the first time; the second time, cancels itself.
fn periodic_callback(lp: &EventLoop) -> After {
    let own: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let (o, calls) = (own.clone(), counter());
    let c = calls.clone();
    own.set(Some(lp.call_every(Duration::from_millis(1), move |h| {
        bump(&c);
        if c.get() == 1 {
            panic!("boom periodic");
        }
        h.cancel_timer(o.get().unwrap());
    })));
    Box::new(move |lp| {
        if let Err(m) = run_bounded(lp) {
            panic!("run unwound again: {m}");
        }
        assert_eq!(
            calls.get(),
            2,
            "the periodic timer fires again after its panic"
        );
        assert!(!lp.timer_is_live(own.get().unwrap()));
    })
}
every_mode!(a_periodic_callback, "boom periodic", periodic_callback);

/// Panics on its first event (after it stopped keeping the loop alive); on its second, removes
/// itself and stops the loop.
fn watcher_callback(lp: &EventLoop) -> After {
    let (sock, addr) = udp_bound();
    let sender = udp_sender();
    let calls = counter();
    let c = calls.clone();
    lp.watch(sock, Interest::READABLE, move |h, sock, ev| {
        drain_udp(sock);
        bump(&c);
        if c.get() == 1 {
            h.set_watcher_keep_alive(ev.watcher(), false);
            panic!("boom watcher");
        }
        h.unwatch(ev.watcher());
        h.stop();
    })
    .unwrap();
    sender.send_to(b"1", addr).unwrap();
    Box::new(move |lp| {
        assert_eq!(calls.get(), 1);
        let alive = lp.keep_alive();
        sender.send_to(b"2", addr).unwrap();
        if let Err(m) = run_bounded(lp) {
            panic!("run unwound again: {m}");
        }
        drop(alive);
        assert_eq!(
            calls.get(),
            2,
            "the watcher that panicked is dispatched on its next event"
        );
    })
}
every_mode!(a_watcher_callback, "boom watcher", watcher_callback);

fn remote_post(lp: &EventLoop) -> After {
    let remote = lp.remote();
    std::thread::spawn(move || remote.post(|_| panic!("boom post")).unwrap())
        .join()
        .unwrap();
    nothing()
}
every_mode!(a_remote_post, "boom post", remote_post);

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

fn task_poll(lp: &EventLoop) -> After {
    drop(lp.spawn(async {
        evloop::yield_now().await;
        panic!("boom task poll");
    }));
    nothing()
}
every_mode!(a_detached_task_poll, "boom task poll", task_poll);

fn task_future_drop_after_ready(lp: &EventLoop) -> After {
    drop(lp.spawn(ReadyOwning(PanicOnDrop("boom future drop after ready"))));
    nothing()
}
every_mode!(
    a_detached_task_future_drop_after_ready,
    "boom future drop after ready",
    task_future_drop_after_ready
);

fn detached_task_output(lp: &EventLoop) -> After {
    drop(lp.spawn(async { PanicOnDrop("boom detached output") }));
    nothing()
}
every_mode!(
    a_detached_task_output_drop,
    "boom detached output",
    detached_task_output
);

/// A parked task, aborted (and detached) by a callback: its future is dropped by the loop.
fn aborted_task_future(lp: &EventLoop) -> After {
    let p = PanicOnDrop("boom aborted future drop");
    let task = lp.spawn(async move {
        let _p = p;
        pending::<()>().await
    });
    lp.call_soon(move |_| {
        task.abort();
        drop(task);
    });
    nothing()
}
every_mode!(
    an_aborted_task_future_drop,
    "boom aborted future drop",
    aborted_task_future
);

// ---------------------------------------------------------------------------------------------
// Drops of cancelled callbacks, timers and watchers
// ---------------------------------------------------------------------------------------------

/// A callback cancelled by an earlier one: its drop panics inside `cancel_callback`.
fn cancelled_callback(lp: &EventLoop) -> After {
    let victim: Rc<Cell<Option<CallbackId>>> = Rc::new(Cell::new(None));
    let v = victim.clone();
    lp.call_soon(move |h| {
        h.cancel_callback(v.get().unwrap());
    });
    let (p, ran) = (PanicOnDrop("boom cancelled callback drop"), counter());
    let r = ran.clone();
    victim.set(Some(lp.call_soon(move |_| {
        bump(&r);
        std::mem::forget(p);
    })));
    Box::new(move |_| assert_eq!(ran.get(), 0, "the cancelled callback ran"))
}
every_mode!(
    a_cancelled_callback_drop,
    "boom cancelled callback drop",
    cancelled_callback
);

/// A timer cancelled by a callback: its drop panics inside `cancel_timer`.
fn cancelled_timer(lp: &EventLoop) -> After {
    let p = PanicOnDrop("boom cancelled timer drop");
    let id = lp.call_later(Duration::from_secs(3600), move |_| std::mem::forget(p));
    lp.call_soon(move |h| {
        h.cancel_timer(id);
    });
    Box::new(move |lp| assert!(!lp.timer_is_live(id)))
}
every_mode!(
    a_cancelled_timer_drop,
    "boom cancelled timer drop",
    cancelled_timer
);

/// A periodic timer that cancels itself: the loop drops its callback once it returns.
fn periodic_cancelled_from_inside(lp: &EventLoop) -> After {
    let own: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let (o, p) = (
        own.clone(),
        PanicOnDrop("boom self-cancelled periodic drop"),
    );
    own.set(Some(lp.call_every(Duration::from_millis(1), move |h| {
        let _ = &p;
        h.cancel_timer(o.get().unwrap());
    })));
    Box::new(move |lp| assert!(!lp.timer_is_live(own.get().unwrap())))
}
every_mode!(
    a_self_cancelled_periodic_drop,
    "boom self-cancelled periodic drop",
    periodic_cancelled_from_inside
);

/// A watcher that removes itself: the loop drops its callback once it returns.
fn watcher_unwatched_from_inside(lp: &EventLoop) -> After {
    let (sock, addr) = udp_bound();
    let p = PanicOnDrop("boom self-unwatched watcher drop");
    lp.watch(sock, Interest::READABLE, move |h, sock, ev| {
        let _ = &p;
        drain_udp(sock);
        h.unwatch(ev.watcher());
    })
    .unwrap();
    udp_sender().send_to(b"1", addr).unwrap();
    nothing()
}
every_mode!(
    a_self_unwatched_watcher_drop,
    "boom self-unwatched watcher drop",
    watcher_unwatched_from_inside
);

/// A watcher removed by a callback: its source's drop panics inside `unwatch`.
fn watcher_unwatched_from_outside(lp: &EventLoop) -> After {
    let (sock, _) = udp_bound();
    let source = PanicSource {
        sock,
        _panic: PanicOnDrop("boom unwatched source drop"),
    };
    let id = lp.watch(source, Interest::READABLE, |_, _, _| {}).unwrap();
    lp.call_soon(move |h| {
        h.unwatch(id);
    });
    Box::new(move |lp| assert!(!lp.unwatch(id), "the watcher is gone"))
}
every_mode!(
    an_unwatched_watcher_source_drop,
    "boom unwatched source drop",
    watcher_unwatched_from_outside
);

// ---------------------------------------------------------------------------------------------
// Promises
// ---------------------------------------------------------------------------------------------

fn promise_then(lp: &EventLoop) -> After {
    let _ = lp;
    let (promise, resolver) = Promise::<u32, ()>::new();
    drop(promise.then(|_| -> Result<u32, PromiseError<()>> { panic!("boom then") }));
    resolver.resolve(1).unwrap();
    nothing()
}
every_mode!(a_promise_then_callback, "boom then", promise_then);

fn promise_on_settled(lp: &EventLoop) -> After {
    let _ = lp;
    let (promise, resolver) = Promise::<u32, ()>::new();
    promise.on_settled(|_| panic!("boom on_settled"));
    resolver.resolve(1).unwrap();
    drop(promise);
    nothing()
}
every_mode!(
    a_promise_on_settled_callback,
    "boom on_settled",
    promise_on_settled
);

// ---------------------------------------------------------------------------------------------
// Foreign wakers
// ---------------------------------------------------------------------------------------------

/// A waker of someone else's making (a combinator's, another runtime's) that forwards to the
/// task's own waker, and panics when woken or when its last clone is dropped.
struct ForeignWaker {
    inner: Waker,
    panic_on_wake: bool,
    panic_on_drop: bool,
}

impl Wake for ForeignWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.inner.wake_by_ref();
        if self.panic_on_wake {
            panic!("boom foreign waker wake");
        }
    }
}

impl Drop for ForeignWaker {
    fn drop(&mut self) {
        if self.panic_on_drop && !std::thread::panicking() {
            panic!("boom foreign waker drop");
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Foreign {
    /// The loop wakes it when the sleep fires, and the wake panics.
    WakePanics,
    /// The loop wakes it when the sleep fires, then drops it (the last clone), and the drop panics.
    DropPanicsAfterWake,
    /// The sleep replaces it with the task's own waker at once, dropping it, and the drop panics.
    DropPanicsWhenReplaced,
}

/// A detached task that polls a sleep once with a foreign waker (keeping no clone of it), then
/// with its own waker, either at once or once it is woken.
fn spawn_with_foreign_waker(lp: &EventLoop, mode: Foreign) {
    drop(lp.spawn(async move {
        let mut sleep = pin!(evloop::time::sleep(Duration::from_millis(1)));
        let mut first = true;
        poll_fn(|cx| {
            if first {
                first = false;
                let foreign = Waker::from(Arc::new(ForeignWaker {
                    inner: cx.waker().clone(),
                    panic_on_wake: mode == Foreign::WakePanics,
                    panic_on_drop: mode != Foreign::WakePanics,
                }));
                if sleep
                    .as_mut()
                    .poll(&mut Context::from_waker(&foreign))
                    .is_ready()
                {
                    std::mem::forget(foreign);
                    return Poll::Ready(());
                }
                drop(foreign);
                if mode != Foreign::DropPanicsWhenReplaced {
                    return Poll::Pending;
                }
            }
            sleep.as_mut().poll(cx)
        })
        .await;
    }));
}

fn foreign_waker_wake(lp: &EventLoop) -> After {
    spawn_with_foreign_waker(lp, Foreign::WakePanics);
    nothing()
}
every_mode!(
    a_foreign_waker_wake,
    "boom foreign waker wake",
    foreign_waker_wake
);

fn foreign_waker_drop_after_wake(lp: &EventLoop) -> After {
    spawn_with_foreign_waker(lp, Foreign::DropPanicsAfterWake);
    nothing()
}
every_mode!(
    a_foreign_waker_drop_after_wake,
    "boom foreign waker drop",
    foreign_waker_drop_after_wake
);

fn foreign_waker_drop_when_replaced(lp: &EventLoop) -> After {
    spawn_with_foreign_waker(lp, Foreign::DropPanicsWhenReplaced);
    nothing()
}
every_mode!(
    a_foreign_waker_drop_when_replaced,
    "boom foreign waker drop",
    foreign_waker_drop_when_replaced
);

// ---------------------------------------------------------------------------------------------
// The error hook itself
// ---------------------------------------------------------------------------------------------

/// A hook that panics on its own (not through `resume_unwind`) while reporting an error that is
/// not a panic: `run` unwinds, and the loop can run again.
#[test]
fn an_error_hook_that_panics_on_an_unobserved_rejection() {
    let _wd = watchdog("an_error_hook_that_panics_on_an_unobserved_rejection", 30);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    lp.set_error_hook(|_, err| panic!("boom hook: {err}"));
    drop(Promise::<(), &str>::rejected("nobody listens"));
    let m = run_bounded(&lp).expect_err("the hook's panic makes run unwind");
    assert!(
        m.starts_with("boom hook") && m.contains("nobody listens"),
        "{m}"
    );
    assert_recovers(&lp);
}

/// `resume_unwind` of an error that is not a panic panics with its text.
#[test]
fn a_reraised_unobserved_rejection() {
    let _wd = watchdog("a_reraised_unobserved_rejection", 30);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let heard = install_hook(&lp, Mode::ReraiseRun);
    drop(Promise::<(), &str>::rejected("nobody listens"));
    let m = run_bounded(&lp).expect_err("the re-raised error makes run unwind");
    assert!(m.contains("nobody listens"), "{m}");
    // The report is delivered from a loop callback, so the hook's own re-raise is a panic of that
    // callback and may be reported to the hook again: only the first report is pinned down.
    let heard = heard.borrow().clone();
    assert!(
        heard
            .first()
            .is_some_and(|e| e.starts_with("promise rejection was never observed")),
        "{heard:?}"
    );
    assert!(
        heard.iter().all(|e| e.contains("nobody listens")),
        "{heard:?}"
    );
    assert_recovers(&lp);
}

/// The old hook's `Drop` panics when a callback replaces it: the callback's panic is reported (to
/// the new hook) and the loop goes on.
#[test]
fn an_old_error_hook_whose_drop_panics() {
    let _wd = watchdog("an_old_error_hook_whose_drop_panics", 30);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let p = PanicOnDrop("boom old hook drop");
    lp.set_error_hook(move |_, err| {
        let _ = &p;
        panic!("the old hook heard {err}");
    });
    let heard = log();
    let h = heard.clone();
    lp.call_soon(move |handle| {
        let h = h.clone();
        handle.set_error_hook(move |_, err| h.borrow_mut().push(err.to_string()));
    });
    if let Err(m) = run_bounded(&lp) {
        panic!("a panic escaped run: {m}");
    }
    let heard = heard.borrow().clone();
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert!(heard[0].contains("boom old hook drop"), "{heard:?}");
    assert_recovers(&lp);
}

// ---------------------------------------------------------------------------------------------
// A joined task whose future panics on drop after Ready
// ---------------------------------------------------------------------------------------------

/// The task completed, so its `JoinHandle` must complete too (with the output, or with the
/// panic); the panic surfaces once, through the handle or the hook.
#[test]
fn a_joined_task_whose_future_panics_on_drop_after_ready() {
    let _wd = watchdog("a_joined_task_whose_future_panics_on_drop_after_ready", 30);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let heard = install_hook(&lp, Mode::Record);
    let boom = "boom joined future drop";
    let task = lp.spawn(ReadyOwning(PanicOnDrop("boom joined future drop")));
    let out = catch_unwind(AssertUnwindSafe(|| {
        lp.block_on(evloop::time::timeout(Duration::from_secs(2), task))
    }));
    let out = match out {
        Ok(out) => out,
        Err(p) => panic!("the panic escaped block_on: {}", message(&*p)),
    };
    let joined = out.expect("the JoinHandle completes");
    let through_handle = match joined {
        Ok(()) => 0,
        Err(e) => {
            assert!(e.is_panic() && e.to_string().contains(boom), "{e}");
            1
        }
    };
    let through_hook = heard.borrow().iter().filter(|e| e.contains(boom)).count();
    assert_eq!(
        through_handle + through_hook,
        1,
        "the panic surfaces exactly once: hook heard {:?}",
        heard.borrow()
    );
    assert_recovers(&lp);
}

// ---------------------------------------------------------------------------------------------
// The loop's own drop
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Panicking {
    Task,
    Callback,
    Watcher,
}

/// Drops a loop holding one of each kind of pending item (a `DropGuard` each) plus one item of
/// kind `which` whose drop panics, placed first among its kind. The rest of the teardown must still
/// happen ("Drops every pending task's future (exactly once), callback, timer and watcher"), the
/// panic must surface exactly once (unwinding out of the drop, or reported to the hook), and a loop
/// created afterwards on the same thread must work.
fn teardown_with_a_panicking(name: &'static str, which: Panicking, boom: &'static str) {
    let _wd = watchdog(name, 30);
    quiet_expected_panics();
    let lp = EventLoop::new().unwrap();
    let drops = counter();
    let guard = || DropGuard(drops.clone());
    let mut expected = 0;

    let heard = log();
    let (h, g) = (heard.clone(), guard());
    lp.set_error_hook(move |_, err| {
        let _ = &g;
        h.borrow_mut().push(err.to_string());
    });
    expected += 1;

    if which == Panicking::Task {
        let p = PanicOnDrop(boom);
        drop(lp.spawn(async move {
            let _p = p;
            pending::<()>().await
        }));
    }
    let g = guard();
    drop(lp.spawn(async move {
        let _g = g;
        pending::<()>().await
    }));
    expected += 1;

    if which == Panicking::Callback {
        let p = PanicOnDrop(boom);
        lp.call_soon(move |_| std::mem::forget(p));
    }
    let g = guard();
    lp.call_soon(move |_| drop(g));
    expected += 1;

    let g = guard();
    lp.call_later(Duration::from_secs(3600), move |_| drop(g));
    let g = guard();
    lp.call_every(Duration::from_secs(3600), move |_| {
        let _ = &g;
    });
    expected += 2;

    if which == Panicking::Watcher {
        let (sock, _) = udp_bound();
        let p = PanicOnDrop(boom);
        lp.watch(sock, Interest::READABLE, move |_, _, _| {
            let _ = &p;
        })
        .unwrap();
    }
    let (sock, _) = udp_bound();
    let g = guard();
    lp.watch(sock, Interest::READABLE, move |_, _, _| {
        let _ = &g;
    })
    .unwrap();
    expected += 1;

    assert_eq!(drops.get(), 0);
    let unwound = catch_unwind(AssertUnwindSafe(move || drop(lp)))
        .err()
        .map(|p| message(&*p));
    let reported = heard.borrow().iter().filter(|e| e.contains(boom)).count();
    assert_eq!(
        usize::from(unwound.is_some()) + reported,
        1,
        "the panic surfaces exactly once: dropping the loop unwound with {unwound:?}, the hook \
         heard {:?}",
        heard.borrow()
    );
    if let Some(m) = &unwound {
        assert!(m.contains(boom), "dropping the loop unwound with {m:?}");
    }
    assert_eq!(
        drops.get(),
        expected,
        "the teardown dropped every other pending item (the hook, tasks, callbacks, timers, \
         watchers) exactly once"
    );

    // A loop created afterwards on this thread works.
    let lp2 = EventLoop::new().unwrap();
    let out = lp2.block_on(async { evloop::spawn(async { 5 }).await });
    assert_eq!(out.unwrap(), 5);
}

#[test]
fn a_panic_while_the_loop_drops_a_task_does_not_skip_the_rest_of_teardown() {
    teardown_with_a_panicking(
        "a_panic_while_the_loop_drops_a_task",
        Panicking::Task,
        "boom teardown task",
    );
}

#[test]
fn a_panic_while_the_loop_drops_a_callback_does_not_skip_the_rest_of_teardown() {
    teardown_with_a_panicking(
        "a_panic_while_the_loop_drops_a_callback",
        Panicking::Callback,
        "boom teardown callback",
    );
}

#[test]
fn a_panic_while_the_loop_drops_a_watcher_does_not_skip_the_rest_of_teardown() {
    teardown_with_a_panicking(
        "a_panic_while_the_loop_drops_a_watcher",
        Panicking::Watcher,
        "boom teardown watcher",
    );
}
