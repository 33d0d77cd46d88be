//! TCP over loopback: a 1,000-connection echo with random payloads, half-close, peer reset, refused
//! connects, peek, split halves, vectored writes, readiness, socket options and addresses, and
//! writes to a closed peer (an error, never `SIGPIPE`).

mod util;

use std::cell::Cell;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpStream};
use evloop::time::{sleep, timeout};
use evloop::{yield_now, EventLoop};
use util::net::{
    echo_until_eof, join2, read_and_verify, set_linger_zero, tcp_pair, write_chunked, GUARD,
};
use util::{watchdog, Rng};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Raises the soft descriptor limit to the hard one; fails clearly if `needed` cannot be had.
fn ensure_fd_limit(needed: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `struct rlimit`.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    if lim.rlim_cur < needed && lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid `struct rlimit`; raising the soft limit up to the hard one
        // needs no privilege.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
        if rc == 0 {
            lim = raised;
        }
    }
    assert!(
        lim.rlim_cur >= needed,
        "this test needs {needed} file descriptors but RLIMIT_NOFILE is {} (hard limit {}); raise \
         it with `ulimit -n {needed}`",
        lim.rlim_cur,
        lim.rlim_max
    );
}

// ---------------------------------------------------------------------------------------------
// Echo at scale
// ---------------------------------------------------------------------------------------------

const CONNS: usize = 1_000;

#[test]
fn echo_over_1000_concurrent_connections_with_random_payloads() {
    let _wd = watchdog("echo_over_1000_concurrent_connections", 300);
    ensure_fd_limit(2 * CONNS as u64 + 100);
    let lp = EventLoop::new().unwrap();
    let total = lp.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();

        // Server: accepts CONNS connections, one echo task each.
        let server = evloop::spawn(async move {
            let mut conns = Vec::with_capacity(CONNS);
            for _ in 0..CONNS {
                let (mut s, peer) = listener.accept().await.unwrap();
                assert!(peer.ip().is_loopback());
                conns.push(evloop::spawn(async move { echo_until_eof(&mut s).await }));
            }
            let mut sum = 0;
            for c in conns {
                sum += c.await.unwrap();
            }
            sum
        });

        // Clients: random payloads in random chunks, shutdown, then read the echo to the end.
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                evloop::spawn(async move {
                    let mut rng = Rng::scrambled(i as u64 + 1);
                    let len = rng.range(1024, 64 * 1024);
                    let payload = Rc::new(rng.bytes(len));
                    let stream = TcpStream::connect(addr).await.unwrap();
                    let (mut rd, mut wr) = stream.into_split();
                    let p = payload.clone();
                    let writer = evloop::spawn(async move {
                        write_chunked(&mut wr, &p, &mut rng, 8192).await;
                        wr.shutdown().await.unwrap();
                    });
                    let got = read_and_verify(&mut rd, &payload).await;
                    assert_eq!(got, len, "connection {i}: echo length");
                    writer.await.unwrap();
                    len
                })
            })
            .collect();
        let mut sent = 0;
        for c in clients {
            sent += c.await.unwrap();
        }
        let echoed = server.await.unwrap();
        assert_eq!(sent, echoed);
        sent
    });
    assert_eq!(lp.task_count(), 0);
    assert_eq!(lp.pending_counts(), (0, 0), "every socket deregistered");
    eprintln!("echoed {total} bytes over {CONNS} connections");
}

// ---------------------------------------------------------------------------------------------
// Closing
// ---------------------------------------------------------------------------------------------

#[test]
fn half_close_lets_the_server_still_reply() {
    let _wd = watchdog("half_close_lets_the_server_still_reply", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let (mut client, mut server) = tcp_pair().await;
        let request = Rng::scrambled(7).bytes(100_000);
        let reply = Rng::scrambled(8).bytes(300_000);
        let (req, rep) = (request.clone(), reply.clone());
        let server_task = evloop::spawn(async move {
            // Read the whole request: end of file comes from the client's shutdown.
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.unwrap();
            assert!(got == req, "request differs");
            // The server's writing side is still open.
            server.write_all(&rep).await.unwrap();
            server.shutdown().await.unwrap();
        });
        client.write_all(&request).await.unwrap();
        client.shutdown().await.unwrap();
        // Writing after our own shutdown fails.
        let e = client.write(b"late").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        let got = read_and_verify(&mut client, &reply).await;
        assert_eq!(got, reply.len());
        // End of file is sticky.
        let mut b = [0u8; 4];
        assert_eq!(client.read(&mut b).await.unwrap(), 0);
        server_task.await.unwrap();
    });
}

