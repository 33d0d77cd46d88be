//! The async TCP echo server: one task per connection, read then write back.
//!
//! Run it:   cargo run --release --example echo -- --addr 127.0.0.1:7878
//! Poke it:  nc 127.0.0.1 7878   (or: cargo run --example echo_client)
//!
//! Stop it with Ctrl-C (or SIGTERM): it stops accepting and lets the transfers in flight finish.
//!
//! Watch it: `--stats 1` prints a line of loop metrics every second on stderr, and the latency
//! histograms at shutdown; `kill -USR1 PID` prints a dump of its tasks (`EVLOOP_DEBUG=1` adds
//! warnings about anything that holds the loop for 100 ms or more).
//!
//! Backpressure comes for free: a connection's task does not read again until everything it read
//! was written, so a client that never reads stalls only its own task, with 4 KiB buffered.
//!
//! To close connections that fall silent, see `echo_idle.rs` (the same server with an idle timeout;
//! a separate program so that this one's read and write each keep a single call site, which the
//! compiler inlines).

use std::io;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpStream};
use evloop::task::{TaskTracker, TaskTrackerToken};
use evloop::EventLoop;

mod common;

fn main() -> io::Result<()> {
    let args = common::parse_args("echo");
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let listener = TcpListener::bind(args.addr)?;
        // SIGINT or SIGTERM: stop accepting, let the connections finish (up to `--grace`), exit 0.
        // Listening before the announcement: a signal right after it must not find the default.
        let shutdown = common::shutdown_signal()?;
        common::observe(args.stats)?;
        common::announce(listener.local_addr()?)?;
        let connections = TaskTracker::new();
        while let Some(accepted) = shutdown.run_until_cancelled(listener.accept()).await {
            // Out of descriptors, `accept` waits by itself: an error here is the listener's own.
            let (stream, _peer) = accepted?;
            // The token counts the connection in until `serve` ends, with no wrapper future around it.
            evloop::spawn(serve(stream, connections.token()));
        }
        drop(listener); // new connects are refused from here on
        common::drain(&connections, args.grace).await;
        if args.stats.is_some() {
            common::print_histograms(&evloop::Handle::current());
        }
        Ok(())
    })
}

async fn serve(mut stream: TcpStream, _tracked: TaskTrackerToken) {
    // Echo servers answer small messages at once: do not let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf).await {
            // End of file (the client half-closed) or an error (reset): the task ends, and dropping
            // the stream closes our side once everything read has been written back.
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
