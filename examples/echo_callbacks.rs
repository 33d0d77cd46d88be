//! The TCP echo server again, written only with callbacks: no `async`, no tasks, just watchers,
//! timers and signal handlers.
//!
//! Run it:   cargo run --release --example echo_callbacks
//!           (add `-- --addr 127.0.0.1:0` to pick a free port; the `listening on` line says which)
//! Poke it:  nc 127.0.0.1 7878   (every line you type comes back)
//!
//! Stop it with Ctrl-C (or SIGTERM): it stops accepting and lets the transfers in flight finish,
//! for up to `--grace` seconds (5 by default), then exits with status 0. A second Ctrl-C ends it
//! at once.
//!
//! It shows what the async version gets from the runtime, done by hand on an edge-triggered
//! reactor: read until `WouldBlock`, keep what could not be sent yet, stop reading a client that
//! does not read its echo (backpressure), finish a half-closed connection, back off when `accept`
//! runs out of file descriptors instead of spinning, and shut down gracefully. The shutdown costs
//! the connections nothing while they run: it is only looked at when accepting, and on the signal.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use evloop::signal::unix::SignalKind;
use evloop::{EventLoop, Handle, Interest, RawFdSource, SignalId, TimerId, WatcherId};
use mio::net::{TcpListener, TcpStream};

mod common;
use common::ACCEPT_BACKOFF;

/// Stop reading a connection once this much of its echo is waiting to be sent.
const HIGH_WATER: usize = 64 * 1024;

/// What every callback shares. The listener is shared (rather than owned by its watcher) because
/// the back-off timer must be able to accept too, while the listener is not being watched, and
/// the shutdown must be able to close it.
struct Server {
    /// `None` once shutting down: dropping the socket closes it, so new connects are refused.
    listener: RefCell<Option<TcpListener>>,
    /// What accepting waits on now, for the shutdown to cancel.
    accepting: Cell<Accepting>,
    /// Connections open, for the message at the end of the grace period. Counted when a
    /// connection is accepted and when it closes, never in between.
    open: Cell<usize>,
    /// The SIGINT and SIGTERM handlers, removed on the first of them.
    signals: Cell<[Option<SignalId>; 2]>,
    /// One read buffer for all connections: callbacks never run concurrently, and data is copied
    /// out of it at once, so reading never allocates.
    read_buf: RefCell<Vec<u8>>,
}

#[derive(Clone, Copy)]
enum Accepting {
    /// The listener is watched.
    Watching(WatcherId),
    /// Out of descriptors: a timer retries later.
    BackingOff(TimerId),
    /// Shutting down (or not started).
    Stopped,
}

fn main() -> io::Result<()> {
    let args = common::parse_args("echo_callbacks");
    let lp = EventLoop::new()?;
    let listener = TcpListener::bind(args.addr)?;
    common::raise_backlog(&listener)?;
    let addr = listener.local_addr()?;
    let server = Rc::new(Server {
        listener: RefCell::new(Some(listener)),
        accepting: Cell::new(Accepting::Stopped),
        open: Cell::new(0),
        signals: Cell::new([None; 2]),
        read_buf: RefCell::new(vec![0; 64 * 1024]),
    });
    watch_listener(&lp, &server)?;
    on_shutdown_signals(&lp, &server, args.grace)?;
    // Connections already queue in the listening socket, so announcing before `run` is not early.
    common::announce(addr)?;
    // Until the shutdown, the listener (or its back-off timer) keeps the loop alive; after it, the
    // connections do, and `run` returns once the last one has closed, or when the grace period
    // is over. The connections still open are closed as the loop is dropped.
    lp.run()
}

