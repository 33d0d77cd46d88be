//! `TcpSocket` (options before `bind`, the backlog of `listen`) and the `bind_reuseport`s: which
//! binds may share a port, and listeners made this way serve connections.

mod util;

use std::io::{ErrorKind, Read, Write};

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpSocket, UdpSocket};
use evloop::EventLoop;

/// Accepts one connection on `listener` and echoes it until the client half-closes.
async fn echo_one(listener: &TcpListener) {
    let (mut s, _) = listener.accept().await.unwrap();
    let mut buf = [0; 1024];
    loop {
        match s.read(&mut buf).await.unwrap() {
            0 => return,
            n => s.write_all(&buf[..n]).await.unwrap(),
        }
    }
}

fn round_trip(addr: std::net::SocketAddr, msg: &[u8]) {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.write_all(msg).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    assert_eq!(back, msg);
}

#[test]
fn a_tcp_socket_with_a_backlog_listens_and_serves() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(16).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || round_trip(addr, b"through a TcpSocket"));
        echo_one(&listener).await;
        client.join().unwrap();
    });
}

#[test]
fn reuseport_sockets_share_a_port_and_plain_ones_do_not() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let a = TcpListener::bind_reuseport("127.0.0.1:0").unwrap();
        let addr = a.local_addr().unwrap();
        // The option on a TcpSocket and through bind_reuseport are the same thing.
        let b = TcpSocket::new_v4().unwrap();
        b.set_reuseport(true).unwrap();
        b.bind(addr).unwrap();
        let b = b.listen(1024).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
        // A socket without the option may not join them.
        let plain = TcpListener::bind(addr).unwrap_err();
        assert_eq!(plain.kind(), ErrorKind::AddrInUse);
        let c = TcpSocket::new_v4().unwrap();
        assert_eq!(c.bind(addr).unwrap_err().kind(), ErrorKind::AddrInUse);
        // Nor may a reuse-port socket join a plain listener's port.
        let lone = TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = TcpListener::bind_reuseport(lone.local_addr().unwrap()).unwrap_err();
        assert_eq!(taken.kind(), ErrorKind::AddrInUse);
        // Both reuse-port listeners serve: with one closed, the other takes every connection.
        drop(a);
        let client = std::thread::spawn(move || round_trip(addr, b"to the one left"));
        echo_one(&b).await;
        client.join().unwrap();
    });
}

#[test]
fn an_ipv4_address_on_an_ipv6_socket_is_an_error_not_a_panic() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let Ok(s6) = TcpSocket::new_v6() else {
            return; // no IPv6 on this machine: nothing to check
        };
        assert!(s6.bind("127.0.0.1:0".parse().unwrap()).is_err());
    });
}

#[test]
fn udp_reuseport_sockets_share_a_port() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let a = UdpSocket::bind_reuseport("127.0.0.1:0").unwrap();
        let addr = a.local_addr().unwrap();
        let b = UdpSocket::bind_reuseport(addr).unwrap();
        assert_eq!(
            UdpSocket::bind(addr).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );
        // With `a` gone, `b` receives everything sent to the port.
        drop(a);
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"to b", addr).unwrap();
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"to b"[..], sender.local_addr().unwrap())
        );
    });
}
