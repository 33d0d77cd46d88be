//! Name lookup: `lookup_host`, and host names in `TcpStream::connect`, the binds and `send_to`.
//!
//! Only `localhost` is ever resolved: no other name reaches the resolver, and nothing leaves the
//! machine. Malformed names are refused before any lookup, and the synchronous binds never look
//! anything up. That the loop keeps running during a lookup is shown without timing: the pool's
//! only thread is held by a job that a timer on the loop releases, so a lookup can finish only
//! after the loop ticked.

mod util;

use std::cell::Cell;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{lookup_host, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use evloop::{EventLoop, Handle, JoinHandle};

fn run<T>(what: &'static str, f: impl std::future::Future<Output = T>) -> T {
    let _dog = util::watchdog(what, 60);
    EventLoop::new().unwrap().block_on(f)
}

/// Holds the blocking pool's only thread until `release` is sent.
fn hold_pool_until_released() -> (mpsc::Sender<()>, evloop::BlockingHandle<()>) {
    Handle::current().set_blocking_threads(1);
    let (release, wait) = mpsc::channel::<()>();
    (
        release,
        evloop::spawn_blocking(move || wait.recv().unwrap()),
    )
}

/// Holds the blocking pool's only thread until the returned task (a timer on the loop) has ticked
/// `ticks` times; the counter says how far it got.
fn hold_pool(ticks: u32) -> (Rc<Cell<u32>>, JoinHandle<()>, evloop::BlockingHandle<()>) {
    let (release, blocker) = hold_pool_until_released();
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    let ticker = evloop::spawn(async move {
        let mut every = evloop::time::interval(Duration::from_millis(1));
        while c.get() < ticks {
            every.tick().await;
            c.set(c.get() + 1);
        }
        release.send(()).unwrap();
    });
    (count, ticker, blocker)
}

async fn addrs<A: ToSocketAddrs>(a: A) -> Vec<SocketAddr> {
    lookup_host(a).await.unwrap().collect()
}

#[test]
fn localhost_resolves_to_loopback() {
    run("localhost_resolves_to_loopback", async {
        let addrs: Vec<SocketAddr> = lookup_host("localhost:0").await.unwrap().collect();
        assert!(!addrs.is_empty());
        for a in &addrs {
            assert!(a.ip().is_loopback(), "{a}");
            assert_eq!(a.port(), 0);
        }
        let tuple: Vec<SocketAddr> = lookup_host(("localhost", 8080)).await.unwrap().collect();
        assert!(
            !tuple.is_empty()
                && tuple
                    .iter()
                    .all(|a| a.ip().is_loopback() && a.port() == 8080)
        );
        let owned: Vec<SocketAddr> = lookup_host(String::from("LOCALHOST:1"))
            .await
            .unwrap()
            .collect();
        assert!(owned.iter().all(|a| a.ip().is_loopback() && a.port() == 1));
    });
}

#[test]
fn numeric_addresses_do_not_wait_for_the_pool() {
    run("numeric_addresses_do_not_wait_for_the_pool", async {
        // Were any of these handed to the pool, it would wait forever (the watchdog would abort).
        let (release, blocker) = hold_pool_until_released();
        let v4 = SocketAddr::from(([127, 0, 0, 1], 80));
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 80));
        assert_eq!(addrs("127.0.0.1:80").await, [v4]);
        assert_eq!(addrs(String::from("[::1]:80")).await, [v6]);
        assert_eq!(addrs(("::1", 80)).await, [v6]);
        assert_eq!(addrs(("[::1]", 80)).await, [v6]);
        assert_eq!(addrs(v4).await, [v4]);
        assert_eq!(addrs(&v4).await, [v4]);
        assert_eq!(addrs((IpAddr::V4(Ipv4Addr::LOCALHOST), 80)).await, [v4]);
        assert_eq!(addrs((Ipv6Addr::LOCALHOST, 80)).await, [v6]);
        assert_eq!(addrs(&[v4, v6][..]).await, [v4, v6]);
        // A numeric connect needs no lookup either.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        TcpStream::connect(addr.to_string()).await.unwrap();
        listener.accept().await.unwrap();
        release.send(()).unwrap();
        blocker.await.unwrap();
    });
}

