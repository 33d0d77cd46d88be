//! `PromiseError`, why a promise failed, and `AlreadySettled`, why a resolver refused a value.

use std::error::Error;
use std::fmt;
use std::io;

/// Why a promise failed.
///
/// A [`Promise<T, E>`](super::Promise) completes with `Result<T, PromiseError<E>>`: `E` is the
/// failure the producer reports (with [`Resolver::reject`](super::Resolver::reject)), the other
/// variants are what the promise machinery itself can end with. The set is closed on purpose, so a
/// `match` needs no catch-all arm.
///
/// `PromiseError<E>` converts from `E`, so in a callback or a coroutine that returns
/// `Result<_, PromiseError<E>>`, `?` accepts both a plain `Result<_, E>` and the result of awaiting
/// another promise.
///
/// ```
/// use evloop::promise::PromiseError;
///
/// fn parse(s: &str) -> Result<u8, PromiseError<std::num::ParseIntError>> {
///     Ok(s.parse::<u8>()?) // ParseIntError -> PromiseError::Rejected
/// }
/// assert!(parse("x").unwrap_err().is_rejected());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PromiseError<E> {
    /// The producer rejected the promise with this error.
    Rejected(E),
    /// [`Promise::cancel`](super::Promise::cancel) was called while it was pending (directly, or
    /// on a promise derived from it).
    Cancelled,
    /// Its [`timeout`](super::Promise::timeout) expired first.
    TimedOut,
    /// It can never be settled: its resolver was dropped unused (for example while unwinding from a
    /// panic in the callback that was to produce its value, or when its loop was dropped).
    Dropped,
}

impl<E> PromiseError<E> {
    /// Whether the producer rejected the promise.
    ///
    /// ```
    /// use evloop::promise::PromiseError;
    ///
    /// assert!(PromiseError::Rejected("no").is_rejected());
    /// assert!(!PromiseError::<&str>::Cancelled.is_rejected());
    /// ```
    pub fn is_rejected(&self) -> bool {
        matches!(self, PromiseError::Rejected(_))
    }

    /// Whether the promise was cancelled.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, _resolver) = Promise::<u8, ()>::new();
    /// promise.cancel();
    /// assert!(lp.block_on(promise).unwrap_err().is_cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, PromiseError::Cancelled)
    }

    /// Whether the promise timed out.
    ///
    /// ```
    /// use evloop::promise::Promise;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, _resolver) = Promise::<u8, ()>::new(); // never settled by its producer
    /// let err = lp.block_on(promise.timeout(Duration::from_millis(1))).unwrap_err();
    /// assert!(err.is_timed_out());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_timed_out(&self) -> bool {
        matches!(self, PromiseError::TimedOut)
    }

    /// Whether the promise's resolver was dropped without settling it.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<u8, ()>::new();
    /// drop(resolver); // it can never be settled now
    /// assert!(lp.block_on(promise).unwrap_err().is_dropped());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_dropped(&self) -> bool {
        matches!(self, PromiseError::Dropped)
    }

    /// The producer's error, if that is why the promise failed.
    ///
    /// ```
    /// use evloop::promise::PromiseError;
    ///
    /// let err = PromiseError::Rejected(String::from("refused"));
    /// assert_eq!(err.rejected().map(String::as_str), Some("refused"));
    /// assert_eq!(PromiseError::<String>::TimedOut.rejected(), None);
    /// ```
    pub fn rejected(&self) -> Option<&E> {
        match self {
            PromiseError::Rejected(e) => Some(e),
            _ => None,
        }
    }

    /// The producer's error, if that is why the promise failed.
    ///
    /// ```
    /// use evloop::promise::PromiseError;
    ///
    /// let err = PromiseError::Rejected(String::from("refused"));
    /// assert_eq!(err.into_rejected(), Some(String::from("refused")));
    /// assert_eq!(PromiseError::<String>::Dropped.into_rejected(), None);
    /// ```
    pub fn into_rejected(self) -> Option<E> {
        match self {
            PromiseError::Rejected(e) => Some(e),
            _ => None,
        }
    }

    /// Maps the producer's error, leaving the other variants as they are.
    ///
    /// ```
    /// use evloop::promise::PromiseError;
    ///
    /// let err = PromiseError::Rejected(404).map(|code| format!("status {code}"));
    /// assert_eq!(err, PromiseError::Rejected("status 404".to_string()));
    /// assert_eq!(PromiseError::<u16>::Cancelled.map(|c| c + 1), PromiseError::Cancelled);
    /// ```
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> PromiseError<F> {
        match self {
            PromiseError::Rejected(e) => PromiseError::Rejected(f(e)),
            PromiseError::Cancelled => PromiseError::Cancelled,
            PromiseError::TimedOut => PromiseError::TimedOut,
            PromiseError::Dropped => PromiseError::Dropped,
        }
    }

    /// Whether a failure nobody observed is worth reporting to the loop's error hook: a
    /// cancellation was asked for by the consumer, and a dropped resolver is either teardown or
    /// follows a panic that was reported already.
    pub(crate) fn is_reportable(&self) -> bool {
        matches!(self, PromiseError::Rejected(_) | PromiseError::TimedOut)
    }
}

impl<E> From<E> for PromiseError<E> {
    fn from(e: E) -> PromiseError<E> {
        PromiseError::Rejected(e)
    }
}

impl<E: fmt::Display> fmt::Display for PromiseError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromiseError::Rejected(e) => write!(f, "promise rejected: {e}"),
            PromiseError::Cancelled => f.write_str("promise was cancelled"),
            PromiseError::TimedOut => f.write_str("promise timed out"),
            PromiseError::Dropped => f.write_str("promise resolver was dropped without settling"),
        }
    }
}

impl<E: Error + 'static> Error for PromiseError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PromiseError::Rejected(e) => Some(e),
            _ => None,
        }
    }
}

impl From<PromiseError<io::Error>> for io::Error {
    /// The rejection itself, or an error of kind `Other` (cancelled), `TimedOut` or
    /// `BrokenPipe` (resolver dropped).
    ///
    /// Not `Interrupted` for a cancellation: std's `read_exact`, `write_all` and `io::copy`, and
    /// most retry loops, take `Interrupted` to mean "try again".
    fn from(e: PromiseError<io::Error>) -> io::Error {
        match e {
            PromiseError::Rejected(e) => e,
            PromiseError::Cancelled => io::Error::other("promise was cancelled"),
            PromiseError::TimedOut => io::Error::new(io::ErrorKind::TimedOut, "timed out"),
            PromiseError::Dropped => io::Error::new(
                io::ErrorKind::BrokenPipe,
                "promise resolver was dropped without settling",
            ),
        }
    }
}

/// The promise was settled already (resolved, rejected, cancelled or timed out); the value or error
/// offered to the resolver was dropped.
///
/// ```
/// use evloop::promise::{AlreadySettled, Promise};
///
/// let lp = evloop::EventLoop::new()?;
/// let (promise, resolver) = Promise::<u8, ()>::new();
/// resolver.resolve(1).unwrap();
/// assert_eq!(resolver.resolve(2), Err(AlreadySettled)); // 2 is dropped
/// assert_eq!(lp.block_on(promise), Ok(1));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlreadySettled;

impl fmt::Display for AlreadySettled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the promise was already settled")
    }
}

impl Error for AlreadySettled {}
