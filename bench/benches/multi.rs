//! Many cores: the multi-loop echo server (`echo_multi`, a `LoopSet` on reuse-port listeners) with 1, 2, ... N loops, beside tokio's multi-thread runtime and N tokio current_thread runtimes on reuse-port listeners (`echo_tokio_multi`); msgs/s and server CPU per message per loop count.
//!
//! ```text
//! cargo bench -p evloop-bench --bench multi -- --server-cpus 0-3 --load-cpus 4-7
//! ```
//!
//! Each server runs under `taskset` on the first K CPUs of `--server-cpus` with K loops (threads);
//! one `echo_load` process per CPU of `--load-cpus`, pinned there, shares the connections and
//! checks every byte. The server's CPU time is the sum over all its threads of
//! `/proc/PID/task/TID/schedstat`, read inside the load generators' measured window, so server
//! CPU per message is (server CPU time) / (messages echoed) over the same stretch. The load
//! generators' own CPU use is reported too: on a small machine they compete with the server.
//!
//! Options: `--server-cpus LIST` and `--load-cpus LIST` (`0,2-3` style; default: every CPU but
//! the last for the server, the last for the load), `--loops 1,2,4` (default 1 to the number of
//! server CPUs), `--servers evloop,tokio-mt,tokio-pc`, `--conns N` (256), `--inflight K` (4),
//! `--size BYTES` (64), `--warmup SECS` (1), `--duration SECS` (3), `--rounds N` (3: the servers
//! take turns, the table shows medians), `--no-build`. Writes the table to
//! `target/multi-bench.md` as well.

mod common;

use common::wait_timeout;
use common::{
    cpu_model, dirs, example_problems, first_line, listening_addr, raise_nofile_limit, signal,
};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const LOADGEN: &str = "echo_load";

/// The servers compared: a short name, a label, the example, and its arguments for K loops.
struct Kind {
    name: &'static str,
    label: &'static str,
    example: &'static str,
    args: fn(usize) -> Vec<String>,
}

const KINDS: [Kind; 3] = [
    Kind {
        name: "evloop",
        label: "evloop `echo_multi` (LoopSet)",
        example: "echo_multi",
        args: |k| vec!["--loops".into(), k.to_string()],
    },
    Kind {
        name: "tokio-pc",
        label: "tokio current_thread × K, reuse-port",
        example: "echo_tokio_multi",
        args: |k| {
            ["--flavor", "per-core", "--threads", &k.to_string()]
                .map(String::from)
                .to_vec()
        },
    },
    Kind {
        name: "tokio-mt",
        label: "tokio multi-thread, K workers",
        example: "echo_tokio_multi",
        args: |k| {
            ["--flavor", "multi-thread", "--threads", &k.to_string()]
                .map(String::from)
                .to_vec()
        },
    },
];

struct Opts {
    server_cpus: Vec<usize>,
    load_cpus: Vec<usize>,
    loops: Vec<usize>,
    servers: Vec<&'static Kind>,
    conns: usize,
    inflight: usize,
    size: usize,
    warmup: f64,
    duration: f64,
    rounds: usize,
    build: bool,
}

fn fail(msg: &str) -> ! {
    eprintln!("multi bench: {msg}");
    std::process::exit(2);
}

/// `0,2-3` → [0, 2, 3].
fn cpu_list(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        match (a.parse::<usize>(), b.parse::<usize>()) {
            (Ok(a), Ok(b)) if a <= b => out.extend(a..=b),
            _ => fail(&format!("`{s}` is not a CPU list such as 0,2-3")),
        }
    }
    out
}

