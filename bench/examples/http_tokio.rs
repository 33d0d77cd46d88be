//! The reference for the HTTP benchmark: the server of `examples/http.rs`, line for line (its
//! routes are the same file, `examples/http_routes/`), on tokio's current_thread runtime as
//! hyper-util documents it (`TokioIo`, `TokioExecutor`, `TokioTimer`, a `tokio::spawn`ed task per
//! connection), so the two compare runtimes rather than programs.
//!
//! Run it:   cargo run --release -p evloop-bench --example http_tokio -- --addr 127.0.0.1:8080
//! Poke it:  curl http://127.0.0.1:8080/   (and /16k; --http2-prior-knowledge for HTTP/2)
//!
//! Stop it with Ctrl-C (or SIGTERM): it stops accepting, asks every connection to finish, waits for
//! them up to `--grace` seconds, and exits with status 0.

use std::io;
use std::pin::pin;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[path = "../../examples/common/mod.rs"]
mod common;
#[path = "../../examples/http_routes/mod.rs"]
mod http_routes;

use http_routes::respond;

fn main() -> io::Result<()> {
    let args = common::parse_args("http_tokio");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(args.addr).await?;
        // Listening before announcing: a signal sent once the address is out is never fatal.
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        common::announce(listener.local_addr()?)?;
        let shutdown = CancellationToken::new();
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        connections.spawn(serve(stream, shutdown.clone()));
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
        common::say_shutting_down();
        drop(listener); // new connects are refused from here on
        shutdown.cancel();
        let drained = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(args.grace, drained).await.is_err() {
            eprintln!(
                "grace period over: cancelling {} connection(s)",
                connections.len()
            );
            connections.shutdown().await;
        }
        Ok(())
    })
}

async fn serve(stream: TcpStream, shutdown: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let mut http = Builder::new(TokioExecutor::new());
    http.http1().timer(TokioTimer::new());
    http.http2().timer(TokioTimer::new());
    let mut connection = pin!(http.serve_connection(TokioIo::new(stream), service_fn(respond)));
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = shutdown.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    let _ = connection.await;
}
