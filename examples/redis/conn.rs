//! The connection task on evloop: the [`turn`](super::turn) on evloop's socket and timer. A read
//! that came back short leaves the socket marked not ready, so the next read waits for the
//! reactor's next edge without a syscall: a batch of pipelined commands costs one `recv` and one
//! `send`.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use evloop::net::TcpStream;
use evloop::task::TaskTrackerToken;
use evloop::time::{sleep_until, Sleep};

use super::server::Server;
use super::turn::{Conn, Gone, Socket, Timeout};

/// Serves one client until it leaves, breaks the protocol, is disconnected for its output, or
/// the server shuts down.
pub async fn serve(server: Rc<Server>, mut stream: TcpStream, _tracked: TaskTrackerToken) {
    let _ = stream.set_nodelay(true);
    let client = server.connect();
    let _gone = Gone(&server, &client);
    let mut conn = Conn::<Sleep>::new(&server);
    poll_fn(|cx| conn.poll(cx, &server, &client, &mut stream)).await;
}

impl Socket for TcpStream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        TcpStream::poll_read(self, cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        TcpStream::poll_write(self, cx, buf)
    }
}

impl Timeout for Sleep {
    fn at(deadline: Instant) -> Self {
        sleep_until(deadline)
    }

    fn reset(&mut self, deadline: Instant) {
        Sleep::reset(self, deadline);
    }

    fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(self).poll(cx)
    }
}
