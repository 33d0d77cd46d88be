//! `futures_core::Stream` for intervals, incoming connections and the channels' receivers, plus
//! the two wrappers a receiver needs to be a stream: [`BroadcastStream`] (a lag is an item) and
//! [`WatchStream`] (the latest value, on each change), in the shapes of tokio-stream's.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_core::Stream;

use crate::net::{Incoming, TcpStream};
use crate::sync::{mpmc, mpsc, RemoteReceiver};
use crate::time::Interval;

mod broadcast;
mod watch;

pub use broadcast::{BroadcastStream, BroadcastStreamRecvError};
pub use watch::WatchStream;

impl Stream for Interval {
    type Item = Instant;

    /// Never ends.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    /// Never ends; accept errors are items.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_conn(cx).map(Some)
    }
}

/// The values in the order they were sent; ends once the channel is closed and drained, as
/// [`Receiver::recv`](mpsc::Receiver::recv) returns `None`.
impl<T> Stream for mpsc::Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), None)
    }
}

/// The values in the order each sender sent them; ends once every sender is gone (or the receiver
/// was closed) and the queue is drained.
impl<T> Stream for RemoteReceiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

/// The values this receiver takes, each value of the channel going to one receiver; ends once
/// the channel has ended and its buffer is empty, as [`Receiver::recv`](mpmc::Receiver::recv)
/// returns `None`.
impl<T> Stream for mpmc::Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}
