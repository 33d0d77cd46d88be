//! Read and write halves of a stream, borrowed or owned, so one task can read while another writes.

use std::fmt;
use std::io::{self, IoSlice, Read};
use std::rc::Rc;
use std::task::{Context, Poll};

use super::source::IoSource;
use super::stream::StreamSocket;
use crate::io::{AsyncRead, AsyncWrite};

/// The reading half of a stream, borrowed from it (see `TcpStream::split`).
pub struct ReadHalf<'a, S: StreamSocket> {
    pub(crate) io: &'a IoSource<S>,
}

/// The writing half of a stream, borrowed from it (see `TcpStream::split`).
pub struct WriteHalf<'a, S: StreamSocket> {
    pub(crate) io: &'a IoSource<S>,
}

/// The reading half of a stream, owned (see `TcpStream::into_split`). The socket closes when both
/// halves are dropped.
pub struct OwnedReadHalf<S: StreamSocket> {
    pub(crate) io: Rc<IoSource<S>>,
}

/// The writing half of a stream, owned (see `TcpStream::into_split`). Dropping it shuts the
/// writing side down, so the peer sees end of file even while the read half lives.
pub struct OwnedWriteHalf<S: StreamSocket> {
    pub(crate) io: Rc<IoSource<S>>,
}

impl<S: StreamSocket> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        let _ = self.io.get().shutdown(std::net::Shutdown::Write);
    }
}

impl<S: StreamSocket> AsyncRead for ReadHalf<'_, S>
where
    for<'b> &'b S: Read,
{
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_read(cx, buf)
    }
}

impl<S: StreamSocket> AsyncRead for OwnedReadHalf<S>
where
    for<'b> &'b S: Read,
{
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_read(cx, buf)
    }
}

impl<S: StreamSocket> AsyncWrite for WriteHalf<'_, S>
where
    for<'b> &'b S: Read,
{
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_vectored(cx, bufs)
    }

    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.io.shutdown_write())
    }
}

impl<S: StreamSocket> AsyncWrite for OwnedWriteHalf<S>
where
    for<'b> &'b S: Read,
{
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_vectored(cx, bufs)
    }

    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.io.shutdown_write())
    }
}

macro_rules! debug_half {
    ($($ty:ident $(<$lt:lifetime>)?),*) => {$(
        impl<$($lt,)? S: StreamSocket> fmt::Debug for $ty<$($lt,)? S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).field("fd", &self.io.get().as_raw_fd()).finish()
            }
        }
    )*};
}

debug_half!(ReadHalf<'a>, WriteHalf<'a>, OwnedReadHalf, OwnedWriteHalf);
