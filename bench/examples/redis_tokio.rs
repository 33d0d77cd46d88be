//! The benchmark's twin of `redis_server`: the same server on tokio's current_thread runtime.
//!
//! Run it:   cargo run --release -p evloop-bench --example redis_tokio -- --addr 127.0.0.1:6381
//!
//! Same code shape, so that the two compare runtimes rather than programs: the parser, the
//! commands, the store, pub/sub and the blocked clients are `examples/redis/`'s own files; only
//! the connection task differs, a task per connection (`spawn_local` on a `LocalSet`) driving the
//! same `Session` through tokio's `TcpStream` in the same order (write, time out a blocked
//! `BRPOP`, run the buffered commands, read), with a `tokio::time::Sleep` for the timeout and a
//! `tokio::time::interval` for the active expiry cycle. Shutdown on SIGINT/SIGTERM as in
//! `echo_tokio`.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::{JoinSet, LocalSet};
use tokio::time::Sleep;

#[path = "../../examples/common/mod.rs"]
mod common;
#[path = "../../examples/redis/mod.rs"]
#[allow(unused)]
mod redis;

use redis::client::Client;
use redis::server::{Config, Server};
use redis::session::Session;

fn main() -> io::Result<()> {
    let args = common::parse_args_with("redis_tokio", "127.0.0.1:6381", &[]).0;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    LocalSet::new().block_on(&rt, async move {
        let listener = TcpListener::bind(args.addr).await?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let addr = listener.local_addr()?;
        let server = Rc::new(Server::new(
            Config {
                port: addr.port(),
                ..Config::default()
            },
            tokio_clock,
        ));
        let expiry = tokio::task::spawn_local(active_expiry(server.clone()));
        common::announce(addr)?;
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        connections.spawn_local(serve(server.clone(), stream));
                    }
                    Err(e) if common::must_back_off(&e) => {
                        eprintln!("accept failed: {e}; pausing accepts");
                        tokio::time::sleep(common::ACCEPT_BACKOFF).await;
                    }
                    Err(_) => {}
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = interrupt.recv() => break,
                _ = terminate.recv() => break,
            }
        }
        common::say_shutting_down();
        drop(listener);
        server.shutdown();
        let drained = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(args.grace, drained).await.is_err() {
            connections.shutdown().await;
        }
        expiry.abort();
        Ok(())
    })
}

/// tokio's clock (which its paused time moves, as evloop's `Handle::now` for `redis_server`).
fn tokio_clock() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn active_expiry(server: Rc<Server>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let now = (server.clock)();
        server.store.borrow_mut().expire_due(now, 20_000);
    }
}

async fn serve(server: Rc<Server>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let client = server.connect();
    let _gone = Gone(&server, &client);
    let mut conn = Conn {
        session: Session::new(&server),
        timer: None,
        eof: false,
    };
    poll_fn(|cx| conn.poll(cx, &server, &client, &mut stream)).await;
}

struct Gone<'a>(&'a Server, &'a Rc<Client>);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.disconnect(self.1);
    }
}

struct Conn {
    session: Session,
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
    eof: bool,
}

impl Conn {
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        server: &Server,
        client: &Rc<Client>,
        stream: &mut TcpStream,
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
                match Pin::new(&mut *stream).poll_write(cx, out.pending()) {
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
            let mut buf = ReadBuf::new(self.session.input.spare(need));
            match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => {
                    let n = buf.filled().len();
                    if n == 0 {
                        self.eof = true;
                    } else {
                        self.session.input.filled(n);
                    }
                }
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => {
                    client.set_waker(cx.waker());
                    return Poll::Pending;
                }
            }
        }
    }

    fn poll_timeout(&mut self, cx: &mut Context<'_>, server: &Server, client: &Rc<Client>) -> bool {
        let deadline = client.blocked.borrow().as_ref().and_then(|b| b.deadline);
        let Some(deadline) = deadline else {
            self.timer = None;
            return false;
        };
        let (at, timer) = self.timer.get_or_insert_with(|| {
            (
                deadline,
                Box::pin(tokio::time::sleep_until(deadline.into())),
            )
        });
        if *at != deadline {
            *at = deadline;
            timer.as_mut().reset(deadline.into());
        }
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.timer = None;
        self.session.time_out(server, client);
        true
    }
}
