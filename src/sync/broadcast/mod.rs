//! A broadcast (publish/subscribe) channel: every [`Receiver`] gets every value sent after it
//! subscribed, each a clone (the last receiver to take a value gets the original).
//!
//! Values are held in a ring of `capacity` slots. Sending never waits: when the ring is full the
//! oldest value is overwritten, and a receiver that had not yet taken it learns how many values it
//! missed through [`RecvError::Lagged`], then continues from the oldest value still held. A value
//! is dropped as soon as every receiver subscribed when it was sent has taken it (or has been
//! dropped), or when it is overwritten. The ring is allocated once, when the channel is created.
//!
//! # Closing and dropping
//!
//! - [`Sender::send`] fails (giving the value back) while no receiver is subscribed; a receiver
//!   subscribed later ([`Sender::subscribe`]) gets the values sent from then on.
//! - When every sender is dropped, each receiver gets the values it has not taken yet, then
//!   [`RecvError::Closed`].
//! - Dropping a receiver releases its claim on the values it had not taken.
//!
//! ```
//! use evloop::sync::broadcast;
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     let (tx, mut a) = broadcast::channel(4);
//!     let mut b = tx.subscribe();
//!     tx.send("news").unwrap();
//!     assert_eq!(a.recv().await, Ok("news"));
//!     assert_eq!(b.recv().await, Ok("news"), "every receiver gets every value");
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use super::wait_list::{self, WaitList};

mod error;
mod receiver;

pub use error::{RecvError, SendError, TryRecvError};
pub use receiver::Receiver;
#[cfg(feature = "stream")]
pub(crate) use receiver::{leave, poll_recv};

/// Creates a broadcast channel that holds the last `capacity` values, with one receiver; more
/// subscribe with [`Sender::subscribe`] or [`Receiver::resubscribe`].
///
/// # Panics
///
/// If `capacity` is zero.
///
/// ```
/// use evloop::sync::broadcast::{self, RecvError};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut rx1) = broadcast::channel(16);
///     let mut rx2 = tx.subscribe();
///     let second = evloop::spawn(async move {
///         let mut got = Vec::new();
///         while let Ok(v) = rx2.recv().await {
///             got.push(v);
///         }
///         got
///     });
///     assert_eq!(tx.send(10), Ok(2)); // two receivers
///     assert_eq!(tx.send(20), Ok(2));
///     drop(tx);
///     assert_eq!(rx1.recv().await, Ok(10));
///     assert_eq!(rx1.recv().await, Ok(20));
///     assert_eq!(rx1.recv().await, Err(RecvError::Closed));
///     assert_eq!(second.await.unwrap(), [10, 20]);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "evloop: broadcast channel capacity must be at least 1"
    );
    let slots = (0..capacity)
        .map(|_| Slot {
            seq: 0,
            unread: 0,
            value: None,
        })
        .collect();
    let shared = Rc::new(Shared {
        ring: RefCell::new(Ring {
            slots,
            tail: 0,
            receivers: 1,
            waiters: WaitList::new(),
        }),
        senders: Cell::new(1),
    });
    let rx = Receiver::new(shared.clone(), 0);
    (Sender { shared }, rx)
}

struct Shared<T> {
    ring: RefCell<Ring<T>>,
    /// Outside `ring` so that cloning and dropping a sender never needs the borrow.
    senders: Cell<usize>,
}

struct Ring<T> {
    slots: Box<[Slot<T>]>,
    /// The sequence number of the next value sent; value `seq` lives in slot `seq % capacity`.
    tail: u64,
    receivers: usize,
    /// Receivers waiting for a value.
    waiters: WaitList<()>,
}

struct Slot<T> {
    seq: u64,
    /// Receivers that were subscribed when the value was sent and have not taken it yet.
    unread: usize,
    value: Option<T>,
}

impl<T> Ring<T> {
    /// The sequence number of the oldest value still held (or that will be, once sent).
    fn oldest(&self) -> u64 {
        self.tail.saturating_sub(self.slots.len() as u64)
    }

