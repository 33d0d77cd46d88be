//! What every example server shares: the `--addr` and `--grace` flags, the `listening on` line, the
//! graceful shutdown on SIGINT and SIGTERM, and, for the servers on a raw `mio` or tokio listener,
//! how to treat accept errors. The servers on evloop also take `--stats SECS` and print a dump of
//! their loop on SIGUSR1 (see [`observe`]).
//!
//! The shutdown: on the first SIGINT or SIGTERM a server prints `shutting down`, stops accepting
//! (it drops its listener), lets the connections in flight finish for up to `--grace` seconds (5 by
//! default), cancels what is left, and exits with status 0.
//!
//! The servers on evloop's `TcpListener` need no accept back-off of their own: out of descriptors
//! or memory, its `accept` waits and sheds connections by itself (see its docs). The callback
//! server (`echo_callbacks`) and the benchmark peers (`echo_mio`, `echo_tokio`) accept on their own
//! listeners, so they back off by hand with what is below.

// Each example uses only part of this module.
#![allow(dead_code)]

use std::future::poll_fn;
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::task::Poll;
use std::time::Duration;

use evloop::event_loop::{Histogram, Metrics};
use evloop::signal::unix::{signal, SignalKind};
use evloop::sync::CancellationToken;
use evloop::task::TaskTracker;
use evloop::Handle;

/// The address used when `--addr` is not given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// How long to pause accepting after the process ran out of descriptors (or memory): long enough to
/// let connections close, short enough that clients barely notice. (evloop's listeners pause as
/// long.)
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a server lets its connections finish after a shutdown signal, unless `--grace` says.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// The command line of an example server.
pub struct Args {
    pub addr: SocketAddr,
    pub grace: Duration,
    /// `--idle-timeout SECS`: close a connection silent for this long (servers that support it).
    pub idle_timeout: Option<Duration>,
    /// `--idle-reset`: keep the idle timeout as one sleep reset per read rather than a `timeout`
    /// per read (`echo_tokio`, to measure both of tokio's forms).
    pub idle_reset: bool,
    /// `--stats SECS`: print a line of loop metrics every SECS seconds (servers that call
    /// [`observe`]).
    pub stats: Option<Duration>,
}

/// Parses `--addr HOST:PORT` (or `--addr=HOST:PORT`; HOST a name such as `localhost` or a numeric
/// address), `--grace SECS`, `--idle-timeout SECS` (with `--idle-reset`), `--stats SECS` and
/// `--help`. On bad input prints the problem and the usage to stderr and exits with status 2.
pub fn parse_args(name: &str) -> Args {
    parse_args_with(name, DEFAULT_ADDR, &[]).0
}

/// [`parse_args`] for a server with another default address and flags of its own: each of `extra`
/// (`("--loops", "N")`) takes a value, returned with it in the order given on the command line,
/// for the program to check.
pub fn parse_args_with(
    name: &str,
    default_addr: &str,
    extra: &[(&str, &str)],
) -> (Args, Vec<(String, String)>) {
    let own: String = extra.iter().map(|(f, v)| format!(" [{f} {v}]")).collect();
    let usage = format!(
        "usage: {name} [--addr HOST:PORT] [--grace SECS] [--idle-timeout SECS [--idle-reset]] [--stats SECS]{own}   (defaults {default_addr}, {} s, none)",
        DEFAULT_GRACE.as_secs()
    );
    let mut found = Vec::new();
    let mut addr = default_addr.to_string();
    let mut grace = DEFAULT_GRACE;
    let mut idle_timeout = None;
    let mut idle_reset = false;
    let mut stats = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, value) = split_flag(&arg);
        match flag.as_str() {
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            "--idle-reset" => idle_reset = true,
            "--addr" | "--grace" | "--idle-timeout" | "--stats" => {
                let Some(v) = value.or_else(|| args.next()) else {
                    fail(&format!("`{flag}` needs a value"), &usage)
                };
                if flag == "--addr" {
                    addr = v;
                    continue;
                }
                let secs = match v.parse::<f64>() {
                    Ok(s) if (0.0..1e12).contains(&s) => Duration::from_secs_f64(s),
                    _ => fail(&format!("`{v}` is not a number of seconds"), &usage),
                };
                if flag == "--grace" {
                    grace = secs;
                } else if secs.is_zero() {
                    fail(&format!("`{flag}` must be more than 0"), &usage);
                } else if flag == "--stats" {
                    stats = Some(secs);
                } else {
                    idle_timeout = Some(secs);
                }
            }
            f if extra.iter().any(|(e, _)| *e == f) => {
                let Some(v) = value.or_else(|| args.next()) else {
                    fail(&format!("`{flag}` needs a value"), &usage)
                };
                found.push((flag, v));
            }
            _ => fail(&format!("unexpected argument `{arg}`"), &usage),
        }
    }
    match resolve(&addr) {
        Some(addr) => (
            Args {
                addr,
                grace,
                idle_timeout,
                idle_reset,
                stats,
            },
            found,
        ),
        None => fail(
            &format!("`{addr}` is not a HOST:PORT address (or the host name does not resolve)"),
            &usage,
        ),
    }
}

