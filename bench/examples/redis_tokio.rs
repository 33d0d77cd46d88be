//! The benchmark's twin of `redis_server`: the same server on tokio's current_thread runtime.
//!
//! Run it:   cargo run --release -p evloop-bench --example redis_tokio -- --addr 127.0.0.1:6381
//!
//! Same code shape, so that the two compare runtimes rather than programs: the parser, the
//! commands, the store, pub/sub, the blocked clients and the connection's turn (write, time out
//! a blocked `BRPOP`, run the buffered commands, read) are `examples/redis/`'s own files; only
//! the runtime differs: a task per connection (`spawn_local` on a `LocalSet`) driving the turn
//! through tokio's `TcpStream`, with a `tokio::time::Sleep` for the timeout and a
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

use redis::server::{Config, Server};
use redis::turn::{Conn, Gone, Socket, Timeout};

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
    let mut conn = Conn::<Pin<Box<Sleep>>>::new(&server);
    poll_fn(|cx| conn.poll(cx, &server, &client, &mut stream)).await;
}

impl Socket for TcpStream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        match Pin::new(self).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(self).poll_write(cx, buf)
    }
}

impl Timeout for Pin<Box<Sleep>> {
    fn at(deadline: Instant) -> Self {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn reset(&mut self, deadline: Instant) {
        self.as_mut().reset(deadline.into());
    }

    fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.as_mut().poll(cx)
    }
}
