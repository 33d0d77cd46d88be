//! Reaping: learning that a child exited, and collecting its status so that no zombie is left.
//!
//! - **pidfd** (Linux 5.3 and later, the primary path): `pidfd_open(2)` gives a descriptor that
//!   becomes readable when the child exits. It is registered with the loop's reactor like a
//!   socket, so waiting costs no thread and no signal handler; once it is readable, `waitpid`
//!   (through `std::process::Child::try_wait`) collects the status without blocking.
//! - **`SIGCHLD`** (older kernels, where `pidfd_open` fails, for example with `ENOSYS`): the
//!   loop listens for `SIGCHLD` through the crate's [signal](crate::signal) module, and on each
//!   delivery every waiting child of that path tries `try_wait` (`WNOHANG`, for its own pid only;
//!   never `waitpid(-1)`, so other code's children are not stolen). The listener does not keep
//!   the loop alive; a waiting child does. See [`super::sigchld`]. As the standard library is the
//!   only code that reaps, its `kill` can never signal a recycled pid.
//! - **Blocking pool** (last resort, if no `SIGCHLD` listener can be made, for example because
//!   every signal wake slot is taken): a job waits with `waitid(P_PID, pid, WEXITED | WNOWAIT)`,
//!   which returns when the child exits but leaves it to be reaped; the task then reaps it with
//!   `try_wait`. Each waiting child holds a pool thread.
//! - **Orphans**: a [`Child`](super::Child) dropped before it was reaped is handed to the loop:
//!   a watcher on its pidfd, or on the `SIGCHLD` path the loop's orphan list (tried on each
//!   delivery), reaps it when it exits. Neither keeps [`EventLoop::run`](crate::EventLoop::run)
//!   going (libuv's unref). If there is no open loop, or the loop is dropped first, a small
//!   detached thread waits for it instead. Either way it is reaped.

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};

use mio::Interest;

use crate::blocking::BlockingHandle;
use crate::driver::reactor::Direction;
use crate::event_loop::Handle;
use crate::net::source::{no_loop, IoSource};
use crate::reactor::FdSource;
use crate::task::JoinError;

use super::sigchld;

/// Set once `pidfd_open` failed with `ENOSYS`: the kernel lacks it, do not ask again.
static NO_PIDFD: AtomicBool = AtomicBool::new(false);

#[cfg(test)]
thread_local! {
    /// Tests of the fallback path: as if the kernel had no `pidfd_open`.
    pub(crate) static FORCE_FALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Children that could not be handed to a reaper thread (thread creation failed): tried again on
/// every spawn and every drop of a child.
static STRAYS: Mutex<Vec<std::process::Child>> = Mutex::new(Vec::new());

/// A pidfd; it owns the descriptor (registered as an [`FdSource`]).
#[derive(Debug)]
pub(crate) struct PidFd(OwnedFd);

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// `pidfd_open(pid, 0)`, or `None` where the kernel cannot (then the fallback is used).
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    #[cfg(test)]
    if FORCE_FALLBACK.with(|f| f.get()) {
        return None;
    }
    if NO_PIDFD.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: `pidfd_open` takes a pid and flags, no pointers; it returns a new descriptor (always
    // close-on-exec) or -1 with `errno` set.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        if io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
            NO_PIDFD.store(true, Ordering::Relaxed);
        }
        // Other errors (out of descriptors, a sandbox refusing the call) fall back for this child.
        return None;
    }
    // SAFETY: `fd` was just returned by the kernel and is owned by nothing else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// How a running child's exit is awaited.
pub(crate) enum Waiter {
    /// Its pidfd, registered with the loop.
    PidFd(IoSource<FdSource<PidFd>>),
    /// The fallback: woken by the loop's `SIGCHLD` hub, with which the first wait registers.
    Sigchld(Option<sigchld::Registration>),
    /// The last resort, if no `SIGCHLD` listener can be made: a blocking-pool job that returns
    /// once the child exited (without reaping it), started by the first wait.
    Blocking(Option<BlockingHandle<()>>),
}

impl Waiter {
    /// The waiter for a just-spawned child: its pidfd if the kernel has them.
    pub(crate) fn new(pid: u32) -> io::Result<Waiter> {
        match pidfd_open(pid) {
            Some(fd) => Ok(Waiter::PidFd(IoSource::new(FdSource(PidFd(fd)))?)),
            None => Ok(Waiter::Sigchld(None)),
        }
    }

