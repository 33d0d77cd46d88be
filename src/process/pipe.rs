//! The child's standard streams as async pipes: [`ChildStdin`], [`ChildStdout`], [`ChildStderr`].
//!
//! Each wraps our end of a pipe that `std::process` created, set to `O_NONBLOCK` (the child's end
//! is a separate open file and stays blocking) and registered with the loop like a socket: the
//! syscall first, a readiness wait only after `EAGAIN`.

use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};

use mio::unix::pipe::{Receiver, Sender};

use crate::driver::reactor::Direction;
use crate::io::{AsyncRead, AsyncWrite};
use crate::net::source::IoSource;
use crate::net::sys;

/// The writing end of a child's standard input, from [`Stdio::piped`](std::process::Stdio::piped).
///
/// Write with [`AsyncWrite`]; [`AsyncWrite::shutdown`] (or dropping it) closes the pipe, so the
/// child reads end of file.
///
/// Unlike the socket types, a write to a pipe whose reader has exited raises `SIGPIPE` in the
/// writing process, which Rust programs ignore by default (the write then fails with
/// `BrokenPipe`); a program that restored the default action is killed by it.
///
/// ```
/// use evloop::io::{AsyncRead, AsyncWrite};
/// use evloop::process::{Command, Stdio};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"hello").await?;
///     stdin.shutdown().await?; // cat sees end of file
///     let mut out = Vec::new();
///     child.stdout.take().unwrap().read_to_end(&mut out).await?;
///     assert_eq!(out, b"hello");
///     assert!(child.wait().await?.success());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ChildStdin {
    /// `None` once shut down: the descriptor is closed then, so the child sees end of file.
    io: Option<IoSource<Sender>>,
}

/// The reading end of a child's standard output, from
/// [`Stdio::piped`](std::process::Stdio::piped). Read it with [`AsyncRead`]; a read of 0 bytes
/// means the child (and every process it passed the pipe on to) closed it, usually by exiting.
///
/// ```
/// use evloop::io::AsyncRead;
/// use evloop::process::{Command, Stdio};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let mut child = Command::new("echo").arg("hello").stdout(Stdio::piped()).spawn()?;
///     let mut stdout = child.stdout.take().unwrap();
///     let mut line = Vec::new();
///     stdout.read_to_end(&mut line).await?; // ends when the child closes it
///     assert_eq!(line, b"hello\n");
///     assert!(child.wait().await?.success());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ChildStdout {
    io: IoSource<Receiver>,
}

/// The reading end of a child's standard error; as [`ChildStdout`].
///
/// ```
/// use evloop::io::AsyncRead;
/// use evloop::process::{Command, Stdio};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let mut child = Command::new("sh")
///         .args(["-c", "echo oops >&2"])
///         .stderr(Stdio::piped())
///         .spawn()?;
///     let mut err = Vec::new();
///     child.stderr.take().unwrap().read_to_end(&mut err).await?;
///     assert_eq!(err, b"oops\n");
///     assert!(child.wait().await?.success());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ChildStderr {
    io: IoSource<Receiver>,
}

impl ChildStdin {
    /// Makes a standard library pipe async: sets it non-blocking and registers it with the
    /// current loop.
    ///
    /// # Errors
    ///
    /// If this thread has no event loop, or the descriptor cannot be made non-blocking or
    /// registered.
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::process::{ChildStdin, ChildStdout};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     // A child spawned by the standard library (or another crate), its pipes made async.
    ///     let mut child = Command::new("cat")
    ///         .stdin(Stdio::piped())
    ///         .stdout(Stdio::piped())
    ///         .spawn()?;
    ///     let mut stdin = ChildStdin::from_std(child.stdin.take().unwrap())?;
    ///     let mut stdout = ChildStdout::from_std(child.stdout.take().unwrap())?;
    ///     stdin.write_all(b"ping").await?;
    ///     drop(stdin);
    ///     let mut got = Vec::new();
    ///     stdout.read_to_end(&mut got).await?;
    ///     assert_eq!(got, b"ping");
    ///     assert!(child.wait()?.success()); // it has closed its output: exited or about to
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(stdin: std::process::ChildStdin) -> io::Result<ChildStdin> {
        let sender = Sender::from(stdin);
        sender.set_nonblocking(true)?;
        Ok(ChildStdin {
            io: Some(IoSource::new(sender)?),
        })
    }
}

