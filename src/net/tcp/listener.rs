//! `TcpListener`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};

use super::TcpStream;
use crate::net::accept::AcceptState;
use crate::net::addr::{bind_first, ToSocketAddrs};
use crate::net::socket;
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
        Self::bind_each(&addr, "TcpListener::bind", |addr| {
            mio::net::TcpListener::bind(addr)
                .and_then(|l| sys::set_backlog(l.as_raw_fd(), sys::LISTEN_BACKLOG).map(|()| l))
        })
    }

    /// Binds like [`bind`](TcpListener::bind), with `SO_REUSEPORT` set as well: several listeners
    /// (of one user) may then bind the same address and port, and the kernel spreads incoming
    /// connections over them by a hash of the peer's address and port. This is how each loop of
    /// a [`LoopSet`](crate::LoopSet) gets its own listener on a shared port. Every socket bound to
    /// the port must set the option: a plain [`bind`](TcpListener::bind) to it fails with
    /// `AddrInUse`, and so does this while a plain listener holds it.
    ///
    /// Port 0 picks a free port; bind the other listeners to the port it picked
    /// ([`local_addr`](TcpListener::local_addr)).
    ///
    /// # Errors
    ///
    /// As [`bind`](TcpListener::bind).
    ///
    /// ```
    /// use evloop::net::TcpListener;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let first = TcpListener::bind_reuseport("127.0.0.1:0")?;
    ///     let addr = first.local_addr()?;
    ///     let second = TcpListener::bind_reuseport(addr)?; // the same port
    ///     assert_eq!(second.local_addr()?, addr);
    ///     assert!(TcpListener::bind(addr).is_err(), "a plain bind may not join them");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_reuseport<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        Self::bind_each(&addr, "TcpListener::bind_reuseport", |addr| {
            let fd = socket::bind(addr, libc::SOCK_STREAM)?;
            sys::set_backlog(fd.as_raw_fd(), sys::LISTEN_BACKLOG)?;
            Ok(mio::net::TcpListener::from_std(fd.into()))
        })
    }

    /// Tries `bind` on each address in turn; the first that works, else the last error.
    fn bind_each<A: ToSocketAddrs>(
        addr: &A,
        what: &'static str,
        bind: impl FnMut(SocketAddr) -> io::Result<mio::net::TcpListener>,
    ) -> io::Result<TcpListener> {
        Self::from_mio(bind_first(addr, what, bind)?)
    }

    /// Wraps a listener from the standard library (made non-blocking here).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?; // e.g. inherited
    ///     let listener = TcpListener::from_std(std_listener)?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_conn, peer) = listener.accept().await?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    /// use std::future::poll_fn;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (_conn, peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// assert_eq!(peer, client.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let mut incoming = listener.incoming();
    /// let conn = incoming.next().await?;
    /// assert_eq!(conn.peer_addr()?, client.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    ///
    /// ```
    /// use evloop::net::TcpListener;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// assert!(addr.ip().is_loopback());
    /// assert_ne!(addr.port(), 0, "port 0 asked for a free port: this is the one picked");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets the IP time-to-live of accepted sockets.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    /// use std::os::fd::AsRawFd;
    ///
    /// # fn ip_ttl(fd: std::os::fd::RawFd) -> std::io::Result<i32> {
    /// #     let (mut v, mut len) = (0i32, std::mem::size_of::<i32>() as libc::socklen_t);
    /// #     // SAFETY: `v` and `len` are valid for writes of the sizes passed.
    /// #     let r = unsafe { libc::getsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, (&mut v as *mut i32).cast(), &mut len) };
    /// #     if r == 0 { Ok(v) } else { Err(std::io::Error::last_os_error()) }
    /// # }
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_ttl(42)?;
    /// let _client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (conn, _) = listener.accept().await?;
    /// assert_eq!(ip_ttl(conn.as_raw_fd())?, 42, "inherited by the accepted socket");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    /// use std::future::poll_fn;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let mut incoming = listener.incoming();
    /// let conn = poll_fn(|cx| incoming.poll_next_conn(cx)).await?;
    /// assert_eq!(conn.peer_addr()?, client.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_next_conn(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>> {
        self.listener.poll_accept(cx).map(|r| r.map(|(s, _)| s))
    }

    /// Waits for the next connection.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::accept`].
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let clients = evloop::spawn(async move {
    ///     (TcpStream::connect(addr).await.unwrap(), TcpStream::connect(addr).await.unwrap())
    /// });
    /// let mut incoming = listener.incoming();
    /// let (a, b) = (incoming.next().await?, incoming.next().await?);
    /// let (ca, cb) = clients.await.unwrap();
    /// let mut peers = [a.peer_addr()?, b.peer_addr()?];
    /// let mut locals = [ca.local_addr()?, cb.local_addr()?];
    /// peers.sort();
    /// locals.sort();
    /// assert_eq!(peers, locals);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
