//! A load generator for the echo servers: many pipelined connections on one thread, every echoed
//! byte checked, latency percentiles, and the server's CPU time per message.
//!
//! Run it against a server that printed `listening on ADDR`:
//!
//! ```text
//! cargo run --release -p evloop-bench --example echo_load -- --addr ADDR --conns 64 --inflight 1 --size 64 \
//!     --warmup 1 --duration 3 --server-pid PID
//! ```
//!
//! Each connection keeps `--inflight` messages of `--size` bytes outstanding: it sends that many at
//! once, then one more for each complete echo. A message is `[connection id: u32 LE][sequence
//! number: u64 LE][pattern]`, the pattern a pseudo-random byte string starting at an offset picked
//! by id and sequence number, so a lost, duplicated, reordered or crossed byte shows up; any such
//! byte, an early close or a message never echoed ends the run with a message and exit status 1.
//!
//! Time-bounded mode (`--duration`): all connections are opened first, then the load runs for
//! `--warmup` seconds unmeasured and `--duration` seconds measured; then no new message is sent and
//! the outstanding ones must come back within `--drain-timeout` seconds. Count mode (`--messages
//! N`): exactly N messages in all (spread over the connections) are sent and must come back, with
//! no warm-up; the whole run is measured. With `--server-pid`, the server's CPU time over the
//! measured window is read from `/proc/PID/stat` (user and system time, in clock ticks of
//! `sysconf(_SC_CLK_TCK)`) and `/proc/PID/schedstat` (run time in nanoseconds). The total per
//! message comes from schedstat when the kernel has it (else from stat); the user share is from
//! stat, which the kernel samples once per tick, so with little user time it is coarse: callgrind
//! instruction counts (see `benches/echo.rs`) are the precise user-space measure.
//!
//! Output: one machine-readable line starting with `RESULT ` (key=value pairs; `NaN` when a value is
//! unknown), then a human summary. Only loopback addresses are accepted as targets.
//!
//! It is single-threaded: one `mio` poller, non-blocking sockets, edge-triggered readiness, one read
//! buffer, and a per-connection output queue that is written once per readiness event.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::exit;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// Bytes of the header at the start of every message: connection id (u32) and sequence (u64).
const HEADER: usize = 12;
/// Pattern offsets cycle with this (prime) period.
const PATTERN_PERIOD: u64 = 251;

const USAGE: &str = "usage: echo_load --addr HOST:PORT [--conns N] [--inflight K] [--size BYTES]
                 [--duration SECS] [--warmup SECS] | [--messages N]
                 [--server-pid PID] [--drain-timeout SECS] [--connect-timeout SECS] [--quiet]
  --addr HOST:PORT      the echo server (loopback addresses only)
  --conns N             connections (default 64)
  --inflight K          messages outstanding per connection (default 1: ping-pong)
  --size BYTES          message size, at least 12 (default 64)
  --duration SECS       measured time (default 3)
  --warmup SECS         unmeasured load before it (default 1)
  --messages N          instead of a duration: send exactly N messages in all, measure everything
  --server-pid PID      read the server's CPU time from /proc/PID/stat
  --drain-timeout SECS  how long outstanding echoes may take after the load stops (default 10)
  --connect-timeout S   how long opening all connections may take (default 10)
  --connect-pace SECS   pause between two connects (default 0), for a server too slow (under
                        callgrind, say) to accept thousands at once before its backlog overflows
  --quiet               print only the RESULT line";

struct Args {
    addr: SocketAddr,
    conns: usize,
    inflight: usize,
    size: usize,
    duration: f64,
    warmup: f64,
    messages: Option<u64>,
    server_pid: Option<u32>,
    drain_timeout: f64,
    connect_timeout: f64,
    connect_pace: f64,
    quiet: bool,
}

fn fail(msg: &str) -> ! {
    eprintln!("echo_load: error: {msg}");
    exit(1);
}

