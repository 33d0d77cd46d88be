//! Async byte streams: the [`AsyncRead`] and [`AsyncWrite`] traits and their `async` methods, and
//! [`ReadBuf`], a read target that may be uninitialised.
//!
//! The socket types implement them; so do their halves. Import both traits to call
//! `stream.read(&mut buf).await` and friends:
//!
//! ```
//! use evloop::io::{AsyncRead, AsyncWrite};
//! use evloop::net::UnixStream;
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     let (mut a, mut b) = UnixStream::pair()?;
//!     a.write_all(b"ping").await?;
//!     let mut buf = [0; 4];
//!     b.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"ping");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

mod read_buf;

pub use read_buf::ReadBuf;

/// Reads bytes asynchronously.
///
/// ```
/// use evloop::io::AsyncRead;
/// use std::io;
/// use std::task::{Context, Poll};
///
/// /// A reader that yields the same byte forever: implement `poll_read`, get `read`,
/// /// `read_exact` and `read_to_end` for free.
/// struct Zeros;
///
/// impl AsyncRead for Zeros {
///     fn poll_read(&mut self, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
///         buf.fill(0);
///         Poll::Ready(Ok(buf.len()))
///     }
/// }
///
/// let lp = evloop::EventLoop::new()?;
/// let mut buf = [1; 8];
/// lp.block_on(Zeros.read_exact(&mut buf))?;
/// assert_eq!(buf, [0; 8]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait AsyncRead {
    /// Reads into `buf`: `Ready(Ok(0))` means end of file (or an empty `buf`).
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    /// use std::future::poll_fn;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// a.write_all(b"polled").await?;
    /// let mut buf = [0; 16];
    /// let n = poll_fn(|cx| b.poll_read(cx, &mut buf)).await?; // what `read` awaits
    /// assert_eq!(&buf[..n], b"polled");
    /// drop(a);
    /// assert_eq!(poll_fn(|cx| b.poll_read(cx, &mut buf)).await?, 0, "end of file");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Reads into the unfilled part of `buf`, which may be uninitialised, and extends its filled
    /// part by what was read: no growth (with room left) means end of file.
    ///
    /// evloop's TCP and Unix streams and their halves read into the memory as it is, with no
    /// zeroing first, and count as filled exactly what `recv(2)` reported. The default, for
    /// readers that only have [`poll_read`](Self::poll_read), initialises the unfilled part first
    /// (each byte at most once over the life of `buf`) and reads into that.
    ///
    /// # Panics
    ///
    /// The default panics if `poll_read` reports more bytes than it was given room for.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, ReadBuf};
    /// use std::future::poll_fn;
    /// use std::io;
    /// use std::task::{Context, Poll};
    ///
    /// /// Only `poll_read`: the default `poll_read_buf` zeroes the unfilled part first, once.
    /// struct Abc;
    /// impl AsyncRead for Abc {
    ///     fn poll_read(&mut self, _: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
    ///         let n = buf.len().min(3);
    ///         buf[..n].copy_from_slice(&b"abc"[..n]);
    ///         Poll::Ready(Ok(n))
    ///     }
    /// }
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut storage = [std::mem::MaybeUninit::uninit(); 8];
    /// let mut buf = ReadBuf::uninit(&mut storage);
    /// poll_fn(|cx| Abc.poll_read_buf(cx, &mut buf)).await?;
    /// assert_eq!(buf.filled(), b"abc");
    /// assert_eq!(buf.initialized().len(), 8, "the default initialised it all");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(self.poll_read(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// Reads some bytes into `buf`'s unfilled part (see [`poll_read_buf`](Self::poll_read_buf)),
    /// returning how many (0 at end of file, or when `buf` is full).
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    /// use evloop::io::{AsyncRead, AsyncWrite, ReadBuf};
    /// use evloop::net::UnixStream;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (mut a, mut b) = UnixStream::pair()?;
    ///     a.write_all(b"one two").await?;
    ///     a.shutdown().await?;
    ///     let mut storage = [MaybeUninit::uninit(); 64];
    ///     let mut buf = ReadBuf::uninit(&mut storage);
    ///     while b.read_buf(&mut buf).await? > 0 {}
    ///     assert_eq!(buf.filled(), b"one two");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn read_buf<'a, 'b>(
        &'a mut self,
        buf: &'a mut ReadBuf<'b>,
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Sized,
    {
        ReadBufFuture { io: self, buf }
    }

    /// Reads some bytes into `buf`, returning how many (0 at end of file).
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// a.write_all(b"some").await?;
    /// let mut buf = [0; 64];
    /// let n = b.read(&mut buf).await?; // what is there, not a full buffer
    /// assert_eq!(&buf[..n], b"some");
    /// drop(a);
    /// assert_eq!(b.read(&mut buf).await?, 0, "end of file");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Sized,
    {
        Read { io: self, buf }
    }

    /// Fills `buf` completely.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the stream ends first (what was read is in `buf`, but how much is not
    /// reported), or the first read error.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// a.write_all(b"12345").await?;
    /// drop(a);
    /// let mut four = [0; 4];
    /// b.read_exact(&mut four).await?;
    /// assert_eq!(&four, b"1234");
    /// let err = b.read_exact(&mut four).await.unwrap_err(); // one byte left, four wanted
    /// assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<()>> + 'a
    where
        Self: Sized,
    {
        let mut filled = 0;
        poll_fn(move |cx| {
            while filled < buf.len() {
                match self.poll_read(cx, &mut buf[filled..]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "stream ended before the buffer was filled",
                        )))
                    }
                    Poll::Ready(Ok(n)) => filled += n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            Poll::Ready(Ok(()))
        })
    }

    /// Reads until end of file, appending to `buf`; returns how many bytes were read.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// let writer = evloop::spawn(async move {
    ///     a.write_all(&[7; 100_000]).await // more than a socket buffer: written as it is read
    /// });
    /// let mut all = b"head:".to_vec();
    /// assert_eq!(b.read_to_end(&mut all).await?, 100_000, "appended");
    /// assert!(all.starts_with(b"head:") && all[5..].iter().all(|&x| x == 7));
    /// writer.await.unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn read_to_end<'a>(
        &'a mut self,
        buf: &'a mut Vec<u8>,
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Sized,
    {
        let start = buf.len();
        poll_fn(move |cx| loop {
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(8192);
            }
            // Into the spare capacity as it is: a stream's read zeroes nothing first.
            let r = read_buf::with_spare_capacity(buf, |spare| {
                let r = self.poll_read_buf(cx, spare);
                (r, spare.filled().len())
            });
            match r {
                (Poll::Ready(Ok(())), 0) => return Poll::Ready(Ok(buf.len() - start)),
                (Poll::Ready(Ok(())), _) => {}
                (Poll::Ready(Err(e)), _) => return Poll::Ready(Err(e)),
                (Poll::Pending, _) => return Poll::Pending,
            }
        })
    }
}

