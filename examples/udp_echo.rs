//! A UDP echo server: every datagram goes back to its sender.
//!
//! Run it:   cargo run --release --example udp_echo -- --addr 127.0.0.1:7878
//! Poke it:  nc -u 127.0.0.1 7878

use std::io;

use evloop::net::UdpSocket;
use evloop::EventLoop;

mod common;

fn main() -> io::Result<()> {
    let addr = common::parse_addr("udp_echo");
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let socket = UdpSocket::bind(addr)?;
        common::announce(socket.local_addr()?)?;
        // The largest UDP payload over IPv4.
        let mut buf = vec![0u8; 65_507];
        loop {
            let (n, peer) = match socket.recv_from(&mut buf).await {
                Ok(r) => r,
                // An ICMP error from an earlier send to a vanished peer: not ours to stop on.
                Err(_) => continue,
            };
            if let Err(e) = socket.send_to(&buf[..n], peer).await {
                eprintln!("send to {peer} failed: {e}");
            }
        }
    })
}