fn usage_error(msg: &str) -> ! {
    eprintln!("echo_load: error: {msg}\n{USAGE}");
    exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 7878)),
        conns: 64,
        inflight: 1,
        size: 64,
        duration: 3.0,
        warmup: 1.0,
        messages: None,
        server_pid: None,
        drain_timeout: 10.0,
        connect_timeout: 10.0,
        connect_pace: 0.0,
        quiet: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match name.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0);
            }
            "--quiet" => {
                a.quiet = true;
                continue;
            }
            _ => {}
        }
        let value = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => usage_error(&format!("`{name}` needs a value")),
        };
        fn num<T: std::str::FromStr>(name: &str, v: &str) -> T {
            v.parse()
                .unwrap_or_else(|_| usage_error(&format!("bad value `{v}` for `{name}`")))
        }
        match name.as_str() {
            "--addr" => a.addr = num(&name, &value),
            "--conns" => a.conns = num(&name, &value),
            "--inflight" => a.inflight = num(&name, &value),
            "--size" => a.size = num(&name, &value),
            "--duration" => a.duration = num(&name, &value),
            "--warmup" => a.warmup = num(&name, &value),
            "--messages" => a.messages = Some(num(&name, &value)),
            "--server-pid" => a.server_pid = Some(num(&name, &value)),
            "--drain-timeout" => a.drain_timeout = num(&name, &value),
            "--connect-timeout" => a.connect_timeout = num(&name, &value),
            "--connect-pace" => a.connect_pace = num(&name, &value),
            _ => usage_error(&format!("unexpected argument `{arg}`")),
        }
    }
    if !a.addr.ip().is_loopback() {
        usage_error(&format!(
            "{} is not a loopback address: this load generator only targets 127.0.0.0/8 or ::1",
            a.addr
        ));
    }
    if a.conns == 0 || a.conns > u32::MAX as usize {
        usage_error("--conns must be at least 1");
    }
    if a.inflight == 0 {
        usage_error("--inflight must be at least 1");
    }
    if a.size < HEADER {
        usage_error(&format!("--size must be at least {HEADER} (the header)"));
    }
    for (what, v) in [
        ("--duration", a.duration),
        ("--warmup", a.warmup),
        ("--drain-timeout", a.drain_timeout),
        ("--connect-timeout", a.connect_timeout),
        ("--connect-pace", a.connect_pace),
    ] {
        if !(0.0..86_400.0).contains(&v) {
            usage_error(&format!("{what} must be a number of seconds, 0 to 86400"));
        }
    }
    if a.duration <= 0.0 && a.messages.is_none() {
        usage_error("--duration must be positive");
    }
    if a.messages == Some(0) {
        usage_error("--messages must be at least 1");
    }
    a
}

/// The message contents, shared by the sender and the checker.
struct Pattern {
    bytes: Vec<u8>,
    size: usize,
}

impl Pattern {
    fn new(size: usize) -> Pattern {
        // xorshift64*: deterministic, and no byte string repeats at a small shift.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let bytes = (0..PATTERN_PERIOD as usize + size)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect();
        Pattern { bytes, size }
    }

    fn header(id: u32, seq: u64) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[..4].copy_from_slice(&id.to_le_bytes());
        h[4..].copy_from_slice(&seq.to_le_bytes());
        h
    }

    fn body(&self, id: u32, seq: u64) -> &[u8] {
        let off = ((u64::from(id) * 131 + seq) % PATTERN_PERIOD) as usize;
        &self.bytes[off..off + self.size - HEADER]
    }

    fn append(&self, out: &mut Vec<u8>, id: u32, seq: u64) {
        out.extend_from_slice(&Self::header(id, seq));
        out.extend_from_slice(self.body(id, seq));
    }
}

struct Conn {
    stream: TcpStream,
    id: u32,
    connected: bool,
    /// The next sequence number to send, and the one being received.
    send_seq: u64,
    recv_seq: u64,
    /// Bytes of message `recv_seq` received so far.
    rpos: usize,
    /// Messages this connection may still send (count mode), or `u64::MAX`.
    quota: u64,
    /// Bytes queued for the socket: `out[out_pos..]`.
    out: Vec<u8>,
    out_pos: usize,
    /// When each outstanding message was queued, in ns since the start, at `seq % inflight`.
    sent_at: Vec<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Connecting,
    Warmup,
    Measure,
    Drain,
}

struct Load {
    pattern: Pattern,
    inflight: usize,
    phase: Phase,
    start: Instant,
    /// Messages sent and not yet echoed, over all connections.
    outstanding: u64,
    /// Messages echoed while measuring.
    measured: u64,
    hist: Histogram<u64>,
    /// Messages left to echo in count mode.
    remaining: u64,
}

