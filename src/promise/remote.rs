//! `RemoteResolver`: settling a promise from another thread.
//!
//! The promise's state is single-threaded (`Rc`), so another thread cannot touch it. Instead,
//! [`Resolver::into_remote`] spawns a small *bridge* task on the loop that owns the real resolver
//! and waits on a mutex-protected slot shared with the `RemoteResolver`. Settling from the other
//! thread fills the slot and wakes the bridge (task wakers are `Send`; a wake from another thread
//! is posted to the loop's inbox), which then settles the promise on the loop thread.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::{AlreadySettled, PromiseError, Resolver};
use crate::event_loop::KeepAlive;
use crate::sync::{NeedsClone, NewWaker};

struct Slot<T, E> {
    outcome: Option<Result<T, E>>,
    /// Nothing more may be put in: the remote side settled, or the loop side is gone or settled.
    closed: bool,
    /// The remote resolver was dropped.
    dropped: bool,
    /// The bridge task's waker.
    waker: Option<Waker>,
}

fn lock<T, E>(slot: &Mutex<Slot<T, E>>) -> MutexGuard<'_, Slot<T, E>> {
    // No user code runs under this lock (values are moved in and out, and dropped outside it), so
    // a poisoned one still holds consistent data.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A `Send + Sync` resolver, to settle a promise from any thread; see [`Resolver::into_remote`].
///
/// Settling is a mutex-protected store plus a wake-up of the loop; the promise is settled, and its
/// callbacks queued, on the loop thread a moment later. As with [`Resolver`], settling twice
/// returns [`AlreadySettled`], and dropping it unused rejects the promise with
/// [`PromiseError::Dropped`].
///
/// ```
/// use evloop::promise::Promise;
///
/// let lp = evloop::EventLoop::new()?;
/// let (promise, resolver) = Promise::<u64, String>::new();
/// let remote = resolver.into_remote(); // Send + Sync
/// let worker = std::thread::spawn(move || remote.reject("disk full".into()).unwrap());
/// let err = lp.block_on(promise).unwrap_err();
/// assert_eq!(err.rejected().map(String::as_str), Some("disk full"));
/// worker.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RemoteResolver<T, E> {
    slot: Arc<Mutex<Slot<T, E>>>,
}

impl<T: Send + 'static, E: Send + 'static> Resolver<T, E> {
    /// Converts into a resolver that can be sent to, and used from, another thread.
    ///
    /// **The loop stays alive while the `RemoteResolver` exists** (as with
    /// [`Handle::keep_alive`](crate::Handle::keep_alive)): the other thread's answer is work
    /// [`EventLoop::run`](crate::EventLoop::run) waits for. It stops waiting once the remote
    /// resolver settles or is dropped, or once the promise is cancelled or times out.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<u64, String>::new();
    /// let resolver = resolver.into_remote();
    /// let worker = std::thread::spawn(move || {
    ///     let sum = (1..=100).sum();
    ///     resolver.resolve(sum).unwrap();
    /// });
    /// assert_eq!(lp.block_on(promise), Ok(5050));
    /// worker.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_remote(self) -> RemoteResolver<T, E> {
        let slot = Arc::new(Mutex::new(Slot {
            outcome: None,
            closed: false,
            dropped: false,
            waker: None,
        }));
        let handle = self.state().handle();
        let bridge = Bridge {
            slot: slot.clone(),
            _keep_alive: handle.keep_alive(),
            resolver: self,
        };
        // Detached: the bridge ends by itself, and the loop's drop drops it (rejecting the promise
        // with `Dropped`) if it is still waiting then.
        drop(handle.spawn(bridge));
        RemoteResolver { slot }
    }
}

