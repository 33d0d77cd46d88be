//! The graceful shutdown of the example servers, run as child processes on 127.0.0.1: on SIGTERM
//! or SIGINT a server prints `shutting down`, refuses new connections, lets the transfers in
//! flight finish (up to `--grace`), and exits with status 0.
//!
//! The example binaries are built by a plain `cargo test` (which builds examples). With a filter
//! such as `cargo test --test examples_shutdown`, build them first with `cargo build --examples`.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use util::example::Program;
use util::Rng;

/// How long a test waits for a line, a transfer or an exit before it fails: a hang guard, far
/// longer than any of them takes.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The size of a transfer that spans the shutdown.
const TRANSFER: usize = 8 << 20;

/// How much of it the client sends before the signal (the rest after it).
const BEFORE_SIGNAL: usize = 2 << 20;

/// How much must have come back before the signal is sent.
const BACK_BEFORE_SIGNAL: usize = 1 << 20;

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect to the server");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Checks that a new connection to `addr` is refused, or closed at once without an answer.
fn expect_no_new_connections(addr: SocketAddr) {
    let mut s = match TcpStream::connect(addr) {
        // Refused; or reset while the listener was closing.
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
            ) =>
        {
            return
        }
        Err(e) => panic!("connecting after the shutdown failed oddly: {e}"),
        Ok(s) => s, // queued in a listener about to close: it must be closed without service
    };
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    // An echo server would answer this; a closed connection cannot.
    let _ = s.write_all(b"anyone?");
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
        Ok(n) => panic!("a connection made after `shutting down` was served ({n} bytes back)"),
        Err(e) => panic!("a connection made after `shutting down` was not closed: {e}"),
    }
}

/// A transfer on one connection: a writer thread sends the data, in two parts with a pause
/// between them, and a reader thread reads everything that comes back, until end of stream.
struct Transfer {
    go_on: mpsc::Sender<()>,
    writer: thread::JoinHandle<()>,
    reader: thread::JoinHandle<Vec<u8>>,
    received: Arc<AtomicUsize>,
}

impl Transfer {
    /// Sends `data[..pause_at]` at once; the rest after [`Transfer::go_on`].
    fn start(addr: SocketAddr, data: Arc<Vec<u8>>, pause_at: usize) -> Transfer {
        let stream = connect(addr);
        let mut reading = stream.try_clone().unwrap();
        let received = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&received);
        let reader = thread::spawn(move || {
            let mut back = Vec::with_capacity(TRANSFER + (1 << 16));
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = reading
                    .read(&mut buf)
                    .expect("read what the server sends back");
                if n == 0 {
                    return back;
                }
                back.extend_from_slice(&buf[..n]);
                count.store(back.len(), Ordering::Relaxed);
            }
        });
        let (go_on, go) = mpsc::channel();
        let writer = thread::spawn(move || {
            let mut stream = stream;
            for chunk in data[..pause_at].chunks(64 << 10) {
                stream.write_all(chunk).expect("send to the server");
            }
            // Waits for the test (or for its end, if it failed).
            let _ = go.recv();
            for chunk in data[pause_at..].chunks(64 << 10) {
                stream
                    .write_all(chunk)
                    .expect("send to the server after the signal");
            }
            stream.shutdown(Shutdown::Write).unwrap();
        });
        Transfer {
            go_on,
            writer,
            reader,
            received,
        }
    }

    /// Waits until at least `n` bytes have come back.
    fn wait_received(&self, n: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.received.load(Ordering::Relaxed) < n {
            assert!(
                Instant::now() < deadline,
                "only {} bytes came back within {TIMEOUT:?}",
                self.received.load(Ordering::Relaxed)
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Sends the rest, half-closes, and returns everything that came back.
    fn finish(self) -> Vec<u8> {
        let _ = self.go_on.send(());
        self.writer.join().expect("the writer thread");
        self.reader.join().expect("the reader thread")
    }
}

/// What the server sends back for `data`: the bytes themselves, or gzip data to unpack.
#[derive(Clone, Copy)]
enum Reply {
    Echo,
    Gzip,
}

/// `gzip -dc` of `data`, written on a thread so that neither pipe stalls.
fn gunzip(data: Vec<u8>) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run gzip: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || stdin.write_all(&data));
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    writer.join().unwrap().expect("feed gzip -dc");
    assert!(child.wait().unwrap().success(), "gzip -dc failed");
    out
}

