//! evloop's streams and halves through tokio's `AsyncRead`/`AsyncWrite` (feature `tokio-io`), with
//! no tokio runtime anywhere: `tokio_util::codec::Framed` line protocols over TCP and Unix streams
//! and over every kind of half, `tokio::io::copy` moving 4 MiB byte for byte, and reads into
//! tokio's uninitialised `ReadBuf` that zero nothing.
//!
//! Loopback and socket pairs only; every wait is bounded by a watchdog.

#[path = "../../tests/util/mod.rs"]
mod util;

use std::mem::MaybeUninit;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Framed, FramedRead, FramedWrite, LinesCodec};

use evloop::net::UnixStream;
use util::net::{join2, tcp_pair};
use util::{run, watchdog, Rng};

/// `n` random printable lines of up to 200 bytes.
fn lines(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let len = rng.range(0, 200);
            (0..len)
                .map(|_| char::from(b' ' + rng.below(95) as u8))
                .collect()
        })
        .collect()
}

#[test]
fn framed_lines_over_tcp_both_ends_on_evloop() {
    let _wd = watchdog("framed_tcp", 60);
    run(async {
        let (client, server) = tcp_pair().await;
        let sent = lines(1, 500);
        let server = evloop::spawn(async move {
            let mut framed = Framed::new(server, LinesCodec::new_with_max_length(1024));
            let mut n = 0;
            while let Some(line) = framed.next().await {
                framed.send(line.unwrap().to_uppercase()).await.unwrap();
                n += 1;
            }
            n
        });
        let mut framed = Framed::new(client, LinesCodec::new());
        for line in &sent {
            framed.send(line.as_str()).await.unwrap();
            let back = framed.next().await.expect("an answer").unwrap();
            assert_eq!(back, line.to_uppercase());
        }
        // Half-close: the server's stream ends, it stops, and our side sees the end too.
        framed.get_mut().shutdown().await.unwrap();
        assert!(framed.next().await.is_none());
        assert_eq!(server.await.unwrap(), sent.len());
    });
}

#[test]
fn framed_read_and_write_over_every_kind_of_half() {
    let _wd = watchdog("framed_halves", 60);
    run(async {
        let sent = lines(2, 300);

        // Borrowed halves of a Unix stream: one task reads while it writes.
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let (ra, wa) = a.split();
        let (rb, wb) = b.split();
        let echo = async {
            let mut from = FramedRead::new(rb, LinesCodec::new());
            let mut to = FramedWrite::new(wb, LinesCodec::new());
            while let Some(line) = from.next().await {
                to.send(line.unwrap()).await.unwrap();
            }
            to.into_inner().shutdown().await.unwrap();
        };
        let talk = async {
            let mut to = FramedWrite::new(wa, LinesCodec::new());
            for line in &sent {
                to.send(line.as_str()).await.unwrap();
            }
            to.into_inner().shutdown().await.unwrap();
            let got: Vec<String> = FramedRead::new(ra, LinesCodec::new())
                .map(Result::unwrap)
                .collect()
                .await;
            got
        };
        let ((), got) = join2(echo, talk).await;
        assert_eq!(got, sent);

        // Owned halves of a TCP stream, the echo in a task of its own.
        let (client, server) = tcp_pair().await;
        let (sr, sw) = server.into_split();
        let echo = evloop::spawn(async move {
            let mut from = FramedRead::new(sr, LinesCodec::new());
            let mut to = FramedWrite::new(sw, LinesCodec::new());
            while let Some(line) = from.next().await {
                to.send(line.unwrap()).await.unwrap();
            }
            // Dropping the owned write half shuts the writing side down.
        });
        let (cr, mut cw) = client.into_split();
        let reader = evloop::spawn(async move {
            FramedRead::new(cr, LinesCodec::new())
                .map(Result::unwrap)
                .collect::<Vec<String>>()
                .await
        });
        for line in &sent {
            cw.write_all(line.as_bytes()).await.unwrap();
            cw.write_all(b"\n").await.unwrap();
        }
        drop(cw);
        echo.await.unwrap();
        assert_eq!(reader.await.unwrap(), sent);
    });
}

#[test]
fn tokio_io_copy_moves_every_byte() {
    let _wd = watchdog("tokio_copy", 120);
    run(async {
        let data = Rng::new(3).bytes(4 << 20);
        let (mut client, mut server) = tcp_pair().await;
        let echo = evloop::spawn(async move {
            let (mut r, mut w) = server.split();
            let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
            w.shutdown().await.unwrap();
            n
        });
        let (mut cr, mut cw) = client.split();
        let send = async {
            cw.write_all(&data).await.unwrap();
            cw.shutdown().await.unwrap();
        };
        let mut back = Vec::new();
        let ((), got) = join2(send, cr.read_to_end(&mut back)).await;
        assert_eq!(got.unwrap(), data.len());
        assert!(back == data, "the echo differs");
        assert_eq!(echo.await.unwrap(), data.len() as u64);
    });
}

#[test]
fn reads_into_tokio_read_buf_zero_nothing() {
    let _wd = watchdog("tokio_read_buf", 60);
    run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        evloop::io::AsyncWrite::write_all(&mut a, b"0123456789")
            .await
            .unwrap();
        let mut storage = [MaybeUninit::<u8>::uninit(); 4096];
        let mut buf = tokio::io::ReadBuf::uninit(&mut storage);
        std::future::poll_fn(|cx| {
            tokio::io::AsyncRead::poll_read(std::pin::Pin::new(&mut b), cx, &mut buf)
        })
        .await
        .unwrap();
        assert_eq!(buf.filled(), b"0123456789");
        // Only what `recv` wrote counts as initialised: nothing was zeroed.
        assert_eq!(buf.initialized().len(), 10);
    });
}
