//! `File`: a `std::fs::File` whose reads, writes and seeks run on the blocking pool.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::mem;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use super::{asyncify, OpenOptions};
use crate::blocking::join_error_to_io;
use crate::io::{AsyncRead, AsyncWrite};
use crate::BlockingHandle;

/// The most one read or write moves to or from the pool in one hand-off (as tokio's 2 MiB).
const MAX_BUF: usize = 2 * 1024 * 1024;

/// An open file whose operations run on the loop's blocking pool, like `tokio::fs::File`.
///
/// It implements [`AsyncRead`] and [`AsyncWrite`] (import them for `read`, `write_all`,
/// `read_to_end`, ...), and [`File::seek`] moves the position.
///
/// # Cost: one hand-off per call
///
/// Each `read` or `write` moves an owned buffer to a pool thread, runs one `read(2)` or
/// `write(2)` there and hands the buffer back: a few microseconds of hand-off on top of the
/// syscall, whatever the size. Small reads and writes are therefore slow; read and write in big
/// chunks (up to 2 MiB move per call: a larger `buf` passed to `read`, or `read_to_end`, whose
/// growing buffer asks for more each time), put your own buffering in front, or use
/// [`fs::read`](fn@super::read) / [`fs::write`](fn@super::write) for whole files (one hand-off each).
///
/// A read may read ahead: asked for `n` bytes it reads up to `n` into its own buffer, and what the
/// caller's buffer could not take is returned by the next read (the position seen by `seek` and
/// writes accounts for it).
///
/// # Writes are handed off, not awaited
///
/// As with tokio, `write` copies the bytes into the file's buffer (up to 2 MiB), starts the
/// `write_all` on the pool and returns at once; the next operation waits for it. Its error, if
/// any, is reported by the next `write`, `flush`, `shutdown`, `seek`, `set_len`, `sync_all` or
/// `sync_data`. **Call [`flush`](AsyncWrite::flush) (or `sync_all` for durability) before
/// dropping a file you wrote to**: a write still in flight at the drop completes, but its error
/// is lost.
///
/// ```
/// use evloop::fs::File;
/// use evloop::io::{AsyncRead, AsyncWrite};
/// use std::io::SeekFrom;
///
/// let path = std::env::temp_dir().join(format!("evloop-file-doc-{}", std::process::id()));
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let mut f = File::options().read(true).write(true).create(true).truncate(true).open(&path).await?;
///     f.write_all(b"hello, world").await?;
///     f.seek(SeekFrom::Start(7)).await?;
///     let mut rest = Vec::new();
///     f.read_to_end(&mut rest).await?;
///     assert_eq!(rest, b"world");
///     assert_eq!(f.metadata().await?.len(), 12);
///     evloop::fs::remove_file(&path).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct File {
    std: Arc<std::fs::File>,
    state: State,
    /// A handed-off write's error, for the next write, flush, seek, ...
    last_write_err: Option<io::Error>,
}

enum State {
    Idle(Buf),
    Busy(BlockingHandle<(Op, Buf)>),
}

/// What the job in flight did.
enum Op {
    Read(io::Result<usize>),
    Write(io::Result<()>),
    Seek(io::Result<u64>),
}

/// The buffer that travels to the pool and back; `data[pos..]` is read-ahead not yet returned.
#[derive(Default)]
struct Buf {
    data: Vec<u8>,
    pos: usize,
}

impl Buf {
    fn len(&self) -> usize {
        self.data.len() - self.pos
    }

    fn clear(&mut self) {
        self.data.clear();
        self.pos = 0;
    }

