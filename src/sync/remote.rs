//! `remote_channel`: values from any thread to a task on the loop.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::mpsc::{SendError, TryRecvError};
use super::{poll_budget, NeedsClone, NewWaker};

/// Creates a channel from any number of threads into a task on the loop: a [`RemoteSender`],
/// which is `Send + Sync + Clone`, and a [`RemoteReceiver`] for the task. Unbounded: sending never
/// waits.
///
/// Values from one sender arrive in the order it sent them, each exactly once. The queue sits
/// behind a mutex; a send wakes the receiving task only if it is waiting (the first send after it
/// found the queue empty), and the receiver takes everything queued in one go, so a burst of sends
/// costs one wake-up of the loop and the receiver takes the lock once per burst. The buffers keep
/// their capacity, so in steady state nothing is allocated per value.
///
/// # Closing and dropping
///
/// - When every sender is dropped, [`RemoteReceiver::recv`] returns what is still queued, then
///   `None`.
/// - [`RemoteReceiver::close`] refuses further values (sends fail, giving the value back); what is
///   queued can still be received. Dropping the receiver closes it and drops what is queued.
/// - A waiting [`RemoteReceiver::recv`] keeps nothing alive: under
///   [`EventLoop::run`](crate::EventLoop::run), hold a [`KeepAlive`](crate::KeepAlive) while values
///   are expected (or use [`EventLoop::block_on`](crate::EventLoop::block_on)).
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// let total = lp.block_on(async {
///     let (tx, mut rx) = evloop::sync::remote_channel();
///     let threads: Vec<_> = (0..4u64)
///         .map(|_| {
///             let tx = tx.clone();
///             std::thread::spawn(move || {
///                 for i in 1..=100 {
///                     tx.send(i).unwrap();
///                 }
///             })
///         })
///         .collect();
///     drop(tx); // the loop below ends once the threads' senders are gone
///     let mut total = 0;
///     while let Some(v) = rx.recv().await {
///         total += v;
///     }
///     for t in threads {
///         t.join().unwrap();
///     }
///     total
/// });
/// assert_eq!(total, 4 * 5050);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remote_channel<T>() -> (RemoteSender<T>, RemoteReceiver<T>) {
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            queue: VecDeque::new(),
            waker: None,
            senders: 1,
            closed: false,
        }),
    });
    (
        RemoteSender {
            shared: shared.clone(),
        },
        RemoteReceiver {
            shared,
            local: VecDeque::new(),
        },
    )
}

struct Shared<T> {
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    queue: VecDeque<T>,
    /// The receiving task, while it waits for the queue to fill.
    waker: Option<Waker>,
    senders: usize,
    closed: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // No user code runs under the lock (values and wakers are moved in and out, never dropped,
        // cloned or woken there), so a poisoned lock still holds consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sends values to a [`RemoteReceiver`] from any thread; see [`remote_channel`].
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut rx) = evloop::sync::remote_channel();
///     let worker = std::thread::spawn(move || tx.send(std::thread::current().id()).unwrap());
///     let from = rx.recv().await.unwrap();
///     assert_ne!(from, std::thread::current().id());
///     worker.join().unwrap();
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RemoteSender<T> {
    shared: Arc<Shared<T>>,
}

/// Receives on the loop what [`RemoteSender`]s send; see [`remote_channel`].
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// let got = lp.block_on(async {
///     let (tx, mut rx) = evloop::sync::remote_channel();
///     std::thread::spawn(move || {
///         for i in 0..3 {
///             tx.send(i).unwrap();
///         }
///     });
///     let mut got = Vec::new();
///     while let Some(v) = rx.recv().await {
///         got.push(v);
///     }
///     got
/// });
/// assert_eq!(got, [0, 1, 2]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RemoteReceiver<T> {
    shared: Arc<Shared<T>>,
    /// Values already taken from the shared queue, swapped out in one go.
    local: VecDeque<T>,
}

