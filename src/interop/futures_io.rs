//! `futures_io::AsyncRead`/`AsyncWrite` on top of evloop's own traits, for every type that has
//! them: the streams (owned and through `&`), their halves, files and child pipes.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::fs::File;
use crate::io::{AsyncRead, AsyncWrite};
use crate::net::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpStream, UnixStream, WriteHalf};
use crate::process::{ChildStderr, ChildStdin, ChildStdout};

type MioTcp = mio::net::TcpStream;
type MioUnix = mio::net::UnixStream;

/// Implements `futures_io::AsyncRead` by forwarding to evloop's `AsyncRead` (every evloop stream
/// type is `Unpin`).
macro_rules! forward_read {
    ($($ty:ty),*) => {$(
        impl futures_io::AsyncRead for $ty {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                AsyncRead::poll_read(self.get_mut(), cx, buf)
            }
        }
    )*};
}

forward_read!(
    File,
    TcpStream,
    &TcpStream,
    UnixStream,
    &UnixStream,
    ReadHalf<'_, MioTcp>,
    ReadHalf<'_, MioUnix>,
    OwnedReadHalf<MioTcp>,
    OwnedReadHalf<MioUnix>,
    ChildStdout,
    ChildStderr
);

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
    File,
    TcpStream,
    &TcpStream,
    UnixStream,
    &UnixStream,
    WriteHalf<'_, MioTcp>,
    WriteHalf<'_, MioUnix>,
    OwnedWriteHalf<MioTcp>,
    OwnedWriteHalf<MioUnix>,
    ChildStdin
);
