//! `JoinHandle` and `JoinError`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::cell::Join;
use crate::runtime::payload_str;

/// An owned permission to await a spawned task's output, or to cancel it.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task panicked or was aborted. Dropping
/// it detaches the task: the task keeps running and its output is dropped.
///
/// ```
/// use evloop::EventLoop;
///
/// let lp = EventLoop::new()?;
/// let out = lp.block_on(async {
///     let task = evloop::spawn(async { 6 * 7 });
///     task.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct JoinHandle<T> {
    task: Rc<dyn Join<T>>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: Rc<dyn Join<T>>) -> Self {
        JoinHandle { task }
    }

    /// Cancels the task: its future is dropped at its next suspension point (or before its first
    /// poll), and awaiting this handle then yields [`JoinError::Cancelled`]. Does nothing if the task
    /// already finished.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let task = evloop::spawn(evloop::time::sleep(Duration::from_secs(60)));
    ///     task.abort(); // its future is dropped; it never finishes its sleep
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn abort(&self) {
        if let Some(w) = self.task.abort() {
            w.wake();
        }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let task = evloop::spawn(async { 1 });
    ///     assert!(!task.is_finished(), "spawned tasks start in a later turn");
    ///     evloop::yield_now().await;
    ///     assert!(task.is_finished());
    ///     assert_eq!(task.await.unwrap(), 1);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.task.poll_join(cx)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.task.detach();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a task (or a [`spawn_blocking`](crate::spawn_blocking) job) produced no output.
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let task = evloop::spawn(async { panic!("bug") });
///     let err = task.await.unwrap_err();
///     assert!(err.is_panic());
///     // Re-raise it here if the panic should not be contained: `resume_unwind(err.try_into_panic()?)`.
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[non_exhaustive]
pub enum JoinError {
    /// The task was aborted, or the loop was dropped before it finished.
    Cancelled,
    /// The task panicked; the payload is the panic's.
    Panic(Box<dyn Any + Send>),
    /// A blocking job could not be started: the pool needed a thread and the OS would not start
    /// one (the error says why). The job was dropped without running.
    ThreadSpawn(std::io::Error),
}

impl JoinError {
    /// Whether the task was cancelled.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let task = evloop::spawn(std::future::pending::<()>());
    ///     task.abort();
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// Whether the task panicked.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let task = evloop::spawn(async { panic!("bug") });
    ///     let err = task.await.unwrap_err();
    ///     assert!(err.is_panic() && !err.is_cancelled()); // the loop goes on
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panic(_))
    }

    /// The panic payload, to `std::panic::resume_unwind` it.
    ///
    /// # Errors
    ///
    /// Gives `self` back if the task was cancelled rather than panicking.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let task = evloop::spawn(async { std::panic::panic_any(7_u32) });
    ///     let payload = task.await.unwrap_err().try_into_panic().ok().unwrap();
    ///     assert_eq!(payload.downcast_ref::<u32>(), Some(&7));
    ///     // or `std::panic::resume_unwind(payload)` to pass the panic on
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self {
            JoinError::Panic(p) => Ok(p),
            other => Err(other),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("task was cancelled"),
            JoinError::Panic(p) => write!(f, "task panicked: {}", payload_str(p.as_ref())),
            JoinError::ThreadSpawn(e) => write!(f, "could not start a blocking thread: {e}"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("Cancelled"),
            JoinError::Panic(p) => f
                .debug_tuple("Panic")
                .field(&payload_str(p.as_ref()))
                .finish(),
            JoinError::ThreadSpawn(e) => f.debug_tuple("ThreadSpawn").field(e).finish(),
        }
    }
}

impl std::error::Error for JoinError {}
