//! The benchmarks of [evloop](../evloop/index.html), kept in a crate of their own so that the
//! runtime's examples and tests never compile what only a benchmark needs (tokio, criterion,
//! plotters, hdrhistogram).
//!
//! Everything here is a bench, an example or a test; this library has no items.
//!
//! - `benches/`: the criterion micro-benchmarks against tokio (`loop`, `task`, `net`, `sync`), and
//!   the end-to-end `echo` and `memory` benches, which run the echo servers as processes, `multi`
//!   (`echo_multi` with 1..N loops against tokio's many-core shapes) and `wake` (cross-thread wakes).
//! - `examples/`: the benchmark peers (`echo_tokio` on tokio's current_thread runtime, with
//!   `spawn` or `--form local-set`; `echo_tokio_multi` on its multi-thread runtime or on one
//!   current_thread runtime per core; `echo_monoio` on monoio's epoll driver or `--driver uring`;
//!   `echo_smol` on smol's `LocalExecutor`; `echo_mio` on raw mio), the load generator
//!   `echo_load`, and `wake_count` (cross-thread wakes for callgrind).
//! - `tests/`: the peers checked byte for byte, like evloop's own servers.
//!
//! ```text
//! cargo bench -p evloop-bench --bench echo -- --quick
//! cargo test -p evloop-bench
//! ```
#![deny(missing_docs)]
