//! Memory benchmark: resident bytes per task and per idle TCP connection, evloop next to tokio.
//!
//! Run it:
//!
//! ```text
//! cargo bench -p evloop-bench --bench memory
//! cargo bench -p evloop-bench --bench memory -- --tasks 100000 --connections 10000 --no-build
//! ```
//!
//! Per task: 100,000 tasks that never complete, spawned on evloop (`EventLoop::spawn`) and on tokio
//! (`current_thread` runtime + `LocalSet::spawn_local`). Two kinds: a task pending forever
//! (`std::future::pending`) and a task sleeping on a one-hour timer (`evloop::time::sleep` /
//! `tokio::time::sleep`). Every task is polled once (each bumps a thread-local counter on its first
//! poll, so the sleeps are armed) before VmRSS is read from `/proc/self/status`; the increase over
//! the reading before spawning, divided by the task count, is the figure. Each measurement runs in
//! a fresh child process (this program re-executed with `--child KIND N`), so that allocator state
//! does not carry over from one to the next.
//!
//! Per idle TCP connection: each echo server example (evloop async `echo`, evloop `echo_callbacks`,
//! `echo_tokio`, and raw `echo_mio` as the floor) is started as a process; this program opens
//! 10,000 connections to it (in batches, each connection echoing one byte so that the server has
//! accepted and served it), and the server's VmRSS increase divided by 10,000 is the figure
//! (user-space memory only: kernel socket buffers are not in VmRSS). The open-files limit is raised
//! to the hard limit for this process and the servers; the bench needs 10,000 descriptors itself.
//!
//! Like `benches/echo.rs`, it builds the examples it needs first with the `cargo` that runs it
//! (`--no-build` uses the binaries in `target/release/examples` as they are: build them with
//! `cargo build --release --workspace --examples`); a missing or broken server is skipped with a note.
//!
//! Output: Markdown tables on stdout and in `target/memory-bench.md`.

mod common;

use common::{
    dirs, example_problems, first_line, listening_addr, raise_nofile_limit, signal, thousands,
    wait_timeout,
};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

const SERVERS: [(&str, &str); 4] = [
    ("echo_callbacks", "evloop callbacks"),
    ("echo", "evloop async"),
    ("echo_tokio", "tokio current_thread"),
    ("echo_mio", "raw mio"),
];
const HOUR: Duration = Duration::from_secs(3600);

thread_local! {
    /// How many spawned tasks have been polled at least once.
    static POLLED: Cell<usize> = const { Cell::new(0) };
}

fn polled() -> usize {
    POLLED.with(Cell::get)
}

fn mark_polled() {
    POLLED.with(|c| c.set(c.get() + 1));
}

/// This process's resident set size in bytes, from `/proc/self/status`.
fn rss_of(pid: Option<u32>) -> u64 {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".into(),
    };
    let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("no VmRSS in {path}"))
}

// ---- per-task measurements (in a child process) ----

async fn pending_task() {
    mark_polled();
    std::future::pending::<()>().await
}

async fn evloop_sleep_task() {
    mark_polled();
    evloop::time::sleep(HOUR).await
}

async fn tokio_sleep_task() {
    mark_polled();
    tokio::time::sleep(HOUR).await
}

/// Spawns `n` tasks made by `make` on evloop, polls each once, and returns (RSS delta, future size).
fn evloop_tasks<F: Future<Output = ()> + 'static>(n: usize, make: fn() -> F) -> (u64, usize) {
    let lp = evloop::EventLoop::new().expect("event loop");
    // Warm up: what the first spawn and the first timer allocate is not per task.
    lp.block_on(async {
        evloop::spawn(async {}).await.unwrap();
        evloop::time::sleep(Duration::from_millis(1)).await;
    });
    let size = std::mem::size_of_val(&make());
    let before = rss_of(None);
    for _ in 0..n {
        drop(lp.spawn(make()));
    }
    // Run turns until nothing is queued: every task has had its first poll.
    while lp.next_timeout() == Some(Duration::ZERO) {
        lp.run_nowait().expect("run");
    }
    assert_eq!(polled(), n, "every task polled once");
    assert_eq!(lp.task_count(), n);
    let after = rss_of(None);
    (after.saturating_sub(before), size)
}

/// The same on tokio: current_thread runtime, LocalSet, spawn_local.
fn tokio_tasks<F: Future<Output = ()> + 'static>(n: usize, make: fn() -> F) -> (u64, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        tokio::task::spawn_local(async {}).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let size = std::mem::size_of_val(&make());
        let before = rss_of(None);
        for _ in 0..n {
            drop(tokio::task::spawn_local(make()));
        }
        // Yield to the LocalSet until every task has had its first poll.
        while polled() < n {
            tokio::task::yield_now().await;
        }
        let after = rss_of(None);
        (after.saturating_sub(before), size)
    })
}

