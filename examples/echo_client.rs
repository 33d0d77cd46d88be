//! An echo client: sends what it reads from stdin, prints what comes back.
//!
//! Run it:   cargo run --example echo_client -- --addr 127.0.0.1:7878
//! Then type lines and end with Ctrl-D, or pipe: `echo hello | cargo run --example echo_client`.
//!
//! Stdin is blocking, so a plain thread reads it and sends chunks into the loop over a
//! `remote_channel` (the one `Send` door into a loop). Two tasks serve the socket, one per
//! direction; end of input shuts our write side, the server then closes, and the reader ends.

use std::io::{self, Read, Write};

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::TcpStream;
use evloop::sync::remote_channel;
use evloop::EventLoop;

mod common;

fn main() -> io::Result<()> {
    let addr = common::parse_addr("echo_client");
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (mut reader, mut writer) = stream.into_split();

        let (tx, mut rx) = remote_channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = vec![0u8; 4096];
            while let Ok(n @ 1..) = stdin.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
            // Dropping `tx` ends the channel: the sending task shuts the socket's write side.
        });

        let sender = evloop::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                writer.write_all(&chunk).await?;
            }
            writer.shutdown().await
        });

        let mut buf = [0u8; 4096];
        let mut out = io::stdout();
        loop {
            match reader.read(&mut buf).await? {
                0 => break,
                n => {
                    out.write_all(&buf[..n])?;
                    out.flush()?;
                }
            }
        }
        // The server closed. If stdin is still open there is nobody left to send to; otherwise a
        // send error (the server went away early) is worth reporting.
        if !sender.is_finished() {
            sender.abort();
            return Ok(());
        }
        match sender.await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    })
}
