//! Multi-producer, single-consumer channels: values sent from many [`Sender`]s (or
//! [`UnboundedSender`]s) arrive at one [`Receiver`] in the order they were sent.
//!
//! [`channel`] is bounded: it holds at most `capacity` values, and [`Sender::send`] waits for room
//! (backpressure). Senders waiting for room are served first come, first served: each value that
//! the receiver takes makes room for the longest-waiting sender's value, which moves into the
//! buffer right then, so a sender that keeps sending cannot overtake one that is waiting.
//! [`unbounded_channel`] never waits; its buffer grows as needed.
//!
//! Buffers keep their capacity, so in steady state sending and receiving allocate nothing.
//!
//! # Closing and dropping
//!
//! - Nothing sent is lost while the receiver lives: values are received in order, each once.
//! - When every sender has been dropped, [`Receiver::recv`] returns the values still buffered, then
//!   `None`.
//! - [`Receiver::close`] refuses further values: sends fail (giving the value back), senders waiting
//!   for room fail too, and the values already buffered can still be received.
//! - Dropping the receiver closes the channel and drops the buffered values.
//! - Dropping a pending [`Sender::send`] future withdraws its value, which is dropped.
//!
//! ```
//! use evloop::sync::mpsc;
//!
//! let lp = evloop::EventLoop::new()?;
//! let sum = lp.block_on(async {
//!     let (tx, mut rx) = mpsc::channel(2); // at most two values in flight
//!     for i in 0..3 {
//!         let tx = tx.clone();
//!         evloop::spawn(async move { tx.send(i).await.unwrap() });
//!     }
//!     drop(tx);
//!     let mut sum = 0;
//!     while let Some(v) = rx.recv().await {
//!         sum += v;
//!     }
//!     sum
//! });
//! assert_eq!(sum, 0 + 1 + 2);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;

use super::bounded_send::Bounded;
use super::wait_list::WaitList;

mod bounded;
mod error;
mod receiver;
mod unbounded;

pub use bounded::Sender;
pub use error::{SendError, TryRecvError, TrySendError};
pub use receiver::Receiver;
pub use unbounded::UnboundedSender;

/// Creates a channel that holds at most `capacity` values.
///
/// # Panics
///
/// If `capacity` is zero.
///
/// ```
/// use evloop::sync::mpsc;
///
/// let lp = evloop::EventLoop::new()?;
/// let sum = lp.block_on(async {
///     let (tx, mut rx) = mpsc::channel(4);
///     for id in 0..3 {
///         let tx = tx.clone();
///         evloop::spawn(async move {
///             for i in 0..10 {
///                 tx.send(id * 100 + i).await.unwrap();
///             }
///         });
///     }
///     drop(tx); // the loop below ends once the spawned senders are done
///     let mut sum = 0;
///     while let Some(v) = rx.recv().await {
///         sum += v;
///     }
///     sum
/// });
/// assert_eq!(sum, 3 * 45 + 100 * 10 + 200 * 10);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "evloop: mpsc channel capacity must be at least 1"
    );
    let chan = Chan::new(capacity, VecDeque::with_capacity(capacity));
    (Sender::new(chan.clone()), Receiver::new(chan))
}

/// Creates a channel with no bound: sending never waits.
///
/// ```
/// use evloop::sync::mpsc;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut rx) = mpsc::unbounded_channel();
///     for i in 0..1000 {
///         tx.send(i).unwrap();
///     }
///     drop(tx);
///     let mut expected = 0;
///     while let Some(v) = rx.recv().await {
///         assert_eq!(v, expected);
///         expected += 1;
///     }
///     assert_eq!(expected, 1000);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, Receiver<T>) {
    let chan = Chan::new(usize::MAX, VecDeque::new());
    (UnboundedSender::new(chan.clone()), Receiver::new(chan))
}

/// The state both ends share.
pub(super) struct Chan<T> {
    state: RefCell<State<T>>,
    /// Live senders of either kind. Outside `state` so that cloning and dropping a sender never
    /// needs the borrow.
    senders: Cell<usize>,
}

struct State<T> {
    buf: VecDeque<T>,
    /// `usize::MAX` for an unbounded channel.
    bound: usize,
    /// The receiver was closed or dropped.
    closed: bool,
    rx_waker: Option<Waker>,
    /// Senders waiting for room, each with its value: `Some` until the receiver moves it into
    /// `buf` (then `None`), or, if the channel closes first, until its future takes it back.
    send_waiters: WaitList<Option<T>>,
}

impl<T> Chan<T> {
    fn new(bound: usize, buf: VecDeque<T>) -> Rc<Chan<T>> {
        Rc::new(Chan {
            state: RefCell::new(State {
                buf,
                bound,
                closed: false,
                rx_waker: None,
                send_waiters: WaitList::new(),
            }),
            senders: Cell::new(1),
        })
    }

    fn add_sender(&self) {
        self.senders.set(self.senders.get() + 1);
    }

    fn drop_sender(&self) {
        let left = self.senders.get() - 1;
        self.senders.set(left);
        if left == 0 {
            let waker = self.state.borrow_mut().rx_waker.take();
            super::wake(waker);
        }
    }

    fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }

    /// Buffers `value` if there is room and nobody is waiting for it; wakes the receiver.
    fn try_push(&self, value: T) -> Result<(), TrySendError<T>> {
        super::bounded_send::try_send(&self.state, value)
    }
}

impl<T> Bounded for State<T> {
    type Item = T;
    const NAME: &'static str = "mpsc";

    #[inline]
    fn closed(&self) -> bool {
        self.closed
    }

    #[inline]
    fn has_room(&self) -> bool {
        self.buf.len() < self.bound && self.send_waiters.is_empty()
    }

    #[inline]
    fn push(&mut self, value: T) -> Option<Waker> {
        self.buf.push_back(value);
        self.rx_waker.take()
    }

    #[inline]
    fn send_waiters(&mut self) -> &mut WaitList<Option<T>> {
        &mut self.send_waiters
    }
}
