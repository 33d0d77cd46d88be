//! Bridges to the `futures` ecosystem, each behind a cargo feature so the core keeps its three
//! run-time dependencies.
//!
//! - `futures-io`: `futures_io::AsyncRead` and `futures_io::AsyncWrite` for [`TcpStream`] and
//!   [`UnixStream`] (owned, and through a shared reference, as std's `Read` for `&TcpStream`),
//!   their halves (borrowed and owned), [`fs::File`](crate::fs::File) and the child process pipes.
//! - `stream`: `futures_core::Stream` for [`Interval`], [`Incoming`] connections, the
//!   [`mpsc`](crate::sync::mpsc) and [`mpmc`](crate::sync::mpmc) receivers and the
//!   [`RemoteReceiver`](crate::sync::RemoteReceiver); and, in the shapes of tokio-stream's
//!   wrappers, `BroadcastStream` (a lag is an item) and `WatchStream` (the latest value on each
//!   change).
//!
//! ```
//! # #[cfg(feature = "stream")] {
//! use evloop::sync::mpsc;
//! use futures_core::Stream;
//! use std::future::poll_fn;
//! use std::pin::Pin;
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     let (tx, mut rx) = mpsc::unbounded_channel();
//!     tx.send(1).unwrap();
//!     drop(tx);
//!     assert_eq!(poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await, Some(1));
//!     assert_eq!(poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await, None);
//! });
//! # }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`TcpStream`]: crate::net::TcpStream
//! [`UnixStream`]: crate::net::UnixStream
//! [`Interval`]: crate::time::Interval
//! [`Incoming`]: crate::net::Incoming

#[cfg(feature = "futures-io")]
mod futures_io;
#[cfg(feature = "stream")]
mod stream;

#[cfg(feature = "stream")]
#[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
pub use stream::{BroadcastStream, BroadcastStreamRecvError, WatchStream};
