//! Reads into uninitialised memory (`ReadBuf`, `AsyncRead::poll_read_buf`, `read_buf`) on TCP and
//! Unix streams and on every kind of half: every byte checked, nothing zeroed first, and the
//! filled count never more than the kernel handed over: it equals what `FIONREAD` said was
//! waiting, the bytes past it are untouched, and a full buffer takes nothing from the socket.
//! Also the default `poll_read_buf` of a reader that only has `poll_read`, and `read_to_end`
//! (which reads into a `Vec`'s spare capacity).
//!
//! Loopback and socket pairs only; every wait is bounded by a watchdog.

mod util;

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};

use evloop::io::{AsyncRead, AsyncWrite, ReadBuf};
use evloop::net::{TcpStream, UnixStream};
use util::net::{join2, tcp_pair, write_chunked};
use util::{run, watchdog, Rng};

/// How many bytes the socket `fd` has waiting to be read (`ioctl(FIONREAD)`).
fn waiting(fd: i32) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one `int` through the pointer, which points at `n`.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "ioctl(FIONREAD): {}", io::Error::last_os_error());
    usize::try_from(n).unwrap()
}

/// Writes `data` and waits until all of it is waiting at `reader_fd`.
async fn send_and_settle<W: AsyncWrite>(w: &mut W, data: &[u8], reader_fd: i32) {
    w.write_all(data).await.unwrap();
    for _ in 0..10_000 {
        if waiting(reader_fd) >= data.len() {
            return;
        }
        evloop::yield_now().await;
    }
    panic!(
        "{} bytes written, {} waiting",
        data.len(),
        waiting(reader_fd)
    );
}

/// One read into fresh uninitialised memory: it counts as filled exactly what was waiting, no
/// byte past that counts as initialised (nothing was zeroed), and the bytes are the ones sent.
async fn one_read_into_uninit<R: AsyncRead>(r: &mut R, fd: i32, sent: &[u8]) {
    let before = waiting(fd);
    assert_eq!(before, sent.len());
    let mut storage = vec![MaybeUninit::<u8>::uninit(); 64 * 1024];
    let mut buf = ReadBuf::uninit(&mut storage);
    let n = r.read_buf(&mut buf).await.unwrap();
    assert_eq!(n, before, "filled what the kernel had, no more, no less");
    assert_eq!(buf.filled().len(), n);
    assert_eq!(
        buf.initialized().len(),
        n,
        "bytes past the read were initialised"
    );
    assert_eq!(buf.filled(), sent);
    assert_eq!(waiting(fd), 0);
}

#[test]
fn tcp_and_unix_streams_and_every_half_read_into_uninitialised_memory() {
    let _wd = watchdog("read_buf_every_half", 60);
    run(async {
        let mut rng = Rng::new(7);
        let (mut client, mut server) = tcp_pair().await;
        let fd = server.as_raw_fd();
        let data = rng.bytes(3000);
        send_and_settle(&mut client, &data, fd).await;
        one_read_into_uninit(&mut server, fd, &data).await;
        {
            let (mut rh, _wh) = server.split();
            let data = rng.bytes(1500);
            send_and_settle(&mut client, &data, fd).await;
            one_read_into_uninit(&mut rh, fd, &data).await;
        }
        let (mut orh, _owh) = server.into_split();
        let data = rng.bytes(777);
        send_and_settle(&mut client, &data, fd).await;
        one_read_into_uninit(&mut orh, fd, &data).await;

        let (mut a, mut b) = UnixStream::pair().unwrap();
        let fd = b.as_raw_fd();
        let data = rng.bytes(4096);
        send_and_settle(&mut a, &data, fd).await;
        one_read_into_uninit(&mut b, fd, &data).await;
        {
            let (mut rh, _wh) = b.split();
            let data = rng.bytes(10);
            send_and_settle(&mut a, &data, fd).await;
            one_read_into_uninit(&mut rh, fd, &data).await;
        }
        let (mut orh, _owh) = b.into_split();
        let data = rng.bytes(1);
        send_and_settle(&mut a, &data, fd).await;
        one_read_into_uninit(&mut orh, fd, &data).await;
    });
}

