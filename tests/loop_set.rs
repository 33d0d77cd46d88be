//! `LoopSet`: loops on their own threads sharing a port through `SO_REUSEPORT` (TCP and UDP, every
//! byte checked, every loop served), cross-loop posts, a failing or panicking loop stopping the
//! others, a loop that ignores the shutdown being abandoned after the grace period, pinning.

mod util;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::loop_set::LoopFailure;
use evloop::net::{TcpListener, UdpSocket};
use evloop::LoopSet;
use util::watchdog;

/// The address loop 0 bound, for the other loops to bind the same port, and how many loops have
/// bound it (the clients start only once every loop listens: before that the kernel can only pick
/// the sockets already there).
#[derive(Default)]
struct Shared(Mutex<(Option<SocketAddr>, usize)>, Condvar);

impl Shared {
    fn publish(&self, addr: SocketAddr) {
        self.0.lock().unwrap().0 = Some(addr);
        self.1.notify_all();
    }

    fn wait(&self) -> SocketAddr {
        let mut a = self.0.lock().unwrap();
        while a.0.is_none() {
            a = self.1.wait(a).unwrap();
        }
        a.0.unwrap()
    }

    /// One more loop has bound the port.
    fn bound(&self) {
        self.0.lock().unwrap().1 += 1;
        self.1.notify_all();
    }

    /// The address, once `loops` loops have bound it.
    fn wait_bound(&self, loops: usize) -> SocketAddr {
        let mut a = self.0.lock().unwrap();
        while a.1 < loops {
            a = self.1.wait(a).unwrap();
        }
        a.0.unwrap()
    }
}

const CLIENTS: usize = 64;

#[test]
fn tcp_connections_spread_over_reuseport_listeners_of_every_loop() {
    let _dog = watchdog("tcp reuseport", 60);
    let set = LoopSet::new().loops(2).handle_signals(false);
    let stop = set.shutdown_handle();
    let shared = Arc::new(Shared::default());
    let addr_for_clients = shared.clone();
    let clients = std::thread::spawn(move || {
        let addr = addr_for_clients.wait_bound(2);
        for i in 0..CLIENTS {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            let msg: Vec<u8> = (0..1000).map(|j| (i * 7 + j) as u8).collect();
            c.write_all(&msg).unwrap();
            c.shutdown(std::net::Shutdown::Write).unwrap();
            let mut back = Vec::new();
            c.read_to_end(&mut back).unwrap();
            assert_eq!(back, msg, "client {i}");
        }
        stop.shutdown();
    });
    let accepted = set
        .run(|ctx| {
            let shared = shared.clone();
            async move {
                // Loop 0 picks the port; the others join it (a ready loop 1 would be told it by loop 0).
                let listener = if ctx.index() == 0 {
                    let l = TcpListener::bind_reuseport("127.0.0.1:0")?;
                    shared.publish(l.local_addr()?);
                    l
                } else {
                    TcpListener::bind_reuseport(shared.wait())?
                };
                shared.bound();
                let mut n = 0u64;
                let token = ctx.shutdown_token().clone();
                while let Some(conn) = token.run_until_cancelled(listener.accept()).await {
                    let (mut s, _) = conn?;
                    n += 1;
                    evloop::spawn(async move {
                        let mut buf = [0; 256];
                        while let Ok(k @ 1..) = s.read(&mut buf).await {
                            s.write_all(&buf[..k]).await.unwrap();
                        }
                    });
                }
                Ok(n)
            }
        })
        .unwrap();
    clients.join().unwrap();
    assert_eq!(accepted.iter().sum::<u64>(), CLIENTS as u64);
    // 64 connections from different source ports all hashed to one of two listeners: 2^-63.
    assert!(accepted.iter().all(|&n| n > 0), "{accepted:?}");
}

#[test]
fn udp_datagrams_spread_over_reuseport_sockets_of_every_loop() {
    let _dog = watchdog("udp reuseport", 60);
    let set = LoopSet::new().loops(2).handle_signals(false);
    let stop = set.shutdown_handle();
    let shared = Arc::new(Shared::default());
    let (got_tx, got_rx) = mpsc::channel::<Vec<u8>>();
    let addr_for_senders = shared.clone();
    let senders = std::thread::spawn(move || {
        let addr = addr_for_senders.wait_bound(2);
        // Loopback does not drop datagrams that the receivers keep up with; each sender waits for
        // its datagram to be seen before the next, so no socket buffer can overflow either.
        let mut seen = BTreeSet::new();
        for i in 0..CLIENTS as u8 {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.send_to(&[i; 100], addr).unwrap();
            let d = got_rx.recv().unwrap();
            assert_eq!(d, [i; 100]);
            seen.insert(i);
        }
        stop.shutdown();
        seen.len()
    });
    let received = set
        .run(|ctx| {
            let (shared, got) = (shared.clone(), got_tx.clone());
            async move {
                let sock = if ctx.index() == 0 {
                    let s = UdpSocket::bind_reuseport("127.0.0.1:0")?;
                    shared.publish(s.local_addr()?);
                    s
                } else {
                    UdpSocket::bind_reuseport(shared.wait())?
                };
                shared.bound();
                let mut n = 0u64;
                let mut buf = [0; 512];
                let token = ctx.shutdown_token().clone();
                while let Some(r) = token.run_until_cancelled(sock.recv_from(&mut buf)).await {
                    let (k, _) = r?;
                    got.send(buf[..k].to_vec()).unwrap();
                    n += 1;
                }
                Ok(n)
            }
        })
        .unwrap();
    assert_eq!(senders.join().unwrap(), CLIENTS);
    assert_eq!(received.iter().sum::<u64>(), CLIENTS as u64);
    assert!(received.iter().all(|&n| n > 0), "{received:?}");
}

