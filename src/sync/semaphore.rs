//! `Semaphore`: a pool of permits, handed out first come, first served.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::wait_list::{self, WaitList};
use super::{wake, NeedsClone, NewWaker};

/// A pool of permits. [`Semaphore::acquire`] waits for a permit and returns a [`Permit`] that gives
/// it back when dropped.
///
/// # Fairness
///
/// Acquirers are served strictly in the order they started waiting, whatever the number of permits
/// each wants: released permits go to the waiter at the head of the queue (which keeps them while it
/// gathers the rest of what it asked for), and nobody behind it, nor a
/// [`Semaphore::try_acquire`], can take them meanwhile. A large request is never starved by a
/// stream of small ones; the price is that small ones wait behind it.
///
/// # Closing and dropping
///
/// - [`Semaphore::close`] makes waiting and later acquires fail with [`AcquireError`]. Permits
///   already handed out stay valid and still return to the pool when dropped.
/// - Dropping an [`Acquire`] future before it completes takes it out of the queue and gives back
///   the permits it had gathered, to the next waiter.
/// - [`Permit::forget`] keeps the permits out of the pool for good.
///
/// ```
/// use evloop::sync::Semaphore;
/// use std::rc::Rc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let sem = Rc::new(Semaphore::new(2));
///     let mut tasks = Vec::new();
///     for _ in 0..5 {
///         let sem = sem.clone();
///         tasks.push(evloop::spawn(async move {
///             let _permit = sem.acquire().await.unwrap();
///             // At most two tasks are here at once.
///             evloop::yield_now().await;
///         }));
///     }
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(sem.available_permits(), 2);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Semaphore {
    state: RefCell<State>,
}

struct State {
    /// Permits in the pool. Never more than zero while someone waits: released permits go to the
    /// head of the queue first.
    permits: usize,
    closed: bool,
    waiters: WaitList<Want>,
}

/// What a waiter asked for, and what it has been given so far.
struct Want {
    wanted: usize,
    given: usize,
}

/// The semaphore was closed.
///
/// ```
/// use evloop::sync::Semaphore;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let sem = Semaphore::new(1);
///     sem.close();
///     let err = sem.acquire().await.unwrap_err();
///     assert_eq!(err.to_string(), "the semaphore is closed");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

/// Why [`Semaphore::try_acquire`] failed.
///
/// ```
/// use evloop::sync::{Semaphore, TryAcquireError};
///
/// let sem = Semaphore::new(1);
/// let _permit = sem.try_acquire().unwrap();
/// let err = sem.try_acquire().unwrap_err();
/// assert_eq!(err, TryAcquireError::NoPermits);
/// assert_eq!(err.to_string(), "no permits available");
/// sem.close();
/// let err = sem.try_acquire().unwrap_err();
/// assert_eq!(err, TryAcquireError::Closed);
/// assert_eq!(err.to_string(), "the semaphore is closed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// Not enough permits in the pool, or others are already waiting for them.
    NoPermits,
    /// The semaphore was closed.
    Closed,
}

/// Permits acquired from a [`Semaphore`]; dropping it gives them back.
///
/// ```
/// use evloop::sync::Semaphore;
///
/// let sem = Semaphore::new(3);
/// let permit = sem.try_acquire_many(2).unwrap();
/// assert_eq!(sem.available_permits(), 1);
/// drop(permit);
/// assert_eq!(sem.available_permits(), 3, "given back on drop");
/// ```
#[must_use = "the permits are released as soon as the Permit is dropped"]
pub struct Permit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