#[test]
fn a_read_writes_no_byte_past_the_count_it_reports() {
    let _wd = watchdog("read_buf_no_byte_past_count", 60);
    run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let fd = b.as_raw_fd();
        a.write_all(b"0123456789").await.unwrap();
        // Initialised with a sentinel, so that a byte written past the count would show (in
        // the buffer, and in the storage once the buffer is no longer used).
        let mut storage = [0xEE_u8; 64];
        let mut buf = ReadBuf::new(&mut storage);
        buf.put_slice(b"head:");
        assert_eq!(waiting(fd), 10);
        assert_eq!(b.read_buf(&mut buf).await.unwrap(), 10);
        assert_eq!(buf.filled(), b"head:0123456789");
        assert!(buf.initialized()[15..].iter().all(|&x| x == 0xEE));
        assert_eq!(buf.initialized().len(), 64);
        assert_eq!(&storage[..15], b"head:0123456789");
        assert!(storage[15..].iter().all(|&x| x == 0xEE));
    });
}

#[test]
fn a_full_buffer_takes_nothing_from_the_socket() {
    let _wd = watchdog("read_buf_full", 60);
    run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let fd = b.as_raw_fd();
        let data = Rng::new(3).bytes(3000);
        send_and_settle(&mut a, &data, fd).await;
        let mut storage = [MaybeUninit::<u8>::uninit(); 1000];
        let mut buf = ReadBuf::uninit(&mut storage);
        while buf.remaining() > 0 {
            assert!(b.read_buf(&mut buf).await.unwrap() > 0);
        }
        assert_eq!(buf.filled(), &data[..1000]);
        assert_eq!(b.read_buf(&mut buf).await.unwrap(), 0, "nothing fits");
        assert_eq!(
            waiting(fd),
            2000,
            "the full buffer took bytes from the socket"
        );
        // Reused after `clear`: the bytes are still initialised, so nothing is zeroed again.
        buf.clear();
        assert_eq!(buf.initialized().len(), 1000);
        assert_eq!(b.read_buf(&mut buf).await.unwrap(), 1000);
        assert_eq!(buf.filled(), &data[1000..2000]);
    });
}

#[test]
fn end_of_file_leaves_the_buffer_as_it_was() {
    let _wd = watchdog("read_buf_eof", 60);
    run(async {
        let (mut client, mut server) = tcp_pair().await;
        client.write_all(b"last words").await.unwrap();
        client.shutdown().await.unwrap();
        let mut storage = [MaybeUninit::<u8>::uninit(); 100];
        let mut buf = ReadBuf::uninit(&mut storage);
        let mut reads = 0;
        while server.read_buf(&mut buf).await.unwrap() > 0 {
            reads += 1;
            assert!(reads <= 10, "more reads than bytes");
        }
        assert_eq!(buf.filled(), b"last words");
        assert_eq!(buf.initialized().len(), 10);
        // Through a shared reference, like `poll_read`.
        let before = buf.filled().len();
        std::future::poll_fn(|cx| server.poll_read_buf(cx, &mut buf))
            .await
            .unwrap();
        assert_eq!(buf.filled().len(), before);
    });
}

