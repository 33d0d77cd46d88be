//! `IoSource`: a mio socket registered with the loop, and the one place where an async operation
//! meets readiness.
//!
//! An operation on a socket believed ready (it is, until an operation has seen `WouldBlock`) spends
//! one unit of the task's cooperative budget and tries the syscall; on a socket known not to be
//! ready it parks at once, spending nothing (it yields anyway). Only after `WouldBlock` does it
//! forget that readiness and park the task's waker. So the fast path is one syscall and no extra
//! poll, and a drained socket is not tried again until the reactor reports a new edge. The
//! readiness state is shared with the reactor through an `Rc`, so checking it costs no lookup and
//! no borrow.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::task::{Context, Poll};

use mio::event::Source;

use super::sys;
use crate::driver::reactor::{Direction, IoKey, IoState};
use crate::event_loop::Handle;
use crate::runtime::waker;
use crate::task::poll_proceed;

pub(crate) struct IoSource<S: Source> {
    handle: Handle,
    key: IoKey,
    state: Rc<IoState>,
    source: S,
}

/// The error for a socket created where no event loop exists.
pub(crate) fn no_loop() -> io::Error {
    io::Error::other("evloop: no event loop on this thread; create an EventLoop first")
}

impl<S: Source> IoSource<S> {
    /// Registers `source` with the current loop.
    pub(crate) fn new(mut source: S) -> io::Result<Self> {
        let handle = Handle::try_current().ok_or_else(no_loop)?;
        let (key, state) = handle.core.register_io(&mut source)?;
        Ok(IoSource {
            handle,
            key,
            state,
            source,
        })
    }

    pub(crate) fn get(&self) -> &S {
        &self.source
    }

    /// The loop the source is registered with.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `op` when `dir` may be ready, waiting for readiness only after it returns `WouldBlock`.
    pub(crate) fn poll_op<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        if let Some(wait) = self.begin(dir, cx) {
            return wait;
        }
        loop {
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.state.clear_ready(dir);
                    return self.park(dir, cx);
                }
                // Readiness cannot change while this task runs: retry without rechecking.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Poll::Ready(result),
            }
        }
    }

    /// [`IoSource::poll_op`] for a raw syscall on the descriptor: the hot path of stream reads and
    /// writes, with `EAGAIN` and `EINTR` handled on the bare `errno`, so that the common
    /// `EAGAIN` costs no `io::Error`.
    ///
    /// `len` is how many bytes the operation asked for. A stream operation that moves fewer (but
    /// some) has drained the receive queue or filled the send buffer: readiness is forgotten at
    /// once, so the next call parks without the syscall that would only say `EAGAIN` (edge
    /// triggering reports any later change as a new event).
    #[inline(always)]
    pub(crate) fn poll_syscall(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        len: usize,
        mut op: impl FnMut(RawFd) -> sys::SysResult,
    ) -> Poll<io::Result<usize>>
    where
        S: AsRawFd,
    {
        if let Some(wait) = self.begin(dir, cx) {
            return wait;
        }
        // Matched on the bare result: through an `io::Result` (or an enum made from it) a
        // message's read and write measured 25 instructions more (callgrind, async echo).
        let fd = self.source.as_raw_fd();
        loop {
            match op(fd) {
                Ok(n) => {
                    if n > 0 && n < len {
                        self.state.clear_drained(dir);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(libc::EAGAIN) => {
                    self.state.clear_ready(dir);
                    return self.park(dir, cx);
                }
                // Readiness cannot change while this task runs: retry without rechecking.
                Err(libc::EINTR) => {}
                Err(errno) => return Poll::Ready(Err(io::Error::from_raw_os_error(errno))),
            }
        }
    }

    /// The start of every operation: `Some` to return at once, parked if `dir` is known not ready
    /// (after `WouldBlock`, nothing can change that before this task returns to the loop), or
    /// yielding if the task's budget is spent; `None` to go ahead. Only an operation that goes
    /// ahead spends budget: one that waits yields anyway.
    #[inline(always)]
    fn begin<R>(&self, dir: Direction, cx: &mut Context<'_>) -> Option<Poll<io::Result<R>>> {
        if !self.state.is_ready(dir) {
            return Some(self.park(dir, cx));
        }
        if poll_proceed(&self.handle, cx).is_pending() {
            return Some(Poll::Pending);
        }
        None
    }

    /// Stores the task's waker until `dir` is ready. A task of another loop on this thread would
    /// wait for ever (this loop may never run again while it waits): that is an error instead.
    #[inline(always)]
    fn park<R>(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        if let Err(e) = self.check_loop(cx) {
            return Poll::Ready(Err(e));
        }
        self.state.park(dir, cx.waker(), waker::clone_waker);
        Poll::Pending
    }

    /// Whether the task polling this socket can be woken by its loop: its waker is one of this
    /// loop's, or (a waker of some combinator, or another executor's) no other loop is running
    /// on this thread.
    #[inline(always)]
    fn check_loop(&self, cx: &Context<'_>) -> io::Result<()> {
        let mine = self.handle.core.index;
        let theirs = match waker::loop_index(cx.waker()) {
            Some(index) => index,
            None => return self.check_running_loop(),
        };
        if theirs == mine {
            Ok(())
        } else {
            Err(wrong_loop(mine, theirs))
        }
    }

    #[cold]
    fn check_running_loop(&self) -> io::Result<()> {
        let mine = self.handle.core.index;
        let running = crate::runtime::current::with_current_core(|c| {
            (c.run.get().is_running() && c.index != mine).then_some(c.index)
        });
        match running.flatten() {
            Some(theirs) => Err(wrong_loop(mine, theirs)),
            None => Ok(()),
        }
    }

    /// Waits until the reactor reports `dir` ready (without doing any operation).
    pub(crate) fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = self.check_loop(cx) {
            return Poll::Ready(Err(e));
        }
        self.state
            .poll_ready(dir, cx, waker::clone_waker)
            .map(|_| Ok(()))
    }

    /// Waits until the reactor reports `dir` ready (the `readable()`/`writable()` of the types).
    pub(crate) async fn ready(&self, dir: Direction) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_ready(dir, cx)).await
    }

    /// Forgets the readiness assumed at registration, to wait for a real event (a connect).
    pub(crate) fn clear_assumed(&self, dir: Direction) {
        self.state.clear_assumed(dir);
    }

    /// Runs `op` once without waiting: `WouldBlock` is returned as an error (and readiness
    /// forgotten), for `try_*` methods.
    pub(crate) fn try_op<R>(
        &self,
        dir: Direction,
        op: impl FnOnce(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let result = op(&self.source);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.state.clear_ready(dir);
        }
        result
    }
}

impl<S: Source + AsRawFd> AsRawFd for IoSource<S> {
    fn as_raw_fd(&self) -> RawFd {
        self.source.as_raw_fd()
    }
}

impl<S: Source> Drop for IoSource<S> {
    fn drop(&mut self) {
        self.handle.core.deregister_io(self.key, &mut self.source);
    }
}

/// The error for a socket awaited by a task of another loop than the one it is registered with.
#[cold]
fn wrong_loop(mine: u16, theirs: u16) -> io::Error {
    io::Error::other(format!(
        "evloop: this socket is registered with event loop #{mine} but was awaited by a task of \
         loop #{theirs}, which would wait for ever; create a socket inside the loop that uses it \
         (in its task or callback, or while it is the thread's only loop)"
    ))
}
