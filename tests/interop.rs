//! The optional bridges: `futures_io` reads and writes, `futures_core::Stream` for intervals,
//! incoming connections and the channels' receivers. Run with
//! `cargo test --all-features --test interop`.
#![cfg(all(feature = "futures-io", feature = "stream"))]

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use evloop::interop::{BroadcastStream, BroadcastStreamRecvError, WatchStream};
use evloop::net::{TcpListener, TcpStream, UnixStream};
use evloop::sync::{broadcast, mpsc, remote_channel, watch};
use evloop::EventLoop;
use futures_core::Stream;

/// The next item of `s`, as `StreamExt::next` would give it.
async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

/// Every item of `s` until it ends.
async fn collect<S: Stream + Unpin>(mut s: S) -> Vec<S::Item> {
    let mut out = Vec::new();
    while let Some(item) = next(&mut s).await {
        out.push(item);
    }
    out
}

/// Writes all of `buf` through `futures_io::AsyncWrite`, then closes the writing side.
async fn fio_write_all_close<W: futures_io::AsyncWrite + Unpin>(mut w: W, buf: &[u8]) {
    let mut sent = 0;
    while sent < buf.len() {
        let n = poll_fn(|cx| Pin::new(&mut w).poll_write(cx, &buf[sent..]))
            .await
            .unwrap();
        assert!(n > 0);
        sent += n;
    }
    poll_fn(|cx| Pin::new(&mut w).poll_flush(cx)).await.unwrap();
    poll_fn(|cx| Pin::new(&mut w).poll_close(cx)).await.unwrap();
}

/// Reads through `futures_io::AsyncRead` until end of file.
async fn fio_read_to_end<R: futures_io::AsyncRead + Unpin>(mut r: R) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        let n = poll_fn(|cx| Pin::new(&mut r).poll_read(cx, &mut buf))
            .await
            .unwrap();
        if n == 0 {
            return got;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

/// 256 KiB that is not periodic in any small buffer size, so a lost or repeated chunk shows.
fn payload() -> Vec<u8> {
    (0..256 * 1024u32)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect()
}

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

#[test]
fn futures_io_through_shared_references_both_ways_at_once() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        // The server echoes through `&TcpStream` (reader and writer share the stream), while the
        // client writes 256 KiB and reads it back at the same time: more than the socket buffers
        // hold, so neither side can finish its half alone.
        let echo = evloop::spawn(async move {
            let mut buf = [0u8; 4096];
            let mut reader = &server;
            loop {
                let n = poll_fn(|cx| {
                    futures_io::AsyncRead::poll_read(Pin::new(&mut reader), cx, &mut buf)
                })
                .await
                .unwrap();
                if n == 0 {
                    break;
                }
                let mut writer = &server;
                let mut sent = 0;
                while sent < n {
                    sent += poll_fn(|cx| {
                        futures_io::AsyncWrite::poll_write(Pin::new(&mut writer), cx, &buf[sent..n])
                    })
                    .await
                    .unwrap();
                }
            }
            poll_fn(|cx| futures_io::AsyncWrite::poll_close(Pin::new(&mut &server), cx))
                .await
                .unwrap();
        });
        let client = std::rc::Rc::new(client);
        let writer = client.clone();
        let data = payload();
        let sending = {
            let data = data.clone();
            evloop::spawn(async move { fio_write_all_close(&*writer, &data).await })
        };
        let got = fio_read_to_end(&*client).await;
        sending.await.unwrap();
        echo.await.unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data, "every byte echoed, in order");
    });
}

#[test]
fn futures_io_over_borrowed_halves_tcp_and_unix() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let data = payload();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut a = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut b, _) = listener.accept().await.unwrap();
        // Each side sends the payload and reads the other's, through its borrowed halves at once.
        let (got_a, got_b) = fio_both_ways(a.split(), b.split(), &data).await;
        assert!(
            got_a == data && got_b == data,
            "TCP halves carried every byte"
        );

        let (mut a, mut b) = UnixStream::pair().unwrap();
        let (got_a, got_b) = fio_both_ways(a.split(), b.split(), &data).await;
        assert!(
            got_a == data && got_b == data,
            "Unix halves carried every byte"
        );

        // And `&UnixStream`.
        let (a, b) = UnixStream::pair().unwrap();
        let ((), got) = join2(
            fio_write_all_close(&a, b"by reference"),
            fio_read_to_end(&b),
        )
        .await;
        assert_eq!(got, b"by reference");
    });
}

