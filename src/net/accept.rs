//! What `accept` does when it cannot accept: the policy shared by [`TcpListener`] and
//! [`UnixListener`].
//!
//! Out of descriptors (`EMFILE`, `ENFILE`), `accept(2)` fails at once and leaves the connection in
//! the backlog, so the listener stays readable: a caller that retries spins, and one that gives up
//! ends its server. So neither the errors nor the spin reach the caller; the accept future stays
//! pending until a connection can be accepted, and the already-open connections are served
//! meanwhile. The policy is libuv's, plus a timer:
//!
//! 1. **A reserve descriptor.** The first listener opens one (an anonymous `memfd`, `O_CLOEXEC`,
//!    whose inode is its own) and keeps it, one per process. On `EMFILE`/`ENFILE` the reserve is closed, the connections waiting in the
//!    backlog are accepted and closed at once (shed: the peer sees its connection closed instead of
//!    hanging in the backlog), and the reserve is reopened.
//! 2. **A back-off.** Then the listener waits [`BACKOFF`] on a loop timer (not spinning) before it
//!    tries again; connections that arrive meanwhile wait in the backlog and are accepted if a
//!    descriptor was freed by then, else shed in turn. `ENOBUFS` and `ENOMEM` (no memory for the
//!    new socket, where the reserve does not help), a failed reserve and a new connection that
//!    cannot be registered with the poller for want of memory only back off.
//!
//! A connection that failed before it was taken (`ECONNABORTED`, `ECONNRESET`, `EPROTO`) concerns
//! that client only: it is skipped and the next one accepted. Other errors (a socket that does not
//! listen, ...) are returned as before.
//!
//! [`TcpListener`]: super::TcpListener
//! [`UnixListener`]: super::UnixListener

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use mio::event::Source;

use super::source::IoSource;
use crate::driver::reactor::Direction;
use crate::time::Sleep;

/// How long a listener pauses after running out of descriptors or memory: long enough for
/// connections to close, short enough that a waiting client barely notices.
pub(crate) const BACKOFF: Duration = Duration::from_millis(100);

/// Most connections shed in one go, so that a flood cannot hold the loop; the rest are shed after
/// the back-off.
const SHED_MAX: usize = 256;

/// A listener's accept state: the back-off timer, while it runs.
#[derive(Default)]
pub(crate) struct AcceptState {
    backoff: Cell<Option<Sleep>>,
}

/// What an accept error asks for.
enum Remedy {
    /// One connection failed before it was taken: take the next.
    Skip,
    /// Out of descriptors: shed what waits, then back off.
    Shed,
    /// Out of memory or buffers: back off.
    BackOff,
    /// Not the listener's to handle.
    Return,
}

fn remedy(e: &io::Error) -> Remedy {
    match e.raw_os_error() {
        Some(libc::ECONNABORTED | libc::ECONNRESET | libc::EPROTO) => Remedy::Skip,
        Some(libc::EMFILE | libc::ENFILE) => Remedy::Shed,
        Some(libc::ENOBUFS | libc::ENOMEM) => Remedy::BackOff,
        _ => Remedy::Return,
    }
}

/// Whether registering an accepted socket failed for want of memory (`ENOMEM`, or `ENOSPC`: the
/// per-user limit of epoll watches): the socket is closed, and the listener backs off.
fn registration_starved(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOMEM | libc::ENOSPC | libc::ENOBUFS)
    )
}

impl AcceptState {
    /// Creates the state of a new listener, and the process's reserve descriptor if there is none
    /// yet.
    pub(crate) fn new() -> AcceptState {
        reserve::ensure();
        AcceptState::default()
    }

