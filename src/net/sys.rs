//! Stream writes that never raise `SIGPIPE`.
//!
//! `write(2)` and `writev(2)` on a socket whose peer is gone raise `SIGPIPE`, which kills a process
//! that has not ignored it (Rust binaries ignore it at start-up, but a program embedding evloop may
//! not). `send(2)` and `sendmsg(2)` with `MSG_NOSIGNAL` report `EPIPE` instead.

use std::io::{self, IoSlice};
use std::os::fd::RawFd;

/// `send(fd, buf, MSG_NOSIGNAL)`.
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid, initialised slice for its whole length during the call, and `send`
    // only reads from it; an invalid `fd` is reported as EBADF, not undefined behaviour.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `sendmsg(fd, bufs, MSG_NOSIGNAL)`: a vectored write.
pub(crate) fn send_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let iovlen = bufs.len().min(libc::UIO_MAXIOV as usize);
    // SAFETY: an all-zero msghdr is a valid empty message (null name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is guaranteed ABI-compatible with `iovec` on Unix.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iovlen as _;
    // SAFETY: `msg` points at `iovlen` valid iovecs borrowed from `bufs` for the duration of the
    // call, and `sendmsg` only reads them.
    let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
