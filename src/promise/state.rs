//! The state a promise shares with its resolver and with the loop callbacks that deliver its outcome.
//!
//! One `Rc<State>` per promise. Its life:
//!
//! ```text
//! Pending ──settle──▶ Ready ──dispatch (a queued callback)──▶ Taken
//!                       ▲   └──observers run──▶ Dispatching ──┘ (back to Ready, then the consumer)
//! ```
//!
//! Observers ([`Promise::on_settled`](super::Promise::on_settled)) borrow the outcome, in attachment
//! order; then the one consumer (a chained callback, or the task awaiting the promise) takes it.
//! Settling never runs user code: it queues one loop callback, which runs the observers and the
//! consumer. A task awaiting a promise with no observers is just woken.
//!
//! No `RefCell` borrow is held while user code runs (a callback, a canceller, the error hook, or the
//! `Drop` of user data), so every callback may freely use the promise or resolver it came from.

use std::cell::RefCell;
use std::fmt::Debug;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use super::{AlreadySettled, PromiseError};
use crate::event_loop::{Handle, LoopError};
use crate::sync::{NeedsClone, NewWaker};

/// What a promise completes with.
pub(crate) type Outcome<T, E> = Result<T, PromiseError<E>>;

type Borrowed<'a, T, E> = std::cell::RefMut<'a, Inner<T, E>>;
type TakeResult<'a, T, E> = Result<Poll<Outcome<T, E>>, (NeedsClone, Borrowed<'a, T, E>)>;

type Observer<T, E> = Box<dyn FnOnce(&Outcome<T, E>)>;
pub(crate) type Callback<T, E> = Box<dyn FnOnce(Outcome<T, E>)>;
pub(crate) type Canceller = Box<dyn FnOnce()>;

enum Stage<T, E> {
    Pending,
    Ready(Outcome<T, E>),
    /// Observers are running with the outcome lent out.
    Dispatching,
    /// The consumer took the outcome.
    Taken,
}

enum Consumer<T, E> {
    None,
    Callback(Callback<T, E>),
    /// A task awaiting the promise.
    Waker(Waker),
}

/// Cancelling a promise through a type-erased link (from a promise derived from it).
pub(crate) trait Cancel {
    fn cancel_dyn(self: Rc<Self>) -> bool;
}

pub(crate) struct State<T, E> {
    inner: RefCell<Inner<T, E>>,
    /// Drops a reference to a state through the loop's trash (flat, see `Resolver`'s `Drop`);
    /// monomorphised at creation, where `T: 'static` is known.
    dispose: fn(Rc<State<T, E>>),
}

struct Inner<T, E> {
    handle: Handle,
    stage: Stage<T, E>,
    observers: Vec<Observer<T, E>>,
    consumer: Consumer<T, E>,
    /// A dispatch callback is in the loop's queue.
    queued: bool,
    /// Someone took responsibility for a failure: an observer or consumer callback was attached, or
    /// an `await` returned the outcome. Also set once an unobserved failure has been reported.
    observed: bool,
    /// The `Promise` handle is gone; only a resolver, callbacks or links keep the state.
    detached: bool,
    canceller: Option<Canceller>,
    /// The promise this one waits on (the source of a chain, or a promise it was flattened into).
    upstream: Option<Weak<dyn Cancel>>,
    /// A task that wants to know when the promise is settled by someone other than its resolver
    /// (the bridge of a remote resolver, to stop waiting once the promise is cancelled).
    resolver_waker: Option<Waker>,
    /// These two are monomorphised where `T: 'static` and `E: Debug` are known (at creation), so
    /// that `Drop` impls and unbounded methods can queue work and describe failures without the
    /// bounds spreading to the public types.
    queue_dispatch: fn(&Handle, Rc<State<T, E>>),
    describe: fn(&PromiseError<E>) -> String,
}

/// What settling took out of the state: run it to cancel, or drop it when resolved.
pub(crate) struct Leftover {
    canceller: Option<Canceller>,
    upstream: Option<Weak<dyn Cancel>>,
    resolver_waker: Option<Waker>,
}

impl Leftover {
    /// Runs the cancellation steps: wake a remote bridge, the canceller, then the upstream promise.
    fn cancel(self) {
        if let Some(w) = self.resolver_waker {
            w.wake();
        }
        if let Some(canceller) = self.canceller {
            canceller();
        }
        if let Some(up) = self.upstream.and_then(|w| w.upgrade()) {
            up.cancel_dyn();
        }
    }
}

