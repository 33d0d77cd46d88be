//! A peer for the echo benchmark: the same echo server on monoio, a thread-per-core runtime, run
//! on one thread.
//!
//! Run it:   cargo run --release -p evloop-bench --example echo_monoio -- --addr 127.0.0.1:0
//!           (add `--driver uring` for io_uring instead of epoll)
//!
//! `--driver epoll` (the default) is monoio's `LegacyDriver` (readiness through mio);
//! `--driver uring` its `IoUringDriver`. io_uring is checked for at start-up: where the kernel
//! refuses it (or lacks an operation monoio needs) the server prints why on stderr and exits with
//! status 3 before `listening on`, so a caller can skip it.
//!
//! One task per connection, a 4 KiB buffer, read then `write_all`, as `echo_tokio` and
//! `examples/echo.rs` do. What differs: monoio's I/O takes buffers by value (io_uring needs them
//! owned while the kernel works), so the buffer is a `Vec` with 4 KiB of capacity per connection,
//! on the heap, handed to `read` and back from `write_all` (nothing is zeroed or copied). Its epoll
//! driver clears readiness only on `EAGAIN`, so after a short read the next read still makes the
//! syscall that returns `EAGAIN` (tokio and evloop skip it); the API has no way to say otherwise.
//!
//! Stop it with Ctrl-C (or SIGTERM): monoio's own signal support (`signal` feature) runs the
//! `ctrlc` crate's thread, so instead a handler for SIGINT and SIGTERM writes to a socket pair
//! whose other end is a monoio `UnixStream` raced with `accept`: no extra thread, and the
//! connections pay nothing for it. The listener is then dropped and the connections get up to
//! `--grace` seconds to finish.

use std::io;
use std::os::fd::IntoRawFd;
use std::pin::pin;
use std::sync::atomic::{AtomicI32, Ordering};

use monoio::buf::IoBuf;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream, UnixStream};
use monoio::{IoUringDriver, LegacyDriver, RuntimeBuilder};

#[path = "../../examples/common/mod.rs"]
mod common;
mod drain;

/// The status with which the server exits when io_uring was asked for and is not available.
const NO_URING: i32 = 3;

fn main() -> io::Result<()> {
    let (args, own) = common::parse_args_with(
        "echo_monoio",
        common::DEFAULT_ADDR,
        &[("--driver", "epoll|uring")],
    );
    if args.idle_timeout.is_some() || args.stats.is_some() {
        common::fail(
            "echo_monoio has no idle timeout and no loop statistics",
            "usage: echo_monoio [--addr HOST:PORT] [--grace SECS] [--driver epoll|uring]",
        );
    }
    let mut uring = false;
    for (flag, value) in own {
        match value.as_str() {
            "epoll" => uring = false,
            "uring" => uring = true,
            v => common::fail(
                &format!("`{flag}` is `epoll` or `uring`, not `{v}`"),
                "usage: echo_monoio [--addr HOST:PORT] [--driver epoll|uring] [--grace SECS]",
            ),
        }
    }
    if !uring {
        return RuntimeBuilder::<LegacyDriver>::new()
            .enable_timer()
            .build()?
            .block_on(serve_all(args));
    }
    if !monoio::utils::detect_uring() {
        eprintln!(
            "echo_monoio: io_uring is not available: the kernel refused it or lacks an operation monoio needs"
        );
        std::process::exit(NO_URING);
    }
    match RuntimeBuilder::<IoUringDriver>::new()
        .enable_timer()
        .build()
    {
        Ok(mut rt) => rt.block_on(serve_all(args)),
        Err(e) => {
            eprintln!("echo_monoio: io_uring is not available: {e}");
            std::process::exit(NO_URING);
        }
    }
}

async fn serve_all(args: common::Args) -> io::Result<()> {
    // monoio's listener asks for a backlog of 1024, as tokio and evloop do.
    let listener = TcpListener::bind(args.addr)?;
    // Before announcing: a signal sent once the address is out is never fatal.
    let mut signals = watch_shutdown_signals()?;
    let mut signalled = pin!(async move {
        let _ = signals.read(Vec::with_capacity(16)).await;
    });
    common::announce(listener.local_addr()?)?;
    let tracker = drain::Tracker::default();
    loop {
        monoio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let guard = tracker.guard();
                    // Dropping a monoio JoinHandle detaches the task.
                    drop(monoio::spawn(async move {
                        serve(stream).await;
                        drop(guard);
                    }));
                }
                Err(e) if common::must_back_off(&e) => {
                    eprintln!("accept failed: {e}; pausing accepts");
                    monoio::time::sleep(common::ACCEPT_BACKOFF).await;
                }
                Err(_) => {}
            },
            _ = &mut signalled => break,
        }
    }
    // SIGINT or SIGTERM: stop accepting, let the connections finish (up to `--grace`), exit 0.
    common::say_shutting_down();
    drop(listener); // new connects are refused from here on
    if monoio::time::timeout(args.grace, tracker.idle())
        .await
        .is_err()
    {
        eprintln!(
            "grace period over: cancelling {} connection(s)",
            tracker.live()
        );
    }
    Ok(())
}

async fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    loop {
        let (res, read) = stream.read(buf).await;
        let n = match res {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let (res, written) = stream.write_all(read.slice(..n)).await;
        if res.is_err() {
            return;
        }
        buf = written.into_inner();
    }
}

/// The write end of the socket pair the signal handler writes to (-1 before it exists).
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

/// Async-signal-safe: one `write` to a non-blocking socket (a full pipe already says "signalled").
extern "C" fn on_signal(_: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: writing one byte from a static to an open descriptor; `write` is
        // async-signal-safe and errno is saved and restored around it.
        unsafe {
            let errno = *libc::__errno_location();
            libc::write(fd, b"s".as_ptr().cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

/// Installs the SIGINT and SIGTERM handler; returns the end of the socket pair it wakes.
fn watch_shutdown_signals() -> io::Result<UnixStream> {
    let (read, write) = std::os::unix::net::UnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    SIGNAL_PIPE.store(write.into_raw_fd(), Ordering::Relaxed);
    let read = UnixStream::from_std(read)?;
    for signum in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: an all-zero `sigaction` is valid (no flags, an empty mask once `sigemptyset`
        // ran); the handler is async-signal-safe (see `on_signal`); the pointers are to locals.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(signum, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(read)
}
