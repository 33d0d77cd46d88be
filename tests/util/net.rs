//! Socket helpers shared by the networking tests.

use std::future::{poll_fn, Future};
use std::io;
use std::path::PathBuf;
use std::task::Poll;
use std::time::Duration;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpStream};

use super::Rng;

/// A hang guard for awaits that must complete: far longer than any test needs.
pub const GUARD: Duration = Duration::from_secs(60);

/// A connected pair on the current loop: (client side, server side).
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = evloop::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    let (server, _) = listener.accept().await.unwrap();
    (client.await.unwrap(), server)
}

/// Runs two futures concurrently in the current task, returning both outputs.
pub async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Reads until end of file, comparing every byte with `expected`; returns the count.
pub async fn read_and_verify<R: AsyncRead>(r: &mut R, expected: &[u8]) -> usize {
    let mut buf = vec![0u8; 16 * 1024];
    let mut pos = 0;
    loop {
        let n = r.read(&mut buf).await.unwrap();
        if n == 0 {
            return pos;
        }
        assert!(
            pos + n <= expected.len(),
            "received {} bytes, more than the {} sent",
            pos + n,
            expected.len()
        );
        assert!(
            buf[..n] == expected[pos..pos + n],
            "bytes {pos}..{} differ",
            pos + n
        );
        pos += n;
    }
}

/// Echoes everything read from `s` back to it until end of file, then shuts down the write side;
/// returns the number of bytes echoed.
pub async fn echo_until_eof<S: AsyncRead + AsyncWrite>(s: &mut S) -> usize {
    let mut buf = vec![0u8; 16 * 1024];
    let mut echoed = 0;
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n]).await.unwrap();
        echoed += n;
    }
    s.shutdown().await.unwrap();
    echoed
}

/// Writes `data` in random-sized chunks of at most `max_chunk` bytes.
pub async fn write_chunked<W: AsyncWrite>(w: &mut W, data: &[u8], rng: &mut Rng, max_chunk: usize) {
    let mut pos = 0;
    while pos < data.len() {
        let n = rng.range(1, max_chunk).min(data.len() - pos);
        w.write_all(&data[pos..pos + n]).await.unwrap();
        pos += n;
    }
}

/// Sets `SO_LINGER` to zero on the socket `fd`, so that closing it sends a RST instead of a FIN.
pub fn set_linger_zero(fd: i32) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `fd` is an open socket owned by the caller, and `linger` is a valid `struct linger`
    // whose size is passed alongside it; setsockopt only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        io::Error::last_os_error()
    );
}

/// A fresh directory for socket files, removed (with its contents) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("evloop-test-{}-{name}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
