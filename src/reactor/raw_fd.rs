//! `RawFdSource`: a raw descriptor as a `mio` source.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A raw file descriptor to watch, for descriptors that `mio` has no type for (pipes, eventfds,
/// devices, sockets created elsewhere).
///
/// It does not own the descriptor: the caller keeps it open while it is watched, and closes it only
/// after [`Handle::unwatch`](crate::Handle::unwatch). Edge-triggered rules apply as for every watcher.
///
/// ```
/// use evloop::{EventLoop, RawFdSource};
/// use mio::Interest;
/// use std::os::fd::AsRawFd;
///
/// let lp = EventLoop::new()?;
/// let (reader, _writer) = std::os::unix::net::UnixStream::pair()?;
/// reader.set_nonblocking(true)?;
/// let id = lp.watch(RawFdSource(reader.as_raw_fd()), Interest::READABLE, |_, _, _| {})?;
/// assert!(lp.unwatch(id));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawFdSource(pub RawFd);

impl Source for RawFdSource {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.0).deregister(registry)
    }
}

/// A value that owns a descriptor, registered by that descriptor: the crate's own sources that are
/// not `mio` types (a pidfd, a signal wake slot, an orphan child's pidfd). Dropping it drops the
/// value, which closes (or gives back) the descriptor.
#[derive(Debug)]
pub(crate) struct FdSource<T>(pub(crate) T);

impl<T: AsRawFd> Source for FdSource<T> {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        RawFdSource(self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        RawFdSource(self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        RawFdSource(self.0.as_raw_fd()).deregister(registry)
    }
}