fn check_reply(reply: Reply, sent: &[u8], back: Vec<u8>) {
    let back = match reply {
        Reply::Echo => back,
        Reply::Gzip => {
            assert!(back.starts_with(&[0x1f, 0x8b]), "not gzip data");
            gunzip(back)
        }
    };
    assert_eq!(back.len(), sent.len(), "not every byte came back");
    if let Some(at) = back.iter().zip(sent).position(|(a, b)| a != b) {
        panic!("the bytes differ from offset {at} on");
    }
}

/// The whole scenario: a transfer spans the signal, and the server finishes it before exiting.
fn transfer_spans_shutdown(name: &str, reply: Reply, signal: libc::c_int, seed: u64) {
    let mut server = Program::serve(name, &["--grace", "15"]);
    let data = Arc::new(Rng::new(seed).bytes(TRANSFER));
    let transfer = Transfer::start(server.addr(), Arc::clone(&data), BEFORE_SIGNAL);
    transfer.wait_received(BACK_BEFORE_SIGNAL);

    server.signal(signal);
    server.expect_line("shutting down");
    expect_no_new_connections(server.addr());
    // The connection in flight goes on: the rest of the data is sent after the signal.
    let back = transfer.finish();
    check_reply(reply, &data, back);
    server.assert_exits_0();
}

#[test]
fn echo_finishes_the_transfer_in_flight_on_sigterm() {
    transfer_spans_shutdown("echo", Reply::Echo, libc::SIGTERM, 1);
}

#[test]
fn echo_callbacks_finishes_the_transfer_in_flight_on_sigterm() {
    transfer_spans_shutdown("echo_callbacks", Reply::Echo, libc::SIGTERM, 2);
}

#[test]
fn echo_idle_finishes_the_transfer_in_flight_on_sigterm() {
    transfer_spans_shutdown("echo_idle", Reply::Echo, libc::SIGTERM, 8);
}

#[test]
fn echo_multi_finishes_the_transfer_in_flight_on_sigterm() {
    transfer_spans_shutdown("echo_multi", Reply::Echo, libc::SIGTERM, 7);
}

#[test]
fn compress_finishes_the_transfer_in_flight_on_sigterm() {
    transfer_spans_shutdown("compress", Reply::Gzip, libc::SIGTERM, 3);
}

#[test]
fn sigint_shuts_down_as_sigterm_does() {
    transfer_spans_shutdown("echo_callbacks", Reply::Echo, libc::SIGINT, 4);
    transfer_spans_shutdown("echo", Reply::Echo, libc::SIGINT, 5);
    // At once after the announcement (the servers listen for signals before it), with no
    // connection at all: the server exits straight away.
    for name in [
        "echo",
        "echo_idle",
        "echo_callbacks",
        "echo_multi",
        "compress",
        "udp_echo",
    ] {
        let mut server = Program::serve(name, &[]);
        server.signal(libc::SIGINT);
        server.expect_line("shutting down");
        if name != "udp_echo" {
            expect_no_new_connections(server.addr());
        }
        server.assert_exits_0();
    }
}

