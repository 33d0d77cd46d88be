//! Re-entrancy of user `Drop`s: every place where the loop drops user data lets that `Drop` call
//! back into the loop.
//!
//! Each test hands the loop a [`Reenter`] (or a [`SendReenter`]) at one place where the loop drops
//! user data. Its `Drop` uses the loop the way a destructor of real user data might: it queues a
//! callback (`call_soon`), arms a timer (`call_later`), spawns tasks (through the handle and
//! through `evloop::spawn`), cancels a timer (`cancel_timer`), arms and drops a `sleep`, watches
//! and unwatches a socket, and installs an error hook (`set_error_hook`). Every one of these must
//! work from inside the drop: the loop holds no borrow of its state while user code runs (the
//! crate docs' "each run with no loop state borrowed"; `Handle::watch`: "the watcher owns the
//! source until `Handle::unwatch`, which deregisters and drops it").
//!
//! Afterwards the test checks that the work queued from the drop behaves as it would anywhere
//! else: while the loop is alive, it runs on the next run and leaves nothing behind; while the
//! loop itself is being dropped, it is dropped too ([`EventLoop`]'s `Drop`: "Dropping them may
//! queue more work (a destructor that spawns or posts); that is dropped too"), with no panic and no
//! hang. The error hook records what it hears; it must hear nothing.

mod util;

use std::cell::{Cell, RefCell};
use std::future::{pending, poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use evloop::promise::Promise;
use evloop::{CallbackId, EventLoop, Handle, Interest, TimerId};
use mio::event::Source;
use util::{drain_udp, poll_pinned, udp_bound, udp_sender, watchdog};

// ---------------------------------------------------------------------------------------------
// The probe: what the re-entrant drops did
// ---------------------------------------------------------------------------------------------

/// Counts what the re-entrant drops did and what the work they queued did later. Atomic and
/// behind an `Arc` so that a [`SendReenter`] can travel through `Remote::post` and foreign wakers.
#[derive(Default)]
struct Probe {
    /// `Reenter`/`SendReenter` values dropped.
    dropped: AtomicUsize,
    /// Callbacks queued by a drop with `call_soon` that ran.
    soon_ran: AtomicUsize,
    /// Timers armed by a drop with `call_later` that fired.
    later_ran: AtomicUsize,
    /// Tasks spawned by a drop through its handle that ran.
    task_ran: AtomicUsize,
    /// Tasks spawned by a drop through `evloop::spawn` (the current loop) that ran.
    current_task_ran: AtomicUsize,
    /// Victim timers a drop cancelled (`cancel_timer` returned true).
    victims_cancelled: AtomicUsize,
    /// Sockets a drop watched and unwatched again (both succeeded).
    watched: AtomicUsize,
    /// Everything the error hook heard, and anything else that went wrong.
    errors: Mutex<Vec<String>>,
}

impl Probe {
    fn new() -> Arc<Probe> {
        Arc::new(Probe::default())
    }

    fn error(&self, e: impl Into<String>) {
        self.errors.lock().unwrap().push(e.into());
    }

    fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }
}

fn get(n: &AtomicUsize) -> usize {
    n.load(Ordering::SeqCst)
}

fn bump(n: &AtomicUsize) {
    n.fetch_add(1, Ordering::SeqCst);
}

/// Installs an error hook that records what it hears in `probe`.
fn record_errors(h: &Handle, probe: &Arc<Probe>) {
    let p = probe.clone();
    h.set_error_hook(move |_, err| p.error(format!("error hook: {err}")));
}

/// A timer that must never fire, for a drop to cancel. It does not keep the loop alive.
fn arm_victim(h: &Handle, probe: &Arc<Probe>) -> TimerId {
    let p = probe.clone();
    let id = h.call_later(Duration::from_secs(3600), move |_| {
        p.error("a victim timer fired instead of being cancelled")
    });
    h.set_timer_keep_alive(id, false);
    id
}

