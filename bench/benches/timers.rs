//! Time, end to end, evloop beside tokio current_thread in the same run:
//!
//! 1. **Idle timeouts** (`--part idle`): the echo servers with a 30 s idle timeout on every
//!    connection, re-armed on every message and never firing, against the same servers without
//!    it. evloop's `echo_idle --idle-timeout 30` keeps one `IdleTimeout` per connection; tokio's
//!    `echo_tokio --idle-timeout 30` wraps each read in `tokio::time::timeout` (the common form),
//!    and with `--idle-reset` resets one pinned `Sleep` per read inside `select!` (the form tokio's
//!    docs suggest for loops). Under callgrind, with 1,000 and 10,000 connections open: user-space
//!    instructions per echoed message, as the difference of two runs over the same connections
//!    (one message per connection, and 100,000 more), so that accepting and closing cancel out.
//!    Natively (1,000 connections, alternated rounds): messages per second and server CPU per
//!    message.
//! 2. **Sleep accuracy** (`--part accuracy`): 1,000 sleeps each of 50 µs, 200 µs and 1 ms on each
//!    runtime, in alternated blocks of 100 on one thread; how late each returned (median, p99,
//!    max) and whether any returned early.
//!
//! ```text
//! cargo bench -p evloop-bench --bench timers                      # both parts (~10 min)
//! cargo bench -p evloop-bench --bench timers -- --part accuracy   # a few seconds
//! cargo bench -p evloop-bench --bench timers -- --part idle --conns 1000 --rounds 3
//! ```
//!
//! Flags: `--part idle|accuracy|all`, `--conns 1000,10000` (callgrind), `--messages N` (100,000),
//! `--rounds N` (native rounds, 3), `--duration SECS` (2), `--no-build`, `--no-pin`,
//! `--no-callgrind`. Results: Markdown on stdout and in `target/timers-bench.md`.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use common::process::{callgrind_total, field, have_taskset, have_valgrind, median, run_load};
use common::process::{start_server, Server};
use common::{dirs, example_problems, raise_nofile_limit, thousands};

/// (label, example, extra server arguments): the variants, in the order they take turns.
const VARIANTS: [(&str, &str, &[&str]); 5] = [
    ("evloop echo", "echo", &[]),
    (
        "evloop echo + IdleTimeout",
        "echo_idle",
        &["--idle-timeout", "30"],
    ),
    ("tokio echo", "echo_tokio", &[]),
    (
        "tokio echo + timeout per read",
        "echo_tokio",
        &["--idle-timeout", "30"],
    ),
    (
        "tokio echo + Sleep::reset per read",
        "echo_tokio",
        &["--idle-timeout", "30", "--idle-reset"],
    ),
];

struct Opts {
    idle: bool,
    accuracy: bool,
    conns: Vec<usize>,
    messages: u64,
    rounds: usize,
    duration: f64,
    build: bool,
    pin: bool,
    callgrind: bool,
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        idle: true,
        accuracy: true,
        conns: vec![1000, 10000],
        messages: 100_000,
        rounds: 3,
        duration: 2.0,
        build: true,
        pin: true,
        callgrind: true,
    };
    let mut args = std::env::args().skip(1);
    let usage = |m: &str| -> ! {
        eprintln!("timers bench: {m}\nflags: --part idle|accuracy|all, --conns A,B, --messages N, --rounds N, --duration SECS, --no-build, --no-pin, --no-callgrind");
        std::process::exit(2)
    };
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match a.as_str() {
            "--bench" => {}
            "--part" => match value("--part").as_str() {
                "idle" => (o.idle, o.accuracy) = (true, false),
                "accuracy" => (o.idle, o.accuracy) = (false, true),
                "all" => (o.idle, o.accuracy) = (true, true),
                p => usage(&format!("unknown part {p}")),
            },
            "--conns" => {
                o.conns = value("--conns")
                    .split(',')
                    .map(|c| c.parse().unwrap_or_else(|_| usage("bad --conns")))
                    .collect()
            }
            "--messages" => {
                o.messages = value("--messages")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --messages"))
            }
            "--rounds" => {
                o.rounds = value("--rounds")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --rounds"))
            }
            "--duration" => {
                o.duration = value("--duration")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --duration"))
            }
            "--no-build" => o.build = false,
            "--no-pin" => o.pin = false,
            "--no-callgrind" => o.callgrind = false,
            other => usage(&format!("unknown flag {other}")),
        }
    }
    o
}

