//! Graceful shutdown of the benchmark peers `echo_mio`, `echo_tokio` (both forms),
//! `echo_tokio_multi` (both flavors), `echo_smol` and `echo_monoio` (its epoll driver), run as
//! child processes,
//! as `tests/examples_shutdown*.rs` check evloop's own servers: on SIGTERM each prints `shutting
//! down`, stops accepting, and an 8 MiB echo in flight when the signal came completes byte for
//! byte before the server exits with status 0.
//!
//! Loopback only. Every wait is bounded (a hang fails the test, and a watchdog aborts the run);
//! nothing asserts on timing. The example binaries are built by `cargo test --workspace`; with a
//! filter such as `cargo test -p evloop-bench --test peers_shutdown`, build them first with
//! `cargo build --workspace --examples`.

#[path = "../../tests/util/mod.rs"]
mod util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::{mpsc, Arc};
use std::thread;

use util::example::{assert_refused, connect, Program, LIMIT};

/// The watchdog of each test: past this, the whole test process aborts.
const WATCHDOG_SECS: u64 = 90;

const TRANSFER: usize = 8 << 20;
const SIGNAL_AFTER: usize = 1 << 20;

/// An 8 MiB echo in flight; SIGTERM once 1 MiB came back; the echo completes byte for byte, new
/// connects are refused meanwhile, and the server exits with status 0.
fn transfer_survives_sigterm(name: &'static str, extra: &[&str]) {
    let _guard = util::watchdog(name, WATCHDOG_SECS);
    // A grace far longer than the transfer needs, even on a debug build: the test must see the
    // transfer finish, not the grace period end.
    let mut args = vec!["--grace", "60"];
    args.extend_from_slice(extra);
    let mut program = Program::serve(name, &args);
    let data = Arc::new(util::Rng::new(0x5eed).bytes(TRANSFER));
    let stream = connect(program.addr());

    let mut reading = stream.try_clone().unwrap();
    let expected = data.clone();
    let (halfway, signal_now) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut pos = 0;
        loop {
            let n = match reading.read(&mut buf) {
                Ok(0) => return pos,
                Ok(n) => n,
                Err(e) => panic!("reading the echo after {pos} bytes: {e}"),
            };
            assert!(
                pos + n <= expected.len(),
                "more bytes came back than were sent"
            );
            assert!(
                buf[..n] == expected[pos..pos + n],
                "the echo differs in bytes {pos}..{}",
                pos + n
            );
            if pos < SIGNAL_AFTER && pos + n >= SIGNAL_AFTER {
                let _ = halfway.send(());
            }
            pos += n;
        }
    });
    let mut writing = stream;
    let sent = data.clone();
    let writer = thread::spawn(move || {
        writing.write_all(&sent).expect("sending the transfer");
        writing.shutdown(Shutdown::Write).unwrap();
    });

    signal_now
        .recv_timeout(LIMIT)
        .expect("1 MiB did not come back");
    program.sigterm();
    program.wait_for("`shutting down`", |l| l == "shutting down");
    assert_refused(program.addr());
    writer.join().expect("the writer");
    let echoed = reader.join().expect("the reader");
    assert_eq!(echoed, TRANSFER, "the echo was cut short");
    program.assert_exits_0();
}

#[test]
fn echo_mio_finishes_a_transfer_in_flight_on_sigterm() {
    transfer_survives_sigterm("echo_mio", &[]);
}

#[test]
fn echo_tokio_finishes_a_transfer_in_flight_on_sigterm() {
    transfer_survives_sigterm("echo_tokio", &[]);
}

#[test]
fn echo_tokio_local_set_finishes_a_transfer_in_flight_on_sigterm() {
    transfer_survives_sigterm("echo_tokio", &["--form", "local-set"]);
}

#[test]
fn echo_smol_finishes_a_transfer_in_flight_on_sigterm() {
    transfer_survives_sigterm("echo_smol", &[]);
}

#[test]
fn echo_monoio_finishes_a_transfer_in_flight_on_sigterm() {
    transfer_survives_sigterm("echo_monoio", &[]);
}

#[test]
fn echo_tokio_multi_finishes_a_transfer_in_flight_on_sigterm() {
    transfer_survives_sigterm(
        "echo_tokio_multi",
        &["--flavor", "multi-thread", "--threads", "2"],
    );
}

#[test]
fn echo_tokio_multi_per_core_finishes_a_transfer_in_flight_on_sigterm() {
    transfer_survives_sigterm(
        "echo_tokio_multi",
        &["--flavor", "per-core", "--threads", "2"],
    );
}
