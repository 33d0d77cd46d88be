//! A bounded multi-producer, multi-consumer channel, for worker pools: any number of [`Sender`]s
//! and [`Receiver`]s (clone either), and each value sent is received by exactly one receiver.
//!
//! [`Sender::send`] waits for room when the channel holds `capacity` values (backpressure);
//! [`Receiver::recv`] waits for a value. Both kinds of waiter are served first come, first served:
//!
//! - **Receivers.** A value sent while receivers wait is promised to the one that has waited
//!   longest, and the promise holds until it takes a value: a receiver that comes later, or one
//!   that keeps receiving, gets a value only if one is left that nobody was promised. So idle
//!   workers take turns, in the order they became idle. (Promises count values, they do not name
//!   them: values still leave the buffer in order, so a newcomer that finds one free takes the
//!   oldest.)
//! - **Senders.** Each value a receiver takes makes room for the longest-waiting sender's value,
//!   which moves into the buffer right then (as in [`mpsc`](super::mpsc)).
//!
//! Values leave the buffer in the order they entered it. The buffer is allocated once, at its
//! full capacity, and the waiter lists keep theirs, so in steady state sending and receiving
//! allocate nothing. Like the other channels here it is for tasks of one loop: no lock, no atomic.
//!
//! # Closing and dropping
//!
//! The shapes of tokio's `mpsc` and of `async-channel`:
//!
//! - Nothing sent is lost while a receiver lives: every value is received once, by one receiver.
//! - When every sender is dropped, receivers get the values still buffered, then `None`.
//! - [`Sender::close`] or [`Receiver::close`] refuses further values: sends fail (giving the value
//!   back), senders waiting for room fail too, and receivers still get the values already
//!   buffered, then `None`.
//! - When every receiver is dropped, the channel closes and the buffered values are dropped.
//! - Dropping a pending [`Sender::send`] withdraws its value; dropping a pending
//!   [`Receiver::recv`] loses nothing: a value promised to it goes to the next receiver in line.
//!
//! ```
//! use evloop::sync::mpmc;
//!
//! let lp = evloop::EventLoop::new()?;
//! let done = lp.block_on(async {
//!     let (jobs, queue) = mpmc::channel(8);
//!     let (results, mut collected) = evloop::sync::mpsc::unbounded_channel();
//!     for worker in 0..3 {
//!         let (queue, results) = (queue.clone(), results.clone());
//!         evloop::spawn(async move {
//!             while let Some(job) = queue.recv().await {
//!                 results.send((worker, job * 2)).unwrap();
//!             }
//!         });
//!     }
//!     drop((queue, results));
//!     for job in 0..30 {
//!         jobs.send(job).await.unwrap();
//!     }
//!     drop(jobs); // the workers end once the queue is drained
//!     let mut done = Vec::new();
//!     while let Some((_worker, doubled)) = collected.recv().await {
//!         done.push(doubled);
//!     }
//!     done.sort();
//!     done
//! });
//! assert_eq!(done, (0..30).map(|j| j * 2).collect::<Vec<_>>());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;

use super::bounded_send::Bounded;
use super::wait_list::{self, WaitList};

mod receiver;
mod sender;

pub use super::mpsc::{SendError, TryRecvError, TrySendError};
pub use receiver::Receiver;
pub use sender::Sender;

/// Creates a channel that holds at most `capacity` values, with one sender and one receiver;
/// clone them for more.
///
/// # Panics
///
/// If `capacity` is zero.
///
/// ```
/// use evloop::sync::mpmc;
///
/// let (tx, rx) = mpmc::channel(2);
/// let rx2 = rx.clone();
/// tx.try_send(1).unwrap();
/// tx.try_send(2).unwrap();
/// assert!(tx.try_send(3).unwrap_err().is_full());
/// assert_eq!(rx2.try_recv(), Ok(1));
/// assert_eq!(rx.try_recv(), Ok(2));
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "evloop: mpmc channel capacity must be at least 1"
    );
    let chan = Rc::new(Chan {
        state: RefCell::new(State {
            buf: VecDeque::with_capacity(capacity),
            bound: capacity,
            closed: false,
            senders_gone: false,
            promised: 0,
            recv_waiters: WaitList::new(),
            send_waiters: WaitList::new(),
        }),
        senders: Cell::new(1),
        receivers: Cell::new(1),
    });
    (Sender::new(chan.clone()), Receiver::new(chan))
}

/// The state every end shares.
pub(super) struct Chan<T> {
    state: RefCell<State<T>>,
    /// Live senders and receivers. Outside `state` so that cloning an end never needs the borrow.
    senders: Cell<usize>,
    receivers: Cell<usize>,
}

