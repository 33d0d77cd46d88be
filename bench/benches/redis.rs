//! Redis on its own benchmark: `redis-benchmark` against evloop's `redis_server`, its tokio twin
//! `redis_tokio` (the same code but for the connection task), and `redis-server` itself.
//!
//! Run it:
//!
//! ```text
//! cargo bench -p evloop-bench --bench redis              # 3 rounds (~4 min)
//! cargo bench -p evloop-bench --bench redis -- --quick   # 1 round of short runs, no callgrind
//! ```
//!
//! For `-P 16` and `-P 1`, each of `PING_INLINE`, `PING_MBULK`, `SET`, `GET`, `LPUSH`, `RPOP` is
//! one `redis-benchmark -c 50 -n N --csv` run, the servers taking turns (evloop, tokio, Redis,
//! evloop, ...) for `--rounds` rounds; the tables give medians and ratios. Each server runs pinned
//! to CPU 0 (`taskset`) and `redis-benchmark` to CPU 1. `redis-server` runs with `--save ""
//! --appendonly no`. Server CPU per request is the server's user + system time (from
//! `/proc/PID/stat`, 10 ms ticks) over the run, divided by N.
//!
//! With `valgrind`, each server also runs under callgrind for all six tests in one
//! `redis-benchmark` invocation (`--callgrind-requests` each), and once idle: the difference over
//! the number of requests is user-space instructions per request. Redis's count includes its
//! `serverCron` (10 times a second) for the longer loaded run, a few thousand instructions per
//! call: it favours the Rust servers slightly.
//!
//! Results: Markdown on stdout and in `target/redis-bench.md`. Flags: `--quick`, `--rounds N`,
//! `--requests N` (per test with `-P 16`; a tenth of it with `-P 1`), `--callgrind-requests N`,
//! `--no-callgrind`, `--no-pin`, `--no-build`, `--callgrind-dir DIR` (keep the profiles).

mod common;

use common::process::{
    callgrind_total, have_taskset, have_valgrind, median, spawn, start_server, startup_limit,
    Server,
};
use common::{cpu_model, dirs, example_problems, first_line};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The servers, in turn order: (key, label). `redis` is `redis-server`, the others examples.
const SERVERS: [(&str, &str); 3] = [
    ("redis_server", "evloop"),
    ("redis_tokio", "tokio twin"),
    ("redis", "Redis"),
];
const TESTS: [(&str, &str); 6] = [
    ("ping_inline", "PING_INLINE"),
    ("ping_mbulk", "PING_MBULK"),
    ("set", "SET"),
    ("get", "GET"),
    ("lpush", "LPUSH"),
    ("rpop", "RPOP"),
];
const PIPELINES: [u32; 2] = [16, 1];
const CLIENTS: &str = "50";
/// How long a server may take to exit on SIGTERM (callgrind writes its profile first).
const STOP_LIMIT: Duration = Duration::from_secs(120);

struct Opts {
    rounds: usize,
    requests: u64,
    callgrind: bool,
    callgrind_requests: u64,
    pin: bool,
    build: bool,
    profiles: Option<PathBuf>,
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        rounds: 3,
        requests: 1_000_000,
        callgrind: true,
        callgrind_requests: 100_000,
        pin: true,
        build: true,
        profiles: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{what} needs a number")))
        };
        match a.as_str() {
            "--quick" => {
                o.rounds = 1;
                o.requests = 200_000;
                o.callgrind = false;
            }
            "--rounds" => o.rounds = num("--rounds").max(1) as usize,
            "--requests" => o.requests = num("--requests").max(1000),
            "--callgrind-requests" => o.callgrind_requests = num("--callgrind-requests").max(100),
            "--no-callgrind" => o.callgrind = false,
            "--no-pin" => o.pin = false,
            "--no-build" => o.build = false,
            "--callgrind-dir" => {
                o.profiles = Some(
                    args.next()
                        .map(PathBuf::from)
                        .unwrap_or_else(|| usage("--callgrind-dir needs a directory")),
                )
            }
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            other => usage(&format!("unknown flag {other}")),
        }
    }
    o
}

fn usage(msg: &str) -> ! {
    eprintln!("redis bench: {msg}\nflags: --quick --rounds N --requests N --callgrind-requests N --no-callgrind --no-pin --no-build --callgrind-dir DIR");
    std::process::exit(2);
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A free port on 127.0.0.1, for `redis-server` (found by binding, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// Starts server `key` (an example, or `redis-server` for `redis`); returns it and its port.
fn start(
    key: &str,
    examples: &Path,
    pin: bool,
    callgrind: Option<&Path>,
) -> Result<(Server, u16), String> {
    if key != "redis" {
        let s = start_server(&examples.join(key), &[], pin, callgrind)?;
        let Some(port) = s.addr.rsplit(':').next().and_then(|p| p.parse().ok()) else {
            s.stop_as("redis", STOP_LIMIT);
            return Err(format!("{key} did not print `listening on`"));
        };
        return Ok((s, port));
    }
    let port = free_port();
    let port_arg = port.to_string();
    let args = [
        "--bind",
        "127.0.0.1",
        "--port",
        &port_arg,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    ];
    let (mut child, stderr) = spawn("redis-server", &args, pin, callgrind)?;
    // Redis logs to stdout; drain it, and wait until it accepts.
    let limit = startup_limit(callgrind);
    let _ = first_line(&mut child, limit);
    let end = Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return Err("redis-server did not start".into());
        }
        thread::sleep(Duration::from_millis(20));
    }
    let addr = format!("127.0.0.1:{port}");
    Ok((
        Server {
            child,
            addr,
            stderr,
        },
        port,
    ))
}

