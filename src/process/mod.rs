//! Child processes: spawn a program, talk to it through async pipes, and wait for it without
//! blocking the loop. The names mirror [`std::process`] and `tokio::process`.
//!
//! ```
//! use evloop::io::{AsyncRead, AsyncWrite};
//! use evloop::process::{Command, Stdio};
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     // The status only.
//!     assert!(Command::new("true").status().await?.success());
//!
//!     // Everything it printed.
//!     let out = Command::new("sh").args(["-c", "echo out; echo err >&2"]).output().await?;
//!     assert_eq!(out.stdout, b"out\n");
//!     assert_eq!(out.stderr, b"err\n");
//!
//!     // A filter: write its input while reading its output.
//!     let mut sort = Command::new("sort").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
//!     let mut input = sort.stdin.take().unwrap();
//!     input.write_all(b"pear\napple\n").await?;
//!     drop(input); // end of file for sort
//!     let mut sorted = Vec::new();
//!     sort.stdout.take().unwrap().read_to_end(&mut sorted).await?;
//!     assert_eq!(sorted, b"apple\npear\n");
//!     assert!(sort.wait().await?.success());
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## How it works
//!
//! [`Command`] wraps [`std::process::Command`], which does the spawning (arguments, environment,
//! working directory, redirections). The pipes it creates are then set non-blocking and registered
//! with the loop ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`]).
//!
//! The exit is learnt through a **pidfd** (`pidfd_open(2)`, Linux 5.3 and later), a descriptor
//! that becomes readable when the child exits. It is registered with the loop's reactor like a
//! socket, so a thousand waiting children cost a thousand descriptors and no threads or signal
//! handlers; `waitpid` then collects the status without blocking.
//!
//! Where the kernel has no pidfds (`pidfd_open` fails, as with `ENOSYS` before Linux 5.3), the
//! loop listens for `SIGCHLD` instead, with the [signal](crate::signal) module's machinery: on
//! each delivery (deliveries coalesce, so one may stand for many exits) every child waiting on
//! that path tries `waitpid` on its own pid with `WNOHANG`. No code here reaps "any child"
//! (`waitpid(-1)`), so children spawned by other code are left to it. The listener does not keep
//! the loop alive by itself; a pending [`Child::wait`] does. While such children exist, evloop's
//! `SIGCHLD` handler is installed (the previous disposition is put back after the last one); a
//! `SIGCHLD` set to be ignored (`SIG_IGN`, which makes the kernel reap children itself) is
//! replaced meanwhile. If no listener can be made (every signal wake slot is taken, or its socket pair cannot be made), a job on the
//! [blocking pool](crate::blocking) waits for the exit instead.
//!
//! **No zombies.** Every child is reaped: by [`Child::wait`] or [`Child::try_wait`], or, when a
//! [`Child`] is dropped first, by the loop (a watcher on its pidfd, or on the `SIGCHLD` path a list
//! of orphans tried on each delivery; neither keeps [`EventLoop::run`](crate::EventLoop::run)
//! going) or, if there is no loop or it goes away before the child exits, by a small detached
//! thread. [`Command::kill_on_drop`] kills a dropped child first.
//!
//! Each child uses one descriptor for its pidfd and one per piped stream, while it lives; many
//! children at once may need a higher `RLIMIT_NOFILE`.
//!
//! ## Platform
//!
//! Linux (pidfds, or `SIGCHLD` on older kernels). A child must be spawned on a thread with an
//! [`EventLoop`](crate::EventLoop) and awaited by that loop's tasks.

mod child;
mod pipe;
mod reap;
mod sigchld;
#[cfg(test)]
mod tests;

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;

pub use child::Child;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};

use crate::event_loop::Handle;
use crate::net::source::no_loop;

/// A process to spawn: the program, its arguments, environment, working directory and standard
/// streams, as [`std::process::Command`] (which it wraps), with async [`Command::spawn`],
/// [`Command::status`] and [`Command::output`].
///
/// ```
/// use evloop::process::Command;
///
/// let lp = evloop::EventLoop::new()?;
/// let out = lp.block_on(
///     Command::new("sh")
///         .args(["-c", "echo $GREETING from $PWD"])
///         .env_clear()
///         .env("GREETING", "hello")
///         .current_dir("/")
///         .output(),
/// )?;
/// assert_eq!(out.stdout, b"hello from /\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    /// Which streams were configured by the caller (`output` pipes the others).
    stdout_set: bool,
    stderr_set: bool,
    stdin_set: bool,
}