fn describe<E: Debug>(e: &PromiseError<E>) -> String {
    format!("{e:?}")
}

fn queue_dispatch<T: 'static, E: 'static>(handle: &Handle, state: Rc<State<T, E>>) {
    // Refused by a loop that is being dropped (or was): the outcome has nobody left to reach.
    handle.call_soon_quiet(move |_| state.dispatch());
}

fn dispose<T: 'static, E: 'static>(state: Rc<State<T, E>>) {
    let core = state.inner.borrow().handle.core.clone();
    core.discard(state);
}

/// Reports from a loop callback rather than from wherever the promise was dropped: a hook that
/// re-raises must not panic inside a `Drop` (possibly while already unwinding).
fn report_later(handle: &Handle, error: LoopError) {
    handle.call_soon_quiet(move |h| h.report(error));
}

impl<T: 'static, E: Debug + 'static> State<T, E> {
    pub(crate) fn new(handle: Handle) -> Rc<State<T, E>> {
        Rc::new(State {
            inner: RefCell::new(Inner {
                handle,
                stage: Stage::Pending,
                observers: Vec::new(),
                consumer: Consumer::None,
                queued: false,
                observed: false,
                detached: false,
                canceller: None,
                upstream: None,
                resolver_waker: None,
                queue_dispatch: queue_dispatch::<T, E>,
                describe: describe::<E>,
            }),
            dispose: dispose::<T, E>,
        })
    }
}

impl<T: 'static, E: 'static> State<T, E> {
    /// A link that cancels this promise, for a promise that waits on it.
    pub(crate) fn cancel_link(self: &Rc<Self>) -> Weak<dyn Cancel> {
        let weak: Weak<Self> = Rc::downgrade(self);
        weak
    }
}

impl<T: 'static, E: 'static> Cancel for State<T, E> {
    fn cancel_dyn(self: Rc<Self>) -> bool {
        self.cancel()
    }
}

impl<T, E> State<T, E> {
    /// Drops this reference to the state through the loop's trash, so that a chain of promises
    /// held by each other's callbacks is dropped link by link, not recursively.
    pub(crate) fn dispose(self: Rc<Self>) {
        (self.dispose)(self)
    }

    pub(crate) fn handle(&self) -> Handle {
        self.inner.borrow().handle.clone()
    }

    pub(crate) fn is_pending(&self) -> bool {
        matches!(self.inner.borrow().stage, Stage::Pending)
    }

