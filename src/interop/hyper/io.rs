//! `hyper::rt::Read`/`Write` for evloop's TCP and Unix streams.
//!
//! A read hands hyper's spare buffer to `recv(2)` as it is, through
//! [`AsyncRead::poll_read_buf`]: nothing is zeroed first (which was 68% of a hyper server's
//! instructions when the adapter had to zero the buffer for a `&mut [u8]` read).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use hyper::rt::ReadBufCursor;

use crate::io::{AsyncRead, AsyncWrite, ReadBuf};
use crate::net::{TcpStream, UnixStream};

fn poll_read_hyper<R: AsyncRead>(
    reader: &mut R,
    cx: &mut Context<'_>,
    mut cursor: ReadBufCursor<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: evloop's `ReadBuf` never writes an uninitialised value into the memory it is given
    // (its invariant), so nothing hyper counts as initialised is de-initialised.
    let spare = unsafe { cursor.as_mut() };
    let mut ours = ReadBuf::uninit(spare);
    ready!(reader.poll_read_buf(cx, &mut ours))?;
    let n = ours.filled().len();
    // SAFETY: the read filled, so initialised, the first `n` bytes of the spare buffer.
    unsafe { cursor.advance(n) };
    Poll::Ready(Ok(()))
}

/// Implements hyper's `Read` and `Write` by forwarding to evloop's `AsyncRead`/`AsyncWrite`.
macro_rules! forward_hyper_io {
    ($($ty:ty),*) => {$(
        impl hyper::rt::Read for $ty {
            #[inline]
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read_hyper(self.get_mut(), cx, buf)
            }
        }

        impl hyper::rt::Write for $ty {
            #[inline]
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
                // One `sendmsg(2)` for the headers and the body.
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

forward_hyper_io!(TcpStream, UnixStream);
