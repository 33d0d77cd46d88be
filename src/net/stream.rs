//! What every stream socket does the same way: read, write (without `SIGPIPE`), shut down, split.

use std::io::{self, IoSlice, Read};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};

use mio::event::Source;

use super::source::IoSource;
use super::sys;
use crate::reactor::Direction;

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
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_op(Direction::Read, cx, |s| {
            let mut s = s;
            s.read(buf)
        })
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_op(Direction::Write, cx, |s| sys::send(s.as_raw_fd(), buf))
    }

    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        self.poll_op(Direction::Write, cx, |s| {
            sys::send_vectored(s.as_raw_fd(), bufs)
        })
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self.get().shutdown(Shutdown::Write) {
            // Already disconnected: the peer sees the end either way.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
}
