//! The sending side of a bounded channel, shared by [`mpsc`](super::mpsc) and
//! [`mpmc`](super::mpmc): `try_send`, and the future of `send`, which waits for room first come,
//! first served. The channels differ only in whom a buffered value wakes ([`Bounded::push`]).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::mpsc::{SendError, TrySendError};
use super::wait_list::WaitList;
use super::{wake, NeedsClone, NewWaker};

/// The state of a bounded channel, as its senders see it.
pub(super) trait Bounded {
    /// What the channel carries.
    type Item;
    /// The channel's name, for the panic of a future polled after completion.
    const NAME: &'static str;
    /// Whether values are refused (the channel was closed, or the receiving side is gone).
    fn closed(&self) -> bool;
    /// Whether a value sent now is buffered at once: there is room, and no sender waits for it.
    fn has_room(&self) -> bool;
    /// Buffers `value` (there is room) and returns the waker of the receiver to tell, if any.
    fn push(&mut self, value: Self::Item) -> Option<Waker>;
    /// Senders waiting for room, each with its value: `Some` until a receiver moves it into the
    /// buffer (then `None`), or, if the channel closes first, until its future takes it back.
    fn send_waiters(&mut self) -> &mut WaitList<Option<Self::Item>>;
}

/// Sends `value` if there is room now and no sender is already waiting for room.
pub(super) fn try_send<S: Bounded>(
    state: &RefCell<S>,
    value: S::Item,
) -> Result<(), TrySendError<S::Item>> {
    let mut st = state.borrow_mut();
    if st.closed() {
        return Err(TrySendError::Closed(value));
    }
    if !st.has_room() {
        return Err(TrySendError::Full(value));
    }
    let waker = st.push(value);
    drop(st);
    wake(waker);
    Ok(())
}

/// The future of a bounded `send`. Its value is either in `value` (not yet offered) or in its
/// waiter slot, whose key is `key`.
pub(super) struct SendFuture<'a, S: Bounded> {
    state: &'a RefCell<S>,
    value: Option<S::Item>,
    key: Option<usize>,
}

impl<'a, S: Bounded> SendFuture<'a, S> {
    pub(super) fn new(state: &'a RefCell<S>, value: S::Item) -> Self {
        SendFuture {
            state,
            value: Some(value),
            key: None,
        }
    }
}

// The value is only ever moved, never pinned in place.
impl<S: Bounded> Unpin for SendFuture<'_, S> {}

impl<S: Bounded> Future for SendFuture<'_, S> {
    type Output = Result<(), SendError<S::Item>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut new = NewWaker::new(cx.waker());
        loop {
            let mut st = this.state.borrow_mut();
            let waiting = match this.key {
                Some(key) if st.send_waiters().is_linked(key) => {
                    st.send_waiters().set_waker(key, &mut new)
                }
                Some(key) => {
                    this.key = None;
                    // Unlinked either by a receiver, which moved the value into the buffer, or
                    // by closing, which left it here for us to give back.
                    return Poll::Ready(match st.send_waiters().remove_unlinked(key) {
                        None => Ok(()),
                        Some(v) => Err(SendError(v)),
                    });
                }
                None => {
                    let value = this.value.take().unwrap_or_else(|| {
                        panic!("evloop: {} send future polled after completion", S::NAME)
                    });
                    if st.closed() {
                        return Poll::Ready(Err(SendError(value)));
                    }
                    if st.has_room() {
                        let waker = st.push(value);
                        drop(st);
                        wake(waker);
                        return Poll::Ready(Ok(()));
                    }
                    match new.take() {
                        Ok(waker) => {
                            this.key = Some(st.send_waiters().push_back(waker, Some(value)));
                            Ok(())
                        }
                        Err(NeedsClone) => {
                            this.value = Some(value); // for the poll that starts over
                            Err(NeedsClone)
                        }
                    }
                }
            };
            match waiting {
                Ok(()) => return Poll::Pending,
                Err(NeedsClone) => new.clone_after(st),
            }
        }
    }
}

impl<S: Bounded> Drop for SendFuture<'_, S> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Both dropped with no borrow held: the value's destructor, or a foreign waker's, may
            // use the channel.
            let (withdrawn, waker) = self.state.borrow_mut().send_waiters().remove(key);
            drop(waker);
            drop(withdrawn);
        }
    }
}
