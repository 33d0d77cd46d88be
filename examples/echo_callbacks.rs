//! The TCP echo server again, written only with callbacks: no `async`, no tasks, just watchers
//! and a timer.
//!
//! Run it:   cargo run --release --example echo_callbacks
//!           (add `-- --addr 127.0.0.1:0` to pick a free port; the `listening on` line says which)
//! Poke it:  nc 127.0.0.1 7878   (every line you type comes back)
//!
//! It shows what the async version gets from the runtime, done by hand on an edge-triggered
//! reactor: read until `WouldBlock`, keep what could not be sent yet, stop reading a client that
//! does not read its echo (backpressure), finish a half-closed connection, and back off when
//! `accept` runs out of file descriptors instead of spinning.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use evloop::{EventLoop, Handle, Interest, RawFdSource};
use mio::net::{TcpListener, TcpStream};

mod common;
use common::ACCEPT_BACKOFF;

/// Stop reading a connection once this much of its echo is waiting to be sent.
const HIGH_WATER: usize = 64 * 1024;

/// What every callback shares. The listener is shared (rather than owned by its watcher) because
/// the back-off timer must be able to accept too, while the listener is not being watched.
struct Server {
    listener: TcpListener,
    /// One read buffer for all connections: callbacks never run concurrently, and data is copied
    /// out of it at once, so reading never allocates.
    read_buf: RefCell<Vec<u8>>,
}

fn main() -> io::Result<()> {
    let addr = common::parse_addr("echo_callbacks");
    let lp = EventLoop::new()?;
    let listener = TcpListener::bind(addr)?;
    common::raise_backlog(&listener)?;
    let server = Rc::new(Server {
        listener,
        read_buf: RefCell::new(vec![0; 64 * 1024]),
    });
    watch_listener(&lp, &server)?;
    // Connections already queue in the listening socket, so announcing before `run` is not early.
    common::announce(server.listener.local_addr()?)?;
    lp.run() // never returns: the listener (or its back-off timer) keeps the loop alive
}

/// Watches the listener's descriptor (the `Server` keeps the socket itself open).
fn watch_listener(h: &Handle, server: &Rc<Server>) -> io::Result<()> {
    let fd = RawFdSource(server.listener.as_raw_fd());
    let server = Rc::clone(server);
    h.watch(fd, Interest::READABLE, move |h, _, ev| {
        if let Err(e) = accept_all(h, &server) {
            eprintln!("accept failed: {e}; pausing accepts for {ACCEPT_BACKOFF:?}");
            // Out of descriptors or memory: the connection stays in the backlog, so retrying now
            // would fail again at once. Stop listening for a while and let connections close.
            h.unwatch(ev.watcher());
            back_off(h, &server);
        }
    })?;
    Ok(())
}

/// Retries accepting after a pause, and goes back to watching the listener once that works.
fn back_off(h: &Handle, server: &Rc<Server>) {
    let server = Rc::clone(server);
    h.call_later(ACCEPT_BACKOFF, move |h| {
        // Accept first: connections that queued up during the pause raised no new edge for us.
        match accept_all(h, &server).and_then(|()| watch_listener(h, &server)) {
            Ok(()) => {}
            Err(_) => back_off(h, &server), // still short of resources; already reported once
        }
    });
}

/// Accepts until the backlog is empty (`Ok`), or until an error that retrying cannot fix soon.
fn accept_all(h: &Handle, server: &Rc<Server>) -> io::Result<()> {
    loop {
        match server.listener.accept() {
            Ok((stream, _peer)) => {
                if let Err(e) = serve(h, server, stream) {
                    eprintln!("cannot watch a new connection: {e}"); // dropping it closes it
                }
            }
            Err(e) => match e.kind() {
                ErrorKind::WouldBlock => return Ok(()),
                // This one connection went away before we took it, or a signal interrupted us.
                ErrorKind::ConnectionAborted | ErrorKind::Interrupted => {}
                // EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything unexpected: never exit, back off.
                _ => return Err(e),
            },
        }
    }
}

/// Per-connection state; it lives in the connection's watcher closure. (A client that vanishes
/// without a FIN or RST keeps it until TCP gives up; a production server adds an idle timeout.)
struct Conn {
    /// Bytes read but not yet echoed, in order.
    unsent: VecDeque<u8>,
    /// The peer shut down its writing half: nothing more will be read.
    read_closed: bool,
    /// An event reported the peer's close or an error. No later edge repeats that, so from then
    /// on a short read does not end reading: it goes on to the end of file (or the error).
    read_on: bool,
    /// What the watcher is registered for, to re-register only on change.
    interest: Interest,
}