impl<T> RemoteSender<T> {
    /// Queues `value` and wakes the receiving task if it waits.
    ///
    /// # Errors
    ///
    /// Gives `value` back if the receiver is closed or dropped.
    ///
    /// ```
    /// let (tx, mut rx) = evloop::sync::remote_channel();
    /// tx.send(1).unwrap();
    /// rx.close();
    /// assert_eq!(tx.send(2).unwrap_err().0, 2);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut inner = self.shared.lock();
        if inner.closed {
            return Err(SendError(value));
        }
        inner.queue.push_back(value);
        let waker = inner.waker.take();
        drop(inner);
        // Outside the lock: waking posts to the loop's inbox, another lock.
        super::wake(waker);
        Ok(())
    }

    /// Whether the receiver is closed or dropped, so that sending would fail.
    ///
    /// ```
    /// let (tx, rx) = evloop::sync::remote_channel::<u8>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// assert!(tx.send(1).is_err());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }
}

impl<T> Clone for RemoteSender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        RemoteSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for RemoteSender<T> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.senders -= 1;
        let waker = if inner.senders == 0 {
            inner.waker.take()
        } else {
            None
        };
        drop(inner);
        super::wake(waker);
    }
}

impl<T> fmt::Debug for RemoteSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

// Values are only ever moved in and out of `local`, never pinned in place.
impl<T> Unpin for RemoteReceiver<T> {}

impl<T> RemoteReceiver<T> {
    /// Receives the next value, waiting for one if none is queued. `None` once every sender is gone
    /// (or the receiver was closed) and the queue is empty.
    ///
    /// Dropping the future before it completes loses nothing.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, mut rx) = evloop::sync::remote_channel();
    ///     let t = std::thread::spawn(move || tx.send(7).unwrap());
    ///     assert_eq!(rx.recv().await, Some(7));
    ///     t.join().unwrap(); // the sender is gone with the thread
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next value; see [`RemoteReceiver::recv`].
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, mut rx) = evloop::sync::remote_channel();
    ///     std::thread::spawn(move || tx.send("from a thread").unwrap());
    ///     let got = poll_fn(|cx| rx.poll_recv(cx)).await; // what `recv` awaits
    ///     assert_eq!(got, Some("from a thread"));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut new = NewWaker::new(cx.waker());
        while self.local.is_empty() {
            let mut inner = self.shared.lock();
            if !inner.queue.is_empty() {
                // Both buffers keep their capacity: the senders get back the empty one.
                std::mem::swap(&mut inner.queue, &mut self.local);
                break;
            }
            if inner.closed || inner.senders == 0 {
                return Poll::Ready(None);
            }
            match new.store(&mut inner.waker) {
                Ok(()) => return Poll::Pending,
                Err(NeedsClone) => new.clone_after(inner),
            }
        }
        if poll_budget(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(self.local.pop_front())
    }

    /// Takes the next value if one is queued, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is queued but more may come,
    /// [`TryRecvError::Disconnected`] if nothing more will.
    ///
    /// ```
    /// use evloop::sync::mpsc::TryRecvError;
    ///
    /// let (tx, mut rx) = evloop::sync::remote_channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// std::thread::spawn(move || tx.send("hi").unwrap()).join().unwrap();
    /// assert_eq!(rx.try_recv(), Ok("hi"));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if self.local.is_empty() {
            let mut inner = self.shared.lock();
            if inner.queue.is_empty() {
                return Err(if inner.closed || inner.senders == 0 {
                    TryRecvError::Disconnected
                } else {
                    TryRecvError::Empty
                });
            }
            std::mem::swap(&mut inner.queue, &mut self.local);
        }
        self.local.pop_front().ok_or(TryRecvError::Empty)
    }

    /// Refuses further values: sends fail from now on. What is queued can still be received.
    ///
    /// ```
    /// let (tx, mut rx) = evloop::sync::remote_channel();
    /// tx.send(1).unwrap();
    /// rx.close();
    /// assert!(tx.send(2).is_err(), "refused from now on");
    /// assert_eq!(rx.try_recv(), Ok(1), "what was queued stays");
    /// ```
    pub fn close(&mut self) {
        self.shared.lock().closed = true;
    }
}

impl<T> Drop for RemoteReceiver<T> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.closed = true;
        let queued = std::mem::take(&mut inner.queue);
        drop(inner);
        drop(queued);
    }
}

impl<T> fmt::Debug for RemoteReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteReceiver")
            .field("taken", &self.local.len())
            .finish()
    }
}