#[test]
fn read_buf_carries_a_large_transfer_byte_for_byte() {
    let _wd = watchdog("read_buf_large", 120);
    run(async {
        let (mut client, mut server) = tcp_pair().await;
        let data = Rng::new(11).bytes(4 << 20);
        let send = async {
            write_chunked(&mut client, &data, &mut Rng::new(12), 100_000).await;
            client.shutdown().await.unwrap();
        };
        let recv = async {
            let mut storage = vec![MaybeUninit::<u8>::uninit(); 10_000];
            let mut pos = 0;
            loop {
                let mut buf = ReadBuf::uninit(&mut storage);
                let n = server.read_buf(&mut buf).await.unwrap();
                if n == 0 {
                    return pos;
                }
                assert_eq!(buf.initialized().len(), n);
                assert!(buf.filled() == &data[pos..pos + n], "bytes {pos}.. differ");
                pos += n;
            }
        };
        let ((), received) = join2(send, recv).await;
        assert_eq!(received, data.len());
    });
}

#[test]
fn read_to_end_reads_into_spare_capacity_byte_for_byte() {
    let _wd = watchdog("read_to_end_spare", 120);
    run(async {
        let (mut client, mut server) = tcp_pair().await;
        let data = Rng::new(5).bytes(1 << 20);
        let send = async {
            write_chunked(&mut client, &data, &mut Rng::new(6), 50_000).await;
            client.shutdown().await.unwrap();
        };
        let mut got = b"prefix".to_vec();
        let (_, n) = join2(send, server.read_to_end(&mut got)).await;
        assert_eq!(n.unwrap(), data.len());
        assert_eq!(&got[..6], b"prefix");
        assert!(got[6..] == data[..]);
    });
}

/// A reader with only `poll_read`: it hands out `chunk` bytes of a counter per call.
struct Counting {
    next: u8,
    chunk: usize,
    /// Reports this many more bytes than it wrote (a broken reader).
    lie: usize,
}

impl AsyncRead for Counting {
    fn poll_read(&mut self, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let n = self.chunk.min(buf.len());
        for b in &mut buf[..n] {
            *b = self.next;
            self.next = self.next.wrapping_add(1);
        }
        Poll::Ready(Ok(n + self.lie))
    }
}

#[test]
fn the_default_poll_read_buf_zeroes_each_byte_at_most_once() {
    run(async {
        let mut r = Counting {
            next: 0,
            chunk: 3,
            lie: 0,
        };
        let mut storage = [MaybeUninit::<u8>::uninit(); 8];
        let mut buf = ReadBuf::uninit(&mut storage);
        assert_eq!(r.read_buf(&mut buf).await.unwrap(), 3);
        assert_eq!(buf.filled(), [0, 1, 2]);
        // It needed a `&mut [u8]`, so the rest was initialised (zeroed) for it.
        assert_eq!(buf.initialized(), [0, 1, 2, 0, 0, 0, 0, 0]);
        assert_eq!(r.read_buf(&mut buf).await.unwrap(), 3);
        assert_eq!(r.read_buf(&mut buf).await.unwrap(), 2);
        assert_eq!(buf.filled(), [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(r.read_buf(&mut buf).await.unwrap(), 0);
    });
}

#[test]
#[should_panic(expected = "would reach past")]
fn a_reader_that_reports_more_than_it_was_given_room_for_panics() {
    run(async {
        let mut r = Counting {
            next: 0,
            chunk: 4,
            lie: 1,
        };
        let mut storage = [MaybeUninit::<u8>::uninit(); 4];
        let mut buf = ReadBuf::uninit(&mut storage);
        let _ = r.read_buf(&mut buf).await;
    });
}

#[test]
fn tcp_stream_reads_through_a_shared_reference() {
    let _wd = watchdog("read_buf_shared", 60);
    run(async {
        let (mut client, server) = tcp_pair().await;
        let server: &TcpStream = &server;
        client.write_all(b"shared").await.unwrap();
        let mut storage = [MaybeUninit::<u8>::uninit(); 6];
        let mut buf = ReadBuf::uninit(&mut storage);
        while buf.remaining() > 0 {
            std::future::poll_fn(|cx| server.poll_read_buf(cx, &mut buf))
                .await
                .unwrap();
        }
        assert_eq!(buf.filled(), b"shared");
    });
}