fn serve(h: &Handle, server: &Rc<Server>, stream: TcpStream) -> io::Result<()> {
    // Echoes are small writes the peer waits for; Nagle's algorithm would delay them. Failing to
    // set it is harmless, so it is not worth dropping the connection for.
    let _ = stream.set_nodelay(true);
    let server = Rc::clone(server);
    let mut conn = Conn {
        unsent: VecDeque::new(),
        read_closed: false,
        read_on: false,
        interest: Interest::READABLE,
    };
    h.watch(stream, Interest::READABLE, move |h, sock, ev| {
        // Errors (a reset, a vanished peer) and a finished echo all end the same way: unwatching
        // drops the socket, which closes it. There is nobody left to report them to.
        conn.read_on |= ev.ready().is_read_closed() || ev.ready().is_error();
        match conn.drive(sock, &mut server.read_buf.borrow_mut()) {
            Ok(true) => {
                let want = conn.wanted_interest();
                if want != conn.interest && h.set_interest(ev.watcher(), want).is_ok() {
                    conn.interest = want;
                }
            }
            Ok(false) | Err(_) => {
                h.unwatch(ev.watcher());
            }
        }
    })?;
    Ok(())
}

impl Conn {
    /// Moves data until the socket would block. Returns whether the connection stays open.
    ///
    /// Edge-triggered readiness only reports changes, so this must only return once a direction
    /// we wait for is drained: it said `WouldBlock`, or a read came back short (either way its
    /// next change will wake us), or when we are done.
    /// (So a client that keeps both directions busy keeps us here; a production server would cap
    /// the work per event and arrange to be called again.)
    fn drive(&mut self, sock: &mut TcpStream, buf: &mut [u8]) -> io::Result<bool> {
        loop {
            let stopped_at_high_water = self.fill(sock, buf)?;
            let sent_all = self.flush(sock)?;
            // We stopped reading with data possibly left in the socket, and its readable edge was
            // already consumed. Now that there is room again, read on instead of waiting for an
            // edge that will not come.
            if !(stopped_at_high_water && sent_all) {
                break;
            }
        }
        if self.read_closed && self.unsent.is_empty() {
            // Half-close: everything the peer sent has been echoed; pass its EOF on.
            sock.shutdown(Shutdown::Write)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Reads until `WouldBlock`, end of file, or the high-water mark. Returns whether it stopped
    /// at the mark (so the socket may still hold data).
    fn fill(&mut self, sock: &mut TcpStream, buf: &mut [u8]) -> io::Result<bool> {
        while !self.read_closed {
            if self.unsent.len() >= HIGH_WATER {
                return Ok(true);
            }
            match sock.read(buf) {
                Ok(0) => self.read_closed = true,
                Ok(n) => {
                    // With nothing queued ahead of it, echo straight from the read buffer and keep
                    // only what the socket does not take: the common case copies nothing.
                    let sent = if self.unsent.is_empty() {
                        write_some(sock, &buf[..n])?
                    } else {
                        0
                    };
                    if sent < n {
                        self.unsent.extend(&buf[sent..n]);
                    }
                    // A short read drained the socket: its next arrival is a new edge, so skip the
                    // read that would only say `WouldBlock`. Not so once the peer has closed or
                    // an error is pending (`read_on`): no new edge will come for those, so read
                    // on to see the end of file (or the error) now.
                    if n < buf.len() && !self.read_on {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// Writes until everything is sent (`true`) or the socket would block (`false`).
    /// (Only reached with data queued: see `fill` for the direct path.)
    fn flush(&mut self, sock: &mut TcpStream) -> io::Result<bool> {
        while !self.unsent.is_empty() {
            // The deque may wrap around its buffer: hand both halves to one vectored write.
            let (a, b) = self.unsent.as_slices();
            match sock.write_vectored(&[IoSlice::new(a), IoSlice::new(b)]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => drop(self.unsent.drain(..n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Backpressure lives here: past the high-water mark we wait only for room to write, so a
    /// peer that does not read its echo stops being read, and its data waits in the kernel's
    /// buffers and in its own process rather than in ours.
    fn wanted_interest(&self) -> Interest {
        if self.unsent.len() >= HIGH_WATER || self.read_closed {
            Interest::WRITABLE
        } else if self.unsent.is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        }
    }
}

/// Writes as much of `data` as the socket takes now; returns how much that was.
fn write_some(sock: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < data.len() {
        match sock.write(&data[sent..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}
