//! A waker is user code: a foreign waker's `clone`, `wake` and `drop` may call back into the very
//! primitive that stores it. Each primitive must clone, wake and drop wakers with none of its state
//! borrowed (or locked), so that such a call finds the state free instead of panicking on a
//! `RefCell` or deadlocking on a `Mutex`.
//!
//! Most tests poll a future twice, with two different foreign wakers: the second poll replaces (so
//! drops, inside the primitive's poll) the first, whose `Drop` sends on the same channel, adds a
//! permit, notifies, and so on. Others drop a waiting future (the primitive drops its waker as it
//! takes it out of the queue), make a receiver run out of budget (it wakes its waker to yield), or
//! poll with a waker whose `clone` calls back.

mod util;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::mem::ManuallyDrop;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use std::thread::{self, ThreadId};
use std::time::Duration;

use evloop::sync::{broadcast, mpsc, oneshot, watch, Mutex, Notify, Semaphore};
use util::{bump, counter, noop_waker, Counter};

// ----- Foreign wakers with hooks -----

/// What a foreign waker does when woken, cloned, or dropped (its last clone).
#[derive(Default)]
struct Hooks {
    on_wake: Option<Rc<dyn Fn()>>,
    on_clone: Option<Rc<dyn Fn()>>,
    on_drop: Option<Box<dyn FnOnce()>>,
}

thread_local! {
    /// The hooks of the wakers made on this thread. A `Waker` is `Send + Sync`, and the hooks hold
    /// the `Rc`s of the primitives they call into, so the wakers keep only a key to them.
    static HOOKS: RefCell<HashMap<u64, Hooks>> = RefCell::new(HashMap::new());
    static NEXT_KEY: Cell<u64> = const { Cell::new(0) };
}

/// A key to hooks in `HOOKS`. They run only on the thread that made them (a waker woken elsewhere
/// does nothing), and never while a panic unwinds (a second panic would abort the test binary).
/// Dropping the key runs `on_drop`.
struct HookKey {
    key: u64,
    thread: ThreadId,
}

impl HookKey {
    fn new(hooks: Hooks) -> HookKey {
        let key = NEXT_KEY.with(|k| {
            k.set(k.get() + 1);
            k.get()
        });
        HOOKS.with(|h| h.borrow_mut().insert(key, hooks));
        HookKey {
            key,
            thread: thread::current().id(),
        }
    }

    fn runs_here(&self) -> bool {
        self.thread == thread::current().id() && !thread::panicking()
    }

    /// Runs the hook `pick` chooses, with `HOOKS` not borrowed (the hook may make or drop wakers).
    fn call(&self, pick: impl FnOnce(&Hooks) -> Option<Rc<dyn Fn()>>) {
        if !self.runs_here() {
            return;
        }
        let hook = HOOKS.with(|h| h.borrow().get(&self.key).and_then(pick));
        if let Some(hook) = hook {
            hook();
        }
    }
}

impl Drop for HookKey {
    fn drop(&mut self) {
        if self.thread != thread::current().id() {
            return;
        }
        let hooks = HOOKS
            .try_with(|h| h.borrow_mut().remove(&self.key))
            .ok()
            .flatten();
        if let Some(on_drop) = hooks.and_then(|h| h.on_drop) {
            if !thread::panicking() {
                on_drop();
            }
        }
    }
}

/// A foreign waker: an `Arc` of a [`Wake`] type, whose `wake` and `Drop` run hooks.
struct Foreign(HookKey);

impl Wake for Foreign {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.call(|h| h.on_wake.clone());
    }
}

fn foreign(hooks: Hooks) -> Waker {
    Waker::from(Arc::new(Foreign(HookKey::new(hooks))))
}

/// A foreign waker that runs `on_drop` when its last clone is dropped.
fn dropping(on_drop: impl FnOnce() + 'static) -> Waker {
    foreign(Hooks {
        on_drop: Some(Box::new(on_drop)),
        ..Hooks::default()
    })
}

/// A foreign waker that runs `on_wake` each time it is woken.
fn waking(on_wake: impl Fn() + 'static) -> Waker {
    foreign(Hooks {
        on_wake: Some(Rc::new(on_wake)),
        ..Hooks::default()
    })
}

/// A foreign waker that counts its wake-ups.
fn counting() -> (Waker, Counter) {
    let woken = counter();
    let w = woken.clone();
    (waking(move || bump(&w)), woken)
}

