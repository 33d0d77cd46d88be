//! The connection's turn, runtime-agnostic: moves bytes between a socket and the [`Session`], in
//! the order that makes pipelining cheap. One turn: write what is pending, time out a blocked
//! `BRPOP`, run the buffered commands, read. [`conn`](super::conn) drives it on evloop and the
//! benchmark's `redis_tokio` on tokio, each through its runtime's socket and timer, so the two
//! compare runtimes rather than programs.

use std::io;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::client::Client;
use super::server::Server;
use super::session::Session;

/// A connected socket of the runtime: reads and writes that register the task's waker when they
/// would block.
pub trait Socket {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
}

/// A timer of the runtime, for the timeout of a blocked `BRPOP`.
pub trait Timeout {
    fn at(deadline: Instant) -> Self;
    fn reset(&mut self, deadline: Instant);
    fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// One connection's state between turns.
pub struct Conn<T> {
    session: Session,
    /// The timeout of a blocked `BRPOP`, and its deadline.
    timer: Option<(Instant, T)>,
    eof: bool,
}

impl<T: Timeout> Conn<T> {
    pub fn new(server: &Server) -> Self {
        Conn {
            session: Session::new(server),
            timer: None,
            eof: false,
        }
    }

    /// Runs turns until the connection is done (`Ready`) or waits for the socket, a timer, or
    /// another client (`Pending`, the waker registered).
    pub fn poll(
        &mut self,
        cx: &mut Context<'_>,
        server: &Server,
        client: &Rc<Client>,
        stream: &mut impl Socket,
    ) -> Poll<()> {
        loop {
            if client.killed().is_some() {
                return Poll::Ready(());
            }
            if client.closing() {
                self.session.closing = true;
            }
            loop {
                let out = client.out.borrow();
                if out.pending().is_empty() {
                    break;
                }
                match stream.poll_write(cx, out.pending()) {
                    Poll::Ready(Ok(n)) if n > 0 => {
                        drop(out);
                        client.out.borrow_mut().advance(n);
                    }
                    Poll::Ready(_) => return Poll::Ready(()),
                    Poll::Pending => break,
                }
            }
            if self.session.closing && client.pending() == 0 {
                return Poll::Ready(());
            }
            if self.poll_timeout(cx, server, client) {
                continue;
            }
            if self.session.run(server, client) {
                continue;
            }
            if self.eof {
                if client.is_blocked() {
                    return Poll::Ready(());
                }
                self.session.closing = true;
                continue;
            }
            if !self.session.wants_input(server, client) {
                client.set_waker(cx.waker());
                return Poll::Pending;
            }
            let need = self.session.need;
            match stream.poll_read(cx, self.session.input.spare(need)) {
                Poll::Ready(Ok(0)) => self.eof = true,
                Poll::Ready(Ok(n)) => self.session.input.filled(n),
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => {
                    client.set_waker(cx.waker());
                    return Poll::Pending;
                }
            }
        }
    }

    /// For a blocked client with a timeout: whether the time is up (then it was answered).
    fn poll_timeout(&mut self, cx: &mut Context<'_>, server: &Server, client: &Rc<Client>) -> bool {
        let deadline = client.blocked.borrow().as_ref().and_then(|b| b.deadline);
        let Some(deadline) = deadline else {
            self.timer = None;
            return false;
        };
        let (at, timer) = self
            .timer
            .get_or_insert_with(|| (deadline, T::at(deadline)));
        // A later BRPOP of the same connection reuses the timer.
        if *at != deadline {
            *at = deadline;
            timer.reset(deadline);
        }
        if timer.poll_due(cx).is_pending() {
            return false;
        }
        self.timer = None;
        self.session.time_out(server, client);
        true
    }
}

/// Held by a connection's task: however the task ends (also dropped at shutdown), the server
/// forgets the client.
pub struct Gone<'a>(pub &'a Server, pub &'a Rc<Client>);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.disconnect(self.1);
    }
}
