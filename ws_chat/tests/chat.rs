//! End to end: the `ws_chat` server as a child process, and real WebSocket clients (tungstenite's
//! blocking client on std sockets) talking to it over loopback. Every message is checked whole.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

/// A hang guard, not a measurement: every wait below normally ends in milliseconds.
const GUARD: Duration = Duration::from_secs(30);

type Client = WebSocket<TcpStream>;

/// The server, killed when dropped (if it has not exited).
struct Server {
    child: Child,
    addr: SocketAddr,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ws_chat"))
            .args(["--addr", "127.0.0.1:0", "--grace", "10"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start ws_chat");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let first = lines.recv_timeout(GUARD).expect("a first line");
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("not `listening on ADDR`: {first:?}"))
            .parse()
            .unwrap();
        Server { child, addr, lines }
    }

    /// Waits for the line `expected` on the server's stdout (skipping others).
    fn wait_for_line(&self, expected: &str) {
        loop {
            let line = self
                .lines
                .recv_timeout(GUARD)
                .unwrap_or_else(|e| panic!("no line {expected:?} from the server: {e}"));
            if line == expected {
                return;
            }
        }
    }

    fn sigterm(&self) {
        // SAFETY: `kill` takes no pointers; the pid is our own child's, not yet reaped.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
    }

    fn wait(&mut self) -> ExitStatus {
        for _ in 0..3000 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the server did not exit");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebSocket client that has joined as `nick`: the welcome and its own join notice read.
fn join(addr: SocketAddr, nick: &str) -> Client {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    let (mut ws, response) = tungstenite::client(format!("ws://{addr}/"), stream)
        .unwrap_or_else(|e| panic!("handshake: {e}"));
    assert_eq!(response.status(), 101);
    expect(&mut ws, "welcome! what is your nickname?");
    ws.send(Message::text(nick)).unwrap();
    expect(&mut ws, &format!("* {nick} joined"));
    ws
}

/// Reads the next text message, which must be `expected`.
fn expect(ws: &mut Client, expected: &str) {
    match ws.read() {
        Ok(Message::Text(text)) => assert_eq!(text.as_str(), expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

/// Reads text messages until one satisfies `pred`; returns it.
fn read_until(ws: &mut Client, what: &str, pred: impl Fn(&str) -> bool) -> String {
    for _ in 0..100_000 {
        match ws.read() {
            Ok(Message::Text(text)) if pred(text.as_str()) => return text.to_string(),
            Ok(Message::Text(_)) => {}
            other => panic!("waiting for {what}, got {other:?}"),
        }
    }
    panic!("no {what}");
}

/// `n` bytes of text that is not periodic in any small length, so a lost or repeated piece shows.
fn text_of(n: usize) -> String {
    (0..n)
        .map(|i| char::from(b'a' + ((i * 7 + i / 26) % 26) as u8))
        .collect()
}

#[test]
fn clients_chat_join_and_leave() {
    let server = Server::start();
    let mut alice = join(server.addr, "alice");
    server.wait_for_line("alice joined");
    let mut bob = join(server.addr, "bob");
    expect(&mut alice, "* bob joined");

    alice.send(Message::text("hello bob")).unwrap();
    expect(&mut alice, "alice: hello bob");
    expect(&mut bob, "alice: hello bob");

    // A long message (just under the limit) arrives whole, in one message, to everyone.
    let long = text_of(4000);
    bob.send(Message::text(long.clone())).unwrap();
    let expected = format!("bob: {long}");
    expect(&mut bob, &expected);
    expect(&mut alice, &expected);

    // Leaving with the closing handshake.
    bob.close(None).unwrap();
    loop {
        match bob.read() {
            Ok(Message::Close(_)) | Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("closing: {e}"),
        }
    }
    expect(&mut alice, "* bob left");

    // Leaving by dropping the connection.
    let carol = join(server.addr, "carol");
    expect(&mut alice, "* carol joined");
    drop(carol);
    expect(&mut alice, "* carol left");
}

#[test]
fn a_message_over_the_limit_disconnects_its_sender() {
    let server = Server::start();
    let mut alice = join(server.addr, "alice");
    let mut mallory = join(server.addr, "mallory");
    expect(&mut alice, "* mallory joined");
    mallory.send(Message::text(text_of(5000))).unwrap();
    let notice = read_until(&mut alice, "mallory's disconnection", |t| {
        t.starts_with("* mallory")
    });
    assert!(
        notice.starts_with("* mallory was disconnected: ") && notice.contains("too long"),
        "{notice}"
    );
    // The rest of the room goes on.
    alice.send(Message::text("still here")).unwrap();
    expect(&mut alice, "alice: still here");
}

#[test]
fn a_client_that_does_not_read_is_disconnected_not_waited_for() {
    let server = Server::start();
    let mut alice = join(server.addr, "alice");
    let _carol = join(server.addr, "carol"); // never reads again
    expect(&mut alice, "* carol joined");
    let chunk = text_of(4000);
    // Alice keeps talking and reads her own messages back; carol's socket buffers fill, then her
    // queue in the server, and she is let go. The bound only stops a broken server from looping.
    for i in 0..50_000 {
        alice.send(Message::text(format!("{i} {chunk}"))).unwrap();
        match alice.read() {
            Ok(Message::Text(t)) if t.as_str() == format!("alice: {i} {chunk}") => {}
            Ok(Message::Text(t)) => {
                assert!(
                    t.starts_with("* carol was disconnected: not reading ("),
                    "unexpected: {}",
                    &t[..t.len().min(80)]
                );
                expect(&mut alice, &format!("alice: {i} {chunk}"));
                return;
            }
            other => panic!("{other:?}"),
        }
    }
    panic!("carol was never disconnected");
}

#[test]
fn something_that_is_not_a_websocket_client_is_turned_away() {
    let server = Server::start();
    let mut plain = TcpStream::connect(server.addr).unwrap();
    plain.set_read_timeout(Some(GUARD)).unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    plain.read_to_end(&mut reply).unwrap(); // the server closes the connection
                                            // tungstenite refuses the request by closing the connection, without an HTTP answer.
    assert_eq!(String::from_utf8_lossy(&reply), "");
    // And serves WebSocket clients as before.
    let mut alice = join(server.addr, "alice");
    alice.send(Message::text("hi")).unwrap();
    expect(&mut alice, "alice: hi");
}

#[test]
fn sigterm_says_goodbye_with_a_close_frame_and_exits_0() {
    let mut server = Server::start();
    let mut alice = join(server.addr, "alice");
    let mut bob = join(server.addr, "bob");
    expect(&mut alice, "* bob joined");
    alice.send(Message::text("before the signal")).unwrap();
    expect(&mut alice, "alice: before the signal");
    expect(&mut bob, "alice: before the signal");

    server.sigterm();
    server.wait_for_line("shutting down");
    for client in [&mut alice, &mut bob] {
        expect(client, "* server shutting down");
        match client.read() {
            Ok(Message::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::Away);
                assert_eq!(frame.reason.as_str(), "server shutting down");
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
        // tungstenite queued the reply to the close frame: flushing it completes the handshake.
        loop {
            match client.flush().and_then(|()| client.read()) {
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => break,
                Err(e) => panic!("closing: {e}"),
            }
        }
    }
    assert!(server.wait().success(), "exit status 0");
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "the listener is gone"
    );
}