/// Permits acquired from a [`Semaphore`] in an `Rc`, for a task that must own them (`'static`);
/// dropping it gives them back.
///
/// ```
/// use evloop::sync::Semaphore;
/// use std::rc::Rc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let sem = Rc::new(Semaphore::new(1));
///     let permit = sem.clone().acquire_owned().await.unwrap();
///     // No borrow of `sem`: the permit can move into a task, which gives it back when done.
///     let task = evloop::spawn(async move {
///         evloop::yield_now().await;
///         drop(permit);
///     });
///     assert_eq!(sem.available_permits(), 0);
///     task.await.unwrap();
///     assert_eq!(sem.available_permits(), 1);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "the permits are released as soon as the OwnedPermit is dropped"]
pub struct OwnedPermit {
    sem: Rc<Semaphore>,
    permits: usize,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold.
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    /// assert_eq!(sem.available_permits(), usize::MAX / 2);
    /// ```
    pub const MAX_PERMITS: usize = usize::MAX >> 1;

    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` is more than [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    ///
    /// // `const`: a semaphore can be built in a `thread_local!` (or a `static` where that is allowed).
    /// thread_local!(static CONNECTIONS: Semaphore = const { Semaphore::new(2) });
    /// CONNECTIONS.with(|s| assert_eq!(s.available_permits(), 2));
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        assert!(
            permits <= Self::MAX_PERMITS,
            "evloop: too many semaphore permits"
        );
        Semaphore {
            state: RefCell::new(State {
                permits,
                closed: false,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Permits in the pool now.
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// let p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// p.forget();
    /// assert_eq!(sem.available_permits(), 1, "a forgotten permit does not come back");
    /// ```
    pub fn available_permits(&self) -> usize {
        self.state.borrow().permits
    }

    /// Waits for one permit.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed, before or while waiting.
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let sem = Semaphore::new(1);
    ///     let permit = sem.acquire().await.unwrap();
    ///     assert!(sem.try_acquire().is_err(), "the only permit is out");
    ///     drop(permit); // given back
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits, taking them all at once. `n` larger than the permits that will ever
    /// be available waits forever (and holds up everyone queued behind it).
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed, before or while waiting.
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let sem = Rc::new(Semaphore::new(1));
    ///     let s = sem.clone();
    ///     let big = evloop::spawn(async move { s.acquire_many(3).await.unwrap().num_permits() });
    ///     evloop::yield_now().await; // `big` is waiting, holding the one permit it gathered
    ///     assert!(sem.try_acquire().is_err(), "nobody jumps the queue");
    ///     sem.add_permits(2);
    ///     assert_eq!(big.await.unwrap(), 3);
    ///     assert_eq!(sem.available_permits(), 3);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            wait: Wait::new(n),
        }
    }

    /// As [`Semaphore::acquire`], for a semaphore in an `Rc`: the permit owns a reference to it.
    ///
    /// # Errors
    ///
    /// As for [`Semaphore::acquire`].
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let sem = Rc::new(Semaphore::new(1));
    ///     let permit = sem.clone().acquire_owned().await.unwrap();
    ///     assert!(Rc::ptr_eq(permit.semaphore(), &sem));
    ///     assert_eq!(sem.available_permits(), 0);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn acquire_owned(self: Rc<Self>) -> AcquireOwned {
        self.acquire_many_owned(1)
    }

    /// As [`Semaphore::acquire_many`], for a semaphore in an `Rc`.
    ///
    /// # Errors
    ///
    /// As for [`Semaphore::acquire`].
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let sem = Rc::new(Semaphore::new(4));
    ///     let permit = sem.clone().acquire_many_owned(3).await.unwrap();
    ///     assert_eq!(permit.num_permits(), 3);
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn acquire_many_owned(self: Rc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned {
            sem: self,
            wait: Wait::new(n),
        }
    }

    /// Takes one permit if the pool has one and nobody is waiting.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<Permit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if the pool has them and nobody is waiting.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// assert!(sem.try_acquire_many(3).is_err(), "all or nothing");
    /// assert_eq!(sem.available_permits(), 2);
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<Permit<'_>, TryAcquireError> {
        self.try_take(n).map(|()| Permit {
            sem: self,
            permits: n,
        })
    }

    /// As [`Semaphore::try_acquire_many`], for a semaphore in an `Rc`.
    ///
    /// # Errors
    ///
    /// As for [`Semaphore::try_acquire_many`].
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    /// use std::rc::Rc;
    ///
    /// let sem = Rc::new(Semaphore::new(2));
    /// let permit = sem.clone().try_acquire_many_owned(2).unwrap();
    /// assert!(sem.clone().try_acquire_many_owned(1).is_err());
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn try_acquire_many_owned(
        self: Rc<Self>,
        n: usize,
    ) -> Result<OwnedPermit, TryAcquireError> {
        self.try_take(n).map(|()| OwnedPermit {
            sem: self,
            permits: n,
        })
    }

    fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        let mut st = self.state.borrow_mut();
        if st.closed {
            Err(TryAcquireError::Closed)
        } else if st.permits < n || !st.waiters.is_empty() {
            Err(TryAcquireError::NoPermits)
        } else {
            st.permits -= n;
            Ok(())
        }
    }

    /// Adds `n` permits: to the waiters first, in order, then to the pool.
    ///
    /// # Panics
    ///
    /// If the total would exceed [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(0);
    /// assert!(sem.try_acquire().is_err());
    /// sem.add_permits(2);
    /// let (_a, _b) = (sem.try_acquire().unwrap(), sem.try_acquire().unwrap());
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    /// Closes the semaphore: acquires fail from now on, waiting ones too. Permits already handed out
    /// stay valid.
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let sem = Rc::new(Semaphore::new(1));
    ///     let held = sem.try_acquire().unwrap();
    ///     let s = sem.clone();
    ///     let waiter = evloop::spawn(async move { s.acquire().await.is_err() });
    ///     evloop::yield_now().await;
    ///     sem.close();
    ///     assert!(waiter.await.unwrap(), "a waiting acquire fails");
    ///     drop(held); // still valid, and given back
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&self) {
        let mut st = self.state.borrow_mut();
        st.closed = true;
        let wakers = st.waiters.unlink_all(|_| {});
        drop(st);
        wait_list::wake_all(&self.state, |st| &mut st.waiters, wakers);
    }

    /// Whether [`Semaphore::close`] was called.
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// assert!(!sem.is_closed());
    /// sem.close();
    /// assert!(sem.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }

    /// Gives `n` permits to the waiters in order, then to the pool. Wakes each waiter it completes
    /// with no borrow held.
    fn release(&self, mut n: usize) {
        while n > 0 {
            let mut st = self.state.borrow_mut();
            let Some(key) = st.waiters.front() else {
                st.permits = st
                    .permits
                    .checked_add(n)
                    .filter(|p| *p <= Self::MAX_PERMITS)
                    .expect("evloop: too many semaphore permits");
                return;
            };
            let want = st.waiters.data_mut(key);
            let give = n.min(want.wanted - want.given);
            want.given += give;
            n -= give;
            if want.given < want.wanted {
                return;
            }
            let waker = st.waiters.unlink(key);
            drop(st);
            wake(waker);
        }
    }
}