#[test]
fn peer_reset_gives_errors_not_hangs() {
    let _wd = watchdog("peer_reset_gives_errors_not_hangs", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();

        // 1. The reader is already waiting when the reset comes.
        let peer = std::net::TcpStream::connect(addr).unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        let read_result = Rc::new(Cell::new(None::<io::Result<usize>>));
        let waiting = Rc::new(Cell::new(false));
        let reader = {
            let (r, w) = (read_result.clone(), waiting.clone());
            evloop::spawn(async move {
                let mut buf = [0u8; 64];
                w.set(true);
                r.set(Some(s.read(&mut buf).await));
                s
            })
        };
        while !waiting.get() {
            yield_now().await;
        }
        yield_now().await;
        set_linger_zero(peer.as_raw_fd());
        drop(peer); // sends RST
        let mut s = timeout(GUARD, reader).await.expect("reader hung").unwrap();
        match read_result.take().unwrap() {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            other => panic!("read after reset: {other:?}"),
        }
        // Writing to it fails (bounded: the first or second write reports it).
        let mut err = None;
        for _ in 0..10 {
            match s.write(&[1u8; 1024]).await {
                Ok(_) => yield_now().await,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let e = err.expect("writes to a reset connection keep succeeding");
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "write after reset: {e:?}"
        );

        // 2. The writer is blocked on a full send buffer when the reset comes.
        let peer = std::net::TcpStream::connect(addr).unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        let full = Rc::new(Cell::new(false));
        let f = full.clone();
        let writer = evloop::spawn(async move {
            let chunk = vec![0xA5u8; 64 * 1024];
            // Fill the pipe until a write would block.
            loop {
                match s.try_write(&chunk) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("try_write: {e}"),
                }
            }
            f.set(true);
            // Now blocks: the peer never reads.
            let mut sent = 0usize;
            loop {
                match s.write(&chunk).await {
                    Ok(n) => sent += n,
                    Err(e) => return (e, sent),
                }
                assert!(sent < 1 << 30, "writes never fail");
            }
        });
        while !full.get() {
            yield_now().await;
        }
        sleep(Duration::from_millis(5)).await;
        set_linger_zero(peer.as_raw_fd());
        drop(peer);
        let (e, _) = timeout(GUARD, writer).await.expect("writer hung").unwrap();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "blocked write after reset: {e:?}"
        );

        // 3. The reset side is the evloop client; the std server aborts.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let std_addr = std_listener.local_addr().unwrap();
        let mut client = TcpStream::connect(std_addr).await.unwrap();
        let (srv, _) = std_listener.accept().unwrap();
        set_linger_zero(srv.as_raw_fd());
        drop(srv);
        let mut buf = [0u8; 16];
        match timeout(GUARD, client.read(&mut buf))
            .await
            .expect("read hung")
        {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            other => panic!("read after reset: {other:?}"),
        }
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let _wd = watchdog("connect_to_a_closed_port_is_refused", 60);
    let lp = EventLoop::new().unwrap();
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }; // dropped: nothing listens there now
    lp.block_on(async {
        let e = timeout(GUARD, TcpStream::connect(addr))
            .await
            .expect("connect hung")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e:?}");
        // Several at once, and the loop is clean afterwards.
        let tries: Vec<_> = (0..20)
            .map(|_| evloop::spawn(TcpStream::connect(addr)))
            .collect();
        for t in tries {
            let e = t.await.unwrap().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        }
    });
    assert_eq!(lp.pending_counts().1, 0);
}

// ---------------------------------------------------------------------------------------------
// Stream operations
// ---------------------------------------------------------------------------------------------

