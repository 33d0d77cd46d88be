//! The reference for the echo benchmark: the same echo server on tokio's single-threaded runtime.
//!
//! Run it:   cargo run --release -p evloop-bench --example echo_tokio -- --addr 127.0.0.1:0
//!
//! One task per connection, a 4 KiB buffer, read then `write_all`: line for line what
//! `examples/echo.rs` does on evloop, so the two compare runtimes rather than programs. The tasks
//! are spawned in tokio's recommended form, plain `spawn` (a `JoinSet`) on a `current_thread`
//! runtime; `--form local-set` spawns them with `spawn_local` on a `LocalSet` instead (the form
//! for `!Send` tasks, which adds the LocalSet's own queue and context switch to each wake-up).
//! `--idle-timeout SECS [--idle-reset]` closes silent connections, in either form.
//!
//! Stop it with Ctrl-C (or SIGTERM), in tokio's recommended form: `tokio::signal` ends the accept
//! loop, the listener is dropped, and the connections (a `JoinSet`) get up to `--grace` seconds
//! to finish. The shutdown costs the connections nothing: their tasks are the same as before.

use std::future::Future;
use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::{JoinSet, LocalSet};

#[path = "../../examples/common/mod.rs"]
mod common;

fn main() -> io::Result<()> {
    let (args, own) = common::parse_args_with(
        "echo_tokio",
        common::DEFAULT_ADDR,
        &[("--form", "spawn|local-set")],
    );
    let mut local = false;
    for (flag, value) in own {
        match value.as_str() {
            "spawn" => local = false,
            "local-set" => local = true,
            v => common::fail(
                &format!("`{flag}` is `spawn` or `local-set`, not `{v}`"),
                "usage: echo_tokio [--addr HOST:PORT] [--form spawn|local-set] ...",
            ),
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if local {
        LocalSet::new().block_on(&rt, serve_all(args, true))
    } else {
        rt.block_on(serve_all(args, false))
    }
}

/// Spawns a connection's task in the form asked for (`spawn_local` only runs inside a LocalSet).
fn spawn_conn<F>(connections: &mut JoinSet<()>, local: bool, task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if local {
        connections.spawn_local(task);
    } else {
        connections.spawn(task);
    }
}

async fn serve_all(args: common::Args, local: bool) -> io::Result<()> {
    let listener = TcpListener::bind(args.addr).await?;
    // Listening before announcing: a signal sent once the address is out is never fatal.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    common::announce(listener.local_addr()?)?;
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let c = &mut connections;
                    match (args.idle_timeout, args.idle_reset) {
                        (None, _) => spawn_conn(c, local, serve(stream)),
                        (Some(idle), false) => spawn_conn(c, local, serve_timeout(stream, idle)),
                        (Some(idle), true) => spawn_conn(c, local, serve_reset(stream, idle)),
                    }
                }
                Err(e) if common::must_back_off(&e) => {
                    eprintln!("accept failed: {e}; pausing accepts");
                    tokio::time::sleep(common::ACCEPT_BACKOFF).await;
                }
                Err(_) => {}
            },
            // Reap the finished connections, so the set holds only the live ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    // SIGINT or SIGTERM: stop accepting, let the connections finish (up to `--grace`), exit 0.
    common::say_shutting_down();
    drop(listener); // new connects are refused from here on
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(args.grace, drained).await.is_err() {
        eprintln!(
            "grace period over: cancelling {} connection(s)",
            connections.len()
        );
        connections.shutdown().await;
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

/// `serve` with an idle timeout the way most tokio code writes it: `timeout` around each read.
async fn serve_timeout(mut stream: TcpStream, idle: std::time::Duration) {
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; 4096];
    loop {
        let n = match tokio::time::timeout(idle, stream.read(&mut buf)).await {
            Err(_) | Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// `serve` with an idle timeout as tokio's docs suggest for a loop: one pinned `Sleep`, reset
/// after each read, raced with the read in `select!`.
async fn serve_reset(mut stream: TcpStream, idle: std::time::Duration) {
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; 4096];
    let sleep = tokio::time::sleep(idle);
    tokio::pin!(sleep);
    loop {
        sleep.as_mut().reset(tokio::time::Instant::now() + idle);
        let n = tokio::select! {
            biased;
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            () = &mut sleep => return,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
