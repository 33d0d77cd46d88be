//! A Redis-compatible server on evloop: the pieces of `examples/redis_server.rs`.
//!
//! - [`parser`]: RESP2 requests, incremental and copy-free;
//! - [`session`]: one connection's input, parser and command running (pipelining, backpressure);
//! - [`turn`]: one connection's turn between its socket and its session, on any runtime's socket
//!   and timer;
//! - [`conn`]: the connection task on evloop's sockets and timers;
//! - [`expiry`]: the active expiry cycle on evloop's timers, and the loop's clock;
//! - [`commands`]: the command table and the commands;
//! - [`store`]: the keyspace with lazy and active expiry;
//! - [`client`], [`pubsub`], [`blocking`]: what clients share (replies others send them,
//!   subscriptions, `BRPOP` waiters);
//! - [`server`]: the shared state and the limits;
//! - [`reply`]: RESP2 replies written straight into output buffers.
//!
//! Everything but `conn` and `expiry` is runtime-agnostic (the server reads the time through the
//! clock it is given), so the tokio twin of the benchmark runs the same code with its own
//! socket and timer for the turn, expiry cycle and clock.

// The tokio twin uses all but `conn` and `expiry`; each binary uses part of the rest.
#![allow(dead_code)]

pub mod blocking;
pub mod client;
pub mod commands;
pub mod conn;
pub mod expiry;
pub mod parser;
pub mod pubsub;
pub mod reply;
pub mod server;
pub mod session;
pub mod store;
pub mod turn;
