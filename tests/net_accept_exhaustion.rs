//! `accept` out of file descriptors: it neither spins nor gives up, and the connections already
//! open go on being served.
//!
//! The server is this test binary itself, re-run as a child process (with an environment variable
//! telling it its role) so that its descriptor limit can be lowered without starving the test: it
//! runs the README's echo loop, `listener.accept().await?`, with room for only a few connections.
//! The parent connects until the child is out of descriptors, then checks that the open
//! connections still echo, that the child stays near idle while exhausted (its CPU time, from
//! `/proc/PID/stat`), and that a connection is accepted again once some are closed. Three
//! servers: TCP on 127.0.0.1, the same with its reserve descriptor closed behind its back (so it
//! can only back off, and must not close the stranger that took the reserve's number), and a Unix
//! socket.

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, UnixListener};
use evloop::EventLoop;

/// In the child's environment, what it serves: `tcp`, `tcp-no-reserve` or `unix:PATH`.
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
/// How long a connection over the limit is given to be shed before it counts as hanging in the
/// backlog (the server sheds at once, or after its 100 ms back-off).
const SHED_TIMEOUT: Duration = Duration::from_secs(1);
/// Most connections the parent opens while looking for the limit.
const MAX_CONNECTIONS: usize = 200;

// ---------------------------------------------------------------------------------------------
// The child: an echo server with a descriptor limit just above what it has open

#[test]
fn child_echo_server_with_few_descriptors() {
    let Some(role) = std::env::var(ROLE).ok() else {
        return; // only the child runs it
    };
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
        if let Some(path) = role.strip_prefix("unix:") {
            let listener = UnixListener::bind(path)?;
            announce(path)?;
            // The README's loop: an accept error would end the server.
            loop {
                let (stream, _) = listener.accept().await?;
                evloop::spawn(echo_task(stream));
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0")?;
        if role == "tcp-no-reserve" {
            close_reserve();
        }
        announce(listener.local_addr()?)?;
        loop {
            let (stream, _) = listener.accept().await?;
            evloop::spawn(echo_task(stream));
        }
    });
    panic!("the server ended: {result:?}");
}

fn announce(addr: impl std::fmt::Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{ANNOUNCE}{addr}")?;
    out.flush()
}

