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
