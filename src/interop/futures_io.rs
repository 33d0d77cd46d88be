//! `futures_io::AsyncRead`/`AsyncWrite` on top of evloop's own traits.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::io::{AsyncRead, AsyncWrite};
use crate::net::{OwnedReadHalf, OwnedWriteHalf, TcpStream, UnixStream};

type MioTcp = mio::net::TcpStream;
type MioUnix = mio::net::UnixStream;

/// Forwards the `futures-io` read trait to ours: every evloop stream type is `Unpin`.
fn read<T: AsyncRead + Unpin>(
    t: Pin<&mut T>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    t.get_mut().poll_read(cx, buf)
}

impl futures_io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        read(self, cx, buf)
    }
}

impl futures_io::AsyncRead for UnixStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        read(self, cx, buf)
    }
}

impl futures_io::AsyncRead for OwnedReadHalf<MioTcp> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        read(self, cx, buf)
    }
}

impl futures_io::AsyncRead for OwnedReadHalf<MioUnix> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        read(self, cx, buf)
    }
}

/// Implements `futures_io::AsyncWrite` by forwarding each method to evloop's `AsyncWrite`.
macro_rules! forward_write {
    ($($ty:ty),*) => {$(
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self.get_mut(), cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write_vectored(self.get_mut(), cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self.get_mut(), cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_shutdown(self.get_mut(), cx)
            }
        }
    )*};
}

forward_write!(
    TcpStream,
    UnixStream,
    OwnedWriteHalf<MioTcp>,
    OwnedWriteHalf<MioUnix>
);