impl Default for Semaphore {
    /// A semaphore with no permits.
    fn default() -> Semaphore {
        Semaphore::new(0)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("Semaphore")
            .field("permits", &st.permits)
            .field("closed", &st.closed)
            .field("waiting", &!st.waiters.is_empty())
            .finish()
    }
}

/// The waiting part of [`Acquire`] and [`AcquireOwned`].
struct Wait {
    wanted: usize,
    /// The waiter slot while waiting.
    key: Option<usize>,
    done: bool,
}

impl Wait {
    fn new(wanted: usize) -> Wait {
        Wait {
            wanted,
            key: None,
            done: false,
        }
    }

    fn poll(&mut self, sem: &Semaphore, cx: &mut Context<'_>) -> Poll<Result<(), AcquireError>> {
        assert!(!self.done, "evloop: Acquire polled after completion");
        let mut new = NewWaker::new(cx.waker());
        loop {
            let mut st = sem.state.borrow_mut();
            let waiting = match self.key {
                Some(key) if st.waiters.is_linked(key) => st.waiters.set_waker(key, &mut new),
                Some(key) => {
                    self.key = None;
                    self.done = true;
                    let want = st.waiters.remove_unlinked(key);
                    if want.given == want.wanted {
                        return Poll::Ready(Ok(()));
                    }
                    // Unlinked short of its permits: the semaphore was closed. Return what it
                    // gathered.
                    drop(st);
                    sem.release(want.given);
                    return Poll::Ready(Err(AcquireError(())));
                }
                None if st.closed => {
                    self.done = true;
                    return Poll::Ready(Err(AcquireError(())));
                }
                None if self.wanted == 0
                    || (st.waiters.is_empty() && st.permits >= self.wanted) =>
                {
                    st.permits -= self.wanted;
                    self.done = true;
                    return Poll::Ready(Ok(()));
                }
                // Take what the pool has (only possible when nobody waits: see `State::permits`)
                // and wait for the rest.
                None => new.take().map(|waker| {
                    let given = std::mem::take(&mut st.permits);
                    let want = Want {
                        wanted: self.wanted,
                        given,
                    };
                    self.key = Some(st.waiters.push_back(waker, want));
                }),
            };
            match waiting {
                Ok(()) => return Poll::Pending,
                Err(NeedsClone) => new.clone_after(st),
            }
        }
    }

