//! `Receiver`: one subscriber of a broadcast channel.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::{Ring, Shared, TryRecvError};
use crate::sync::{spend_budget, NeedsClone, NewWaker};

/// Receives every value sent on a broadcast channel after it subscribed; see
/// [`channel`](super::channel).
///
/// Dropping it releases its claim on the values it had not taken.
///
/// ```
/// use evloop::sync::broadcast;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, rx) = broadcast::channel(16);
///     let listeners: Vec<_> = (0..3)
///         .map(|_| {
///             let mut rx = rx.resubscribe();
///             evloop::spawn(async move {
///                 let mut got = Vec::new();
///                 while let Ok(v) = rx.recv().await {
///                     got.push(v);
///                 }
///                 got
///             })
///         })
///         .collect();
///     drop(rx);
///     evloop::yield_now().await;
///     for i in 0..3 {
///         tx.send(i).unwrap();
///     }
///     drop(tx); // listeners get what was sent, then `RecvError::Closed`
///     for l in listeners {
///         assert_eq!(l.await.unwrap(), [0, 1, 2]);
///     }
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
    /// The sequence number of the next value to take.
    next: u64,
}

/// What a receiver whose next value is `next` finds when it looks at the ring.
enum Look {
    Lagged(u64),
    Ready,
    Empty,
    Closed,
}

fn look<T>(next: u64, shared: &Shared<T>, ring: &Ring<T>) -> Look {
    let oldest = ring.oldest();
    if next < oldest {
        Look::Lagged(oldest - next)
    } else if next < ring.tail {
        Look::Ready
    } else if shared.senders.get() == 0 {
        Look::Closed
    } else {
        Look::Empty
    }
}

/// Takes value `*next`, which [`look`] found [`Look::Ready`].
fn take<T: Clone>(next: &mut u64, ring: &mut Ring<T>) -> T {
    let slot = ring.slot(*next);
    debug_assert_eq!(slot.seq, *next);
    slot.unread -= 1;
    // The last reader gets the original. `clone` is user code run under the borrow; a clone that
    // uses this very channel is not supported (it would panic on the borrow).
    let value = if slot.unread == 0 {
        slot.value.take()
    } else {
        slot.value.clone()
    };
    *next += 1;
    value.expect("evloop: a broadcast value is held until its last reader took it")
}

impl<T> Receiver<T> {
    pub(super) fn new(shared: Rc<Shared<T>>, next: u64) -> Self {
        Receiver { shared, next }
    }

    /// A new receiver of the same channel, which gets the values sent from now on (not those this
    /// one has yet to take).
    ///
    /// ```
    /// use evloop::sync::broadcast;
    ///
    /// let (tx, mut rx) = broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// let mut fresh = rx.resubscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(fresh.try_recv(), Ok(2), "not what `rx` had yet to take");
    /// ```
    pub fn resubscribe(&self) -> Receiver<T> {
        self.shared.subscribe()
    }

    /// How many values were sent that this receiver has not taken yet. More than the channel's
    /// capacity if it lagged: the next receive then reports [`RecvError::Lagged`](super::RecvError).
    ///
    /// ```
    /// use evloop::sync::broadcast;
    ///
    /// let (tx, mut rx) = broadcast::channel(2);
    /// for i in 0..3 {
    ///     tx.send(i).unwrap();
    /// }
    /// assert_eq!(rx.len(), 3, "more than the capacity: it lagged");
    /// assert!(rx.try_recv().is_err()); // the lag report
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        let tail = self.shared.ring.borrow().tail;
        usize::try_from(tail - self.next).unwrap_or(usize::MAX)
    }

    /// Whether this receiver has taken every value sent so far.
    ///
    /// ```
    /// use evloop::sync::broadcast;
    ///
    /// let (tx, mut rx) = broadcast::channel(2);
    /// assert!(rx.is_empty());
    /// tx.send(1).unwrap();
    /// assert!(!rx.is_empty());
    /// rx.try_recv().unwrap();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every sender is gone (values not taken yet can still be received).
    ///
    /// ```
    /// use evloop::sync::broadcast;
    ///
    /// let (tx, mut rx) = broadcast::channel(2);
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// assert_eq!(rx.try_recv(), Ok(1), "values not taken are still received");
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.senders.get() == 0
    }
}

