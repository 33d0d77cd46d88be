//! The floor for the echo benchmark: a TCP echo server on raw `mio`, with no runtime at all.
//!
//! Run it:   cargo run --release -p evloop-bench --example echo_mio -- --addr 127.0.0.1:0
//! Load it:  cargo run --release -p evloop-bench --example echo_load -- --addr ADDR   (ADDR from `listening on`)
//!
//! It does the least an echo server must do correctly: one `epoll` registration per connection for
//! both directions (edge-triggered, never re-registered), one shared read buffer, and a write
//! straight from that buffer; only bytes the socket would not take are copied into a per-connection
//! queue. A short read means the socket is drained, so it waits for the next edge instead of making
//! the read that would only say `EAGAIN` (as tokio and both evloop servers do; the floor must not
//! pay for a syscall they skip). Past 64 KiB of unsent echo it stops reading that connection
//! (backpressure) until the queue drains. Accept errors that retrying cannot fix (out of
//! descriptors) pause accepting.
//!
//! Stop it with Ctrl-C (or SIGTERM): it stops accepting (the listener is deregistered and closed),
//! lets the connections in flight finish for up to `--grace` seconds, and exits with status 0.
//! A handler for SIGINT and SIGTERM writes to a self-pipe whose read end the poll watches on its
//! own token: the connections pay nothing for it, the loop's dispatch only meets one more token,
//! and the process stays single-threaded (as the other servers of the benchmark do).

use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

#[path = "../../examples/common/mod.rs"]
mod common;

/// Stop reading a connection once this much of its echo is waiting to be sent.
const HIGH_WATER: usize = 64 * 1024;
/// The listener's token; connections use their slab key.
const LISTENER: Token = Token(usize::MAX);
/// The token a shutdown signal wakes the poll with.
const SIGNAL: Token = Token(usize::MAX - 1);

struct Conn {
    stream: TcpStream,
    /// Echo the socket would not take yet: `unsent[sent..]`.
    unsent: Vec<u8>,
    sent: usize,
    /// The peer shut down its writing half.
    read_closed: bool,
    /// An event reported the peer's close or an error. No later edge repeats that (kqueue's
    /// write events carry no read end-of-file at all), so from then on reads go on to the end.
    read_on: bool,
}

fn main() -> io::Result<()> {
    let args = common::parse_args("echo_mio");
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    // Before anything else, so that no signal can find the default action (death) any more.
    let mut signals = watch_shutdown_signals(&poll)?;
    let mut listener = TcpListener::bind(args.addr)?;
    common::raise_backlog(&listener)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    common::announce(listener.local_addr()?)?;
    let mut listener = Some(listener);

    let mut conns: Slab<Conn> = Slab::new();
    let mut buf = vec![0u8; 64 * 1024];
    // Set while accepting is paused after an error such as EMFILE.
    let mut paused_until: Option<Instant> = None;
    // Set by the shutdown signal: the end of the grace period.
    let mut deadline: Option<Instant> = None;
    loop {
        let wake_at = paused_until.into_iter().chain(deadline).min();
        let timeout = wake_at.map(|t| t.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let mut accept = false;
        for ev in events.iter() {
            match ev.token() {
                LISTENER => {
                    accept = true;
                    continue;
                }
                SIGNAL => {
                    // Drained, so that the next signal makes a new edge.
                    while signals.read(&mut [0u8; 64]).is_ok_and(|n| n > 0) {}
                    if deadline.is_none() {
                        common::say_shutting_down();
                        // Closing the listener refuses new connects; deregister it first.
                        if let Some(mut l) = listener.take() {
                            let _ = poll.registry().deregister(&mut l);
                        }
                        deadline = Some(Instant::now() + args.grace);
                    }
                    continue;
                }
                _ => {}
            }
            let key = ev.token().0;
            let keep = match conns.get_mut(key) {
                Some(conn) => {
                    conn.read_on |= ev.is_read_closed() || ev.is_error();
                    matches!(conn.drive(&mut buf), Ok(true))
                }
                None => continue, // closed earlier in this batch
            };
            if !keep {
                // Dropping the stream closes it, which also removes it from the poller.
                conns.remove(key);
            }
        }
        if let Some(deadline) = deadline {
            // Shutting down: no more accepting; done once the connections are.
            if conns.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                eprintln!(
                    "grace period over: cancelling {} connection(s)",
                    conns.len()
                );
                return Ok(());
            }
            continue;
        }
        if let Some(t) = paused_until {
            if Instant::now() < t {
                continue;
            }
            // Connections that queued during the pause raised no new edge: accept them now.
            paused_until = None;
            accept = true;
        }
        if accept {
            let listener = listener.as_ref().expect("open until the shutdown signal");
            if let Err(e) = accept_all(listener, &poll, &mut conns) {
                eprintln!("accept failed: {e}; pausing accepts");
                paused_until = Some(Instant::now() + common::ACCEPT_BACKOFF);
            }
        }
    }
}

