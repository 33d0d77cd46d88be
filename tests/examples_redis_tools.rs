//! The `redis_server` example driven by tools nobody here wrote: Debian's `redis-cli` and
//! `redis-benchmark` (package `redis-tools`, which `.ci/run` installs when missing), and the
//! `task_queue` example passing its jobs through it, and through a real `redis-server` when one
//! is installed. Without the tools each test says why it skips.
//!
//! The example binaries are built by a plain `cargo test`. With a filter such as
//! `cargo test --test examples_redis_tools`, build them first with `cargo build --examples`.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use util::example::Program;

const WATCHDOG_SECS: u64 = 180;

/// Whether `tool` runs; if not, says that the test skips.
fn have(tool: &str) -> bool {
    match Command::new(tool).arg("--version").output() {
        Ok(out) if out.status.success() => true,
        _ => {
            eprintln!(
                "skipping: `{tool}` is not installed (Debian package redis-tools / redis-server)"
            );
            false
        }
    }
}

fn serve() -> Program {
    Program::serve("redis_server", &[])
}

fn port_args(addr: SocketAddr) -> [String; 4] {
    [
        "-h".into(),
        addr.ip().to_string(),
        "-p".into(),
        addr.port().to_string(),
    ]
}

/// Runs `redis-cli` with `args` against `addr`; its stdout (raw output, one value a line).
fn cli(addr: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(port_args(addr))
        .args(args)
        .output()
        .expect("running redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A child killed and reaped when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `redis-cli args` with its stdout read line by line on a thread.
fn cli_streaming(addr: SocketAddr, args: &[&str]) -> (Guard, mpsc::Receiver<String>) {
    let mut child = Command::new("redis-cli")
        .args(port_args(addr))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running redis-cli");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (Guard(child), rx)
}

fn next_line(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(20))
        .expect("a line from redis-cli")
}

#[test]
fn redis_cli_runs_every_command() {
    let _guard = util::watchdog("redis-cli", WATCHDOG_SECS);
    if !have("redis-cli") {
        return;
    }
    let server = serve();
    let addr = server.addr();
    for (args, want) in [
        (&["PING"][..], "PONG\n"),
        (&["ECHO", "hi there"], "hi there\n"),
        (&["SET", "k", "v", "EX", "100", "NX"], "OK\n"),
        (&["SET", "k", "v2", "NX"], ""),
        (&["GET", "k"], "v\n"),
        (&["TTL", "k"], "100\n"),
        (&["PEXPIRE", "k", "500000"], "1\n"),
        (&["TTL", "k"], "500\n"),
        (&["EXPIRE", "k", "50"], "1\n"),
        (&["TTL", "k"], "50\n"),
        (&["SET", "k", "v3", "XX", "PX", "100000"], "OK\n"),
        (&["TTL", "k"], "100\n"),
        (&["INCR", "n"], "1\n"),
        (&["INCRBY", "n", "10"], "11\n"),
        (&["MSET", "a", "1", "b", "2"], "OK\n"),
        (&["MGET", "c", "a", "b"], "\n1\n2\n"),
        (&["EXISTS", "a", "b", "c"], "2\n"),
        (&["DEL", "a", "c"], "1\n"),
        (&["RPUSH", "l", "x", "y", "z"], "3\n"),
        (&["LPUSH", "l", "w"], "4\n"),
        (&["LLEN", "l"], "4\n"),
        (&["LPOP", "l"], "w\n"),
        (&["RPOP", "l"], "z\n"),
        (&["BRPOP", "l", "1"], "l\ny\n"),
        (&["LRANGE", "l", "0", "-1"], "x\n"),
        (&["PUBLISH", "ch", "nobody"], "0\n"),
        (&["CONFIG", "GET", "appendonly"], "appendonly\nno\n"),
        (&["COMMAND", "COUNT"], "38\n"),
        (
            &["NOSUCH", "x"],
            "ERR unknown command 'NOSUCH', with args beginning with: 'x'",
        ),
        (
            &["GET", "l"],
            "WRONGTYPE Operation against a key holding the wrong kind of value\n",
        ),
    ] {
        // (redis-cli ends an error with an empty line of its own.)
        assert_eq!(
            cli(addr, args).trim_end(),
            want.trim_end(),
            "redis-cli {args:?}"
        );
    }
    assert!(cli(addr, &["INFO"]).contains("redis_version:"));
    // A blocked BRPOP is answered by another client's push.
    let (_brpop, lines) = cli_streaming(addr, &["BRPOP", "queue", "0"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cli(addr, &["INFO"]).contains("blocked_clients:1") {
        assert!(Instant::now() < deadline, "BRPOP never blocked");
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(cli(addr, &["LPUSH", "queue", "job-1"]), "1\n");
    assert_eq!(next_line(&lines), "queue");
    assert_eq!(next_line(&lines), "job-1");
    // A timeout answers nil.
    assert_eq!(cli(addr, &["BRPOP", "queue", "0.05"]), "\n");
}

#[test]
fn redis_cli_subscribes_and_pipes() {
    let _guard = util::watchdog("redis-cli subscribe", WATCHDOG_SECS);
    if !have("redis-cli") {
        return;
    }
    let server = serve();
    let addr = server.addr();
    let (_sub, lines) = cli_streaming(addr, &["SUBSCRIBE", "news"]);
    assert_eq!(
        [next_line(&lines), next_line(&lines), next_line(&lines)],
        ["subscribe", "news", "1"]
    );
    let (_psub, plines) = cli_streaming(addr, &["PSUBSCRIBE", "n*"]);
    assert_eq!(next_line(&plines), "psubscribe");
    assert_eq!(next_line(&plines), "n*");
    assert_eq!(next_line(&plines), "1");
    assert_eq!(cli(addr, &["PUBLISH", "news", "hello"]), "2\n");
    assert_eq!(
        [next_line(&lines), next_line(&lines), next_line(&lines)],
        ["message", "news", "hello"]
    );
    assert_eq!(
        [
            next_line(&plines),
            next_line(&plines),
            next_line(&plines),
            next_line(&plines)
        ],
        ["pmessage", "n*", "news", "hello"]
    );
    // Mass insertion, `redis-cli --pipe`: 10,000 commands in one stream.
    let mut input = Vec::new();
    for i in 0..10_000 {
        let (k, v) = (format!("key{i}"), format!("value{i}"));
        input.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .as_bytes(),
        );
    }
    let mut pipe = Command::new("redis-cli")
        .args(port_args(addr))
        .arg("--pipe")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = pipe.stdin.take().unwrap();
    let feeder = thread::spawn(move || stdin.write_all(&input));
    let mut report = String::new();
    pipe.stdout
        .take()
        .unwrap()
        .read_to_string(&mut report)
        .unwrap();
    feeder.join().unwrap().unwrap();
    assert!(pipe.wait().unwrap().success(), "{report}");
    assert!(report.contains("errors: 0, replies: 10000"), "{report}");
    assert_eq!(cli(addr, &["DBSIZE"]), "10000\n");
    assert_eq!(cli(addr, &["GET", "key9999"]), "value9999\n");
}

fn benchmark(addr: SocketAddr, pipeline: &str, n: &str) -> Output {
    Command::new("redis-benchmark")
        .args(port_args(addr))
        .args([
            "-t",
            "ping,set,get,lpush,rpop",
            "-c",
            "20",
            "-n",
            n,
            "-P",
            pipeline,
            "-q",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("running redis-benchmark")
}

#[test]
fn redis_benchmark_runs_against_it() {
    let _guard = util::watchdog("redis-benchmark", WATCHDOG_SECS);
    if !have("redis-benchmark") {
        return;
    }
    let server = serve();
    let addr = server.addr();
    for (pipeline, n) in [("1", "2000"), ("16", "20000")] {
        let out = benchmark(addr, pipeline, n);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "-P {pipeline}: {out:?}");
        for test in ["PING_INLINE", "PING_MBULK", "SET", "GET", "LPUSH", "RPOP"] {
            let done = text.split(['\r', '\n']).any(|l| {
                l.trim_start().starts_with(&format!("{test}: "))
                    && l.contains("requests per second")
            });
            assert!(done, "no result for {test} with -P {pipeline}:\n{text}");
        }
        assert!(!text.contains("ERR"), "{text}");
        // Every push was popped, and the value is the 3 bytes it sets (random ones).
        assert_eq!(cli(addr, &["LLEN", "mylist"]), "0\n");
        assert_eq!(cli(addr, &["STRLEN", "key:__rand_int__"]).trim_end(), "3");
    }
}

/// A free port on 127.0.0.1 for a `redis-server` (found by binding, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn task_queue_through(addr: SocketAddr) {
    let url = format!("redis://{addr}");
    let out = Command::new(util::example::bin("task_queue"))
        .args(["--broker", &url])
        .stdin(Stdio::null())
        .output()
        .expect("running task_queue");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let summary = text
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary:\n{text}"));
    let count = |needle: &str| text.lines().filter(|l| l.contains(needle)).count();
    assert!(
        summary.contains("1 duplicate skipped")
            && summary.contains("2 retries")
            && summary.contains("0 failed"),
        "{text}"
    );
    assert_eq!(count("ack charge(order 42)"), 1, "charged once:\n{text}");
    assert_eq!(count("ack exchange-rates (attempt 3)"), 1, "{text}");
    assert!(count("ack cleanup#") >= 2, "{text}");
    // Submitted = acknowledged + the duplicate: nothing lost.
    let words: Vec<&str> = summary
        .split([' ', ','])
        .filter(|w| !w.is_empty())
        .collect();
    let before = |label: &str| -> u32 {
        let at = words.iter().position(|w| *w == label).unwrap();
        words[at - 1].parse().unwrap()
    };
    assert_eq!(before("submitted"), before("acknowledged") + 1, "{summary}");
}

#[test]
fn task_queue_runs_through_this_server_and_through_redis() {
    let _guard = util::watchdog("task_queue broker", WATCHDOG_SECS);
    let server = serve();
    task_queue_through(server.addr());
    // The run cleaned up after itself: no key is left.
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"DBSIZE\r\n").unwrap();
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b":0\r\n");
    if !have("redis-server") {
        return;
    }
    let port = free_port();
    let redis = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("starting redis-server");
    let _redis = Guard(redis);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        thread::sleep(Duration::from_millis(10));
    }
    task_queue_through(addr);
}
