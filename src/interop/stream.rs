//! `futures_core::Stream` for intervals and incoming connections.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_core::Stream;

use crate::net::{Incoming, TcpStream};
use crate::time::Interval;

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
