//! Sockets configured before `bind(2)`: `SO_REUSEPORT` (so that sockets share a port) and the
//! listen backlog, which neither std nor mio can set (mio 1 has no socket builder), in the few
//! lines of libc a user would otherwise write. Used by the `bind_reuseport`s and [`TcpSocket`].
//!
//! With `SO_REUSEPORT`, several sockets of one user may bind the same address and port; the kernel
//! spreads incoming connections (TCP) or datagrams (UDP) over them by a hash of the peer's address
//! and port. Each loop of a [`LoopSet`](crate::LoopSet) binds its own listener this way, so the
//! loops share nothing but the port.

use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A new non-blocking, close-on-exec socket of `kind` (`SOCK_STREAM`, `SOCK_DGRAM`) with
/// `SO_REUSEADDR` and `SO_REUSEPORT` set, bound to `addr`.
pub(crate) fn bind(addr: SocketAddr, kind: libc::c_int) -> io::Result<OwnedFd> {
    let fd = socket(addr.is_ipv4(), kind)?;
    set_flag(fd.as_raw_fd(), libc::SO_REUSEADDR, true)?;
    set_flag(fd.as_raw_fd(), libc::SO_REUSEPORT, true)?;
    bind_fd(fd.as_raw_fd(), addr)?;
    Ok(fd)
}

/// A new non-blocking, close-on-exec IPv4 or IPv6 socket of `kind`.
pub(crate) fn socket(v4: bool, kind: libc::c_int) -> io::Result<OwnedFd> {
    let family = if v4 { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: `socket` takes no pointers; it returns a new descriptor or -1.
    let fd = unsafe { libc::socket(family, kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by `socket` and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `bind(2)` of `fd` to `addr`.
pub(crate) fn bind_fd(fd: RawFd, addr: SocketAddr) -> io::Result<()> {
    let rc = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sin` is a valid `sockaddr_in` and the length passed is its size; `bind`
            // only reads it during the call.
            unsafe {
                libc::bind(
                    fd,
                    (&sin as *const libc::sockaddr_in).cast(),
                    size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for a `sockaddr_in6`.
            unsafe {
                libc::bind(
                    fd,
                    (&sin6 as *const libc::sockaddr_in6).cast(),
                    size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets a boolean `SOL_SOCKET` option.
pub(crate) fn set_flag(fd: RawFd, option: libc::c_int, on: bool) -> io::Result<()> {
    let on = libc::c_int::from(on);
    // SAFETY: `on` is a valid `c_int` for the whole call and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A TCP socket not yet listening, to set options before `bind` and the backlog of `listen`: the
/// shape of [`tokio::net::TcpSocket`](https://docs.rs/tokio/latest/tokio/net/struct.TcpSocket.html).
///
/// [`TcpListener::bind`](crate::net::TcpListener::bind) and
/// [`bind_reuseport`](crate::net::TcpListener::bind_reuseport) cover the common cases; this is for
/// a backlog other than their 1024, or `SO_REUSEADDR` turned off.
///
/// ```
/// use evloop::net::TcpSocket;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseport(true)?;
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = socket.listen(4096)?; // the kernel caps it at net.core.somaxconn
///     assert!(listener.local_addr()?.ip().is_loopback());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    fd: OwnedFd,
}

impl TcpSocket {
    /// A new IPv4 TCP socket (non-blocking, close-on-exec), with `SO_REUSEADDR` set as
    /// [`TcpListener::bind`](crate::net::TcpListener::bind) sets it.
    ///
    /// # Errors
    ///
    /// As `socket(2)` or `setsockopt(2)`.
    ///
    /// ```
    /// use evloop::net::TcpSocket;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let socket = TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// assert!(socket.listen(128)?.local_addr()?.is_ipv4());
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_v4() -> io::Result<TcpSocket> {
        Self::new(true)
    }

    /// A new IPv6 TCP socket, as [`new_v4`](TcpSocket::new_v4).
    ///
    /// # Errors
    ///
    /// As `socket(2)` or `setsockopt(2)`.
    ///
    /// ```
    /// use evloop::net::TcpSocket;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let socket = TcpSocket::new_v6()?;
    /// if socket.bind("[::1]:0".parse().unwrap()).is_ok() {
    ///     // (A machine without IPv6 on loopback fails the bind.)
    ///     assert!(socket.listen(128)?.local_addr()?.is_ipv6());
    /// }
    /// assert!(TcpSocket::new_v6()?.bind("127.0.0.1:0".parse().unwrap()).is_err(), "not its family");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        Self::new(false)
    }

    fn new(v4: bool) -> io::Result<TcpSocket> {
        let fd = socket(v4, libc::SOCK_STREAM)?;
        set_flag(fd.as_raw_fd(), libc::SO_REUSEADDR, true)?;
        Ok(TcpSocket { fd })
    }

    /// Sets `SO_REUSEADDR` (on by default here).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpSocket, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let client = TcpStream::connect(addr).await?;
    /// let (conn, _) = listener.accept().await?;
    /// drop((listener, conn)); // the server closes first: its side lingers in TIME_WAIT
    /// drop(client);
    /// let socket = TcpSocket::new_v4()?;
    /// socket.set_reuseaddr(true)?; // the default here: rebinding the port works at once
    /// socket.bind(addr)?;
    /// assert_eq!(socket.listen(16)?.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        set_flag(self.fd.as_raw_fd(), libc::SO_REUSEADDR, on)
    }

    /// Sets `SO_REUSEPORT`: see [`TcpListener::bind_reuseport`](crate::net::TcpListener::bind_reuseport).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    ///
    /// ```
    /// use evloop::net::TcpSocket;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let first = TcpSocket::new_v4()?;
    /// first.set_reuseport(true)?;
    /// first.bind("127.0.0.1:0".parse().unwrap())?;
    /// let first = first.listen(16)?;
    /// let addr = first.local_addr()?;
    /// let second = TcpSocket::new_v4()?;
    /// second.set_reuseport(true)?;
    /// second.bind(addr)?; // the same port: both listen, the kernel spreads connections
    /// assert_eq!(second.listen(16)?.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reuseport(&self, on: bool) -> io::Result<()> {
        set_flag(self.fd.as_raw_fd(), libc::SO_REUSEPORT, on)
    }

    /// Binds the socket to `addr` (numeric: this socket's family).
    ///
    /// # Errors
    ///
    /// As `bind(2)`: `AddrInUse`, `EAFNOSUPPORT` for an address of the other family, ...
    ///
    /// ```
    /// use evloop::net::{TcpListener, TcpSocket};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let taken = TcpListener::bind("127.0.0.1:0")?;
    /// let socket = TcpSocket::new_v4()?;
    /// let err = socket.bind(taken.local_addr()?).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        bind_fd(self.fd.as_raw_fd(), addr)
    }

    /// Listens with `backlog` (the kernel caps it at `net.core.somaxconn`) and registers the
    /// listener with the current loop.
    ///
    /// # Errors
    ///
    /// As `listen(2)`; or this thread has no event loop.
    ///
    /// ```
    /// use evloop::net::{TcpSocket, TcpStream};
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let socket = TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// let listener = socket.listen(1)?; // a registered `TcpListener`
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (_conn, peer) = listener.accept().await?;
    /// assert_eq!(peer, client.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn listen(self, backlog: u32) -> io::Result<crate::net::TcpListener> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        crate::net::sys::set_backlog(self.fd.as_raw_fd(), backlog)?;
        crate::net::TcpListener::from_std(self.fd.into())
    }
}
