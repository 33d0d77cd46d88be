//! `Receiver`: a receiving end of an mpmc channel.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::{Chan, TryRecvError};
use crate::sync::{spend_budget, wake, NeedsClone, NewWaker};

/// Receives values from a channel made by [`channel`](super::channel); clone it for more
/// consumers. Each value goes to one receiver; see the [module docs](super) for who gets which.
///
/// Receiving takes `&self`, so one receiver may also be shared by several futures of a task.
/// Dropping the last receiver closes the channel and drops the values still buffered.
///
/// ```
/// use evloop::sync::mpmc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, rx) = mpmc::channel(4);
///     let workers: Vec<_> = (0..2)
///         .map(|_| {
///             let rx = rx.clone(); // one per worker
///             evloop::spawn(async move {
///                 let mut done = 0;
///                 while rx.recv().await.is_some() {
///                     done += 1;
///                     evloop::yield_now().await; // the work
///                 }
///                 done
///             })
///         })
///         .collect();
///     for job in 0..10 {
///         tx.send(job).await.unwrap();
///     }
///     drop(tx);
///     let mut total = 0;
///     for w in workers {
///         let done = w.await.unwrap();
///         assert!(done > 0, "both workers got jobs");
///         total += done;
///     }
///     assert_eq!(total, 10, "each job done once");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Receiver<T> {
    chan: Rc<Chan<T>>,
    /// The waiter slot of [`Receiver::poll_recv`] (and so of the `Stream`), between its polls.
    key: Option<usize>,
}

impl<T> Receiver<T> {
    pub(super) fn new(chan: Rc<Chan<T>>) -> Self {
        Receiver { chan, key: None }
    }

    /// Receives the next value, waiting for one if none is free. `None` once the channel has
    /// ended (every sender dropped, or closed) and its buffer is empty.
    ///
    /// Receivers that wait are served in the order they started waiting. Dropping the future
    /// before it completes loses nothing: a value promised to it goes to the next receiver.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, rx) = mpmc::channel(4);
    ///     let other = rx.clone();
    ///     let waiting = evloop::spawn(async move { other.recv().await });
    ///     evloop::yield_now().await; // `other` waits now: the next value is promised to it
    ///     tx.send("first").await.unwrap();
    ///     assert!(rx.try_recv().is_err(), "not free: promised to `other`");
    ///     tx.send("second").await.unwrap();
    ///     // Values leave in order; each receiver gets one.
    ///     assert_eq!(rx.recv().await, Some("first"));
    ///     assert_eq!(waiting.await.unwrap(), Some("second"));
    ///     drop(tx);
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&self) -> Option<T> {
        Recv {
            chan: &self.chan,
            key: None,
        }
        .await
    }

    /// Polls for the next value; see [`Receiver::recv`]. Between polls, the wait is held by this
    /// receiver (a clone has its own).
    ///
    /// ```
    /// use evloop::sync::mpmc;
    /// use std::future::poll_fn;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, mut rx) = mpmc::channel(1);
    ///     tx.try_send("job").unwrap();
    ///     drop(tx);
    ///     assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, Some("job"));
    ///     assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, None);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        poll_recv(&self.chan, &mut self.key, cx)
    }

    /// Takes the next free value if there is one, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if no value is free (none buffered, or each one promised to a
    /// receiver that waited for it) but more may come, [`TryRecvError::Disconnected`] if nothing
    /// more will.
    ///
    /// ```
    /// use evloop::sync::mpmc::{self, TryRecvError};
    ///
    /// let (tx, rx) = mpmc::channel(2);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(7).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(7));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut st = self.chan.state.borrow_mut();
        if st.has_free_value() {
            let taken = st.take(false);
            drop(st);
            return Ok(taken.finish(&self.chan));
        }
        if st.buf.is_empty() && st.ended() {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel for every end, as [`Sender::close`](super::Sender::close) does: sends
    /// fail from now on, and receivers get the values already buffered, then `None`. Returns
    /// whether this call closed it.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, rx) = mpmc::channel(2);
    /// tx.try_send(1).unwrap();
    /// assert!(rx.close());
    /// assert!(!rx.close(), "already closed");
    /// assert!(tx.try_send(2).is_err());
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether nothing more can arrive beyond what is buffered: the channel was closed, or every
    /// sender is gone.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, rx) = mpmc::channel(1);
    /// tx.try_send(1).unwrap();
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// assert_eq!(rx.try_recv(), Ok(1), "what was buffered is still received");
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.state.borrow().ended()
    }

    /// How many values are buffered (including those promised to receivers that waited).
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, rx) = mpmc::channel(4);
    /// tx.try_send(1).unwrap();
    /// tx.try_send(2).unwrap();
    /// let other = rx.clone();
    /// assert_eq!((rx.len(), other.len()), (2, 2), "one buffer, seen from every receiver");
    /// other.try_recv().unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no value is buffered.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, rx) = mpmc::channel(1);
    /// assert!(rx.is_empty());
    /// tx.try_send(()).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many senders are alive.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (tx, rx) = mpmc::channel::<u8>(1);
    /// let tx2 = tx.clone();
    /// assert_eq!(rx.sender_count(), 2);
    /// drop((tx, tx2));
    /// assert_eq!(rx.sender_count(), 0);
    /// assert!(rx.is_closed());
    /// ```
    pub fn sender_count(&self) -> usize {
        self.chan.senders.get()
    }

    /// Whether both receivers receive from the same channel.
    ///
    /// ```
    /// use evloop::sync::mpmc;
    ///
    /// let (_tx, a) = mpmc::channel::<u8>(1);
    /// let (_tx2, b) = mpmc::channel::<u8>(1);
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.set(self.chan.receivers.get() + 1);
        Receiver::new(self.chan.clone())
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        leave(&self.chan, &mut self.key);
        let left = self.chan.receivers.get() - 1;
        self.chan.receivers.set(left);
        if left == 0 {
            self.chan.close();
            // Dropped with no borrow held: a value's destructor may use the channel (a value
            // holding a sender of it, say).
            let buffered = std::mem::take(&mut self.chan.state.borrow_mut().buf);
            drop(buffered);
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
    chan: &'a Chan<T>,
    key: Option<usize>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        poll_recv(this.chan, &mut this.key, cx)
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        leave(self.chan, &mut self.key);
    }
}