/// What a re-entrant drop does, through `h` (a captured handle or `Handle::current()`).
///
/// With `depth > 0` the work it queues carries further `Reenter`s of `depth - 1`, so that a drop
/// of work queued by a drop is exercised too (bounded: no chain is endless).
fn reenter(h: &Handle, probe: &Arc<Probe>, depth: u32, victim: Option<TimerId>) {
    bump(&probe.dropped);
    let child = || (depth > 0).then(|| Reenter::with_depth(h, probe, depth - 1));

    let (p, c) = (probe.clone(), child());
    h.call_soon(move |_| {
        bump(&p.soon_ran);
        drop(c);
    });

    let (p, c) = (probe.clone(), child());
    h.call_later(Duration::ZERO, move |_| {
        bump(&p.later_ran);
        drop(c);
    });

    let (p, c) = (probe.clone(), child());
    drop(h.spawn(async move {
        bump(&p.task_ran);
        drop(c);
    }));

    let p = probe.clone();
    drop(evloop::spawn(async move { bump(&p.current_task_ran) }));

    if let Some(v) = victim {
        if h.cancel_timer(v) {
            bump(&probe.victims_cancelled);
        }
    }

    // A sleep, armed (polled once, with a waker of its own) and dropped.
    let mut sleep = Box::pin(evloop::time::sleep(Duration::from_millis(1)));
    let _ = poll_pinned(sleep.as_mut());
    drop(sleep);

    // A watcher, registered and removed (refused once the loop is being dropped).
    let (sock, _) = udp_bound();
    if let Ok(id) = h.watch(sock, Interest::READABLE, |_, _, _| {}) {
        if h.unwatch(id) {
            bump(&probe.watched);
        }
    }

    record_errors(h, probe);
}

/// User data whose `Drop` calls back into the loop through a captured [`Handle`].
struct Reenter {
    handle: Handle,
    probe: Arc<Probe>,
    depth: u32,
    victim: Option<TimerId>,
}

impl Reenter {
    fn new(h: &Handle, probe: &Arc<Probe>) -> Reenter {
        Reenter::with_depth(h, probe, 0)
    }

    fn with_depth(h: &Handle, probe: &Arc<Probe>, depth: u32) -> Reenter {
        Reenter {
            handle: h.clone(),
            probe: probe.clone(),
            depth,
            victim: Some(arm_victim(h, probe)),
        }
    }
}

impl Drop for Reenter {
    fn drop(&mut self) {
        reenter(&self.handle, &self.probe, self.depth, self.victim.take());
    }
}

/// Like [`Reenter`], but `Send + Sync`: its `Drop` reaches the loop through
/// [`Handle::current()`], as code that holds no handle does.
struct SendReenter {
    probe: Arc<Probe>,
    depth: u32,
    victim: Option<TimerId>,
}

impl SendReenter {
    fn new(h: &Handle, probe: &Arc<Probe>) -> SendReenter {
        SendReenter::with_depth(h, probe, 0)
    }

    fn with_depth(h: &Handle, probe: &Arc<Probe>, depth: u32) -> SendReenter {
        SendReenter {
            probe: probe.clone(),
            depth,
            victim: Some(arm_victim(h, probe)),
        }
    }
}

impl Drop for SendReenter {
    fn drop(&mut self) {
        reenter(
            &Handle::current(),
            &self.probe,
            self.depth,
            self.victim.take(),
        );
    }
}

/// A watched source that owns a [`Reenter`]: the loop drops it when the watcher is removed.
struct ReenterSource {
    sock: mio::net::UdpSocket,
    _reenter: Reenter,
}

impl Source for ReenterSource {
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

/// A future that is ready at once and owns a value, which is dropped with the future (by the loop,
/// after `Ready`), not during `poll`.
struct ReadyOwning<T>(Option<T>);

impl<T> Future for ReadyOwning<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn setup(name: &'static str) -> (util::Watchdog, EventLoop, Arc<Probe>) {
    let wd = watchdog(name, 20);
    let lp = EventLoop::new().unwrap();
    let probe = Probe::new();
    record_errors(&lp, &probe);
    (wd, lp, probe)
}

/// Runs the loop until it has nothing left to do, stopping it after two seconds whatever happens
/// (a fail-safe that does not itself keep the loop alive).
fn run_bounded(lp: &EventLoop) {
    let failsafe = lp.call_later(Duration::from_secs(2), |h| h.stop());
    lp.set_timer_keep_alive(failsafe, false);
    let result = catch_unwind(AssertUnwindSafe(|| lp.run()));
    lp.cancel_timer(failsafe);
    match result {
        Ok(r) => r.expect("run returns Ok"),
        Err(p) => panic!("a panic escaped run: {}", message(&*p)),
    }
}

fn message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string payload>".into())
}

