//! The project's example programs, run as child processes by the integration tests.
//!
//! The binaries are built by a plain `cargo test` (which builds examples). With a filter such as
//! `cargo test --test NAME`, build them first with `cargo build --examples`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

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
