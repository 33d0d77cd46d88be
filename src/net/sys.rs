//! Stream reads and writes as raw syscalls: writes that never raise `SIGPIPE`, and results that
//! carry the bare `errno`, so that the common `EAGAIN` costs no `io::Error` to build, inspect and
//! drop.
//!
//! `write(2)` and `writev(2)` on a socket whose peer is gone raise `SIGPIPE`, which kills a process
//! that has not ignored it (Rust binaries ignore it at start-up, but a program embedding evloop may
//! not). `send(2)` and `sendmsg(2)` with `MSG_NOSIGNAL` report `EPIPE` instead.

use std::io::IoSlice;
use std::os::fd::RawFd;

use crate::io::ReadBuf;

/// A syscall's result: the byte count, or the `errno` it failed with.
pub(crate) type SysResult = Result<usize, i32>;

#[inline]
fn result(n: isize) -> SysResult {
    if n < 0 {
        Err(errno())
    } else {
        Ok(n as usize)
    }
}

/// The calling thread's `errno`.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
fn errno() -> i32 {
    // SAFETY: `__errno_location` always returns a valid pointer to this thread's `errno`.
    unsafe { *libc::__errno_location() }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[inline]
fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `send(fd, buf, MSG_NOSIGNAL)`.
#[inline]
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> SysResult {
    // SAFETY: `buf` is a valid, initialised slice for its whole length during the call, and `send`
    // only reads from it; an invalid `fd` is reported as EBADF, not undefined behaviour.
    result(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) })
}

/// `recv(fd, buf, 0)`.
#[inline]
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> SysResult {
    // SAFETY: `buf` is valid for writes of its whole length during the call, and `recv` writes at
    // most that many bytes; an invalid `fd` is reported as EBADF.
    result(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) })
}

/// `recv(fd, spare, 0)` into the unfilled part of `buf`, which may be uninitialised (nothing is
/// zeroed first); the bytes `recv` reports are counted as initialised and filled, and no more.
#[inline]
pub(crate) fn recv_buf(fd: RawFd, buf: &mut ReadBuf<'_>) -> SysResult {
    // SAFETY: `recv` writes bytes (never an uninitialised value) into what it is given.
    let spare = unsafe { buf.unfilled_mut() };
    // SAFETY: `spare` is valid for writes of its whole length during the call (uninitialised
    // memory is fine: `recv` only writes), and `recv` writes at most that many bytes; an invalid
    // `fd` is reported as EBADF.
    let n = result(unsafe { libc::recv(fd, spare.as_mut_ptr().cast(), spare.len(), 0) })?;
    // SAFETY: `recv` returned `n`: it initialised the first `n` bytes of `spare`, the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Ok(n)
}

/// The accept backlog `TcpListener::bind` asks for: tokio's, where std and mio's TCP listener ask
/// for 128. The kernel caps it at `net.core.somaxconn` (4096 on current Linux). (mio's Unix
/// listener already asks for the system maximum.)
///
/// With 128, a burst of a few hundred connects overflows the accept queue: SYNs are dropped or
/// answered with SYN cookies, connections stall for a retransmission timeout, and some are reset.
pub(crate) const LISTEN_BACKLOG: i32 = 1024;

/// Raises a listening socket's backlog: `listen(2)` on a socket that already listens only changes
/// its backlog.
pub(crate) fn set_backlog(fd: RawFd, backlog: i32) -> std::io::Result<()> {
    // SAFETY: `listen` takes no pointers; an invalid `fd` is reported as EBADF.
    if unsafe { libc::listen(fd, backlog) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `sendmsg(fd, bufs, MSG_NOSIGNAL)`: a vectored write.
pub(crate) fn send_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> SysResult {
    let iovlen = bufs.len().min(libc::UIO_MAXIOV as usize);
    // SAFETY: an all-zero msghdr is a valid empty message (null name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is guaranteed ABI-compatible with `iovec` on Unix.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iovlen as _;
    // SAFETY: `msg` points at `iovlen` valid iovecs borrowed from `bufs` for the duration of the
    // call, and `sendmsg` only reads them.
    result(unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) })
}

/// `read(fd, buf)`: for descriptors that are not sockets (pipes).
#[inline]
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> SysResult {
    // SAFETY: `buf` is valid for writes of its whole length during the call, and `read` writes at
    // most that many bytes; an invalid `fd` is reported as EBADF.
    result(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// `write(fd, buf)`: for descriptors that are not sockets (pipes). Unlike [`send`], a write to a
/// pipe whose reader is gone raises `SIGPIPE` (which Rust programs ignore by default).
#[inline]
pub(crate) fn write(fd: RawFd, buf: &[u8]) -> SysResult {
    // SAFETY: `buf` is a valid, initialised slice for its whole length during the call, and `write`
    // only reads from it; an invalid `fd` is reported as EBADF.
    result(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
}

/// `writev(fd, bufs)`: a vectored write for descriptors that are not sockets (pipes).
pub(crate) fn write_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> SysResult {
    let iovcnt = bufs.len().min(libc::UIO_MAXIOV as usize);
    // SAFETY: `IoSlice` is guaranteed ABI-compatible with `iovec` on Unix; the first `iovcnt` of
    // `bufs` are valid for the duration of the call, and `writev` only reads them.
    result(unsafe { libc::writev(fd, bufs.as_ptr().cast(), iovcnt as libc::c_int) })
}
