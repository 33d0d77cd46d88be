//! What every stream socket does the same way: read, write (without `SIGPIPE`), shut down, split.

use std::io::{self, IoSlice, Read};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};

use mio::event::Source;

use super::source::IoSource;
use super::sys;
use crate::driver::reactor::Direction;
use crate::io::ReadBuf;

/// A stream socket as the generic code needs it (not nameable outside the crate).
pub trait StreamSocket: Source + AsRawFd {
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
}

impl StreamSocket for mio::net::TcpStream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        mio::net::TcpStream::shutdown(self, how)
    }
}

impl StreamSocket for mio::net::UnixStream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        mio::net::UnixStream::shutdown(self, how)
    }
}

impl<S> IoSource<S>
where
    S: StreamSocket,
    for<'a> &'a S: Read,
{
    #[inline]
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_syscall(Direction::Read, cx, buf.len(), |fd| sys::recv(fd, buf))
    }

    /// Reads into `buf`'s unfilled part as it is (see [`sys::recv_buf`]); the byte count, 0 at end
    /// of file or when `buf` is full.
    #[inline]
    pub(crate) fn poll_read_buf(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        let len = buf.remaining();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        self.poll_syscall(Direction::Read, cx, len, |fd| sys::recv_buf(fd, buf))
    }

    #[inline]
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_syscall(Direction::Write, cx, buf.len(), |fd| sys::send(fd, buf))
    }

    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        self.poll_syscall(Direction::Write, cx, len, |fd| sys::send_vectored(fd, bufs))
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self.get().shutdown(Shutdown::Write) {
            // Already disconnected: the peer sees the end either way.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
}

/// Implements [`AsyncRead`](crate::io::AsyncRead) and/or [`AsyncWrite`](crate::io::AsyncWrite) for
/// the stream types and their halves: each has an `io` field that is (or derefs to) an `IoSource`
/// of a stream socket, and forwards to it.
macro_rules! forward_async_io {
    (read: $($ty:ty),*) => {$(
        impl crate::io::AsyncRead for $ty {
            #[inline]
            fn poll_read(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_read(cx, buf)
            }

            #[inline]
            fn poll_read_buf(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &mut crate::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.io.poll_read_buf(cx, buf).map_ok(drop)
            }
        }
    )*};
    (write: $($ty:ty),*) => {$(
        impl crate::io::AsyncWrite for $ty {
            #[inline]
            fn poll_write(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                &mut self,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write_vectored(cx, bufs)
            }

            fn poll_shutdown(
                &mut self,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.io.shutdown_write())
            }
        }
    )*};
}

pub(crate) use forward_async_io;