impl<T, E> RemoteResolver<T, E> {
    fn settle(&self, outcome: Result<T, E>) -> Result<(), AlreadySettled> {
        let mut slot = lock(&self.slot);
        if slot.closed {
            drop(slot);
            drop(outcome);
            return Err(AlreadySettled);
        }
        slot.closed = true;
        slot.outcome = Some(outcome);
        let waker = slot.waker.take();
        drop(slot);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Resolves the promise with `value`.
    ///
    /// # Errors
    ///
    /// [`AlreadySettled`] if this resolver was used already, if the promise was cancelled or timed
    /// out (as far as this thread has been told), or if its loop is gone. `value` is dropped.
    ///
    /// ```
    /// use evloop::promise::Promise;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<u8, ()>::new();
    /// let remote = resolver.into_remote();
    /// std::thread::spawn(move || remote.resolve(8).unwrap()).join().unwrap();
    /// assert_eq!(lp.block_on(promise), Ok(8));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn resolve(&self, value: T) -> Result<(), AlreadySettled> {
        self.settle(Ok(value))
    }

    /// Rejects the promise with `error`.
    ///
    /// # Errors
    ///
    /// As for [`RemoteResolver::resolve`]; `error` is dropped.
    ///
    /// ```
    /// use evloop::promise::{Promise, PromiseError};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<u8, &str>::new();
    /// let remote = resolver.into_remote();
    /// std::thread::spawn(move || remote.reject("no").unwrap()).join().unwrap();
    /// assert_eq!(lp.block_on(promise), Err(PromiseError::Rejected("no")));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reject(&self, error: E) -> Result<(), AlreadySettled> {
        self.settle(Err(error))
    }

    /// Whether settling would be refused: this resolver was used, or the promise was cancelled or
    /// timed out, or its loop is gone. A worker may poll it to give up early.
    ///
    /// ```
    /// use evloop::promise::{AlreadySettled, Promise};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (promise, resolver) = Promise::<u8, ()>::new();
    /// let remote = resolver.into_remote();
    /// assert!(!remote.is_settled());
    /// remote.resolve(1).unwrap();
    /// assert!(remote.is_settled());
    /// assert_eq!(remote.resolve(2), Err(AlreadySettled));
    /// assert_eq!(lp.block_on(promise), Ok(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_settled(&self) -> bool {
        lock(&self.slot).closed
    }
}

impl<T, E> Drop for RemoteResolver<T, E> {
    fn drop(&mut self) {
        let mut slot = lock(&self.slot);
        slot.dropped = true;
        let waker = slot.waker.take();
        drop(slot);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T, E> fmt::Debug for RemoteResolver<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteResolver")
            .field("settled", &self.is_settled())
            .finish()
    }
}

/// The loop-side task of a remote resolver.
struct Bridge<T, E> {
    slot: Arc<Mutex<Slot<T, E>>>,
    resolver: Resolver<T, E>,
    _keep_alive: KeepAlive,
}

impl<T, E> Future for Bridge<T, E> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // The bridge is a task of its own, so its waker is evloop's (copied under the lock, running
        // nothing); `NewWaker` would clone any other with the slot unlocked.
        let mut new = NewWaker::new(cx.waker());
        loop {
            let mut slot = lock(&self.slot);
            if let Some(outcome) = slot.outcome.take() {
                drop(slot);
                let _ = self
                    .resolver
                    .settle(outcome.map_err(PromiseError::Rejected));
                return Poll::Ready(());
            }
            if slot.dropped {
                // Dropping the resolver with the task rejects the promise with `Dropped`.
                return Poll::Ready(());
            }
            // Registered before looking at the promise, so a cancellation in between is not missed
            // (it is on this thread anyway).
            match new.store(&mut slot.waker) {
                Ok(()) => break,
                Err(NeedsClone) => new.clone_after(slot),
            }
        }
        // The waker replaced, if any, is dropped with the slot unlocked.
        drop(new);
        if self.resolver.state().poll_settled(cx).is_ready() {
            // Cancelled or timed out: stop waiting, and tell the other thread.
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl<T, E> Drop for Bridge<T, E> {
    fn drop(&mut self) {
        // Nothing put in the slot from now on would be taken out.
        let mut slot = lock(&self.slot);
        slot.closed = true;
        let waker = slot.waker.take();
        let late = slot.outcome.take();
        drop(slot);
        drop(waker);
        drop(late);
    }
}
