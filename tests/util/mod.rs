//! Helpers shared by the integration tests. Each test file uses a different subset.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

/// A shared, growable record of what happened, in order.
pub type Log<T> = Rc<RefCell<Vec<T>>>;

pub fn log<T>() -> Log<T> {
    Rc::new(RefCell::new(Vec::new()))
}

/// A shared counter.
pub type Counter = Rc<Cell<usize>>;

pub fn counter() -> Counter {
    Rc::new(Cell::new(0))
}

pub fn bump(c: &Counter) {
    c.set(c.get() + 1);
}

/// A non-blocking UDP socket bound to an ephemeral port on 127.0.0.1, and its address.
pub fn udp_bound() -> (mio::net::UdpSocket, SocketAddr) {
    let sock = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = sock.local_addr().unwrap();
    (sock, addr)
}

/// A plain blocking UDP socket to send datagrams from.
pub fn udp_sender() -> std::net::UdpSocket {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap()
}

/// Reads datagrams until `WouldBlock`; returns how many were read. Panics on any other error.
pub fn drain_udp(sock: &mio::net::UdpSocket) -> usize {
    let mut buf = [0u8; 256];
    let mut n = 0;
    loop {
        match sock.recv(&mut buf) {
            Ok(_) => n += 1,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return n,
            Err(e) => panic!("recv failed: {e}"),
        }
    }
}

/// Aborts the whole test process if it is still alive after `secs` seconds: a hang guard for tests
/// that block in the loop. Dropping it disarms it.
pub struct Watchdog {
    disarm: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn watchdog(what: &'static str, secs: u64) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(secs)) {
            eprintln!("watchdog: test `{what}` still running after {secs} s, aborting");
            std::process::abort();
        }
    });
    Watchdog {
        disarm: Some(tx),
        thread: Some(thread),
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.disarm.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A tiny deterministic PRNG (xorshift64*), so tests need no extra dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
