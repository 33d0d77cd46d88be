//! A Redis-compatible server on evloop: RESP2 with pipelining, strings, lists with a blocking
//! `BRPOP` (a task queue's broker), expiry, pub/sub, and the limits that keep bad clients from
//! hurting the others. The pieces are in `examples/redis/`.
//!
//! Run it:   cargo run --release --example redis_server -- --addr 127.0.0.1:6380
//! Poke it:  redis-cli -p 6380 set hello world; redis-cli -p 6380 get hello
//!           redis-benchmark -p 6380 -t ping,set,get,lpush,rpop -P 16 -q
//!
//! Limits (bytes): `--proto-max-bulk-len` (largest bulk string, 512 MiB), `--output-limit`
//! (pending replies past which a client is disconnected, 256 MiB), `--pubsub-output-limit`
//! (the same for a subscriber, 32 MiB).
//!
//! Stop it with Ctrl-C (or SIGTERM): it stops accepting, every client gets the replies to the
//! commands it sent and is closed, within `--grace` seconds.

use std::io;
use std::rc::Rc;

use evloop::net::TcpListener;
use evloop::task::TaskTracker;
use evloop::EventLoop;

mod common;
mod redis;

use redis::expiry::{active_expiry, loop_clock};
use redis::server::{Config, Server};

fn main() -> io::Result<()> {
    let flags = [
        ("--proto-max-bulk-len", "BYTES"),
        ("--output-limit", "BYTES"),
        ("--pubsub-output-limit", "BYTES"),
    ];
    let (args, given) = common::parse_args_with("redis_server", "127.0.0.1:6380", &flags);
    let mut config = Config {
        port: args.addr.port(),
        ..Config::default()
    };
    for (flag, value) in given {
        let Ok(n) = value.parse::<usize>() else {
            common::fail(
                &format!("`{flag}` needs a number of bytes, not `{value}`"),
                "",
            );
        };
        match flag.as_str() {
            "--proto-max-bulk-len" => config.max_bulk = n,
            "--output-limit" => config.output_limit = n,
            _ => config.pubsub_limit = n,
        }
    }
    let lp = EventLoop::new()?;
    lp.block_on(async move {
        let listener = TcpListener::bind(args.addr)?;
        let shutdown = common::shutdown_signal()?;
        let addr = listener.local_addr()?;
        let server = Rc::new(Server::new(
            Config {
                port: addr.port(),
                ..config
            },
            loop_clock,
        ));
        let expiry = evloop::spawn(active_expiry(server.clone()));
        common::announce(addr)?;
        let connections = TaskTracker::new();
        while let Some(accepted) = shutdown.run_until_cancelled(listener.accept()).await {
            // Out of descriptors, `accept` waits by itself: an error here is the listener's own.
            let (stream, _peer) = accepted?;
            evloop::spawn(redis::conn::serve(
                server.clone(),
                stream,
                connections.token(),
            ));
        }
        drop(listener);
        // Every client gets the replies to what it sent, then is closed.
        server.shutdown();
        common::drain(&connections, args.grace).await;
        expiry.abort();
        Ok(())
    })
}
