//! The single allocation of a task: its future, then its output, plus what the `JoinHandle` needs.

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::JoinError;

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    /// The output was taken by the `JoinHandle`.
    Consumed,
}

/// A task as the loop sees it: something to poll and, at shutdown, to drop.
pub(crate) trait RawTask {
    /// Polls the future once. `Ready(Some(panic))` means it finished with a panic nobody will
    /// observe (the task was detached); `Ready(None)` means it finished otherwise.
    fn poll(&self, cx: &mut Context<'_>) -> Poll<Option<Box<dyn Any + Send>>>;
    /// Drops the future in place, as the loop is dropped.
    fn shutdown(&self);
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

    fn finish(
        &self,
        stage: &mut Stage<F>,
        result: Result<F::Output, JoinError>,
    ) -> Option<Box<dyn Any + Send>> {
        if self.flag(DETACHED) {
            // Drop the future in place first, then the output; a panic payload goes to the loop.
            *stage = Stage::Consumed;
            return match result {
                Err(JoinError::Panic(p)) => Some(p),
                _ => None,
            };
        }
        *stage = Stage::Finished(result);
        None
    }
}

impl<F: Future> RawTask for TaskCell<F> {
    fn poll(&self, cx: &mut Context<'_>) -> Poll<Option<Box<dyn Any + Send>>> {
        let polled = self.with_stage(|stage| {
            let Stage::Running(future) = stage else {
                return Poll::Ready(None);
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
        let Some(Poll::Ready(unobserved)) = polled else {
            return Poll::Pending;
        };
        if let Some(w) = self.join_waker.take() {
            w.wake();
        }
        Poll::Ready(unobserved)
    }

    fn shutdown(&self) {
        self.with_stage(|stage| {
            if matches!(stage, Stage::Running(_)) {
                *stage = Stage::Finished(Err(JoinError::Cancelled));
            }
        });
        if let Some(w) = self.join_waker.take() {
            w.wake();
        }
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
        Some(super::waker::from_data(self.waker))
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
