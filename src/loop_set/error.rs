//! How a loop of a set failed, and the set's error.

use std::fmt;
use std::io;

/// Why one loop of a [`LoopSet`](crate::LoopSet) produced no result.
///
/// ```
/// use evloop::loop_set::LoopFailure;
///
/// let err = evloop::LoopSet::new().loops(1).handle_signals(false)
///     .run(|_| async { Err::<(), _>(std::io::Error::other("bad config")) })
///     .unwrap_err();
/// let [(0, failure)] = err.failures() else { panic!("one failure") };
/// assert!(matches!(failure, LoopFailure::Error(_)));
/// assert_eq!(failure.to_string(), "failed: bad config");
/// assert_eq!(LoopFailure::Abandoned.to_string(), "did not finish within the grace period");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LoopFailure {
    /// The loop could not start (its thread, its event loop, pinning, or its signal listeners),
    /// or its setup future returned this error.
    Error(io::Error),
    /// The setup future (or the closure that built it) panicked; the panic's message.
    Panic(String),
    /// The setup future had not returned within the grace period after the shutdown began, so
    /// it was dropped.
    Abandoned,
    /// Another loop could not start, so this one never ran its setup.
    NotStarted,
}

impl fmt::Display for LoopFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoopFailure::Error(e) => write!(f, "failed: {e}"),
            LoopFailure::Panic(msg) => write!(f, "panicked: {msg}"),
            LoopFailure::Abandoned => f.write_str("did not finish within the grace period"),
            LoopFailure::NotStarted => f.write_str("not started (another loop failed to start)"),
        }
    }
}

/// What [`LoopSet::run`](crate::LoopSet::run) returns when a loop failed: each failed loop's
/// index and failure, in index order. It converts into an `io::Error`, so `?` works in a `main`
/// that returns `io::Result`.
///
/// ```
/// use evloop::LoopSet;
///
/// let result = LoopSet::new().loops(2).handle_signals(false).run(|ctx| async move {
///     if ctx.index() == 1 {
///         return Err(std::io::Error::other("no config"));
///     }
///     Ok(())
/// });
/// let err = result.unwrap_err();
/// assert_eq!(err.to_string(), "loop 1 failed: no config");
/// let _as_io: std::io::Error = err.into(); // for `?` in a `main` returning `io::Result`
/// ```
#[derive(Debug)]
pub struct LoopSetError {
    pub(crate) failures: Vec<(usize, LoopFailure)>,
}

impl LoopSetError {
    /// Each failed loop's index and failure, in index order.
    ///
    /// ```
    /// use evloop::loop_set::LoopFailure;
    /// use evloop::LoopSet;
    ///
    /// let result = LoopSet::new().loops(2).handle_signals(false).run(|ctx| async move {
    ///     if ctx.index() == 1 {
    ///         return Err(std::io::Error::other("no config"));
    ///     }
    ///     Ok(())
    /// });
    /// let err = result.unwrap_err();
    /// assert!(matches!(err.failures(), [(1, LoopFailure::Error(_))])); // loop 0 succeeded
    /// ```
    pub fn failures(&self) -> &[(usize, LoopFailure)] {
        &self.failures
    }

    /// The failures, by value.
    ///
    /// ```
    /// use evloop::loop_set::LoopFailure;
    /// use evloop::LoopSet;
    ///
    /// let result = LoopSet::new().loops(2).handle_signals(false).run(|ctx| async move {
    ///     if ctx.index() == 1 {
    ///         return Err(std::io::Error::other("no config"));
    ///     }
    ///     Ok(())
    /// });
    /// for (index, failure) in result.unwrap_err().into_failures() {
    ///     match failure {
    ///         LoopFailure::Error(e) => {
    ///             assert_eq!((index, e.to_string()), (1, "no config".into()))
    ///         }
    ///         other => panic!("loop {index}: {other}"),
    ///     }
    /// }
    /// ```
    pub fn into_failures(self) -> Vec<(usize, LoopFailure)> {
        self.failures
    }
}

impl fmt::Display for LoopSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (index, failure)) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "loop {index} {failure}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoopSetError {}

impl From<LoopSetError> for io::Error {
    fn from(e: LoopSetError) -> io::Error {
        io::Error::other(e)
    }
}
