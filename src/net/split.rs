//! Read and write halves of a stream, borrowed or owned, so one task can read while another writes.

use std::fmt;
use std::rc::Rc;

use super::source::IoSource;
use super::stream::{forward_async_io, StreamSocket};

/// The reading half of a stream, borrowed from it (see `TcpStream::split`).
///
/// ```
/// use evloop::io::{AsyncRead, AsyncWrite};
/// use evloop::net::UnixStream;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (mut a, mut peer) = UnixStream::pair()?;
///     let (mut rd, _wr) = a.split();
///     peer.write_all(b"read half").await?;
///     let mut buf = [0; 9];
///     rd.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"read half");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ReadHalf<'a, S: StreamSocket> {
    pub(crate) io: &'a IoSource<S>,
}

/// The writing half of a stream, borrowed from it (see `TcpStream::split`).
///
/// ```
/// use evloop::io::{AsyncRead, AsyncWrite};
/// use evloop::net::UnixStream;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (mut a, mut peer) = UnixStream::pair()?;
///     let (_rd, mut wr) = a.split();
///     wr.write_all(b"write half").await?;
///     wr.shutdown().await?; // the peer sees the end; the read half still reads
///     let mut got = Vec::new();
///     peer.read_to_end(&mut got).await?;
///     assert_eq!(got, b"write half");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct WriteHalf<'a, S: StreamSocket> {
    pub(crate) io: &'a IoSource<S>,
}

/// The reading half of a stream, owned (see `TcpStream::into_split`). The socket closes when both
/// halves are dropped.
///
/// ```
/// use evloop::io::{AsyncRead, AsyncWrite};
/// use evloop::net::UnixStream;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (a, mut peer) = UnixStream::pair()?;
///     let (mut rd, _wr) = a.into_split();
///     let reader = evloop::spawn(async move {
///         let mut buf = [0; 5];
///         rd.read_exact(&mut buf).await.map(|()| buf)
///     });
///     peer.write_all(b"owned").await?;
///     assert_eq!(&reader.await.unwrap()?, b"owned");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct OwnedReadHalf<S: StreamSocket> {
    pub(crate) io: Rc<IoSource<S>>,
}

/// The writing half of a stream, owned (see `TcpStream::into_split`). Dropping it shuts the
/// writing side down, so the peer sees end of file even while the read half lives.
///
/// ```
/// use evloop::io::{AsyncRead, AsyncWrite};
/// use evloop::net::UnixStream;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (a, mut peer) = UnixStream::pair()?;
///     let (_rd, mut wr) = a.into_split();
///     evloop::spawn(async move { wr.write_all(b"and done").await.unwrap() });
///     let mut got = Vec::new();
///     peer.read_to_end(&mut got).await?; // ends when the task drops `wr`
///     assert_eq!(got, b"and done");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct OwnedWriteHalf<S: StreamSocket> {
    pub(crate) io: Rc<IoSource<S>>,
}

/// Both borrowed halves of `io`.
pub(crate) fn borrowed<S: StreamSocket>(io: &IoSource<S>) -> (ReadHalf<'_, S>, WriteHalf<'_, S>) {
    (ReadHalf { io }, WriteHalf { io })
}

/// Both owned halves of `io`.
pub(crate) fn owned<S: StreamSocket>(io: IoSource<S>) -> (OwnedReadHalf<S>, OwnedWriteHalf<S>) {
    let io = Rc::new(io);
    (OwnedReadHalf { io: io.clone() }, OwnedWriteHalf { io })
}

impl<S: StreamSocket> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        let _ = self.io.get().shutdown(std::net::Shutdown::Write);
    }
}

type Tcp = mio::net::TcpStream;
type Unix = mio::net::UnixStream;

forward_async_io!(read: ReadHalf<'_, Tcp>, ReadHalf<'_, Unix>, OwnedReadHalf<Tcp>, OwnedReadHalf<Unix>);
forward_async_io!(write: WriteHalf<'_, Tcp>, WriteHalf<'_, Unix>, OwnedWriteHalf<Tcp>, OwnedWriteHalf<Unix>);

macro_rules! debug_half {
    ($($ty:ident $(<$lt:lifetime>)?),*) => {$(
        impl<$($lt,)? S: StreamSocket> fmt::Debug for $ty<$($lt,)? S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).field("fd", &self.io.get().as_raw_fd()).finish()
            }
        }
    )*};
}

debug_half!(ReadHalf<'a>, WriteHalf<'a>, OwnedReadHalf, OwnedWriteHalf);