impl ChildStdout {
    /// Makes a standard library pipe async; see [`ChildStdin::from_std`].
    ///
    /// # Errors
    ///
    /// As [`ChildStdin::from_std`].
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use evloop::io::AsyncRead;
    /// use evloop::process::ChildStdout;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut child = Command::new("echo").arg("o").stdout(Stdio::piped()).spawn()?;
    ///     let mut stdout = ChildStdout::from_std(child.stdout.take().unwrap())?;
    ///     let mut got = Vec::new();
    ///     stdout.read_to_end(&mut got).await?;
    ///     assert_eq!(got, b"o\n");
    ///     assert!(child.wait()?.success());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(stdout: std::process::ChildStdout) -> io::Result<ChildStdout> {
        Ok(ChildStdout {
            io: receiver(Receiver::from(stdout))?,
        })
    }
}

impl ChildStderr {
    /// Makes a standard library pipe async; see [`ChildStdin::from_std`].
    ///
    /// # Errors
    ///
    /// As [`ChildStdin::from_std`].
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use evloop::io::AsyncRead;
    /// use evloop::process::ChildStderr;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut child = Command::new("sh")
    ///         .args(["-c", "echo e >&2"])
    ///         .stderr(Stdio::piped())
    ///         .spawn()?;
    ///     let mut stderr = ChildStderr::from_std(child.stderr.take().unwrap())?;
    ///     let mut got = Vec::new();
    ///     stderr.read_to_end(&mut got).await?;
    ///     assert_eq!(got, b"e\n");
    ///     assert!(child.wait()?.success());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(stderr: std::process::ChildStderr) -> io::Result<ChildStderr> {
        Ok(ChildStderr {
            io: receiver(Receiver::from(stderr))?,
        })
    }
}

fn receiver(r: Receiver) -> io::Result<IoSource<Receiver>> {
    r.set_nonblocking(true)?;
    IoSource::new(r)
}

/// The error for a write after [`AsyncWrite::shutdown`].
fn shut_down() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "evloop: the child's stdin was shut down",
    )
}

fn poll_read(
    io: &IoSource<Receiver>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    io.poll_syscall(Direction::Read, cx, buf.len(), |fd| sys::read(fd, buf))
}

impl AsyncRead for ChildStdout {
    #[inline]
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        poll_read(&self.io, cx, buf)
    }
}

impl AsyncRead for ChildStderr {
    #[inline]
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        poll_read(&self.io, cx, buf)
    }
}

impl AsyncWrite for ChildStdin {
    #[inline]
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let Some(io) = &self.io else {
            return Poll::Ready(Err(shut_down()));
        };
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        io.poll_syscall(Direction::Write, cx, buf.len(), |fd| sys::write(fd, buf))
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let Some(io) = &self.io else {
            return Poll::Ready(Err(shut_down()));
        };
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        io.poll_syscall(Direction::Write, cx, len, |fd| {
            sys::write_vectored(fd, bufs)
        })
    }

    /// Closes the pipe (a pipe cannot be half-closed otherwise): the child reads end of file, and
    /// later writes fail with `BrokenPipe`. Shutting down twice is not an error.
    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Deregisters, then closes the descriptor.
        drop(self.io.take());
        Poll::Ready(Ok(()))
    }
}

impl AsRawFd for ChildStdin {
    /// The pipe's descriptor, or -1 after [`AsyncWrite::shutdown`] closed it.
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_ref().map_or(-1, |io| io.as_raw_fd())
    }
}

impl AsRawFd for ChildStdout {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl AsRawFd for ChildStderr {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildStdin")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl fmt::Debug for ChildStdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildStdout")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl fmt::Debug for ChildStderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildStderr")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
