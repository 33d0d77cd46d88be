//! Bridges to other ecosystems, each behind a cargo feature so the core keeps its three run-time
//! dependencies.
//!
//! - `futures-io`: `futures_io::AsyncRead` and `futures_io::AsyncWrite` for [`TcpStream`] and
//!   [`UnixStream`] (owned, and through a shared reference, as std's `Read` for `&TcpStream`),
//!   their halves (borrowed and owned), [`fs::File`](crate::fs::File) and the child process pipes.
//! - `stream`: `futures_core::Stream` for [`Interval`], [`Incoming`] connections, the
//!   [`mpsc`](crate::sync::mpsc) and [`mpmc`](crate::sync::mpmc) receivers and the
//!   [`RemoteReceiver`](crate::sync::RemoteReceiver); and, in the shapes of tokio-stream's
//!   wrappers, `BroadcastStream` (a lag is an item) and `WatchStream` (the latest value on each
//!   change).
//! - `tokio-io`: `tokio::io::AsyncRead` and `tokio::io::AsyncWrite` for [`TcpStream`],
//!   [`UnixStream`] and all their halves, so `tokio_util::codec::Framed`, tokio-rustls or
//!   hyper-util's `TokioIo` work on them directly. Reads go into tokio's `ReadBuf` with no zeroing.
//! - `tokio-rt`: `TokioThread`, a tokio runtime on a thread beside the loop, for libraries that
//!   must run inside tokio (reqwest, for one).
//! - `hyper`: the `hyper` module: hyper 1.x servers on evloop.
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
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
#[cfg(feature = "stream")]
mod stream;
#[cfg(feature = "tokio-io")]
mod tokio_io;
#[cfg(feature = "tokio-rt")]
mod tokio_rt;

#[cfg(feature = "stream")]
#[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
pub use stream::{BroadcastStream, BroadcastStreamRecvError, WatchStream};
#[cfg(feature = "tokio-rt")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-rt")))]
pub use tokio_rt::TokioThread;
