//! `accept` out of file descriptors: it neither spins nor gives up, and the connections already
//! open go on being served.
//!
//! The server is this test binary itself, re-run as a child process (with an environment variable
//! telling it its role) so that its descriptor limit can be lowered without starving the test: it
//! runs the README's echo loop, `listener.accept().await?`, with room for only a few connections.
//! The parent connects over loopback until a connection is shed, then checks that the open ones
//! still echo, that the child stays near idle while exhausted (its CPU time, from
//! `/proc/PID/stat`), and that a connection is accepted again once some are closed.

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::TcpListener;
use evloop::EventLoop;

/// Set (to anything) in the child's environment: it then serves instead of testing.
const ROLE: &str = "EVLOOP_TEST_ACCEPT_EXHAUSTION_CHILD";
/// The test that is the child's server.
const CHILD_TEST: &str = "child_echo_server_with_few_descriptors";
/// The line the child announces its address with.
const ANNOUNCE: &str = "accept-exhaustion child listening on ";
/// Free descriptor numbers the child keeps below its limit: the listener, the reserve, and a few
/// connections.
const SPARE: usize = 8;
/// Longest a blocking socket operation may take, as a hang guard.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Most connections the parent opens while looking for the limit.
const MAX_CONNECTIONS: usize = 200;

// ---------------------------------------------------------------------------------------------
// The child: an echo server with a descriptor limit just above what it has open

