//! End-to-end HTTP benchmark: the hyper server of `examples/http.rs` on evloop against the same
//! server on tokio's current_thread runtime (`examples/http_tokio.rs` of this crate), each a
//! separate process, loaded by real HTTP load generators: `wrk` for HTTP/1.1, `h2load` for
//! HTTP/2.
//!
//! Run it:
//!
//! ```text
//! cargo bench -p evloop-bench --bench http                # 3 rounds, 1 s warm-up + 3 s per run
//! cargo bench -p evloop-bench --bench http -- --quick     # 1 round of short runs
//! cargo bench -p evloop-bench --bench http -- --scenarios 1,5 --rounds 5
//! ```
//!
//! It first builds the two servers (`cargo build --release --features evloop/hyper -p evloop
//! --example http -p evloop-bench --example http_tokio`, with the `cargo` that started it, into
//! the same target directory; `--no-build` skips that). `wrk` and `h2load` are installed from
//! Debian's packages (`wrk`, `nghttp2-client`) with `apt-get` when missing and this runs as root;
//! otherwise the scenarios that need them are skipped with a note.
//!
//! For each scenario the servers take turns (A B A B ...) for `--rounds` rounds, each pinned to
//! CPU 0 and the load generator to CPU 1 (with `taskset`, when there are two CPUs); the tables
//! give each server's median. Requests per second and the 99th percentile latency are the load
//! generator's; server CPU is the server's run time over the measured run (from
//! `/proc/PID/schedstat`) divided by the requests completed, and server user CPU is its user time
//! (`/proc/PID/stat`, sampled by the kernel at each tick: coarse).
//!
//! When `valgrind` is installed it also counts user-space instructions per request: each server
//! runs under callgrind for a fixed number of keep-alive HTTP/1.1 requests (`h2load --h1 -n N -c
//! 16`), for the same number over HTTP/2 (`h2load -n N -c 4 -m 16`), and once with no load; the
//! difference divided by N is the request's cost.
//!
//! Results: Markdown on stdout and in `target/http-bench.md`. Exit status 1 if a run failed.
//!
//! Flags: `--quick`, `--rounds N`, `--warmup SECS`, `--duration SECS`, `--scenarios 1,2`,
//! `--no-build`, `--no-pin`, `--no-callgrind`, `--callgrind-requests N`.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::flags::Flags;
use common::process::{callgrind_total, have_taskset, have_valgrind, median, start_server, Server};
use common::{cpu_model, dirs, example_problems_with, raise_nofile_limit, thousands};

/// The servers, in the order they take turns: (example name, label).
const SERVERS: [(&str, &str); 2] = [("http", "evloop"), ("http_tokio", "tokio current_thread")];
const REFERENCE: &str = "http_tokio";
/// How long a server may take to exit on SIGTERM (callgrind writes its profile first).
const STOP_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq)]
enum Tool {
    Wrk,
    H2load,
}

struct Scenario {
    name: &'static str,
    tool: Tool,
    conns: usize,
    /// HTTP/2 streams in flight per connection.
    streams: usize,
    path: &'static str,
    close: bool,
}

const SCENARIOS: [Scenario; 5] = [
    Scenario {
        name: "HTTP/1.1 keep-alive, 64 connections, hello world",
        tool: Tool::Wrk,
        conns: 64,
        streams: 1,
        path: "/",
        close: false,
    },
    Scenario {
        name: "HTTP/1.1 keep-alive, 256 connections, hello world",
        tool: Tool::Wrk,
        conns: 256,
        streams: 1,
        path: "/",
        close: false,
    },
    Scenario {
        name: "HTTP/1.1 keep-alive, 64 connections, 16 KiB body",
        tool: Tool::Wrk,
        conns: 64,
        streams: 1,
        path: "/16k",
        close: false,
    },
    Scenario {
        name: "HTTP/1.1 `Connection: close`, 64 connections, hello world",
        tool: Tool::Wrk,
        conns: 64,
        streams: 1,
        path: "/",
        close: true,
    },
    Scenario {
        name: "HTTP/2, 16 connections × 16 streams, hello world",
        tool: Tool::H2load,
        conns: 16,
        streams: 16,
        path: "/",
        close: false,
    },
];

