//! The project's example programs, run as child processes by the integration tests.
//!
//! The binaries are built by a plain `cargo test` (which builds examples). With a filter such as
//! `cargo test --test NAME`, build them first with `cargo build --examples`.

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;
use std::time::Instant;

/// The example binary `name`, next to the running test binary: `target/<profile>/deps/<test>` →
/// `target/<profile>/examples/<name>`.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let bin = profile_dir.join("examples").join(name);
    assert!(
        bin.is_file(),
        "the `{name}` example is not built (no {}): run `cargo build --examples` first, or a \
         plain `cargo test`",
        bin.display()
    );
    bin
}

/// The address in an example server's first line, `listening on ADDR` (loopback only).
pub fn parse_announcement(line: &str) -> SocketAddr {
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from the server: {line:?}"))
        .parse()
        .expect("the announced address");
    assert!(addr.ip().is_loopback(), "the server announced {addr}");
    addr
}

/// An example server on a free loopback port. Dropping it kills and reaps the process, also when
/// a test fails.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts the example server `name`, its stderr passed through.
    pub fn spawn(name: &str) -> Server {
        let mut cmd = Command::new(bin(name));
        cmd.stderr(Stdio::inherit());
        Server::start(cmd)
    }

    /// Starts `cmd` (an example server) with `--addr 127.0.0.1:0` and waits up to 10 s for its
    /// `listening on ADDR` line.
    pub fn start(mut cmd: Command) -> Server {
        cmd.args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("spawning an example server");
        let stdout = child.stdout.take().expect("piped stdout");
        // Own the child before anything can fail, so it is killed on every path.
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        // Read the announcement on a thread, so a server that never prints cannot hang the test.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server did not print `listening on ADDR` within 10 s");
        server.addr = parse_announcement(&line);
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long any one wait of a [`Program`] may take before the test fails (a hang guard).
pub const LIMIT: Duration = Duration::from_secs(20);

/// An example program with its stdout read line by line on a thread (so that the pipe never fills
/// or breaks), killed and reaped when dropped.
pub struct Program {
    pub server: Server,
    lines: mpsc::Receiver<String>,
    /// Every line read so far, for failure messages.
    seen: Vec<String>,
}

impl Program {
    pub fn start(name: &str, args: &[&str]) -> Program {
        let mut child = Command::new(bin(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the `{name}` example: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        // Own the child before anything can fail, so it is killed on every path.
        let server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Program {
            server,
            lines,
            seen: Vec::new(),
        }
    }

    /// Starts the server `name` on a free loopback port; waits for its `listening on ADDR`.
    pub fn serve(name: &str, extra: &[&str]) -> Program {
        let mut args = vec!["--addr", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut program = Program::start(name, &args);
        let first = program.next_line("`listening on ADDR`");
        program.server.addr = parse_announcement(&first);
        program
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub fn next_line(&mut self, what: &str) -> String {
        match self.lines.recv_timeout(LIMIT) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(e) => panic!("no {what} on stdout ({e}); so far: {:#?}", self.seen),
        }
    }

    /// Waits for a line matching `pred` (the lines before it are kept in `seen`).
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(e) => panic!("no line {what} on stdout ({e}); so far: {:#?}", self.seen),
            }
        }
    }

    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Sends `signal` to the program.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.server.child.id()).expect("a pid");
        // SAFETY: `kill` takes no pointers; `pid` is our child, not yet reaped (`Server` reaps it
        // on drop, or `wait_exit` does), so the pid cannot name another process.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits for the stdout line `wanted` (the lines before it are kept in `seen`).
    pub fn expect_line(&mut self, wanted: &str) {
        self.wait_for(&format!("`{wanted}`"), |l| l == wanted);
    }

    /// Waits for the program to exit; returns its status and the rest of its stdout.
    pub fn wait_exit(&mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = self.server.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {LIMIT:?} after the signal; stdout so far: {:#?}",
                self.seen
            );
            thread::sleep(Duration::from_millis(10));
        };
        // The pipe is closed now: the reading thread sends what was left and ends.
        let rest: Vec<String> = self.lines.iter().collect();
        self.seen.extend(rest.iter().cloned());
        (status, rest)
    }

    /// Waits for the exit, which must be a success after a graceful shutdown.
    pub fn assert_exits_0(&mut self) -> Vec<String> {
        let (status, rest) = self.wait_exit();
        assert!(
            status.success(),
            "exited with {status}; stdout: {:#?}",
            self.seen
        );
        rest
    }
}

/// Connects until the server refuses: it stops accepting soon after it printed `shutting down`.
/// A connect that still got into the backlog just then must be closed without being served.
pub fn assert_refused(addr: SocketAddr) {
    let deadline = Instant::now() + LIMIT;
    loop {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            // The listener closed while this connect was completing (it was in the backlog just
            // then): closed without being served, as it must be; the next one is refused.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => panic!("connect to {addr} failed, but not with a refusal: {e}"),
            Ok(stream) => drop(stream),
        }
        assert!(
            Instant::now() < deadline,
            "{addr} still accepts connections {LIMIT:?} after the shutdown signal"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// A blocking connection to an example, every read and write bounded by [`LIMIT`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the example");
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    stream
}