fn child(kind: &str, n: usize) {
    let (delta, size) = match kind {
        "evloop-pending" => evloop_tasks(n, pending_task),
        "tokio-pending" => tokio_tasks(n, pending_task),
        "evloop-sleep" => evloop_tasks(n, evloop_sleep_task),
        "tokio-sleep" => tokio_tasks(n, tokio_sleep_task),
        other => panic!("unknown child kind {other}"),
    };
    println!("CHILD delta={delta} future_size={size}");
}

/// Runs one per-task measurement in a fresh process: (bytes per task, future size).
fn measure_tasks(kind: &str, n: usize) -> Result<(f64, usize), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["--child", kind, &n.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot re-execute: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("child {kind} failed ({}): {text}", out.status));
    }
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("CHILD "))
        .ok_or_else(|| format!("no result from child {kind}: {text}"))?;
    let kv: HashMap<&str, u64> = line
        .split_whitespace()
        .filter_map(|p| p.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect();
    Ok((kv["delta"] as f64 / n as f64, kv["future_size"] as usize))
}

// ---- per-connection measurements ----

/// Starts a server and returns it with the address it printed.
fn start_server(path: &Path) -> Result<(Child, String), String> {
    let mut child = Command::new(path)
        .args(["--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
    match first_line(&mut child, Duration::from_secs(10)) {
        Some(line) => match listening_addr(&line) {
            Some(a) => Ok((child, a)),
            None => {
                stop(child);
                Err(format!("unexpected first line {line:?}"))
            }
        },
        None => {
            stop(child);
            Err(format!("{} did not print `listening on`", path.display()))
        }
    }
}

fn stop(mut child: Child) {
    signal(&child, libc::SIGTERM);
    wait_timeout(&mut child, Duration::from_secs(10));
}

/// Server VmRSS before and after `n` idle connections (each has echoed one byte).
fn measure_connections(path: &Path, n: usize) -> Result<(u64, u64), String> {
    let (child, addr) = start_server(path)?;
    let pid = child.id();
    let result = (|| {
        // One connection first, so that what the server sets up lazily is not counted.
        {
            let mut s = TcpStream::connect(&addr).map_err(|e| format!("connect: {e}"))?;
            ping(&mut s)?;
        }
        thread::sleep(Duration::from_millis(200));
        let before = rss_of(Some(pid));
        let mut conns = Vec::with_capacity(n);
        while conns.len() < n {
            let batch = (n - conns.len()).min(200);
            let start = conns.len();
            for _ in 0..batch {
                let s = TcpStream::connect(&addr).map_err(|e| {
                    format!(
                        "connect #{} failed: {e} (open-files limit too low?)",
                        conns.len() + 1
                    )
                })?;
                conns.push(s);
            }
            for s in &mut conns[start..] {
                s.write_all(b"x").map_err(|e| format!("write: {e}"))?;
            }
            for s in &mut conns[start..] {
                let mut b = [0u8; 1];
                s.set_read_timeout(Some(Duration::from_secs(20)))
                    .map_err(|e| e.to_string())?;
                s.read_exact(&mut b)
                    .map_err(|e| format!("no echo on connection: {e}"))?;
            }
        }
        thread::sleep(Duration::from_millis(200));
        let after = rss_of(Some(pid));
        drop(conns);
        Ok((before, after))
    })();
    stop(child);
    result
}

fn ping(s: &mut TcpStream) -> Result<(), String> {
    s.write_all(b"x").map_err(|e| format!("write: {e}"))?;
    let mut b = [0u8; 1];
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    s.read_exact(&mut b).map_err(|e| format!("no echo: {e}"))
}

fn usage_error(msg: &str) -> ! {
    eprintln!("memory bench: {msg}\nflags: --tasks N --connections N --no-build");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let kind = args.get(1).expect("--child KIND N");
        let n = args
            .get(2)
            .and_then(|n| n.parse().ok())
            .expect("--child KIND N");
        child(kind, n);
        return;
    }
    let mut tasks = 100_000usize;
    let mut connections = 10_000usize;
    let mut build = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage_error(&format!("{name} needs a number")))
        };
        match a.as_str() {
            "--bench" => {}
            "--tasks" => tasks = num(a),
            "--connections" => connections = num(a),
            "--no-build" => build = false,
            other => usage_error(&format!("unexpected argument `{other}`")),
        }
    }
    if tasks == 0 || connections == 0 {
        usage_error("counts must be positive");
    }

    let d = dirs();
    let nofile = raise_nofile_limit();
    let mut md = String::new();
    let mut failed = false;
    let _ = writeln!(md, "# Memory benchmark\n");

    // Per task.
    let _ = writeln!(
        md,
        "## Resident memory per task ({} tasks, each polled once; VmRSS increase ÷ tasks)\n\n\
         | task | evloop B/task | tokio B/task | evloop ÷ tokio | future size evloop / tokio |\n\
         |---|---:|---:|---:|---:|",
        thousands(tasks as f64)
    );
    let mut task_rows = Vec::new();
    for (what, ev, tk) in [
        (
            "pending forever (`std::future::pending`)",
            "evloop-pending",
            "tokio-pending",
        ),
        (
            "sleeping on a 1-hour timer (`time::sleep`)",
            "evloop-sleep",
            "tokio-sleep",
        ),
    ] {
        let e = measure_tasks(ev, tasks);
        let t = measure_tasks(tk, tasks);
        let cell = |r: &Result<(f64, usize), String>| match r {
            Ok((b, _)) => format!("{b:.0}"),
            Err(_) => "failed".into(),
        };
        let ratio = match (&e, &t) {
            (Ok((a, _)), Ok((b, _))) if *b > 0.0 => format!("{:.2}×", a / b),
            _ => "n/a".into(),
        };
        let sizes = match (&e, &t) {
            (Ok((_, a)), Ok((_, b))) => format!("{a} B / {b} B"),
            _ => "n/a".into(),
        };
        for r in [&e, &t] {
            if let Err(err) = r {
                eprintln!("memory bench: {err}");
                failed = true;
            }
        }
        let _ = writeln!(
            md,
            "| {what} | {} | {} | {ratio} | {sizes} |",
            cell(&e),
            cell(&t)
        );
        eprintln!(
            "memory bench: {what}: evloop {}, tokio {}",
            cell(&e),
            cell(&t)
        );
        task_rows.push(e.ok().map(|x| x.0));
    }
    let _ = writeln!(md);

    // Per idle connection.
    let names: Vec<&'static str> = SERVERS.iter().map(|s| s.0).collect();
    let problems = example_problems("memory", &d, &names, build);
    let _ = writeln!(
        md,
        "## Server resident memory per idle TCP connection ({} connections, each echoed 1 byte; \
         server VmRSS increase ÷ connections; open-files limit {nofile})\n\n\
         | server | VmRSS before | VmRSS after | B/connection | vs tokio |\n\
         |---|---:|---:|---:|---:|",
        thousands(connections as f64)
    );
    let mut rows: Vec<(&str, u64, u64)> = Vec::new();
    let mut notes = Vec::new();
    for (name, label) in SERVERS {
        if let Some(p) = problems.get(name) {
            notes.push(format!("{label} skipped: {p}"));
            continue;
        }
        eprint!("memory bench: {connections} connections to {label} ... ");
        match measure_connections(&d.examples.join(name), connections) {
            Ok((b, a)) => {
                eprintln!(
                    "{:.0} B/connection",
                    (a as f64 - b as f64) / connections as f64
                );
                rows.push((name, b, a));
            }
            Err(e) => {
                eprintln!("FAILED: {e}");
                notes.push(format!("{label} failed: {e}"));
                failed = true;
            }
        }
        thread::sleep(Duration::from_millis(500));
    }
    let per = |b: u64, a: u64| (a as f64 - b as f64) / connections as f64;
    let tokio = rows
        .iter()
        .find(|r| r.0 == "echo_tokio")
        .map(|r| per(r.1, r.2));
    for (name, b, a) in &rows {
        let label = SERVERS.iter().find(|s| s.0 == *name).map_or("?", |s| s.1);
        let x = per(*b, *a);
        let ratio = tokio.map_or("n/a".into(), |t| format!("{:.2}×", x / t));
        let _ = writeln!(
            md,
            "| {label} | {} KiB | {} KiB | {} | {ratio} |",
            thousands(*b as f64 / 1024.0),
            thousands(*a as f64 / 1024.0),
            thousands(x)
        );
    }
    let _ = writeln!(md);
    let targets = [
        ("pending task", task_rows.first().copied().flatten(), 128.0),
        ("sleeping task", task_rows.get(1).copied().flatten(), 192.0),
    ];
    let _ = writeln!(
        md,
        "## Targets\n\n| target | measured | wanted | |\n|---|---:|---:|---|"
    );
    for (what, v, limit) in targets {
        if let Some(v) = v {
            let _ = writeln!(
                md,
                "| evloop bytes per {what} | {v:.0} | ≤ {limit} | {} |",
                if v <= limit { "met" } else { "**not met**" }
            );
        }
    }
    let _ = writeln!(md);
    if !notes.is_empty() {
        let _ = writeln!(md, "## Notes\n");
        for n in &notes {
            let _ = writeln!(md, "- {n}");
        }
        let _ = writeln!(md);
    }
    print!("{md}");
    let path = d.target.join("memory-bench.md");
    match std::fs::write(&path, &md) {
        Ok(()) => eprintln!("memory bench: wrote {}", path.display()),
        Err(e) => eprintln!("memory bench: cannot write {}: {e}", path.display()),
    }
    if failed {
        std::process::exit(1);
    }
}
