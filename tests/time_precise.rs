//! Deadlines under a millisecond: never early, and a loop busy with I/O meanwhile still wakes
//! its sleepers. (How precise they are is measured by the benchmarks, not asserted here.)

use std::time::{Duration, Instant};

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpStream};
use evloop::time::sleep;
use evloop::EventLoop;

#[test]
fn sub_millisecond_sleeps_are_never_early() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        for us in [1u64, 50, 200, 999, 1_001, 1_500] {
            for _ in 0..20 {
                let d = Duration::from_micros(us);
                let start = Instant::now();
                sleep(d).await;
                assert!(start.elapsed() >= d, "{us} µs sleep returned early");
            }
        }
    });
}

#[test]
fn sleepers_wake_while_the_loop_moves_bytes() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = evloop::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 64];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                s.write_all(&buf[..n]).await.unwrap();
            }
        });
        let sleeper = evloop::spawn(async {
            for _ in 0..200 {
                let start = Instant::now();
                sleep(Duration::from_micros(150)).await;
                assert!(start.elapsed() >= Duration::from_micros(150));
            }
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut back = [0u8; 8];
        for i in 0..2_000u64 {
            c.write_all(&i.to_le_bytes()).await.unwrap();
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(u64::from_le_bytes(back), i);
        }
        sleeper.await.unwrap();
        drop(c);
        server.await.unwrap();
    });
}
