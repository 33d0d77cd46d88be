//! UDP over loopback: `send_to`/`recv_from`, connected `send`/`recv`, datagrams of 0 and 65,507
//! bytes, truncation and peeking, an ICMP error surfacing as `ConnectionRefused`, and a bounded
//! burst of 1,000 datagrams as windowed request/response with every byte checked.

mod util;

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use evloop::net::UdpSocket;
use evloop::time::timeout;
use evloop::EventLoop;
use util::net::GUARD;
use util::{watchdog, Rng};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;

fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn send_to_and_recv_from() {
    let _wd = watchdog("send_to_and_recv_from", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let a = bind();
        let b = bind();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        assert!(aa.ip().is_loopback() && aa.port() != 0);
        let mut rng = Rng::scrambled(1);
        for i in 0..50 {
            let msg = rng.bytes(1 + i * 37);
            assert_eq!(a.send_to(&msg, ba).await.unwrap(), msg.len());
            let mut buf = vec![0u8; 4096];
            let (n, from) = timeout(GUARD, b.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(from, aa);
            assert_eq!(&buf[..n], &msg[..], "datagram {i}");
            // And back.
            assert_eq!(b.send_to(&buf[..n], from).await.unwrap(), n);
            let (m, from) = timeout(GUARD, a.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!((m, from), (n, ba));
            assert_eq!(&buf[..m], &msg[..]);
        }
        // Not connected: no peer address, and send() fails.
        assert_eq!(
            a.peer_addr().unwrap_err().kind(),
            io::ErrorKind::NotConnected
        );
        assert!(a.send(b"nobody").await.is_err());
    });
}

#[test]
fn connected_send_and_recv() {
    let _wd = watchdog("connected_send_and_recv", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let a = bind();
        let b = bind();
        let stranger = bind();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        assert_eq!(b.peer_addr().unwrap(), a.local_addr().unwrap());

        // A datagram from someone else is filtered out by the connected socket.
        stranger
            .send_to(b"not for you", b.local_addr().unwrap())
            .await
            .unwrap();
        let mut rng = Rng::scrambled(2);
        let mut buf = vec![0u8; 8192];
        for i in 0..50 {
            let msg = rng.bytes(i * 101 % 8000);
            assert_eq!(a.send(&msg).await.unwrap(), msg.len());
            let n = timeout(GUARD, b.recv(&mut buf)).await.unwrap().unwrap();
            assert_eq!(&buf[..n], &msg[..], "datagram {i}");
            b.send(&buf[..n]).await.unwrap();
            let m = timeout(GUARD, a.recv(&mut buf)).await.unwrap().unwrap();
            assert_eq!(&buf[..m], &msg[..]);
        }
    });
}

#[test]
fn empty_and_maximum_size_datagrams_round_trip_exactly() {
    let _wd = watchdog("empty_and_maximum_size_datagrams", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let a = bind();
        let b = bind();
        let ba = b.local_addr().unwrap();
        let mut buf = vec![0xEEu8; 70_000];

        // Zero bytes: a datagram that carries nothing, still delivered with its sender.
        assert_eq!(a.send_to(&[], ba).await.unwrap(), 0);
        let (n, from) = timeout(GUARD, b.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((n, from), (0, a.local_addr().unwrap()));

        // The largest possible payload.
        let big = Rng::scrambled(3).bytes(MAX_DATAGRAM);
        assert_eq!(a.send_to(&big, ba).await.unwrap(), MAX_DATAGRAM);
        let (n, _) = timeout(GUARD, b.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, MAX_DATAGRAM);
        assert!(buf[..n] == big[..], "the 65,507-byte datagram differs");
        // One byte more cannot be sent.
        let too_big = vec![0u8; MAX_DATAGRAM + 1];
        assert!(a.send_to(&too_big, ba).await.is_err());

        // Both again through connected sockets, in one burst: order and boundaries kept.
        a.connect(ba).unwrap();
        a.send(&[]).await.unwrap();
        a.send(&big).await.unwrap();
        a.send(&[]).await.unwrap();
        for expect in [0, MAX_DATAGRAM, 0] {
            let (n, _) = timeout(GUARD, b.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(n, expect);
            if n > 0 {
                assert!(buf[..n] == big[..]);
            }
        }
    });
}

#[test]
fn a_short_buffer_truncates_and_peek_does_not_consume() {
    let _wd = watchdog("a_short_buffer_truncates_and_peek", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let a = bind();
        let b = bind();
        let ba = b.local_addr().unwrap();
        let msg: Vec<u8> = (0..100u8).collect();
        a.send_to(&msg, ba).await.unwrap();
        a.send_to(b"second", ba).await.unwrap();

        let mut big = [0u8; 200];
        let (n, from) = timeout(GUARD, b.peek_from(&mut big))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((n, from), (100, a.local_addr().unwrap()));
        assert_eq!(&big[..n], &msg[..]);
        // Peeking again: the same datagram.
        let (n, _) = b.peek_from(&mut big).await.unwrap();
        assert_eq!(n, 100);

        let mut small = [0u8; 10];
        let (n, _) = b.recv_from(&mut small).await.unwrap();
        assert_eq!(n, 10);
        assert_eq!(&small, &msg[..10]);
        // The rest of the first datagram is gone; the next one is intact.
        let (n, _) = timeout(GUARD, b.recv_from(&mut big))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&big[..n], b"second");
    });
}

