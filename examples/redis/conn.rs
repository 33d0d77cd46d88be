//! The connection task on evloop: moves bytes between the socket and the [`Session`], in the
//! order that makes pipelining cheap. One turn: write what is pending, time out a blocked
//! `BRPOP`, run the buffered commands, read. A read that came back short leaves the socket
//! marked not ready, so the next read waits for the reactor's next edge without a syscall: a
//! batch of pipelined commands costs one `recv` and one `send`.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use evloop::net::TcpStream;
use evloop::task::TaskTrackerToken;
use evloop::time::{sleep_until, Sleep};

use super::client::Client;
use super::server::Server;
use super::session::Session;

/// Serves one client until it leaves, breaks the protocol, is disconnected for its output, or
/// the server shuts down.
pub async fn serve(server: Rc<Server>, stream: TcpStream, _tracked: TaskTrackerToken) {
    let _ = stream.set_nodelay(true);
    let client = server.connect();
    // However the task ends (also dropped at shutdown), the server forgets the client.
    let _gone = Gone(&server, &client);
    let mut conn = Conn {
        session: Session::new(&server),
        timer: None,
        eof: false,
    };
    poll_fn(|cx| conn.poll(cx, &server, &client, &stream)).await;
}

struct Gone<'a>(&'a Server, &'a Rc<Client>);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.disconnect(self.1);
    }
}

struct Conn {
    session: Session,
    /// The timeout of a blocked `BRPOP`, and its deadline.
    timer: Option<(Instant, Sleep)>,
    eof: bool,
}

impl Conn {
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        server: &Server,
        client: &Rc<Client>,
        stream: &TcpStream,
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
            .get_or_insert_with(|| (deadline, sleep_until(deadline)));
        // A later BRPOP of the same connection reuses the timer.
        if *at != deadline {
            *at = deadline;
            timer.reset(deadline);
        }
        if Pin::new(timer).poll(cx).is_pending() {
            return false;
        }
        self.timer = None;
        self.session.time_out(server, client);
        true
    }
}