    fn copy_to(&mut self, dst: &mut [u8]) -> usize {
        let n = self.len().min(dst.len());
        dst[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        if self.len() == 0 {
            self.clear();
        }
        n
    }

    fn copy_from(&mut self, src: &[u8]) -> usize {
        let n = src.len().min(MAX_BUF);
        self.clear();
        self.data.extend_from_slice(&src[..n]);
        n
    }

    /// Forgets the read-ahead; returns by how much the OS position is ahead of the caller's.
    fn discard_read(&mut self) -> i64 {
        let ahead = self.len() as i64;
        self.clear();
        ahead
    }

    fn read_from(&mut self, mut f: &std::fs::File, len: usize) -> io::Result<usize> {
        self.clear();
        self.data.resize(len, 0);
        let r = loop {
            match f.read(&mut self.data) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r,
            }
        };
        self.data.truncate(*r.as_ref().unwrap_or(&0));
        r
    }

    fn write_to(&mut self, mut f: &std::fs::File) -> io::Result<()> {
        let r = f.write_all(&self.data);
        self.clear();
        r
    }
}

/// Moves the OS position back over read-ahead the caller has not seen.
fn seek_back(mut f: &std::fs::File, ahead: i64) -> io::Result<()> {
    if ahead > 0 {
        f.seek(SeekFrom::Current(-ahead))?;
    }
    Ok(())
}

