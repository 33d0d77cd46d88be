//! `Child`: a spawned process, its pipes, and waiting for it.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::process::{ExitStatus, Output};
use std::task::{Context, Poll};

use super::pipe::{ChildStderr, ChildStdin, ChildStdout};
use super::reap::{self, Waiter};
use crate::io::AsyncRead;

/// A child process spawned by [`Command::spawn`](super::Command::spawn), as
/// [`std::process::Child`] but awaited without blocking the loop.
///
/// **No zombies:** a child is reaped by [`Child::wait`] (or [`Child::try_wait`] once it returns a
/// status). One dropped before that keeps running, unless
/// [`Command::kill_on_drop`](super::Command::kill_on_drop) was set, and is reaped anyway when it
/// exits: by the loop if it is running then (without keeping it alive), else by a small detached
/// thread. See the [module docs](super) for how the exit is learnt.
///
/// ```
/// use evloop::process::Command;
///
/// let lp = evloop::EventLoop::new()?;
/// let status = lp.block_on(async {
///     let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
///     assert!(child.id().is_some());
///     child.wait().await
/// })?;
/// assert_eq!(status.code(), Some(3));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Child {
    /// The writing end of the child's stdin, if it was [`Stdio::piped`](super::Stdio::piped).
    pub stdin: Option<ChildStdin>,
    /// The reading end of the child's stdout, if it was [`Stdio::piped`](super::Stdio::piped).
    pub stdout: Option<ChildStdout>,
    /// The reading end of the child's stderr, if it was [`Stdio::piped`](super::Stdio::piped).
    pub stderr: Option<ChildStderr>,
    state: State,
    kill_on_drop: bool,
}

enum State {
    Running {
        child: std::process::Child,
        waiter: Waiter,
    },
    Reaped(ExitStatus),
    /// Only while being taken apart in `drop`.
    Gone,
}

impl Child {
    /// Takes over a child the standard library just spawned: its pipes become async, and its
    /// exit is watched. On error the child is killed and reaped.
    pub(crate) fn from_std(
        mut child: std::process::Child,
        kill_on_drop: bool,
    ) -> io::Result<Child> {
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let waiter = match Waiter::new(child.id()) {
            Ok(w) => w,
            Err(e) => {
                let _ = child.kill();
                reap::reap_later(child);
                return Err(e);
            }
        };
        let mut this = Child {
            stdin: None,
            stdout: None,
            stderr: None,
            state: State::Running { child, waiter },
            // Until the pipes are set up, an error drops (kills and reaps) the child.
            kill_on_drop: true,
        };
        this.stdin = stdin.map(ChildStdin::from_std).transpose()?;
        this.stdout = stdout.map(ChildStdout::from_std).transpose()?;
        this.stderr = stderr.map(ChildStderr::from_std).transpose()?;
        this.kill_on_drop = kill_on_drop;
        Ok(this)
    }

    /// The child's process id, or `None` once it has been reaped (the id may then belong to
    /// another process).
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut child = Command::new("true").spawn()?;
    ///     assert!(child.id().is_some());
    ///     child.wait().await?;
    ///     assert_eq!(child.id(), None); // reaped: the pid may be reused
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> Option<u32> {
        match &self.state {
            State::Running { child, .. } => Some(child.id()),
            _ => None,
        }
    }