/// `n` re-entrant drops (of depth 0) happened while the loop was alive: runs the loop and checks
/// that all the work they queued ran, that they cancelled their victims and unregistered their
/// sockets, and that nothing is left behind or was reported.
fn run_and_check(lp: &EventLoop, probe: &Arc<Probe>, n: usize) {
    run_bounded(lp);
    assert_eq!(probe.errors(), Vec::<String>::new(), "unexpected errors");
    assert_eq!(get(&probe.dropped), n, "re-entrant drops");
    assert_eq!(
        get(&probe.soon_ran),
        n,
        "call_soon callbacks queued by drops that ran"
    );
    assert_eq!(
        get(&probe.later_ran),
        n,
        "call_later timers armed by drops that fired"
    );
    assert_eq!(
        get(&probe.task_ran),
        n,
        "Handle::spawn tasks spawned by drops that ran"
    );
    assert_eq!(
        get(&probe.current_task_ran),
        n,
        "evloop::spawn tasks spawned by drops that ran"
    );
    assert_eq!(
        get(&probe.victims_cancelled),
        n,
        "victim timers cancelled by drops"
    );
    assert_eq!(get(&probe.watched), n, "watch + unwatch from drops");
    assert_eq!(lp.task_count(), 0, "tasks left in the loop");
    assert_eq!(
        lp.pending_counts(),
        (0, 0),
        "timers and watchers left in the loop"
    );
}

/// Nodes in a tree of re-entrant drops whose root has depth `depth` (each drop queues three
/// children: a callback, a timer and a task).
fn tree(depth: u32) -> usize {
    (0..=depth).map(|d| 3usize.pow(d)).sum()
}

// ---------------------------------------------------------------------------------------------
// call_soon
// ---------------------------------------------------------------------------------------------

#[test]
fn a_call_soon_callback_cancelled_with_cancel_callback() {
    let (_wd, lp, probe) = setup("a_call_soon_callback_cancelled_with_cancel_callback");

    // From outside the loop.
    let (r, p) = (Reenter::new(&lp, &probe), probe.clone());
    let id = lp.call_soon(move |_| {
        let _r = r;
        p.error("a cancelled callback ran");
    });
    assert!(lp.cancel_callback(id));
    assert_eq!(
        get(&probe.dropped),
        1,
        "cancel_callback dropped the callback"
    );

    // From inside a running callback (queued first, so it runs before its victim).
    let victim: Rc<Cell<Option<CallbackId>>> = Rc::new(Cell::new(None));
    let (v, p) = (victim.clone(), probe.clone());
    lp.call_soon(move |h| {
        if !h.cancel_callback(v.get().unwrap()) {
            p.error("cancel_callback from a callback found nothing");
        }
    });
    let (r, p) = (Reenter::new(&lp, &probe), probe.clone());
    victim.set(Some(lp.call_soon(move |_| {
        let _r = r;
        p.error("a cancelled callback ran");
    })));
    run_and_check(&lp, &probe, 2);
}

#[test]
fn a_call_soon_callback_after_it_ran() {
    let (_wd, lp, probe) = setup("a_call_soon_callback_after_it_ran");
    let r = Reenter::new(&lp, &probe);
    lp.call_soon(move |_| {
        let _ = &r;
    });
    // Through the current loop as well.
    let r = SendReenter::new(&lp, &probe);
    Handle::current().call_soon(move |_| {
        let _ = &r;
    });
    run_and_check(&lp, &probe, 2);
}

// ---------------------------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------------------------

#[test]
fn a_timer_callback_after_it_ran() {
    let (_wd, lp, probe) = setup("a_timer_callback_after_it_ran");
    let r = Reenter::new(&lp, &probe);
    lp.call_later(Duration::from_millis(1), move |_| {
        let _ = &r;
    });
    let r = Reenter::new(&lp, &probe);
    lp.call_at(Instant::now(), move |_| {
        let _ = &r;
    });
    run_and_check(&lp, &probe, 2);
}