struct Opts {
    rounds: usize,
    warmup: f64,
    duration: f64,
    scenarios: Vec<usize>,
    build: bool,
    pin: bool,
    callgrind: bool,
    callgrind_requests: u64,
}

fn usage_error(msg: &str) -> ! {
    eprintln!("http bench: {msg}");
    std::process::exit(2);
}

fn parse_opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        rounds: if quick { 1 } else { 3 },
        warmup: if quick { 0.3 } else { 1.0 },
        duration: if quick { 1.0 } else { 3.0 },
        scenarios: (1..=SCENARIOS.len()).collect(),
        build: true,
        pin: true,
        callgrind: true,
        callgrind_requests: if quick { 5_000 } else { 20_000 },
    };
    let mut flags = Flags::new(args, usage_error);
    while let Some(a) = flags.next_flag() {
        match a.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" | "--quick" => {}
            "--no-build" => o.build = false,
            "--no-pin" => o.pin = false,
            "--no-callgrind" => o.callgrind = false,
            "--rounds" => o.rounds = flags.num(&a),
            "--warmup" => o.warmup = flags.num(&a),
            "--duration" => o.duration = flags.num(&a),
            "--callgrind-requests" => o.callgrind_requests = flags.num(&a),
            "--scenarios" => {
                let v = flags.value(&a);
                o.scenarios = v.split(',').map(|s| flags.parse(&a, s)).collect();
                if o.scenarios.iter().any(|&i| i == 0 || i > SCENARIOS.len()) {
                    usage_error(&format!("scenarios are numbered 1 to {}", SCENARIOS.len()));
                }
            }
            other => usage_error(&format!("unexpected argument `{other}`")),
        }
    }
    if o.rounds == 0 || o.callgrind_requests == 0 {
        usage_error("--rounds and --callgrind-requests must be at least 1");
    }
    o
}

fn works(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// `tool` is on the PATH, or was just installed from Debian's `package` (as root only).
fn ensure_tool(tool: &str, package: &str) -> bool {
    if works(tool, "--version") {
        return true;
    }
    // SAFETY: `geteuid` has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !works("apt-get", "--version") {
        eprintln!("http bench: `{tool}` is missing (Debian package `{package}`); not root, so not installing it");
        return false;
    }
    eprintln!("http bench: installing `{package}` for `{tool}`");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "-qq", package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        // The package lists may be missing on a fresh machine.
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
    }
    works(tool, "--version")
}

/// A command line, pinned to `cpu` when pinning.
fn pinned(pin: bool, cpu: &str, words: &[String]) -> Command {
    let mut cmd;
    if pin {
        cmd = Command::new("taskset");
        cmd.args(["-c", cpu]).args(words);
    } else {
        cmd = Command::new(&words[0]);
        cmd.args(&words[1..]);
    }
    cmd
}

/// The server's run time in ns (schedstat) and user ticks (stat).
fn server_cpu(server: &Server) -> (u64, u64) {
    let pid = server.child.id();
    let run = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let user = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().nth(11)?.parse().ok()
        })
        .unwrap_or(0);
    (run, user)
}