#[test]
fn peek_does_not_consume() {
    let _wd = watchdog("peek_does_not_consume", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let (mut client, mut server) = tcp_pair().await;
        let msg = b"hello, peek";
        client.write_all(msg).await.unwrap();
        let mut buf = [0u8; 64];
        let mut n = 0;
        for _ in 0..1000 {
            n = server.peek(&mut buf).await.unwrap();
            assert!(n > 0 && buf[..n] == msg[..n]);
            if n == msg.len() {
                break;
            }
            yield_now().await;
        }
        assert_eq!(n, msg.len());
        // Peeking again sees the same bytes.
        let mut again = [0u8; 5];
        assert_eq!(server.peek(&mut again).await.unwrap(), 5);
        assert_eq!(&again, b"hello");
        // And a read still gets everything.
        let mut all = [0u8; 11];
        server.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, msg);
        // Then peek waits for new data.
        let later = evloop::spawn(async move {
            yield_now().await;
            client.write_all(b"more").await.unwrap();
            client
        });
        let n = server.peek(&mut buf).await.unwrap();
        assert!(n > 0 && buf[..n] == b"more"[..n]);
        let _client = later.await.unwrap();
    });
}

#[test]
fn split_halves_read_and_write_concurrently() {
    let _wd = watchdog("split_halves_read_and_write_concurrently", 120);
    let lp = EventLoop::new().unwrap();
    const LEN: usize = 4 << 20; // far more than the socket buffers hold
    lp.block_on(async {
        let (mut a, mut b) = tcp_pair().await;
        let a_to_b = Rc::new(Rng::scrambled(11).bytes(LEN));
        let b_to_a = Rc::new(Rng::scrambled(12).bytes(LEN));

        // Borrowed halves, both directions at once within one task per side.
        let (ab, ba) = (a_to_b.clone(), b_to_a.clone());
        let side_b = evloop::spawn(async move {
            let (mut rd, mut wr) = b.split();
            let mut rng = Rng::scrambled(13);
            let (got, ()) = join2(read_and_verify(&mut rd, &ab), async {
                write_chunked(&mut wr, &ba, &mut rng, 100_000).await;
                wr.shutdown().await.unwrap();
            })
            .await;
            assert_eq!(got, LEN);
            b
        });
        let (mut rd, mut wr) = a.split();
        let mut rng = Rng::scrambled(14);
        let (got, ()) = join2(read_and_verify(&mut rd, &b_to_a), async {
            write_chunked(&mut wr, &a_to_b, &mut rng, 100_000).await;
            wr.shutdown().await.unwrap();
        })
        .await;
        assert_eq!(got, LEN);
        side_b.await.unwrap();

        // Owned halves in separate tasks.
        let (a, b) = tcp_pair().await;
        let (mut a_rd, mut a_wr) = a.into_split();
        let (mut b_rd, mut b_wr) = b.into_split();
        let (ab, ba) = (a_to_b.clone(), b_to_a.clone());
        let tasks = [
            evloop::spawn(async move {
                write_chunked(&mut a_wr, &ab, &mut Rng::scrambled(15), 70_000).await;
                // Dropping the owned write half shuts the writing side down.
                drop(a_wr);
                0
            }),
            evloop::spawn(async move {
                write_chunked(&mut b_wr, &ba, &mut Rng::scrambled(16), 70_000).await;
                b_wr.shutdown().await.unwrap();
                0
            }),
            {
                let ab = a_to_b.clone();
                evloop::spawn(async move { read_and_verify(&mut b_rd, &ab).await })
            },
            {
                let ba = b_to_a.clone();
                evloop::spawn(async move { read_and_verify(&mut a_rd, &ba).await })
            },
        ];
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap());
        }
        assert_eq!(got, vec![0, 0, LEN, LEN]);
    });
    assert_eq!(lp.pending_counts().1, 0);
}

