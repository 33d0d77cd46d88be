//! An HTTP server on hyper over evloop: HTTP/1.1 with keep-alive, and HTTP/2 (with prior
//! knowledge) on the same port, through the `hyper` feature.
//!
//! Run it:   cargo run --release --features hyper --example http -- --addr 127.0.0.1:8080
//! Poke it:  curl http://127.0.0.1:8080/                          (hello world)
//!           curl -o /dev/null -w '%{size_download}\n' http://127.0.0.1:8080/16k   (16 KiB)
//!           curl --http2-prior-knowledge http://127.0.0.1:8080/  (the same over HTTP/2)
//!
//! Stop it with Ctrl-C (or SIGTERM): it stops accepting, asks every connection to finish
//! (HTTP/1.1: the response in flight is sent, then the connection closes instead of staying
//! alive; HTTP/2: a GOAWAY, and the streams in flight complete), waits for them up to `--grace`
//! seconds, and exits with status 0.
//!
//! Backpressure is hyper's: a connection reads its next request only once the response before it
//! was written, so a client that does not read stalls only its own connection.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;

use hyper::service::service_fn;

use evloop::net::{TcpListener, TcpStream};
use evloop::sync::CancellationToken;
use evloop::task::{TaskTracker, TaskTrackerToken};
use evloop::EventLoop;

mod common;
mod http_routes;

use http_routes::respond;

fn main() -> io::Result<()> {
    let args = common::parse_args("http");
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let listener = TcpListener::bind(args.addr)?;
        // Listening for SIGINT/SIGTERM before the announcement: a signal right after it must not
        // find the default disposition.
        let shutdown = common::shutdown_signal()?;
        common::announce(listener.local_addr()?)?;
        let connections = TaskTracker::new();
        while let Some(accepted) = shutdown.run_until_cancelled(listener.accept()).await {
            // Out of descriptors, `accept` waits by itself: an error here is the listener's own.
            let (stream, _peer) = accepted?;
            evloop::spawn(serve(stream, shutdown.clone(), connections.token()));
        }
        drop(listener); // new connects are refused from here on
        common::drain(&connections, args.grace).await;
        Ok(())
    })
}

/// Serves one connection until the client closes it, or until it finished gracefully after the
/// shutdown signal.
async fn serve(stream: TcpStream, shutdown: CancellationToken, _tracked: TaskTrackerToken) {
    // Small responses go out at once, not after Nagle's delay.
    let _ = stream.set_nodelay(true);
    let http = evloop::interop::hyper::server();
    let mut connection = pin!(http.serve_connection(stream, service_fn(respond)));
    let mut signalled = pin!(shutdown.cancelled());
    let mut told = false;
    let _ = poll_fn(|cx| {
        if !told && signalled.as_mut().poll(cx).is_ready() {
            // Finish what is in flight, take nothing new.
            connection.as_mut().graceful_shutdown();
            told = true;
        }
        connection.as_mut().poll(cx)
    })
    .await;
}
