//! The single allocation of a task: its future, then its output, plus what the `JoinHandle` needs.

use std::any::Any;
use std::cell::{Cell, RefCell};
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

/// # Invariant
///
/// `stage` lives inside an `Rc` for its whole life and a `Running` future is never moved out of it:
/// it is polled where it is and dropped in place, so it is pinned.
pub(crate) struct TaskCell<F: Future> {
    stage: RefCell<Stage<F>>,
    join_waker: Cell<Option<Waker>>,
    /// The task's own waker, for `abort`.
    waker: Waker,
    aborted: Cell<bool>,
    detached: Cell<bool>,
}

impl<F: Future> TaskCell<F> {
    pub(crate) fn new(future: F, waker: Waker) -> Self {
        TaskCell {
            stage: RefCell::new(Stage::Running(future)),
            join_waker: Cell::new(None),
            waker,
            aborted: Cell::new(false),
            detached: Cell::new(false),
        }
    }

    fn finish(
        &self,
        stage: &mut Stage<F>,
        result: Result<F::Output, JoinError>,
    ) -> Option<Box<dyn Any + Send>> {
        if self.detached.get() {
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
        let Ok(mut stage) = self.stage.try_borrow_mut() else {
            // Unreachable through the loop (a task is never polled re-entrantly); be safe anyway.
            return Poll::Pending;
        };
        let Stage::Running(future) = &mut *stage else {
            return Poll::Ready(None);
        };
        let unobserved = if self.aborted.get() {
            self.finish(&mut stage, Err(JoinError::Cancelled))
        } else {
            // SAFETY: see the struct invariant: the future stays at this address until it is
            // dropped in place by the assignment in `finish` or `shutdown`.
            let future = unsafe { Pin::new_unchecked(future) };
            match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(v)) => self.finish(&mut stage, Ok(v)),
                Err(panic) => self.finish(&mut stage, Err(JoinError::Panic(panic))),
            }
        };
        drop(stage);
        if let Some(w) = self.join_waker.take() {
            w.wake();
        }
        Poll::Ready(unobserved)
    }

    fn shutdown(&self) {
        if let Ok(mut stage) = self.stage.try_borrow_mut() {
            if matches!(*stage, Stage::Running(_)) {
                *stage = Stage::Finished(Err(JoinError::Cancelled));
            }
        }
        if let Some(w) = self.join_waker.take() {
            w.wake();
        }
    }
}

impl<F: Future> Join<F::Output> for TaskCell<F> {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<F::Output, JoinError>> {
        if let Ok(mut stage) = self.stage.try_borrow_mut() {
            if matches!(*stage, Stage::Finished(_)) {
                match std::mem::replace(&mut *stage, Stage::Consumed) {
                    Stage::Finished(r) => return Poll::Ready(r),
                    _ => unreachable!("matched above"),
                }
            }
            if matches!(*stage, Stage::Consumed) {
                panic!("evloop: JoinHandle polled after it returned its output");
            }
        }
        self.join_waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }

    fn abort(&self) -> Option<Waker> {
        if self.is_finished() || self.aborted.replace(true) {
            return None;
        }
        Some(self.waker.clone())
    }

    fn is_finished(&self) -> bool {
        self.stage
            .try_borrow()
            .is_ok_and(|s| !matches!(*s, Stage::Running(_)))
    }

    fn detach(&self) {
        self.detached.set(true);
        // A result nobody will read: free it now rather than with the task.
        if let Ok(mut stage) = self.stage.try_borrow_mut() {
            if matches!(*stage, Stage::Finished(_)) {
                *stage = Stage::Consumed;
            }
        }
    }
}
