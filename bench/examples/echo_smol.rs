//! A peer for the echo benchmark: the same echo server on smol, single-threaded.
//!
//! Run it:   cargo run --release -p evloop-bench --example echo_smol -- --addr 127.0.0.1:0
//!
//! smol's documented single-threaded form: a `LocalExecutor` run inside `smol::block_on`, which
//! drives async-io's reactor on this thread while it waits. One task per connection, a 4 KiB
//! buffer, read then `write_all`, as `echo_tokio` and `examples/echo.rs` do. What differs:
//! - async-io registers interest one-shot, so every wait for readiness re-arms it (an
//!   `epoll_ctl`), and its streams have no way to skip the read after a short read: each message
//!   pays the read that returns `EAGAIN`, where tokio and evloop skip it.
//! - async-io starts its own "async-io" thread at the first `block_on`, a fallback reactor that
//!   parks while `block_on` drives the reactor itself. smol offers no way to do without it.
//!
//! Stop it with Ctrl-C (or SIGTERM): async-signal (smol's signal crate, a handler that writes to a
//! socket pair async-io watches) ends the accept loop, the listener is dropped, and the
//! connections get up to `--grace` seconds to finish; then the executor is dropped with what is
//! left.

use std::io;
use std::net::TcpListener as StdListener;

use async_signal::{Signal, Signals};
use smol::future::FutureExt as _;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use smol::stream::StreamExt as _;
use smol::{Async, LocalExecutor, Timer};

#[path = "../../examples/common/mod.rs"]
mod common;
mod drain;

fn main() -> io::Result<()> {
    let args = common::parse_args("echo_smol");
    if args.idle_timeout.is_some() || args.stats.is_some() {
        common::fail(
            "echo_smol has no idle timeout and no loop statistics",
            "usage: echo_smol [--addr HOST:PORT] [--grace SECS]",
        );
    }
    let ex = LocalExecutor::new();
    smol::block_on(ex.run(serve_all(&ex, args)))
}

enum Event {
    Accepted(io::Result<(TcpStream, std::net::SocketAddr)>),
    Signal,
}

async fn serve_all(ex: &LocalExecutor<'_>, args: common::Args) -> io::Result<()> {
    let std_listener = StdListener::bind(args.addr)?;
    // The backlog tokio and evloop use (std asks for 128).
    common::raise_backlog(&std_listener)?;
    let listener = TcpListener::from(Async::new(std_listener)?);
    // Listening before announcing: a signal sent once the address is out is never fatal.
    let mut signals = Signals::new([Signal::Int, Signal::Term])?;
    common::announce(listener.local_addr()?)?;
    let tracker = drain::Tracker::default();
    loop {
        let accept = async { Event::Accepted(listener.accept().await) };
        let signal = async {
            signals.next().await;
            Event::Signal
        };
        match accept.or(signal).await {
            Event::Accepted(Ok((stream, _peer))) => {
                let guard = tracker.guard();
                ex.spawn(async move {
                    serve(stream).await;
                    drop(guard);
                })
                .detach();
            }
            Event::Accepted(Err(e)) if common::must_back_off(&e) => {
                eprintln!("accept failed: {e}; pausing accepts");
                Timer::after(common::ACCEPT_BACKOFF).await;
            }
            Event::Accepted(Err(_)) => {}
            Event::Signal => break,
        }
    }
    // SIGINT or SIGTERM: stop accepting, let the connections finish (up to `--grace`), exit 0.
    common::say_shutting_down();
    drop(listener); // new connects are refused from here on
    let drained = async {
        tracker.idle().await;
        true
    };
    let expired = async {
        Timer::after(args.grace).await;
        false
    };
    if !drained.or(expired).await {
        eprintln!(
            "grace period over: cancelling {} connection(s)",
            tracker.live()
        );
    }
    Ok(())
}

async fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