#[test]
fn write_vectored_sends_every_buffer_in_order() {
    let _wd = watchdog("write_vectored_sends_every_buffer_in_order", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let (mut client, mut server) = tcp_pair().await;
        // Small buffers on a fresh connection: one call takes them all.
        let parts: [&[u8]; 4] = [b"alpha-", b"", b"beta-", b"gamma"];
        let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let n = client.write_vectored(&slices).await.unwrap();
        assert_eq!(n, 16, "a vectored write of 16 bytes to an empty socket");
        let mut buf = [0u8; 16];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"alpha-beta-gamma");

        // Large random buffers: loop until everything is written, advancing by hand.
        let mut rng = Rng::scrambled(21);
        let bufs: Vec<Vec<u8>> = (0..40)
            .map(|_| {
                let n = rng.range(0, 50_000);
                rng.bytes(n)
            })
            .collect();
        let expected: Vec<u8> = bufs.concat();
        let exp = expected.clone();
        let reader = evloop::spawn(async move {
            let got = read_and_verify(&mut server, &exp).await;
            assert_eq!(got, exp.len());
        });
        let (mut idx, mut off) = (0usize, 0usize);
        let mut calls = 0;
        while idx < bufs.len() {
            let mut slices: Vec<IoSlice<'_>> = Vec::new();
            slices.push(IoSlice::new(&bufs[idx][off..]));
            for b in &bufs[idx + 1..] {
                slices.push(IoSlice::new(b));
            }
            let mut n = client.write_vectored(&slices).await.unwrap();
            assert!(n > 0);
            calls += 1;
            while n > 0 && idx < bufs.len() {
                let left = bufs[idx].len() - off;
                if n >= left {
                    n -= left;
                    idx += 1;
                    off = 0;
                } else {
                    off += n;
                    n = 0;
                }
            }
            while idx < bufs.len() && bufs[idx].len() == off {
                idx += 1;
                off = 0;
            }
        }
        client.shutdown().await.unwrap();
        reader.await.unwrap();
        assert!(calls < bufs.len() * 4);
        // All-empty buffers write nothing.
        let empty: [IoSlice<'_>; 2] = [IoSlice::new(b""), IoSlice::new(b"")];
        let mut other = tcp_pair().await.0;
        assert_eq!(other.write_vectored(&empty).await.unwrap(), 0);
    });
}

#[test]
fn readable_and_writable_wait_for_readiness() {
    let _wd = watchdog("readable_and_writable_wait_for_readiness", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let (mut client, server) = tcp_pair().await;
        client.writable().await.unwrap();
        let server = Rc::new(server);

        // Nothing to read: try_read says WouldBlock, and readable() then waits for data.
        let mut buf = [0u8; 32];
        let e = server.try_read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let became_readable = Rc::new(Cell::new(false));
        let (s, f) = (server.clone(), became_readable.clone());
        let waiter = evloop::spawn(async move {
            s.readable().await.unwrap();
            f.set(true);
        });
        sleep(Duration::from_millis(10)).await;
        assert!(
            !became_readable.get(),
            "readable() completed with nothing sent"
        );
        client.write_all(b"wake up").await.unwrap();
        timeout(GUARD, waiter).await.unwrap().unwrap();
        // The standard pattern: readable, then try_read until WouldBlock.
        let mut got = Vec::new();
        while got.len() < 7 {
            server.readable().await.unwrap();
            match server.try_read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_read: {e}"),
            }
        }
        assert_eq!(got, b"wake up");

        // Fill the send buffer: writable() waits until the peer reads.
        let chunk = [0x5Au8; 16 * 1024];
        let mut sent = 0usize;
        loop {
            match server.try_write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("try_write: {e}"),
            }
        }
        assert!(sent > 0);
        let became_writable = Rc::new(Cell::new(false));
        let (s, f) = (server.clone(), became_writable.clone());
        let waiter = evloop::spawn(async move {
            s.writable().await.unwrap();
            f.set(true);
        });
        // No "still not writable after 10 ms" check here: the kernel may move queued data to the
        // peer and grow the send buffer on its own, which legitimately makes the socket writable
        // (such a check failed once under load). What must hold: once the peer drains, it wakes.
        // Drain everything the server sent so far.
        let mut drained = 0usize;
        let mut rbuf = vec![0u8; 64 * 1024];
        while drained < sent {
            let n = client.read(&mut rbuf).await.unwrap();
            assert!(rbuf[..n].iter().all(|&b| b == 0x5A));
            drained += n;
        }
        timeout(GUARD, waiter).await.unwrap().unwrap();
        assert!(became_writable.get());
        assert_eq!(drained, sent);
    });
}