#[test]
fn a_cancelled_timer() {
    let (_wd, lp, probe) = setup("a_cancelled_timer");

    // From outside the loop.
    let (r, p) = (Reenter::new(&lp, &probe), probe.clone());
    let id = lp.call_later(Duration::from_secs(3600), move |_| {
        let _r = r;
        p.error("a cancelled timer fired");
    });
    assert!(lp.cancel_timer(id));
    assert_eq!(get(&probe.dropped), 1, "cancel_timer dropped the callback");

    // A call_at timer, from inside a running callback.
    let (r, p) = (Reenter::new(&lp, &probe), probe.clone());
    let id = lp.call_at(Instant::now() + Duration::from_secs(3600), move |_| {
        let _r = r;
        p.error("a cancelled timer fired");
    });
    let p = probe.clone();
    lp.call_soon(move |h| {
        if !h.cancel_timer(id) {
            p.error("cancel_timer from a callback found nothing");
        }
    });
    run_and_check(&lp, &probe, 2);
}

#[test]
fn a_periodic_timer_cancelled_from_inside_itself() {
    let (_wd, lp, probe) = setup("a_periodic_timer_cancelled_from_inside_itself");
    let own: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let (o, r, calls) = (
        own.clone(),
        Reenter::new(&lp, &probe),
        Rc::new(Cell::new(0)),
    );
    let c = calls.clone();
    own.set(Some(lp.call_every(Duration::from_millis(1), move |h| {
        let _ = &r;
        c.set(c.get() + 1);
        if c.get() == 2 {
            h.cancel_timer(o.get().unwrap());
        }
    })));
    run_and_check(&lp, &probe, 1);
    assert_eq!(calls.get(), 2);
    assert!(!lp.timer_is_live(own.get().unwrap()));
}

#[test]
fn a_periodic_timer_cancelled_from_outside() {
    let (_wd, lp, probe) = setup("a_periodic_timer_cancelled_from_outside");

    // From outside the loop, before it ever fired.
    let r = Reenter::new(&lp, &probe);
    let id = lp.call_every(Duration::from_millis(1), move |_| {
        let _ = &r;
    });
    assert!(lp.cancel_timer(id));
    assert_eq!(get(&probe.dropped), 1, "cancel_timer dropped the callback");

    // From another callback, after it fired a few times.
    let own: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let (o, r, calls) = (
        own.clone(),
        Reenter::new(&lp, &probe),
        Rc::new(Cell::new(0)),
    );
    let c = calls.clone();
    let id = lp.call_every(Duration::from_millis(1), move |h| {
        let _ = &r;
        c.set(c.get() + 1);
        if c.get() == 3 {
            // Cancelled by someone else, in a later turn.
            let id = o.get().unwrap();
            h.call_soon(move |h| {
                h.cancel_timer(id);
            });
        }
    });
    own.set(Some(id));
    run_and_check(&lp, &probe, 2);
    assert!(calls.get() >= 3);
    assert!(!lp.timer_is_live(id));
}

// ---------------------------------------------------------------------------------------------
// Watchers
// ---------------------------------------------------------------------------------------------

/// A watcher whose source and callback each own a `Reenter`.
fn reentrant_watcher(
    lp: &EventLoop,
    probe: &Arc<Probe>,
    on_event: impl Fn(&Handle, evloop::WatcherId) + 'static,
) -> (evloop::WatcherId, std::net::SocketAddr) {
    let (sock, addr) = udp_bound();
    let source = ReenterSource {
        sock,
        _reenter: Reenter::new(lp, probe),
    };
    let r = Reenter::new(lp, probe);
    let id = lp
        .watch(source, Interest::READABLE, move |h, src, ev| {
            let _ = &r;
            drain_udp(&src.sock);
            on_event(h, ev.watcher());
        })
        .unwrap();
    (id, addr)
}