/// `--flag=value` as the flag and its value; any other argument as itself, with no value (the
/// program takes it from the next argument if the flag needs one).
pub fn split_flag(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((f, v)) => (f.to_string(), Some(v.to_string())),
        None => (arg.to_string(), None),
    }
}

/// [`parse_args`] for a program that only needs the address.
pub fn parse_addr(name: &str) -> SocketAddr {
    parse_args(name).addr
}

/// `HOST:PORT` as one socket address: a numeric address as it is, a name (`localhost:7878`)
/// through the system resolver. This runs once at start-up, before any loop runs, so blocking in
/// `getaddrinfo` costs nothing here (inside a loop, use `evloop::net::lookup_host`). Of a name's
/// addresses the first IPv4 one is taken, like the default `127.0.0.1`, else the first.
fn resolve(addr: &str) -> Option<SocketAddr> {
    if let Ok(a) = addr.parse() {
        return Some(a);
    }
    let all: Vec<SocketAddr> = addr.to_socket_addrs().ok()?.collect();
    all.iter().find(|a| a.is_ipv4()).or(all.first()).copied()
}

/// Prints `msg` and `usage` to stderr and exits with status 2.
pub fn fail(msg: &str, usage: &str) -> ! {
    eprintln!("error: {msg}\n{usage}");
    std::process::exit(2);
}

/// Prints `listening on ADDR` and flushes, so a parent process can read the bound port.
pub fn announce(addr: SocketAddr) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()
}

/// Whether an accept error means "the process or system is out of a resource": then back off
/// rather than retry at once, because the listener stays readable and a retry would spin.
/// Other errors (a connection aborted before we took it) concern one client only.
pub fn must_back_off(e: &io::Error) -> bool {
    !matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
    )
}

/// Raises a listener's accept backlog from the 128 that std and mio ask for to 1024 (what tokio
/// and evloop's own listeners use), so that a burst of connects queues instead of being dropped or
/// answered with SYN cookies. Calling `listen(2)` again on a listening socket only changes it.
pub fn raise_backlog(listener: &impl std::os::fd::AsRawFd) -> io::Result<()> {
    // SAFETY: `listen` takes no pointers; the descriptor is the caller's open listener.
    if unsafe { libc::listen(listener.as_raw_fd(), 1024) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A token cancelled on the first SIGINT or SIGTERM, once `shutting down` is printed. A second
/// signal ends the grace period of [`drain`] at once (the listeners stay, so that no signal finds
/// the default disposition, which would kill the process). The signal listeners do not keep the
/// loop alive by themselves. Call it inside the loop (it spawns a task),
/// and before [`announce`]: a signal sent as soon as the address is known must find the handler
/// installed, not the default disposition (which ends the process).
pub fn shutdown_signal() -> io::Result<CancellationToken> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    interrupt.set_keep_alive(false);
    terminate.set_keep_alive(false);
    let token = CancellationToken::new();
    let cancel = token.clone();
    evloop::spawn(async move {
        let mut signals = 0;
        poll_fn(|cx| {
            // Until both listeners are pending (their wakers stored): a delivery is taken each time
            // one is ready.
            loop {
                let int = interrupt.poll_recv(cx).is_ready();
                let term = terminate.poll_recv(cx).is_ready();
                if !int && !term {
                    return Poll::Pending;
                }
                signals += 1;
                if signals == 1 {
                    say_shutting_down();
                    cancel.cancel();
                } else {
                    return Poll::Ready(());
                }
            }
        })
        .await;
        eprintln!("second signal: not waiting for the connections");
        FORCE.with(CancellationToken::cancel);
        // Listening on: later signals are ignored until the process exits.
        std::future::pending::<()>().await;
    });
    Ok(token)
}

thread_local! {
    /// Cancelled by a second shutdown signal: [`drain`] stops waiting then.
    static FORCE: CancellationToken = CancellationToken::new();
}

/// Prints `shutting down` and flushes: the line a parent process waits for.
pub fn say_shutting_down() {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "shutting down");
    let _ = out.flush();
}

