//! Runs the teaching examples as child processes and checks what they print; the chat server is
//! exercised over real sockets on 127.0.0.1, and so is the compress server (with `gzip`).
//!
//! The example binaries are built by a plain `cargo test` (which builds examples). With a filter
//! such as `cargo test --test examples_run`, build them first with `cargo build --examples`.

mod util;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long an example may run, or a test wait for a line, before the test fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A child process that is killed and reaped when dropped, also when a test fails.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_example(name: &str, args: &[&str]) -> (Guard, ChildStdout) {
    let mut child = Command::new(util::example::bin(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the `{name}` example: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    (Guard(child), stdout)
}

/// Runs an example that ends by itself; returns its stdout once it exited with status 0.
fn run_example(name: &str) -> String {
    let (mut child, mut stdout) = spawn_example(name, &[]);
    // Read on a thread so that a full pipe can never block the child.
    let reader = thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "`{name}` did not finish within {TIMEOUT:?}"
        );
        thread::sleep(Duration::from_millis(10));
    };
    let out = reader.join().expect("stdout reader");
    assert!(
        status.success(),
        "`{name}` exited with {status}; stdout:\n{out}"
    );
    out
}

/// The number in a line `<prefix> <N> ms ...`.
fn millis_after(out: &str, prefix: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with `{prefix}` in:\n{out}"));
    let rest = line[prefix.len()..].trim_start();
    let number = rest.split_whitespace().next().unwrap_or_default();
    number
        .parse()
        .unwrap_or_else(|_| panic!("no millisecond count in `{line}`"))
}

fn has_line(out: &str, pred: impl Fn(&str) -> bool, what: &str) {
    assert!(out.lines().any(pred), "no line {what} in:\n{out}");
}

#[test]
fn callbacks_promises_async_handles_success_and_failure_in_each_style() {
    let out = run_example("callbacks_promises_async");
    for style in ["callbacks:", "promises:", "async:"] {
        let ok = |l: &str| l.starts_with(style) && l.ends_with("ada: Ada Lovelace (id 1), analyst");
        has_line(&out, ok, &format!("with {style} ada's details"));
        let failed = |l: &str| {
            l.starts_with(style)
                && l.contains("zed: error:")
                && l.contains("no employee named `zed`")
        };
        has_line(&out, failed, &format!("with {style} zed's failure"));
        has_line(
            &out,
            |l| l.starts_with(style) && l.contains("done in"),
            "done",
        );
    }
}

#[test]
fn gather_is_faster_than_sequential() {
    let out = run_example("gather");
    let sequential = millis_after(&out, "sequential:");
    let gathered = millis_after(&out, "gather:");
    let spawned = millis_after(&out, "spawned:");
    // Timers never fire early: awaiting 300 ms then 200 ms takes at least (about) 500 ms.
    assert!(
        sequential >= 490,
        "sequential took only {sequential} ms:\n{out}"
    );
    for (what, ms) in [("gather", gathered), ("spawned", spawned)] {
        assert!(
            (ms as f64) < 0.85 * sequential as f64,
            "{what} took {ms} ms, sequential {sequential} ms:\n{out}"
        );
    }
    has_line(
        &out,
        |l| l.starts_with("race:") && l.ends_with("mirror-us"),
        "race won by mirror-us",
    );
    has_line(
        &out,
        |l| l.starts_with("timeout:") && l.contains("gave up"),
        "timeout gave up",
    );
}

/// The numbers of the summary line, by label: "summary: 10 submitted, 1 duplicate skipped, ...".
fn summary_count(summary: &str, label: &str) -> u32 {
    let words: Vec<&str> = summary
        .split([' ', ','])
        .filter(|w| !w.is_empty())
        .collect();
    let at = words
        .iter()
        .position(|w| *w == label)
        .unwrap_or_else(|| panic!("no `{label}` in `{summary}`"));
    // "at most N running": the number follows the label; elsewhere it precedes it.
    let number = if label == "most" {
        words[at + 1]
    } else {
        words[at - 1]
    };
    number
        .parse()
        .unwrap_or_else(|_| panic!("no count for `{label}` in `{summary}`"))
}

