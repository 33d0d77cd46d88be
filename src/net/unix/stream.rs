//! `UnixStream`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::driver::reactor::Direction;
use crate::net::source::IoSource;
use crate::net::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::net::stream::forward_async_io;

/// A Unix domain stream connection. Like [`TcpStream`](crate::net::TcpStream): syscall first,
/// readiness after `WouldBlock`, writes with `MSG_NOSIGNAL`.
///
/// ```
/// use evloop::io::{AsyncRead, AsyncWrite};
/// use evloop::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("evloop-doc-unix-stream-{}", std::process::id()));
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let mut client = UnixStream::connect(&path).await?;
///     let (mut server, _) = listener.accept().await?;
///     client.write_all(b"over a Unix socket").await?;
///     drop(client);
///     let mut got = Vec::new();
///     server.read_to_end(&mut got).await?;
///     assert_eq!(got, b"over a Unix socket");
///     Ok::<(), std::io::Error>(())
/// })?;
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    io: IoSource<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    ///
    /// As `connect(2)`: `NotFound` for a missing path, `ConnectionRefused` if nobody listens.
    ///
    /// ```
    /// use evloop::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-stream-connect-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// assert!(UnixStream::connect(&path).await.is_err(), "nobody listens there yet");
    /// let listener = UnixListener::bind(&path)?;
    /// let client = UnixStream::connect(&path).await?;
    /// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// drop(listener);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let stream = Self::from_mio(mio::net::UnixStream::connect(path)?)?;
        stream.io.clear_assumed(Direction::Write);
        poll_fn(|cx| stream.io.poll_ready(Direction::Write, cx)).await?;
        match stream.io.get().take_error()? {
            Some(e) => Err(e),
            None => Ok(stream),
        }
    }

    /// A connected pair, like `socketpair(2)`.
    ///
    /// # Errors
    ///
    /// As `socketpair(2)`, or if this thread has no event loop.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (mut a, mut b) = UnixStream::pair()?;
    ///     a.write_all(b"no path needed").await?;
    ///     let mut buf = [0; 14];
    ///     b.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"no path needed");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((Self::from_mio(a)?, Self::from_mio(b)?))
    }

    /// Wraps a connected stream from the standard library (made non-blocking here).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    ///
    /// ```
    /// use evloop::io::AsyncRead;
    /// use evloop::net::UnixStream;
    /// use std::io::Write;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut std_end, other) = std::os::unix::net::UnixStream::pair()?;
    /// let mut stream = UnixStream::from_std(other)?;
    /// std_end.write_all(b"from std")?;
    /// let mut buf = [0; 8];
    /// stream.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"from std");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Self::from_mio(mio::net::UnixStream::from_std(stream))
    }

    pub(crate) fn from_mio(s: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: IoSource::new(s)?,
        })
    }

    /// Waits until the socket may be read.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for a closed registration.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// a.write_all(b"!").await?;
    /// b.readable().await?; // data is there: a read now does not wait
    /// let mut buf = [0; 1];
    /// assert_eq!(b.read(&mut buf).await?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await
    }

    /// Waits until the socket may be written.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::readable`].
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// a.writable().await?; // room in the send buffer
    /// assert_eq!(a.write(b"ok").await?, 2);
    /// let mut buf = [0; 2];
    /// b.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"ok");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
    }

    /// Borrowed halves: read in one task and write in another.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (mut a, mut b) = UnixStream::pair()?;
    ///     let (mut rd, mut wr) = b.split();
    ///     a.write_all(b"echo").await?;
    ///     let mut buf = [0; 4];
    ///     rd.read_exact(&mut buf).await?;
    ///     wr.write_all(&buf).await?;
    ///     a.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"echo");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn split(
        &mut self,
    ) -> (
        ReadHalf<'_, mio::net::UnixStream>,
        WriteHalf<'_, mio::net::UnixStream>,
    ) {
        split::borrowed(&self.io)
    }

    /// Owned halves. Dropping the write half shuts down the writing side.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     let (_rd, mut wr) = a.into_split();
    ///     evloop::spawn(async move { wr.write_all(b"done").await.unwrap() }); // `wr` dropped: end of file
    ///     let mut got = Vec::new();
    ///     b.read_to_end(&mut got).await?;
    ///     assert_eq!(got, b"done");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_split(
        self,
    ) -> (
        OwnedReadHalf<mio::net::UnixStream>,
        OwnedWriteHalf<mio::net::UnixStream>,
    ) {
        split::owned(self.io)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    ///
    /// ```
    /// use evloop::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-stream-local-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = UnixListener::bind(&path)?;
    /// let client = UnixStream::connect(&path).await?;
    /// let (conn, _) = listener.accept().await?;
    /// assert!(client.local_addr()?.is_unnamed());
    /// assert_eq!(conn.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    ///
    /// ```
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (a, _b) = UnixStream::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed(), "a pair has no path");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }
}

// Through a shared reference too, as std's `Read` for `&UnixStream`: one task may read while another
// writes. (Two tasks reading at once would share one read waker: only the later one would be woken.)
forward_async_io!(read: UnixStream, &UnixStream);
forward_async_io!(write: UnixStream, &UnixStream);

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get().fmt(f)
    }
}