    /// Leaves the queue, giving back whatever was gathered (all of it, if the permits were handed
    /// over but this future never took them).
    fn cancel(&mut self, sem: &Semaphore) {
        if let Some(key) = self.key.take() {
            let (want, waker) = sem.state.borrow_mut().waiters.remove(key);
            // Dropped with no borrow held, as a waker may be a foreign one that uses this semaphore.
            drop(waker);
            sem.release(want.given);
        }
    }
}

/// The future of [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
///
/// Dropping it before it completes takes it out of the queue and gives back the permits it had
/// gathered.
///
/// ```
/// use evloop::sync::Semaphore;
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let sem = Semaphore::new(0);
///     // Given up on: the future is dropped and leaves the queue.
///     let late = evloop::time::timeout(Duration::from_millis(1), sem.acquire()).await;
///     assert!(late.is_err());
///     sem.add_permits(1);
///     assert_eq!(sem.available_permits(), 1, "nobody is left waiting to take it");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    wait: Wait,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<Permit<'a>, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let sem = this.sem;
        this.wait.poll(sem, cx).map_ok(|()| Permit {
            sem,
            permits: this.wait.wanted,
        })
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        self.wait.cancel(self.sem);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("wanted", &self.wait.wanted)
            .field("waiting", &self.wait.key.is_some())
            .finish()
    }
}

/// The future of [`Semaphore::acquire_owned`] and [`Semaphore::acquire_many_owned`]; dropping it
/// early is as for [`Acquire`].
///
/// ```
/// use evloop::sync::Semaphore;
/// use std::rc::Rc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let sem = Rc::new(Semaphore::new(0));
///     let acquire = sem.clone().acquire_owned(); // borrows nothing: can move into a task
///     let task = evloop::spawn(async move { acquire.await.unwrap().num_permits() });
///     sem.add_permits(1);
///     assert_eq!(task.await.unwrap(), 1);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireOwned {
    sem: Rc<Semaphore>,
    wait: Wait,
}

impl Future for AcquireOwned {
    type Output = Result<OwnedPermit, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.wait.poll(&this.sem, cx).map_ok(|()| OwnedPermit {
            sem: this.sem.clone(),
            permits: this.wait.wanted,
        })
    }
}

impl Drop for AcquireOwned {
    fn drop(&mut self) {
        self.wait.cancel(&self.sem);
    }
}

impl fmt::Debug for AcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("wanted", &self.wait.wanted)
            .field("waiting", &self.wait.key.is_some())
            .finish()
    }
}

impl Permit<'_> {
    /// How many permits this holds.
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(5);
    /// assert_eq!(sem.try_acquire_many(3).unwrap().num_permits(), 3);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits out of the pool for good (for example to shrink it).
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// sem.try_acquire().unwrap().forget(); // the pool shrinks to one permit
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.sem.release(self.permits);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("permits", &self.permits)
            .finish()
    }
}

impl OwnedPermit {
    /// How many permits this holds.
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    /// use std::rc::Rc;
    ///
    /// let sem = Rc::new(Semaphore::new(5));
    /// assert_eq!(sem.try_acquire_many_owned(3).unwrap().num_permits(), 3);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits out of the pool for good (for example to shrink it).
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    /// use std::rc::Rc;
    ///
    /// let sem = Rc::new(Semaphore::new(2));
    /// sem.clone().try_acquire_many_owned(1).unwrap().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// The semaphore the permits came from.
    ///
    /// ```
    /// use evloop::sync::Semaphore;
    /// use std::rc::Rc;
    ///
    /// let sem = Rc::new(Semaphore::new(1));
    /// let permit = sem.clone().try_acquire_many_owned(1).unwrap();
    /// assert!(Rc::ptr_eq(permit.semaphore(), &sem));
    /// assert_eq!(permit.semaphore().available_permits(), 0);
    /// ```
    pub fn semaphore(&self) -> &Rc<Semaphore> {
        &self.sem
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.sem.release(self.permits);
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("permits", &self.permits)
            .finish()
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the semaphore is closed")
    }
}

impl std::error::Error for AcquireError {}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::NoPermits => f.write_str("no permits available"),
            TryAcquireError::Closed => f.write_str("the semaphore is closed"),
        }
    }
}

impl std::error::Error for TryAcquireError {}