    fn slot(&mut self, seq: u64) -> &mut Slot<T> {
        let len = self.slots.len() as u64;
        // A division is the hottest instruction of a fan-out; a mask does for power-of-two rings.
        let i = if len.is_power_of_two() {
            seq & (len - 1)
        } else {
            seq % len
        } as usize;
        &mut self.slots[i]
    }
}

impl<T> Shared<T> {
    fn subscribe(self: &Rc<Self>) -> Receiver<T> {
        let mut ring = self.ring.borrow_mut();
        ring.receivers += 1;
        let next = ring.tail;
        drop(ring);
        Receiver::new(self.clone(), next)
    }
}

/// Sends values to every subscribed [`Receiver`]; see [`channel`]. Clone it for more publishers.
///
/// ```
/// use evloop::sync::broadcast;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (tx, mut first) = broadcast::channel(8);
///     let mut second = tx.subscribe();
///     let publisher = tx.clone(); // more publishers
///     publisher.send("news").unwrap();
///     assert_eq!(first.recv().await, Ok("news"));
///     assert_eq!(second.recv().await, Ok("news"), "each receiver gets every value");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver subscribed now, and wakes those that wait. Never waits: if
    /// the ring is full, the oldest value is overwritten (receivers that had not taken it will be
    /// told they lagged). Returns how many receivers the value was sent to.
    ///
    /// # Errors
    ///
    /// Gives `value` back if no receiver is subscribed.
    ///
    /// ```
    /// use evloop::sync::broadcast;
    ///
    /// let (tx, rx) = broadcast::channel(4);
    /// let _rx2 = tx.subscribe();
    /// assert_eq!(tx.send(1).unwrap(), 2, "sent to two receivers");
    /// drop(rx);
    /// drop(_rx2);
    /// assert_eq!(tx.send(2).unwrap_err().0, 2, "nobody listens");
    /// ```
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let mut ring = self.shared.ring.borrow_mut();
        let receivers = ring.receivers;
        if receivers == 0 {
            return Err(SendError(value));
        }
        let seq = ring.tail;
        let slot = ring.slot(seq);
        let overwritten = slot.value.replace(value);
        slot.seq = seq;
        slot.unread = receivers;
        ring.tail += 1;
        let wakers = ring.waiters.unlink_all(|_| {});
        drop(ring);
        // With no borrow held: the value's destructor may use this channel.
        drop(overwritten);
        wait_list::wake_all(&self.shared.ring, |ring| &mut ring.waiters, wakers);
        Ok(receivers)
    }

    /// A new receiver, which gets the values sent from now on.
    ///
    /// ```
    /// use evloop::sync::broadcast;
    ///
    /// let (tx, mut early) = broadcast::channel(4);
    /// tx.send("before").unwrap();
    /// let mut late = tx.subscribe();
    /// tx.send("after").unwrap();
    /// assert_eq!(early.try_recv(), Ok("before"));
    /// assert_eq!(late.try_recv(), Ok("after"), "only what was sent after subscribing");
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.subscribe()
    }

    /// How many receivers are subscribed.
    ///
    /// ```
    /// use evloop::sync::broadcast;
    ///
    /// let (tx, rx) = broadcast::channel::<()>(1);
    /// let rx2 = rx.resubscribe();
    /// assert_eq!(tx.receiver_count(), 2);
    /// drop((rx, rx2));
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.ring.borrow().receivers
    }

    /// Whether both senders send into the same channel.
    ///
    /// ```
    /// use evloop::sync::broadcast;
    ///
    /// let (a, _rx) = broadcast::channel::<u8>(1);
    /// let (b, _rx2) = broadcast::channel::<u8>(1);
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.set(self.shared.senders.get() + 1);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let left = self.shared.senders.get() - 1;
        self.shared.senders.set(left);
        if left > 0 {
            return;
        }
        let wakers = self.shared.ring.borrow_mut().waiters.unlink_all(|_| {});
        wait_list::wake_all(&self.shared.ring, |ring| &mut ring.waiters, wakers);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("receivers", &self.receiver_count())
            .finish()
    }
}