#[test]
fn a_watcher_unwatched_from_outside() {
    let (_wd, lp, probe) = setup("a_watcher_unwatched_from_outside");

    // From outside the loop.
    let (id, _) = reentrant_watcher(&lp, &probe, |_, _| {});
    assert!(lp.unwatch(id));
    assert_eq!(
        get(&probe.dropped),
        2,
        "unwatch dropped the source and the callback"
    );

    // From inside another callback.
    let (id, _) = reentrant_watcher(&lp, &probe, |_, _| {});
    let p = probe.clone();
    lp.call_soon(move |h| {
        if !h.unwatch(id) {
            p.error("unwatch from a callback found nothing");
        }
    });
    run_and_check(&lp, &probe, 4);
}

#[test]
fn a_watcher_unwatched_from_inside_its_own_callback() {
    let (_wd, lp, probe) = setup("a_watcher_unwatched_from_inside_its_own_callback");
    let (_, addr) = reentrant_watcher(&lp, &probe, |h, id| {
        h.unwatch(id);
    });
    udp_sender().send_to(b"ping", addr).unwrap();
    run_and_check(&lp, &probe, 2);
}

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

#[test]
fn a_task_future_dropped_after_it_returned_ready() {
    let (_wd, lp, probe) = setup("a_task_future_dropped_after_it_returned_ready");
    // Detached.
    drop(lp.spawn(ReadyOwning(Some(Reenter::new(&lp, &probe)))));
    // Joined: the handle still gets the output.
    let joined = lp.spawn(ReadyOwning(Some(Reenter::new(&lp, &probe))));
    assert!(lp.block_on(joined).is_ok());
    run_and_check(&lp, &probe, 2);
}

#[test]
fn a_task_aborted_through_its_join_handle() {
    let (_wd, lp, probe) = setup("a_task_aborted_through_its_join_handle");

    // Aborted before its first poll.
    let r = Reenter::new(&lp, &probe);
    let early = lp.spawn(async move {
        let _r = r;
        pending::<()>().await
    });
    early.abort();

    // Aborted while parked.
    let r = Reenter::new(&lp, &probe);
    let parked = lp.spawn(async move {
        let _r = r;
        pending::<()>().await
    });
    lp.run_nowait().unwrap();
    assert_eq!(
        get(&probe.dropped),
        1,
        "the early one is gone, the parked one is not"
    );
    parked.abort();

    run_and_check(&lp, &probe, 2);
    for j in [early, parked] {
        assert!(lp.block_on(j).unwrap_err().is_cancelled());
    }
}

#[test]
fn a_detached_task_output() {
    let (_wd, lp, probe) = setup("a_detached_task_output");
    let r = Reenter::new(&lp, &probe);
    drop(lp.spawn(async move { r }));
    run_and_check(&lp, &probe, 1);
}

#[test]
fn a_finished_task_output_dropped_with_its_join_handle() {
    let (_wd, lp, probe) = setup("a_finished_task_output_dropped_with_its_join_handle");
    let r = Reenter::new(&lp, &probe);
    let outside = lp.spawn(async move { r });
    let r = Reenter::new(&lp, &probe);
    let inside = lp.spawn(async move { r });
    lp.run_nowait().unwrap();
    assert!(outside.is_finished() && inside.is_finished());
    assert_eq!(get(&probe.dropped), 0, "outputs are kept for their handles");

    // Dropped outside the loop.
    drop(outside);
    assert_eq!(get(&probe.dropped), 1);
    // Dropped by a callback.
    lp.call_soon(move |_| drop(inside));
    run_and_check(&lp, &probe, 2);
}

// ---------------------------------------------------------------------------------------------
// The error hook
// ---------------------------------------------------------------------------------------------

#[test]
fn an_error_hook_replaced_by_set_error_hook() {
    let (_wd, lp, probe) = setup("an_error_hook_replaced_by_set_error_hook");
    let (r, p) = (Reenter::new(&lp, &probe), probe.clone());
    lp.set_error_hook(move |_, err| {
        let _ = &r;
        p.error(format!("old hook: {err}"));
    });
    let replaced = catch_unwind(AssertUnwindSafe(|| record_errors(&lp, &probe)));
    if let Err(p) = replaced {
        panic!(
            "set_error_hook panicked while dropping the old hook: {}",
            message(&*p)
        );
    }
    assert_eq!(get(&probe.dropped), 1, "the old hook was dropped");
    run_and_check(&lp, &probe, 1);
}