    /// Waits for the child to exit and reaps it, returning its status; later calls return the
    /// same status at once.
    ///
    /// The child's stdin is closed first (as `std` and tokio do), so that a child reading its
    /// input to the end cannot wait for us while we wait for it. Cancel-safe: dropping the future
    /// loses nothing.
    ///
    /// # Errors
    ///
    /// As `waitpid(2)`; if polled where no event loop is current (on the `SIGCHLD` path); or, on
    /// the blocking-pool last resort, if the pool cannot start a thread.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut child = Command::new("sleep").arg("0.01").spawn()?;
    ///     let status = child.wait().await?; // through a pidfd: no thread, no zombie
    ///     assert!(status.success());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    /// Polls for the child's exit; see [`Child::wait`] (which also closes stdin first).
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut child = Command::new("sh").args(["-c", "exit 4"]).spawn()?;
    ///     // For hand-written futures; `child.wait()` is the same as a future.
    ///     let status = poll_fn(|cx| child.poll_wait(cx)).await?;
    ///     assert_eq!(status.code(), Some(4));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        let status = match &mut self.state {
            State::Running { child, waiter } => match waiter.poll_wait(child, cx) {
                Poll::Ready(Ok(status)) => status,
                other => return other,
            },
            State::Reaped(status) => return Poll::Ready(Ok(*status)),
            State::Gone => unreachable!("a child is taken apart only when dropped"),
        };
        // Reaped: the pidfd (and its registration) or the finished job goes.
        self.state = State::Reaped(status);
        Poll::Ready(Ok(status))
    }

    /// Reaps the child if it has exited, without waiting: `Ok(None)` while it runs.
    ///
    /// # Errors
    ///
    /// As `waitpid(2)`.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut child = Command::new("sleep").arg("30").spawn()?;
    ///     assert!(child.try_wait()?.is_none()); // still running
    ///     child.kill().await?;
    ///     assert!(child.try_wait()?.is_some()); // reaped: the same status from now on
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let status = match &mut self.state {
            State::Running { child, .. } => match child.try_wait()? {
                Some(status) => status,
                None => return Ok(None),
            },
            State::Reaped(status) => return Ok(Some(*status)),
            State::Gone => unreachable!("a child is taken apart only when dropped"),
        };
        self.state = State::Reaped(status);
        Ok(Some(status))
    }

    /// Sends `SIGKILL` to the child, without waiting for it to exit; [`Child::wait`] then reaps
    /// it. Does nothing once it has been reaped.
    ///
    /// # Errors
    ///
    /// As `kill(2)`.
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut child = Command::new("sleep").arg("30").spawn()?;
    ///     child.start_kill()?;
    ///     let status = child.wait().await?;
    ///     assert_eq!(status.signal(), Some(9)); // SIGKILL
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start_kill(&mut self) -> io::Result<()> {
        match &mut self.state {
            // The child is not reaped before `wait` or `try_wait` say so: its pid cannot have
            // been recycled, so the signal cannot reach another process.
            State::Running { child, .. } => child.kill(),
            _ => Ok(()),
        }
    }

    /// Kills the child with `SIGKILL` and waits until it is reaped.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut child = Command::new("sleep").arg("30").spawn()?;
    ///     child.kill().await?;
    ///     assert_eq!(child.id(), None);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Child::start_kill`] and [`Child::wait`].
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Closes stdin, reads stdout and stderr to their ends (those that are piped) while waiting
    /// for the child, and returns all three, as [`std::process::Child::wait_with_output`].
    ///
    /// # Errors
    ///
    /// The first read error, or as [`Child::wait`].
    ///
    /// ```
    /// use evloop::process::{Command, Stdio};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let out = lp.block_on(async {
    ///     let child = Command::new("sh")
    ///         .args(["-c", "echo out; echo err >&2"])
    ///         .stdout(Stdio::piped())
    ///         .stderr(Stdio::piped())
    ///         .spawn()?;
    ///     child.wait_with_output().await
    /// })?;
    /// assert!(out.status.success());
    /// assert_eq!(out.stdout, b"out\n");
    /// assert_eq!(out.stderr, b"err\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let mut stdout = self.stdout.take();
        let mut stderr = self.stderr.take();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        // Both pipes at once: a child that fills one while we read only the other would stall.
        poll_fn(|cx| {
            let out_done = poll_drain(&mut stdout, &mut out, cx)?;
            let err_done = poll_drain(&mut stderr, &mut err, cx)?;
            if out_done && err_done {
                Poll::Ready(Ok::<(), io::Error>(()))
            } else {
                Poll::Pending
            }
        })
        .await?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: out,
            stderr: err,
        })
    }
}

/// Reads `pipe` into `buf` until it would block (false) or ends (true, and the pipe is dropped).
fn poll_drain<R: AsyncRead>(
    pipe: &mut Option<R>,
    buf: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> io::Result<bool> {
    let Some(reader) = pipe else {
        return Ok(true);
    };
    let mut chunk = [0u8; 8192];
    loop {
        match reader.poll_read(cx, &mut chunk) {
            Poll::Ready(Ok(0)) => {
                *pipe = None;
                return Ok(true);
            }
            Poll::Ready(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => return Ok(false),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let State::Running { mut child, waiter } =
            std::mem::replace(&mut self.state, State::Gone)
        {
            if self.kill_on_drop {
                let _ = child.kill();
            }
            reap::adopt(child, waiter);
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Child");
        match &self.state {
            State::Running { child, .. } => d.field("pid", &child.id()),
            State::Reaped(status) => d.field("status", status),
            State::Gone => &mut d,
        };
        d.field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish()
    }
}
