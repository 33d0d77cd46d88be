//! `TokioThread`: a tokio runtime on a thread of its own, beside the loop, for libraries that only
//! run inside tokio (reqwest, tokio-postgres, most cloud SDKs).
//!
//! Such a library calls `tokio::spawn` or registers sockets with "the current tokio reactor", so
//! called from an evloop task it panics ("there is no reactor running"). The recipe: run the
//! library's futures on a tokio runtime on another thread, and await their results on the loop.
//! A tokio `JoinHandle` is a plain future whose waker may be anyone's, and evloop's wakers are
//! `Send + Sync`: when the tokio side finishes, it wakes the evloop task through the loop's
//! cross-thread inbox. Neither runtime blocks the other.

use std::fmt;
use std::future::Future;
use std::io;
use std::thread;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A tokio runtime running on a thread of its own; [`spawn`](TokioThread::spawn) its futures from
/// the loop and `.await` them there.
///
/// Dropping it shuts the runtime down on its thread and waits for that: tokio tasks still running
/// are dropped at their next `.await` (awaiting their handles then gives a cancelled
/// `JoinError`), and `spawn_blocking` work in progress is waited for.
///
/// The recipe for a tokio-bound library (here reqwest, which is not a dependency of evloop):
///
/// ```ignore
/// let tokio = evloop::interop::TokioThread::start()?;
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     // The request runs on the tokio thread; this task waits on the loop, which keeps serving
///     // everything else meanwhile.
///     let body = tokio
///         .spawn(async { reqwest::get("http://localhost:8080/").await?.text().await })
///         .await
///         .expect("the tokio task")?;
///     println!("{body}");
///     Ok::<(), reqwest::Error>(())
/// })?;
/// ```
///
/// Runnable, with a tokio timer standing in for the library:
///
/// ```
/// use std::time::Duration;
///
/// let tokio = evloop::interop::TokioThread::start()?;
/// let lp = evloop::EventLoop::new()?;
/// let answer = lp.block_on(async {
///     tokio.spawn(async {
///         tokio::task::yield_now().await;
///         42
///     })
///     .await
/// });
/// assert_eq!(answer.unwrap(), 42);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TokioThread {
    handle: Handle,
    /// Dropped to stop the runtime.
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TokioThread {
    /// Starts a current_thread runtime with every driver the program has compiled in (tokio's
    /// `enable_all`: I/O and time when a library enabled tokio's `net` and `time` features) on a
    /// thread named `evloop-tokio`.
    ///
    /// # Errors
    ///
    /// If the runtime cannot be built or the thread cannot be started.
    ///
    /// ```
    /// let tokio = evloop::interop::TokioThread::start()?;
    /// let name = tokio.handle().block_on(async { std::thread::current().name().map(String::from) });
    /// assert_eq!(name.as_deref(), Some("main"), "block_on runs the future on the calling thread");
    /// let lp = evloop::EventLoop::new()?;
    /// let on = lp.block_on(tokio.spawn(async { std::thread::current().name().map(String::from) }));
    /// assert_eq!(on.unwrap().as_deref(), Some("evloop-tokio"), "spawned futures run on its thread");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start() -> io::Result<TokioThread> {
        TokioThread::with_runtime(Builder::new_current_thread().enable_all().build()?)
    }

    /// Runs `runtime` (built as the caller likes) on a thread named `evloop-tokio`. A multi-thread
    /// runtime runs its tasks on its own workers; this thread then only keeps it alive.
    ///
    /// # Errors
    ///
    /// If the thread cannot be started.
    ///
    /// ```
    /// let runtime = tokio::runtime::Builder::new_current_thread().build()?; // built as you like
    /// let tokio = evloop::interop::TokioThread::with_runtime(runtime)?;
    /// let lp = evloop::EventLoop::new()?;
    /// assert_eq!(lp.block_on(tokio.spawn(async { 6 * 7 })).unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_runtime(runtime: Runtime) -> io::Result<TokioThread> {
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("evloop-tokio".into())
            .spawn(move || {
                // Drives the runtime's tasks and drivers until the sender is dropped.
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Dropping it here, outside any runtime context, shuts it down.
                drop(runtime);
            })?;
        Ok(TokioThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The runtime's handle (for `block_on` from another plain thread, `spawn_blocking`, or
    /// entering its context).
    ///
    /// ```
    /// let tokio = evloop::interop::TokioThread::start()?;
    /// let handle = tokio.handle().clone();
    /// // From any plain thread: tokio's own API, on the runtime the loop uses.
    /// let got = std::thread::spawn(move || handle.block_on(handle.spawn(async { "from a thread" })))
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(got.unwrap(), "from a thread");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `future` on the tokio runtime; await the returned handle on the loop for its output.
    /// Dropping the handle does not cancel the task (call its `abort`).
    ///
    /// ```
    /// let tokio = evloop::interop::TokioThread::start()?;
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, rx) = tokio::sync::oneshot::channel();
    ///     let task = tokio.spawn(async move { rx.await.unwrap_or(0) * 2 });
    ///     tx.send(21).unwrap(); // a tokio channel, from the loop
    ///     assert_eq!(task.await.unwrap(), 42);
    ///     let aborted = tokio.spawn(std::future::pending::<()>());
    ///     aborted.abort();
    ///     assert!(aborted.await.unwrap_err().is_cancelled());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }
}

impl Drop for TokioThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A panic on that thread was the runtime's own; it has been printed already.
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for TokioThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioThread")
            .field("runtime", &self.handle.runtime_flavor())
            .finish()
    }
}