#[test]
fn task_queue_retries_dedupes_beats_and_bounds_workers() {
    let out = run_example("task_queue");
    let summary = out
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary in:\n{out}"));
    let submitted = summary_count(summary, "submitted");
    assert_eq!(summary_count(summary, "duplicate"), 1, "{summary}");
    assert_eq!(
        summary_count(summary, "acknowledged"),
        submitted - 1,
        "{summary}"
    );
    assert_eq!(summary_count(summary, "retries"), 2, "{summary}");
    assert_eq!(summary_count(summary, "failed"), 0, "{summary}");
    let most = summary_count(summary, "most");
    assert!((1..=2).contains(&most), "{most} jobs ran at once:\n{out}");

    let count = |needle: &str| out.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(
        count("ack charge(order 42)"),
        1,
        "the order was charged once:\n{out}"
    );
    assert_eq!(count("skipped charge(order 42)"), 1, "{out}");
    assert_eq!(count("exchange-rates failed"), 2, "{out}");
    assert_eq!(count("ack exchange-rates (attempt 3)"), 1, "{out}");
    // A beat every 150 ms for 650 ms: 4 of them, unless the machine is very busy.
    assert!(count("ack cleanup#") >= 2, "too few beats ran:\n{out}");
}

#[test]
fn webhook_results_arrive_by_callback_in_completion_order() {
    let out = run_example("webhook");
    has_line(
        &out,
        |l| l.ends_with("WORK report -> ACCEPTED 1"),
        "accepting the report",
    );
    has_line(
        &out,
        |l| l.ends_with("WORK thumbnail -> ACCEPTED 2"),
        "accepting the thumbnail",
    );
    has_line(
        &out,
        |l| l.ends_with("WORK teleport -> ERROR unknown job"),
        "refusing a job",
    );
    let position = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{out}"))
    };
    // The thumbnail takes 150 ms and the report 300 ms: the shorter job calls back first.
    assert!(
        position("callback: RESULT 2 cat.png") < position("callback: RESULT 1 report.pdf"),
        "{out}"
    );
    has_line(
        &out,
        |l| l == "client: every accepted job called back",
        "the end",
    );
}

#[test]
fn polling_asks_until_done() {
    let out = run_example("polling");
    has_line(&out, |l| l.ends_with("SUBMIT report -> ID 1"), "submitting");
    has_line(&out, |l| l.contains(": PENDING"), "a pending poll");
    has_line(
        &out,
        |l| l.ends_with(": DONE report finished"),
        "the result",
    );
    has_line(
        &out,
        |l| l.starts_with("client: ") && l.contains("polls for one result"),
        "the end",
    );
}

// ---------------------------------------------------------------------------------------------
// The chat server

/// A chat client reading on a thread of its own, so it never stops reading.
struct Client {
    stream: TcpStream,
    lines: mpsc::Receiver<String>,
}

impl Client {
    fn join(addr: SocketAddr, nick: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the chat");
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        let (tx, lines) = mpsc::channel();
        let reading = stream.try_clone().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(reading).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut client = Client { stream, lines };
        client.say(nick);
        // The server subscribes a client before announcing it: after this, it gets every message.
        client.expect(&format!("* {nick} joined"));
        client
    }

    fn say(&mut self, line: &str) {
        writeln!(self.stream, "{line}").expect("send to the chat");
    }

    /// Waits for `wanted`; the lines before it are skipped.
    fn expect(&self, wanted: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == wanted => return,
                Ok(_) => {}
                Err(e) => panic!("never got `{wanted}`: {e}"),
            }
        }
    }

    fn leave(self) {
        // The reading thread holds a clone of the socket: shut it down rather than just drop it.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

fn start_chat() -> (Guard, SocketAddr, mpsc::Receiver<String>) {
    let (child, stdout) = spawn_example("chat", &["--addr", "127.0.0.1:0"]);
    // The server's log, line by line; read on a thread so that the pipe never fills.
    let (tx, log) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let first = log
        .recv_timeout(TIMEOUT)
        .expect("the chat server's first line");
    let addr = util::example::parse_announcement(&first);
    (child, addr, log)
}

/// Whether the server logs a line matching `pred` within the time limit.
fn log_has(log: &mpsc::Receiver<String>, pred: impl Fn(&str) -> bool) -> bool {
    let deadline = Instant::now() + TIMEOUT;
    while let Ok(line) = log.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if pred(&line) {
            return true;
        }
    }
    false
}