/// A client that holds a connection open and idle does not keep the server from exiting: after
/// the grace period the server exits with status 0 anyway, and the connection is closed.
#[test]
fn servers_exit_after_the_grace_period_with_an_idle_connection_open() {
    for (name, reply) in [
        ("echo", Reply::Echo),
        ("echo_idle", Reply::Echo),
        ("echo_callbacks", Reply::Echo),
        ("echo_multi", Reply::Echo),
        ("compress", Reply::Gzip),
    ] {
        let mut server = Program::serve(name, &["--grace", "0.2"]);
        // Some traffic first, and its answer (or, for compress, the start of it), so that the
        // connection is surely being served when the signal comes.
        let mut idle = connect(server.addr());
        // gzip answers only once it has read some of its input (about a megabyte here), and
        // then holds some back until the end of it.
        let (len, want) = match reply {
            Reply::Echo => (256 << 10, 256 << 10),
            Reply::Gzip => (2 << 20, 1),
        };
        let data = Rng::new(6).bytes(len);
        idle.write_all(&data).unwrap();
        let mut back = vec![0u8; data.len() + (1 << 16)];
        let mut got = 0;
        while got < want {
            let n = idle
                .read(&mut back[got..])
                .unwrap_or_else(|e| panic!("`{name}` did not answer: {e}"));
            assert!(n > 0, "`{name}` closed the connection before the signal");
            got += n;
        }
        if let Reply::Echo = reply {
            assert!(back[..got] == data[..], "`{name}` echoed other bytes");
        }

        server.signal(libc::SIGTERM);
        server.expect_line("shutting down");
        expect_no_new_connections(server.addr());
        server.assert_exits_0();
        // The server is gone, and its side of the idle connection with it.
        loop {
            match idle.read(&mut back) {
                Ok(0) => break,
                Ok(_) => {} // the rest of a gzip stream, say
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => panic!("`{name}`: the idle connection was not closed: {e}"),
            }
        }
    }
}

#[test]
fn udp_echo_answers_what_it_received_and_exits_on_sigterm() {
    let mut server = Program::serve("udp_echo", &[]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut rng = Rng::new(7);
    let mut buf = vec![0u8; 65_536];
    // One at a time: each comes back.
    for _ in 0..20 {
        let len = rng.range(1, 1200);
        let datagram = rng.bytes(len);
        client.send_to(&datagram, server.addr()).unwrap();
        let (n, from) = client.recv_from(&mut buf).expect("the echo");
        assert_eq!(from, server.addr());
        assert!(buf[..n] == datagram[..], "a datagram came back changed");
    }
    // A burst, queued in the server's socket before the signal: all of it is answered (the
    // datagrams are small and few, so neither side's buffer drops any).
    let burst: Vec<Vec<u8>> = (0..32).map(|i| rng.bytes(100 + i)).collect();
    for datagram in &burst {
        client.send_to(datagram, server.addr()).unwrap();
    }
    server.signal(libc::SIGTERM);
    server.expect_line("shutting down");
    server.assert_exits_0();
    let mut answered = Vec::new();
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    while answered.len() < burst.len() {
        match client.recv_from(&mut buf) {
            Ok((n, _)) => answered.push(buf[..n].to_vec()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("recv_from: {e}"),
        }
    }
    assert_eq!(
        answered.len(),
        burst.len(),
        "not every datagram received before the shutdown was answered"
    );
    // Each datagram has a distinct length, and they come back in order on loopback.
    assert!(answered == burst, "the answers differ from the datagrams");
}

/// A second signal during the grace period ends it at once, and the exit status is still 0 (the
/// handlers stay installed: a default disposition would kill the process).
#[test]
fn a_second_signal_ends_the_grace_period_with_status_0() {
    for name in [
        "echo",
        "echo_idle",
        "echo_callbacks",
        "echo_multi",
        "compress",
    ] {
        let mut server = Program::serve(name, &["--grace", "60"]);
        let mut idle = connect(server.addr());
        idle.write_all(b"x").unwrap();
        if name != "compress" {
            let mut one = [0u8; 1];
            idle.read_exact(&mut one).unwrap();
        }
        server.signal(libc::SIGINT);
        server.expect_line("shutting down");
        server.signal(libc::SIGTERM);
        // Well before the 60 s grace: the hang guard in `wait_exit` is 20 s.
        server.assert_exits_0();
    }
}
