//! End-to-end tests of `examples/echo_callbacks.rs`: the built example runs as a child process and
//! is exercised over real sockets on 127.0.0.1.
//!
//! The example binary is built by a plain `cargo test` (which builds examples); with a filter such
//! as `cargo test --test loop_echo`, build it first with `cargo build --example echo_callbacks`.

mod util;

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use util::example::{self, Server};
use util::net::set_linger_zero;
use util::Rng;

/// Longest any single blocking socket operation may take before the test fails.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest message of the concurrent test.
const MAX_MSG: usize = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// The server process

const EXAMPLE: &str = "echo_callbacks";

// `util::example::Server`, plus what these tests read of the process.
impl Server {
    /// A server allowed only `limit` open descriptors. Its stderr is discarded: it is expected to
    /// complain about `accept` failing.
    fn spawn_with_fd_limit(limit: libc::rlim_t) -> Server {
        let mut cmd = Command::new(example::bin(EXAMPLE));
        cmd.stderr(Stdio::null());
        // SAFETY: the closure runs in the forked child before `exec`, where only async-signal-safe
        // functions may be called. It only calls `setrlimit` (a plain system call) and, on failure,
        // reads `errno`; it allocates nothing and takes no lock.
        unsafe {
            cmd.pre_exec(move || {
                let rlim = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Server::start(cmd)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("the server exited: {status}");
        }
    }

    /// Resident set size, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .expect("VmRSS in /proc/PID/status");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// User plus system CPU time consumed so far.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // The command name (field 2) may contain spaces; fields after it are plain. utime and
        // stime are fields 14 and 15, i.e. the 12th and 13th after the closing parenthesis.
        let rest = &stat[stat.rfind(')').expect("comm field") + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: `sysconf` has no preconditions; it only reads a system constant.
        let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let per_sec = u64::try_from(per_sec)
            .ok()
            .filter(|t| *t > 0)
            .unwrap_or(100);
        Duration::from_secs_f64(ticks as f64 / per_sec as f64)
    }

    /// How many of the descriptor numbers below `limit` are in use. (Counting all of them would
    /// also count descriptors inherited from whatever started the test, whatever their number.)
    fn fds_below(&self, limit: usize) -> usize {
        let dir = std::fs::read_dir(format!("/proc/{}/fd", self.pid())).expect("/proc/PID/fd");
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<usize>().ok())
            .filter(|fd| *fd < limit)
            .count()
    }
}

// ---------------------------------------------------------------------------------------------
// Test data and clients

/// Deterministic test data without a dependency.
fn seeded_rng(seed: u64) -> Rng {
    Rng::from_state((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03) | 1)
}

/// What one client sends: message sizes, and a seed both sides regenerate the bytes from, so the
/// reader can check the echo without the writer sharing its data.
struct Script {
    seed: u64,
    sizes: Vec<usize>,
}

impl Script {
    /// Three to six messages, mostly small, a quarter of them up to `MAX_MSG`.
    fn random(seed: u64) -> Script {
        let mut rng = seeded_rng(seed);
        let count = rng.range(3, 6);
        let sizes = (0..count)
            .map(|_| match rng.range(0, 3) {
                0 => rng.range(1, MAX_MSG),
                _ => rng.range(1, 4096),
            })
            .collect();
        Script { seed, sizes }
    }

