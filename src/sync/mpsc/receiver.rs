//! `Receiver`: the receiving half of both kinds of channel.

use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::{Chan, State, TryRecvError};
use crate::sync::wait_list;
use crate::sync::{spend_budget, wake, NeedsClone, NewWaker};

/// Receives the values of a channel made by [`channel`](super::channel) or
/// [`unbounded_channel`](super::unbounded_channel), in the order they were sent.
///
/// Dropping it closes the channel and drops the values still buffered.
///
/// ```
/// use evloop::sync::mpsc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut rx) = mpsc::channel(2);
///     let consumer = evloop::spawn(async move {
///         let mut got = Vec::new();
///         while let Some(v) = rx.recv().await {
///             got.push(v);
///         }
///         got
///     });
///     for i in 0..5 {
///         tx.send(i).await.unwrap(); // waits while two are buffered
///     }
///     drop(tx);
///     assert_eq!(consumer.await.unwrap(), [0, 1, 2, 3, 4]);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Receiver<T> {
    chan: Rc<Chan<T>>,
}

impl<T> State<T> {
    /// Pops the oldest value. If a sender is waiting for room, its value takes the freed place at
    /// once (that is what keeps waiting senders first come, first served); returns its waker.
    fn pop(&mut self) -> Option<(T, Option<Waker>)> {
        let value = self.buf.pop_front()?;
        let mut waker = None;
        if let Some(key) = self.send_waiters.front() {
            if let Some(next) = self.send_waiters.data_mut(key).take() {
                self.buf.push_back(next);
            }
            waker = self.send_waiters.unlink(key);
        }
        Some((value, waker))
    }
}

impl<T> Receiver<T> {
    pub(super) fn new(chan: Rc<Chan<T>>) -> Self {
        Receiver { chan }
    }

    /// Receives the next value, waiting for one if none is buffered. `None` once the channel is
    /// closed (every sender dropped, or [`Receiver::close`] called) and its buffer is empty.
    ///
    /// Dropping the future before it completes loses nothing.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, mut rx) = mpsc::unbounded_channel();
    ///     evloop::spawn(async move { tx.send("hello").unwrap() });
    ///     assert_eq!(rx.recv().await, Some("hello"));
    ///     assert_eq!(rx.recv().await, None); // the sender was dropped
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next value; see [`Receiver::recv`].
    ///
    /// ```
    /// use evloop::sync::mpsc;
    /// use std::future::poll_fn;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, mut rx) = mpsc::unbounded_channel();
    ///     tx.send(1).unwrap();
    ///     drop(tx);
    ///     // For hand-written futures and streams: `recv` is this in a `poll_fn`.
    ///     assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, Some(1));
    ///     assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, None);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut new = NewWaker::new(cx.waker());
        loop {
            let mut st = self.chan.state.borrow_mut();
            if !st.buf.is_empty() {
                if !spend_budget() {
                    drop(st);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                let Some((value, waker)) = st.pop() else {
                    unreachable!("the buffer is not empty")
                };
                drop(st);
                wake(waker);
                return Poll::Ready(Some(value));
            }
            if st.closed || self.chan.senders.get() == 0 {
                return Poll::Ready(None);
            }
            match new.store(&mut st.rx_waker) {
                Ok(()) => return Poll::Pending,
                Err(NeedsClone) => new.clone_after(st),
            }
        }
    }

    /// Takes the next value if one is buffered, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is buffered but more may come,
    /// [`TryRecvError::Disconnected`] if nothing more will.
    ///
    /// ```
    /// use evloop::sync::mpsc::{self, TryRecvError};
    ///
    /// let (tx, mut rx) = mpsc::unbounded_channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut st = self.chan.state.borrow_mut();
        if let Some((value, waker)) = st.pop() {
            drop(st);
            wake(waker);
            return Ok(value);
        }
        if st.closed || self.chan.senders.get() == 0 {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel: further sends fail, and so do senders waiting for room (they get their
    /// values back). Values already buffered can still be received.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (tx, mut rx) = mpsc::channel(4);
    ///     tx.send("queued").await.unwrap();
    ///     rx.close();
    ///     assert!(tx.send("refused").await.is_err());
    ///     assert_eq!(rx.recv().await, Some("queued"));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&mut self) {
        let mut st = self.chan.state.borrow_mut();
        st.closed = true;
        let wakers = st.send_waiters.unlink_all(|_| {});
        drop(st);
        wait_list::wake_all(&self.chan.state, |st| &mut st.send_waiters, wakers);
    }

    /// Whether nothing more can arrive beyond what is buffered: the channel was closed, or every
    /// sender is gone.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// tx.try_send(1).unwrap();
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed(), "every sender is gone...");
    /// assert_eq!(rx.try_recv(), Ok(1), "... but what they sent is still there");
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed() || self.chan.senders.get() == 0
    }

    /// How many values are buffered.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::unbounded_channel();
    /// tx.send('a').unwrap();
    /// tx.send('b').unwrap();
    /// assert_eq!(rx.len(), 2);
    /// rx.try_recv().unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.state.borrow().buf.len()
    }

    /// Whether no value is buffered.
    ///
    /// ```
    /// use evloop::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// assert!(rx.is_empty());
    /// tx.try_send(()).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        // Dropped with no borrow held: a value's destructor may use the channel (a value holding
        // a sender of it, say).
        let buffered = std::mem::take(&mut self.chan.state.borrow_mut().buf);
        drop(buffered);
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
