//! TCP echo round trip over loopback (write 64 B, read the 64 B echo) on evloop and on tokio
//! current_thread, client and echo server as two tasks on the same runtime, in one criterion group.
//!
//! Each iteration is one full round trip through the kernel, so most of the time is the kernel's;
//! the difference between the two lines is the runtime's share.
//!
//! Run with: `taskset -c 1 cargo bench -p evloop-bench --bench net -- --warm-up-time 1 --measurement-time 3`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use evloop::io::{AsyncRead as _, AsyncWrite as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const SIZE: usize = 64;

fn evloop_round_trips(iters: u64) -> Duration {
    let lp = evloop::EventLoop::new().expect("event loop");
    lp.block_on(async move {
        let listener = evloop::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        evloop::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            s.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = s.read(&mut buf).await {
                if s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        let mut c = evloop::net::TcpStream::connect(addr)
            .await
            .expect("connect");
        c.set_nodelay(true).expect("nodelay");
        let msg = [7u8; SIZE];
        let mut back = [0u8; SIZE];
        let start = Instant::now();
        for _ in 0..iters {
            c.write_all(&msg).await.expect("write");
            c.read_exact(&mut back).await.expect("read");
        }
        start.elapsed()
    })
}

fn tokio_round_trips(iters: u64) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::task::spawn_local(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            s.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = s.read(&mut buf).await {
                if s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
        c.set_nodelay(true).expect("nodelay");
        let msg = [7u8; SIZE];
        let mut back = [0u8; SIZE];
        let start = Instant::now();
        for _ in 0..iters {
            c.write_all(&msg).await.expect("write");
            c.read_exact(&mut back).await.expect("read");
        }
        start.elapsed()
    })
}

fn tcp_round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_echo_round_trip_64B");
    g.bench_function("evloop", |b| b.iter_custom(evloop_round_trips));
    g.bench_function("tokio", |b| b.iter_custom(tokio_round_trips));
    g.finish();
}

criterion_group!(benches, tcp_round_trip);
criterion_main!(benches);