fn main() {
    let opts = parse_opts();
    let mut md = String::new();
    if opts.accuracy {
        accuracy(&mut md);
    }
    if opts.idle {
        if let Err(e) = idle(&opts, &mut md) {
            eprintln!("timers bench: {e}");
            std::process::exit(1);
        }
    }
    print!("{md}");
    let out = dirs().target.join("timers-bench.md");
    if std::fs::write(&out, &md).is_ok() {
        eprintln!("timers bench: wrote {}", out.display());
    }
}

// ---- 1. idle timeouts ----

fn idle(opts: &Opts, md: &mut String) -> Result<(), String> {
    let d = dirs();
    let problems = example_problems(
        "timers",
        &d,
        &["echo", "echo_idle", "echo_tokio", "echo_load"],
        opts.build,
    );
    if let Some((n, why)) = problems.iter().next() {
        return Err(format!("{n}: {why}"));
    }
    let nofile = raise_nofile_limit();
    let pin = opts.pin && have_taskset();
    let loadgen = d.examples.join("echo_load");
    let load = |s: &Server, conns: usize, mode: &[String]| {
        let mut args: Vec<String> = [
            "--addr",
            &s.addr,
            "--conns",
            &conns.to_string(),
            "--inflight",
            "1",
            "--size",
            "64",
            "--connect-timeout",
            "300",
        ]
        .map(String::from)
        .to_vec();
        args.extend_from_slice(mode);
        run_load(&loadgen, pin, &args, Duration::from_secs(3600))
    };

    if opts.callgrind && have_valgrind() {
        for &conns in &opts.conns {
            if (nofile as usize) < conns + 64 {
                let _ = writeln!(md, "\n(skipped {conns} connections under callgrind: the open-files limit is {nofile})");
                continue;
            }
            let _ = writeln!(
                md,
                "\n### Idle timeouts under callgrind: {conns} connections open, instructions per echoed message\n\n\
                 `(run with {conns} + {} messages - run with {conns} messages) / {}`, 64-byte ping-pong.\n\n\
                 | server | instructions/msg | idle timeout adds | vs tokio's same form |\n|---|---:|---:|---:|",
                opts.messages, opts.messages
            );
            let mut per = Vec::new();
            for (label, ex, args) in VARIANTS {
                let path = d.examples.join(ex);
                let once = |msgs: u64| -> Result<u64, String> {
                    let s = start_server(&path, args, pin, Some(Path::new("/dev/null")))?;
                    // Thousands of connections at once overflow the backlog of a server slowed
                    // down by callgrind: open them 2 ms apart (every server alike).
                    let pace = if conns > 2000 { "0.002" } else { "0" };
                    let r = load(
                        &s,
                        conns,
                        &[
                            "--messages".into(),
                            msgs.to_string(),
                            "--connect-pace".into(),
                            pace.into(),
                        ],
                    );
                    std::thread::sleep(Duration::from_millis(300));
                    let err = s.stop();
                    r?;
                    callgrind_total(&err).ok_or_else(|| format!("no callgrind total from {label}"))
                };
                // A run whose connections the kernel reset anyway is retried.
                let run = |msgs: u64| -> Result<u64, String> {
                    let mut last = String::new();
                    for attempt in 1..=3 {
                        match once(msgs) {
                            Ok(total) => return Ok(total),
                            Err(e) => {
                                eprintln!(
                                    "timers bench: {label}, {conns} conns, attempt {attempt}: {e}"
                                );
                                last = e;
                            }
                        }
                    }
                    Err(last)
                };
                let base = run(conns as u64)?;
                let loaded = run(conns as u64 + opts.messages)?;
                let x = (loaded as f64 - base as f64) / opts.messages as f64;
                eprintln!("timers bench: {label}, {conns} conns: {x:.1} instructions/msg");
                per.push(x);
            }
            for (i, (label, _, _)) in VARIANTS.iter().enumerate() {
                let plain = if i < 2 { per[0] } else { per[2] };
                let tokio_same = match i {
                    0 => per[2],
                    1 => per[3],
                    _ => per[i],
                };
                let _ = writeln!(
                    md,
                    "| {label} | {:.1} | {} | {:.2}× |",
                    per[i],
                    if i == 0 || i == 2 {
                        "—".into()
                    } else {
                        format!("+{:.1}", per[i] - plain)
                    },
                    per[i] / tokio_same
                );
            }
        }
    }

    // Natively: alternated rounds at the first connection count.
    let conns = opts
        .conns
        .first()
        .copied()
        .unwrap_or(1000)
        .min(nofile as usize / 2);
    let mut rate = vec![Vec::new(); VARIANTS.len()];
    let mut cpu = vec![Vec::new(); VARIANTS.len()];
    for round in 0..opts.rounds {
        for (i, (label, ex, args)) in VARIANTS.iter().enumerate() {
            let s = start_server(&d.examples.join(ex), args, pin, None)?;
            let pid = s.child.id().to_string();
            let r = load(
                &s,
                conns,
                &[
                    "--warmup".into(),
                    "0.5".into(),
                    "--duration".into(),
                    opts.duration.to_string(),
                    "--server-pid".into(),
                    pid,
                ],
            );
            s.stop();
            let r = r?;
            eprintln!(
                "timers bench: round {}, {label}: {} msgs/s",
                round + 1,
                thousands(field(&r, "msgs_per_sec"))
            );
            rate[i].push(field(&r, "msgs_per_sec"));
            cpu[i].push(field(&r, "server_cpu_us_per_msg"));
        }
    }
    let _ = writeln!(
        md,
        "\n### Idle timeouts natively: {conns} connections, 64-byte ping-pong, median of {} alternated rounds\n\n\
         Server pinned to CPU 0, load generator to CPU 1{}.\n\n| server | msgs/s | server CPU µs/msg |\n|---|---:|---:|",
        opts.rounds,
        if pin { "" } else { " (not pinned: no taskset or one CPU)" }
    );
    for (i, (label, _, _)) in VARIANTS.iter().enumerate() {
        let _ = writeln!(
            md,
            "| {label} | {} | {:.2} |",
            thousands(median(rate[i].clone())),
            median(cpu[i].clone())
        );
    }
    Ok(())
}

