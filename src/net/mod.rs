//! Async sockets: TCP, UDP and Unix domain, registered with the current loop.
//!
//! Each type wraps a `mio` socket. Operations try the syscall first and wait for readiness only
//! after `WouldBlock`; readiness is tracked per socket (edge-triggered), so a drained socket is not
//! tried again until the reactor reports new readiness. Every operation spends one unit of the
//! task's cooperative budget, so a socket that is always ready cannot monopolise the loop.
//!
//! Sockets must be created on a thread with an [`EventLoop`](crate::EventLoop) and used by tasks of
//! that loop.
//!
//! [`TcpListener::bind_reuseport`] and [`UdpSocket::bind_reuseport`] let several sockets (one per
//! loop of a [`LoopSet`](crate::LoopSet)) share a port, the kernel spreading the load over them;
//! [`TcpSocket`] sets those options and the listen backlog one by one, as tokio's does.
//!
//! Host names are resolved on the blocking pool, never on the loop thread: see [`lookup_host`] and
//! [`ToSocketAddrs`].
//!
//! ```
//! use evloop::io::{AsyncRead, AsyncWrite};
//! use evloop::net::{TcpListener, TcpStream, UdpSocket};
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (mut server, _) = listener.accept().await?;
//!     client.write_all(b"tcp").await?;
//!     let mut buf = [0; 3];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"tcp");
//!
//!     let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
//!     a.send_to(b"udp", b.local_addr()?).await?;
//!     let (n, from) = b.recv_from(&mut buf).await?;
//!     assert_eq!((&buf[..n], from), (&b"udp"[..], a.local_addr()?));
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod accept;
mod addr;
mod socket;
pub(crate) mod source;
mod split;
mod stream;
pub(crate) mod sys;
mod tcp;
mod udp;
mod unix;

pub use addr::{lookup_host, ToSocketAddrs};
pub use socket::TcpSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
