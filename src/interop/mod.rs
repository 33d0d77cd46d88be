//! Bridges to other ecosystems, each behind a cargo feature so the core keeps its three run-time
//! dependencies.
//!
//! - `futures-io`: `futures_io::AsyncRead` and `futures_io::AsyncWrite` for [`TcpStream`],
//!   [`UnixStream`], their owned halves and [`fs::File`](crate::fs::File).
//! - `stream`: `futures_core::Stream` for [`Interval`] and for [`Incoming`] connections.
//! - `tokio-io`: `tokio::io::AsyncRead` and `tokio::io::AsyncWrite` for [`TcpStream`],
//!   [`UnixStream`] and all their halves, so `tokio_util::codec::Framed`, tokio-rustls or
//!   hyper-util's `TokioIo` work on them directly. Reads go into tokio's `ReadBuf` with no zeroing.
//! - `tokio-rt`: `TokioThread`, a tokio runtime on a thread beside the loop, for libraries that
//!   must run inside tokio (reqwest, for one).
//! - `hyper`: the `hyper` module: hyper 1.x servers on evloop.
//!
//! [`TcpStream`]: crate::net::TcpStream
//! [`UnixStream`]: crate::net::UnixStream
//! [`Interval`]: crate::time::Interval
//! [`Incoming`]: crate::net::Incoming

#[cfg(feature = "futures-io")]
mod futures_io;
#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(feature = "stream")]
mod stream;
#[cfg(feature = "tokio-io")]
mod tokio_io;
#[cfg(feature = "tokio-rt")]
mod tokio_rt;

#[cfg(feature = "tokio-rt")]
pub use tokio_rt::TokioThread;
