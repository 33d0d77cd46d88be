//! The example echo servers the benchmarks compare (`echo`, `echo_callbacks`, `echo_multi`,
//! `echo_mio`, `echo_tokio` in both its forms, `echo_tokio_multi`, `echo_smol`, `echo_monoio` on
//! its epoll driver, and on io_uring where the kernel allows it) run as child processes and must
//! all echo every byte, in order, over concurrent connections, and pass a client's half-close on
//! once everything was echoed. The benchmark's numbers mean nothing if one of them cut a corner.
//!
//! The example binaries are built by `cargo test --workspace`; with a filter such as
//! `cargo test -p evloop-bench --test echo_servers`, build them first with
//! `cargo build --workspace --examples`.

#[path = "../../tests/util/mod.rs"]
mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use util::example::{bin, Server};
use util::{watchdog, Rng};

/// Each server: its example and the flags that pick its form.
const SERVERS: [(&str, &[&str]); 10] = [
    ("echo", &[]),
    ("echo_callbacks", &[]),
    ("echo_multi", &[]),
    ("echo_mio", &[]),
    ("echo_tokio", &[]),
    ("echo_tokio", &["--form", "local-set"]),
    ("echo_tokio_multi", &[]),
    ("echo_smol", &[]),
    ("echo_monoio", &[]),
    ("echo_monoio", &["--driver", "uring"]),
];
/// The status with which `echo_monoio --driver uring` exits where the kernel refuses io_uring.
const NO_URING: i32 = 3;
/// Concurrent connections per server.
const CONNS: usize = 8;
/// Longest any single blocking socket operation may take before the test fails.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `payload` in random-sized writes from a second thread, then shuts the writing half down;
/// reads the echo to the end of file on this one. Returns what came back.
fn echo_half_closed(addr: SocketAddr, payload: Vec<u8>, seed: u64) -> Vec<u8> {
    let payload_len = payload.len();
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let mut rng = Rng::scrambled(seed);
        let mut pos = 0;
        while pos < payload.len() {
            let n = rng.range(1, 16 * 1024).min(payload.len() - pos);
            writer.write_all(&payload[pos..pos + n]).expect("write");
            pos += n;
        }
        writer.shutdown(Shutdown::Write).expect("shutdown");
    });
    let mut echoed = Vec::new();
    if let Err(e) = (&stream).read_to_end(&mut echoed) {
        panic!(
            "no end of file after {} of {} echoed bytes ({e}): a timeout means the server kept \
             the half-closed connection open",
            echoed.len(),
            payload_len
        );
    }
    sender.join().expect("the sending thread");
    echoed
}

#[test]
fn every_echo_server_echoes_every_byte_and_passes_a_half_close_on() {
    let _wd = watchdog("every_echo_server_echoes_every_byte", 300);
    for (s, &(name, args)) in SERVERS.iter().enumerate() {
        if args.contains(&"uring") {
            if let Some(why) = uring_refused() {
                eprintln!("skipping echo_monoio --driver uring: {why}");
                continue;
            }
        }
        let mut cmd = Command::new(bin(name));
        cmd.args(args).stderr(Stdio::inherit());
        let server = Server::start(cmd);
        let clients: Vec<_> = (0..CONNS)
            .map(|c| {
                let addr = server.addr;
                let seed = (s * CONNS + c) as u64 + 1;
                thread::spawn(move || {
                    let mut rng = Rng::scrambled(seed);
                    // Small ones and ones larger than any server's buffers and socket queues.
                    let len = if c % 2 == 0 {
                        rng.range(1, 200)
                    } else {
                        rng.range(64 * 1024, 512 * 1024)
                    };
                    let payload = rng.bytes(len);
                    let echoed = echo_half_closed(addr, payload.clone(), seed);
                    (payload, echoed)
                })
            })
            .collect();
        for (c, client) in clients.into_iter().enumerate() {
            let (payload, echoed) = client.join().expect("client thread");
            assert_eq!(
                echoed.len(),
                payload.len(),
                "{name} {args:?}, connection {c}: echoed length"
            );
            assert!(
                echoed == payload,
                "{name} {args:?}, connection {c}: echoed bytes differ"
            );
        }
    }
}

/// Why `echo_monoio --driver uring` cannot run here, if it cannot: it exits with [`NO_URING`],
/// saying why, before it listens (here with `--addr 127.0.0.1:0` and a check of the status only).
fn uring_refused() -> Option<String> {
    let mut child = Command::new(bin("echo_monoio"))
        .args(["--driver", "uring", "--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning echo_monoio");
    let mut line = String::new();
    let _ = std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    );
    if line.starts_with("listening on") {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let out = child.wait_with_output().expect("echo_monoio's exit");
    assert_eq!(
        out.status.code(),
        Some(NO_URING),
        "echo_monoio --driver uring neither listened nor said io_uring is refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stderr).trim().to_string())
}