impl Load {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn may_send(&self) -> bool {
        matches!(self.phase, Phase::Warmup | Phase::Measure)
    }

    /// Queues the next message of `c`, if it may send.
    fn queue(&mut self, c: &mut Conn, now: u64) {
        if !self.may_send() || c.quota == 0 {
            return;
        }
        if c.out_pos > 0 && c.out_pos == c.out.len() {
            c.out.clear();
            c.out_pos = 0;
        }
        self.pattern.append(&mut c.out, c.id, c.send_seq);
        c.sent_at[(c.send_seq % self.inflight as u64) as usize] = now;
        c.send_seq += 1;
        c.quota -= 1;
        self.outstanding += 1;
    }

    /// Checks received bytes against what was sent; completes messages.
    fn receive(&mut self, c: &mut Conn, mut data: &[u8], now: u64) {
        let size = self.pattern.size;
        while !data.is_empty() {
            if c.recv_seq >= c.send_seq {
                fail(&format!(
                    "connection {}: received {} byte(s) that were never sent (after message {})",
                    c.id,
                    data.len(),
                    c.recv_seq
                ));
            }
            let k = (size - c.rpos).min(data.len());
            let (chunk, rest) = data.split_at(k);
            data = rest;
            // Compare the header part and the body part of this chunk.
            let header = Pattern::header(c.id, c.recv_seq);
            let body = self.pattern.body(c.id, c.recv_seq);
            let mut pos = c.rpos;
            let mut i = 0;
            while i < chunk.len() {
                let (expected, len) = if pos < HEADER {
                    let len = (HEADER - pos).min(chunk.len() - i);
                    (&header[pos..pos + len], len)
                } else {
                    let len = chunk.len() - i;
                    (&body[pos - HEADER..pos - HEADER + len], len)
                };
                let got = &chunk[i..i + len];
                if got != expected {
                    let j = got.iter().zip(expected).position(|(g, e)| g != e).unwrap();
                    fail(&format!(
                        "corrupt echo: connection {} message {} byte {} of {}: expected {:#04x}, got {:#04x}",
                        c.id,
                        c.recv_seq,
                        pos + j,
                        size,
                        expected[j],
                        got[j]
                    ));
                }
                pos += len;
                i += len;
            }
            c.rpos = pos;
            if c.rpos == size {
                c.rpos = 0;
                let sent = c.sent_at[(c.recv_seq % self.inflight as u64) as usize];
                c.recv_seq += 1;
                self.outstanding -= 1;
                self.remaining = self.remaining.saturating_sub(1);
                if self.phase == Phase::Measure {
                    self.measured += 1;
                    self.hist.saturating_record(now.saturating_sub(sent).max(1));
                }
                self.queue(c, now);
            }
        }
    }

    /// Handles a readiness event (or the start of the load) for `c`.
    fn drive(&mut self, c: &mut Conn, buf: &mut [u8]) {
        loop {
            match c.stream.read(buf) {
                Ok(0) => fail(&format!(
                    "connection {}: the server closed it with {} message(s) not echoed",
                    c.id,
                    c.send_seq - c.recv_seq
                )),
                Ok(n) => {
                    let now = self.now_ns();
                    self.receive(c, &buf[..n], now);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => fail(&format!("connection {}: read failed: {e}", c.id)),
            }
        }
        flush(c);
    }
}

/// Writes the connection's queue until it is empty or the socket would block.
fn flush(c: &mut Conn) {
    while c.out_pos < c.out.len() {
        match c.stream.write(&c.out[c.out_pos..]) {
            Ok(0) => fail(&format!("connection {}: write returned 0", c.id)),
            Ok(n) => c.out_pos += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => fail(&format!("connection {}: write failed: {e}", c.id)),
        }
    }
}

/// A process's CPU time: user and system clock ticks from `/proc/PID/stat`, and the scheduler's
/// nanosecond-exact run time from `/proc/PID/schedstat` when the kernel provides it.
#[derive(Clone, Copy, Default)]
struct Cpu {
    utime: u64,
    stime: u64,
    run_ns: Option<u64>,
}

fn server_cpu(pid: u32) -> Cpu {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| fail(&format!("cannot read /proc/{pid}/stat: {e}")));
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are at 11 and 12 after field 2.
    let get = |i: usize| -> u64 {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| fail(&format!("unexpected format of /proc/{pid}/stat")))
    };
    let run_ns = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok());
    Cpu {
        utime: get(11),
        stime: get(12),
        run_ns,
    }
}

