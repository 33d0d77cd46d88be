//! `echo_multi` as a child process: 1,000 connections, every byte checked, spread over all of its
//! loops, then a graceful shutdown on SIGTERM that reports each loop's count.
//!
//! The example binaries are built by a plain `cargo test` (which builds examples). With a filter
//! such as `cargo test --test examples_multi`, build them first with `cargo build --examples`.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use util::example::Program;

const LOOPS: usize = 4;
const CONNECTIONS: usize = 1000;
const CLIENT_THREADS: usize = 4;

#[test]
fn echo_multi_serves_1000_verified_connections_over_all_loops() {
    let mut server = Program::serve("echo_multi", &["--loops", "4"]);
    let addr = server.addr();
    let clients: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for c in (t..CONNECTIONS).step_by(CLIENT_THREADS) {
                    let mut s = TcpStream::connect(addr).expect("connect");
                    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                    let msg: Vec<u8> = (0..2000).map(|j| (c * 31 + j * 7) as u8).collect();
                    s.write_all(&msg).unwrap();
                    s.shutdown(Shutdown::Write).unwrap();
                    let mut back = Vec::new();
                    s.read_to_end(&mut back).unwrap();
                    assert_eq!(back, msg, "connection {c}");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.sigterm();
    server.expect_line("shutting down");
    let rest = server.assert_exits_0();
    let counts: Vec<u64> = (0..LOOPS)
        .map(|i| {
            let prefix = format!("loop {i} accepted ");
            let line = rest
                .iter()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no count for loop {i}: {rest:#?}"));
            line.trim_end_matches(" connections").parse().unwrap()
        })
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), CONNECTIONS as u64, "{rest:#?}");
    // 1,000 connections from distinct source ports hashed onto 4 listeners: an empty one has a
    // probability of about 4 * (3/4)^1000.
    assert!(counts.iter().all(|&n| n > 0), "{counts:?}");
    assert!(
        rest.contains(&format!("{CONNECTIONS} connections in all")),
        "{rest:#?}"
    );
}