    /// Polls until `child` has exited and is reaped.
    pub(crate) fn poll_wait(
        &mut self,
        child: &mut std::process::Child,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ExitStatus>> {
        match self {
            // Readiness is assumed at registration, so the first poll tries `waitpid` at once;
            // after "still running" it waits for the pidfd's edge.
            Waiter::PidFd(io) => io.poll_op(Direction::Read, cx, |_| match child.try_wait() {
                Ok(Some(status)) => Ok(status),
                Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(e),
            }),
            Waiter::Sigchld(registration) => {
                let handle = Handle::try_current().ok_or_else(no_loop)?;
                if !registration.as_ref().is_some_and(|r| r.serves(&handle)) {
                    match sigchld::Registration::new(&handle) {
                        Ok(r) => *registration = Some(r),
                        Err(_) if !handle.is_closed() => {
                            // No listener (every signal wake slot is taken, say): a pool job.
                            *self = Waiter::Blocking(None);
                            return self.poll_wait(child, cx);
                        }
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
                let Some(registration) = registration else {
                    unreachable!("registered above");
                };
                // The waker first, then the try: an exit the try misses raises a `SIGCHLD`, and
                // the hub wakes this waker for it.
                registration.set_waker(cx.waker());
                match child.try_wait()? {
                    Some(status) => {
                        // Unregistered: the loop need not stay alive for this child any more.
                        *self = Waiter::Sigchld(None);
                        Poll::Ready(Ok(status))
                    }
                    None => Poll::Pending,
                }
            }
            Waiter::Blocking(job) => loop {
                if let Some(status) = child.try_wait()? {
                    *job = None;
                    return Poll::Ready(Ok(status));
                }
                if job.is_none() {
                    // Polled outside any loop (another executor): an error, not a panic.
                    let Some(handle) = Handle::try_current().filter(|h| !h.is_closed()) else {
                        return Poll::Ready(Err(io::Error::other(
                            "evloop: waiting for a child needs a running event loop on this thread",
                        )));
                    };
                    let pid = child.id();
                    *job = Some(handle.spawn_blocking(move || wait_for_exit(pid)));
                }
                let Some(pending) = job.as_mut() else {
                    unreachable!("set above");
                };
                match Pin::new(pending).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => *job = None,
                    Poll::Ready(Err(e)) => {
                        *job = None;
                        return Poll::Ready(Err(match e {
                            JoinError::ThreadSpawn(e) => e,
                            // The job panics never; cancelled only as the loop goes away.
                            other => {
                                io::Error::other(format!("evloop: waiting for a child: {other}"))
                            }
                        }));
                    }
                }
            },
        }
    }
}

/// Blocks until the child `pid` has exited, leaving it unreaped (`WNOWAIT`).
fn wait_for_exit(pid: u32) {
    loop {
        // SAFETY: an all-zero `siginfo_t` is a valid value to be overwritten.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable `siginfo_t` for the duration of the call.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        // Interrupted: wait again. Any other error (ECHILD: reaped meanwhile) ends the wait, and
        // the caller's `try_wait` tells what happened.
        if r == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// A dropped child's pidfd, watched by the loop until the child exits. Dropping it unreaped (the
/// watcher removed because the loop is going away) hands the child to a reaper thread.
struct Orphan {
    pidfd: PidFd,
    child: Option<std::process::Child>,
}

impl AsRawFd for Orphan {
    fn as_raw_fd(&self) -> RawFd {
        self.pidfd.as_raw_fd()
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            reap_later(child);
        }
    }
}

/// Makes sure a child that nobody will wait for is reaped: now if it has exited, else by a
/// watcher on `waiter`'s pidfd or the `SIGCHLD` hub of the current loop, else by a thread.
pub(crate) fn adopt(mut child: std::process::Child, waiter: Waiter) {
    retry_strays();
    if !matches!(child.try_wait(), Ok(None)) {
        // Reaped now (or the standard library already holds its status).
        return;
    }
    let pidfd = match waiter {
        // Our registration goes with `io`; the duplicate descriptor gets one of its own.
        Waiter::PidFd(io) => io.get().0 .0.try_clone().ok().map(PidFd),
        Waiter::Sigchld(registration) => {
            // No longer waiting (and no longer keeping the loop alive): an orphan of the hub.
            drop(registration);
            let Some(handle) = Handle::try_current() else {
                return reap_later(child);
            };
            if let Err(child) = sigchld::adopt(&handle, child) {
                reap_later(child);
            }
            return;
        }
        Waiter::Blocking(_) => None,
    };
    let (Some(pidfd), Some(handle)) = (pidfd, Handle::try_current()) else {
        return reap_later(child);
    };
    let orphan = Orphan {
        pidfd,
        child: Some(child),
    };
    // If the loop is closing, the watch is refused and dropped, and `Orphan::drop` reaps.
    let watched = handle.watch(FdSource(orphan), Interest::READABLE, |h, source, event| {
        let orphan = &mut source.0;
        if let Some(child) = orphan.child.as_mut() {
            if !matches!(child.try_wait(), Ok(None)) {
                orphan.child = None;
                h.unwatch(event.watcher());
            }
        }
    });
    if let Ok(id) = watched {
        // An orphan does not keep `run` going; it is reaped whenever the loop runs after it exits.
        handle.set_watcher_keep_alive(id, false);
    }
}

/// Reaps `child` if it has exited, else hands it to a detached thread that waits for it.
pub(crate) fn reap_later(mut child: std::process::Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    let slot = std::sync::Arc::new(Mutex::new(Some(child)));
    let theirs = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("evloop-reaper".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            if let Some(mut child) = lock(&theirs).take() {
                let _ = child.wait();
            }
        });
    if spawned.is_err() {
        // No thread: keep it, and try again on the next spawn or drop of a child.
        if let Some(child) = lock(&slot).take() {
            lock(&STRAYS).push(child);
        }
    }
}

/// Reaps the strays that have exited meanwhile.
pub(crate) fn retry_strays() {
    let mut strays = lock(&STRAYS);
    if !strays.is_empty() {
        strays.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
