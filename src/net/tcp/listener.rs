//! `TcpListener`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};

use super::TcpStream;
use crate::net::accept::AcceptState;
use crate::net::addr::{resolve_now, ToSocketAddrs};
use crate::net::source::IoSource;
use crate::net::sys;

/// A TCP socket listening for connections.
///
/// ```
/// use evloop::io::{AsyncRead, AsyncWrite};
/// use evloop::net::{TcpListener, TcpStream};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let client = evloop::spawn(async move {
///         let mut s = TcpStream::connect(addr).await?;
///         s.write_all(b"hi").await?;
///         Ok::<_, std::io::Error>(())
///     });
///     let (mut conn, _peer) = listener.accept().await?;
///     let mut buf = [0; 2];
///     conn.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     client.await.unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Out of descriptors
///
/// [`accept`](TcpListener::accept) never returns `EMFILE`, `ENFILE`, `ENOBUFS` or `ENOMEM`, and
/// never spins on them: while the process (or the system) is out of descriptors or memory, the
/// accept future stays pending, the connections already open go on being served, and accepting
/// resumes once a descriptor is free. Out of descriptors, the connections waiting in the backlog
/// are shed: accepted and closed at once, so their peers see the connection closed instead of
/// hanging (the first listener keeps one reserve descriptor per process, an anonymous `memfd`, to make
/// room for that, as libuv does). Then the listener retries after 100 ms on a loop timer, so the
/// process stays idle while exhausted; out of memory or buffers (`ENOMEM`, `ENOBUFS`) it only
/// waits. A connection that failed before it was taken (`ECONNABORTED`, `ECONNRESET`, `EPROTO`) is
/// skipped. The same holds for [`incoming`](TcpListener::incoming) and for
/// [`UnixListener`](crate::net::UnixListener).
pub struct TcpListener {
    io: IoSource<mio::net::TcpListener>,
    accept: AcceptState,
}

impl TcpListener {
    /// Binds to the first address of `addr` that works (`SO_REUSEADDR` is set, as mio does), and
    /// listens with a backlog of 1024 (as tokio does; the kernel caps it at `net.core.somaxconn`),
    /// so that a burst of connects is queued rather than dropped.
    ///
    /// `bind` is synchronous (tokio's is async), so it never waits for the resolver: it takes
    /// numeric addresses and `localhost` (`127.0.0.1`, else `::1`). For any other host name,
    /// resolve it first with [`lookup_host`](crate::net::lookup_host) and bind to the result.
    ///
    /// # Errors
    ///
    /// If no address can be bound (the last error is returned), this thread has no event loop, or
    /// `InvalidInput` for a host name other than `localhost`.
    ///
    /// ```
    /// use evloop::net::{lookup_host, TcpListener};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let local = TcpListener::bind("localhost:0")?;
    ///     assert!(local.local_addr()?.ip().is_loopback());
    ///     // Another name: look it up on the blocking pool first.
    ///     let addrs: Vec<_> = lookup_host("localhost:0").await?.collect();
    ///     let listener = TcpListener::bind(&addrs[..])?;
    ///     assert!(listener.local_addr()?.ip().is_loopback());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let mut last = None;
        for addr in resolve_now(&addr, "TcpListener::bind")? {
            let bound = mio::net::TcpListener::bind(addr)
                .and_then(|l| sys::set_backlog(l.as_raw_fd(), sys::LISTEN_BACKLOG).map(|()| l));
            match bound {
                Ok(l) => return Self::from_mio(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to")
        }))
    }

    /// Wraps a listener from the standard library (made non-blocking here).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Self::from_mio(mio::net::TcpListener::from_std(listener))
    }

    fn from_mio(l: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: IoSource::new(l)?,
            accept: AcceptState::new(),
        })
    }

    /// Accepts a connection. Out of descriptors or memory, it waits (and sheds the connections it
    /// cannot take) instead of failing: see [Out of descriptors](TcpListener#out-of-descriptors).
    ///
    /// # Errors
    ///
    /// What `accept(2)` reports, except the errors above and a connection that failed before it was
    /// taken (both handled here); so an error is not a transient one: the listener itself is
    /// broken. Or registering the new socket with the poller failed (the socket is then closed;
    /// for want of memory, `ENOMEM` or `ENOSPC`, the listener backs off instead).
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_conn, peer) = listener.accept().await?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection, as [`accept`](TcpListener::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.accept.poll_accept(
            &self.io,
            cx,
            |l| l.accept(),
            |(s, addr)| Ok((TcpStream::from_mio(s)?, addr)),
        )
    }

    /// The incoming connections, one `accept` at a time (so out of descriptors it waits, as
    /// `accept` does); a `futures_core::Stream` with the `stream` feature.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets the IP time-to-live of accepted sockets.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }
}

/// The connections a [`TcpListener`] accepts; see [`TcpListener::incoming`].
///
/// ```
/// use evloop::net::{TcpListener, TcpStream};
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     evloop::spawn(async move {
///         for _ in 0..3 {
///             TcpStream::connect(addr).await.unwrap();
///         }
///     });
///     let mut incoming = listener.incoming();
///     for _ in 0..3 {
///         let conn = incoming.next().await?;
///         assert!(conn.peer_addr()?.ip().is_loopback());
///     }
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Incoming<'_> {
    /// Polls for the next connection.
    pub fn poll_next_conn(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>> {
        self.listener.poll_accept(cx).map(|r| r.map(|(s, _)| s))
    }

    /// Waits for the next connection.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::accept`].
    pub async fn next(&mut self) -> io::Result<TcpStream> {
        poll_fn(|cx| self.poll_next_conn(cx)).await
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get().fmt(f)
    }
}
