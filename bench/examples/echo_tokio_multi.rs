//! The many-core references for `echo_multi`: the same echo server on tokio, in the two shapes a
//! tokio user would pick for many cores.
//!
//! Run it:   cargo run --release -p evloop-bench --example echo_tokio_multi -- --addr 127.0.0.1:0 \
//!               --flavor multi-thread --threads 4
//!
//! - `--flavor multi-thread` (the default): one listener on tokio's work-stealing multi-thread
//!   runtime with `--threads` workers, a `tokio::spawn`ed task per connection.
//! - `--flavor per-core`: `--threads` threads, each a `current_thread` runtime with its own
//!   listener on the same port (`TcpSocket::set_reuseport`), a `spawn_local`ed task per
//!   connection: `echo_multi`'s shape, on tokio.
//!
//! `--threads` defaults to the CPUs this process may use. The connection task is `echo_tokio`'s
//! (4 KiB buffer, read then `write_all`). Stop it with Ctrl-C (or SIGTERM): every listener is
//! dropped, the connections get up to `--grace` seconds, and it exits with status 0.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::{JoinSet, LocalSet};

#[path = "../../examples/common/mod.rs"]
mod common;

fn main() -> io::Result<()> {
    let (args, extra) = common::parse_args_with(
        "echo_tokio_multi",
        &[("--flavor", "multi-thread|per-core"), ("--threads", "N")],
    );
    let usage = "--flavor multi-thread|per-core, --threads N (a positive number)";
    let mut per_core = false;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (flag, value) in extra {
        match (flag.as_str(), value.as_str()) {
            ("--flavor", "multi-thread") => per_core = false,
            ("--flavor", "per-core") => per_core = true,
            ("--threads", n) => match n.parse::<usize>() {
                Ok(n @ 1..) => threads = n,
                _ => common::fail(&format!("`{n}` is not a number of threads"), usage),
            },
            (_, v) => common::fail(&format!("`{v}` is not a flavor"), usage),
        }
    }
    if per_core {
        per_core_main(args, threads)
    } else {
        multi_thread_main(args, threads)
    }
}

fn multi_thread_main(args: common::Args, threads: usize) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = bind(args.addr)?;
        let mut stop = stop_signal()?;
        common::announce(listener.local_addr()?)?;
        let mut connections = JoinSet::new();
        accept_loop(&listener, &mut stop, |s| {
            connections.spawn(serve(s));
        })
        .await;
        common::say_shutting_down();
        drop(listener);
        drain(connections, args.grace).await;
        Ok(())
    })
}

fn per_core_main(args: common::Args, threads: usize) -> io::Result<()> {
    // The signals on a runtime of their own (the main thread's); the loops learn through a watch.
    let main_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, rx) = watch::channel(false);
    let mut int = main_rt.block_on(async { signal(SignalKind::interrupt()) })?;
    let mut term = main_rt.block_on(async { signal(SignalKind::terminate()) })?;
    // Thread 0 binds first so that port 0 picks one port for all.
    let first = main_rt.block_on(async { bind_reuseport(args.addr) })?;
    let addr = first.local_addr()?;
    let mut first = Some(first.into_std()?);
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let listener = first.take();
            let mut stop = rx.clone();
            let grace = args.grace;
            std::thread::Builder::new()
                .name(format!("tokio-{i}"))
                .spawn(move || -> io::Result<()> {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    LocalSet::new().block_on(&rt, async move {
                        let listener = match listener {
                            Some(l) => TcpListener::from_std(l)?,
                            None => bind_reuseport(addr)?,
                        };
                        let mut connections = JoinSet::new();
                        accept_loop(&listener, &mut stop, |s| {
                            connections.spawn_local(serve(s));
                        })
                        .await;
                        drop(listener);
                        drain(connections, grace).await;
                        Ok(())
                    })
                })
        })
        .collect::<io::Result<_>>()?;
    // Every worker is started; its listener is bound before it accepts anything.
    common::announce(addr)?;
    main_rt.block_on(async {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    });
    common::say_shutting_down();
    let _ = tx.send(true);
    for w in workers {
        w.join()
            .map_err(|_| io::Error::other("a worker panicked"))??;
    }
    Ok(())
}

/// A receiver that turns `true` on the first SIGINT or SIGTERM, from a spawned task.
fn stop_signal() -> io::Result<watch::Receiver<bool>> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(true);
        // Keep listening: a later signal must not find the default disposition.
        std::future::pending::<()>().await;
    });
    Ok(rx)
}

async fn accept_loop(
    listener: &TcpListener,
    stop: &mut watch::Receiver<bool>,
    mut spawn: impl FnMut(TcpStream),
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => spawn(stream),
                Err(e) if common::must_back_off(&e) => {
                    eprintln!("accept failed: {e}; pausing accepts");
                    tokio::time::sleep(common::ACCEPT_BACKOFF).await;
                }
                Err(_) => {}
            },
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn drain(mut connections: JoinSet<()>, grace: Duration) {
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drained).await.is_err() {
        eprintln!(
            "grace period over: cancelling {} connection(s)",
            connections.len()
        );
        connections.shutdown().await;
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = new_socket(addr)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn bind_reuseport(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = new_socket(addr)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn new_socket(addr: SocketAddr) -> io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    Ok(socket)
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
