//! `EvloopExecutor`: hyper's executor, spawning on the current thread's loop.

use std::future::Future;

/// hyper's [`Executor`](hyper::rt::Executor): spawns each future as a task of the current
/// thread's event loop (HTTP/2 runs each stream as a task of its own). The futures need not be
/// `Send`.
///
/// # Panics
///
/// `execute` panics on a thread with no event loop, or whose loop was dropped (as
/// [`spawn`](crate::spawn) does).
///
/// ```
/// use hyper::rt::Executor;
/// use evloop::interop::hyper::EvloopExecutor;
///
/// let lp = evloop::EventLoop::new()?;
/// let (tx, rx) = evloop::sync::oneshot::channel();
/// lp.block_on(async {
///     EvloopExecutor.execute(async move {
///         let _ = tx.send("ran");
///     });
///     assert_eq!(rx.await.ok(), Some("ran"));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct EvloopExecutor;

impl<F> hyper::rt::Executor<F> for EvloopExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        // Detached: hyper keeps no handle, and a finished stream's output is `()`.
        drop(crate::spawn(future));
    }
}
