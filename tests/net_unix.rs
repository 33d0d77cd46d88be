//! Unix domain sockets: listener and stream echo with random payloads over several connections,
//! `UnixStream::pair`, datagram pairs and bound `send_to`/`recv_from`, and connect errors.
//!
//! Socket files live in a fresh directory under the system temp dir, removed at the end.

mod util;

use std::io;
use std::path::Path;
use std::rc::Rc;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{UnixDatagram, UnixListener, UnixStream};
use evloop::time::timeout;
use evloop::EventLoop;
use util::net::{echo_until_eof, join2, read_and_verify, write_chunked, TempDir, GUARD};
use util::{watchdog, Rng};

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

#[test]
fn listener_and_streams_echo_random_payloads_over_several_connections() {
    let _wd = watchdog("listener_and_streams_echo_random_payloads", 120);
    const CONNS: usize = 32;
    let dir = TempDir::new("echo");
    let path = dir.path("echo.sock");
    let lp = EventLoop::new().unwrap();
    let total = lp.block_on(async {
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let server = evloop::spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..CONNS {
                let (mut s, addr) = listener.accept().await.unwrap();
                assert!(addr.as_pathname().is_none(), "clients are unnamed");
                conns.push(evloop::spawn(async move { echo_until_eof(&mut s).await }));
            }
            let mut sum = 0;
            for c in conns {
                sum += c.await.unwrap();
            }
            sum
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                let path = path.clone();
                evloop::spawn(async move {
                    let mut rng = Rng::scrambled(i as u64 + 1);
                    let len = rng.range(0, 256 * 1024);
                    let payload = Rc::new(rng.bytes(len));
                    let s = UnixStream::connect(&path).await.unwrap();
                    assert_eq!(s.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
                    let (mut rd, mut wr) = s.into_split();
                    let p = payload.clone();
                    let writer = evloop::spawn(async move {
                        write_chunked(&mut wr, &p, &mut rng, 20_000).await;
                        wr.shutdown().await.unwrap();
                    });
                    assert_eq!(read_and_verify(&mut rd, &payload).await, len);
                    writer.await.unwrap();
                    len
                })
            })
            .collect();
        let mut sent = 0;
        for c in clients {
            sent += c.await.unwrap();
        }
        assert_eq!(server.await.unwrap(), sent);
        sent
    });
    assert_eq!(lp.pending_counts(), (0, 0));
    eprintln!("echoed {total} bytes over {CONNS} Unix connections");
    drop(lp);
    drop(dir);
    assert!(!path.exists());
}

#[test]
fn stream_pair_carries_data_both_ways_at_once() {
    let _wd = watchdog("stream_pair_carries_data_both_ways_at_once", 120);
    const LEN: usize = 2 << 20;
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        assert!(a.local_addr().unwrap().as_pathname().is_none());
        assert!(b.peer_addr().unwrap().as_pathname().is_none());
        let a_to_b = Rc::new(Rng::scrambled(31).bytes(LEN));
        let b_to_a = Rc::new(Rng::scrambled(32).bytes(LEN));
        let (ab, ba) = (a_to_b.clone(), b_to_a.clone());
        let other = evloop::spawn(async move {
            let (mut rd, mut wr) = b.split();
            let (got, ()) = join2(read_and_verify(&mut rd, &ab), async {
                write_chunked(&mut wr, &ba, &mut Rng::scrambled(33), 50_000).await;
                wr.shutdown().await.unwrap();
            })
            .await;
            got
        });
        let (rd, wr) = a.split();
        let (mut rd, mut wr) = (rd, wr);
        let (got, ()) = join2(read_and_verify(&mut rd, &b_to_a), async {
            write_chunked(&mut wr, &a_to_b, &mut Rng::scrambled(34), 50_000).await;
            wr.shutdown().await.unwrap();
        })
        .await;
        assert_eq!(got, LEN);
        assert_eq!(other.await.unwrap(), LEN);

        // Readiness helpers, and writing after shutdown is an error (no SIGPIPE).
        a.writable().await.unwrap();
        a.readable().await.unwrap(); // end of file is readable
        let e = a.write(b"late").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn std_streams_and_listeners_convert() {
    let _wd = watchdog("std_streams_and_listeners_convert", 60);
    let dir = TempDir::new("fromstd");
    let path = dir.path("l.sock");
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let listener =
            UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path).unwrap()).unwrap();
        let std_client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut client = UnixStream::from_std(std_client).unwrap();
        client.write_all(b"converted").await.unwrap();
        let mut buf = [0u8; 9];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"converted");
    });
}