#[test]
fn two_tasks_awaiting_readable_on_one_stream_are_both_woken() {
    let _wd = watchdog("two_tasks_awaiting_readable_on_one_stream", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let (mut client, server) = tcp_pair().await;
        let server = Rc::new(server);
        let mut buf = [0u8; 8];
        // Forget the initial (assumed) readiness.
        assert!(server.try_read(&mut buf).is_err());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let s = server.clone();
                evloop::spawn(async move { s.readable().await.unwrap() })
            })
            .collect();
        yield_now().await;
        yield_now().await;
        client.write_all(b"x").await.unwrap();
        for w in waiters {
            timeout(Duration::from_secs(5), w)
                .await
                .expect("a task awaiting readable() was never woken")
                .unwrap();
        }
    });
}

#[test]
fn nodelay_addresses_and_take_error() {
    let _wd = watchdog("nodelay_addresses_and_take_error", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let laddr = listener.local_addr().unwrap();
        assert!(laddr.ip().is_loopback() && laddr.port() != 0);
        let client = evloop::spawn(async move { TcpStream::connect(laddr).await.unwrap() });
        let (server, peer): (TcpStream, SocketAddr) = listener.accept().await.unwrap();
        let client = client.await.unwrap();

        assert_eq!(client.peer_addr().unwrap(), laddr);
        assert_eq!(client.local_addr().unwrap(), peer);
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
        assert_eq!(server.local_addr().unwrap(), laddr);

        for s in [&client, &server] {
            s.set_nodelay(true).unwrap();
            assert!(s.nodelay().unwrap());
            s.set_nodelay(false).unwrap();
            assert!(!s.nodelay().unwrap());
            assert!(s.take_error().unwrap().is_none());
        }
        listener.set_ttl(64).unwrap();
    });
}

#[test]
fn from_std_streams_and_listeners_work() {
    let _wd = watchdog("from_std_streams_and_listeners_work", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let mut std_client = std::net::TcpStream::connect(addr).unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        std_client.write_all(b"from std").unwrap();
        let mut buf = [0u8; 8];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"from std");
        let mut client = TcpStream::from_std(std_client).unwrap();
        server.write_all(b"back").await.unwrap();
        let mut four = [0u8; 4];
        client.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"back");
    });
}

// ---------------------------------------------------------------------------------------------
// Writes to a closed peer: errors, never SIGPIPE
// ---------------------------------------------------------------------------------------------

/// Blocks `SIGPIPE` on this thread for the guard's life, so that a `SIGPIPE` raised by a write on
/// this thread stays pending where `sigpending` sees it (on Linux, a blocked signal is queued even
/// if its disposition is to ignore it, as it is in Rust programs).
struct SigpipeBlocked {
    old: libc::sigset_t,
}

impl SigpipeBlocked {
    fn new() -> SigpipeBlocked {
        // SAFETY: sigset_t is plain data; an all-zero value is valid storage that sigemptyset and
        // pthread_sigmask initialise.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` and `old` are valid, writable sigset_t values owned by this frame.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            assert_eq!(libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old), 0);
        }
        let guard = SigpipeBlocked { old };
        guard.clear();
        guard
    }

    /// Whether a `SIGPIPE` is pending for this thread.
    fn pending(&self) -> bool {
        // SAFETY: as in `new`.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is valid and writable.
        unsafe {
            assert_eq!(libc::sigpending(&mut set), 0);
            libc::sigismember(&set, libc::SIGPIPE) == 1
        }
    }

    /// Consumes pending `SIGPIPE`s.
    fn clear(&self) {
        while self.pending() {
            // SAFETY: as in `new`.
            let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `set` is valid and initialised by sigemptyset/sigaddset before use; a null
            // siginfo pointer is allowed; SIGPIPE is blocked, so sigtimedwait may take it.
            unsafe {
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGPIPE);
                libc::sigtimedwait(&set, std::ptr::null_mut(), &zero);
            }
        }
    }
}

