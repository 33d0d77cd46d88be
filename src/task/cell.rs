//! The single allocation of a task: its future, then its output, plus what the `JoinHandle` needs.

use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::JoinError;
use crate::driver::tasks::{Finished, Panic, RawTask};

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    /// The output was taken by the `JoinHandle`.
    Consumed,
}

/// A task as its `JoinHandle` sees it.
pub(crate) trait Join<T> {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>>;
    /// Asks for cancellation; returns the waker that reschedules the task.
    fn abort(&self) -> Option<Waker>;
    fn is_finished(&self) -> bool;
    fn detach(&self);
}

const BORROWED: u8 = 1;
const ABORTED: u8 = 1 << 1;
const DETACHED: u8 = 1 << 2;

/// # Invariant
///
/// - `stage` lives inside an `Rc` for its whole life and a `Running` future is never moved out of
///   it: it is polled where it is and dropped in place, so it is pinned.
/// - A reference into `stage` exists only inside [`TaskCell::with_stage`], which sets the
///   `BORROWED` flag for that time and refuses to run while it is set (a `RefCell` with its flag
///   folded into `flags`, which keeps a task's allocation 16 bytes smaller).
pub(crate) struct TaskCell<F: Future> {
    flags: Cell<u8>,
    /// The task's own waker (its packed data), for `abort`.
    waker: usize,
    join_waker: Cell<Option<Waker>>,
    stage: UnsafeCell<Stage<F>>,
}

/// Clears `BORROWED` when a `with_stage` call ends, also by unwinding.
struct Release<'a>(&'a Cell<u8>);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() & !BORROWED);
    }
}

impl<F: Future> TaskCell<F> {
    pub(crate) fn new(future: F, waker: usize) -> Self {
        TaskCell {
            flags: Cell::new(0),
            waker,
            join_waker: Cell::new(None),
            stage: UnsafeCell::new(Stage::Running(future)),
        }
    }

    fn flag(&self, flag: u8) -> bool {
        self.flags.get() & flag != 0
    }

    fn set_flag(&self, flag: u8) {
        self.flags.set(self.flags.get() | flag);
    }

    /// Runs `f` on the stage, or returns `None` if it is already being accessed (the task is being
    /// polled and its future reached this task's own `JoinHandle`).
    #[inline]
    fn with_stage<R>(&self, f: impl FnOnce(&mut Stage<F>) -> R) -> Option<R> {
        if self.flag(BORROWED) {
            return None;
        }
        self.set_flag(BORROWED);
        let _release = Release(&self.flags);
        // SAFETY: `BORROWED` was clear, so no other reference into `stage` exists (see the struct
        // invariant), and it stays set until `_release` drops, after `f` returns or unwinds.
        Some(f(unsafe { &mut *self.stage.get() }))
    }

    /// Drops the future in place and keeps `result` for the `JoinHandle` (or, for a detached
    /// task, drops it too). The drops are user code: a panic in one is caught and handed back,
    /// and the stage is left finished whatever happens.
    fn finish(&self, stage: &mut Stage<F>, result: Result<F::Output, JoinError>) -> Finished {
        let in_drop = catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed)).err();
        if self.flag(DETACHED) {
            // Nobody will read the output: drop it now; a panic payload goes to the loop.
            return match result {
                Err(JoinError::Panic(p)) => Finished::new(Some(p), in_drop),
                other => Finished::new(
                    None,
                    in_drop.or_else(|| catch_unwind(AssertUnwindSafe(|| drop(other))).err()),
                ),
            };
        }
        *stage = Stage::Finished(result);
        Finished::new(None, in_drop)
    }
}

impl<F: Future> RawTask for TaskCell<F> {
    fn poll(&self, cx: &mut Context<'_>) -> Poll<Finished> {
        let polled = self.with_stage(|stage| {
            let Stage::Running(future) = stage else {
                return Poll::Ready(Finished::default());
            };
            if self.flag(ABORTED) {
                return Poll::Ready(self.finish(stage, Err(JoinError::Cancelled)));
            }
            // SAFETY: see the struct invariant: the future stays at this address until it is
            // dropped in place by the assignment in `finish` or `shutdown`.
            let future = unsafe { Pin::new_unchecked(future) };
            match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(v)) => Poll::Ready(self.finish(stage, Ok(v))),
                Err(panic) => Poll::Ready(self.finish(stage, Err(JoinError::Panic(panic)))),
            }
        });
        // `None`: unreachable through the loop (a task is never polled re-entrantly).
        let Some(Poll::Ready(mut finished)) = polled else {
            return Poll::Pending;
        };
        if let Some(p) = self.wake_joiner() {
            finished.add_drop_panic(p);
        }
        Poll::Ready(finished)
    }

    fn shutdown(&self) -> Option<Panic> {
        let in_drop = self
            .with_stage(|stage| {
                if !matches!(stage, Stage::Running(_)) {
                    return None;
                }
                let panic = catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed)).err();
                *stage = Stage::Finished(Err(JoinError::Cancelled));
                panic
            })
            .flatten();
        in_drop.or(self.wake_joiner())
    }
}

impl<F: Future> TaskCell<F> {
    /// Wakes the task awaiting the `JoinHandle`; a foreign waker's `wake` is user code.
    fn wake_joiner(&self) -> Option<Panic> {
        let w = self.join_waker.take()?;
        catch_unwind(AssertUnwindSafe(|| w.wake())).err()
    }
}

impl<F: Future> Join<F::Output> for TaskCell<F> {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<F::Output, JoinError>> {
        let taken = self.with_stage(|stage| match stage {
            Stage::Finished(_) => match std::mem::replace(stage, Stage::Consumed) {
                Stage::Finished(r) => Some(r),
                _ => unreachable!("matched above"),
            },
            Stage::Consumed => panic!("evloop: JoinHandle polled after it returned its output"),
            Stage::Running(_) => None,
        });
        if let Some(Some(r)) = taken {
            return Poll::Ready(r);
        }
        self.join_waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }

    fn abort(&self) -> Option<Waker> {
        if self.is_finished() || self.flag(ABORTED) {
            return None;
        }
        self.set_flag(ABORTED);
        Some(crate::runtime::waker::from_data(self.waker))
    }

    fn is_finished(&self) -> bool {
        self.with_stage(|s| !matches!(s, Stage::Running(_)))
            .unwrap_or(false)
    }

    fn detach(&self) {
        self.set_flag(DETACHED);
        // A result nobody will read: free it now rather than with the task.
        self.with_stage(|stage| {
            if matches!(stage, Stage::Finished(_)) {
                *stage = Stage::Consumed;
            }
        });
    }
}
