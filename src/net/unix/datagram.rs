//! `UnixDatagram`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::driver::reactor::Direction;
use crate::net::source::IoSource;

/// A Unix domain datagram socket.
///
/// ```
/// use evloop::net::UnixDatagram;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (a, b) = UnixDatagram::pair()?;
///     a.send(b"one datagram").await?;
///     let mut buf = [0; 32];
///     let n = b.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"one datagram");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    io: IoSource<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    fn from_mio(s: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: IoSource::new(s)?,
        })
    }

    /// Binds to `path`.
    ///
    /// # Errors
    ///
    /// As `bind(2)`, or if this thread has no event loop.
    ///
    /// ```
    /// use evloop::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-dgram-{}", std::process::id()));
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let server = UnixDatagram::bind(&path)?;
    ///     let client = UnixDatagram::unbound()?;
    ///     client.send_to(b"to a path", &path).await?;
    ///     let mut buf = [0; 16];
    ///     let (n, _) = server.recv_from(&mut buf).await?;
    ///     assert_eq!(&buf[..n], b"to a path");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        Self::from_mio(mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address (it can send, and receive replies only if connected).
    ///
    /// # Errors
    ///
    /// As `socket(2)`.
    ///
    /// ```
    /// use evloop::net::UnixDatagram;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let socket = UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        Self::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    ///
    /// # Errors
    ///
    /// As `socketpair(2)`.
    ///
    /// ```
    /// use evloop::net::UnixDatagram;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (a, b) = UnixDatagram::pair()?;
    ///     a.send(b"one").await?;
    ///     a.send(b"two").await?;
    ///     let mut buf = [0; 8];
    ///     let n = b.recv(&mut buf).await?; // message boundaries are kept
    ///     assert_eq!(&buf[..n], b"one");
    ///     let n = b.recv(&mut buf).await?;
    ///     assert_eq!(&buf[..n], b"two");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((Self::from_mio(a)?, Self::from_mio(b)?))
    }

    /// Sets the default peer.
    ///
    /// # Errors
    ///
    /// As `connect(2)`.
    ///
    /// ```
    /// use evloop::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-dgram-connect-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// client.send(b"no address needed").await?;
    /// let mut buf = [0; 32];
    /// let n = server.recv(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"no address needed");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.io.get().connect(path)
    }

    /// Sends to the socket at `path`.
    ///
    /// # Errors
    ///
    /// As `sendto(2)`.
    ///
    /// ```
    /// use evloop::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-dgram-send-to-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let server = UnixDatagram::bind(&path)?;
    /// assert_eq!(UnixDatagram::unbound()?.send_to(b"ping", &path).await?, 4);
    /// let mut buf = [0; 8];
    /// assert_eq!(server.recv(&mut buf).await?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        poll_fn(|cx| {
            self.io
                .poll_op(Direction::Write, cx, |s| s.send_to(buf, path))
        })
        .await
    }

    /// Receives a datagram and its sender's address.
    ///
    /// # Errors
    ///
    /// As `recvfrom(2)`.
    ///
    /// ```
    /// use evloop::net::UnixDatagram;
    ///
    /// let dir = std::env::temp_dir();
    /// let (a_path, b_path) = (
    ///     dir.join(format!("evloop-doc-dgram-a-{}", std::process::id())),
    ///     dir.join(format!("evloop-doc-dgram-b-{}", std::process::id())),
    /// );
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (a, b) = (UnixDatagram::bind(&a_path)?, UnixDatagram::bind(&b_path)?);
    /// a.send_to(b"who?", &b_path).await?;
    /// let mut buf = [0; 8];
    /// let (n, from) = b.recv_from(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"who?");
    /// assert_eq!(from.as_pathname(), Some(a_path.as_path()), "a bound sender has a name");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&a_path)?;
    /// std::fs::remove_file(&b_path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.io.poll_op(Direction::Read, cx, |s| s.recv_from(buf))).await
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    ///
    /// As `send(2)`.
    ///
    /// ```
    /// use evloop::net::UnixDatagram;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (a, b) = UnixDatagram::pair()?; // connected to each other
    /// assert_eq!(a.send(b"one").await?, 3);
    /// assert_eq!(a.send(b"two").await?, 3);
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf).await?, 3, "datagrams keep their boundaries");
    /// assert_eq!(&buf[..3], b"one");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_op(Direction::Write, cx, |s| s.send(buf))).await
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    ///
    /// As `recv(2)`.
    ///
    /// ```
    /// use evloop::net::UnixDatagram;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (a, b) = UnixDatagram::pair()?;
    /// b.send(b"back").await?;
    /// let mut buf = [0; 8];
    /// let n = a.recv(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"back");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_op(Direction::Read, cx, |s| s.recv(buf))).await
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    ///
    /// ```
    /// use evloop::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-dgram-local-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let socket = UnixDatagram::bind(&path)?;
    /// assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get().fmt(f)
    }
}