/// Writes bytes asynchronously.
///
/// ```
/// use evloop::io::{AsyncRead, AsyncWrite};
/// use evloop::net::UnixStream;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"all of it").await?;
///     a.shutdown().await?; // the peer reads to the end
///     let mut got = Vec::new();
///     b.read_to_end(&mut got).await?;
///     assert_eq!(got, b"all of it");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait AsyncWrite {
    /// Writes some of `buf`, returning how many bytes were accepted.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    /// use std::future::poll_fn;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// let n = poll_fn(|cx| a.poll_write(cx, b"abc")).await?; // what `write` awaits
    /// assert_eq!(n, 3);
    /// let mut buf = [0; 3];
    /// b.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"abc");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Writes from several buffers at once. The default writes the first non-empty one.
    ///
    /// ```
    /// use evloop::io::AsyncWrite;
    /// use std::future::poll_fn;
    /// use std::io::{self, IoSlice};
    /// use std::task::{Context, Poll};
    ///
    /// /// Only `poll_write`: the default `poll_write_vectored` writes the first non-empty slice.
    /// struct Sink(Vec<u8>);
    /// impl AsyncWrite for Sink {
    ///     fn poll_write(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
    ///         self.0.extend_from_slice(buf);
    ///         Poll::Ready(Ok(buf.len()))
    ///     }
    ///     fn poll_shutdown(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
    ///         Poll::Ready(Ok(()))
    ///     }
    /// }
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut sink = Sink(Vec::new());
    /// let bufs = [IoSlice::new(b""), IoSlice::new(b"one"), IoSlice::new(b"two")];
    /// assert_eq!(poll_fn(|cx| sink.poll_write_vectored(cx, &bufs)).await?, 3);
    /// assert_eq!(sink.0, b"one");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let buf = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        self.poll_write(cx, buf)
    }

    /// Flushes buffered data; sockets have none, so this is immediately ready for them.
    ///
    /// ```
    /// use evloop::io::AsyncWrite;
    /// use evloop::net::UnixStream;
    /// use std::future::poll_fn;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, _b) = UnixStream::pair()?;
    /// a.write_all(b"unbuffered").await?;
    /// poll_fn(|cx| a.poll_flush(cx)).await?; // nothing to flush: ready at once
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts the writing side down (the peer reads end of file).
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    /// use std::future::poll_fn;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// a.write_all(b"last words").await?;
    /// poll_fn(|cx| a.poll_shutdown(cx)).await?; // what `shutdown` awaits
    /// let mut got = Vec::new();
    /// b.read_to_end(&mut got).await?;
    /// assert_eq!(got, b"last words");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Writes some of `buf`, returning how many bytes were written.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// let n = a.write(b"maybe not all of it").await?; // may be short: `write_all` loops
    /// assert!(n > 0);
    /// let mut buf = vec![0; n];
    /// b.read_exact(&mut buf).await?;
    /// assert_eq!(&buf[..], &b"maybe not all of it"[..n]);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Sized,
    {
        Write { io: self, buf }
    }

    /// Writes from several buffers with one call where the OS allows it.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    /// use std::io::IoSlice;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// let parts = [IoSlice::new(b"head "), IoSlice::new(b"body")];
    /// let n = a.write_vectored(&parts).await?;
    /// drop(a);
    /// let mut got = Vec::new();
    /// b.read_to_end(&mut got).await?;
    /// assert_eq!(got.len(), n);
    /// assert!(b"head body".starts_with(&got), "in order, from the first slice on");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn write_vectored<'a>(
        &'a mut self,
        bufs: &'a [IoSlice<'a>],
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Sized,
    {
        poll_fn(move |cx| self.poll_write_vectored(cx, bufs))
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    ///
    /// `WriteZero` if the stream stops accepting bytes, or the first write error.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// let reader = evloop::spawn(async move {
    ///     let mut got = Vec::new();
    ///     b.read_to_end(&mut got).await.map(|_| got)
    /// });
    /// let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    /// a.write_all(&data).await?; // waits for room as often as it must
    /// drop(a);
    /// assert_eq!(reader.await.unwrap()?, data);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + 'a
    where
        Self: Sized,
    {
        WriteAll {
            io: self,
            buf,
            written: 0,
        }
    }

    /// Flushes (a no-op for sockets).
    ///
    /// ```
    /// use evloop::io::AsyncWrite;
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, _b) = UnixStream::pair()?;
    /// a.write_all(b"x").await?;
    /// a.flush().await?; // for writers that buffer; a socket returns at once
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn flush(&mut self) -> impl Future<Output = io::Result<()>> + '_
    where
        Self: Sized,
    {
        poll_fn(move |cx| self.poll_flush(cx))
    }

    /// Shuts the writing side down.
    ///
    /// ```
    /// use evloop::io::{AsyncRead, AsyncWrite};
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// a.shutdown().await?;
    /// let mut buf = [0; 4];
    /// assert_eq!(b.read(&mut buf).await?, 0, "the peer reads end of file");
    /// b.write_all(b"but").await?; // the other direction still works
    /// assert_eq!(a.read(&mut buf).await?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> + '_
    where
        Self: Sized,
    {
        poll_fn(move |cx| self.poll_shutdown(cx))
    }
}

