//! The optional bridges: `futures_io` reads and writes, `futures_core::Stream` for intervals and
//! incoming connections. Run with `cargo test --all-features --test interop`.
#![cfg(all(feature = "futures-io", feature = "stream"))]

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use evloop::net::{TcpListener, TcpStream};
use evloop::EventLoop;
use futures_core::Stream;

#[test]
fn futures_io_round_trip_over_tcp() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut incoming = listener.incoming();
        let mut server = poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx))
            .await
            .expect("incoming never ends")
            .unwrap();

        let msg = b"through futures-io";
        let mut sent = 0;
        while sent < msg.len() {
            sent += poll_fn(|cx| {
                futures_io::AsyncWrite::poll_write(Pin::new(&mut client), cx, &msg[sent..])
            })
            .await
            .unwrap();
        }
        poll_fn(|cx| futures_io::AsyncWrite::poll_close(Pin::new(&mut client), cx))
            .await
            .unwrap();

        let mut got = Vec::new();
        let mut buf = [0u8; 8];
        loop {
            let n =
                poll_fn(|cx| futures_io::AsyncRead::poll_read(Pin::new(&mut server), cx, &mut buf))
                    .await
                    .unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, msg);
    });
}

#[test]
fn interval_is_a_stream() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let mut every = evloop::time::interval(Duration::from_millis(1));
        let mut last = None;
        for _ in 0..3 {
            let at = poll_fn(|cx| Pin::new(&mut every).poll_next(cx))
                .await
                .unwrap();
            assert!(last.is_none_or(|l| at > l), "ticks move forward");
            last = Some(at);
        }
    });
}