// ---- 2. sleep accuracy ----

const SLEEPS: usize = 1000;
const BLOCK: usize = 100;

fn accuracy(md: &mut String) {
    let _ = writeln!(
        md,
        "\n### Sleep accuracy: how late `sleep(d)` returns, {SLEEPS} sleeps per row, alternated blocks of {BLOCK}\n\n\
         | d | runtime | median late | p99 late | max late | early |\n|---:|---|---:|---:|---:|---:|"
    );
    let lp = evloop::EventLoop::new().expect("loop");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    for d in [
        Duration::from_micros(50),
        Duration::from_micros(200),
        Duration::from_millis(1),
    ] {
        let (mut ev, mut tk) = (Vec::new(), Vec::new());
        for _ in 0..SLEEPS / BLOCK {
            ev.extend(lp.block_on(async {
                let mut v = Vec::with_capacity(BLOCK);
                for _ in 0..BLOCK {
                    let t = Instant::now();
                    evloop::time::sleep(d).await;
                    v.push(t.elapsed());
                }
                v
            }));
            tk.extend(rt.block_on(async {
                let mut v = Vec::with_capacity(BLOCK);
                for _ in 0..BLOCK {
                    let t = Instant::now();
                    tokio::time::sleep(d).await;
                    v.push(t.elapsed());
                }
                v
            }));
        }
        for (name, mut v) in [("evloop", ev), ("tokio current_thread", tk)] {
            v.sort();
            let early = v.iter().filter(|x| **x < d).count();
            let late = |q: f64| v[((v.len() - 1) as f64 * q) as usize].saturating_sub(d);
            let _ = writeln!(
                md,
                "| {d:?} | {name} | {:.0} µs | {:.0} µs | {:.0} µs | {early} |",
                late(0.5).as_secs_f64() * 1e6,
                late(0.99).as_secs_f64() * 1e6,
                late(1.0).as_secs_f64() * 1e6,
            );
        }
    }
}