impl Command {
    /// A command to run `program`, found through `PATH` unless it contains a `/`; it inherits our
    /// environment, working directory and standard streams unless told otherwise.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let out = lp.block_on(Command::new("echo").arg("hello").output())?;
    /// assert!(out.status.success());
    /// assert_eq!(out.stdout, b"hello\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds an argument.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let out = lp.block_on(Command::new("echo").arg("one").arg("two words").output())?;
    /// assert_eq!(out.stdout, b"one two words\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let out = lp.block_on(Command::new("printf").args(["%s-%s", "a", "b"]).output())?;
    /// assert_eq!(out.stdout, b"a-b");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut cmd = Command::new("sh");
    /// let out = lp.block_on(cmd.args(["-c", "echo $NAME"]).env("NAME", "evloop").output())?;
    /// assert_eq!(out.stdout, b"evloop\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, value: V) -> &mut Command {
        self.std.env(key, value);
        self
    }

    /// Sets environment variables for the child.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let vars = [("A", "1"), ("B", "2")];
    /// let out = lp.block_on(Command::new("sh").args(["-c", "echo $A$B"]).envs(vars).output())?;
    /// assert_eq!(out.stdout, b"12\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let out = lp.block_on(
    ///     Command::new("sh")
    ///         .args(["-c", "echo ${GONE-unset}"])
    ///         .env("GONE", "set")
    ///         .env_remove("GONE")
    ///         .output(),
    /// )?;
    /// assert_eq!(out.stdout, b"unset\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what [`Command::env`] adds).
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// // `env` with no arguments prints the environment: here, only what was added.
    /// let mut cmd = Command::new("/usr/bin/env");
    /// let out = lp.block_on(cmd.env_clear().env("ONLY", "this").output())?;
    /// assert_eq!(out.stdout, b"ONLY=this\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let out = lp.block_on(Command::new("pwd").current_dir("/").output())?;
    /// assert_eq!(out.stdout, b"/\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's standard input: [`Stdio::piped`] for a [`ChildStdin`], [`Stdio::null`],
    /// [`Stdio::inherit`] (the default), or a file.
    ///
    /// ```
    /// use evloop::process::{Command, Stdio};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// // Null input: `cat` reads end of file at once.
    /// let out = lp.block_on(Command::new("cat").stdin(Stdio::null()).output())?;
    /// assert!(out.status.success());
    /// assert!(out.stdout.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Sets the child's standard output: [`Stdio::piped`] for a [`ChildStdout`], and so on.
    ///
    /// ```
    /// use evloop::io::AsyncRead;
    /// use evloop::process::{Command, Stdio};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    ///     let mut got = Vec::new();
    ///     child.stdout.take().unwrap().read_to_end(&mut got).await?;
    ///     assert_eq!(got, b"hi\n");
    ///     assert!(child.wait().await?.success());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdout(cfg);
        self.stdout_set = true;
        self
    }

    /// Sets the child's standard error: [`Stdio::piped`] for a [`ChildStderr`], and so on.
    ///
    /// ```
    /// use evloop::process::{Command, Stdio};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// // Errors discarded; `output` still pipes stdout.
    /// let out = lp.block_on(
    ///     Command::new("sh")
    ///         .args(["-c", "echo out; echo err >&2"])
    ///         .stderr(Stdio::null())
    ///         .output(),
    /// )?;
    /// assert_eq!(out.stdout, b"out\n");
    /// assert!(out.stderr.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stderr(cfg);
        self.stderr_set = true;
        self
    }

    /// Whether a [`Child`] dropped while still running is killed (`SIGKILL`). Off by default:
    /// the child then runs on, and is reaped when it exits. Either way no zombie is left.
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let child = Command::new("sleep").arg("30").kill_on_drop(true).spawn()?;
    ///     drop(child); // killed now, and reaped without a zombie
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// The wrapped standard library command, for what this type does not expose (`uid`,
    /// `process_group`, `pre_exec` from `std::os::unix::process::CommandExt`, ...).
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "echo $0"]);
    /// cmd.as_std_mut().arg0("renamed");
    /// let out = lp.block_on(cmd.output())?;
    /// assert_eq!(out.stdout, b"renamed\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child.
    ///
    /// # Errors
    ///
    /// If this thread has no event loop; as [`std::process::Command::spawn`] (`NotFound` for a
    /// missing program); or if its pipes or pidfd cannot be registered (the child is then killed
    /// and reaped).
    ///
    /// ```
    /// use evloop::io::AsyncRead;
    /// use evloop::process::{Command, Stdio};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut child = Command::new("sh").args(["-c", "echo out"]).stdout(Stdio::piped()).spawn()?;
    ///     let mut stdout = child.stdout.take().unwrap();
    ///     let mut got = Vec::new();
    ///     stdout.read_to_end(&mut got).await?; // the loop serves other work meanwhile
    ///     assert_eq!(got, b"out\n");
    ///     assert!(child.wait().await?.success());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        Handle::try_current().ok_or_else(no_loop)?;
        reap::retry_strays();
        let child = self.std.spawn()?;
        Child::from_std(child, self.kill_on_drop)
    }

    /// Runs the child to its end and returns its exit status. Its streams are inherited unless
    /// configured; any that were piped are closed before waiting.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`Child::wait`].
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let status = lp.block_on(Command::new("sh").args(["-c", "exit 7"]).status())?;
    /// assert_eq!(status.code(), Some(7));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        drop(child.stdin.take());
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().await
    }

    /// Runs the child to its end and collects its output. As in [`std::process::Command::output`],
    /// stdout and stderr are piped and stdin is null unless configured (this configures them so
    /// on the command, for later spawns too).
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`Child::wait_with_output`].
    ///
    /// ```
    /// use evloop::process::Command;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let mut cmd = Command::new("sh");
    /// let out = lp.block_on(cmd.args(["-c", "echo out; echo err >&2; exit 1"]).output())?;
    /// assert_eq!(out.status.code(), Some(1));
    /// assert_eq!(out.stdout, b"out\n");
    /// assert_eq!(out.stderr, b"err\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn output(&mut self) -> io::Result<Output> {
        if !self.stdin_set {
            self.std.stdin(Stdio::null());
        }
        if !self.stdout_set {
            self.std.stdout(Stdio::piped());
        }
        if !self.stderr_set {
            self.std.stderr(Stdio::piped());
        }
        self.spawn()?.wait_with_output().await
    }
}

impl From<std::process::Command> for Command {
    /// Wraps a configured standard library command (its streams count as not configured, for
    /// [`Command::output`]).
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            stdin_set: false,
            stdout_set: false,
            stderr_set: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}