/// User + system CPU time of `server` so far, in seconds.
fn server_cpu(server: &Server) -> f64 {
    let stat =
        std::fs::read_to_string(format!("/proc/{}/stat", server.child.id())).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// One test's figures.
#[derive(Clone, Copy, Default)]
struct Run {
    rps: f64,
    p50: f64,
    p99: f64,
    /// Server CPU µs per request.
    cpu: f64,
}

fn benchmark(port: u16, pin: bool, tests: &str, n: u64, pipeline: u32) -> Result<String, String> {
    let mut words: Vec<String> = Vec::new();
    if pin {
        words.extend(["taskset", "-c", "1"].map(String::from));
    }
    words.push("redis-benchmark".into());
    let port = port.to_string();
    let (n, p) = (n.to_string(), pipeline.to_string());
    for w in [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-c",
        CLIENTS,
        "-n",
        &n,
        "-P",
        &p,
        "-t",
        tests,
        "--csv",
    ] {
        words.push(w.into());
    }
    let out = Command::new(&words[0])
        .args(&words[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run redis-benchmark: {e}"))?;
    if !out.status.success() {
        return Err(format!("redis-benchmark failed: {out:?}"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The CSV row of `test`: requests/s, p50 and p99 in ms.
fn parse_csv(csv: &str, test: &str) -> Option<(f64, f64, f64)> {
    let header: Vec<String> = csv
        .lines()
        .next()?
        .split(',')
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    let row = csv
        .lines()
        .find(|l| l.starts_with(&format!("\"{test}\"")))?;
    let cells: Vec<&str> = row.split(',').map(|c| c.trim_matches('"')).collect();
    let get = |name: &str| -> Option<f64> {
        let i = header.iter().position(|h| h == name)?;
        cells.get(i)?.parse().ok()
    };
    Some((get("rps")?, get("p50_latency_ms")?, get("p99_latency_ms")?))
}

/// Instructions for the whole callgrind run of `key`: idle, or loaded with all six tests.
fn callgrind_run(
    key: &str,
    examples: &Path,
    o: &Opts,
    pipeline: Option<u32>,
    n: u64,
) -> Result<u64, String> {
    let name = match pipeline {
        Some(p) => format!("{key}.P{p}.out"),
        None => format!("{key}.idle.out"),
    };
    let out = match &o.profiles {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            dir.join(name)
        }
        None => PathBuf::from("/dev/null"),
    };
    let (s, port) = start(key, examples, o.pin, Some(&out))?;
    let res = match pipeline {
        Some(p) => benchmark(port, o.pin, "ping,set,get,lpush,rpop", n, p).map(drop),
        None => Ok(()),
    };
    thread::sleep(Duration::from_millis(300));
    let err = s.stop_as("redis", STOP_LIMIT);
    res?;
    callgrind_total(&err).ok_or_else(|| format!("no callgrind total for {key}: {}", err.trim()))
}

fn ratio(x: f64, base: f64) -> String {
    if x.is_finite() && base.is_finite() && base > 0.0 {
        format!("{:.2}", x / base)
    } else {
        "–".into()
    }
}

fn main() {
    let o = parse_opts();
    if !have("redis-benchmark", "--version") {
        eprintln!("redis bench: redis-benchmark is missing (Debian: apt-get install redis-tools)");
        std::process::exit(1);
    }
    let d = dirs();
    let problems = example_problems("redis", &d, &["redis_server", "redis_tokio"], o.build);
    let mut servers: Vec<(&str, &str)> = Vec::new();
    for (key, label) in SERVERS {
        if key == "redis" && !have("redis-server", "--version") {
            eprintln!(
                "redis bench: redis-server is missing (apt-get install redis-server); skipped"
            );
        } else if let Some(p) = problems.get(key) {
            eprintln!("redis bench: {label} skipped: {p}");
        } else {
            servers.push((key, label));
        }
    }
    let pin = o.pin && have_taskset();
    let o = Opts { pin, ..o };
    let cpus = cpu_model().unwrap_or_default();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "redis-benchmark -c {CLIENTS}, -P 16 with -n {} and -P 1 with -n {} per test, {} round(s), \
         medians; servers pinned to CPU 0 and the load to CPU 1: {}; {cpus}, {} CPUs.\n",
        o.requests,
        o.requests / 10,
        o.rounds,
        if o.pin { "yes" } else { "no" },
        thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let mut failed = false;
    // results[(pipeline, test, server)] = runs
    let mut results: HashMap<(u32, &str, &str), Vec<Run>> = HashMap::new();
    for round in 1..=o.rounds {
        for &(key, label) in &servers {
            eprintln!("redis bench: round {round}/{}: {label}", o.rounds);
            let (s, port) = match start(key, &d.examples, o.pin, None) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("redis bench: {e}");
                    failed = true;
                    continue;
                }
            };
            for pipeline in PIPELINES {
                let n = if pipeline == 1 {
                    o.requests / 10
                } else {
                    o.requests
                };
                for (test, name) in TESTS {
                    let before = server_cpu(&s);
                    match benchmark(port, o.pin, test, n, pipeline) {
                        Ok(csv) => {
                            let cpu = (server_cpu(&s) - before) * 1e6 / n as f64;
                            match parse_csv(&csv, name) {
                                Some((rps, p50, p99)) => results
                                    .entry((pipeline, test, key))
                                    .or_default()
                                    .push(Run { rps, p50, p99, cpu }),
                                None => {
                                    eprintln!("redis bench: no {name} row in: {csv}");
                                    failed = true;
                                }
                            }
                        }
                        Err(e) => {
                            eprintln!("redis bench: {label} {name}: {e}");
                            failed = true;
                        }
                    }
                }
            }
            s.stop_as("redis", STOP_LIMIT);
        }
    }
    let med = |p: u32, t: &str, k: &str, f: fn(&Run) -> f64| -> f64 {
        median(
            results
                .get(&(p, t, k))
                .map_or(vec![], |v| v.iter().map(f).collect()),
        )
    };
    for pipeline in PIPELINES {
        let _ = writeln!(md, "#### `-P {pipeline}`\n");
        let _ = writeln!(
            md,
            "| test | req/s evloop | × Redis | × tokio | p50 ms evloop / tokio / Redis | p99 ms evloop / tokio / Redis | server CPU µs/req evloop / tokio / Redis | CPU × Redis | CPU × tokio |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (test, name) in TESTS {
            let get = |k: &str, f: fn(&Run) -> f64| med(pipeline, test, k, f);
            let (e, t, r) = ("redis_server", "redis_tokio", "redis");
            let rps = |k| get(k, |x| x.rps);
            let _ = writeln!(
                md,
                "| {name} | {:.0} | {} | {} | {:.3} / {:.3} / {:.3} | {:.3} / {:.3} / {:.3} | {:.2} / {:.2} / {:.2} | {} | {} |",
                rps(e),
                ratio(rps(e), rps(r)),
                ratio(rps(e), rps(t)),
                get(e, |x| x.p50), get(t, |x| x.p50), get(r, |x| x.p50),
                get(e, |x| x.p99), get(t, |x| x.p99), get(r, |x| x.p99),
                get(e, |x| x.cpu), get(t, |x| x.cpu), get(r, |x| x.cpu),
                ratio(get(e, |x| x.cpu), get(r, |x| x.cpu)),
                ratio(get(e, |x| x.cpu), get(t, |x| x.cpu)),
            );
        }
        let _ = writeln!(md);
    }
    if o.callgrind && have_valgrind() {
        let n = o.callgrind_requests;
        let _ = writeln!(
            md,
            "User-space instructions per request under callgrind (all six tests, {n} requests each, \
             idle run subtracted):\n"
        );
        let _ = writeln!(
            md,
            "| server | `-P 16` | × Redis | × tokio | `-P 1` | × Redis | × tokio |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
        let mut per: HashMap<(&str, u32), f64> = HashMap::new();
        for &(key, label) in &servers {
            eprintln!("redis bench: callgrind: {label}");
            let idle = match callgrind_run(key, &d.examples, &o, None, 0) {
                Ok(i) => i,
                Err(e) => {
                    eprintln!("redis bench: {e}");
                    failed = true;
                    continue;
                }
            };
            for pipeline in PIPELINES {
                let n = if pipeline == 1 { n / 5 } else { n };
                match callgrind_run(key, &d.examples, &o, Some(pipeline), n) {
                    Ok(total) => {
                        let requests = (n * TESTS.len() as u64) as f64;
                        per.insert((key, pipeline), (total as f64 - idle as f64) / requests);
                    }
                    Err(e) => {
                        eprintln!("redis bench: {e}");
                        failed = true;
                    }
                }
            }
        }
        for &(key, label) in &servers {
            let g = |k: &str, p: u32| per.get(&(k, p)).copied().unwrap_or(f64::NAN);
            let _ = writeln!(
                md,
                "| {label} | {:.0} | {} | {} | {:.0} | {} | {} |",
                g(key, 16),
                ratio(g(key, 16), g("redis", 16)),
                ratio(g(key, 16), g("redis_tokio", 16)),
                g(key, 1),
                ratio(g(key, 1), g("redis", 1)),
                ratio(g(key, 1), g("redis_tokio", 1)),
            );
        }
        let _ = writeln!(
            md,
            "\n(`-P 1` under callgrind with a fifth as many requests.)"
        );
    }
    println!("{md}");
    let path = d.target.join("redis-bench.md");
    if let Err(e) = std::fs::write(&path, &md) {
        eprintln!("redis bench: cannot write {}: {e}", path.display());
    }
    if failed {
        std::process::exit(1);
    }
}
