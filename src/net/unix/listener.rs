//! `UnixListener`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use super::UnixStream;
use crate::net::accept::AcceptState;
use crate::net::source::IoSource;

/// A Unix domain socket listening for stream connections.
///
/// Out of descriptors or memory, [`accept`](UnixListener::accept) waits instead of failing or
/// spinning, and sheds the connections it cannot take, as
/// [`TcpListener`](crate::net::TcpListener#out-of-descriptors) does.
///
/// ```
/// use evloop::io::AsyncWrite;
/// use evloop::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("evloop-doc-unix-listener-{}", std::process::id()));
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let server = evloop::spawn(async move {
///         for _ in 0..2 {
///             let (mut conn, _) = listener.accept().await?;
///             conn.write_all(b"hi").await?;
///         }
///         Ok::<(), std::io::Error>(())
///     });
///     for _ in 0..2 {
///         let stream = UnixStream::connect(&path).await?;
///         let mut buf = [0; 2];
///         evloop::io::AsyncRead::read_exact(&mut &stream, &mut buf).await?;
///         assert_eq!(&buf, b"hi");
///     }
///     server.await.unwrap()
/// })?;
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    io: IoSource<mio::net::UnixListener>,
    accept: AcceptState,
}

impl UnixListener {
    /// Binds to `path` (which must not exist yet). It listens with the largest backlog the system
    /// allows (`net.core.somaxconn` on Linux), as mio sets it up.
    ///
    /// # Errors
    ///
    /// As `bind(2)` (`AddrInUse` if the path exists), or if this thread has no event loop.
    ///
    /// ```
    /// use evloop::net::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-listener-bind-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = UnixListener::bind(&path)?;
    /// let err = UnixListener::bind(&path).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "the path exists");
    /// drop(listener); // the socket file stays: remove it to bind again
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: IoSource::new(mio::net::UnixListener::bind(path)?)?,
            accept: AcceptState::new(),
        })
    }

    /// Wraps a listener from the standard library (made non-blocking here).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    ///
    /// ```
    /// use evloop::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-listener-std-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path)?)?;
    /// let _client = UnixStream::connect(&path).await?;
    /// let (conn, _) = listener.accept().await?;
    /// assert_eq!(conn.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: IoSource::new(mio::net::UnixListener::from_std(listener))?,
            accept: AcceptState::new(),
        })
    }

    /// Accepts a connection. Out of descriptors or memory, it waits (and sheds the connections it
    /// cannot take) instead of failing: see
    /// [`TcpListener`](crate::net::TcpListener#out-of-descriptors).
    ///
    /// # Errors
    ///
    /// What `accept(2)` reports, except the errors above and a connection that failed before it was
    /// taken (both handled here), or registering the new socket with the poller failed for another
    /// reason than memory (as [`TcpListener::accept`](crate::net::TcpListener::accept)).
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-listener-accept-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = UnixListener::bind(&path)?;
    /// let mut client = UnixStream::connect(&path).await?;
    /// let (mut conn, peer) = listener.accept().await?;
    /// assert!(peer.is_unnamed(), "the client did not bind a path");
    /// client.write_all(b"hi").await?;
    /// let mut buf = [0; 2];
    /// conn.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection, as [`accept`](UnixListener::accept).
    ///
    /// ```
    /// use evloop::net::{UnixListener, UnixStream};
    /// use std::future::poll_fn;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-listener-poll-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path).await?;
    /// let (conn, _) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// assert_eq!(conn.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.accept.poll_accept(
            &self.io,
            cx,
            |l| l.accept(),
            |(s, addr)| Ok((UnixStream::from_mio(s)?, addr)),
        )
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    ///
    /// ```
    /// use evloop::net::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-listener-local-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get().fmt(f)
    }
}
