//! Bridges to the `futures` ecosystem, each behind a cargo feature so the core keeps its three
//! run-time dependencies.
//!
//! - `futures-io`: `futures_io::AsyncRead` and `futures_io::AsyncWrite` for [`TcpStream`],
//!   [`UnixStream`], their owned halves and [`fs::File`](crate::fs::File).
//! - `stream`: `futures_core::Stream` for [`Interval`] and for [`Incoming`] connections.
//!
//! [`TcpStream`]: crate::net::TcpStream
//! [`UnixStream`]: crate::net::UnixStream
//! [`Interval`]: crate::time::Interval
//! [`Incoming`]: crate::net::Incoming

#[cfg(feature = "futures-io")]
mod futures_io;
#[cfg(feature = "stream")]
mod stream;