    /// Polls for a connection under the policy in the module docs: `accept` is the socket's
    /// accept, `wrap` registers what it returns.
    pub(crate) fn poll_accept<S: Source, C, T>(
        &self,
        io: &IoSource<S>,
        cx: &mut Context<'_>,
        accept: impl Fn(&S) -> io::Result<C>,
        mut wrap: impl FnMut(C) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        loop {
            if let Some(mut sleep) = self.backoff.take() {
                if Pin::new(&mut sleep).poll(cx).is_pending() {
                    self.backoff.set(Some(sleep));
                    return Poll::Pending;
                }
                // A reserve lost to a race is taken back now that descriptors may be free.
                reserve::ensure();
            }
            let error = match io.poll_op(Direction::Read, cx, &accept) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(conn)) => match wrap(conn) {
                    Ok(t) => return Poll::Ready(Ok(t)),
                    // The connection is closed already (dropped by `wrap`).
                    Err(e) if registration_starved(&e) => {
                        self.back_off(io);
                        continue;
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                },
                Poll::Ready(Err(e)) => e,
            };
            match remedy(&error) {
                Remedy::Skip => {}
                Remedy::Shed => {
                    shed(io, &accept);
                    self.back_off(io);
                }
                Remedy::BackOff => self.back_off(io),
                Remedy::Return => return Poll::Ready(Err(error)),
            }
        }
    }

    fn back_off<S: Source>(&self, io: &IoSource<S>) {
        let handle = io.handle().clone();
        let deadline = handle.core.deadline_after(BACKOFF);
        self.backoff.set(Some(Sleep::new(handle, deadline)));
    }
}

/// Accepts and closes the connections waiting in the backlog (at most [`SHED_MAX`]), with the
/// reserve descriptor closed meanwhile to make room for them. Without a reserve it does nothing.
fn shed<S: Source, C>(io: &IoSource<S>, accept: impl Fn(&S) -> io::Result<C>) {
    if !reserve::release() {
        return;
    }
    for _ in 0..SHED_MAX {
        // `try_op` forgets readiness on `WouldBlock`: the next try waits for a new connection.
        match io.try_op(Direction::Read, &accept) {
            Ok(conn) => drop(conn),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(remedy(&e), Remedy::Skip) => {}
            Err(_) => break, // drained (`WouldBlock`), or the freed slot was taken meanwhile
        }
    }
    reserve::ensure();
}

/// The process's reserve descriptor: an anonymous `memfd`, opened by the first listener, closed only
/// to make room for shedding connections and reopened right after. Not `/dev/null`: every open of
/// it has the same device and inode, so the identity check below could not tell the reserve from a
/// stranger's `/dev/null` that took its number after someone else closed it.
mod reserve {
    use super::*;

    /// The reserve's descriptor, or -1. Whoever swaps it out owns it.
    static FD: AtomicI32 = AtomicI32::new(-1);
    /// The reserve's device and inode, to tell it from another file that took its number after
    /// someone else closed it (closing that would close a stranger's descriptor).
    static ID: std::sync::Mutex<(u64, u64)> = std::sync::Mutex::new((0, 0));

    fn identity(fd: RawFd) -> Option<(u64, u64)> {
        // SAFETY: an all-zero `stat` is a valid value for `fstat` to overwrite.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `st` is a valid, writable `struct stat`; a bad `fd` is reported as EBADF.
        if unsafe { libc::fstat(fd, &mut st) } < 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)] // the field types differ between targets
        Some((st.st_dev as u64, st.st_ino as u64))
    }

    /// Opens the reserve if there is none. Fails quietly (out of descriptors): the listener then
    /// only backs off.
    pub(super) fn ensure() {
        if FD.load(Ordering::Acquire) >= 0 {
            return;
        }
        // SAFETY: the name is a valid NUL-terminated string; `memfd_create` takes no other
        // pointer.
        let fd = unsafe { libc::memfd_create(c"evloop-reserve".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return;
        }
        let Some(id) = identity(fd) else {
            close(fd);
            return;
        };
        let mut known = ID.lock().unwrap_or_else(|p| p.into_inner());
        if FD
            .compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            *known = id;
        } else {
            close(fd); // another thread opened one first
        }
    }

    /// Closes the reserve, if there is one and it is still ours. Returns whether it did.
    pub(super) fn release() -> bool {
        let known = ID.lock().unwrap_or_else(|p| p.into_inner());
        let fd = FD.swap(-1, Ordering::AcqRel);
        if fd < 0 {
            return false;
        }
        if identity(fd) != Some(*known) {
            // Someone closed it and the number was reused: forget it, do not close theirs. (A
            // stranger could still close and reuse the number between this check and the `close`
            // below: no check can rule that out, but it needs another thread to close a descriptor
            // it does not own first.)
            return false;
        }
        drop(known);
        close(fd);
        true
    }

    fn close(fd: RawFd) {
        // SAFETY: `fd` is a descriptor this module opened and owns exclusively (it was swapped out
        // of `FD`, or never stored there).
        unsafe { libc::close(fd) };
    }
}