#[test]
fn an_error_hook_that_replaces_itself_while_it_runs() {
    let (_wd, lp, probe) = setup("an_error_hook_that_replaces_itself_while_it_runs");
    let heard = Rc::new(RefCell::new(Vec::new()));
    let (r, p, hd) = (Reenter::new(&lp, &probe), probe.clone(), heard.clone());
    lp.set_error_hook(move |h, err| {
        let _ = &r;
        hd.borrow_mut().push(err.to_string());
        record_errors(h, &p);
    });
    // Something to report that is not a panic: a rejection nobody observes.
    drop(Promise::<(), &str>::rejected("unobserved"));
    run_and_check(&lp, &probe, 1);
    assert_eq!(heard.borrow().len(), 1, "{:?}", heard.borrow());
    assert!(
        heard.borrow()[0].contains("unobserved"),
        "{:?}",
        heard.borrow()
    );
}

// ---------------------------------------------------------------------------------------------
// Remote posts
// ---------------------------------------------------------------------------------------------

#[test]
fn a_remote_post_after_it_ran() {
    let (_wd, lp, probe) = setup("a_remote_post_after_it_ran");
    let r = SendReenter::new(&lp, &probe);
    let remote = lp.remote();
    std::thread::spawn(move || {
        remote
            .post(move |_| {
                let _ = &r;
            })
            .unwrap();
    })
    .join()
    .unwrap();
    run_and_check(&lp, &probe, 1);
}

// ---------------------------------------------------------------------------------------------
// Promises
// ---------------------------------------------------------------------------------------------

#[test]
fn promise_callbacks_after_they_ran() {
    let (_wd, lp, probe) = setup("promise_callbacks_after_they_ran");
    let (promise, resolver) = Promise::<u32, ()>::new();
    let r = Reenter::new(&lp, &probe);
    promise.on_settled(move |_| {
        let _ = &r;
    });
    let r = Reenter::new(&lp, &probe);
    let chained = promise.then(move |n| {
        let _ = &r;
        Ok(n + 1)
    });
    let r = Reenter::new(&lp, &probe);
    let chained = chained.map(move |n| {
        let _ = &r;
        n * 2
    });
    resolver.resolve(20).unwrap();
    assert_eq!(lp.block_on(chained), Ok(42));
    run_and_check(&lp, &probe, 3);
}

// ---------------------------------------------------------------------------------------------
// Foreign wakers held by a sleep
// ---------------------------------------------------------------------------------------------

/// A waker of someone else's making (a combinator's, another runtime's) that owns a
/// `SendReenter`: whoever drops the last clone runs its `Drop`.
struct ReenterWaker {
    _owned: Mutex<Option<SendReenter>>,
}