struct State<T> {
    buf: VecDeque<T>,
    bound: usize,
    /// Closed by either side, or by the last receiver's drop: no more values come in.
    closed: bool,
    /// Every sender was dropped.
    senders_gone: bool,
    /// How many of the values at the front of `buf` are promised to receivers that were woken for
    /// them and have not taken them yet. Never more than `buf.len()`; while a receiver is linked
    /// in `recv_waiters`, every buffered value is promised (so none waits while a value is free).
    promised: usize,
    /// Receivers waiting for a value. The data is whether a value was promised to the waiter when
    /// it was unlinked (false: woken because the channel ended).
    recv_waiters: WaitList<bool>,
    /// Senders waiting for room, each with its value: `Some` until a receiver moves it into `buf`
    /// (then `None`), or, if the channel closes first, until its future takes it back.
    send_waiters: WaitList<Option<T>>,
}

/// What a receiver took, and the wakers to wake once the state is no longer borrowed.
struct Taken<T> {
    value: T,
    /// The sender whose value moved into the room made.
    sender: Option<Waker>,
    /// The receiver promised the value that moved in.
    receiver: Option<Waker>,
    /// The channel ended and this was its last value: every waiting receiver must hear it.
    drained: bool,
}

impl<T> State<T> {
    /// No more values will come in.
    #[inline]
    fn ended(&self) -> bool {
        self.closed || self.senders_gone
    }

    /// Whether a value is buffered that is not promised to anyone.
    #[inline]
    fn has_free_value(&self) -> bool {
        self.buf.len() > self.promised
    }

    /// Promises a free value, if there is one, to the longest-waiting receiver; returns its waker.
    #[inline]
    fn promise(&mut self) -> Option<Waker> {
        if !self.has_free_value() {
            return None;
        }
        let key = self.recv_waiters.front()?;
        let waker = self.recv_waiters.unlink(key);
        *self.recv_waiters.data_mut(key) = true;
        self.promised += 1;
        waker
    }

    /// Takes the front value, which the caller is entitled to (promised to it, or free). If a
    /// sender waits for room, its value takes the freed place at once, and is promised in turn.
    #[inline]
    fn take(&mut self, was_promised: bool) -> Taken<T> {
        if was_promised {
            self.promised -= 1;
        }
        let value = self
            .buf
            .pop_front()
            .expect("evloop: mpmc takes only a value that is there");
        let mut sender = None;
        if let Some(key) = self.send_waiters.front() {
            if let Some(next) = self.send_waiters.data_mut(key).take() {
                self.buf.push_back(next);
            }
            sender = self.send_waiters.unlink(key);
        }
        Taken {
            value,
            sender,
            receiver: self.promise(),
            drained: self.buf.is_empty() && self.ended(),
        }
    }
}

impl<T> Taken<T> {
    /// Wakes whom the take concerns (with no borrow held) and returns the value.
    #[inline]
    fn finish(self, chan: &Chan<T>) -> T {
        super::wake(self.sender);
        super::wake(self.receiver);
        if self.drained {
            chan.wake_receivers();
        }
        self.value
    }
}

impl<T> Chan<T> {
    /// Wakes every waiting receiver, to look at the channel again (it ended).
    fn wake_receivers(&self) {
        let wakers = self.state.borrow_mut().recv_waiters.unlink_all(|_| {});
        wait_list::wake_all(&self.state, |st| &mut st.recv_waiters, wakers);
    }

    /// Closes the channel: refuses further values, fails the senders waiting for room (they take
    /// their values back) and tells the receivers. True if this call closed it.
    fn close(&self) -> bool {
        let mut st = self.state.borrow_mut();
        if st.closed {
            return false;
        }
        st.closed = true;
        let wakers = st.send_waiters.unlink_all(|_| {});
        drop(st);
        wait_list::wake_all(&self.state, |st| &mut st.send_waiters, wakers);
        self.wake_receivers();
        true
    }

    fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }

    fn len(&self) -> usize {
        self.state.borrow().buf.len()
    }
}

impl<T> Bounded for State<T> {
    type Item = T;
    const NAME: &'static str = "mpmc";

    #[inline]
    fn closed(&self) -> bool {
        self.closed
    }

    #[inline]
    fn has_room(&self) -> bool {
        self.buf.len() < self.bound && self.send_waiters.is_empty()
    }

    /// Buffers `value`, which there is room for, and promises it if a receiver waits.
    #[inline]
    fn push(&mut self, value: T) -> Option<Waker> {
        debug_assert!(self.buf.len() < self.bound && !self.closed);
        self.buf.push_back(value);
        self.promise()
    }

    #[inline]
    fn send_waiters(&mut self) -> &mut WaitList<Option<T>> {
        &mut self.send_waiters
    }
}