/// Splits a byte stream into lines, keeping what follows the last newline for the next call.
///
/// ```
/// use evloop::io::{AsyncWrite, Lines};
/// use evloop::net::UnixStream;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"first\r\nsecond\nno newline").await?;
///     a.shutdown().await?;
///     let mut lines = Lines::new(1024);
///     assert_eq!(lines.next(&mut b).await?.as_deref(), Some("first"));
///     assert_eq!(lines.next(&mut b).await?.as_deref(), Some("second"));
///     assert_eq!(lines.next(&mut b).await?.as_deref(), Some("no newline"));
///     assert_eq!(lines.next(&mut b).await?, None);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Lines {
    buf: Vec<u8>,
    max_line: usize,
}

impl Lines {
    /// A splitter that refuses lines longer than `max_line` bytes (so a peer that never sends a
    /// newline cannot grow our memory without bound).
    ///
    /// ```
    /// use evloop::io::{AsyncWrite, Lines};
    /// use evloop::net::UnixStream;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let (mut a, mut b) = UnixStream::pair()?;
    ///     a.write_all(b"first\nsecond\n").await?;
    ///     drop(a);
    ///     let mut lines = Lines::new(1024); // longer lines are an `InvalidData` error
    ///     assert_eq!(lines.next(&mut b).await?.as_deref(), Some("first"));
    ///     assert_eq!(lines.next(&mut b).await?.as_deref(), Some("second"));
    ///     assert_eq!(lines.next(&mut b).await?, None, "end of stream");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(max_line: usize) -> Lines {
        Lines {
            buf: Vec::new(),
            max_line,
        }
    }

    /// The next line without its line ending (`\n` or `\r\n`), decoded lossily as UTF-8; at end
    /// of stream, the unterminated rest if there is one, then `None`.
    ///
    /// # Errors
    ///
    /// `InvalidData` once more than the limit is buffered with no line end in it, or the reader's
    /// error. The limit bounds memory, to within one 4 KiB read: a longer line that arrives whole
    /// within one read is still returned.
    ///
    /// ```
    /// use evloop::io::{AsyncWrite, Lines};
    /// use evloop::net::UnixStream;
    ///
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// a.write_all(b"ok\n").await?;
    /// let mut lines = Lines::new(8);
    /// assert_eq!(lines.next(&mut b).await?.as_deref(), Some("ok"));
    /// a.write_all(&[b'x'; 10_000]).await?; // and no newline
    /// let err = lines.next(&mut b).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn next<R: AsyncRead>(&mut self, reader: &mut R) -> io::Result<Option<String>> {
        let mut chunk = [0; 4096];
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(Some(decode(&line)));
            }
            if self.buf.len() > self.max_line {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            match reader.read(&mut chunk).await? {
                0 if self.buf.is_empty() => return Ok(None),
                0 => return Ok(Some(decode(&std::mem::take(&mut self.buf)))),
                n => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

fn decode(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .trim_end_matches(['\r', '\n'])
        .to_string()
}

// The futures of the hot methods are named types rather than `poll_fn` closures so that their
// `poll` carries an inline hint: the whole read or write then folds into the task's own poll
// instead of staying a call whose inlining depends on unrelated code size.

struct Read<'a, R> {
    io: &'a mut R,
    buf: &'a mut [u8],
}

impl<R: AsyncRead> Future for Read<'_, R> {
    type Output = io::Result<usize>;

    // Always: in a task that awaits reads or writes in two places (two loops of one server, say)
    // the compiler outlined these; forcing them back saved 12 of the 74 instructions per echoed
    // message that the second call site cost (callgrind, 1 connection; the rest is the socket's
    // `poll_read`/`poll_write` outlined too, which is why `echo_idle` is its own example).
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.io.poll_read(cx, this.buf)
    }
}