/// On the first SIGINT or SIGTERM: stop accepting, and give the connections `grace` to finish.
fn on_shutdown_signals(h: &Handle, server: &Rc<Server>, grace: Duration) -> io::Result<()> {
    let mut ids = [None; 2];
    for (id, kind) in ids
        .iter_mut()
        .zip([SignalKind::interrupt(), SignalKind::terminate()])
    {
        let server = Rc::clone(server);
        let signal = h.on_signal(kind, move |h| shut_down(h, &server, grace))?;
        // The handlers alone must not keep the loop running once the connections are gone.
        h.set_signal_keep_alive(signal, false);
        *id = Some(signal);
    }
    server.signals.set(ids);
    Ok(())
}

fn shut_down(h: &Handle, server: &Rc<Server>, grace: Duration) {
    // The handlers stay (a signal's default action would kill the process): a second signal ends
    // the grace period at once, and the process still exits with status 0.
    if matches!(server.accepting.get(), Accepting::Stopped) {
        eprintln!("second signal: not waiting for the connections");
        h.stop();
        return;
    }
    common::say_shutting_down();
    match server.accepting.replace(Accepting::Stopped) {
        Accepting::Watching(id) => {
            h.unwatch(id);
        }
        Accepting::BackingOff(id) => {
            h.cancel_timer(id);
        }
        Accepting::Stopped => {}
    }
    // Unwatched first, then closed: new connects are refused from here on.
    drop(server.listener.take());
    // The timer does not keep the loop alive: if the connections all close before it fires, `run`
    // returns then, by itself.
    let server = Rc::clone(server);
    let timer = h.call_later(grace, move |h| {
        let left = server.open.get();
        eprintln!("grace period over: closing {left} connection(s)");
        h.stop();
    });
    h.set_timer_keep_alive(timer, false);
}

/// Watches the listener's descriptor (the `Server` keeps the socket itself open).
fn watch_listener(h: &Handle, server: &Rc<Server>) -> io::Result<()> {
    let fd = match &*server.listener.borrow() {
        Some(listener) => RawFdSource(listener.as_raw_fd()),
        None => return Ok(()), // shutting down
    };
    let srv = Rc::clone(server);
    let id = h.watch(fd, Interest::READABLE, move |h, _, ev| {
        if let Err(e) = accept_all(h, &srv) {
            eprintln!("accept failed: {e}; pausing accepts for {ACCEPT_BACKOFF:?}");
            // Out of descriptors or memory: the connection stays in the backlog, so retrying now
            // would fail again at once. Stop listening for a while and let connections close.
            h.unwatch(ev.watcher());
            back_off(h, &srv);
        }
    })?;
    server.accepting.set(Accepting::Watching(id));
    Ok(())
}

/// Retries accepting after a pause, and goes back to watching the listener once that works.
fn back_off(h: &Handle, server: &Rc<Server>) {
    let srv = Rc::clone(server);
    let timer = h.call_later(ACCEPT_BACKOFF, move |h| {
        // Accept first: connections that queued up during the pause raised no new edge for us.
        match accept_all(h, &srv).and_then(|()| watch_listener(h, &srv)) {
            Ok(()) => {}
            Err(_) => back_off(h, &srv), // still short of resources; already reported once
        }
    });
    server.accepting.set(Accepting::BackingOff(timer));
}

/// Accepts until the backlog is empty (`Ok`), or until an error that retrying cannot fix soon.
fn accept_all(h: &Handle, server: &Rc<Server>) -> io::Result<()> {
    let listener = server.listener.borrow();
    let Some(listener) = listener.as_ref() else {
        return Ok(()); // shutting down
    };
    loop {
        match listener.accept() {
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
    let srv = Rc::clone(server);
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
        match conn.drive(sock, &mut srv.read_buf.borrow_mut()) {
            Ok(true) => {
                let want = conn.wanted_interest();
                if want != conn.interest && h.set_interest(ev.watcher(), want).is_ok() {
                    conn.interest = want;
                }
            }
            Ok(false) | Err(_) => {
                h.unwatch(ev.watcher());
                srv.open.set(srv.open.get() - 1);
            }
        }
    })?;
    server.open.set(server.open.get() + 1);
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