fn parse_opts() -> Opts {
    let cpus = evloop::loop_set::available_cpus().unwrap_or_else(|_| vec![0]);
    let (default_server, default_load) = match cpus.split_last() {
        Some((last, rest)) if !rest.is_empty() => (rest.to_vec(), vec![*last]),
        _ => (cpus.clone(), cpus.clone()),
    };
    let mut o = Opts {
        server_cpus: default_server,
        load_cpus: default_load,
        loops: Vec::new(),
        servers: KINDS.iter().collect(),
        conns: 256,
        inflight: 4,
        size: 64,
        warmup: 1.0,
        duration: 3.0,
        rounds: 3,
        build: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| fail(&format!("{a} needs a value")))
        };
        let num = |v: String| -> f64 { v.parse().unwrap_or_else(|_| fail(&format!("{a}: `{v}`"))) };
        match a.as_str() {
            "--server-cpus" => o.server_cpus = cpu_list(&value()),
            "--load-cpus" => o.load_cpus = cpu_list(&value()),
            "--loops" => o.loops = cpu_list(&value()),
            "--servers" => {
                o.servers = value()
                    .split(',')
                    .map(|n| {
                        KINDS
                            .iter()
                            .find(|k| k.name == n)
                            .unwrap_or_else(|| fail(&format!("no server `{n}`")))
                    })
                    .collect()
            }
            "--conns" => o.conns = num(value()) as usize,
            "--inflight" => o.inflight = num(value()) as usize,
            "--size" => o.size = num(value()) as usize,
            "--warmup" => o.warmup = num(value()),
            "--duration" => o.duration = num(value()),
            "--rounds" => o.rounds = num(value()) as usize,
            "--no-build" => o.build = false,
            // What `cargo bench` passes to every bench.
            "--bench" => {}
            _ => fail(&format!("unknown option `{a}`")),
        }
    }
    if o.server_cpus.is_empty() || o.load_cpus.is_empty() {
        fail("--server-cpus and --load-cpus must name at least one CPU");
    }
    if o.loops.is_empty() {
        o.loops = (1..=o.server_cpus.len()).collect();
    }
    if o.loops.contains(&0) || o.duration <= 0.5 || o.rounds == 0 {
        fail("--loops must be positive, --duration above 0.5 s, --rounds at least 1");
    }
    o
}

fn csv(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

struct Server {
    child: Child,
    addr: String,
}

fn start(path: &Path, cpus: &[usize], args: &[String]) -> Result<Server, String> {
    let mut child = Command::new("taskset")
        .args(["-c", &csv(cpus)])
        .arg(path)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
    let line = first_line(&mut child, Duration::from_secs(10));
    match line.as_deref().and_then(listening_addr) {
        Some(addr) => Ok(Server { child, addr }),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("{} did not print `listening on`", path.display()))
        }
    }
}