impl<T: Clone> Receiver<T> {
    /// Receives the next value, waiting for one if this receiver has taken them all.
    ///
    /// Dropping the future before it completes loses nothing.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged`](super::RecvError::Lagged) with the number of values missed, if this
    /// receiver fell more than the capacity behind; the next call returns the oldest value still
    /// held. [`RecvError::Closed`](super::RecvError::Closed) once every sender is gone and every
    /// value has been taken.
    ///
    /// ```
    /// use evloop::sync::broadcast::{self, RecvError};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, mut rx) = broadcast::channel(2);
    ///     for i in 0..5 {
    ///         tx.send(i).unwrap();
    ///     }
    ///     // Only the last two values are held: three were missed.
    ///     assert_eq!(rx.recv().await, Err(RecvError::Lagged(3)));
    ///     assert_eq!(rx.recv().await, Ok(3));
    ///     assert_eq!(rx.recv().await, Ok(4));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&mut self) -> Result<T, super::RecvError> {
        Recv {
            rx: self,
            key: None,
        }
        .await
    }

    /// Takes the next value if there is one, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if this receiver has taken every value but a sender is alive; the
    /// others as for [`Receiver::recv`].
    ///
    /// ```
    /// use evloop::sync::broadcast::{self, TryRecvError};
    ///
    /// let (tx, mut rx) = broadcast::channel(4);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send("x").unwrap();
    /// assert_eq!(rx.try_recv(), Ok("x"));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut ring = self.shared.ring.borrow_mut();
        match look(self.next, &self.shared, &ring) {
            Look::Lagged(n) => {
                self.next += n;
                Err(TryRecvError::Lagged(n))
            }
            Look::Ready => Ok(take(&mut self.next, &mut ring)),
            Look::Empty => Err(TryRecvError::Empty),
            Look::Closed => Err(TryRecvError::Closed),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut ring = self.shared.ring.borrow_mut();
        ring.receivers -= 1;
        let (start, tail) = (self.next.max(ring.oldest()), ring.tail);
        drop(ring);
        // Give up this receiver's claim on each value it has not taken, one borrow at a time: a
        // value freed here is dropped with no borrow held, and its destructor may even send (and
        // so overwrite values this loop has yet to reach).
        for seq in start..tail {
            let mut ring = self.shared.ring.borrow_mut();
            if seq < ring.oldest() {
                continue;
            }
            let slot = ring.slot(seq);
            slot.unread -= 1;
            let freed = if slot.unread == 0 {
                slot.value.take()
            } else {
                None
            };
            drop(ring);
            drop(freed);
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The future of [`Receiver::recv`]; `key` is its waiter slot while it waits.
struct Recv<'a, T> {
    rx: &'a mut Receiver<T>,
    key: Option<usize>,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, super::RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        poll_recv(this.rx, &mut this.key, cx)
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        leave(self.rx, &mut self.key);
    }
}

/// Polls `rx` for its next value, waiting in the waiter slot `key` (the caller's, freed once the
/// poll is ready or by [`leave`]): the body of [`Receiver::recv`], shared with the `Stream`.
pub(crate) fn poll_recv<T: Clone>(
    rx: &mut Receiver<T>,
    key: &mut Option<usize>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, super::RecvError>> {
    let mut new = NewWaker::new(cx.waker());
    loop {
        let mut ring = rx.shared.ring.borrow_mut();
        let out = match look(rx.next, &rx.shared, &ring) {
            Look::Lagged(n) => {
                rx.next += n;
                Err(super::RecvError::Lagged(n))
            }
            Look::Ready => {
                if !spend_budget() {
                    drop(ring);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Ok(take(&mut rx.next, &mut ring))
            }
            Look::Closed => Err(super::RecvError::Closed),
            Look::Empty => match ring.waiters.wait(key, &mut new) {
                Ok(()) => return Poll::Pending,
                Err(NeedsClone) => {
                    new.clone_after(ring);
                    continue;
                }
            },
        };
        let waker = ring.waiters.cancel(key);
        drop(ring);
        drop(waker);
        return Poll::Ready(out);
    }
}

/// Frees the waiter slot `key` of a receive that is dropped before it completed.
pub(crate) fn leave<T>(rx: &Receiver<T>, key: &mut Option<usize>) {
    if key.is_some() {
        // Dropped with no borrow held, as a waker may be a foreign one that uses the channel.
        let waker = rx.shared.ring.borrow_mut().waiters.cancel(key);
        drop(waker);
    }
}