fn clock_ticks() -> f64 {
    // SAFETY: `sysconf` has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

#[derive(Clone, Copy, Default)]
struct Metrics {
    rps: f64,
    p99_us: f64,
    cpu_us: f64,
    user_us: f64,
}

/// Runs the load generator against `addr` for `secs`; returns (requests completed, req/s, p99 µs).
fn load(sc: &Scenario, addr: &str, secs: f64, pin: bool) -> Result<(f64, f64, f64), String> {
    let url = format!("http://{addr}{}", sc.path);
    let out = match sc.tool {
        Tool::Wrk => {
            let mut words: Vec<String> = ["wrk", "-t1", "--latency"].map(String::from).to_vec();
            words.push(format!("-c{}", sc.conns));
            words.push(format!("-d{}s", secs.ceil().max(1.0) as u64));
            if sc.close {
                words.extend(["-H".into(), "Connection: close".into()]);
            }
            words.push(url);
            pinned(pin, "1", &words).output()
        }
        Tool::H2load => {
            let log = std::env::temp_dir().join(format!("http-bench-{}.log", std::process::id()));
            let mut words: Vec<String> = ["h2load"].map(String::from).to_vec();
            words.extend([
                format!("-c{}", sc.conns),
                format!("-m{}", sc.streams),
                format!("-D{}", secs.ceil().max(1.0) as u64),
                format!("--log-file={}", log.display()),
                url,
            ]);
            let out = pinned(pin, "1", &words).output();
            let lat = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            return out
                .map_err(|e| format!("h2load: {e}"))
                .and_then(|o| parse_h2load(&String::from_utf8_lossy(&o.stdout), &lat, secs));
        }
    };
    let out = out.map_err(|e| format!("wrk: {e}"))?;
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

/// `wrk --latency` output: requests, Requests/sec, the 99% line.
fn parse_wrk(text: &str) -> Result<(f64, f64, f64), String> {
    let mut requests = None;
    let mut rps = None;
    let mut p99 = None;
    let mut errors = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.contains("requests in") {
            requests = words.first().and_then(|w| w.parse::<f64>().ok());
        } else if words.first() == Some(&"Requests/sec:") {
            rps = words.get(1).and_then(|w| w.parse::<f64>().ok());
        } else if words.first() == Some(&"99%") {
            p99 = words.get(1).and_then(|w| duration_us(w));
        } else if line.contains("Non-2xx") || line.contains("Socket errors") {
            errors |= !line.contains("connect 0, read 0, write 0, timeout 0");
        }
    }
    if errors {
        return Err(format!("wrk reported errors:\n{text}"));
    }
    match (requests, rps, p99) {
        (Some(n), Some(r), Some(p)) if n > 0.0 => Ok((n, r, p)),
        _ => Err(format!("unexpected wrk output:\n{text}")),
    }
}

/// `1.23ms`, `456.78us`, `1.2s` in µs.
fn duration_us(w: &str) -> Option<f64> {
    let (num, unit) = w.split_at(w.find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v,
        "ms" => v * 1e3,
        "s" => v * 1e6,
        _ => return None,
    })
}

/// h2load's summary (requests succeeded) and its per-request log (the third column: µs until the
/// end of the response), from which the p99 is taken.
fn parse_h2load(text: &str, log: &str, secs: f64) -> Result<(f64, f64, f64), String> {
    let line = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .ok_or_else(|| format!("unexpected h2load output:\n{text}"))?;
    let field = |name: &str| -> Option<f64> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let i = words.iter().position(|w| w.trim_end_matches(',') == name)?;
        words.get(i.checked_sub(1)?)?.parse().ok()
    };
    let ok = field("succeeded").unwrap_or(0.0);
    let failed = field("failed").unwrap_or(0.0) + field("errored").unwrap_or(0.0);
    if ok <= 0.0 || failed > 0.0 {
        return Err(format!("h2load: {line}"));
    }
    let mut lat: Vec<f64> = log
        .lines()
        .filter_map(|l| l.split('\t').nth(2)?.trim().parse().ok())
        .collect();
    lat.sort_by(f64::total_cmp);
    let p99 = lat
        .get(((lat.len() as f64) * 0.99) as usize)
        .copied()
        .unwrap_or(f64::NAN);
    Ok((ok, ok / secs, p99))
}

fn measure(sc: &Scenario, path: &Path, o: &Opts, pin: bool) -> Result<Metrics, String> {
    let server = start_server(path, &[], pin, None)?;
    let result = (|| {
        if o.warmup > 0.0 {
            load(sc, &server.addr, o.warmup, pin)?;
        }
        let (run0, user0) = server_cpu(&server);
        let (requests, rps, p99) = load(sc, &server.addr, o.duration, pin)?;
        let (run1, user1) = server_cpu(&server);
        Ok(Metrics {
            rps,
            p99_us: p99,
            cpu_us: (run1 - run0) as f64 / 1e3 / requests,
            user_us: (user1 - user0) as f64 / clock_ticks() * 1e6 / requests,
        })
    })();
    server.stop_as("http", STOP_LIMIT);
    result
}

