//! Hand the heavy lifting to a worker process: a TCP server that gzips what each client sends by
//! piping it through its own `gzip -c` child, and sends the compressed bytes back. This is the
//! shape of "resize the image / transcode the video in a helper program": the loop only moves
//! bytes between sockets and pipes, the CPU work happens in other processes, and the loop keeps
//! serving every other connection meanwhile.
//!
//! Run it:   cargo run --release --example compress -- --addr 127.0.0.1:7878   (needs `gzip` on PATH)
//! Poke it:  printf 'hello hello hello\n' | nc -N 127.0.0.1 7878 | gunzip
//!           (`-N`, or `-q 1` for some netcats: half-close after stdin so the server sees the end)
//!
//! Per connection, two tasks run side by side: one copies the client's bytes into gzip's stdin and
//! closes it at the client's end of stream; the other copies gzip's stdout back to the client.
//! Neither reads more before it wrote what it has, so a slow client or a slow gzip holds back only
//! its own connection (the pipes and socket buffers fill, then the other side waits). When both are
//! done the child is reaped and the connection closed.
//!
//! Stop it with Ctrl-C (or SIGTERM): it stops accepting and lets the connections in flight finish
//! (their workers run to the end and are reaped), for up to `--grace` seconds (5 by default).

use std::io;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpStream};
use evloop::process::{ChildStdin, ChildStdout, Command, Stdio};
use evloop::task::TaskTracker;
use evloop::EventLoop;

mod common;

/// The worker program and its arguments: compress stdin to stdout.
const WORKER: (&str, &[&str]) = ("gzip", &["-c"]);

fn main() -> io::Result<()> {
    let args = common::parse_args("compress");
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let listener = TcpListener::bind(args.addr)?;
        // SIGINT or SIGTERM: stop accepting, let the connections finish (up to `--grace`), exit 0.
        // Listening for them before the announcement: a signal sent as soon as it is read is
        // not the default one that would end the process.
        let shutdown = common::shutdown_signal()?;
        common::announce(listener.local_addr()?)?;
        let connections = TaskTracker::new();
        while let Some(accepted) = shutdown.run_until_cancelled(listener.accept()).await {
            // Out of descriptors (each connection needs three more for its child), `accept` waits
            // by itself: an error here is the listener's own.
            let (stream, peer) = accepted?;
            connections.spawn(async move {
                if let Err(e) = serve(stream).await {
                    eprintln!("{peer}: {e}");
                }
            });
        }
        drop(listener); // new connects are refused from here on

        // A connection still running after the grace period is dropped with the loop, and its
        // worker killed (`kill_on_drop`).
        common::drain(&connections, args.grace).await;
        Ok(())
    })
}

async fn serve(stream: TcpStream) -> io::Result<()> {
    let (program, args) = WORKER;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // A client that disconnects early takes its worker with it.
        .kill_on_drop(true)
        .spawn()?;
    let to_worker = child.stdin.take().expect("piped stdin");
    let from_worker = child.stdout.take().expect("piped stdout");
    let (from_client, to_client) = stream.into_split();

    let upload = evloop::spawn(feed(from_client, to_worker));
    let sent = send_back(from_worker, to_client).await;
    let received = upload.await.map_err(|e| io::Error::other(e.to_string()))?;
    let status = child.wait().await?;
    let (received, sent) = (received?, sent?);
    if !status.success() {
        return Err(io::Error::other(format!("{program} failed: {status}")));
    }
    println!("compressed {received} bytes to {sent}");
    Ok(())
}

/// Client → worker, until the client's end of stream; then closes the worker's stdin.
async fn feed(mut client: impl AsyncRead, mut worker: ChildStdin) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = client.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        worker.write_all(&buf[..n]).await?;
        total += n as u64;
    }
    // End of file for gzip, which then writes its trailer and exits.
    worker.shutdown().await?;
    Ok(total)
}

/// Worker → client, until the worker closes its stdout; then half-closes the connection.
async fn send_back(mut worker: ChildStdout, mut client: impl AsyncWrite) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = worker.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        client.write_all(&buf[..n]).await?;
        total += n as u64;
    }
    client.shutdown().await?;
    Ok(total)
}
