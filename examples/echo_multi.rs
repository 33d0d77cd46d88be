//! The async TCP echo server on every core: a `LoopSet` of N loops, each with its own listener on
//! the same port (`SO_REUSEPORT`), sharing nothing else.
//!
//! Run it:   cargo run --release --example echo_multi -- --addr 127.0.0.1:7878 --loops 4
//! Poke it:  nc 127.0.0.1 7878   (or: cargo run --example echo_client)
//!
//! `--loops N` defaults to the number of CPUs this process may use; `--pin yes` pins loop i to
//! the i-th of them. The kernel spreads connections over the loops by a hash of each client's
//! address and port, so a single client always lands on the same loop.
//!
//! Stop it with Ctrl-C (or SIGTERM): the set's coordinator owns the signals and tells every loop;
//! each stops accepting and lets its transfers in flight finish (up to `--grace`; a second signal
//! cuts that short), and the server prints how many connections each loop accepted. Backpressure is the single-loop `echo`'s: a
//! connection's task does not read again until what it read was written.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpStream};
use evloop::task::{TaskTracker, TaskTrackerToken};
use evloop::LoopSet;

mod common;

/// Loop 0 binds first (so that port 0 picks one port for all), the others join its port; the
/// last one to bind announces the address, and the last one to close its listener says so.
#[derive(Default)]
struct Startup {
    addr: Mutex<Option<Result<SocketAddr, String>>>,
    published: Condvar,
    bound: AtomicUsize,
    /// Loops that have closed their listener: the last one says `shutting down`.
    closed: AtomicUsize,
}

impl Startup {
    fn publish(&self, addr: Result<SocketAddr, String>) {
        *self.addr.lock().unwrap() = Some(addr);
        self.published.notify_all();
    }

    /// Waits (before the loop runs anything else) for loop 0's bind.
    fn wait(&self) -> io::Result<SocketAddr> {
        let mut a = self.addr.lock().unwrap();
        while a.is_none() {
            a = self.published.wait(a).unwrap();
        }
        a.clone().unwrap().map_err(io::Error::other)
    }
}

fn main() -> io::Result<()> {
    let usage = "--loops N (a positive number), --pin yes|no";
    let (args, extra) = common::parse_args_with(
        "echo_multi",
        common::DEFAULT_ADDR,
        &[("--loops", "N"), ("--pin", "yes|no")],
    );
    let mut set = LoopSet::new().name("echo");
    for (flag, value) in extra {
        match (flag.as_str(), value.as_str()) {
            ("--loops", n) => match n.parse::<usize>() {
                Ok(n @ 1..) => set = set.loops(n),
                _ => common::fail(&format!("`{n}` is not a number of loops"), usage),
            },
            ("--pin", "yes") => set = set.pin(true),
            ("--pin", "no") => set = set.pin(false),
            (_, v) => common::fail(&format!("`{v}` is not yes or no"), usage),
        }
    }
    // The loops drain for `--grace`; the set abandons a loop only if that somehow overruns.
    let set = set.grace(args.grace + Duration::from_secs(1));
    let startup = Arc::new(Startup::default());
    let accepted = set.run(|ctx| {
        let startup = startup.clone();
        let grace = args.grace;
        // Bound before the loop's first await, in the thread's own setup.
        let bound = if ctx.index() == 0 {
            let l = TcpListener::bind_reuseport(args.addr);
            startup.publish(match &l {
                Ok(l) => l.local_addr().map_err(|e| e.to_string()),
                Err(e) => Err(format!("loop 0 could not bind {}: {e}", args.addr)),
            });
            l
        } else {
            startup.wait().and_then(TcpListener::bind_reuseport)
        };
        if bound.is_ok() && startup.bound.fetch_add(1, Ordering::AcqRel) + 1 == ctx.loops() {
            // Every loop listens: the signals were taken over before any loop started.
            if let Ok(addr) = startup.wait() {
                let _ = common::announce(addr);
            }
        }
        async move {
            let listener = bound?;
            let connections = TaskTracker::new();
            let mut n = 0u64;
            let shutdown = ctx.shutdown_token().clone();
            while let Some(accepted) = shutdown.run_until_cancelled(listener.accept()).await {
                // Out of descriptors, `accept` waits by itself: an error here is the listener's own.
                let (stream, _peer) = accepted?;
                n += 1;
                evloop::spawn(serve(stream, connections.token()));
            }
            drop(listener); // new connects to this loop are refused from here on
            if startup.closed.fetch_add(1, Ordering::AcqRel) + 1 == ctx.loops() {
                // Only once no loop accepts any more.
                common::say_shutting_down();
            }
            common::drain_until(&connections, grace, ctx.force_token().clone()).await;
            // Each loop's own metrics, read on its thread; summed below.
            Ok((n, evloop::Handle::current().metrics()))
        }
    })?;
    let total: u64 = accepted.iter().map(|(n, _)| n).sum();
    for (i, (n, m)) in accepted.iter().enumerate() {
        println!("loop {i} accepted {n} connections");
        eprintln!(
            "loop {i}: {} turns, {} tasks polled, {} I/O events, busy {:?}",
            m.turns(),
            m.tasks_polled(),
            m.io_events(),
            m.busy_time()
        );
    }
    println!("{total} connections in all");
    let all: evloop::event_loop::Metrics = accepted.into_iter().map(|(_, m)| m).sum();
    eprintln!(
        "all loops: {} turns, {} tasks polled, {} I/O events, busy {:?}",
        all.turns(),
        all.tasks_polled(),
        all.io_events(),
        all.busy_time()
    );
    Ok(())
}

async fn serve(mut stream: TcpStream, _tracked: TaskTrackerToken) {
    // Echo servers answer small messages at once: do not let Nagle hold them back.
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