/// Polls for a value with the waiter slot `key`: takes the value promised to it, or a free one;
/// else waits (linked at the back, or, still linked, with its waker refreshed).
fn poll_recv<T>(chan: &Chan<T>, key: &mut Option<usize>, cx: &mut Context<'_>) -> Poll<Option<T>> {
    let mut new = NewWaker::new(cx.waker());
    loop {
        let mut st = chan.state.borrow_mut();
        let promised = match *key {
            // Still waiting: no value is free while a receiver is linked.
            Some(k) if st.recv_waiters.is_linked(k) => {
                match st.recv_waiters.set_waker(k, &mut new) {
                    Ok(()) => return Poll::Pending,
                    Err(NeedsClone) => {
                        new.clone_after(st);
                        continue;
                    }
                }
            }
            // Woken: for a value promised to it, or because the channel ended.
            Some(k) => *st.recv_waiters.data_mut(k),
            None => false,
        };
        if promised || st.has_free_value() {
            if !spend_budget() {
                // Yield to the loop; a promise stays this slot's for the next poll.
                drop(st);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if let Some(k) = key.take() {
                st.recv_waiters.remove_unlinked(k);
            }
            let taken = st.take(promised);
            drop(st);
            return Poll::Ready(Some(taken.finish(chan)));
        }
        if st.buf.is_empty() && st.ended() {
            if let Some(k) = key.take() {
                st.recv_waiters.remove_unlinked(k);
            }
            return Poll::Ready(None);
        }
        // Wait at the back of the line: first wait, or woken by the end while values were
        // still promised to others (one of which may yet be passed on to us).
        match new.take() {
            Ok(waker) => {
                if let Some(k) = key.take() {
                    st.recv_waiters.remove_unlinked(k);
                }
                *key = Some(st.recv_waiters.push_back(waker, false));
                return Poll::Pending;
            }
            Err(NeedsClone) => new.clone_after(st),
        }
    }
}

/// Frees the waiter slot `key` of a receive that is over or dropped. A value promised to it, not
/// taken, goes to the next waiting receiver (or stays free in the buffer).
#[inline]
fn leave<T>(chan: &Chan<T>, key: &mut Option<usize>) {
    // Most receives end with their slot freed already (they took a value): nothing to do.
    if let Some(k) = key.take() {
        leave_slot(chan, k);
    }
}

#[cold]
fn leave_slot<T>(chan: &Chan<T>, k: usize) {
    let mut st = chan.state.borrow_mut();
    let (promised, waker) = st.recv_waiters.remove(k);
    let next = if promised {
        st.promised -= 1;
        st.promise()
    } else {
        None
    };
    drop(st);
    // With no borrow held: a foreign waker's drop or wake may use the channel.
    drop(waker);
    wake(next);
}