#[test]
fn chat_relays_messages_and_drops_a_client_that_does_not_read() {
    let (_server, addr, log) = start_chat();
    let mut alice = Client::join(addr, "alice");
    let mut bob = Client::join(addr, "bob");
    alice.expect("* bob joined");
    let carol = Client::join(addr, "carol");
    alice.expect("* carol joined");
    bob.expect("* carol joined");

    // Messages from different clients may be published in either order: one at a time.
    alice.say("hi everyone");
    for client in [&alice, &bob, &carol] {
        client.expect("alice: hi everyone");
    }
    bob.say("hello alice");
    for client in [&alice, &bob, &carol] {
        client.expect("bob: hello alice");
    }
    carol.leave();
    alice.expect("* carol left");
    bob.expect("* carol left");

    // Dave joins and never reads. Alice floods the room until the server gives up on him; alice
    // and bob read everything, so they must not be dropped.
    let mut dave = TcpStream::connect(addr).unwrap();
    dave.write_all(b"dave\n").unwrap();
    alice.expect("* dave joined");
    bob.expect("* dave joined");
    let notice = |l: &str| l.starts_with("* dave was disconnected: ");
    let line = format!("{}\n", "x".repeat(1000));
    let batch = line.repeat(16);
    let start = Instant::now();
    let mut sent = 0usize;
    let kicked = loop {
        alice
            .stream
            .write_all(batch.as_bytes())
            .expect("alice floods the room");
        sent += batch.len();
        if let Some(l) = bob.lines.try_iter().find(|l| notice(l)) {
            break l;
        }
        assert!(
            start.elapsed() < TIMEOUT && sent < 512 << 20,
            "dave was not disconnected after {sent} bytes"
        );
    };
    assert!(kicked.contains("not reading"), "{kicked}");

    // The others keep chatting.
    alice.say("still here");
    bob.expect("alice: still here");
    alice.expect(&kicked);
    alice.expect("alice: still here");
    bob.say("bye");
    alice.expect("bob: bye");
    bob.leave();
    alice.expect("* bob left");
    let logged = log_has(&log, |l| {
        l.starts_with("dave was disconnected: not reading")
    });
    assert!(logged, "the server did not log dave's disconnection");

    // Dave's connection was closed: what was in flight drains, then end of stream (or a reset).
    dave.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = vec![0; 1 << 16];
    loop {
        match dave.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("dave's connection was not closed: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The compress server: each connection's bytes go through a `gzip -c` child of the server

/// Some text that compresses, different for each `seed`.
fn text(seed: u64, len: usize) -> Vec<u8> {
    let words: [&[u8]; 8] = [
        b"loop ", b"pipe ", b"child ", b"gzip ", b"reap ", b"byte ", b"task ", b"poll\n",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(words[(x % 8) as usize]);
    }
    out.truncate(len);
    out
}

/// Runs `input` through a program (stdin to stdout), writing on a thread so neither side stalls.
fn filter(program: &str, args: &[&str], input: Vec<u8>) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || stdin.write_all(&input));
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success(), "{program} failed");
    out
}

/// A connection to the compress server with a writer thread: `send` hands it bytes, `finish`
/// half-closes and returns everything the server sent back.
struct Upload {
    chunks: Option<mpsc::Sender<Vec<u8>>>,
    writer: thread::JoinHandle<()>,
    reader: thread::JoinHandle<Vec<u8>>,
}

impl Upload {
    fn connect(addr: SocketAddr) -> Upload {
        let stream = TcpStream::connect(addr).expect("connect to the compress server");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut reading = stream.try_clone().unwrap();
        let reader = thread::spawn(move || {
            let mut back = Vec::new();
            reading
                .read_to_end(&mut back)
                .expect("read the compressed bytes");
            back
        });
        let (chunks, rx) = mpsc::channel::<Vec<u8>>();
        let writer = thread::spawn(move || {
            let mut stream = stream;
            for chunk in rx {
                stream
                    .write_all(&chunk)
                    .expect("send to the compress server");
            }
            stream.shutdown(Shutdown::Write).unwrap();
        });
        Upload {
            chunks: Some(chunks),
            writer,
            reader,
        }
    }