impl File {
    /// Opens a file for reading, on the blocking pool (`std::fs::File::open`).
    ///
    /// # Errors
    ///
    /// As [`std::fs::File::open`]: `NotFound` if there is no such file, ...
    ///
    /// # Panics
    ///
    /// If this thread has no event loop (as for every operation of a `File`).
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncRead;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-open-{}", std::process::id()));
    /// std::fs::write(&path, "contents")?;
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut file = File::open(&path).await?;
    ///     let mut text = Vec::new();
    ///     file.read_to_end(&mut text).await?;
    ///     assert_eq!(text, b"contents");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens a file for writing, creating it or truncating it (`std::fs::File::create`).
    ///
    /// # Errors
    ///
    /// As [`std::fs::File::create`].
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncWrite;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-create-{}", std::process::id()));
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut file = File::create(&path).await?;
    ///     file.write_all(b"written in chunks").await?;
    ///     file.flush().await?; // a write's error comes with the next call: flush before dropping
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"written in chunks");
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates a new file for reading and writing, failing if it exists
    /// (`std::fs::File::create_new`).
    ///
    /// # Errors
    ///
    /// `AlreadyExists`, or as [`std::fs::OpenOptions::open`].
    ///
    /// ```
    /// use evloop::fs::File;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-create-new-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let first = File::create_new(&path).await?;
    /// let err = File::create_new(&path).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// drop(first);
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// Options to open a file with; the same as [`OpenOptions::new`].
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncWrite;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-options-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// evloop::fs::write(&path, b"log:").await?;
    /// let mut f = File::options().append(true).open(&path).await?;
    /// f.write_all(b" more").await?;
    /// f.flush().await?;
    /// assert_eq!(evloop::fs::read(&path).await?, b"log: more");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps a file from the standard library. Its position is where the next read or write goes.
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncRead;
    /// use std::io::{Seek, SeekFrom};
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-from-std-{}", std::process::id()));
    /// std::fs::write(&path, b"skip:rest")?;
    /// let mut std_file = std::fs::File::open(&path)?;
    /// std_file.seek(SeekFrom::Start(5))?;
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut file = File::from_std(std_file);
    /// let mut rest = Vec::new();
    /// file.read_to_end(&mut rest).await?;
    /// assert_eq!(rest, b"rest", "from the std file's position");
    /// # Ok::<(), std::io::Error>(())
    /// # })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(std: std::fs::File) -> File {
        File {
            std: Arc::new(std),
            state: State::Idle(Buf::default()),
            last_write_err: None,
        }
    }

    /// The standard library's file, once the operation in flight is done; its position is the
    /// one this file's next read or write would have used (read-ahead is given back with a seek).
    ///
    /// An error of the last handed-off write is lost: [`flush`](AsyncWrite::flush) first to see
    /// it.
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncRead;
    /// use std::io::Read;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-into-std-{}", std::process::id()));
    /// std::fs::write(&path, b"0123456789")?;
    /// # let lp = evloop::EventLoop::new()?;
    /// let mut std_file = lp.block_on(async {
    ///     let mut file = File::open(&path).await?;
    ///     let mut two = [0; 2];
    ///     file.read_exact(&mut two).await?; // the pool may have read ahead...
    ///     Ok::<_, std::io::Error>(file.into_std().await)
    /// })?;
    /// let mut rest = String::new();
    /// std_file.read_to_string(&mut rest)?;
    /// assert_eq!(rest, "23456789", "... but the std file goes on after what was read");
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn into_std(mut self) -> std::fs::File {
        let _ = poll_fn(|cx| self.poll_complete(cx)).await;
        if let State::Idle(buf) = &mut self.state {
            let _ = seek_back(&self.std, buf.discard_read());
        }
        let mut std = self.std;
        loop {
            match Arc::try_unwrap(std) {
                Ok(f) => return f,
                // A job of `metadata` or `sync_all` whose future was dropped still runs with a
                // reference: hand out a duplicate descriptor (same file, same position) instead.
                Err(shared) => match shared.try_clone() {
                    Ok(f) => return f,
                    Err(_) => {
                        std = shared;
                        crate::time::sleep(Duration::from_millis(1)).await;
                    }
                },
            }
        }
    }

    /// The standard library's file at once, or `self` back if an operation is in flight (or a
    /// job of a dropped `metadata`/`sync_all` future still uses it).
    ///
    /// # Errors
    ///
    /// Gives `self` back as described.
    ///
    /// ```
    /// use evloop::fs::File;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-try-into-std-{}", std::process::id()));
    /// std::fs::write(&path, b"x")?;
    /// # let lp = evloop::EventLoop::new()?;
    /// let file = lp.block_on(File::open(&path))?;
    /// let std_file = file.try_into_std().expect("nothing in flight");
    /// assert_eq!(std_file.metadata()?.len(), 1);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_into_std(mut self) -> Result<std::fs::File, File> {
        let ahead = match &mut self.state {
            State::Busy(_) => return Err(self),
            State::Idle(buf) => buf.len() as i64,
        };
        match Arc::try_unwrap(self.std) {
            Ok(f) => {
                let _ = seek_back(&f, ahead);
                Ok(f)
            }
            Err(std) => Err(File {
                std,
                state: self.state,
                last_write_err: self.last_write_err,
            }),
        }
    }

    /// The file's metadata (`std::fs::File::metadata`), on the blocking pool. It does not wait for
    /// a write in flight (the length may not include it yet): flush first.
    ///
    /// # Errors
    ///
    /// As [`std::fs::File::metadata`].
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncWrite;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-metadata-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut file = File::create(&path).await?;
    /// file.write_all(b"abc").await?;
    /// file.flush().await?; // so the length includes the write
    /// assert_eq!(file.metadata().await?.len(), 3);
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }

    /// Changes the file's permissions (`std::fs::File::set_permissions`).
    ///
    /// # Errors
    ///
    /// As [`std::fs::File::set_permissions`].
    ///
    /// ```
    /// use evloop::fs::File;
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-set-perms-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let file = File::create(&path).await?;
    /// file.set_permissions(std::fs::Permissions::from_mode(0o600)).await?;
    /// assert_eq!(file.metadata().await?.permissions().mode() & 0o777, 0o600);
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn set_permissions(&self, perm: std::fs::Permissions) -> io::Result<()> {
        let std = self.std.clone();
        asyncify(move || std.set_permissions(perm)).await
    }

    /// Truncates or extends the file to `size` bytes, after the write in flight; the position is
    /// unchanged (`std::fs::File::set_len`).
    ///
    /// Unlike tokio's, this takes `&mut self`, because it must first wait for the file's own
    /// operation in flight.
    ///
    /// # Errors
    ///
    /// A handed-off write's error, or as [`std::fs::File::set_len`].
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncWrite;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-set-len-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut file = File::create(&path).await?;
    /// file.write_all(b"0123456789").await?;
    /// file.set_len(4).await?; // waits for the write first
    /// assert_eq!(evloop::fs::read(&path).await?, b"0123");
    /// file.set_len(6).await?;
    /// assert_eq!(evloop::fs::read(&path).await?, b"0123\0\0", "extended with zeros");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await?;
        let ahead = self.idle_buf().discard_read();
        self.start(move |f, _| {
            Op::Seek(
                seek_back(f, ahead)
                    .and_then(|()| f.set_len(size))
                    .map(|()| 0),
            )
        });
        self.finish_seek().await.map(drop)
    }

    /// Flushes the handed-off write, then waits until data and metadata are on disk
    /// (`fsync(2)`). Takes `&mut self` (tokio's takes `&self`) to wait for that write.
    ///
    /// # Errors
    ///
    /// A handed-off write's error, or as [`std::fs::File::sync_all`].
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncWrite;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-sync-all-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut file = File::create(&path).await?;
    /// file.write_all(b"durable").await?;
    /// file.sync_all().await?; // the handed-off write is done, and on disk
    /// assert_eq!(std::fs::read(&path)?, b"durable");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn sync_all(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await?;
        let std = self.std.clone();
        asyncify(move || std.sync_all()).await
    }

    /// As [`File::sync_all`], but the metadata only as far as needed to read the data back
    /// (`fdatasync(2)`).
    ///
    /// # Errors
    ///
    /// A handed-off write's error, or as [`std::fs::File::sync_data`].
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncWrite;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-sync-data-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut file = File::create(&path).await?;
    /// file.write_all(b"data").await?;
    /// file.sync_data().await?;
    /// assert_eq!(std::fs::read(&path)?, b"data");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn sync_data(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await?;
        let std = self.std.clone();
        asyncify(move || std.sync_data()).await
    }

    /// Moves the position, after the operation in flight; returns the new position from the
    /// start (`std::io::Seek::seek`). One hand-off.
    ///
    /// # Errors
    ///
    /// A handed-off write's error, or as `lseek(2)`: `InvalidInput` for a position before the
    /// start.
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncRead;
    /// use std::io::SeekFrom;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-seek-{}", std::process::id()));
    /// std::fs::write(&path, "0123456789")?;
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let mut file = File::open(&path).await?;
    ///     assert_eq!(file.seek(SeekFrom::End(-3)).await?, 7);
    ///     let mut tail = Vec::new();
    ///     file.read_to_end(&mut tail).await?;
    ///     assert_eq!(tail, b"789");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        poll_fn(|cx| self.poll_flush(cx)).await?;
        let ahead = self.idle_buf().discard_read();
        let pos = match pos {
            SeekFrom::Current(n) => SeekFrom::Current(n.checked_sub(ahead).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "seek offset out of range")
            })?),
            other => other,
        };
        self.start(move |mut f, _| Op::Seek(f.seek(pos)));
        self.finish_seek().await
    }

    /// Seeks to the start.
    ///
    /// # Errors
    ///
    /// As [`File::seek`].
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::{AsyncRead, AsyncWrite};
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-rewind-{}", std::process::id()));
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut file = File::options().read(true).write(true).create(true).open(&path).await?;
    /// file.write_all(b"again").await?;
    /// file.rewind().await?;
    /// let mut back = Vec::new();
    /// file.read_to_end(&mut back).await?;
    /// assert_eq!(back, b"again");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn rewind(&mut self) -> io::Result<()> {
        self.seek(SeekFrom::Start(0)).await.map(drop)
    }

    /// The current position (where the next read or write goes).
    ///
    /// # Errors
    ///
    /// As [`File::seek`].
    ///
    /// ```
    /// use evloop::fs::File;
    /// use evloop::io::AsyncRead;
    ///
    /// let path = std::env::temp_dir().join(format!("evloop-doc-file-position-{}", std::process::id()));
    /// std::fs::write(&path, b"0123456789")?;
    /// # let lp = evloop::EventLoop::new()?;
    /// # lp.block_on(async {
    /// let mut file = File::open(&path).await?;
    /// let mut three = [0; 3];
    /// file.read_exact(&mut three).await?;
    /// assert_eq!(file.stream_position().await?, 3, "what was read, not what the pool read ahead");
    /// evloop::fs::remove_file(&path).await
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn stream_position(&mut self) -> io::Result<u64> {
        self.seek(SeekFrom::Current(0)).await
    }

    fn idle_buf(&mut self) -> &mut Buf {
        match &mut self.state {
            State::Idle(buf) => buf,
            State::Busy(_) => unreachable!("evloop::fs::File: an operation is still in flight"),
        }
    }

    /// Hands `job` (with the file and the buffer) to the pool; the state must be idle.
    fn start(&mut self, job: impl FnOnce(&std::fs::File, &mut Buf) -> Op + Send + 'static) {
        let mut buf = mem::take(self.idle_buf());
        let std = self.std.clone();
        self.state = State::Busy(crate::spawn_blocking(move || {
            let op = job(&std, &mut buf);
            // Released before the result is visible, so `into_std` finds the only reference.
            drop(std);
            (op, buf)
        }));
    }

    /// Waits for the operation in flight, if any, leaving the state idle; returns what it did.
    fn poll_complete(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Op>>> {
        let State::Busy(handle) = &mut self.state else {
            return Poll::Ready(Ok(None));
        };
        let done = ready!(Pin::new(handle).poll(cx));
        Poll::Ready(match done {
            Ok((op, buf)) => {
                self.state = State::Idle(buf);
                Ok(Some(op))
            }
            Err(e) => {
                self.state = State::Idle(Buf::default());
                Err(join_error_to_io(e))
            }
        })
    }

    async fn finish_seek(&mut self) -> io::Result<u64> {
        poll_fn(|cx| match ready!(self.poll_complete(cx))? {
            Some(Op::Seek(r)) => Poll::Ready(r),
            _ => unreachable!("evloop::fs::File: the seek in flight was replaced"),
        })
        .await
    }
}