/// Sends `data` each way between two connected sockets, given as their (read, write) halves, all
/// four at once; returns what `a` and `b` read.
async fn fio_both_ways<R, W>(a: (R, W), b: (R, W), data: &[u8]) -> (Vec<u8>, Vec<u8>)
where
    R: futures_io::AsyncRead + Unpin,
    W: futures_io::AsyncWrite + Unpin,
{
    let ((ar, aw), (br, bw)) = (a, b);
    let ((), got_b, (), got_a) = join4(
        fio_write_all_close(aw, data),
        fio_read_to_end(br),
        fio_write_all_close(bw, data),
        fio_read_to_end(ar),
    )
    .await;
    (got_a, got_b)
}

/// Polls four futures on one task until all are done (no futures-util here).
async fn join4<A, B, C, D>(a: A, b: B, c: C, d: D) -> (A::Output, B::Output, C::Output, D::Output)
where
    A: std::future::Future,
    B: std::future::Future,
    C: std::future::Future,
    D: std::future::Future,
{
    let ((a, b), (c, d)) = join2(join2(a, b), join2(c, d)).await;
    (a, b, c, d)
}

async fn join2<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

#[test]
fn mpsc_receivers_are_streams() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        // Bounded, with more values than room: the producers wait on the stream's consumption.
        let (tx, rx) = mpsc::channel(4);
        for p in 0..3u32 {
            let tx = tx.clone();
            evloop::spawn(async move {
                for i in 0..500 {
                    tx.send(p * 1000 + i).await.unwrap();
                }
            });
        }
        drop(tx);
        let got = collect(rx).await;
        assert_eq!(got.len(), 1500);
        for p in 0..3 {
            let mine: Vec<u32> = got.iter().copied().filter(|v| v / 1000 == p).collect();
            assert_eq!(mine, (0..500).map(|i| p * 1000 + i).collect::<Vec<_>>());
        }

        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.size_hint(), (10, None));
        assert_eq!(next(&mut rx).await, Some(0));
        let late = evloop::spawn(async move {
            evloop::yield_now().await;
            tx.send(10).unwrap();
        });
        assert_eq!(collect(rx).await, (1..=10).collect::<Vec<_>>());
        late.await.unwrap();
    });
}

#[test]
fn remote_receiver_is_a_stream() {
    let lp = EventLoop::new().unwrap();
    let got = lp.block_on(async {
        let (tx, rx) = remote_channel::<(u32, u32)>();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        tx.send((t, i)).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let got = collect(rx).await;
        for t in threads {
            t.join().unwrap();
        }
        got
    });
    assert_eq!(got.len(), 4000);
    for t in 0..4 {
        let mine: Vec<u32> = got.iter().filter(|v| v.0 == t).map(|v| v.1).collect();
        assert_eq!(
            mine,
            (0..1000).collect::<Vec<_>>(),
            "thread {t}'s values in order"
        );
    }
}

#[test]
fn broadcast_stream_yields_lags_as_items() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let (tx, rx) = broadcast::channel(2);
        let mut other = BroadcastStream::new(tx.subscribe());
        let mut stream = BroadcastStream::new(rx);
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        assert_eq!(
            next(&mut stream).await,
            Some(Err(BroadcastStreamRecvError::Lagged(3)))
        );
        assert_eq!(next(&mut stream).await, Some(Ok(3)));
        assert_eq!(next(&mut stream).await, Some(Ok(4)));
        // Now it waits: a value sent later wakes it.
        let sender = evloop::spawn(async move {
            evloop::yield_now().await;
            tx.send(5).unwrap();
            tx
        });
        assert_eq!(next(&mut stream).await, Some(Ok(5)));
        let tx = sender.await.unwrap();

        // A stream dropped while it waits leaves the channel: sends count one receiver fewer.
        let waiting = evloop::spawn(async move { next(&mut stream).await });
        evloop::yield_now().await;
        assert_eq!(tx.receiver_count(), 2);
        waiting.abort();
        assert!(waiting.await.is_err());
        assert_eq!(tx.receiver_count(), 1);

        drop(tx);
        assert_eq!(
            collect(&mut other).await,
            [Err(BroadcastStreamRecvError::Lagged(4)), Ok(4), Ok(5)]
        );
        assert_eq!(next(&mut other).await, None, "stays ended");
    });
}

#[test]
fn watch_stream_yields_the_latest_value() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let (tx, rx) = watch::channel(0);
        let mut changes = WatchStream::from_changes(rx.clone());
        let mut values = WatchStream::new(rx);
        assert_eq!(
            next(&mut values).await,
            Some(0),
            "new: the current value first"
        );
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(next(&mut values).await, Some(2), "only the latest");
        assert_eq!(
            next(&mut changes).await,
            Some(2),
            "from_changes: the first unseen"
        );
        let sender = evloop::spawn(async move {
            evloop::yield_now().await;
            tx.send(3).unwrap();
            // The last value, then the end.
        });
        assert_eq!(next(&mut values).await, Some(3));
        sender.await.unwrap();
        assert_eq!(next(&mut values).await, None);
        assert_eq!(collect(changes).await, [3]);
    });
}