    fn send(&self, bytes: &[u8]) {
        self.chunks.as_ref().unwrap().send(bytes.to_vec()).unwrap();
    }

    fn finish(mut self) -> Vec<u8> {
        drop(self.chunks.take());
        self.writer.join().expect("writer thread");
        self.reader.join().expect("reader thread")
    }
}

#[test]
fn compress_gzips_each_connection_through_a_child_while_serving_others() {
    let (_server, stdout) = spawn_example("compress", &["--addr", "127.0.0.1:0"]);
    let mut stdout = BufReader::new(stdout);
    let mut first = String::new();
    stdout
        .read_line(&mut first)
        .expect("the server's first line");
    let addr = util::example::parse_announcement(&first);
    // The server's log, read on a thread so that the pipe never fills.
    thread::spawn(move || for _ in stdout.lines() {});

    let a = text(1, 600_000);
    let b = text(2, 300_000);
    // A sends half and stays open; B is served start to end meanwhile; then A finishes.
    let slow = Upload::connect(addr);
    slow.send(&a[..a.len() / 2]);
    let quick = Upload::connect(addr);
    quick.send(&b);
    let b_back = quick.finish();
    slow.send(&a[a.len() / 2..]);
    let a_back = slow.finish();

    for (input, back) in [(a, a_back), (b, b_back)] {
        assert!(back.starts_with(&[0x1f, 0x8b]), "not gzip data");
        assert!(back.len() < input.len(), "gzip did not compress");
        let unzipped = filter("gzip", &["-dc"], back);
        assert!(unzipped == input, "the round trip changed the bytes");
    }

    // An empty upload is a valid empty gzip stream.
    let empty = Upload::connect(addr).finish();
    assert!(filter("gzip", &["-dc"], empty).is_empty());
}

/// `--addr` takes a host name: `localhost:0` binds a loopback port, and the server echoes there.
#[test]
fn example_servers_take_a_host_name_in_addr() {
    for name in ["echo", "echo_idle", "echo_callbacks", "echo_multi"] {
        let (_child, stdout) = spawn_example(name, &["--addr", "localhost:0"]);
        let (tx, first) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = first
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("`{name}` announced no address"));
        // parse_announcement checks that the address is loopback.
        let addr = util::example::parse_announcement(&line);
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.write_all(b"by name").unwrap();
        let mut buf = [0; 7];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"by name", "`{name}` echoed");
    }
}

/// `echo_idle` closes a connection that says nothing for its period, and keeps one that goes on
/// talking more often than that (every byte echoed); then it shuts down cleanly.
#[test]
fn echo_idle_closes_a_silent_connection_and_keeps_a_talking_one() {
    let mut server = util::example::Program::serve("echo_idle", &["--idle-timeout", "1"]);
    let addr = server.addr();
    let mut silent = TcpStream::connect(addr).unwrap();
    silent.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut talking = TcpStream::connect(addr).unwrap();
    talking.set_read_timeout(Some(TIMEOUT)).unwrap();
    // Twelve messages 50 ms apart: never close to a second of silence on this one.
    for i in 0..12u8 {
        talking.write_all(&[i; 16]).unwrap();
        let mut back = [0u8; 16];
        talking.read_exact(&mut back).unwrap();
        assert_eq!(back, [i; 16]);
        thread::sleep(Duration::from_millis(50));
    }
    // The silent one is closed once its second is up (the read waits for it): end of file.
    let mut buf = [0u8; 1];
    assert_eq!(
        silent.read(&mut buf).unwrap(),
        0,
        "the silent connection was closed"
    );
    talking.write_all(b"still here").unwrap();
    let mut back = [0u8; 10];
    talking.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"still here");
    drop(talking);
    server.signal(libc::SIGTERM);
    server.expect_line("shutting down");
    server.assert_exits_0();
}
