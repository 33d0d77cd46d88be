//! What every example server shares: the `--addr` flag, the `listening on` line, and, for the
//! servers on a raw `mio` or tokio listener, how to treat accept errors.
//!
//! The servers on evloop's `TcpListener` need no accept back-off of their own: out of descriptors
//! or memory, its `accept` waits and sheds connections by itself (see its docs). The callback
//! server (`echo_callbacks`) and the benchmark peers (`echo_mio`, `echo_tokio`) accept on their own
//! listeners, so they back off by hand with what is below.

// Each example uses only part of this module.
#![allow(dead_code)]

use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// The address used when `--addr` is not given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// How long to pause accepting after the process ran out of descriptors (or memory): long enough to
/// let connections close, short enough that clients barely notice. (evloop's listeners pause as
/// long.)
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Parses `--addr HOST:PORT` (or `--addr=HOST:PORT`; HOST a name such as `localhost` or a numeric
/// address) and `--help`. On bad input prints the problem
/// and the usage to stderr and exits with status 2.
pub fn parse_addr(name: &str) -> SocketAddr {
    let usage = format!("usage: {name} [--addr HOST:PORT]   (default {DEFAULT_ADDR})");
    let mut addr = DEFAULT_ADDR.to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            "--addr" => args.next(),
            other => other.strip_prefix("--addr=").map(str::to_string),
        };
        match value {
            Some(v) => addr = v,
            None => fail(&format!("unexpected argument `{arg}`"), &usage),
        }
    }
    match resolve(&addr) {
        Some(a) => a,
        None => fail(
            &format!("`{addr}` is not a HOST:PORT address (or the host name does not resolve)"),
            &usage,
        ),
    }
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

fn fail(msg: &str, usage: &str) -> ! {
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