/// A foreign waker whose `clone` runs `on_clone` (a [`Wake`] type cannot have one: cloning it
/// clones the `Arc`), built from a vtable. It wakes, and its clones are clones of, `inner`.
fn cloning(inner: Waker, on_clone: impl Fn() + 'static) -> Waker {
    struct Data {
        inner: Waker,
        hooks: HookKey,
    }

    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_data);

    // SAFETY (all four): `data` is the `Box<Data>` leaked below, live until `wake` or `drop_data`
    // takes it back, which the `RawWaker` contract says happens once. `Data` is `Send + Sync`.
    unsafe fn clone(data: *const ()) -> RawWaker {
        let data = unsafe { &*data.cast::<Data>() };
        data.hooks.call(|h| h.on_clone.clone());
        let clone = ManuallyDrop::new(data.inner.clone());
        RawWaker::new(clone.data(), clone.vtable())
    }
    unsafe fn wake(data: *const ()) {
        let data = unsafe { Box::from_raw(data.cast::<Data>().cast_mut()) };
        data.inner.wake_by_ref();
    }
    unsafe fn wake_by_ref(data: *const ()) {
        unsafe { &*data.cast::<Data>() }.inner.wake_by_ref();
    }
    unsafe fn drop_data(data: *const ()) {
        drop(unsafe { Box::from_raw(data.cast::<Data>().cast_mut()) });
    }

    let hooks = HookKey::new(Hooks {
        on_clone: Some(Rc::new(on_clone)),
        ..Hooks::default()
    });
    let data = Box::into_raw(Box::new(Data { inner, hooks }));
    // SAFETY: the vtable's functions uphold the `RawWaker` contract for this data (see above).
    unsafe { Waker::from_raw(RawWaker::new(data.cast_const().cast(), &VTABLE)) }
}

/// A foreign waker that signals on a channel when woken, from any thread.
struct Signal(std::sync::mpsc::Sender<()>);

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        let _ = self.0.send(());
    }
}

// ----- Polling -----

fn poll_with<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Polls `fut` with `first`, which it stores, and drops `first` here, so that the primitive holds
/// its last clone; then polls with `second`, which replaces it: `first` is dropped, and its hook
/// runs, inside that poll.
fn poll_replacing<F: Future + ?Sized>(
    mut fut: Pin<&mut F>,
    first: Waker,
    second: &Waker,
) -> Poll<F::Output> {
    assert!(
        poll_with(fut.as_mut(), &first).is_pending(),
        "the first poll waits"
    );
    drop(first);
    poll_with(fut, second)
}

/// What `fut` completes with, given that its last poll, with `waker`, returned `last`: that, or,
/// if it was pending, what the next poll returns once `waker` has been woken (it must have been:
/// the hook that ran made the future ready).
fn outcome<F: Future + ?Sized>(
    last: Poll<F::Output>,
    fut: Pin<&mut F>,
    waker: &Waker,
    woken: &Counter,
) -> F::Output {
    match last {
        Poll::Ready(out) => out,
        Poll::Pending => {
            assert!(woken.get() > 0, "pending, and the waker was never woken");
            match poll_with(fut, waker) {
                Poll::Ready(out) => out,
                Poll::Pending => panic!("woken, but still pending"),
            }
        }
    }
}

/// Polls `fut` with `waker`, which it stores, drops `waker` here (the primitive now holds its last
/// clone), then drops `fut` while it waits: the primitive drops the waker, and its hook runs, as
/// the future leaves the queue.
fn poll_then_drop<F: Future>(fut: F, waker: Waker) {
    let mut fut = pin!(fut);
    assert!(poll_with(fut.as_mut(), &waker).is_pending());
    drop(waker);
}

