//! The reference for the echo benchmark: the same echo server on tokio's single-threaded runtime.
//!
//! Run it:   cargo run --release --example echo_tokio -- --addr 127.0.0.1:0
//!
//! One task per connection (`spawn_local` on a `current_thread` runtime), a 4 KiB buffer, read then
//! `write_all`: line for line what `examples/echo.rs` does on evloop, so the two compare runtimes
//! rather than programs.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::LocalSet;

mod common;

fn main() -> io::Result<()> {
    let addr = common::parse_addr("echo_tokio");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    LocalSet::new().block_on(&rt, async move {
        let listener = TcpListener::bind(addr).await?;
        common::announce(listener.local_addr()?)?;
        loop {
            match listener.accept().await {
                Ok((stream, _peer)) => {
                    tokio::task::spawn_local(serve(stream));
                }
                Err(e) if common::must_back_off(&e) => {
                    eprintln!("accept failed: {e}; pausing accepts");
                    tokio::time::sleep(common::ACCEPT_BACKOFF).await;
                }
                Err(_) => {}
            }
        }
    })
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
