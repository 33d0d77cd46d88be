//! Readiness: what the loop reports to a watcher ([`Handle::watch`](crate::Handle::watch)), and
//! [`RawFdSource`] for descriptors `mio` has no type for.
//!
//! The reactor itself, the poller and its registrations, is loop machinery: a watcher's event
//! becomes an entry in the loop's message queue, and its callback runs from there with no loop
//! state borrowed (see [`event_loop`](crate::event_loop)).
//!
//! ```
//! use evloop::{EventLoop, Interest};
//! use mio::net::UdpSocket;
//!
//! let lp = EventLoop::new()?;
//! let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
//! let addr = socket.local_addr()?;
//! lp.watch(socket, Interest::READABLE, |h, sock, ev| {
//!     assert!(ev.ready().is_readable());
//!     let mut buf = [0; 16];
//!     let n = sock.recv(&mut buf).unwrap(); // edge-triggered: read until WouldBlock in real code
//!     assert_eq!(&buf[..n], b"ready");
//!     h.unwatch(ev.watcher()); // nothing left: `run` returns
//! })?;
//! std::net::UdpSocket::bind("127.0.0.1:0")?.send_to(b"ready", addr)?;
//! lp.run()?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod raw_fd;

pub use crate::driver::reactor::{IoEvent, Ready, WatcherId};
pub(crate) use raw_fd::FdSource;
pub use raw_fd::RawFdSource;