    fn messages(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        let mut rng = seeded_rng(!self.seed);
        self.sizes.iter().map(move |&n| rng.bytes(n))
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Sends every message, then half-closes.
fn send_script(mut w: TcpStream, script: &Script) -> Result<(), String> {
    for (i, msg) in script.messages().enumerate() {
        w.write_all(&msg)
            .map_err(|e| format!("writing message {i} ({} bytes): {e}", msg.len()))?;
    }
    w.shutdown(Shutdown::Write)
        .map_err(|e| format!("shutdown: {e}"))
}

/// Reads the echo of every message, checks it byte for byte, then expects end of file.
fn check_echo(mut r: TcpStream, script: &Script) -> Result<(), String> {
    let mut got = Vec::new();
    for (i, want) in script.messages().enumerate() {
        got.resize(want.len(), 0);
        r.read_exact(&mut got).map_err(|e| {
            format!(
                "reading the echo of message {i} ({} bytes): {e}",
                want.len()
            )
        })?;
        if got != want {
            let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap();
            return Err(format!("the echo of message {i} differs at byte {at}"));
        }
    }
    match r.read(&mut [0u8; 1]) {
        Ok(0) => Ok(()),
        Ok(_) => Err("more bytes came back than were sent".into()),
        Err(e) => Err(format!("waiting for end of file after the echo: {e}")),
    }
}

/// Runs a script on a connection: a writer thread and a reader, so neither side's buffers can fill
/// up and deadlock the exchange.
fn run_script(stream: TcpStream, script: &Script) -> Result<(), String> {
    let writer = stream.try_clone().map_err(|e| e.to_string())?;
    thread::scope(|s| {
        let sent = s.spawn(|| send_script(writer, script));
        let checked = check_echo(stream, script);
        let sent = sent
            .join()
            .unwrap_or_else(|_| Err("writer panicked".into()));
        checked.and(sent)
    })
}

fn assert_echoes(addr: SocketAddr, msg: &[u8]) {
    let mut s = connect(addr);
    s.write_all(msg).unwrap();
    let mut got = vec![0; msg.len()];
    s.read_exact(&mut got).expect("reading the echo");
    assert_eq!(got, msg);
}

/// Writes `data` to a non-blocking socket without reading, until all of it is written or no write
/// has made progress for `stall`. Returns how much was written.
fn write_until_stalled(mut s: &TcpStream, data: &[u8], stall: Duration) -> usize {
    let mut written = 0;
    let mut last_progress = Instant::now();
    while written < data.len() && last_progress.elapsed() < stall {
        match s.write(&data[written..]) {
            Ok(n) => {
                written += n;
                last_progress = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("write: {e}"),
        }
    }
    written
}

/// Makes dropping the stream send a RST instead of a FIN.
fn reset(stream: TcpStream) {
    set_linger_zero(stream.as_raw_fd());
    drop(stream);
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn command_line_contract() {
    for (args, code) in [
        (&["--help"][..], 0),
        (&["--bogus"][..], 2),
        (&["--addr", "nope"][..], 2),
    ] {
        let mut child = Command::new(example::bin(EXAMPLE))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`echo_callbacks {}` did not exit", args.join(" "));
            }
            thread::sleep(Duration::from_millis(10));
        };
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            status.code(),
            Some(code),
            "exit status of `{}`",
            args.join(" ")
        );
        let text = if code == 0 { out.stdout } else { out.stderr };
        assert!(
            String::from_utf8_lossy(&text).contains("usage"),
            "`{}` should print the usage",
            args.join(" ")
        );
    }
}

#[test]
fn echoes_100_concurrent_connections() {
    let server = Server::spawn(EXAMPLE);
    let scripts: Vec<Script> = (0..100).map(Script::random).collect();
    // Every connection is open before any data moves, so all 100 are served at once.
    let streams: Vec<TcpStream> = scripts.iter().map(|_| connect(server.addr)).collect();
    let failures: Vec<String> = thread::scope(|s| {
        let runs: Vec<_> = streams
            .into_iter()
            .zip(&scripts)
            .map(|(stream, script)| s.spawn(move || run_script(stream, script)))
            .collect();
        runs.into_iter()
            .enumerate()
            .filter_map(|(i, run)| match run.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("connection {i}: {e}")),
                Err(_) => Some(format!("connection {i}: panicked")),
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} connections failed: {failures:#?}",
        failures.len()
    );
}

#[test]
fn half_close_flushes_then_closes() {
    let server = Server::spawn(EXAMPLE);
    // Nothing sent: the server passes the EOF straight back.
    let mut s = connect(server.addr);
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(s.read(&mut [0u8; 16]).expect("EOF"), 0);

    // Data in flight when the client half-closes: all of it comes back, then EOF.
    let script = Script {
        seed: 42,
        sizes: vec![1, 100_000, 1 << 20],
    };
    run_script(connect(server.addr), &script).unwrap();

    // Send until the writes stall, so the server is holding unsent data, half-close, and only
    // then read: the EOF reaches the server while it still has data to send, and all of it must
    // still arrive.
    let s = connect(server.addr);
    s.set_nonblocking(true).unwrap();
    let data = seeded_rng(3).bytes(32 << 20);
    let sent = write_until_stalled(&s, &data, Duration::from_millis(200));
    s.shutdown(Shutdown::Write).unwrap();
    s.set_nonblocking(false).unwrap();
    let mut got = Vec::with_capacity(sent);
    s.take(sent as u64 + 1)
        .read_to_end(&mut got)
        .expect("reading the echo");
    assert!(
        got == data[..sent],
        "the echo differs ({} of {sent} bytes)",
        got.len()
    );
}

#[test]
fn survives_peer_resets() {
    let mut server = Server::spawn(EXAMPLE);
    let mut bystander = connect(server.addr);
    bystander.write_all(b"before").unwrap();

    let big = seeded_rng(5).bytes(16 << 20);
    for round in 0..10 {
        // Reset before sending anything.
        reset(connect(server.addr));
        // Reset right after sending a little: the server may or may not have echoed it yet.
        let mut s = connect(server.addr);
        s.write_all(b"some bytes then a reset").unwrap();
        reset(s);
        // Reset while the server holds unsent data for us: we never read, so once the kernel
        // buffers on the way back are full it has stopped reading us (backpressure).
        if round < 3 {
            let s = connect(server.addr);
            s.set_nonblocking(true).unwrap();
            write_until_stalled(&s, &big, Duration::from_millis(100));
            reset(s);
        }
    }

    server.assert_alive();
    let mut buf = [0u8; 6];
    bystander.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"before");
    bystander.write_all(b"after").unwrap();
    bystander.read_exact(&mut buf[..5]).unwrap();
    assert_eq!(&buf[..5], b"after");
    assert_echoes(server.addr, b"a fresh connection");
    server.assert_alive();
}

#[test]
fn backpressure_bounds_server_memory() {
    /// The client sends at least this much without reading...
    const MIN_TOTAL: usize = 8 << 20;
    /// ...and goes on until its writes stall, which kernel buffers (a few MiB each way on loopback,
    /// depending on sysctls) can postpone past `MIN_TOTAL`; give up at this much.
    const MAX_TOTAL: usize = 64 << 20;
    /// No write progress for this long counts as a stall.
    const STALL: Duration = Duration::from_millis(500);

    let server = Server::spawn(EXAMPLE);
    assert_echoes(server.addr, b"warm up");
    let baseline = server.rss_kib();
    let data = seeded_rng(8).bytes(MAX_TOTAL);
    let mut s = connect(server.addr);
    s.set_nonblocking(true).unwrap();

    // Write without reading until no write has made progress for a while.
    let mut written = write_until_stalled(&s, &data, STALL);
    let rss = server.rss_kib();
    assert!(
        rss < baseline + 4096,
        "the server buffered what it could not send: RSS {baseline} KiB -> {rss} KiB after the \
         client wrote {written} bytes"
    );
    assert!(
        written < MAX_TOTAL,
        "the client never stalled: the server took {written} bytes"
    );

    // Read everything back, writing the rest of `MIN_TOTAL` meanwhile, then half-close.
    let total = written.max(MIN_TOTAL);
    let mut read = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let mut shut = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "timed out: {read} of {total} bytes echoed"
        );
        let mut progress = false;
        if written < total {
            match s.write(&data[written..total]) {
                Ok(n) => {
                    written += n;
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("write: {e}"),
            }
        } else if !shut {
            s.shutdown(Shutdown::Write).unwrap();
            shut = true;
        }
        match s.read(&mut buf) {
            Ok(0) if read == total => break,
            Ok(0) => panic!("EOF after {read} of {total} bytes"),
            Ok(n) => {
                assert!(read + n <= total, "more bytes came back than were sent");
                assert!(
                    buf[..n] == data[read..read + n],
                    "the echo differs near byte {read}"
                );
                read += n;
                progress = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("read: {e}"),
        }
        if !progress {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn backs_off_when_out_of_descriptors() {
    const LIMIT: usize = 32;
    let mut server = Server::spawn_with_fd_limit(LIMIT as libc::rlim_t);
    let clients: Vec<TcpStream> = (0..64).map(|_| connect(server.addr)).collect();

    // The connections beyond the limit wait in the backlog once the server's table is full.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.fds_below(LIMIT) < LIMIT {
        server.assert_alive();
        assert!(
            Instant::now() < deadline,
            "the server never filled its descriptor table"
        );
        thread::sleep(Duration::from_millis(10));
    }

    // Exhausted, with connections pending: it must wait, not spin on `accept`. Backing off costs a
    // few milliseconds a second; spinning takes whatever CPU it can get, which on a busy machine
    // may be only part of a core, hence a low bar.
    let before = server.cpu_time();
    thread::sleep(Duration::from_secs(1));
    let spent = server.cpu_time() - before;
    server.assert_alive();
    assert_eq!(
        server.fds_below(LIMIT),
        LIMIT,
        "the descriptor table should still be full"
    );
    assert!(
        spent < Duration::from_millis(100),
        "the server spun: {spent:?} of CPU in 1 s"
    );

    // Connections it did accept are still served.
    let mut first = &clients[0];
    first.write_all(b"still here").unwrap();
    let mut buf = [0u8; 10];
    first.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still here");

    // Once descriptors are free again it accepts again.
    drop(clients);
    assert_echoes(server.addr, b"after the storm");
    server.assert_alive();
}