/// The end of a graceful shutdown: lets the tasks of `tracker` finish for up to `grace`. Returns
/// how many were still running then; they are cancelled when the loop is dropped, as `main`
/// returns.
pub async fn drain(tracker: &TaskTracker, grace: Duration) -> usize {
    drain_until(tracker, grace, FORCE.with(CancellationToken::clone)).await
}

/// [`drain`], cut short by `force` instead of this thread's second signal (a `LoopSet`'s loops
/// are told of the signals by the set: `LoopContext::force_token`).
pub async fn drain_until(
    tracker: &TaskTracker,
    grace: Duration,
    force: CancellationToken,
) -> usize {
    tracker.close();
    let waited = force
        .run_until_cancelled(evloop::time::timeout(grace, tracker.wait()))
        .await;
    if matches!(waited, Some(Ok(()))) {
        return 0;
    }
    let left = tracker.len();
    eprintln!("grace period over: cancelling {left} connection(s)");
    left
}

/// What a person can see of a running server: on SIGUSR1 the loop's dump (tasks, timers,
/// watchers) on stderr; with `stats`, one line of metrics every interval on stderr. Neither keeps
/// the loop alive. Call it inside the loop; [`print_histograms`] at the end.
pub fn observe(stats: Option<Duration>) -> io::Result<()> {
    let mut usr1 = signal(SignalKind::user_defined1())?;
    usr1.set_keep_alive(false);
    evloop::spawn(async move {
        while usr1.recv().await.is_some() {
            eprint!("{}", Handle::current().dump());
        }
    });
    if let Some(every) = stats {
        let h = Handle::current();
        let mut last = h.metrics();
        let timer = h.call_every(every, move |h| {
            let now = h.metrics();
            eprintln!("{}", stats_line(&last, &now, every));
            last = now;
        });
        h.set_timer_keep_alive(timer, false);
    }
    Ok(())
}

/// One line of metrics: what changed from `a` to `b` over `dt`, and what is alive now.
pub fn stats_line(a: &Metrics, b: &Metrics, dt: Duration) -> String {
    let per_s = |x: u64, y: u64| (y - x) as f64 / dt.as_secs_f64();
    let busy = (b.busy_time() - a.busy_time()).as_secs_f64();
    let idle = (b.idle_time() - a.idle_time()).as_secs_f64();
    let load = if busy + idle > 0.0 {
        100.0 * busy / (busy + idle)
    } else {
        0.0
    };
    let polls = b.io_polls() - a.io_polls();
    let events = b.io_events() - a.io_events();
    let q = |h: &Histogram, q| match h.quantile_upper_bound(q) {
        Some(d) => format!("<{}", short(d)),
        None => "-".into(),
    };
    format!(
        "stats: {:.0} turns/s, busy {load:.0}%, {:.0} polls/s ({:.1} events/poll), \
         {:.0} task polls/s, {:.0} callbacks/s, {} tasks, {} watchers, {} timers, queue max {}, \
         schedule latency p50 {} p99 {}, poll p99 {}",
        per_s(a.turns(), b.turns()),
        per_s(a.io_polls(), b.io_polls()),
        if polls == 0 {
            0.0
        } else {
            events as f64 / polls as f64
        },
        per_s(a.tasks_polled(), b.tasks_polled()),
        per_s(
            a.callbacks_run() + a.watcher_events(),
            b.callbacks_run() + b.watcher_events()
        ),
        b.tasks_alive(),
        b.watchers(),
        b.timers_live(),
        b.queue_depth_max(),
        q(b.schedule_latency(), 0.5),
        q(b.schedule_latency(), 0.99),
        q(b.poll_duration(), 0.99),
    )
}

/// A duration as a person reads it: `512ns`, `131us`, `4.2ms`, `1.50s`.
fn short(d: Duration) -> String {
    match d.as_nanos() {
        ns @ 0..1_000 => format!("{ns}ns"),
        ns @ 1_000..1_000_000 => format!("{}us", ns / 1_000),
        1_000_000..1_000_000_000 => format!("{:.1}ms", d.as_secs_f64() * 1e3),
        _ => format!("{:.2}s", d.as_secs_f64()),
    }
}

/// The loop's two latency histograms as text bars, on stderr.
pub fn print_histograms(h: &Handle) {
    let m = h.metrics();
    eprintln!(
        "schedule latency (wake-up to poll), {} samples:\n{}",
        m.schedule_latency().total(),
        m.schedule_latency().bars(40)
    );
    eprintln!(
        "poll duration, {} samples:\n{}",
        m.poll_duration().total(),
        m.poll_duration().bars(40)
    );
}