#[test]
fn connect_errors() {
    let _wd = watchdog("connect_errors", 60);
    let dir = TempDir::new("errors");
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        // Nothing at the path.
        let missing = dir.path("missing.sock");
        let e = timeout(GUARD, UnixStream::connect(&missing))
            .await
            .expect("connect hung")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e:?}");

        // A socket file whose listener is gone.
        let stale = dir.path("stale.sock");
        drop(UnixListener::bind(&stale).unwrap());
        assert!(stale.exists());
        let e = timeout(GUARD, UnixStream::connect(&stale))
            .await
            .expect("connect hung")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e:?}");

        // Binding over an existing path.
        let e = UnixListener::bind(&stale).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e:?}");
    });
    assert_eq!(lp.pending_counts().1, 0);
}

// ---------------------------------------------------------------------------------------------
// Datagrams
// ---------------------------------------------------------------------------------------------

#[test]
fn datagram_pair_keeps_boundaries() {
    let _wd = watchdog("datagram_pair_keeps_boundaries", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut rng = Rng::scrambled(41);
        let msgs: Vec<Vec<u8>> = (0..40)
            .map(|i| {
                let n = if i % 10 == 0 { 0 } else { rng.range(1, 4000) };
                rng.bytes(n)
            })
            .collect();
        // A burst: all sent before any is read (they fit in the socket buffer).
        for m in &msgs {
            assert_eq!(a.send(m).await.unwrap(), m.len());
        }
        let mut buf = vec![0u8; 8192];
        for (i, m) in msgs.iter().enumerate() {
            let n = timeout(GUARD, b.recv(&mut buf)).await.unwrap().unwrap();
            assert_eq!(&buf[..n], &m[..], "datagram {i}");
        }
        // And the other way, one at a time.
        for m in &msgs {
            b.send(m).await.unwrap();
            let n = timeout(GUARD, a.recv(&mut buf)).await.unwrap().unwrap();
            assert_eq!(&buf[..n], &m[..]);
        }
        assert!(a.local_addr().unwrap().as_pathname().is_none());
    });
}

#[test]
fn bound_datagrams_send_to_and_recv_from() {
    let _wd = watchdog("bound_datagrams_send_to_and_recv_from", 60);
    let dir = TempDir::new("dgram");
    let (pa, pb) = (dir.path("a.sock"), dir.path("b.sock"));
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        assert_eq!(a.local_addr().unwrap().as_pathname(), Some(pa.as_path()));
        let mut rng = Rng::scrambled(51);
        let mut buf = vec![0u8; 70_000];
        for i in 0..30 {
            let len = rng.range(0, 60_000);
            let msg = rng.bytes(len);
            assert_eq!(a.send_to(&msg, &pb).await.unwrap(), msg.len());
            let (n, from) = timeout(GUARD, b.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(from.as_pathname(), Some(pa.as_path()), "sender of {i}");
            assert_eq!(&buf[..n], &msg[..], "datagram {i}");
            // Reply to the sender's address.
            let reply_to: &Path = from.as_pathname().unwrap();
            b.send_to(&buf[..n], reply_to).await.unwrap();
            let (m, from) = timeout(GUARD, a.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(from.as_pathname(), Some(pb.as_path()));
            assert_eq!(&buf[..m], &msg[..]);
        }

        // An unbound sender: can send, its address is unnamed; connected, it can receive replies
        // only through the connected peer.
        let u = UnixDatagram::unbound().unwrap();
        u.send_to(b"anonymous", &pb).await.unwrap();
        let (n, from) = timeout(GUARD, b.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"anonymous");
        assert!(from.as_pathname().is_none());
        let c = UnixDatagram::unbound().unwrap();
        c.connect(&pa).unwrap();
        c.send(b"via connect").await.unwrap();
        let (n, _) = timeout(GUARD, a.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"via connect");

        // Sending to a path nobody is bound to.
        let e = a.send_to(b"x", dir.path("nobody.sock")).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e:?}");
    });
    drop(lp);
    drop(dir);
    assert!(!pa.exists() && !pb.exists());
}