#[test]
fn connect_to_localhost_reaches_a_listener_on_127_0_0_1() {
    run("connect_to_localhost", async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // `localhost` may list `::1` first, where nothing listens: connect tries the next address.
        for target in [format!("localhost:{port}"), format!("LocalHost:{port}")] {
            let client = evloop::spawn(async move {
                let mut s = TcpStream::connect(target.as_str()).await?;
                s.write_all(b"ping").await?;
                Ok::<_, std::io::Error>(s)
            });
            let (mut conn, peer) = listener.accept().await.unwrap();
            assert!(peer.ip().is_loopback());
            let mut buf = [0; 4];
            conn.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
            let s = client.await.unwrap().unwrap();
            assert_eq!(s.peer_addr().unwrap().port(), port);
        }
        let s = evloop::spawn(TcpStream::connect(("localhost", port)));
        listener.accept().await.unwrap();
        s.await.unwrap().unwrap();
    });
}

#[test]
fn malformed_names_are_errors_without_a_lookup() {
    run("malformed_names", async {
        for bad in [
            "no..such:1",
            "localhost",
            "localhost:port",
            "localhost:65536",
            ":80",
            "-dash:1",
            "sp ace:1",
        ] {
            let e = lookup_host(bad).await.map(drop).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}: {e}");
            let e = TcpStream::connect(bad).await.map(drop).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}: {e}");
        }
        let e = lookup_host(("no..such", 1)).await.map(drop).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn binds_take_localhost_and_refuse_other_names_without_a_lookup() {
    run("binds", async {
        let l = TcpListener::bind("localhost:0").unwrap();
        assert_eq!(l.local_addr().unwrap().ip(), Ipv4Addr::LOCALHOST);
        let l = TcpListener::bind(("localhost", 0)).unwrap();
        assert!(l.local_addr().unwrap().ip().is_loopback());
        let u = UdpSocket::bind("localhost:0").unwrap();
        assert_eq!(u.local_addr().unwrap().ip(), Ipv4Addr::LOCALHOST);
        // The synchronous binds never look a name up: this one is refused as it is.
        for name in ["not-localhost.invalid:0", "no..such:0"] {
            let e = TcpListener::bind(name).map(drop).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            let e = UdpSocket::bind(name).map(drop).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            assert_eq!(u.connect(name).unwrap_err().kind(), ErrorKind::InvalidInput);
        }
        // Bind to what a lookup found.
        let found: Vec<SocketAddr> = lookup_host("localhost:0").await.unwrap().collect();
        let l = TcpListener::bind(&found[..]).unwrap();
        assert!(l.local_addr().unwrap().ip().is_loopback());

        // UDP: connect to localhost (127.0.0.1, no lookup), and send_to a name (resolved on the
        // pool; its first address is used, so only when that is IPv4 can this v4 socket use it).
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = peer.local_addr().unwrap().port();
        let mut buf = [0; 8];
        if addrs(("localhost", port)).await[0].is_ipv4() {
            u.send_to(b"to", ("localhost", port)).await.unwrap();
            let (n, from) = peer.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"to"[..], u.local_addr().unwrap()));
        }
        u.connect(("localhost", port)).unwrap();
        u.send(b"hi").await.unwrap();
        let (n, from) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hi"[..], u.local_addr().unwrap()));
    });
}

#[test]
fn the_loop_keeps_running_while_a_lookup_waits() {
    run("the_loop_keeps_running_while_a_lookup_waits", async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();

        let (count, ticker, blocker) = hold_pool(5);
        let addrs: Vec<SocketAddr> = lookup_host(("localhost", port)).await.unwrap().collect();
        assert_eq!(
            count.get(),
            5,
            "the lookup finished before the loop released the pool"
        );
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
        ticker.await.unwrap();
        blocker.await.unwrap();

        let (count, ticker, blocker) = hold_pool(5);
        let connect = evloop::spawn(TcpStream::connect(format!("localhost:{port}")));
        listener.accept().await.unwrap();
        assert_eq!(
            count.get(),
            5,
            "connect resolved before the loop released the pool"
        );
        connect.await.unwrap().unwrap();
        ticker.await.unwrap();
        blocker.await.unwrap();
    });
}
