//! The async echo server with an idle timeout: a connection that sends nothing for `--idle-timeout
//! SECS` (30 by default) is closed. One `IdleTimeout` per connection: each read only notes the time,
//! and the connection's one timer re-arms itself once per period (no timer operation per message).
//!
//! Run it:   cargo run --release --example echo_idle -- --addr 127.0.0.1:7878 --idle-timeout 30
//!
//! Otherwise it is `echo.rs`: the shared example contract, backpressure (a task reads again only once
//! everything it read was written), and a graceful shutdown on SIGINT/SIGTERM.

use std::io;
use std::time::Duration;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpStream};
use evloop::task::{TaskTracker, TaskTrackerToken};
use evloop::time::IdleTimeout;
use evloop::EventLoop;

mod common;

fn main() -> io::Result<()> {
    let args = common::parse_args("echo_idle");
    let idle = args.idle_timeout.unwrap_or(Duration::from_secs(30));
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let listener = TcpListener::bind(args.addr)?;
        let shutdown = common::shutdown_signal()?;
        common::announce(listener.local_addr()?)?;
        let connections = TaskTracker::new();
        while let Some(accepted) = shutdown.run_until_cancelled(listener.accept()).await {
            let (stream, _peer) = accepted?;
            evloop::spawn(serve(stream, idle, connections.token()));
        }
        drop(listener);
        common::drain(&connections, args.grace).await;
        Ok(())
    })
}

async fn serve(mut stream: TcpStream, idle: Duration, _tracked: TaskTrackerToken) {
    let _ = stream.set_nodelay(true);
    let mut idle = IdleTimeout::new(idle);
    let mut buf = [0u8; 4096];
    loop {
        let n = match idle.run(stream.read(&mut buf)).await {
            // Silent for too long, at end of file or on an error: close.
            Err(_) | Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
