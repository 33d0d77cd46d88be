//! A UDP echo server: every datagram goes back to its sender.
//!
//! Run it:   cargo run --release --example udp_echo -- --addr 127.0.0.1:7878
//! Poke it:  nc -u 127.0.0.1 7878
//!
//! Stop it with Ctrl-C (or SIGTERM): UDP has no connections to wait for, so it answers the
//! datagrams already received (those it can read without waiting, for up to `--grace` seconds
//! under a flood), then exits with status 0.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use evloop::net::UdpSocket;
use evloop::EventLoop;

mod common;

/// The largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;

fn main() -> io::Result<()> {
    let args = common::parse_args("udp_echo");
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let socket = Rc::new(UdpSocket::bind(args.addr)?);
        // Listening for SIGINT and SIGTERM before the announcement: a signal sent as soon as it
        // is read is not the default one that would end the process.
        let shutdown = common::shutdown_signal()?;
        common::announce(socket.local_addr()?)?;
        // The echo runs in a task of its own, so that the shutdown costs it nothing per datagram.
        let server = evloop::spawn(serve(Rc::clone(&socket)));
        shutdown.cancelled().await;
        // Dropped where it waits: in `recv_from`, which loses nothing (the datagram stays queued),
        // or, rarely, in `send_to` with the send buffer full, which loses that one answer, as UDP
        // may.
        server.abort();
        let answered = answer_queued(&socket, args.grace).await;
        if answered > 0 {
            eprintln!("answered {answered} datagram(s) received before the shutdown");
        }
        Ok(())
    })
}

async fn serve(socket: Rc<UdpSocket>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // An ICMP error from an earlier send to a vanished peer: not ours to stop on.
            Err(_) => continue,
        };
        reply(&socket, &buf[..n], peer).await;
    }
}

async fn reply(socket: &UdpSocket, datagram: &[u8], peer: SocketAddr) {
    if let Err(e) = socket.send_to(datagram, peer).await {
        eprintln!("send to {peer} failed: {e}");
    }
}

/// Answers the datagrams that can be read without waiting; stops when none is left, or after
/// `grace` if they keep coming. Returns how many were answered.
async fn answer_queued(socket: &UdpSocket, grace: Duration) -> usize {
    let deadline = Instant::now() + grace;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut answered = 0;
    // A receive that is not ready at once may only mean that this task used up its budget for the
    // turn: give the loop a turn (which also looks at the socket again) before believing it.
    let mut yielded = false;
    while Instant::now() < deadline {
        match now_or_never(socket.recv_from(&mut buf)).await {
            Some(Ok((n, peer))) => {
                reply(socket, &buf[..n], peer).await;
                answered += 1;
                yielded = false;
            }
            // An ICMP error, as in `serve`.
            Some(Err(_)) => {}
            // Nothing more is queued.
            None if yielded => break,
            None => {
                evloop::yield_now().await;
                yielded = true;
            }
        }
    }
    answered
}

/// Polls `future` once: its output if it is ready at once, else `None`.
async fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}