/// The write end of the self-pipe, for the signal handler.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

/// The signal handler: one `write(2)` of one byte (async-signal-safe), `errno` left as it was.
extern "C" fn on_signal(_: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    // SAFETY: `__errno_location` points at this thread's `errno`, saved and put back around the
    // write; `fd` is the pipe's write end, open for the life of the process; the buffer is one
    // byte on this stack frame. A full pipe (`EAGAIN`) is already readable: nothing to do.
    unsafe {
        let errno = *libc::__errno_location();
        let _ = libc::write(fd, b"s".as_ptr().cast(), 1);
        *libc::__errno_location() = errno;
    }
}

/// Installs a handler for SIGINT and SIGTERM that writes to a self-pipe, and registers the pipe's
/// read end with `poll` under the `SIGNAL` token: no thread (a second thread would make glibc take
/// its slower path in every `recv` and `send`, a cost a single-threaded server does not pay), and
/// no signal finds the default action (death) any more. The pipe is never closed.
fn watch_shutdown_signals(poll: &Poll) -> io::Result<mio::net::UnixStream> {
    let (read, write) = std::os::unix::net::UnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    SIGNAL_PIPE.store(
        std::os::fd::IntoRawFd::into_raw_fd(write),
        Ordering::Relaxed,
    );
    let mut read = mio::net::UnixStream::from_std(read);
    poll.registry()
        .register(&mut read, SIGNAL, Interest::READABLE)?;
    for signum in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: an all-zero `sigaction` is valid (no flags, an empty mask once `sigemptyset`
        // ran); the handler is async-signal-safe (see `on_signal`); the pointers are to locals.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(signum, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(read)
}

/// Accepts until the backlog is empty, or returns an error that calls for backing off.
fn accept_all(listener: &TcpListener, poll: &Poll, conns: &mut Slab<Conn>) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((mut stream, _peer)) => {
                let _ = stream.set_nodelay(true);
                let entry = conns.vacant_entry();
                // Both directions, once: edge-triggered, so no re-registration when the queue
                // fills or drains. Data that arrived before registering is reported at once.
                let interest = Interest::READABLE | Interest::WRITABLE;
                if poll
                    .registry()
                    .register(&mut stream, Token(entry.key()), interest)
                    .is_ok()
                {
                    entry.insert(Conn {
                        stream,
                        unsent: Vec::new(),
                        sent: 0,
                        read_closed: false,
                        read_on: false,
                    });
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if !common::must_back_off(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

impl Conn {
    /// Moves data until reading has drained the socket (a short read, or `WouldBlock`) and writing
    /// would block or has nothing left, or reading is paused at the high-water mark and writing
    /// would block. Returns whether the connection stays open.
    fn drive(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        loop {
            if !self.flush()? {
                // Still full: wait for the writable edge (reading resumes after it, if paused).
                if self.pending() >= HIGH_WATER || self.read_closed {
                    break;
                }
            }
            if !self.fill(buf)? {
                break;
            }
            // Stopped at the high-water mark with data perhaps left in the socket, whose readable
            // edge is spent: go round to flush, and read on if that made room.
        }
        if self.read_closed && self.pending() == 0 {
            // Everything the peer sent was echoed: pass its end-of-file on, then close.
            let _ = self.stream.shutdown(Shutdown::Write);
            return Ok(false);
        }
        Ok(true)
    }

    fn pending(&self) -> usize {
        self.unsent.len() - self.sent
    }

    /// Reads until `WouldBlock` or end of file (`false`), or the high-water mark (`true`), writing
    /// each chunk straight back when nothing is queued before it.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        while !self.read_closed {
            if self.pending() >= HIGH_WATER {
                return Ok(true);
            }
            let n = match self.stream.read(buf) {
                Ok(0) => {
                    self.read_closed = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut written = 0;
            if self.pending() == 0 {
                written = match self.stream.write(&buf[..n]) {
                    Ok(w) => w,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
                    Err(e) if e.kind() == ErrorKind::Interrupted => 0,
                    Err(e) => return Err(e),
                };
            }
            if written < n {
                if self.sent > 0 && self.sent == self.unsent.len() {
                    self.unsent.clear();
                    self.sent = 0;
                }
                self.unsent.extend_from_slice(&buf[written..n]);
            }
            if n < buf.len() && !self.read_on {
                break;
            }
        }
        Ok(false)
    }

    /// Writes the queue until it is empty (`true`) or the socket would block (`false`).
    fn flush(&mut self) -> io::Result<bool> {
        while self.pending() > 0 {
            match self.stream.write(&self.unsent[self.sent..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.unsent.clear();
        self.sent = 0;
        Ok(true)
    }
}