impl Drop for SigpipeBlocked {
    fn drop(&mut self) {
        self.clear();
        // SAFETY: restores the mask saved in `new`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

#[test]
fn writing_to_a_closed_peer_is_an_error_not_sigpipe() {
    let _wd = watchdog("writing_to_a_closed_peer_is_an_error_not_sigpipe", 60);
    let sig = SigpipeBlocked::new();

    // Control: a plain write(2) on a socket whose writing side is shut down raises SIGPIPE, and the
    // guard sees it.
    {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let _s = l.accept().unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        // SAFETY: writes from a valid 1-byte buffer to an open descriptor.
        let n = unsafe { libc::write(c.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(n, -1);
        assert_eq!(io::Error::last_os_error().kind(), io::ErrorKind::BrokenPipe);
        assert!(sig.pending(), "the SIGPIPE detector does not work here");
        sig.clear();
        assert!(!sig.pending());
    }

    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        // After our own shutdown(Write): EPIPE from write, write_all and write_vectored.
        let (mut client, _server) = tcp_pair().await;
        client.shutdown().await.unwrap();
        let e = client.write(b"x").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        let e = client.write_all(b"xyz").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        let e = client
            .write_vectored(&[IoSlice::new(b"a"), IoSlice::new(b"b")])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        let e = client.try_write(b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        assert!(!sig.pending(), "an evloop write raised SIGPIPE");

        // The peer closed: writes fail once the peer's RST is back (bounded number of tries).
        let (mut client, server) = tcp_pair().await;
        drop(server);
        let mut err = None;
        for _ in 0..1000 {
            match client.write(&[7u8; 512]).await {
                Ok(_) => sleep(Duration::from_millis(1)).await,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let e = err.expect("writes to a closed peer kept succeeding");
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{e:?}"
        );
        // Keep writing: still errors, still no signal.
        for _ in 0..10 {
            assert!(client.write(&[7u8; 512]).await.is_err());
        }
        assert!(!sig.pending(), "an evloop write raised SIGPIPE");

        // Owned write half after the peer is gone.
        let (client, server) = tcp_pair().await;
        drop(server);
        let (_rd, mut wr) = client.into_split();
        let mut failed = false;
        for _ in 0..1000 {
            if wr.write(&[1u8; 512]).await.is_err() {
                failed = true;
                break;
            }
            sleep(Duration::from_millis(1)).await;
        }
        assert!(failed);
        assert!(!sig.pending(), "an evloop write raised SIGPIPE");
    });
    drop(sig);
}

#[test]
fn accepting_from_an_evloop_listener_with_blocking_std_clients() {
    let _wd = watchdog("accepting_with_blocking_std_clients", 60);
    let lp = EventLoop::new().unwrap();
    let listener = lp.block_on(async { TcpListener::bind("127.0.0.1:0").unwrap() });
    let addr = listener.local_addr().unwrap();
    // Clients on other threads, plain blocking std sockets.
    let threads: Vec<_> = (0..8u64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                let payload = Rng::scrambled(100 + i).bytes(50_000);
                s.write_all(&payload).unwrap();
                s.shutdown(Shutdown::Write).unwrap();
                let mut back = Vec::new();
                s.read_to_end(&mut back).unwrap();
                assert!(back == payload, "client {i}: echo differs");
            })
        })
        .collect();
    lp.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..8 {
            let (mut s, _) = listener.accept().await.unwrap();
            conns.push(evloop::spawn(async move {
                let mut data = Vec::new();
                s.read_to_end(&mut data).await.unwrap();
                s.write_all(&data).await.unwrap();
                s.shutdown().await.unwrap();
                data.len()
            }));
        }
        for c in conns {
            assert_eq!(c.await.unwrap(), 50_000);
        }
    });
    for t in threads {
        t.join().unwrap();
    }
}

/// A burst of connects larger than std's and mio's backlog of 128 is queued by the kernel, not
/// dropped: every handshake completes although nothing accepts yet. (With a backlog of 128 the
/// 130th connect stalls until its timeout, and the loop sees SYN cookies and resets under load.)
#[test]
fn a_connect_burst_fits_the_listen_backlog() {
    const BURST: usize = 400;
    let _wd = watchdog("a_connect_burst_fits_the_listen_backlog", 120);
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096);
    if somaxconn <= BURST {
        eprintln!("net.core.somaxconn is {somaxconn}: the kernel caps the backlog; skipping");
        return;
    }
    ensure_fd_limit(BURST as u64 + 100);
    let _lp = EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let clients = std::thread::spawn(move || {
        (0..BURST)
            .map(|i| {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                    .unwrap_or_else(|e| panic!("connect {i} of {BURST}: {e}"))
            })
            .collect::<Vec<_>>()
    });
    let streams = clients.join().unwrap();
    assert_eq!(streams.len(), BURST);
}