async fn echo_task(mut stream: impl AsyncRead + AsyncWrite) {
    let mut buf = [0; 4096];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        if stream.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// Closes the listeners' reserve descriptor (an anonymous `memfd` named `evloop-reserve`), as a
/// program that closes descriptors it does not know would: its number is then reused by a
/// connection.
fn close_reserve() {
    let reserve = open_fds()
        .into_iter()
        .filter(|fd| *fd > 2)
        .find(|fd| {
            std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|target| {
                target
                    .to_string_lossy()
                    .starts_with("/memfd:evloop-reserve")
            })
        })
        .expect("the listener opened a reserve descriptor");
    // SAFETY: closing a descriptor number takes no pointer; the descriptor belongs to evloop, which
    // must cope (that is what this server checks).
    unsafe { libc::close(reserve as i32) };
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

/// Where the child listens.
#[derive(Clone, Debug)]
enum Addr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// The child process; killed and reaped when dropped, also when the test fails.
struct ChildServer {
    child: Child,
    addr: Addr,
}

impl ChildServer {
    fn start(role: &str) -> ChildServer {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
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
        // Owned from here on, so that a failure below still kills the child.
        let mut server = ChildServer {
            child,
            addr: Addr::Unix(PathBuf::new()),
        };
        let announced = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the child did not announce its address within 30 s");
        server.addr = if role.starts_with("unix:") {
            Addr::Unix(announced.into())
        } else {
            let addr: SocketAddr = announced.parse().expect("the announced address");
            assert!(addr.ip().is_loopback(), "the child announced {addr}");
            Addr::Tcp(addr)
        };
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

    fn connect(&self) -> Conn {
        let conn = match &self.addr {
            Addr::Tcp(addr) => {
                let s = std::net::TcpStream::connect_timeout(addr, IO_TIMEOUT)
                    .expect("connect over loopback");
                s.set_nodelay(true).unwrap();
                Conn::Tcp(s)
            }
            Addr::Unix(path) => Conn::Unix(UnixStream::connect(path).expect("connect")),
        };
        conn.set_timeouts(IO_TIMEOUT);
        conn
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client connection of either kind.
enum Conn {
    Tcp(std::net::TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn set_timeouts(&self, t: Duration) {
        match self {
            Conn::Tcp(s) => {
                s.set_read_timeout(Some(t)).unwrap();
                s.set_write_timeout(Some(t)).unwrap();
            }
            Conn::Unix(s) => {
                s.set_read_timeout(Some(t)).unwrap();
                s.set_write_timeout(Some(t)).unwrap();
            }
        }
    }

    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Conn::Tcp(s) => s,
            Conn::Unix(s) => s,
        }
    }

    /// Sends a message and reads its echo.
    fn echo(&mut self, tag: usize) -> Echo {
        let msg = format!("message {tag} from the parent\n");
        let io = self.io();
        if io.write_all(msg.as_bytes()).is_err() {
            return Echo::Closed;
        }
        let mut back = vec![0; msg.len()];
        match io.read_exact(&mut back) {
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
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// What became of a connection's first echo.
#[derive(Debug, PartialEq)]
enum Echo {
    Ok,
    /// The server closed or reset it: shed.
    Closed,
    /// Nothing came back in time: left waiting in the backlog.
    Hung,
}

/// Drives a child server out of descriptors and back; `shed` is whether it can shed the
/// connections over its limit (it has its reserve descriptor).
fn exhaust_and_recover(role: &str, shed: bool) {
    let mut server = ChildServer::start(role);

    // 1. Connect until the child is out of descriptors: the connection over the limit is shed
    //    (closed at once) if the child has its reserve, else it waits in the backlog.
    let mut open = Vec::new();
    let (over, refused) = loop {
        assert!(
            open.len() < MAX_CONNECTIONS,
            "{MAX_CONNECTIONS} connections and the child is not out of descriptors"
        );
        let mut c = server.connect();
        c.set_timeouts(SHED_TIMEOUT);
        match c.echo(open.len()) {
            Echo::Ok => {
                c.set_timeouts(IO_TIMEOUT);
                open.push(c);
            }
            other => break (c, other),
        }
    };
    server.assert_alive();
    println!(
        "{role}: the child took {} connections, then: {refused:?}",
        open.len()
    );
    let expected = if shed { Echo::Closed } else { Echo::Hung };
    assert_eq!(refused, expected, "the connection over the limit");
    assert!(open.len() >= 2, "only {} connections accepted", open.len());

    // 2. The connections already open still echo.
    for (i, c) in open.iter_mut().enumerate() {
        assert_eq!(c.echo(1000 + i), Echo::Ok, "open connection {i}");
    }

    // 3. While exhausted, and connections keep arriving, the child stays near idle.
    let cpu_before = server.cpu_time();
    let start = Instant::now();
    let mut arrivals = Vec::new();
    while start.elapsed() < Duration::from_millis(500) {
        arrivals.push(server.connect());
        thread::sleep(Duration::from_millis(25));
    }
    let wall = start.elapsed();
    let cpu = server.cpu_time() - cpu_before;
    println!(
        "{role}: exhausted for {wall:?} with {} connections arriving, the child used {cpu:?} of \
         CPU ({:.1}% of wall time)",
        arrivals.len(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    );
    assert!(
        cpu.as_secs_f64() < 0.2 * wall.as_secs_f64(),
        "the child spun while out of descriptors: {cpu:?} of CPU in {wall:?}"
    );
    server.assert_alive();
    if shed {
        // Every one of them was shed (none can have been accepted: no descriptor was free).
        for (i, c) in arrivals.iter_mut().enumerate() {
            c.set_timeouts(SHED_TIMEOUT);
            assert_eq!(
                c.echo(2000 + i),
                Echo::Closed,
                "arrival {i} while exhausted"
            );
        }
    }
    for (i, c) in open.iter_mut().enumerate() {
        assert_eq!(
            c.echo(3000 + i),
            Echo::Ok,
            "open connection {i} after the wait"
        );
    }

    // 4. Closing connections makes room: a new one is accepted and echoes. (One that comes before
    //    the child has seen the closes, or behind those still waiting, may be shed: try again,
    //    within a hang guard.)
    drop((over, arrivals));
    drop(open.drain(..2));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut attempts = 0;
    let mut fresh = loop {
        attempts += 1;
        let mut c = server.connect();
        c.set_timeouts(SHED_TIMEOUT);
        match c.echo(4000 + attempts) {
            Echo::Ok => break c,
            other => assert!(
                Instant::now() < deadline,
                "no connection accepted within 5 s of closing two (last: {other:?})"
            ),
        }
        thread::sleep(Duration::from_millis(20));
    };
    println!("{role}: after closing two connections, a new one was accepted at attempt {attempts}");
    assert_eq!(fresh.echo(5000), Echo::Ok);
    for (i, c) in open.iter_mut().enumerate() {
        assert_eq!(c.echo(6000 + i), Echo::Ok, "open connection {i} at the end");
    }
    server.assert_alive();
    // Dropping `server` kills and reaps the child.
}

/// Runs `f` in the parent only (the child runs only its server).
fn parent(name: &'static str, f: impl FnOnce()) {
    if std::env::var_os(ROLE).is_some() {
        return;
    }
    let _watchdog = util::watchdog(name, 120);
    f();
}

#[test]
fn tcp_accept_sheds_over_the_limit_and_keeps_serving() {
    parent("tcp_accept_sheds_over_the_limit_and_keeps_serving", || {
        exhaust_and_recover("tcp", true)
    });
}

#[test]
fn tcp_accept_without_its_reserve_backs_off_and_spares_the_stranger() {
    parent(
        "tcp_accept_without_its_reserve_backs_off_and_spares_the_stranger",
        || exhaust_and_recover("tcp-no-reserve", false),
    );
}

#[test]
fn unix_accept_sheds_over_the_limit_and_keeps_serving() {
    parent("unix_accept_sheds_over_the_limit_and_keeps_serving", || {
        let dir = util::net::TempDir::new("accept-exhaustion");
        let path = dir.path("server.sock");
        exhaust_and_recover(&format!("unix:{}", path.display()), true);
    });
}