/// This process's own CPU time (user + system), in microseconds.
fn own_cpu_us() -> f64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return f64::NAN;
    }
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions; it only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Raises the soft limit on open files to the hard limit, for runs with many connections.
fn raise_nofile_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 && lim.rlim_cur < lim.rlim_max
    {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit; raising the soft limit up to the hard one is allowed.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
}

fn main() {
    let args = parse_args();
    raise_nofile_limit();
    let mut poll = Poll::new().unwrap_or_else(|e| fail(&format!("cannot create a poller: {e}")));
    let mut events = Events::with_capacity(1024);
    let count_mode = args.messages.is_some();
    let total = args.messages.unwrap_or(u64::MAX);

    let mut conns: Vec<Conn> = Vec::with_capacity(args.conns);
    for i in 0..args.conns {
        if args.connect_pace > 0.0 && i > 0 {
            std::thread::sleep(Duration::from_secs_f64(args.connect_pace));
        }
        let mut stream = TcpStream::connect(args.addr).unwrap_or_else(|e| {
            fail(&format!(
                "connection {i} of {}: connect failed: {e} (too many open files? raise `ulimit -n`)",
                args.conns
            ))
        });
        poll.registry()
            .register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .unwrap_or_else(|e| fail(&format!("cannot register a socket: {e}")));
        let quota = if count_mode {
            let n = args.conns as u64;
            total / n + u64::from((i as u64) < total % n)
        } else {
            u64::MAX
        };
        conns.push(Conn {
            stream,
            id: i as u32,
            connected: false,
            send_seq: 0,
            recv_seq: 0,
            rpos: 0,
            quota,
            out: Vec::with_capacity(args.inflight * args.size),
            out_pos: 0,
            sent_at: vec![0; args.inflight],
        });
    }

    let mut load = Load {
        pattern: Pattern::new(args.size),
        inflight: args.inflight,
        phase: Phase::Connecting,
        start: Instant::now(),
        outstanding: 0,
        measured: 0,
        hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("histogram bounds"),
        remaining: if count_mode { total } else { 0 },
    };
    let secs = |s: f64| Duration::from_secs_f64(s);
    let mut connected = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut deadline = Instant::now() + secs(args.connect_timeout);
    let (mut measure_start, mut measure_end) = (Instant::now(), Instant::now());
    let mut cpu_start = (Cpu::default(), 0.0);
    let mut cpu_end = (Cpu::default(), 0.0);
    let read_cpu = |cpu: &mut (Cpu, f64)| {
        if let Some(pid) = args.server_pid {
            cpu.0 = server_cpu(pid);
        }
        cpu.1 = own_cpu_us();
    };

    loop {
        let now = Instant::now();
        // Phase changes happen at deadlines.
        if now >= deadline {
            match load.phase {
                Phase::Connecting => fail(&format!(
                    "only {connected} of {} connections were established within {} s",
                    args.conns, args.connect_timeout
                )),
                Phase::Warmup => {
                    load.phase = Phase::Measure;
                    read_cpu(&mut cpu_start);
                    measure_start = Instant::now();
                    deadline = measure_start + secs(args.duration);
                }
                Phase::Measure => {
                    read_cpu(&mut cpu_end);
                    measure_end = Instant::now();
                    load.phase = Phase::Drain;
                    deadline = measure_end + secs(args.drain_timeout);
                }
                Phase::Drain => fail(&format!(
                    "missing echo: {} message(s) still not echoed {} s after the load stopped",
                    load.outstanding, args.drain_timeout
                )),
            }
        }
        if load.phase == Phase::Drain && load.outstanding == 0 {
            break;
        }
        if count_mode && load.phase == Phase::Measure && load.remaining == 0 {
            read_cpu(&mut cpu_end);
            measure_end = Instant::now();
            break;
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != ErrorKind::Interrupted {
                fail(&format!("poll failed: {e}"));
            }
        }
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if !c.connected {
                if let Ok(Some(e)) | Err(e) = c.stream.take_error() {
                    fail(&format!("connection {}: connect failed: {e}", c.id));
                }
                match c.stream.peer_addr() {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::NotConnected => continue,
                    Err(e) => fail(&format!("connection {}: connect failed: {e}", c.id)),
                }
                c.connected = true;
                let _ = c.stream.set_nodelay(true);
                connected += 1;
                continue;
            }
            load.drive(c, &mut buf);
        }
        if load.phase == Phase::Connecting && connected == args.conns {
            // Everyone is connected: start the load.
            if count_mode {
                load.phase = Phase::Measure;
                read_cpu(&mut cpu_start);
                measure_start = Instant::now();
                deadline = measure_start + Duration::from_secs(86_400);
            } else if args.warmup > 0.0 {
                load.phase = Phase::Warmup;
                deadline = Instant::now() + secs(args.warmup);
            } else {
                load.phase = Phase::Measure;
                read_cpu(&mut cpu_start);
                measure_start = Instant::now();
                deadline = measure_start + secs(args.duration);
            }
            let now = load.now_ns();
            for c in conns.iter_mut() {
                for _ in 0..args.inflight {
                    load.queue(c, now);
                }
                flush(c);
            }
        }
    }

    // Every message sent was echoed exactly (checked as it came); nothing may follow.
    for c in &conns {
        debug_assert_eq!(c.send_seq, c.recv_seq);
        debug_assert_eq!(c.rpos, 0);
    }
    let echoed: u64 = conns.iter().map(|c| c.recv_seq).sum();
    drop(conns);

    let elapsed = measure_end.duration_since(measure_start).as_secs_f64();
    let msgs = load.measured;
    let rate = msgs as f64 / elapsed;
    let us = |q: f64| load.hist.value_at_quantile(q) as f64 / 1000.0;
    let (p50, p99, p999, max) = if msgs > 0 {
        (
            us(0.5),
            us(0.99),
            us(0.999),
            load.hist.max() as f64 / 1000.0,
        )
    } else {
        (f64::NAN, f64::NAN, f64::NAN, f64::NAN)
    };
    let (cpu, user, cpu_source) = match args.server_pid {
        Some(_) if msgs > 0 => {
            let (a, b) = (cpu_start.0, cpu_end.0);
            let tick_us = 1e6 / clock_ticks_per_sec();
            let user = (b.utime - a.utime) as f64 * tick_us;
            let sys = (b.stime - a.stime) as f64 * tick_us;
            match (a.run_ns, b.run_ns) {
                (Some(x), Some(y)) => ((y - x) as f64 / 1e3, user, "schedstat"),
                _ => (user + sys, user, "stat"),
            }
        }
        _ => (f64::NAN, f64::NAN, "none"),
    };
    let (cpu, user) = (cpu / msgs as f64, user / msgs as f64);
    let own = (cpu_end.1 - cpu_start.1) / msgs as f64;
    println!(
        "RESULT msgs_per_sec={rate:.0} p50_us={p50:.1} p99_us={p99:.1} p999_us={p999:.1} \
         max_us={max:.1} server_cpu_us_per_msg={cpu:.3} server_user_us_per_msg={user:.3} \
         loadgen_cpu_us_per_msg={own:.3} cpu_source={cpu_source} msgs={msgs} echoed={echoed} \
         secs={elapsed:.3} conns={} inflight={} size={}",
        args.conns, args.inflight, args.size
    );
    if !args.quiet {
        println!(
            "{} connections x {} in flight x {} B: {msgs} messages echoed and verified in {elapsed:.2} s \
             ({echoed} in all) = {rate:.0} msgs/s; latency p50 {p50:.1} us, p99 {p99:.1} us, \
             p99.9 {p999:.1} us, max {max:.1} us",
            args.conns, args.inflight, args.size
        );
        if args.server_pid.is_some() {
            println!(
                "server CPU per message: {cpu:.3} us, of which user {user:.3} us (from {cpu_source}; \
                 user time is sampled at the clock tick)",
            );
        }
        println!("load generator CPU per message: {own:.3} us");
    }
    let _ = io::stdout().flush();
}
