//! Helpers shared by the integration tests.
// Each test binary (`mod util;`) compiles all of this module but uses only part of it.
#![allow(dead_code)]

pub mod alloc;
pub mod example;
pub mod net;

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

    /// A generator whose state is exactly `state` (which must not be zero).
    pub fn from_state(state: u64) -> Rng {
        Rng(state)
    }

    /// A generator seeded with `seed` spread over all bits (any seed, zero included, is fine).
    pub fn scrambled(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
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

    /// In `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Fills `buf` with random bytes; never allocates.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }
}

/// Counts its own drops in a shared counter (clones count separately).
#[derive(Clone)]
pub struct DropGuard(pub Counter);

impl Drop for DropGuard {
    fn drop(&mut self) {
        bump(&self.0);
    }
}

/// Yields until `cond` holds (at most `max` times), so a test waits for tasks without sleeping.
pub async fn yield_until(max: usize, mut cond: impl FnMut() -> bool) {
    for _ in 0..max {
        if cond() {
            return;
        }
        evloop::yield_now().await;
    }
    assert!(cond(), "condition not reached after {max} yields");
}

/// Runs `f` to completion on a fresh loop.
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    evloop::EventLoop::new().unwrap().block_on(f)
}

/// Lets every task queued so far run (their wake-ups are queued first in, first out), so that
/// spawned tasks reach the point where they wait. (A `yield_now` of the `block_on` future lets only
/// one queued task run.)
pub async fn settle() {
    evloop::spawn(async {}).await.unwrap();
}

/// A waker that does nothing.
pub fn noop_waker() -> std::task::Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    std::task::Waker::from(std::sync::Arc::new(Noop))
}

/// Polls a pinned future once with a waker that does nothing.
pub fn poll_pinned<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    let waker = noop_waker();
    f.poll(&mut std::task::Context::from_waker(&waker))
}