struct ReadBufFuture<'a, 'b, R> {
    io: &'a mut R,
    buf: &'a mut ReadBuf<'b>,
}

impl<R: AsyncRead> Future for ReadBufFuture<'_, '_, R> {
    type Output = io::Result<usize>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let before = this.buf.filled().len();
        ready!(this.io.poll_read_buf(cx, this.buf))?;
        Poll::Ready(Ok(this.buf.filled().len() - before))
    }
}

struct Write<'a, W> {
    io: &'a mut W,
    buf: &'a [u8],
}

impl<W: AsyncWrite> Future for Write<'_, W> {
    type Output = io::Result<usize>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.io.poll_write(cx, this.buf)
    }
}

struct WriteAll<'a, W> {
    io: &'a mut W,
    buf: &'a [u8],
    written: usize,
}

impl<W: AsyncWrite> Future for WriteAll<'_, W> {
    type Output = io::Result<()>;

    // Always: in a task that awaits reads or writes in two places (two loops of one server, say)
    // the compiler outlined these; forcing them back saved 12 of the 74 instructions per echoed
    // message that the second call site cost (callgrind, 1 connection; the rest is the socket's
    // `poll_read`/`poll_write` outlined too, which is why `echo_idle` is its own example).
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.written < this.buf.len() {
            match this.io.poll_write(cx, &this.buf[this.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => this.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}
