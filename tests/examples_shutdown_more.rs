//! Graceful shutdown of more example programs, run as child processes: on SIGTERM each prints
//! `shutting down`, stops accepting, lets what is in flight finish, and exits with status 0. (The
//! benchmark peers `echo_mio` and `echo_tokio` are checked the same way in
//! `bench/tests/peers_shutdown.rs`.)
//!
//! - `chat`: every client is told `* server shutting down`; the server exits once they left, or
//!   cuts them off at the grace period.
//! - `webhook`, `polling` (their services alone, with `--addr`): a job accepted before the signal
//!   still runs, and the webhook's callback still arrives.
//! - `task_queue`: stops taking jobs, says what was left queued, prints its summary.
//!
//! Loopback only. Every wait is bounded (a hang fails the test, and a watchdog aborts the run);
//! nothing asserts on timing. The example binaries are built by a plain `cargo test`; with a
//! filter such as `cargo test --test examples_shutdown_more`, build them first with
//! `cargo build --examples`.

mod util;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;

use util::example::{assert_refused, connect, Program, LIMIT};

/// The watchdog of each test: past this, the whole test process aborts.
const WATCHDOG_SECS: u64 = 90;

/// Reads one line from `reader`, without its line ending; `None` at end of file.
fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        Err(e) => panic!("reading a line: {e}"),
    }
}

/// Reads until end of file (a reset counts as one): the server closed the connection.
fn assert_closed(stream: &mut impl Read) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the connection was not closed: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The chat server

const NOTICE: &str = "* server shutting down";

/// A chat client: its socket, and a buffered reader on a clone of it.
struct ChatClient {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl ChatClient {
    /// Connects and reads the welcome line; sends `nick` as the nickname if there is one.
    fn connect(addr: SocketAddr, nick: Option<&str>) -> ChatClient {
        let stream = connect(addr);
        let mut client = ChatClient {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        let welcome = client.line().expect("the welcome line");
        assert!(welcome.starts_with("welcome!"), "{welcome}");
        if let Some(nick) = nick {
            client.say(nick);
            client.expect(&format!("* {nick} joined"));
        }
        client
    }

    fn say(&mut self, line: &str) {
        writeln!(self.stream, "{line}").expect("send to the chat");
    }

    fn line(&mut self) -> Option<String> {
        read_line(&mut self.reader)
    }

    /// Reads lines until `wanted`.
    fn expect(&mut self, wanted: &str) {
        loop {
            match self.line() {
                Some(line) if line == wanted => return,
                Some(_) => {}
                None => panic!("the connection ended before `{wanted}`"),
            }
        }
    }
}

/// The clients are told; they keep chatting, then leave, and the server exits 0 with no grace
/// period left to wait for. A client that never gave its name is told, and closed.
#[test]
fn chat_tells_clients_it_shuts_down_and_exits_once_they_left() {
    let _guard = util::watchdog("chat (clients leave)", WATCHDOG_SECS);
    let mut program = Program::serve("chat", &["--grace", "60"]);
    let mut alice = ChatClient::connect(program.addr(), Some("alice"));
    let mut bob = ChatClient::connect(program.addr(), Some("bob"));
    alice.expect("* bob joined");
    let mut nameless = ChatClient::connect(program.addr(), None);
    program.wait_for("`bob joined`", |l| l == "bob joined");

    program.sigterm();
    program.wait_for("`shutting down`", |l| l == "shutting down");
    alice.expect(NOTICE);
    bob.expect(NOTICE);
    // The nameless client hears it too, and the server closes its connection.
    assert_eq!(nameless.line().as_deref(), Some(NOTICE));
    assert_closed(&mut nameless.reader);
    assert_refused(program.addr());

    // The room is still open for goodbyes.
    alice.say("bye");
    bob.expect("alice: bye");
    alice.expect("alice: bye");
    for client in [alice, bob] {
        client.stream.shutdown(Shutdown::Both).unwrap();
    }
    program.assert_exits_0();
}

/// A client that stays is told, then cut off at the end of the grace period; exit status 0.
#[test]
fn chat_cuts_clients_off_at_the_grace_period() {
    let _guard = util::watchdog("chat (grace period)", WATCHDOG_SECS);
    let mut program = Program::serve("chat", &["--grace", "0.5"]);
    let mut carol = ChatClient::connect(program.addr(), Some("carol"));
    program.sigterm();
    program.wait_for("`shutting down`", |l| l == "shutting down");
    carol.expect(NOTICE);
    assert_closed(&mut carol.reader);
    program.assert_exits_0();
}

// ---------------------------------------------------------------------------------------------
// The webhook and polling services

/// One request on a fresh connection: send a line, read the answer.
fn request(addr: SocketAddr, line: &str) -> String {
    let mut stream = connect(addr);
    writeln!(stream, "{line}").unwrap();
    read_line(&mut BufReader::new(stream)).expect("an answer")
}

/// A job accepted before the signal still calls back; new requests are refused; exit status 0.
#[test]
fn webhook_delivers_a_promised_callback_after_sigterm() {
    let _guard = util::watchdog("webhook", WATCHDOG_SECS);
    let mut program = Program::serve("webhook", &["--grace", "60"]);
    let endpoint = TcpListener::bind("127.0.0.1:0").unwrap();
    let callback = endpoint.local_addr().unwrap();
    // Accept the callback on a thread, so that a callback that never comes fails the test.
    let (delivered, delivery) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = endpoint.accept().expect("accept the callback");
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let _ = delivered.send(read_line(&mut BufReader::new(stream)));
    });

    let reply = request(program.addr(), &format!("WORK report CALLBACK {callback}"));
    assert_eq!(reply, "ACCEPTED 1");
    program.sigterm();
    program.wait_for("`shutting down`", |l| l == "shutting down");
    assert_refused(program.addr());
    let result = delivery
        .recv_timeout(LIMIT)
        .expect("the promised callback never came");
    assert_eq!(result.as_deref(), Some("RESULT 1 report.pdf, 12 pages"));
    program.assert_exits_0();
}

/// A job submitted before the signal runs to its end; new requests are refused; exit status 0.
#[test]
fn polling_finishes_the_jobs_in_flight_on_sigterm() {
    let _guard = util::watchdog("polling", WATCHDOG_SECS);
    let mut program = Program::serve("polling", &["--grace", "60"]);
    let reply = request(program.addr(), "SUBMIT report");
    assert_eq!(reply, "ID 1");
    program.sigterm();
    program.wait_for("`shutting down`", |l| l == "shutting down");
    assert_refused(program.addr());
    program.wait_for("`service: job 1 done`", |l| l == "service: job 1 done");
    program.assert_exits_0();
}

// ---------------------------------------------------------------------------------------------
// The task queue

/// The queue stops taking jobs, says what was left queued, and still prints its summary.
#[test]
fn task_queue_stops_taking_jobs_on_sigterm() {
    let _guard = util::watchdog("task_queue", WATCHDOG_SECS);
    let mut program = Program::start("task_queue", &[]);
    // Its handler is installed before it prints anything. The demo runs for more than half a
    // second by itself, so the signal comes while jobs are queued or running.
    program.next_line("a first line");
    program.sigterm();
    program.wait_for("`shutting down`", |l| l == "shutting down");
    let left = program.wait_for("`left queued: ...`", |l| l.contains("] left queued: "));
    let rest = program.assert_exits_0();
    assert!(
        rest.iter().any(|l| l.starts_with("summary: ")),
        "no summary after `{left}`: {rest:#?}"
    );
}