#[test]
fn a_send_to_a_closed_port_surfaces_as_connection_refused() {
    let _wd = watchdog("a_send_to_a_closed_port_surfaces", 60);
    let lp = EventLoop::new().unwrap();
    let closed: SocketAddr = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    lp.block_on(async {
        let a = bind();
        a.connect(closed).unwrap();
        a.send(b"anyone?").await.unwrap();
        let mut buf = [0u8; 16];
        let r = timeout(GUARD, a.recv(&mut buf))
            .await
            .expect("recv hung instead of reporting the ICMP error");
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn a_burst_of_1000_datagrams_in_windows_with_every_byte_checked() {
    let _wd = watchdog("a_burst_of_1000_datagrams", 180);
    const COUNT: usize = 1_000;
    const SIZE: usize = 1024;
    const WINDOW: usize = 32;
    // The payload of datagram `seq`: its number, then bytes derived from it.
    fn payload(seq: usize) -> Vec<u8> {
        let mut v = (seq as u32).to_le_bytes().to_vec();
        v.extend(Rng::scrambled(1000 + seq as u64).bytes(SIZE - 4));
        v
    }
    let lp = EventLoop::new().unwrap();
    let (received, resent) = lp.block_on(async {
        let server = bind();
        let client = bind();
        let sa = server.local_addr().unwrap();
        let ca = client.local_addr().unwrap();
        // Echo server; runs until aborted.
        let echo = evloop::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                assert_eq!(from, ca, "datagram from an unexpected sender");
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });

        let mut done: HashSet<usize> = HashSet::new();
        let mut resent = 0usize;
        let mut buf = vec![0u8; 2048];
        for start in (0..COUNT).step_by(WINDOW) {
            let window: Vec<usize> = (start..(start + WINDOW).min(COUNT)).collect();
            let mut rounds = 0;
            while window.iter().any(|s| !done.contains(s)) {
                rounds += 1;
                assert!(rounds <= 20, "datagrams kept getting lost");
                for &seq in window.iter().filter(|s| !done.contains(s)) {
                    if rounds > 1 {
                        resent += 1;
                    }
                    client.send_to(&payload(seq), sa).await.unwrap();
                }
                // Collect replies; a lull of one second means the rest were lost: send them again.
                loop {
                    if window.iter().all(|s| done.contains(s)) {
                        break;
                    }
                    let Ok(r) = timeout(Duration::from_secs(1), client.recv_from(&mut buf)).await
                    else {
                        break;
                    };
                    let (n, from) = r.unwrap();
                    assert_eq!(from, sa);
                    assert_eq!(n, SIZE, "reply length");
                    let seq = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
                    assert!(seq < COUNT, "unknown sequence number {seq}");
                    assert!(buf[..n] == payload(seq)[..], "reply {seq} differs");
                    done.insert(seq);
                }
            }
        }
        echo.abort();
        assert!(echo.await.unwrap_err().is_cancelled());
        (done.len(), resent)
    });
    assert_eq!(received, COUNT);
    eprintln!("{COUNT} datagrams echoed and verified ({resent} resent)");
    assert_eq!(lp.pending_counts(), (0, 0));
}

#[test]
fn a_one_way_burst_from_a_std_socket_delivers_intact_datagrams() {
    // Loopback may drop datagrams under pressure: send in small windows, acknowledged by the
    // receiver, and verify every datagram that arrives (each must be intact, in order, no
    // duplicates).
    let _wd = watchdog("a_one_way_burst_from_a_std_socket", 120);
    const COUNT: u32 = 1_000;
    let lp = EventLoop::new().unwrap();
    let rx = lp.block_on(async { bind() });
    let rx_addr = rx.local_addr().unwrap();
    let ack = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let ack_addr = ack.local_addr().unwrap();
    ack.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let sender = std::thread::spawn(move || {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut seq = 0u32;
        let mut abuf = [0u8; 4];
        while seq < COUNT {
            let end = (seq + 16).min(COUNT);
            for s in seq..end {
                let mut d = s.to_le_bytes().to_vec();
                d.extend(Rng::scrambled(5000 + s as u64).bytes(1020));
                tx.send_to(&d, rx_addr).unwrap();
            }
            // The receiver acknowledges the highest number it has seen; without an ack within a
            // second, the window is sent again.
            match ack.recv_from(&mut abuf) {
                Ok((4, _)) => seq = seq.max(u32::from_le_bytes(abuf) + 1),
                Ok(_) => panic!("bad ack"),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("ack: {e}"),
            }
        }
        tx.send_to(b"end", rx_addr).unwrap();
    });
    let (got, last) = lp.block_on(async {
        let acker = bind();
        let mut buf = vec![0u8; 2048];
        let mut got = 0u32;
        let mut last: Option<u32> = None;
        loop {
            let (n, _) = timeout(GUARD, rx.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            if &buf[..n] == b"end" {
                break;
            }
            assert_eq!(n, 1024);
            let s = u32::from_le_bytes(buf[..4].try_into().unwrap());
            let mut expect = s.to_le_bytes().to_vec();
            expect.extend(Rng::scrambled(5000 + s as u64).bytes(1020));
            assert!(buf[..n] == expect[..], "datagram {s} differs");
            // Resent windows repeat numbers; count only new ones.
            if last < Some(s) {
                got += 1;
                last = Some(s);
            }
            if s % 16 == 15 || s == COUNT - 1 {
                acker.send_to(&s.to_le_bytes(), ack_addr).await.unwrap();
            }
        }
        (got, last)
    });
    sender.join().unwrap();
    assert_eq!(last, Some(COUNT - 1));
    assert!(got > 0 && got <= COUNT);
    eprintln!("{got} of {COUNT} distinct datagrams seen in order");
}

#[test]
fn receiving_again_after_an_icmp_error_waits_instead_of_spinning() {
    let _wd = watchdog("receiving_again_after_an_icmp_error", 60);
    // The loop runs on its own thread so that a spin can be detected from here.
    let (tx, rx) = mpsc::channel::<Result<(), String>>();
    std::thread::spawn(move || {
        let closed: SocketAddr = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap()
        };
        let lp = EventLoop::new().unwrap();
        let r = lp.block_on(async {
            let a = std::rc::Rc::new(bind());
            a.connect(closed).unwrap();
            // The receiver waits first, so the error arrives as an event (EPOLLERR) while it
            // waits, rather than being picked up by the first try.
            let a2 = a.clone();
            let first = evloop::spawn(async move {
                let mut buf = [0u8; 16];
                a2.recv(&mut buf).await
            });
            for _ in 0..10 {
                evloop::yield_now().await;
            }
            a.send(b"anyone?").await.unwrap();
            let first = timeout(GUARD, first)
                .await
                .expect("first recv hung")
                .unwrap();
            let mut buf = [0u8; 16];
            if first.as_ref().map_err(io::Error::kind) != Err(io::ErrorKind::ConnectionRefused) {
                return Err(format!("first recv: {first:?}"));
            }
            // Nothing more arrives: the second receive must wait, so the deadline ends it.
            match timeout(Duration::from_millis(20), a.recv(&mut buf)).await {
                Err(_elapsed) => Ok(()),
                Ok(r) => Err(format!("second recv: {r:?}")),
            }
        });
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(r) => r.unwrap(),
        Err(_) => panic!(
            "the second recv never returned: the loop thread is spinning inside one poll \
             (the 20 ms timeout could not even fire)"
        ),
    }
}
