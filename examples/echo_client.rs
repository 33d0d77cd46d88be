//! An echo client: sends what it reads from stdin, prints what comes back.
//!
//! Run it:   cargo run --example echo_client -- --addr 127.0.0.1:7878
//! Then type lines; end with Ctrl-D. Or: echo hello | cargo run --example echo_client
//!
//! Stdin is read on a helper thread (terminals are not pollable the same way everywhere) and sent
//! to the loop through a `Remote`; the socket is served by two tasks, one per direction.

use std::cell::RefCell;
use std::io::{self, BufRead, Write};
use std::rc::Rc;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::TcpStream;
use evloop::EventLoop;

mod common;

fn main() -> io::Result<()> {
    let addr = common::parse_addr("echo_client");
    let lp = EventLoop::new()?;
    let stream = lp.block_on(TcpStream::connect(addr))?;
    let (mut reader, writer) = stream.into_split();
    let writer = Rc::new(RefCell::new(Some(writer)));

    // Lines from stdin arrive as posts; each spawns a write. End of input shuts the socket's
    // write side, and the server then closes, which ends the reading task below.
    let remote = lp.remote();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(mut line) = line else { break };
            line.push('\n');
            let sent = remote.post(move |_| {
                let w = WRITER.with(|w| w.borrow().clone());
                if let Some(w) = w {
                    evloop::spawn(async move {
                        if let Some(mut half) = w.borrow_mut().take() {
                            let _ = half.write_all(line.as_bytes()).await;
                            *w.borrow_mut() = Some(half);
                        }
                    });
                }
            });
            if sent.is_err() {
                return;
            }
        }
        let _ = remote.post(|_| {
            WRITER.with(|w| {
                if let Some(w) = w.borrow_mut().take() {
                    evloop::spawn(async move {
                        if let Some(mut half) = w.borrow_mut().take() {
                            let _ = half.shutdown().await;
                        }
                    });
                }
            })
        });
    });
    WRITER.with(|w| *w.borrow_mut() = Some(writer));

    lp.block_on(async move {
        let mut buf = [0u8; 4096];
        let mut out = io::stdout();
        loop {
            match reader.read(&mut buf).await? {
                0 => return Ok(()),
                n => {
                    out.write_all(&buf[..n])?;
                    out.flush()?;
                }
            }
        }
    })
}

type Writer = Rc<RefCell<Option<evloop::net::OwnedWriteHalf<mio::net::TcpStream>>>>;

thread_local! {
    static WRITER: RefCell<Option<Writer>> = const { RefCell::new(None) };
}