/// Instructions of one callgrind run: `requests` requests by h2load (HTTP/1.1 or HTTP/2), or none.
fn callgrind_run(path: &Path, pin: bool, requests: u64, h2: bool) -> Result<u64, String> {
    let server = start_server(path, &[], pin, Some(Path::new("/dev/null")))?;
    let res = if requests > 0 {
        let mut words: Vec<String> = vec!["h2load".into(), format!("-n{requests}")];
        if h2 {
            words.extend(["-c4".into(), "-m16".into()]);
        } else {
            words.extend(["--h1".into(), "-c16".into()]);
        }
        words.push(format!("http://{}/", server.addr));
        match pinned(pin, "1", &words).output() {
            Ok(out) => parse_h2load(&String::from_utf8_lossy(&out.stdout), "", 1.0).map(|_| ()),
            Err(e) => Err(format!("h2load: {e}")),
        }
    } else {
        Ok(())
    };
    // Let the closed connections settle before the signal.
    thread::sleep(Duration::from_millis(300));
    let err = server.stop_as("http", STOP_LIMIT);
    res?;
    callgrind_total(&err).ok_or_else(|| format!("no callgrind total in: {}", err.trim()))
}

fn main() {
    let o = parse_opts();
    let d = dirs();
    raise_nofile_limit();
    let names: Vec<&'static str> = SERVERS.iter().map(|s| s.0).collect();
    let problems = example_problems_with("http", &d, &names, o.build, &["evloop/hyper"]);
    for (n, p) in &problems {
        eprintln!("http bench: skipping {n}: {p}");
    }
    let servers: Vec<(&str, &str)> = SERVERS
        .iter()
        .copied()
        .filter(|s| !problems.contains_key(s.0))
        .collect();
    let have_wrk = ensure_tool("wrk", "wrk");
    let have_h2load = ensure_tool("h2load", "nghttp2-client");
    let pin = o.pin && have_taskset();
    let mut failed = false;
    let mut md = String::new();
    let cpu = cpu_model().unwrap_or_else(|| "unknown CPU".into());
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let _ = writeln!(
        md,
        "# HTTP benchmark\n\n{} round(s), {} s warm-up + {} s measured per run, servers taking turns; \
         median of the rounds. Server pinned to CPU 0 and load generator to CPU 1: {}. {cpu}, {cpus} \
         CPUs. Ratios in parentheses are to tokio current_thread (for req/s higher is better, for the \
         rest lower is better).\n",
        o.rounds,
        o.warmup,
        o.duration,
        if pin { "yes" } else { "no" },
    );
    for &i in &o.scenarios {
        let sc = &SCENARIOS[i - 1];
        let usable = match sc.tool {
            Tool::Wrk => have_wrk,
            Tool::H2load => have_h2load,
        };
        if !usable {
            let _ = writeln!(md, "## {i}. {}\n\nskipped: no load generator\n", sc.name);
            continue;
        }
        let mut runs: Vec<Vec<Metrics>> = vec![Vec::new(); servers.len()];
        for round in 1..=o.rounds {
            for (k, (name, label)) in servers.iter().enumerate() {
                match measure(sc, &d.examples.join(name), &o, pin) {
                    Ok(m) => {
                        eprintln!(
                            "http bench: {i}. round {round}/{} {label:<22} {:>9} req/s  p99 {:>8.1} us  \
                             cpu {:.2} us/req (user {:.2})",
                            o.rounds,
                            thousands(m.rps),
                            m.p99_us,
                            m.cpu_us,
                            m.user_us
                        );
                        runs[k].push(m);
                    }
                    Err(e) => {
                        eprintln!("http bench: {label}, scenario {i}: {e}");
                        failed = true;
                    }
                }
            }
        }
        let med: Vec<Metrics> = runs
            .iter()
            .map(|r| Metrics {
                rps: median(r.iter().map(|m| m.rps).collect()),
                p99_us: median(r.iter().map(|m| m.p99_us).collect()),
                cpu_us: median(r.iter().map(|m| m.cpu_us).collect()),
                user_us: median(r.iter().map(|m| m.user_us).collect()),
            })
            .collect();
        let reference = servers
            .iter()
            .position(|s| s.0 == REFERENCE)
            .map(|k| med[k]);
        let ratio = |x: f64, r: Option<f64>| match r {
            Some(r) if r > 0.0 && x.is_finite() => format!(" ({:.2}×)", x / r),
            _ => String::new(),
        };
        let _ = writeln!(
            md,
            "## {i}. {}\n\n| server | req/s | p99 µs | server CPU µs/req | server user µs/req |\n|---|---:|---:|---:|---:|",
            sc.name
        );
        for (k, (_, label)) in servers.iter().enumerate() {
            let m = med[k];
            let _ = writeln!(
                md,
                "| {label} | {}{} | {:.0}{} | {:.2}{} | {:.2}{} |",
                thousands(m.rps),
                ratio(m.rps, reference.map(|r| r.rps)),
                m.p99_us,
                ratio(m.p99_us, reference.map(|r| r.p99_us)),
                m.cpu_us,
                ratio(m.cpu_us, reference.map(|r| r.cpu_us)),
                m.user_us,
                ratio(m.user_us, reference.map(|r| r.user_us)),
            );
        }
        md.push('\n');
    }
    if o.callgrind && have_valgrind() && have_h2load {
        let n = o.callgrind_requests;
        let _ = writeln!(
            md,
            "## User-space instructions per request (callgrind, idle run subtracted)\n\n\
             {n} requests of `/` by h2load: HTTP/1.1 keep-alive over 16 connections (`--h1 -c16`), \
             HTTP/2 over 4 connections × 16 streams (`-c4 -m16`).\n\n\
             | server | HTTP/1.1 | HTTP/2 |\n|---|---:|---:|"
        );
        let mut per: Vec<(f64, f64)> = Vec::new();
        for (name, label) in &servers {
            let path = d.examples.join(name);
            let r = (|| {
                let idle = callgrind_run(&path, pin, 0, false)? as f64;
                let h1 = callgrind_run(&path, pin, n, false)? as f64;
                let h2 = callgrind_run(&path, pin, n, true)? as f64;
                Ok::<_, String>(((h1 - idle) / n as f64, (h2 - idle) / n as f64))
            })();
            match r {
                Ok(v) => {
                    eprintln!("http bench: callgrind {label}: {:.0} (HTTP/1.1), {:.0} (HTTP/2) instructions per request", v.0, v.1);
                    per.push(v);
                }
                Err(e) => {
                    eprintln!("http bench: callgrind {label}: {e}");
                    failed = true;
                    per.push((f64::NAN, f64::NAN));
                }
            }
        }
        let reference = servers
            .iter()
            .position(|s| s.0 == REFERENCE)
            .map(|k| per[k]);
        for (k, (_, label)) in servers.iter().enumerate() {
            let (h1, h2) = per[k];
            let r = |x: f64, rf: Option<f64>| match rf {
                Some(rf) if rf > 0.0 && x.is_finite() => format!(" ({:.2}×)", x / rf),
                _ => String::new(),
            };
            let _ = writeln!(
                md,
                "| {label} | {}{} | {}{} |",
                thousands(h1),
                r(h1, reference.map(|x| x.0)),
                thousands(h2),
                r(h2, reference.map(|x| x.1)),
            );
        }
        md.push('\n');
    }
    println!("{md}");
    let path = d.target.join("http-bench.md");
    match std::fs::write(&path, &md) {
        Ok(()) => eprintln!("http bench: wrote {}", path.display()),
        Err(e) => eprintln!("http bench: cannot write {}: {e}", path.display()),
    }
    if failed {
        std::process::exit(1);
    }
}
