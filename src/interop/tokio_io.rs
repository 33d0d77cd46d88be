//! `tokio::io::AsyncRead`/`AsyncWrite` on top of evloop's own traits, for the TCP and Unix streams
//! and every kind of half, so tokio-io code (`tokio_util::codec::Framed`, tokio-rustls,
//! hyper-util's `TokioIo`) runs on evloop's sockets directly.
//!
//! A read goes through [`AsyncRead::poll_read_buf`]: tokio's `ReadBuf` is handed to `recv(2)` as
//! it is, with no zeroing first.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use crate::io::{AsyncRead, AsyncWrite, ReadBuf};
use crate::net::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpStream, UnixStream, WriteHalf};

type MioTcp = mio::net::TcpStream;
type MioUnix = mio::net::UnixStream;

/// Reads into tokio's `ReadBuf` through evloop's [`ReadBuf`], which `reader` fills with what
/// `recv` returned and nothing more.
fn poll_read_tokio<R: AsyncRead>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut tokio::io::ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: evloop's `ReadBuf` never writes an uninitialised value into the memory it is given
    // (its invariant); the bytes tokio counts as initialised stay so.
    let unfilled = unsafe { buf.unfilled_mut() };
    let mut ours = ReadBuf::uninit(unfilled);
    ready!(reader.poll_read_buf(cx, &mut ours))?;
    let n = ours.filled().len();
    // SAFETY: the first `n` bytes of the unfilled part were filled, so initialised, by the read.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

/// Implements `tokio::io::AsyncRead` by forwarding to evloop's `AsyncRead` (every evloop stream
/// type is `Unpin`).
macro_rules! forward_read {
    ($($ty:ty),*) => {$(
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read_tokio(self.get_mut(), cx, buf)
            }
        }
    )*};
}

forward_read!(
    TcpStream,
    UnixStream,
    ReadHalf<'_, MioTcp>,
    ReadHalf<'_, MioUnix>,
    OwnedReadHalf<MioTcp>,
    OwnedReadHalf<MioUnix>
);

/// Implements `tokio::io::AsyncWrite` by forwarding each method to evloop's `AsyncWrite`.
macro_rules! forward_write {
    ($($ty:ty),*) => {$(
        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self.get_mut(), cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write_vectored(self.get_mut(), cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                // One `sendmsg(2)` for all the buffers.
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self.get_mut(), cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_shutdown(self.get_mut(), cx)
            }
        }
    )*};
}

forward_write!(
    TcpStream,
    UnixStream,
    WriteHalf<'_, MioTcp>,
    WriteHalf<'_, MioUnix>,
    OwnedWriteHalf<MioTcp>,
    OwnedWriteHalf<MioUnix>
);