#[test]
fn a_panicking_loop_is_reported_and_stops_the_others() {
    let _dog = watchdog("panicking loop", 60);
    let err = LoopSet::new()
        .loops(3)
        .handle_signals(false)
        .run(|ctx| async move {
            if ctx.index() == 1 {
                evloop::yield_now().await;
                panic!("loop one gives up");
            }
            // The others would wait for ever without the set's shutdown.
            ctx.shutdown_token().cancelled().await;
            Ok(ctx.index())
        })
        .unwrap_err();
    let failures = err.failures();
    assert_eq!(failures.len(), 1, "{err}");
    assert_eq!(failures[0].0, 1);
    assert!(
        matches!(&failures[0].1, LoopFailure::Panic(m) if m == "loop one gives up"),
        "{err}"
    );
    assert_eq!(err.to_string(), "loop 1 panicked: loop one gives up");
}

#[test]
fn a_failing_setup_stops_the_others_and_the_error_says_which_loop() {
    let _dog = watchdog("failing loop", 60);
    let err = LoopSet::new()
        .loops(3)
        .handle_signals(false)
        .run(|ctx| async move {
            if ctx.index() == 2 {
                return Err(std::io::Error::other("no listener for me"));
            }
            ctx.shutdown_token().cancelled().await;
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "loop 2 failed: no listener for me");
    let io: std::io::Error = err.into();
    assert!(io.to_string().contains("loop 2"));
}

#[test]
fn a_loop_that_ignores_the_shutdown_is_abandoned_after_the_grace_period() {
    let _dog = watchdog("abandoned loop", 60);
    let set = LoopSet::new()
        .loops(2)
        .handle_signals(false)
        .grace(Duration::from_millis(50));
    let stop = set.shutdown_handle();
    let err = set
        .run(|ctx| {
            let stop = stop.clone();
            async move {
                if ctx.index() == 0 {
                    stop.shutdown();
                    ctx.shutdown_token().cancelled().await;
                    return Ok(());
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        })
        .unwrap_err();
    assert_eq!(err.failures().len(), 1);
    assert!(
        matches!(err.failures()[0], (1, LoopFailure::Abandoned)),
        "{err}"
    );
}

#[test]
fn posts_between_loops_and_every_loop_sees_every_remote() {
    let _dog = watchdog("posts between loops", 60);
    // Each loop posts to every loop (itself included) a closure that reports where it ran.
    let (tx, rx) = mpsc::channel::<(usize, usize)>();
    let n = 4;
    let set = LoopSet::new().loops(n).handle_signals(false);
    let stop = set.shutdown_handle();
    let collector = std::thread::spawn(move || {
        let mut seen = BTreeSet::new();
        while seen.len() < n * n {
            assert!(seen.insert(rx.recv().unwrap()), "a post ran twice");
        }
        stop.shutdown();
        seen
    });
    let indices = set
        .run(|ctx| {
            let tx = tx.clone();
            async move {
                assert_eq!(ctx.loops(), n);
                for (to, remote) in ctx.remotes().iter().enumerate() {
                    let (tx, from) = (tx.clone(), ctx.index());
                    remote
                        .post(move |_| {
                            let _ = tx.send((from, to));
                        })
                        .unwrap();
                }
                ctx.shutdown_token().cancelled().await;
                Ok(ctx.index())
            }
        })
        .unwrap();
    assert_eq!(indices, [0, 1, 2, 3]);
    let seen = collector.join().unwrap();
    assert_eq!(seen.len(), n * n);
}

#[test]
fn pinned_loops_run_on_their_cpu() {
    let cpus = evloop::loop_set::available_cpus().unwrap();
    let pinned = LoopSet::new()
        .loops(2)
        .pin(true)
        .handle_signals(false)
        .run(|_| async { evloop::loop_set::available_cpus() })
        .unwrap();
    for (i, p) in pinned.iter().enumerate() {
        assert_eq!(p, &[cpus[i % cpus.len()]]);
    }
}

#[test]
fn zero_loops_is_an_error() {
    let err = LoopSet::new()
        .loops(0)
        .run(|_| async { Ok(()) })
        .unwrap_err();
    assert!(err.to_string().contains("at least one loop"), "{err}");
}
