//! `Builder`: spawn a task with a name (tokio's `task::Builder`).

use std::future::Future;
use std::io;
use std::panic::Location;
use std::rc::Rc;

use super::JoinHandle;
use crate::runtime::submit::Refused;
use crate::runtime::Handle;

/// Spawns a task with options: for now a name, which [`Handle::dump`] and debug mode's
/// slow-poll warnings show beside its spawn site.
///
/// Unlike [`spawn`](crate::spawn), its `spawn` methods return an error instead of panicking
/// when there is no loop, as tokio's `task::Builder` does.
///
/// ```
/// use evloop::task::Builder;
///
/// let lp = evloop::EventLoop::new()?;
/// let out = lp.block_on(async {
///     let task = Builder::new().name("answer").spawn(async { 42 })?;
///     Ok::<_, std::io::Error>(task.await.expect("the task panicked"))
/// })?;
/// assert_eq!(out, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    name: Option<Rc<str>>,
}

impl Builder {
    /// A builder with no name.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let _task = evloop::task::Builder::new().spawn(std::future::pending::<()>())?;
    /// assert_eq!(lp.dump().tasks()[0].name(), None, "no name given");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let _task = evloop::task::Builder::new()
    ///     .name("flusher")
    ///     .spawn(std::future::pending::<()>())?;
    /// assert_eq!(lp.dump().tasks()[0].name(), Some("flusher"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(mut self, name: &str) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Spawns `future` on the current loop (see [`Handle::current`]).
    ///
    /// # Errors
    ///
    /// If this thread has no event loop, or its loop has been dropped (the future is dropped).
    /// While the loop is being dropped the task is cancelled at once, as with
    /// [`Handle::spawn`].
    ///
    /// ```
    /// use evloop::task::Builder;
    ///
    /// // No loop on this thread: an error, not a panic.
    /// assert!(Builder::new().spawn(async {}).is_err());
    /// let lp = evloop::EventLoop::new()?;
    /// let task = Builder::new().spawn(async { "ran" })?;
    /// assert_eq!(lp.block_on(task).unwrap(), "ran");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + 'static,
    {
        let site = Location::caller();
        let handle = Handle::try_current().ok_or_else(crate::net::source::no_loop)?;
        self.spawn_at(future, &handle, site)
    }

    /// Spawns `future` on the loop of `handle`.
    ///
    /// # Errors
    ///
    /// If the loop has been dropped; see [`Builder::spawn`].
    ///
    /// ```
    /// use evloop::task::Builder;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let handle = lp.handle().clone();
    /// let task = Builder::new().name("on a handle").spawn_on(async { 7 }, &handle)?;
    /// assert_eq!(lp.block_on(task).unwrap(), 7);
    /// drop(lp);
    /// assert!(Builder::new().spawn_on(async {}, &handle).is_err(), "the loop is gone");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + 'static,
    {
        self.spawn_at(future, handle, Location::caller())
    }

    fn spawn_at<F>(
        self,
        future: F,
        handle: &Handle,
        site: &'static Location<'static>,
    ) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + 'static,
    {
        match handle.spawn_named(future, site, self.name) {
            Ok(task) | Err((Refused::Closing, task)) => Ok(task),
            Err((Refused::Closed, _)) => Err(io::Error::other(
                "evloop: task::Builder::spawn on an event loop that has been dropped",
            )),
        }
    }
}
