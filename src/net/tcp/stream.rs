//! `TcpStream`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};

use crate::driver::reactor::Direction;
use crate::net::addr::resolve;
use crate::net::source::IoSource;
use crate::net::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::net::stream::forward_async_io;

/// A TCP connection.
///
/// Reading and writing go through [`AsyncRead`](crate::io::AsyncRead) and [`AsyncWrite`](crate::io::AsyncWrite) (import them). Each operation
/// tries the syscall first and waits for readiness only after `WouldBlock`. Writes use
/// `MSG_NOSIGNAL`: writing to a closed peer is an `EPIPE` error, never a `SIGPIPE`.
///
/// To read in one task and write in another, use [`TcpStream::split`] or
/// [`TcpStream::into_split`].
///
/// ```
/// use evloop::io::{AsyncRead, AsyncWrite};
/// use evloop::net::{TcpListener, TcpStream};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let server = evloop::spawn(async move {
///         let (mut conn, _) = listener.accept().await?;
///         let mut buf = [0; 5];
///         conn.read_exact(&mut buf).await?;
///         conn.write_all(&buf).await // echo it back
///     });
///     let mut client = TcpStream::connect(addr).await?;
///     client.write_all(b"hello").await?;
///     let mut back = [0; 5];
///     client.read_exact(&mut back).await?;
///     assert_eq!(&back, b"hello");
///     server.await.unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    io: IoSource<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to the first address of `addr` that accepts, trying each in turn.
    ///
    /// A host name (`"localhost:8080"`, `("example.com", 80)`) is resolved on the blocking pool
    /// with [`lookup_host`](crate::net::lookup_host), so the loop keeps running meanwhile; a
    /// numeric address is used at once, with no hand-off.
    ///
    /// # Errors
    ///
    /// The lookup's error (see [`lookup_host`](crate::net::lookup_host)), else the last address's
    /// error: `ConnectionRefused` when nothing listens, never a hang for a refused connection.
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let port = listener.local_addr()?.port();
    ///     let stream = TcpStream::connect(("localhost", port)).await?;
    ///     assert!(stream.peer_addr()?.ip().is_loopback());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect<A: crate::net::ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in resolve(&addr).await? {
            match Self::connect_addr(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to")
        }))
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = Self::from_mio(mio::net::TcpStream::connect(addr)?)?;
        // A non-blocking connect completes when the socket becomes writable; its outcome is then
        // in SO_ERROR (refused, unreachable) or visible as a peer address.
        // Readiness starts out assumed; for a connect we need the real event.
        stream.io.clear_assumed(Direction::Write);
        poll_fn(|cx| stream.io.poll_ready(Direction::Write, cx)).await?;
        if let Some(e) = stream.io.get().take_error()? {
            return Err(e);
        }
        match stream.io.get().peer_addr() {
            Ok(_) => Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("connect to {addr} failed"),
            )),
            Err(e) => Err(e),
        }
    }

    /// Wraps a connected stream from the standard library (made non-blocking here).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered, or this thread has no loop.
    ///
    /// ```
    /// use evloop::io::AsyncRead;
    /// use evloop::net::TcpStream;
    /// use std::io::Write;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let mut peer = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let (accepted, _) = listener.accept()?; // a blocking std socket...
    ///     let mut stream = TcpStream::from_std(accepted)?; // ... now driven by the loop
    ///     peer.write_all(b"std")?;
    ///     let mut buf = [0; 3];
    ///     stream.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"std");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Self::from_mio(mio::net::TcpStream::from_std(stream))
    }

    pub(crate) fn from_mio(s: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: IoSource::new(s)?,
        })
    }

    /// Polls a read into `buf` (the same as [`AsyncRead::poll_read`](crate::io::AsyncRead::poll_read), through a shared reference).
    ///
    /// ```
    /// use evloop::io::AsyncWrite;
    /// use evloop::net::{TcpListener, TcpStream};
    /// use std::future::poll_fn;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (server, _) = listener.accept().await?;
    /// client.write_all(b"hey").await?;
    /// let mut buf = [0; 8];
    /// let n = poll_fn(|cx| server.poll_read(cx, &mut buf)).await?; // `&self`: no `mut` needed
    /// assert_eq!(&buf[..n], b"hey");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_read(cx, buf)
    }

    /// Polls a read into `buf`'s unfilled part, which may be uninitialised: nothing is zeroed
    /// first, and exactly the bytes `recv(2)` wrote are counted as filled (the same as
    /// [`AsyncRead::poll_read_buf`](crate::io::AsyncRead::poll_read_buf), through a shared
    /// reference). No growth of the filled part, with room left, means end of file.
    ///
    /// ```
    /// use evloop::io::{AsyncWrite, ReadBuf};
    /// use evloop::net::{TcpListener, TcpStream};
    /// use std::future::poll_fn;
    /// use std::mem::MaybeUninit;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (server, _) = listener.accept().await?;
    /// client.write_all(b"raw").await?;
    /// let mut storage = [MaybeUninit::uninit(); 64];
    /// let mut buf = ReadBuf::uninit(&mut storage);
    /// poll_fn(|cx| server.poll_read_buf(cx, &mut buf)).await?;
    /// assert_eq!(buf.filled(), b"raw");
    /// assert_eq!(buf.initialized().len(), 3, "nothing zeroed beyond what was read");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn poll_read_buf(
        &self,
        cx: &mut Context<'_>,
        buf: &mut crate::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.io.poll_read_buf(cx, buf).map_ok(drop)
    }

    /// Polls a write of `buf` (the same as [`AsyncWrite::poll_write`](crate::io::AsyncWrite::poll_write), through a shared reference).
    ///
    /// ```
    /// use evloop::io::AsyncRead;
    /// use evloop::net::{TcpListener, TcpStream};
    /// use std::future::poll_fn;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// let n = poll_fn(|cx| client.poll_write(cx, b"out")).await?;
    /// assert_eq!(n, 3);
    /// let mut buf = [0; 3];
    /// server.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"out");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, buf)
    }

    /// Waits until the socket may be read (data, end of file or an error).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for a closed registration.
    ///
    /// ```
    /// use evloop::io::AsyncWrite;
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (server, _) = listener.accept().await?;
    /// client.write_all(b"data").await?;
    /// let mut buf = [0; 16];
    /// // The readiness loop of a hand-written reader: wait, then try until `WouldBlock`.
    /// let n = loop {
    ///     server.readable().await?;
    ///     match server.try_read(&mut buf) {
    ///         Ok(n) => break n,
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         Err(e) => return Err(e),
    ///     }
    /// };
    /// assert_eq!(&buf[..n], b"data");
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
    /// As [`TcpStream::readable`].
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let _server = listener.accept().await?;
    /// client.writable().await?; // an empty send buffer: at once
    /// assert_eq!(client.try_write(b"now")?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
    }

    /// Reads without waiting; `WouldBlock` if nothing is there.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or what `recv(2)` reports.
    ///
    /// ```
    /// use evloop::io::AsyncWrite;
    /// use evloop::net::{TcpListener, TcpStream};
    /// use std::io::ErrorKind;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (server, _) = listener.accept().await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(server.try_read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    /// client.write_all(b"x").await?;
    /// server.readable().await?;
    /// assert_eq!(server.try_read(&mut buf)?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        self.io.try_op(Direction::Read, |mut s| s.read(buf))
    }

    /// Writes without waiting; `WouldBlock` if the send buffer is full.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or what `send(2)` reports.
    ///
    /// ```
    /// use evloop::io::AsyncRead;
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// assert_eq!(client.try_write(b"quick")?, 5, "room in the send buffer: no wait");
    /// let mut buf = [0; 5];
    /// server.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"quick");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_op(Direction::Write, |s| {
            crate::net::sys::send(s.as_raw_fd(), buf).map_err(io::Error::from_raw_os_error)
        })
    }

    /// Reads data without removing it from the receive queue.
    ///
    /// # Errors
    ///
    /// What `recv(2)` with `MSG_PEEK` reports.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// client.write_all(b"GET /").await?;
    /// let mut first = [0; 3];
    /// assert_eq!(server.peek(&mut first).await?, 3);
    /// assert_eq!(&first, b"GET");
    /// let mut all = [0; 5];
    /// server.read_exact(&mut all).await?; // the peeked bytes are still there
    /// assert_eq!(&all, b"GET /");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_op(Direction::Read, cx, |s| s.peek(buf))).await
    }

    /// Borrowed halves: read in one task and write in another, both on this loop.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     let (mut rd, mut wr) = server.split();
    ///     client.write_all(b"ping").await?;
    ///     // Read and write at once, in one task (`into_split` is for two tasks).
    ///     let mut buf = [0; 4];
    ///     rd.read_exact(&mut buf).await?;
    ///     wr.write_all(&buf).await?;
    ///     let mut back = [0; 4];
    ///     client.read_exact(&mut back).await?;
    ///     assert_eq!(&back, b"ping");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn split(
        &mut self,
    ) -> (
        ReadHalf<'_, mio::net::TcpStream>,
        WriteHalf<'_, mio::net::TcpStream>,
    ) {
        split::borrowed(&self.io)
    }

    /// Owned halves, for tasks that outlive the borrow. Dropping the write half shuts down the
    /// writing side.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     let (mut rd, mut wr) = client.into_split();
    ///     let writer = evloop::spawn(async move {
    ///         wr.write_all(b"from another task").await
    ///         // dropping `wr` shuts the writing side down: the server sees the end
    ///     });
    ///     let mut got = Vec::new();
    ///     server.read_to_end(&mut got).await?;
    ///     assert_eq!(got, b"from another task");
    ///     writer.await.unwrap()?;
    ///     server.write_all(b"bye").await?;
    ///     drop(server);
    ///     let mut bye = Vec::new();
    ///     rd.read_to_end(&mut bye).await?;
    ///     assert_eq!(bye, b"bye");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_split(
        self,
    ) -> (
        OwnedReadHalf<mio::net::TcpStream>,
        OwnedWriteHalf<mio::net::TcpStream>,
    ) {
        split::owned(self.io)
    }

    /// The remote address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)` (`NotConnected` after the peer went away).
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (server, _) = listener.accept().await?;
    /// assert_eq!(client.peer_addr()?, listener.local_addr()?);
    /// assert_eq!(server.peer_addr()?, client.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (server, _) = listener.accept().await?;
    /// assert_eq!(server.local_addr()?, listener.local_addr()?);
    /// assert_ne!(client.local_addr()?.port(), 0, "an ephemeral port was picked");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// client.set_nodelay(true)?; // small writes go out at once
    /// assert!(client.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(!client.nodelay()?, "Nagle's algorithm is on by default");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get().nodelay()
    }

    /// Shuts down the read, write or both halves at once (see also [`AsyncWrite::shutdown`](crate::io::AsyncWrite::shutdown)).
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`.
    ///
    /// ```
    /// use evloop::io::AsyncRead;
    /// use evloop::net::{TcpListener, TcpStream};
    /// use std::net::Shutdown;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// client.shutdown_std(Shutdown::Both)?;
    /// let mut rest = Vec::new();
    /// assert_eq!(server.read_to_end(&mut rest).await?, 0, "the server sees the end at once");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_std(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// Takes the pending socket error, if any (`SO_ERROR`).
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert!(stream.take_error()?.is_none()); // a healthy connection
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }
}

// Through a shared reference too, as std's `Read` for `&TcpStream`: one task may read while another
// writes. (Two tasks reading at once would share one read waker: only the later one would be woken.)
forward_async_io!(read: TcpStream, &TcpStream);
forward_async_io!(write: TcpStream, &TcpStream);

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get().fmt(f)
    }
}