impl Server {
    fn stop(mut self) {
        signal(&self.child, libc::SIGTERM);
        if wait_timeout(&mut self.child, Duration::from_secs(30)).is_none() {
            eprintln!("multi bench: server did not exit on SIGTERM; killed");
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// The CPU time of all its threads so far, in nanoseconds (`/proc/PID/task/*/schedstat`).
    fn cpu_ns(&self) -> u64 {
        let dir = format!("/proc/{}/task", self.child.id());
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }
}

#[derive(Clone, Copy, Default)]
struct Metrics {
    rate: f64,
    /// Server CPU per message, µs.
    cpu: f64,
    /// Cores the server kept busy, and the load generators.
    server_cores: f64,
    load_cores: f64,
}

/// One measurement: the load generators (one per load CPU) against `server`.
fn measure(o: &Opts, loadgen: &Path, server: &Server) -> Result<Metrics, String> {
    let n = o.load_cpus.len();
    let spawn = |i: usize| -> Result<(Child, mpsc::Receiver<String>), String> {
        let conns = (o.conns / n + usize::from(i < o.conns % n)).max(1);
        let mut child = Command::new("taskset")
            .args(["-c", &o.load_cpus[i].to_string()])
            .arg(loadgen)
            .args(["--addr", &server.addr, "--quiet"])
            .args(["--conns", &conns.to_string()])
            .args(["--inflight", &o.inflight.to_string()])
            .args(["--size", &o.size.to_string()])
            .args(["--warmup", &o.warmup.to_string()])
            .args(["--duration", &o.duration.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the load generator: {e}"))?;
        let mut out = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        Ok((child, rx))
    };
    let started = Instant::now();
    let loads = (0..n).map(spawn).collect::<Result<Vec<_>, _>>()?;
    // Inside the generators' measured window: after their warm-up (and connection set-up), and
    // ending before they stop sending.
    let margin = 0.2;
    let at = |secs: f64| started + Duration::from_secs_f64(secs);
    thread::sleep(at(o.warmup + margin).saturating_duration_since(Instant::now()));
    let (t0, c0) = (Instant::now(), server.cpu_ns());
    thread::sleep(at(o.warmup + o.duration - margin).saturating_duration_since(Instant::now()));
    let (t1, c1) = (Instant::now(), server.cpu_ns());
    let mut rate = 0.0;
    let mut load_cores = 0.0;
    for (mut child, out) in loads {
        let status = wait_timeout(&mut child, Duration::from_secs(60));
        let out = out.recv().unwrap_or_default();
        if !matches!(status, Some(s) if s.success()) {
            return Err(format!("a load generator failed: {out}"));
        }
        let r: HashMap<&str, f64> = out
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .ok_or("no RESULT line from a load generator")?
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
            .collect();
        let this = r.get("msgs_per_sec").copied().unwrap_or(f64::NAN);
        rate += this;
        load_cores += this * r.get("loadgen_cpu_us_per_msg").copied().unwrap_or(f64::NAN) / 1e6;
    }
    let server_cores = (c1 - c0) as f64 / 1e9 / (t1 - t0).as_secs_f64();
    Ok(Metrics {
        rate,
        cpu: server_cores * 1e6 / rate,
        server_cores,
        load_cores,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn main() {
    let o = parse_opts();
    let d = dirs();
    raise_nofile_limit();
    let mut wanted = vec![LOADGEN];
    for k in &o.servers {
        if !wanted.contains(&k.example) {
            wanted.push(k.example);
        }
    }
    let problems = example_problems("multi", &d, &wanted, o.build);
    if !problems.is_empty() {
        fail(&format!("cannot build what it needs: {problems:?}"));
    }
    let loadgen = d.examples.join(LOADGEN);
    // results[(kind, loops)] = one Metrics per round
    let mut results: HashMap<(&str, usize), Vec<Metrics>> = HashMap::new();
    for round in 0..o.rounds {
        for &k in &o.loops {
            for kind in &o.servers {
                let cpus: Vec<usize> = (0..k)
                    .map(|i| o.server_cpus[i % o.server_cpus.len()])
                    .collect();
                let server = match start(&d.examples.join(kind.example), &cpus, &(kind.args)(k)) {
                    Ok(s) => s,
                    Err(e) => fail(&e),
                };
                let m = measure(&o, &loadgen, &server);
                server.stop();
                let m = m.unwrap_or_else(|e| fail(&format!("{} with {k}: {e}", kind.name)));
                eprintln!(
                    "multi bench: round {} {} × {k}: {:.0} msgs/s, {:.2} µs server CPU/msg, \
                     server {:.2} cores, load {:.2} cores",
                    round + 1,
                    kind.name,
                    m.rate,
                    m.cpu,
                    m.server_cores,
                    m.load_cores
                );
                results.entry((kind.name, k)).or_default().push(m);
            }
        }
    }
    let cpu_model = cpu_model().unwrap_or_default();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Load average at the end: {}.\n",
        loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        md,
        "{} connections × {} in flight × {} B, {} s measured after {} s warm-up, median of {} \
         rounds; server on CPUs {} (K loops on the first K), {} load generator(s) on CPUs {}; {} \
         CPUs online ({cpu_model}).\n",
        o.conns,
        o.inflight,
        o.size,
        o.duration,
        o.warmup,
        o.rounds,
        csv(&o.server_cpus),
        o.load_cpus.len(),
        csv(&o.load_cpus),
        thread::available_parallelism().map_or(0, |n| n.get()),
    );
    md.push_str(
        "| server | K | msgs/s | × K=1 | server CPU µs/msg | server cores busy | load cores busy |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for kind in &o.servers {
        let base = median(
            results[&(kind.name, o.loops[0])]
                .iter()
                .map(|m| m.rate)
                .collect(),
        );
        for &k in &o.loops {
            let ms = &results[&(kind.name, k)];
            let get = |f: fn(&Metrics) -> f64| median(ms.iter().map(f).collect());
            let rate = get(|m| m.rate);
            let _ = writeln!(
                md,
                "| {} | {k} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
                kind.label,
                rate,
                rate / base,
                get(|m| m.cpu),
                get(|m| m.server_cores),
                get(|m| m.load_cores),
            );
        }
    }
    println!("{md}");
    let out = d.target.join("multi-bench.md");
    if let Err(e) = std::fs::write(&out, &md) {
        eprintln!("multi bench: cannot write {}: {e}", out.display());
    }
}