impl AsyncRead for File {
    /// Returns read-ahead if there is some, else reads up to `buf.len()` bytes (at most 2 MiB)
    /// on the pool: one hand-off.
    fn poll_read(&mut self, cx: &mut Context<'_>, dst: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            match ready!(self.poll_complete(cx))? {
                Some(Op::Read(r)) => {
                    r?;
                    return Poll::Ready(Ok(self.idle_buf().copy_to(dst)));
                }
                Some(Op::Write(Err(e))) => self.last_write_err = Some(e),
                Some(_) | None => {}
            }
            let buf = self.idle_buf();
            if buf.len() > 0 || dst.is_empty() {
                return Poll::Ready(Ok(buf.copy_to(dst)));
            }
            let len = dst.len().min(MAX_BUF);
            self.start(move |f, buf| Op::Read(buf.read_from(f, len)));
        }
    }
}

impl AsyncWrite for File {
    /// Copies up to 2 MiB of `buf` and hands the write to the pool, after the operation in flight;
    /// returns without waiting for it (see [`File`]).
    fn poll_write(&mut self, cx: &mut Context<'_>, src: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(Op::Write(Err(e))) = ready!(self.poll_complete(cx))? {
            return Poll::Ready(Err(e));
        }
        if let Some(e) = self.last_write_err.take() {
            return Poll::Ready(Err(e));
        }
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let buf = self.idle_buf();
        let ahead = buf.discard_read();
        let n = buf.copy_from(src);
        self.start(move |f, buf| Op::Write(seek_back(f, ahead).and_then(|()| buf.write_to(f))));
        Poll::Ready(Ok(n))
    }

    /// Waits for the handed-off write and reports its error.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(Op::Write(Err(e))) = ready!(self.poll_complete(cx))? {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(match self.last_write_err.take() {
            Some(e) => Err(e),
            None => Ok(()),
        })
    }

    /// The same as a flush: a file has no writing side to shut down.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl From<std::fs::File> for File {
    fn from(std: std::fs::File) -> File {
        File::from_std(std)
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.std.as_raw_fd()
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("std", &self.std)
            .field("busy", &matches!(self.state, State::Busy(_)))
            .finish()
    }
}