/// Runs `f` on a thread of its own and fails if it has not returned within a few seconds: a waker
/// dropped under a `std::sync::Mutex` guard that locks the same mutex deadlocks, it does not panic.
fn returns_in_time(what: &str, f: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let thread = thread::spawn(move || {
        f();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(Duration::from_secs(5)) {
        Ok(()) => thread.join().unwrap(),
        Err(RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(RecvTimeoutError::Timeout) => panic!("{what} has not returned after 5 s: deadlocked"),
    }
}

// ----- Replacing a waker -----

#[test]
fn oneshot_receiver_replaces_a_waker_that_sends() {
    let (tx, mut rx) = oneshot::channel();
    let sent = counter();
    let first = dropping({
        let sent = sent.clone();
        move || {
            tx.send(5).unwrap();
            bump(&sent);
        }
    });
    let (second, woken) = counting();
    let last = poll_replacing(Pin::new(&mut rx), first, &second);
    assert_eq!(sent.get(), 1, "the replaced waker was dropped");
    assert_eq!(outcome(last, Pin::new(&mut rx), &second, &woken), Ok(5));
}

#[test]
fn oneshot_receiver_polled_with_a_waker_whose_clone_sends() {
    let (tx, mut rx) = oneshot::channel();
    let tx = RefCell::new(Some(tx));
    let (first, _) = counting();
    assert!(poll_with(Pin::new(&mut rx), &first).is_pending());
    let (inner, woken) = counting();
    let second = cloning(inner, move || {
        if let Some(tx) = tx.borrow_mut().take() {
            tx.send(5).unwrap();
        }
    });
    let last = poll_with(Pin::new(&mut rx), &second);
    // Sent while the receiver stored the clone: not missed.
    assert_eq!(outcome(last, Pin::new(&mut rx), &second, &woken), Ok(5));
}

#[test]
fn mpsc_bounded_send_replaces_a_waker_that_receives() {
    let (tx, rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let rx = Rc::new(RefCell::new(rx));
    let received = Rc::new(RefCell::new(Vec::new()));
    let first = dropping({
        let (rx, received) = (rx.clone(), received.clone());
        move || received.borrow_mut().push(rx.borrow_mut().try_recv())
    });
    let (second, woken) = counting();
    let mut send = pin!(tx.send(2));
    let last = poll_replacing(send.as_mut(), first, &second);
    assert_eq!(
        *received.borrow(),
        [Ok(1)],
        "the replaced waker was dropped"
    );
    assert!(outcome(last, send, &second, &woken).is_ok());
    assert_eq!(rx.borrow_mut().try_recv(), Ok(2));
}

#[test]
fn mpsc_unbounded_receiver_replaces_a_waker_that_sends() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sent = counter();
    let first = dropping({
        let (tx, sent) = (tx.clone(), sent.clone());
        move || {
            tx.send(7).unwrap();
            bump(&sent);
        }
    });
    let (second, woken) = counting();
    let mut recv = pin!(poll_fn(|cx| rx.poll_recv(cx)));
    let last = poll_replacing(recv.as_mut(), first, &second);
    assert_eq!(sent.get(), 1, "the replaced waker was dropped");
    assert_eq!(outcome(last, recv, &second, &woken), Some(7));
}

#[test]
fn broadcast_receiver_replaces_a_waker_that_sends() {
    let (tx, mut rx) = broadcast::channel(4);
    let sent = counter();
    let first = dropping({
        let (tx, sent) = (tx.clone(), sent.clone());
        move || {
            tx.send(9).unwrap();
            bump(&sent);
        }
    });
    let (second, woken) = counting();
    let mut recv = pin!(rx.recv());
    let last = poll_replacing(recv.as_mut(), first, &second);
    assert_eq!(sent.get(), 1, "the replaced waker was dropped");
    assert_eq!(outcome(last, recv, &second, &woken), Ok(9));
}

#[test]
fn watch_changed_replaces_a_waker_that_sends() {
    let (tx, mut rx) = watch::channel(0);
    let tx = Rc::new(tx);
    let sent = counter();
    let first = dropping({
        let (tx, sent) = (tx.clone(), sent.clone());
        move || {
            tx.send(1).unwrap();
            bump(&sent);
        }
    });
    let (second, woken) = counting();
    {
        let mut changed = pin!(rx.changed());
        let last = poll_replacing(changed.as_mut(), first, &second);
        assert_eq!(sent.get(), 1, "the replaced waker was dropped");
        assert_eq!(outcome(last, changed, &second, &woken), Ok(()));
    }
    assert_eq!(*rx.borrow(), 1);
}

#[test]
fn watch_closed_replaces_a_waker_that_drops_the_last_receiver() {
    let (tx, rx) = watch::channel(0);
    let dropped = counter();
    let first = dropping({
        let dropped = dropped.clone();
        move || {
            drop(rx);
            bump(&dropped);
        }
    });
    let (second, woken) = counting();
    let mut closed = pin!(tx.closed());
    let last = poll_replacing(closed.as_mut(), first, &second);
    assert_eq!(dropped.get(), 1, "the replaced waker was dropped");
    outcome(last, closed, &second, &woken);
}

#[test]
fn notified_replaces_a_waker_that_notifies() {
    let notify = Rc::new(Notify::new());
    let notified = counter();
    let first = dropping({
        let (notify, notified) = (notify.clone(), notified.clone());
        move || {
            notify.notify_one();
            bump(&notified);
        }
    });
    let (second, woken) = counting();
    let mut wait = pin!(notify.notified());
    let last = poll_replacing(wait.as_mut(), first, &second);
    assert_eq!(notified.get(), 1, "the replaced waker was dropped");
    outcome(last, wait, &second, &woken);
}

#[test]
fn semaphore_acquire_replaces_a_waker_that_adds_a_permit() {
    let sem = Rc::new(Semaphore::new(0));
    let added = counter();
    let first = dropping({
        let (sem, added) = (sem.clone(), added.clone());
        move || {
            sem.add_permits(1);
            bump(&added);
        }
    });
    let (second, woken) = counting();
    let mut acquire = pin!(sem.acquire());
    let last = poll_replacing(acquire.as_mut(), first, &second);
    assert_eq!(added.get(), 1, "the replaced waker was dropped");
    let permit = outcome(last, acquire, &second, &woken).unwrap();
    assert_eq!(permit.num_permits(), 1);
}

#[test]
fn mutex_lock_replaces_a_waker_that_unlocks() {
    let mutex: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
    let guard = Rc::new(RefCell::new(Some(mutex.try_lock().unwrap())));
    let first = dropping({
        let guard = guard.clone();
        move || {
            let unlock = guard.borrow_mut().take();
            drop(unlock);
        }
    });
    let (second, woken) = counting();
    let mut lock = pin!(mutex.lock());
    let last = poll_replacing(lock.as_mut(), first, &second);
    assert!(guard.borrow().is_none(), "the replaced waker was dropped");
    let mut locked = outcome(last, lock, &second, &woken);
    *locked += 1;
    drop(locked);
    assert_eq!(*mutex.try_lock().unwrap(), 1);
}

#[test]
fn remote_receiver_replaces_a_waker_that_sends() {
    returns_in_time("RemoteReceiver::poll_recv", || {
        let (tx, mut rx) = evloop::sync::remote_channel();
        let sent = counter();
        let first = dropping({
            let (tx, sent) = (tx.clone(), sent.clone());
            move || {
                tx.send(3).unwrap();
                bump(&sent);
            }
        });
        let (second, woken) = counting();
        let mut recv = pin!(poll_fn(|cx| rx.poll_recv(cx)));
        let last = poll_replacing(recv.as_mut(), first, &second);
        assert_eq!(sent.get(), 1, "the replaced waker was dropped");
        assert_eq!(outcome(last, recv, &second, &woken), Some(3));
    });
}

#[test]
fn blocking_handle_replaces_a_waker_that_waits_for_the_job() {
    returns_in_time("BlockingHandle::poll", || {
        const LONG: Duration = Duration::from_secs(10);
        let _lp = evloop::EventLoop::new().unwrap();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let mut job = pin!(evloop::spawn_blocking(move || {
            let _ = go_rx.recv_timeout(LONG);
            5
        }));
        // Dropped in the second poll: lets the job finish, and waits until it has left its result
        // (and woken the second waker), which it cannot while the poll holds the result's lock.
        let finished = counter();
        let first = dropping({
            let finished = finished.clone();
            move || {
                go_tx.send(()).unwrap();
                if done_rx.recv_timeout(LONG).is_ok() {
                    bump(&finished);
                }
            }
        });
        let second = Waker::from(Arc::new(Signal(done_tx)));
        let last = poll_replacing(job.as_mut(), first, &second);
        assert_eq!(
            finished.get(),
            1,
            "the job finished while the replaced waker was dropped"
        );
        let out = match last {
            Poll::Ready(out) => out,
            Poll::Pending => match poll_with(job, &second) {
                Poll::Ready(out) => out,
                Poll::Pending => panic!("the job finished, but its handle is still pending"),
            },
        };
        assert_eq!(out.unwrap(), 5);
    });
}

// ----- Dropping a waiting future -----

#[test]
fn a_cancelled_mpsc_send_drops_its_waker_with_no_borrow_held() {
    let (tx, rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let rx = Rc::new(RefCell::new(rx));
    let received = Rc::new(RefCell::new(Vec::new()));
    let waker = dropping({
        let (rx, received) = (rx.clone(), received.clone());
        move || received.borrow_mut().push(rx.borrow_mut().try_recv())
    });
    poll_then_drop(tx.send(2), waker);
    // The withdrawn value was never sent.
    assert_eq!(*received.borrow(), [Ok(1)]);
}

#[test]
fn a_cancelled_broadcast_receive_drops_its_waker_with_no_borrow_held() {
    let (tx, mut rx) = broadcast::channel(4);
    let sent = Rc::new(RefCell::new(Vec::new()));
    let waker = dropping({
        let (tx, sent) = (tx.clone(), sent.clone());
        move || sent.borrow_mut().push(tx.send(8))
    });
    poll_then_drop(rx.recv(), waker);
    assert_eq!(*sent.borrow(), [Ok(1)]);
    assert_eq!(rx.try_recv(), Ok(8));
}

#[test]
fn a_cancelled_watch_changed_drops_its_waker_with_no_borrow_held() {
    let (tx, mut rx) = watch::channel(0);
    let tx = Rc::new(tx);
    let waker = dropping({
        let tx = tx.clone();
        move || tx.send(4).unwrap()
    });
    poll_then_drop(rx.changed(), waker);
    assert_eq!(rx.has_changed(), Ok(true));
    assert_eq!(*rx.borrow_and_update(), 4);
}

#[test]
fn a_cancelled_notified_drops_its_waker_with_no_borrow_held() {
    let notify = Rc::new(Notify::new());
    let waker = dropping({
        let notify = notify.clone();
        move || notify.notify_one()
    });
    poll_then_drop(notify.notified(), waker);
    // Nobody waited any more: the notification was kept as the permit.
    assert!(poll_with(pin!(notify.notified()), &noop_waker()).is_ready());
}

#[test]
fn a_cancelled_acquire_drops_its_waker_with_no_borrow_held() {
    let sem = Rc::new(Semaphore::new(0));
    let waker = dropping({
        let sem = sem.clone();
        move || sem.add_permits(2)
    });
    poll_then_drop(sem.acquire(), waker);
    assert_eq!(sem.available_permits(), 2);
}

// ----- Waking to yield -----

#[test]
fn an_mpsc_receiver_out_of_budget_wakes_with_no_borrow_held() {
    util::run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..1000 {
            tx.send(i).unwrap();
        }
        let sent = counter();
        let waker = waking({
            let sent = sent.clone();
            move || {
                tx.send(0).unwrap();
                bump(&sent);
            }
        });
        let mut cx = Context::from_waker(&waker);
        let mut taken = 0;
        while rx.poll_recv(&mut cx).is_ready() {
            taken += 1;
            assert!(taken < 1000, "never ran out of budget");
        }
        assert_eq!(sent.get(), 1, "woken to yield");
    });
}

#[test]
fn a_broadcast_receiver_out_of_budget_wakes_with_no_borrow_held() {
    util::run(async {
        let (tx, mut rx) = broadcast::channel(1024);
        for i in 0..1000 {
            tx.send(i).unwrap();
        }
        let sent = counter();
        let waker = waking({
            let sent = sent.clone();
            move || {
                tx.send(0).unwrap();
                bump(&sent);
            }
        });
        let mut taken = 0;
        while poll_with(pin!(rx.recv()), &waker).is_ready() {
            taken += 1;
            assert!(taken < 1000, "never ran out of budget");
        }
        assert_eq!(sent.get(), 1, "woken to yield");
    });
}

// ----- Cloning a waker -----

#[test]
fn notified_polled_with_a_waker_whose_clone_notifies() {
    let notify = Rc::new(Notify::new());
    let (inner, woken) = counting();
    let waker = cloning(inner, {
        let notify = notify.clone();
        move || notify.notify_one()
    });
    let mut wait = pin!(notify.notified());
    let last = poll_with(wait.as_mut(), &waker);
    outcome(last, wait, &waker, &woken);
}

#[test]
fn acquire_polled_with_a_waker_whose_clone_adds_a_permit() {
    let sem = Rc::new(Semaphore::new(0));
    let (first, _) = counting();
    let mut acquire = pin!(sem.acquire());
    assert!(poll_with(acquire.as_mut(), &first).is_pending());
    let (inner, woken) = counting();
    let second = cloning(inner, {
        let sem = sem.clone();
        move || sem.add_permits(1)
    });
    let last = poll_with(acquire.as_mut(), &second);
    let permit = outcome(last, acquire, &second, &woken).unwrap();
    assert_eq!(permit.num_permits(), 1);
}