    /// "pending", "resolved", "rejected" (any failure), "dispatching" or "taken", for `Debug`.
    pub(crate) fn stage_name(&self) -> &'static str {
        match self.inner.try_borrow().as_deref().map(|s| &s.stage) {
            Ok(Stage::Pending) => "pending",
            Ok(Stage::Ready(Ok(_))) => "resolved",
            Ok(Stage::Ready(Err(_))) => "rejected",
            Ok(Stage::Dispatching) | Err(_) => "dispatching",
            Ok(Stage::Taken) => "taken",
        }
    }

    /// Settles a pending promise and queues the delivery of its outcome.
    pub(crate) fn settle(
        self: &Rc<Self>,
        outcome: Outcome<T, E>,
    ) -> Result<Leftover, AlreadySettled> {
        let mut s = self.inner.borrow_mut();
        if !matches!(s.stage, Stage::Pending) {
            drop(s);
            drop(outcome);
            return Err(AlreadySettled);
        }
        // A promise nobody holds any more, failing with nobody to tell: report it now.
        let report = match &outcome {
            Err(e) if s.detached && !s.observed && e.is_reportable() => {
                s.observed = true;
                Some((s.handle.clone(), (s.describe)(e)))
            }
            _ => None,
        };
        s.stage = Stage::Ready(outcome);
        let leftover = Leftover {
            canceller: s.canceller.take(),
            upstream: s.upstream.take(),
            resolver_waker: s.resolver_waker.take(),
        };
        let wake = self.schedule(&mut s);
        drop(s);
        if let Some(w) = wake {
            w.wake();
        }
        if let Some((handle, msg)) = report {
            report_later(&handle, LoopError::UnobservedRejection(msg));
        }
        Ok(leftover)
    }

    /// Settles a pending promise with `Cancelled`, then runs its canceller and cancels what it waits
    /// on. Returns whether it was pending.
    pub(crate) fn cancel(self: &Rc<Self>) -> bool {
        self.cancel_with(PromiseError::Cancelled)
    }

    /// Like `cancel`, failing with `error` instead of `Cancelled`.
    pub(crate) fn cancel_with(self: &Rc<Self>, error: PromiseError<E>) -> bool {
        match self.settle(Err(error)) {
            Ok(leftover) => {
                leftover.cancel();
                true
            }
            Err(AlreadySettled) => false,
        }
    }

    /// Arranges for a settled outcome to reach its observers and consumer: queues a dispatch, or
    /// returns the waker of an awaiting task when there is nothing else to run (the caller wakes it
    /// once the borrow is released).
    fn schedule(self: &Rc<Self>, s: &mut Inner<T, E>) -> Option<Waker> {
        if s.queued || !matches!(s.stage, Stage::Ready(_)) {
            return None;
        }
        if s.observers.is_empty() {
            match mem::replace(&mut s.consumer, Consumer::None) {
                Consumer::None => return None,
                Consumer::Waker(w) => return Some(w),
                callback @ Consumer::Callback(_) => s.consumer = callback,
            }
        }
        s.queued = true;
        (s.queue_dispatch)(&s.handle, Rc::clone(self));
        None
    }

    /// The queued delivery: observers with a borrowed outcome, in order, then the consumer.
    fn dispatch(self: &Rc<Self>) {
        let mut s = self.inner.borrow_mut();
        s.queued = false;
        if !s.observers.is_empty() {
            let outcome = match mem::replace(&mut s.stage, Stage::Dispatching) {
                Stage::Ready(outcome) => outcome,
                // Not reached: a dispatch is queued only for a settled promise, and nothing takes
                // the outcome while one is queued. Leave everything as it was.
                other => {
                    s.stage = other;
                    return;
                }
            };
            let observers = mem::take(&mut s.observers);
            let handle = s.handle.clone();
            drop(s);
            for f in observers {
                // An observer's panic must not lose the outcome for the ones after it, nor for the
                // consumer; it goes to the error hook like any callback's.
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(&outcome))) {
                    report_later(&handle, LoopError::CallbackPanic(panic));
                }
            }
            s = self.inner.borrow_mut();
            s.stage = Stage::Ready(outcome);
            if !s.observers.is_empty() {
                // Attached by the observers that just ran: they run in a later callback, and the
                // consumer, attached after them, waits for them.
                let wake = self.schedule(&mut s);
                debug_assert!(
                    wake.is_none(),
                    "observers are pending, so a dispatch is queued"
                );
                return;
            }
        }
        match mem::replace(&mut s.consumer, Consumer::None) {
            Consumer::Callback(f) => {
                let Stage::Ready(outcome) = mem::replace(&mut s.stage, Stage::Taken) else {
                    unreachable!("the stage is Ready whenever a dispatch runs");
                };
                drop(s);
                f(outcome);
            }
            Consumer::Waker(w) => {
                drop(s);
                w.wake();
            }
            Consumer::None => {}
        }
    }

    /// Adds an observer; it runs in a later loop callback once the promise is settled.
    ///
    /// # Panics
    ///
    /// If the outcome was already taken by awaiting the promise.
    pub(crate) fn observe(self: &Rc<Self>, f: Observer<T, E>) {
        let mut s = self.inner.borrow_mut();
        if matches!(s.stage, Stage::Taken) {
            drop(s);
            drop(f);
            panic!(
                "evloop: Promise::on_settled called after the promise was awaited to completion"
            );
        }
        s.observed = true;
        s.observers.push(f);
        let wake = self.schedule(&mut s);
        drop(s);
        debug_assert!(
            wake.is_none(),
            "observers are pending, so a dispatch is queued"
        );
    }

    /// Makes `f` the consumer: it takes the outcome in a later loop callback, after the observers.
    ///
    /// # Panics
    ///
    /// If the outcome was already taken by awaiting the promise.
    pub(crate) fn subscribe(self: &Rc<Self>, f: Callback<T, E>) {
        let mut s = self.inner.borrow_mut();
        if matches!(s.stage, Stage::Taken) {
            drop(s);
            drop(f);
            panic!("evloop: callback chained to a promise that was awaited to completion");
        }
        s.observed = true;
        let old = mem::replace(&mut s.consumer, Consumer::Callback(f));
        let wake = self.schedule(&mut s);
        drop(s);
        drop(old);
        debug_assert!(wake.is_none(), "the consumer is a callback, not a waker");
    }

    /// The `Future` side: takes the outcome if it is settled and no observer is still to run.
    ///
    /// # Panics
    ///
    /// If the outcome was already taken.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Outcome<T, E>> {
        // Declared before the borrow: a waker it replaces is dropped after the borrow ends.
        let mut new = NewWaker::new(cx.waker());
        loop {
            let s = self.inner.borrow_mut();
            match self.try_take(s, &mut new) {
                Ok(poll) => return poll,
                // A foreign waker: cloned with the state free, then look again.
                Err((NeedsClone, s)) => new.clone_after(s),
            }
        }
    }

    /// [`State::poll_take`] under the borrow `s`: the outcome or `Pending`, or the borrow back with
    /// [`NeedsClone`] for a foreign waker.
    fn try_take<'a>(
        &'a self,
        mut s: Borrowed<'a, T, E>,
        new: &mut NewWaker<'_>,
    ) -> TakeResult<'a, T, E> {
        if matches!(s.stage, Stage::Ready(_)) && s.observers.is_empty() && !s.queued {
            let Stage::Ready(outcome) = mem::replace(&mut s.stage, Stage::Taken) else {
                unreachable!("matched above");
            };
            s.observed = true;
            let old = mem::replace(&mut s.consumer, Consumer::None);
            drop(s);
            drop(old);
            return Ok(Poll::Ready(outcome));
        }
        if matches!(s.stage, Stage::Taken) {
            drop(s);
            panic!("evloop: Promise polled after it completed");
        }
        if matches!(&s.consumer, Consumer::Waker(w) if w.will_wake(new.waker())) {
            return Ok(Poll::Pending);
        }
        let waker = match new.take() {
            Ok(w) => w,
            Err(NeedsClone) => return Err((NeedsClone, s)),
        };
        let old = mem::replace(&mut s.consumer, Consumer::Waker(waker));
        drop(s);
        drop(old);
        Ok(Poll::Pending)
    }

    /// The `Promise` handle was dropped: forget an awaiting task's waker, and report an unobserved
    /// failure.
    pub(crate) fn promise_dropped(&self) {
        let Ok(mut s) = self.inner.try_borrow_mut() else {
            // Not reached: no borrow is held while user code (which could drop a promise) runs.
            return;
        };
        s.detached = true;
        let old = match s.consumer {
            Consumer::Waker(_) => mem::replace(&mut s.consumer, Consumer::None),
            _ => Consumer::None,
        };
        let report = match &s.stage {
            Stage::Ready(Err(e)) if !s.observed && e.is_reportable() => {
                Some((s.handle.clone(), (s.describe)(e)))
            }
            _ => None,
        };
        if report.is_some() {
            s.observed = true;
        }
        drop(s);
        drop(old);
        if let Some((handle, msg)) = report {
            report_later(&handle, LoopError::UnobservedRejection(msg));
        }
    }

    /// Sets what `cancel` calls; dropped unused if the promise is settled otherwise.
    pub(crate) fn set_canceller(&self, canceller: Canceller) {
        let mut s = self.inner.borrow_mut();
        let old = if matches!(s.stage, Stage::Pending) {
            s.canceller.replace(canceller)
        } else {
            Some(canceller)
        };
        drop(s);
        drop(old);
    }

    /// Sets the promise this one waits on, cancelled with it.
    pub(crate) fn set_upstream(&self, upstream: Weak<dyn Cancel>) {
        let mut s = self.inner.borrow_mut();
        if matches!(s.stage, Stage::Pending) {
            s.upstream = Some(upstream);
        }
    }

    /// Ready once the promise is settled (by anyone); otherwise registers `cx`'s waker to be woken
    /// when it is cancelled.
    pub(crate) fn poll_settled(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Declared before the borrow: a waker it replaces is dropped after the borrow ends.
        let mut new = NewWaker::new(cx.waker());
        loop {
            let mut s = self.inner.borrow_mut();
            if !matches!(s.stage, Stage::Pending) {
                return Poll::Ready(());
            }
            match new.store(&mut s.resolver_waker) {
                Ok(()) => return Poll::Pending,
                Err(NeedsClone) => new.clone_after(s),
            }
        }
    }
}