#[test]
fn child_echo_server_with_few_descriptors() {
    if std::env::var_os(ROLE).is_none() {
        return; // only the child runs it
    }
    // Should the parent vanish without killing us.
    let _watchdog = util::watchdog(CHILD_TEST, 60);
    let lp = EventLoop::new().expect("event loop");
    let limit = limit_with_free(SPARE);
    let rlim = libc::rlimit {
        rlim_cur: limit as libc::rlim_t,
        rlim_max: hard_limit(),
    };
    // SAFETY: `rlim` is a valid `struct rlimit`; lowering the soft limit needs no privilege.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) };
    assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());

    let result: io::Result<()> = lp.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let mut out = io::stdout().lock();
        writeln!(out, "{ANNOUNCE}{}", listener.local_addr()?)?;
        out.flush()?;
        drop(out);
        // The README's loop: an accept error would end the server.
        loop {
            let (mut stream, _) = listener.accept().await?;
            evloop::spawn(async move {
                let mut buf = [0; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    panic!("the server ended: {result:?}");
}

/// The descriptor numbers in use by this process.
fn open_fds() -> Vec<usize> {
    let dir = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd");
    let fds: Vec<usize> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory's own descriptor is listed too; it is closed by now, so counting it as open
    // only leaves one free number more.
    fds
}

/// The smallest descriptor limit that leaves exactly `free` numbers unused below it.
fn limit_with_free(free: usize) -> usize {
    let open = open_fds();
    let mut left = free;
    let mut n = 0;
    loop {
        if !open.contains(&n) {
            left -= 1;
            if left == 0 {
                return n + 1;
            }
        }
        n += 1;
    }
}

fn hard_limit() -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `struct rlimit`.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    lim.rlim_max
}

// ---------------------------------------------------------------------------------------------
// The parent

/// The child process; killed and reaped when dropped, also when the test fails.
struct ChildServer {
    child: Child,
    addr: SocketAddr,
}

impl ChildServer {
    fn start() -> ChildServer {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(ROLE, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the child server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Read every line on a thread, so that a full pipe can never block the child.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The harness prints the test's name on the same line first.
                if let Some(at) = line.find(ANNOUNCE) {
                    let _ = tx.send(line[at + ANNOUNCE.len()..].trim().to_string());
                }
            }
        });
        let mut server = ChildServer {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
        };
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the child did not announce its address within 30 s");
        server.addr = addr.parse().expect("the announced address");
        assert!(server.addr.ip().is_loopback());
        server
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("the child server exited: {status}");
        }
    }

    /// User plus system CPU time the child consumed so far.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // The command name (field 2) may contain spaces; utime and stime are fields 14 and 15,
        // the 12th and 13th after the closing parenthesis.
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
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What became of a connection's first echo.
#[derive(Debug, PartialEq)]
enum Echo {
    Ok,
    /// The server closed or reset it: shed.
    Closed,
    /// Nothing came back within [`IO_TIMEOUT`]: left hanging.
    Hung,
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect over loopback");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Sends a message and reads its echo.
fn echo(s: &mut TcpStream, tag: usize) -> Echo {
    let msg = format!("message {tag} from the parent\n");
    if s.write_all(msg.as_bytes()).is_err() {
        return Echo::Closed;
    }
    let mut back = vec![0; msg.len()];
    match s.read_exact(&mut back) {
        Ok(()) => {
            assert_eq!(back, msg.as_bytes(), "a wrong echo");
            Echo::Ok
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Echo::Hung
        }
        Err(_) => Echo::Closed,
    }
}

#[test]
fn accept_survives_descriptor_exhaustion() {
    if std::env::var_os(ROLE).is_some() {
        return; // the child runs only its server
    }
    let _watchdog = util::watchdog("accept_survives_descriptor_exhaustion", 120);
    let mut server = ChildServer::start();
    let addr = server.addr;

    // 1. Connect until the child is out of descriptors: the connection over the limit is shed
    //    (closed at once), not left hanging in the backlog.
    let mut open = Vec::new();
    let refused = loop {
        assert!(
            open.len() < MAX_CONNECTIONS,
            "{MAX_CONNECTIONS} connections and the child is not out of descriptors"
        );
        let mut s = connect(addr);
        match echo(&mut s, open.len()) {
            Echo::Ok => open.push(s),
            other => break other,
        }
    };
    server.assert_alive();
    println!(
        "the child took {} connections, then: {refused:?}",
        open.len()
    );
    assert_eq!(
        refused,
        Echo::Closed,
        "over the limit, a connection must be shed"
    );
    assert!(open.len() >= 2, "only {} connections accepted", open.len());

    // 2. The connections already open still echo.
    for (i, s) in open.iter_mut().enumerate() {
        assert_eq!(echo(s, 1000 + i), Echo::Ok, "open connection {i}");
    }

    // 3. While exhausted (and connections keep arriving, to be shed), the child stays near idle.
    let cpu_before = server.cpu_time();
    let start = Instant::now();
    let mut arrivals = Vec::new();
    while start.elapsed() < Duration::from_millis(500) {
        arrivals.push(connect(addr));
        thread::sleep(Duration::from_millis(25));
    }
    let wall = start.elapsed();
    let cpu = server.cpu_time() - cpu_before;
    println!(
        "exhausted for {wall:?} with {} connections arriving: the child used {cpu:?} of CPU \
         ({:.1}% of wall time)",
        arrivals.len(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    );
    assert!(
        cpu.as_secs_f64() < 0.2 * wall.as_secs_f64(),
        "the child spun while out of descriptors: {cpu:?} of CPU in {wall:?}"
    );
    server.assert_alive();
    // Every one of them was shed (none can have been accepted: no descriptor was free).
    for (i, s) in arrivals.iter_mut().enumerate() {
        assert_eq!(
            echo(s, 2000 + i),
            Echo::Closed,
            "arrival {i} while exhausted"
        );
    }
    drop(arrivals);
    for (i, s) in open.iter_mut().enumerate() {
        assert_eq!(
            echo(s, 3000 + i),
            Echo::Ok,
            "open connection {i} after the wait"
        );
    }

    // 4. Closing connections makes room: a new one is accepted and echoes. (A connect that comes
    //    before the child has seen the close is shed: try again, within a hang guard.)
    drop(open.drain(..2));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut attempts = 0;
    let mut fresh = loop {
        attempts += 1;
        let mut s = connect(addr);
        match echo(&mut s, 4000 + attempts) {
            Echo::Ok => break s,
            other => assert!(
                Instant::now() < deadline,
                "no connection accepted within 5 s of closing two (last: {other:?})"
            ),
        }
        thread::sleep(Duration::from_millis(20));
    };
    println!("after closing two connections, a new one was accepted at attempt {attempts}");
    assert_eq!(echo(&mut fresh, 5000), Echo::Ok);
    for (i, s) in open.iter_mut().enumerate() {
        assert_eq!(
            echo(s, 6000 + i),
            Echo::Ok,
            "open connection {i} at the end"
        );
    }
    server.assert_alive();
    // Dropping `server` kills and reaps the child.
}
