//! `UdpSocket`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use super::addr::{bind_first, resolve, resolve_now, ToSocketAddrs};
use super::socket;
use super::source::IoSource;
use crate::driver::reactor::Direction;

/// A UDP socket.
///
/// ```
/// use evloop::net::UdpSocket;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0")?;
///     let b = UdpSocket::bind("127.0.0.1:0")?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    io: IoSource<mio::net::UdpSocket>,
}

fn first(mut addrs: impl Iterator<Item = SocketAddr>) -> io::Result<SocketAddr> {
    addrs
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address given"))
}

impl UdpSocket {
    /// Binds to the first address of `addr` that works.
    ///
    /// Synchronous, so it never waits for the resolver: it takes numeric addresses and
    /// `localhost` (`127.0.0.1`, else `::1`); resolve other names first with
    /// [`lookup_host`](crate::net::lookup_host).
    ///
    /// # Errors
    ///
    /// If no address can be bound, this thread has no event loop, or `InvalidInput` for a host
    /// name other than `localhost`.
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0")?; // port 0: the OS picks one
    ///     assert_ne!(socket.local_addr()?.port(), 0);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        Self::bind_each(&addr, "UdpSocket::bind", mio::net::UdpSocket::bind)
    }

    /// Binds like [`bind`](UdpSocket::bind), with `SO_REUSEPORT` set as well: several sockets (of
    /// one user) may then bind the same address and port, and the kernel spreads incoming
    /// datagrams over them by a hash of the sender's address and port (all datagrams of one
    /// sender reach the same socket). Every socket bound to the port must set the option.
    ///
    /// # Errors
    ///
    /// As [`bind`](UdpSocket::bind).
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let first = UdpSocket::bind_reuseport("127.0.0.1:0")?;
    ///     let second = UdpSocket::bind_reuseport(first.local_addr()?)?;
    ///     assert_eq!(second.local_addr()?, first.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_reuseport<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        Self::bind_each(&addr, "UdpSocket::bind_reuseport", |addr| {
            let fd = socket::bind(addr, libc::SOCK_DGRAM)?;
            Ok(mio::net::UdpSocket::from_std(fd.into()))
        })
    }

    /// Tries `bind` on each address in turn; the first that works, else the last error.
    fn bind_each<A: ToSocketAddrs>(
        addr: &A,
        what: &'static str,
        bind: impl FnMut(SocketAddr) -> io::Result<mio::net::UdpSocket>,
    ) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: IoSource::new(bind_first(addr, what, bind)?)?,
        })
    }

    /// Wraps a socket from the standard library (made non-blocking here).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let socket = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0")?)?;
    /// peer.send_to(b"hi", socket.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// let (n, from) = socket.recv_from(&mut buf).await?;
    /// assert_eq!((&buf[..n], from), (&b"hi"[..], peer.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: IoSource::new(mio::net::UdpSocket::from_std(socket))?,
        })
    }

    /// Sets the default peer for `send` and `recv`, and filters incoming datagrams to it.
    ///
    /// Synchronous, like [`UdpSocket::bind`]: numeric addresses and `localhost` (its first
    /// address, `127.0.0.1`) only.
    ///
    /// # Errors
    ///
    /// As `connect(2)`; `InvalidInput` for a host name other than `localhost`.
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    ///     a.connect(b.local_addr()?)?; // then `send` and `recv` need no address
    ///     b.connect(a.local_addr()?)?;
    ///     a.send(b"ping").await?;
    ///     let mut buf = [0; 4];
    ///     assert_eq!(b.recv(&mut buf).await?, 4);
    ///     assert_eq!(&buf, b"ping");
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        self.io
            .get()
            .connect(first(resolve_now(&addr, "UdpSocket::connect")?)?)
    }

    /// Sends a datagram to `target`; returns the bytes sent.
    ///
    /// A host name is resolved on the blocking pool before each send (see
    /// [`lookup_host`](crate::net::lookup_host)) and its first address used; resolve once and
    /// pass a `SocketAddr` to send many datagrams.
    ///
    /// # Errors
    ///
    /// As `sendto(2)`; the lookup's error for a name, `InvalidInput` when it gives no address.
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    ///     a.send_to(b"one datagram", b.local_addr()?).await?;
    ///     let mut buf = [0; 64];
    ///     let (n, from) = b.recv_from(&mut buf).await?;
    ///     assert_eq!((&buf[..n], from), (&b"one datagram"[..], a.local_addr()?));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let target = first(resolve(&target).await?)?;
        poll_fn(|cx| {
            self.io
                .poll_op(Direction::Write, cx, |s| s.send_to(buf, target))
        })
        .await
    }

    /// Receives a datagram; returns its length and sender. A datagram longer than `buf` is
    /// truncated.
    ///
    /// # Errors
    ///
    /// As `recvfrom(2)`.
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    /// a.send_to(b"a longer datagram", b.local_addr()?).await?;
    /// let mut small = [0; 8];
    /// let (n, from) = b.recv_from(&mut small).await?;
    /// assert_eq!(&small[..n], b"a longer", "truncated to the buffer");
    /// assert_eq!(from, a.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.io.poll_op(Direction::Read, cx, |s| s.recv_from(buf))).await
    }

    /// Sends a datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// As `send(2)`: `EDESTADDRREQ` without [`UdpSocket::connect`].
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    /// let unconnected = a.send(b"x").await.unwrap_err();
    /// assert_eq!(unconnected.raw_os_error(), Some(libc::EDESTADDRREQ));
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.send(b"connected").await?, 9);
    /// let mut buf = [0; 16];
    /// assert_eq!(b.recv_from(&mut buf).await?.0, 9);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_op(Direction::Write, cx, |s| s.send(buf))).await
    }

    /// Receives a datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// As `recv(2)`; a previous send to a closed port may surface here as `ConnectionRefused`.
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    /// b.connect(a.local_addr()?)?;
    /// a.send_to(b"reply", b.local_addr()?).await?;
    /// let mut buf = [0; 16];
    /// let n = b.recv(&mut buf).await?; // only from the connected peer
    /// assert_eq!(&buf[..n], b"reply");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_op(Direction::Read, cx, |s| s.recv(buf))).await
    }

    /// Receives a datagram without removing it from the queue.
    ///
    /// # Errors
    ///
    /// As `recvfrom(2)` with `MSG_PEEK`.
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    ///     a.send_to(b"look twice", b.local_addr()?).await?;
    ///     let mut buf = [0; 64];
    ///     let (n, _) = b.peek_from(&mut buf).await?; // still queued
    ///     let (m, _) = b.recv_from(&mut buf).await?;
    ///     assert_eq!((n, m), (10, 10));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.io.poll_op(Direction::Read, cx, |s| s.peek_from(buf))).await
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let socket = UdpSocket::bind("127.0.0.1:0")?;
    /// let addr = socket.local_addr()?;
    /// assert!(addr.ip().is_loopback() && addr.port() != 0);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if not connected.
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    /// assert_eq!(a.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Allows sending to broadcast addresses.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    ///
    /// ```
    /// use evloop::net::UdpSocket;
    /// use std::os::fd::AsRawFd;
    ///
    /// # fn so_broadcast(fd: std::os::fd::RawFd) -> std::io::Result<bool> {
    /// #     let (mut v, mut len) = (0i32, std::mem::size_of::<i32>() as libc::socklen_t);
    /// #     // SAFETY: `v` and `len` are valid for writes of the sizes passed.
    /// #     let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_BROADCAST, (&mut v as *mut i32).cast(), &mut len) };
    /// #     if r == 0 { Ok(v != 0) } else { Err(std::io::Error::last_os_error()) }
    /// # }
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let socket = UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(!so_broadcast(socket.as_raw_fd())?, "off by default");
    /// socket.set_broadcast(true)?;
    /// assert!(so_broadcast(socket.as_raw_fd())?);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get().set_broadcast(on)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get().fmt(f)
    }
}