impl Wake for ReenterWaker {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn a_foreign_waker_replaced_in_a_sleep() {
    let (_wd, lp, probe) = setup("a_foreign_waker_replaced_in_a_sleep");
    let r = SendReenter::new(&lp, &probe);
    let task = lp.spawn(async move {
        let mut sleep = pin!(evloop::time::sleep(Duration::from_millis(1)));
        {
            // Polled first with a foreign waker; only the sleep's timer keeps a clone of it.
            let foreign = Waker::from(Arc::new(ReenterWaker {
                _owned: Mutex::new(Some(r)),
            }));
            let first = sleep.as_mut().poll(&mut Context::from_waker(&foreign));
            assert!(first.is_pending());
        }
        // Polled again with the task's own waker: the sleep drops the foreign one.
        poll_fn(|cx| sleep.as_mut().poll(cx)).await;
    });
    let out = lp.block_on(task);
    if let Err(e) = out {
        panic!("the task failed: {e}");
    }
    run_and_check(&lp, &probe, 1);
}

// ---------------------------------------------------------------------------------------------
// The loop's own drop
// ---------------------------------------------------------------------------------------------

#[test]
fn everything_pending_when_the_loop_is_dropped() {
    let (_wd, lp, probe) = setup("everything_pending_when_the_loop_is_dropped");
    let depth = 1;
    let mut roots = 0;

    // A task parked on a sleep, and one parked forever (polled once first).
    let r = Reenter::with_depth(&lp, &probe, depth);
    drop(lp.spawn(async move {
        let _r = r;
        evloop::time::sleep(Duration::from_secs(3600)).await;
    }));
    let r = Reenter::with_depth(&lp, &probe, depth);
    let _kept = lp.spawn(async move {
        let _r = r;
        pending::<()>().await
    });
    roots += 2;
    lp.run_nowait().unwrap();
    assert_eq!(lp.task_count(), 2);

    // A task never polled.
    let r = Reenter::with_depth(&lp, &probe, depth);
    drop(lp.spawn(async move {
        let _r = r;
    }));
    // A queued callback.
    let r = Reenter::with_depth(&lp, &probe, depth);
    lp.call_soon(move |_| {
        let _ = &r;
    });
    // A one-shot timer and a periodic one.
    let r = Reenter::with_depth(&lp, &probe, depth);
    lp.call_later(Duration::from_secs(3600), move |_| {
        let _ = &r;
    });
    let r = Reenter::with_depth(&lp, &probe, depth);
    lp.call_every(Duration::from_secs(3600), move |_| {
        let _ = &r;
    });
    roots += 4;
    // A watcher: its source and its callback.
    let (sock, _) = udp_bound();
    let source = ReenterSource {
        sock,
        _reenter: Reenter::with_depth(&lp, &probe, depth),
    };
    let r = Reenter::with_depth(&lp, &probe, depth);
    lp.watch(source, Interest::READABLE, move |_, _, _| {
        let _ = &r;
    })
    .unwrap();
    roots += 2;
    // A remote post not yet taken.
    let r = SendReenter::with_depth(&lp, &probe, depth);
    let remote = lp.remote();
    std::thread::spawn(move || {
        remote
            .post(move |_| {
                let _ = &r;
            })
            .unwrap();
    })
    .join()
    .unwrap();
    roots += 1;
    assert_eq!(get(&probe.dropped), 0);

    let dropped = catch_unwind(AssertUnwindSafe(move || drop(lp)));
    if let Err(p) = dropped {
        panic!("dropping the loop panicked: {}", message(&*p));
    }
    assert_eq!(probe.errors(), Vec::<String>::new(), "unexpected errors");
    assert_eq!(
        get(&probe.dropped),
        roots * tree(depth),
        "every pending value, and every value queued by their drops, dropped exactly once"
    );
    // Nothing runs once the loop is being dropped: the work queued by the drops is dropped too.
    assert_eq!(get(&probe.soon_ran), 0);
    assert_eq!(get(&probe.later_ran), 0);
    assert_eq!(get(&probe.task_ran), 0);
    assert_eq!(get(&probe.current_task_ran), 0);
    assert_eq!(
        Arc::strong_count(&probe),
        1,
        "something queued during the loop's drop was kept"
    );
}

#[test]
fn the_error_hook_when_the_loop_is_dropped() {
    let (_wd, lp, probe) = setup("the_error_hook_when_the_loop_is_dropped");
    let depth = 1;
    let (r, p) = (Reenter::with_depth(&lp, &probe, depth), probe.clone());
    lp.set_error_hook(move |_, err| {
        let _ = &r;
        p.error(format!("hook: {err}"));
    });
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(lp)));
    if let Err(p) = dropped {
        panic!("dropping the loop panicked: {}", message(&*p));
    }
    assert_eq!(probe.errors(), Vec::<String>::new(), "unexpected errors");
    assert_eq!(get(&probe.dropped), tree(depth));
    assert_eq!(get(&probe.soon_ran), 0);
    assert_eq!(
        Arc::strong_count(&probe),
        1,
        "something queued during the loop's drop was kept"
    );
}

/// Work queued by drops while the loop is alive can itself carry re-entrant values: the whole tree
/// runs, level by level, on the next run.
#[test]
fn drops_of_work_queued_by_drops() {
    let (_wd, lp, probe) = setup("drops_of_work_queued_by_drops");
    let depth = 2;
    let r = Reenter::with_depth(&lp, &probe, depth);
    lp.call_soon(move |_| drop(r));
    run_and_check(&lp, &probe, tree(depth));
}
