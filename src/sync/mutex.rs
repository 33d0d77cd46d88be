//! `Mutex`: exclusive access to a value across `.await`s.

use std::cell::{RefCell, RefMut};
use std::fmt;
use std::ops::{Deref, DerefMut};

use super::semaphore::{Permit, Semaphore};

/// A lock for tasks: [`Mutex::lock`] waits, without blocking the thread, until the value is free,
/// and the [`MutexGuard`] it returns may be held across `.await`s (a `RefCell` borrow held across
/// an `.await` would make the other tasks panic instead).
///
/// Tasks get the lock in the order they asked for it: on unlock it passes straight to the task that
/// has waited longest, so neither [`Mutex::try_lock`] nor a task that just unlocked can take it
/// back first.
///
/// # Dropping
///
/// Dropping the guard unlocks. Dropping a [`Mutex::lock`] future before it completes takes it out
/// of the queue; if the lock had already been passed to it, it is passed on.
///
/// ```
/// use evloop::sync::Mutex;
/// use std::rc::Rc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let log = Rc::new(Mutex::new(Vec::new()));
///     let mut tasks = Vec::new();
///     for id in 0..3 {
///         let log = log.clone();
///         tasks.push(evloop::spawn(async move {
///             let mut log = log.lock().await;
///             log.push(id);
///             evloop::yield_now().await; // still holding the lock
///             log.push(id);
///         }));
///     }
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(*log.lock().await, [0, 0, 1, 1, 2, 2]);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Mutex<T: ?Sized> {
    /// One permit: whoever holds it holds the lock. The semaphore brings the first come, first
    /// served queue and the cancellation rules.
    lock: Semaphore,
    value: RefCell<T>,
}

/// Access to the value of a locked [`Mutex`]; dropping it unlocks.
///
/// ```
/// use evloop::sync::Mutex;
///
/// let m = Mutex::new(String::from("a"));
/// let mut guard = m.try_lock().unwrap();
/// guard.push('b'); // `DerefMut` to the value
/// assert_eq!(guard.len(), 2); // and `Deref`
/// assert_eq!(guard.to_string(), "ab", "Display shows the value");
/// drop(guard); // unlocks
/// assert!(m.try_lock().is_ok());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    // Declared (so dropped) before the permit: the borrow ends before the next owner can be woken.
    value: RefMut<'a, T>,
    _permit: Permit<'a>,
}

/// [`Mutex::try_lock`] found the mutex locked (or others waiting for it).
///
/// ```
/// use evloop::sync::Mutex;
///
/// let m = Mutex::new(());
/// let _held = m.try_lock().unwrap();
/// let err = m.try_lock().unwrap_err();
/// assert_eq!(err.to_string(), "the mutex is locked");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    ///
    /// ```
    /// use evloop::sync::Mutex;
    ///
    /// // `const`: a mutex can live in a `thread_local!` or a `static` of a single-threaded program.
    /// thread_local!(static COUNT: Mutex<u32> = const { Mutex::new(0) });
    /// COUNT.with(|c| *c.try_lock().unwrap() += 1);
    /// assert_eq!(COUNT.with(|c| *c.try_lock().unwrap()), 1);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            lock: Semaphore::new(1),
            value: RefCell::new(value),
        }
    }

    /// The value, taking the mutex apart.
    ///
    /// ```
    /// use evloop::sync::Mutex;
    ///
    /// let m = Mutex::new(vec![1]);
    /// m.try_lock().unwrap().push(2);
    /// assert_eq!(m.into_inner(), [1, 2]);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock (first come, first served) and returns a guard giving access to the
    /// value.
    ///
    /// ```
    /// use evloop::sync::Mutex;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let log = Rc::new(Mutex::new(Vec::new()));
    ///     let tasks: Vec<_> = (0..3)
    ///         .map(|i| {
    ///             let log = log.clone();
    ///             evloop::spawn(async move {
    ///                 let mut guard = log.lock().await; // held across the await below
    ///                 evloop::yield_now().await;
    ///                 guard.push(i);
    ///             })
    ///         })
    ///         .collect();
    ///     for t in tasks {
    ///         t.await.unwrap();
    ///     }
    ///     assert_eq!(*log.lock().await, [0, 1, 2], "first come, first served");
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        let Ok(permit) = self.lock.acquire().await else {
            unreachable!("a mutex's semaphore is never closed")
        };
        self.guard(permit)
    }

    /// Takes the lock if it is free and nobody is waiting for it.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] otherwise.
    ///
    /// ```
    /// use evloop::sync::Mutex;
    ///
    /// let m = Mutex::new(1);
    /// let guard = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err(), "held");
    /// drop(guard);
    /// *m.try_lock().unwrap() += 1;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.lock.try_acquire() {
            Ok(permit) => Ok(self.guard(permit)),
            Err(_) => Err(TryLockError(())),
        }
    }

    fn guard<'a>(&'a self, permit: Permit<'a>) -> MutexGuard<'a, T> {
        MutexGuard {
            // Cannot fail: the only permit is ours, and every earlier guard's borrow has ended.
            value: self.value.borrow_mut(),
            _permit: permit,
        }
    }

    /// The value, through a unique reference to the mutex (no locking needed).
    ///
    /// ```
    /// use evloop::sync::Mutex;
    ///
    /// let mut m = Mutex::new(1);
    /// *m.get_mut() += 1; // `&mut` proves nobody else holds the lock
    /// assert_eq!(*m.try_lock().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.value.try_borrow() {
            Ok(v) => d.field("value", &&*v),
            Err(_) => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the mutex is locked")
    }
}

impl std::error::Error for TryLockError {}
