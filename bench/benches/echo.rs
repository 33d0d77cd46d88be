//! End-to-end TCP echo benchmark: evloop's two echo servers against tokio (plain `spawn` and a
//! LocalSet), monoio (epoll, and io_uring where the kernel allows it), smol and raw mio, each a
//! separate process, loaded by `examples/echo_load.rs`; every server built with the same cargo
//! profile, for each profile asked for.
//!
//! Run it:
//!
//! ```text
//! cargo bench -p evloop-bench --bench echo                 # full run: both profiles, 3 rounds, 1 s warm-up + 3 s per run
//! cargo bench -p evloop-bench --bench echo -- --quick      # smoke test: 1 round of short runs
//! cargo bench -p evloop-bench --bench echo -- --no-native  # the callgrind counts only (exact, repeatable under load)
//! cargo bench -p evloop-bench --bench echo -- --profile release-lto --servers echo,echo_tokio --scenarios 1,3
//! ```
//!
//! Profiles: `--profile NAME` (repeatable, or a comma-separated list) names the cargo profiles to
//! build and measure with; by default `release` (the project's default) and `release-lto` (thin
//! LTO, one codegen unit, `panic = "abort"`, defined in the workspace's `Cargo.toml`). For each,
//! this program first runs the equivalent of `cargo build --profile NAME --workspace --examples`
//! for the examples it needs (evloop's servers, every peer and the load generator: with the
//! `cargo` that started it, into the same target directory, `-p` naming the package of each), a
//! no-op when they are up to date, and takes the binaries from `target/NAME/examples` (`release`
//! from `target/release/examples`). An example that is missing or fails to build is skipped with
//! a note (the rest still run); only the load generator is required. `--no-build` skips the build
//! and uses the binaries already there. monoio's io_uring server is started once first: where the
//! kernel refuses io_uring it exits saying why, and it is skipped with that reason in the notes.
//!
//! For each profile and scenario, servers run in turns (A B C D A B C D ...) for `--rounds` rounds,
//! and the tables give each server's median. The server is pinned to CPU 0 and the load generator
//! to CPU 1 with `taskset` when it exists (and there are two CPUs). The open-files limit is raised
//! to the hard limit for this process and its children (the 1,000-connection scenario needs it).
//! `--no-native` skips these timed runs.
//!
//! When `valgrind` is installed it also counts user-space instructions per echoed message: each
//! server runs under callgrind for a fixed number of messages and once with no load; the
//! difference divided by the message count is the echo path's cost. Three loads: 64 connections
//! in ping-pong (slowed down by callgrind, a server finds many events per wake-up: about 60 for
//! the async server, against about 5 natively), one connection in ping-pong (half as many
//! messages; one event per wake-up, so a loop's per-turn cost shows), and 256 connections with 4
//! messages in flight each (the most batching). All 64 B.
//!
//! Results: Markdown tables on stdout and in `target/echo-bench.md` (one section per profile, with
//! ratios to tokio, monoio, smol and raw mio), and a bar chart per profile in
//! `target/echo-bench.PROFILE.svg` (drawn with `plotters`' SVG backend), `target` being the target
//! directory this program was built in. Exit status 1 if any run failed (for example, the load
//! generator found a corrupt echo).
//!
//! Flags: `--quick`, `--profile NAME[,NAME]`, `--rounds N` (or env `ECHO_BENCH_ROUNDS`),
//! `--warmup SECS`, `--duration SECS`, `--servers a,b` (the ids in the tables' notes, such as
//! `echo_tokio_local`), `--scenarios 1,2` (numbers as listed), `--no-build`, `--no-pin`,
//! `--no-native`, `--no-callgrind`, `--callgrind-messages N`, `--callgrind-dir DIR` (keep the
//! profiles there, as `PROFILE/SERVER.64conn.out`, `.1conn.out`, `.256x4conn.out` and
//! `.0conn.out` for the idle run, to read with `callgrind_annotate`).

mod common;

use common::flags::Flags;
use common::process::{
    callgrind_total, field, have_taskset, have_valgrind, median, run_load, start_server,
};
use common::{cpu_model, dirs, example_problems_profile, first_line, raise_nofile_limit};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A server of the benchmark: an example binary and the flags that select its form.
struct Server {
    /// What `--servers` and the callgrind profiles call it.
    id: &'static str,
    example: &'static str,
    args: &'static [&'static str],
    label: &'static str,
}

/// The servers, in the order they take turns.
const SERVERS: [Server; 8] = [
    Server {
        id: "echo_callbacks",
        example: "echo_callbacks",
        args: &[],
        label: "evloop callbacks",
    },
    Server {
        id: "echo",
        example: "echo",
        args: &[],
        label: "evloop async",
    },
    Server {
        id: "echo_tokio",
        example: "echo_tokio",
        args: &[],
        label: "tokio current_thread, spawn",
    },
    Server {
        id: "echo_tokio_local",
        example: "echo_tokio",
        args: &["--form", "local-set"],
        label: "tokio current_thread, LocalSet",
    },
    Server {
        id: "echo_monoio",
        example: "echo_monoio",
        args: &[],
        label: "monoio, epoll driver",
    },
    Server {
        id: "echo_monoio_uring",
        example: "echo_monoio",
        args: &["--driver", "uring"],
        label: "monoio, io_uring driver",
    },
    Server {
        id: "echo_smol",
        example: "echo_smol",
        args: &[],
        label: "smol, LocalExecutor",
    },
    Server {
        id: "echo_mio",
        example: "echo_mio",
        args: &[],
        label: "raw mio",
    },
];
/// The references every ratio is taken against, with their short names for the tables.
const REFERENCES: [(&str, &str); 4] = [
    ("echo_tokio", "tokio"),
    ("echo_monoio", "monoio"),
    ("echo_smol", "smol"),
    ("echo_mio", "raw mio"),
];
/// The reference of the native tables' ratios in parentheses, and of the native targets.
const REFERENCE: &str = "echo_tokio";
const FLOOR: &str = "echo_mio";
const LOADGEN: &str = "echo_load";
/// The profiles measured unless `--profile` says.
const DEFAULT_PROFILES: [&str; 2] = ["release", "release-lto"];

fn server(id: &str) -> &'static Server {
    SERVERS
        .iter()
        .find(|s| s.id == id)
        .expect("a known server id")
}

struct Scenario {
    title: &'static str,
    short: &'static str,
    conns: usize,
    inflight: usize,
    size: usize,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        title: "64 connections, ping-pong, 64 B",
        short: "64 conns, 64 B",
        conns: 64,
        inflight: 1,
        size: 64,
    },
    Scenario {
        title: "256 connections, 4 in flight each, 64 B",
        short: "256 conns x4, 64 B",
        conns: 256,
        inflight: 4,
        size: 64,
    },
    Scenario {
        title: "16 connections, ping-pong, 4 KiB",
        short: "16 conns, 4 KiB",
        conns: 16,
        inflight: 1,
        size: 4096,
    },
    Scenario {
        title: "1,000 connections, ping-pong, 64 B",
        short: "1000 conns, 64 B",
        conns: 1000,
        inflight: 1,
        size: 64,
    },
];

struct Opts {
    quick: bool,
    profiles: Vec<String>,
    rounds: usize,
    warmup: f64,
    duration: f64,
    servers: Vec<&'static str>,
    scenarios: Vec<usize>,
    build: bool,
    pin: bool,
    native: bool,
    callgrind: bool,
    callgrind_messages: u64,
    /// Where to keep the callgrind profiles (for `callgrind_annotate`); by default none are kept.
    callgrind_dir: Option<PathBuf>,
}

fn usage_error(msg: &str) -> ! {
    eprintln!(
        "echo bench: {msg}\nflags: --quick --profile NAME[,NAME] --rounds N --warmup SECS \
         --duration SECS --servers a,b --scenarios 1,2 --no-build --no-pin --no-native \
         --no-callgrind --callgrind-messages N --callgrind-dir DIR\nservers: {}",
        SERVERS.iter().map(|s| s.id).collect::<Vec<_>>().join(", ")
    );
    std::process::exit(2);
}

fn parse_opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var("ECHO_BENCH_QUICK").is_ok_and(|v| v == "1");
    let mut o = Opts {
        quick,
        profiles: Vec::new(),
        rounds: if quick { 1 } else { 3 },
        warmup: if quick { 0.3 } else { 1.0 },
        duration: if quick { 1.0 } else { 3.0 },
        servers: SERVERS.iter().map(|s| s.id).collect(),
        scenarios: (1..=SCENARIOS.len()).collect(),
        build: true,
        pin: true,
        native: true,
        callgrind: true,
        callgrind_messages: if quick { 20_000 } else { 100_000 },
        callgrind_dir: None,
    };
    if let Ok(r) = std::env::var("ECHO_BENCH_ROUNDS") {
        o.rounds = r
            .parse()
            .unwrap_or_else(|_| usage_error("bad ECHO_BENCH_ROUNDS"));
    }
    let mut flags = Flags::new(args, usage_error);
    while let Some(a) = flags.next_flag() {
        match a.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" | "--quick" => {}
            "--no-build" => o.build = false,
            "--no-pin" => o.pin = false,
            "--no-native" => o.native = false,
            "--no-callgrind" => o.callgrind = false,
            "--rounds" => o.rounds = flags.num(&a),
            "--warmup" => o.warmup = flags.num(&a),
            "--duration" => o.duration = flags.num(&a),
            "--callgrind-messages" => o.callgrind_messages = flags.num(&a),
            "--callgrind-dir" => o.callgrind_dir = Some(PathBuf::from(flags.value(&a))),
            "--profile" => {
                for p in flags.value(&a).split(',').filter(|p| !p.is_empty()) {
                    if !o.profiles.iter().any(|q| q == p) {
                        o.profiles.push(p.to_string());
                    }
                }
            }
            "--servers" => {
                let v = flags.value(&a);
                o.servers = v
                    .split(',')
                    .map(|s| {
                        SERVERS
                            .iter()
                            .find(|k| k.id == s)
                            .map(|k| k.id)
                            .unwrap_or_else(|| usage_error(&format!("unknown server `{s}`")))
                    })
                    .collect();
            }
            "--scenarios" => {
                let v = flags.value(&a);
                o.scenarios = v.split(',').map(|s| flags.parse(&a, s)).collect();
                if o.scenarios.iter().any(|&i| i == 0 || i > SCENARIOS.len()) {
                    usage_error(&format!("scenarios are numbered 1 to {}", SCENARIOS.len()));
                }
            }
            // Filters as `cargo bench -- NAME` would pass them: not supported, say so.
            other => usage_error(&format!("unexpected argument `{other}`")),
        }
    }
    if o.rounds == 0 {
        usage_error("--rounds must be at least 1");
    }
    if o.profiles.is_empty() {
        o.profiles = DEFAULT_PROFILES.map(String::from).to_vec();
    }
    o
}

fn label(id: &str) -> &'static str {
    SERVERS.iter().find(|s| s.id == id).map_or("?", |s| s.label)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[derive(Clone, Copy, Default)]
struct Metrics {
    rate: f64,
    p50: f64,
    p99: f64,
    cpu: f64,
    user: f64,
    /// The load generator's own CPU per message (to see whether it was the bottleneck).
    load_cpu: f64,
}

/// Formats with thousands separators (no decimals); "n/a" for NaN and infinities.
fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    common::thousands(x)
}

/// An instruction count per message: one decimal below 10,000, thousands separators.
fn per_msg_text(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let whole = common::thousands(x.trunc());
    format!("{whole}.{}", ((x.fract() * 10.0).round() as u64).min(9))
}

fn with_ratio(text: String, x: f64, reference: Option<f64>) -> String {
    match reference {
        Some(r) if r.is_finite() && r != 0.0 && x.is_finite() => {
            format!("{text} ({:.2}×)", x / r)
        }
        _ => text,
    }
}

/// `x` against each of [`REFERENCES`] that was measured: `0.49 · 0.57 · 0.36 · 3.89` (a dash
/// for a reference not measured).
fn ratios(x: f64, of: impl Fn(&str) -> Option<f64>) -> String {
    REFERENCES
        .iter()
        .map(|(r, _)| match of(r) {
            Some(v) if v.is_finite() && v != 0.0 && x.is_finite() => format!("{:.2}", x / v),
            _ => "–".into(),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A callgrind load: connections, messages in flight on each, and the share of
/// `--callgrind-messages` it sends.
#[derive(Clone, Copy)]
struct Load {
    conns: usize,
    inflight: usize,
    /// Messages sent = `--callgrind-messages` ÷ this.
    divisor: u64,
    /// Its column in the tables, and its profiles' file names.
    name: &'static str,
    file: &'static str,
}

const LOADS: [Load; 3] = [
    Load {
        conns: 64,
        inflight: 1,
        divisor: 1,
        name: "64 conns",
        file: "64conn",
    },
    Load {
        conns: 1,
        inflight: 1,
        divisor: 2,
        name: "1 conn",
        file: "1conn",
    },
    Load {
        conns: 256,
        inflight: 4,
        divisor: 1,
        name: "256 conns × 4",
        file: "256x4conn",
    },
];

/// Per-message instruction counts under callgrind, one per [`LOADS`], and the idle run's total.
struct Instr {
    per_msg: [f64; LOADS.len()],
    idle: u64,
}

/// `server`'s instructions per message under load number `load`, if it was measured.
fn per_msg(instr: &[(&str, Instr)], server: &str, load: usize) -> Option<f64> {
    Some(instr.iter().find(|(s, _)| *s == server)?.1.per_msg[load])
}

/// One callgrind run of server `srv` from `examples`: its total instruction count, after
/// `messages` messages under `load` (or none without a load). The profile goes to
/// `profiles/SERVER.FILE.out` when a directory is given, else nowhere.
fn callgrind_run(
    srv: &Server,
    examples: &Path,
    pin: bool,
    profiles: Option<&Path>,
    load: Option<Load>,
    messages: u64,
) -> Result<u64, String> {
    let out = match profiles {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            dir.join(format!(
                "{}.{}.out",
                srv.id,
                load.map_or("0conn", |l| l.file)
            ))
        }
        None => PathBuf::from("/dev/null"),
    };
    // Pause before the signal, so that the loaded run has finished closing connections.
    let settle = Duration::from_millis(300);
    let s = start_server(&examples.join(srv.example), srv.args, pin, Some(&out))?;
    let res = match load {
        None => {
            thread::sleep(settle);
            Ok(())
        }
        Some(l) => {
            let args: Vec<String> = [
                "--addr",
                &s.addr,
                "--conns",
                &l.conns.to_string(),
                "--inflight",
                &l.inflight.to_string(),
                "--size",
                "64",
                "--messages",
                &messages.to_string(),
                "--connect-timeout",
                "60",
            ]
            .map(String::from)
            .to_vec();
            let r = run_load(
                &examples.join(LOADGEN),
                pin,
                &args,
                Duration::from_secs(600),
            );
            thread::sleep(settle);
            r.map(|_| ())
        }
    };
    let err = s.stop();
    res?;
    callgrind_total(&err).ok_or_else(|| format!("no callgrind total in: {}", err.trim()))
}

fn measure_instructions(
    srv: &Server,
    examples: &Path,
    pin: bool,
    profiles: Option<&Path>,
    messages: u64,
) -> Result<Instr, String> {
    let idle = callgrind_run(srv, examples, pin, profiles, None, 0)?;
    let mut per_msg = [f64::NAN; LOADS.len()];
    for (k, l) in LOADS.iter().enumerate() {
        let n = (messages / l.divisor).max(1);
        let loaded = callgrind_run(srv, examples, pin, profiles, Some(*l), n)?;
        per_msg[k] = (loaded as f64 - idle as f64) / n as f64;
    }
    Ok(Instr { per_msg, idle })
}

/// Why the server `srv` cannot run here, if it cannot: started once, it must print
/// `listening on` (then it is stopped); if it exits first, what it said on stderr is the reason.
/// (monoio's io_uring server exits so where the kernel refuses io_uring.)
fn start_problem(srv: &Server, examples: &Path) -> Option<String> {
    let mut child = match Command::new(examples.join(srv.example))
        .args(["--addr", "127.0.0.1:0"])
        .args(srv.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Some(format!("cannot start: {e}")),
    };
    let mut err = child.stderr.take().expect("piped stderr");
    let said = thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let line = first_line(&mut child, Duration::from_secs(10));
    let listening = line
        .as_deref()
        .is_some_and(|l| l.starts_with("listening on"));
    if listening {
        common::signal(&child, libc::SIGTERM);
    }
    let status = common::wait_timeout(&mut child, Duration::from_secs(10));
    let said = said.join().unwrap_or_default();
    if listening {
        return None;
    }
    Some(match status {
        Some(st) => format!("{} ({st})", said.trim()),
        None => "did not print `listening on` within 10 s".into(),
    })
}

/// Everything measured with one profile.
struct ProfileRun {
    profile: String,
    servers: Vec<&'static str>,
    /// Per scenario (in `opts.scenarios` order): each server's medians.
    medians: Vec<Vec<(&'static str, Metrics)>>,
    instr: Vec<(&'static str, Instr)>,
}

fn main() {
    let opts = parse_opts();
    let d = dirs();
    let nofile = raise_nofile_limit();
    let pin = opts.pin && have_taskset();
    let valgrind = opts.callgrind && have_valgrind();
    let mut notes: Vec<String> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let started = Instant::now();

    let mut md = String::new();
    let _ = writeln!(md, "# Echo benchmark\n");
    let cpu_model = cpu_model().unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(
        md,
        "{} mode, profiles {}: every server and the load generator built with each profile in \
         turn. {} {}, Linux {}, {} CPUs, open-files limit {nofile}. Server pinned to CPU 0 and \
         load generator to CPU 1: {}. Load average at the start: {}.\n",
        if opts.quick { "Quick" } else { "Full" },
        opts.profiles.join(", "),
        if opts.native {
            format!(
                "Timed runs: {} round(s) per server and scenario, {} s warm-up + {} s measured \
                 per run, servers taking turns; median of the rounds. Ratios in parentheses are \
                 to tokio current_thread with `spawn` (for msgs/s higher is better, for the rest \
                 lower is better). Latency is from queueing a message to its complete, verified \
                 echo. Server CPU is its run time over the measured window (from \
                 /proc/PID/schedstat, or /proc/PID/stat without it) per message; user CPU is the \
                 user time from /proc/PID/stat, which the kernel samples at each clock tick, so \
                 it is coarse when small (the callgrind counts are exact).",
                opts.rounds, opts.warmup, opts.duration
            )
        } else {
            "No timed runs (`--no-native`).".into()
        },
        cpu_model,
        kernel.trim(),
        thread::available_parallelism().map_or(1, |n| n.get()),
        if pin {
            "yes"
        } else {
            "no (taskset missing or one CPU)"
        },
        loadavg(),
    );

    let mut runs: Vec<ProfileRun> = Vec::new();
    for profile in &opts.profiles {
        let examples = d.examples_of(profile);
        let mut wanted: Vec<&'static str> = vec![LOADGEN];
        for id in &opts.servers {
            let ex = server(id).example;
            if !wanted.contains(&ex) {
                wanted.push(ex);
            }
        }
        let problems = example_problems_profile("echo", &d, &wanted, opts.build, &[], profile);
        if let Some(p) = problems.get(LOADGEN) {
            eprintln!("echo bench: the load generator is required: {p}");
            std::process::exit(1);
        }
        let mut servers: Vec<&'static str> = Vec::new();
        for id in &opts.servers {
            let srv = server(id);
            let problem = match problems.get(srv.example) {
                Some(p) => Some(p.clone()),
                // Only forms that may be refused at run time are tried first.
                None if srv.args.contains(&"uring") => start_problem(srv, &examples),
                None => None,
            };
            match problem {
                Some(p) => {
                    let n = format!("{profile}: {} skipped: {p}", srv.label);
                    eprintln!("echo bench: {n}");
                    notes.push(n);
                }
                None => servers.push(srv.id),
            }
        }

        let mut medians: Vec<Vec<(&'static str, Metrics)>> = Vec::new();
        if opts.native {
            for &si in &opts.scenarios {
                let sc = &SCENARIOS[si - 1];
                let mut per: HashMap<&str, Vec<Metrics>> = HashMap::new();
                for round in 1..=opts.rounds {
                    for &id in &servers {
                        let srv = server(id);
                        eprint!(
                            "echo bench: [{:>4.0} s] {profile} | {} | round {round}/{} | {:<31} ",
                            started.elapsed().as_secs_f64(),
                            sc.short,
                            opts.rounds,
                            srv.label
                        );
                        let outcome =
                            start_server(&examples.join(srv.example), srv.args, pin, None)
                                .and_then(|s| {
                                    let args: Vec<String> = vec![
                                        "--addr".into(),
                                        s.addr.clone(),
                                        "--conns".into(),
                                        sc.conns.to_string(),
                                        "--inflight".into(),
                                        sc.inflight.to_string(),
                                        "--size".into(),
                                        sc.size.to_string(),
                                        "--warmup".into(),
                                        opts.warmup.to_string(),
                                        "--duration".into(),
                                        opts.duration.to_string(),
                                        "--server-pid".into(),
                                        s.child.id().to_string(),
                                    ];
                                    let limit =
                                        Duration::from_secs_f64(opts.warmup + opts.duration + 60.0);
                                    let r = run_load(&examples.join(LOADGEN), pin, &args, limit);
                                    s.stop();
                                    r
                                });
                        match outcome {
                            Ok(r) => {
                                let m = Metrics {
                                    rate: field(&r, "msgs_per_sec"),
                                    p50: field(&r, "p50_us"),
                                    p99: field(&r, "p99_us"),
                                    cpu: field(&r, "server_cpu_us_per_msg"),
                                    user: field(&r, "server_user_us_per_msg"),
                                    load_cpu: field(&r, "loadgen_cpu_us_per_msg"),
                                };
                                eprintln!(
                                    "{:>10} msgs/s  p50 {:>7.1} us  p99 {:>7.1} us  cpu {:.3} us/msg (user {:.3}; load generator {:.3})",
                                    thousands(m.rate),
                                    m.p50,
                                    m.p99,
                                    m.cpu,
                                    m.user,
                                    m.load_cpu
                                );
                                per.entry(id).or_default().push(m);
                            }
                            Err(e) => {
                                eprintln!("FAILED: {e}");
                                failures
                                    .push(format!("{profile} / {} / {}: {e}", sc.title, srv.label));
                            }
                        }
                        // Let the closed connections settle between runs.
                        thread::sleep(Duration::from_millis(200));
                    }
                }
                medians.push(
                    servers
                        .iter()
                        .filter_map(|&s| {
                            let runs = per.get(s)?;
                            let m = |f: fn(&Metrics) -> f64| median(runs.iter().map(f).collect());
                            Some((
                                s,
                                Metrics {
                                    rate: m(|x| x.rate),
                                    p50: m(|x| x.p50),
                                    p99: m(|x| x.p99),
                                    cpu: m(|x| x.cpu),
                                    user: m(|x| x.user),
                                    load_cpu: m(|x| x.load_cpu),
                                },
                            ))
                        })
                        .collect(),
                );
            }
        }

        let mut instr: Vec<(&'static str, Instr)> = Vec::new();
        if valgrind {
            for &id in &servers {
                let srv = server(id);
                if srv.args.contains(&"uring") {
                    // Seen with valgrind 3.19: the io_uring server echoes under callgrind but
                    // never gets the SIGTERM that ends the run (and prints the total) while it
                    // waits in `io_uring_enter`.
                    notes.push(format!(
                        "{profile}: {} not run under callgrind: under valgrind its SIGTERM is \
                         not delivered while it waits in io_uring_enter, so the run never ends",
                        srv.label
                    ));
                    continue;
                }
                eprint!(
                    "echo bench: [{:>4.0} s] {profile} | callgrind, {} messages | {:<31} ",
                    started.elapsed().as_secs_f64(),
                    opts.callgrind_messages,
                    srv.label
                );
                let dir = opts.callgrind_dir.as_ref().map(|d| d.join(profile));
                match measure_instructions(
                    srv,
                    &examples,
                    pin,
                    dir.as_deref(),
                    opts.callgrind_messages,
                ) {
                    Ok(i) => {
                        eprintln!(
                            "{} instructions/msg",
                            i.per_msg
                                .iter()
                                .zip(LOADS)
                                .map(|(v, l)| format!("{v:.1} ({})", l.name))
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                        instr.push((id, i));
                    }
                    Err(e) => {
                        eprintln!("FAILED: {e}");
                        failures.push(format!("{profile} / callgrind / {}: {e}", srv.label));
                    }
                }
            }
        }
        runs.push(ProfileRun {
            profile: profile.clone(),
            servers,
            medians,
            instr,
        });
    }
    if opts.callgrind && !valgrind {
        notes.push("valgrind is not installed: no instruction counts.".into());
    }

    for run in &runs {
        write_profile(&mut md, run, &opts);
    }
    write_targets(&mut md, &runs, &opts);
    notes.push(format!(
        "Load average at the end: {} (other processes on the machine add noise).",
        loadavg()
    ));
    notes.extend(failures.iter().map(|f| format!("FAILED: {f}")));
    let _ = writeln!(md, "## Notes\n");
    for n in &notes {
        let _ = writeln!(md, "- {n}");
    }
    let _ = writeln!(md);

    print!("{md}");
    let md_path = d.target.join("echo-bench.md");
    match std::fs::write(&md_path, &md) {
        Ok(()) => eprintln!("echo bench: wrote {}", md_path.display()),
        Err(e) => eprintln!("echo bench: cannot write {}: {e}", md_path.display()),
    }
    for run in &runs {
        let svg_path = d.target.join(format!("echo-bench.{}.svg", run.profile));
        let panels: Vec<(&str, &[(&str, Metrics)])> = opts
            .scenarios
            .iter()
            .zip(&run.medians)
            .map(|(&si, m)| (SCENARIOS[si - 1].short, m.as_slice()))
            .collect();
        let title = format!("evloop echo benchmark, profile {}", run.profile);
        match chart::draw(&svg_path, &title, &panels, &run.servers, &run.instr) {
            Ok(()) => eprintln!("echo bench: wrote {}", svg_path.display()),
            Err(e) => eprintln!("echo bench: cannot draw {}: {e}", svg_path.display()),
        }
    }
    if !failures.is_empty() {
        eprintln!("echo bench: {} run(s) failed", failures.len());
        std::process::exit(1);
    }
}

/// One profile's tables: the timed scenarios, then the instruction counts.
fn write_profile(md: &mut String, run: &ProfileRun, opts: &Opts) {
    let profile = &run.profile;
    let _ = writeln!(md, "## Profile `{profile}`\n");
    for (k, &si) in opts.scenarios.iter().enumerate() {
        let Some(med) = run.medians.get(k) else { break };
        let sc = &SCENARIOS[si - 1];
        let get = |s: &str| med.iter().find(|(n, _)| *n == s).map(|(_, m)| *m);
        let reference = get(REFERENCE);
        let _ = writeln!(
            md,
            "### {profile}, scenario {si}: {} ({} connections × {} in flight × {} B)\n",
            sc.title, sc.conns, sc.inflight, sc.size
        );
        let _ = writeln!(
            md,
            "| server | msgs/s | p50 µs | p99 µs | server CPU µs/msg | CPU vs {} | server user µs/msg |\n\
             |---|---:|---:|---:|---:|---:|---:|",
            REFERENCES.map(|r| r.1).join(" · ")
        );
        for (s, m) in med {
            let r = |f: fn(&Metrics) -> f64| reference.map(|x| f(&x));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {:.3} | {} | {} |",
                label(s),
                with_ratio(thousands(m.rate), m.rate, r(|x| x.rate)),
                with_ratio(format!("{:.1}", m.p50), m.p50, r(|x| x.p50)),
                with_ratio(format!("{:.1}", m.p99), m.p99, r(|x| x.p99)),
                m.cpu,
                ratios(m.cpu, |x| get(x).map(|v| v.cpu)),
                with_ratio(format!("{:.3}", m.user), m.user, r(|x| x.user)),
            );
        }
        let _ = writeln!(md);
    }
    if run.instr.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### {profile}: user-space instructions per echoed message (callgrind)\n\n\
         (Instructions with a load − instructions of a run with no load) ÷ messages, 64 B. Counts \
         only the server's user-space instructions (libc included, kernel excluded). Loads: {} \
         messages over 64 connections in ping-pong (slowed down by callgrind, a server finds many \
         events per wake-up), {} over one connection (one event per wake-up: each message also \
         pays a whole turn of the loop), {} over 256 connections with 4 in flight each. Ratios \
         are to {}, in that order.\n",
        thousands(opts.callgrind_messages as f64),
        thousands((opts.callgrind_messages / 2).max(1) as f64),
        thousands(opts.callgrind_messages as f64),
        REFERENCES.map(|r| r.1).join(" · ")
    );
    let mut header = String::from("| server |");
    let mut rule = String::from("|---|");
    for l in LOADS {
        let _ = write!(header, " {} | ratios |", l.name);
        rule.push_str("---:|---:|");
    }
    let _ = writeln!(md, "{header} idle total |\n{rule}---:|");
    for (s, i) in &run.instr {
        let mut row = format!("| {} |", label(s));
        for (k, v) in i.per_msg.iter().enumerate() {
            let _ = write!(
                row,
                " {} | {} |",
                per_msg_text(*v),
                ratios(*v, |r| per_msg(&run.instr, r, k))
            );
        }
        let _ = writeln!(md, "{row} {} |", thousands(i.idle as f64));
    }
    let _ = writeln!(md);
}

/// The project's targets, checked against these numbers: the instruction ratios to raw mio on
/// the LTO profile (each profile whose name has `lto`, or every profile if none has), and the
/// timed ratios to tokio on every profile.
fn write_targets(md: &mut String, runs: &[ProfileRun], opts: &Opts) {
    let mut checks: Vec<String> = Vec::new();
    let mut check = |what: String, value: Option<f64>, limit: f64, at_most: bool| {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            let ok = if at_most { v <= limit } else { v >= limit };
            checks.push(format!(
                "| {what} | {v:.2} | {} {limit} | {} |",
                if at_most { "≤" } else { "≥" },
                if ok { "met" } else { "**not met**" }
            ));
        }
    };
    let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    let any_lto = runs.iter().any(|r| r.profile.contains("lto"));
    for run in runs {
        let p = &run.profile;
        if !any_lto || p.contains("lto") {
            for (k, l) in LOADS.iter().enumerate() {
                let get = |server: &str| per_msg(&run.instr, server, k);
                let async_limit = if l.conns == 1 { 3.0 } else { 2.5 };
                check(
                    format!("{p}: async instructions/msg ÷ raw mio ({})", l.name),
                    ratio(get("echo"), get(FLOOR)),
                    async_limit,
                    true,
                );
                check(
                    format!("{p}: callbacks instructions/msg ÷ raw mio ({})", l.name),
                    ratio(get("echo_callbacks"), get(FLOOR)),
                    1.8,
                    true,
                );
            }
        }
        for (k, &si) in opts.scenarios.iter().enumerate() {
            let Some(med) = run.medians.get(k) else { break };
            let get = |s: &str| med.iter().find(|(n, _)| *n == s).map(|(_, m)| *m);
            let Some(t) = get(REFERENCE) else { continue };
            for srv in ["echo_callbacks", "echo"] {
                let Some(m) = get(srv) else { continue };
                let name = label(srv);
                check(
                    format!("{p}, scenario {si}: {name} msgs/s ÷ tokio"),
                    Some(m.rate / t.rate),
                    1.0,
                    false,
                );
                check(
                    format!("{p}, scenario {si}: {name} p99 ÷ tokio"),
                    Some(m.p99 / t.p99),
                    1.0,
                    true,
                );
            }
        }
    }
    if !checks.is_empty() {
        let _ = writeln!(
            md,
            "## Targets\n\n| target | measured | wanted | |\n|---|---:|---:|---|\n{}\n",
            checks.join("\n")
        );
    }
}

/// The bar chart: per scenario, msgs/s and server CPU per message for each server; plus the
/// instruction counts when there are any. (Not the user CPU: sampled at the tick, it is too coarse
/// to draw.)
mod chart {
    use super::{label, Instr, Metrics};
    use plotters::prelude::*;
    use std::path::Path;

    const COLORS: [RGBColor; 8] = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0xff, 0x98, 0x96),
        RGBColor(0x94, 0x67, 0xbd),
        RGBColor(0xc5, 0xb0, 0xd5),
        RGBColor(0xff, 0x7f, 0x0e),
        RGBColor(0x7f, 0x7f, 0x7f),
    ];

    fn color(servers: &[&str], s: &str) -> RGBColor {
        let i = super::SERVERS
            .iter()
            .position(|k| k.id == s)
            .unwrap_or(servers.len());
        COLORS[i % COLORS.len()]
    }

    type Panel<'a> = (&'a str, &'a [(&'a str, Metrics)]);

    pub fn draw(
        path: &Path,
        title_text: &str,
        panels: &[Panel<'_>],
        servers: &[&str],
        instr: &[(&str, Instr)],
    ) -> Result<(), Box<dyn std::error::Error>> {
        let cols = panels.len().max(1);
        let rows = if panels.is_empty() { 0 } else { 2 } + usize::from(!instr.is_empty());
        if rows == 0 {
            return Err("nothing was measured".into());
        }
        let width = (300 * cols as i32).max(900);
        // The legend wraps onto as many lines as the labels need.
        let item_width = |s: &str| 30 + 7 * label(s).chars().count() as i32;
        let mut lines = 1;
        let mut x = 10;
        for s in servers {
            if x + item_width(s) > width && x > 10 {
                lines += 1;
                x = 10;
            }
            x += item_width(s);
        }
        let strip = 40 + 20 * lines;
        let root = SVGBackend::new(path, (width as u32, (strip + 260 * rows as i32) as u32))
            .into_drawing_area();
        root.fill(&WHITE)?;
        let (title, body) = root.split_vertically(strip);
        title.titled(title_text, ("sans-serif", 22))?;
        let (mut x, mut y) = (10, 40);
        for s in servers {
            if x + item_width(s) > width && x > 10 {
                x = 10;
                y += 20;
            }
            title.draw(&Rectangle::new(
                [(x, y), (x + 14, y + 14)],
                color(servers, s).filled(),
            ))?;
            title.draw(&Text::new(label(s), (x + 18, y + 1), ("sans-serif", 13)))?;
            x += item_width(s);
        }
        let grid = body.split_evenly((rows, cols));
        type Getter = fn(&Metrics) -> f64;
        let metrics: [(&str, Getter); 2] = [
            ("msgs/s (thousands)", |m| m.rate / 1000.0),
            ("server CPU µs/msg", |m| m.cpu),
        ];
        for (r, (what, get)) in metrics.iter().enumerate() {
            for (c, (name, meds)) in panels.iter().enumerate() {
                let bars: Vec<(&str, f64)> = meds
                    .iter()
                    .map(|(s, m)| (*s, get(m)))
                    .filter(|(_, v)| v.is_finite())
                    .collect();
                bar_panel(
                    &grid[r * cols + c],
                    &format!("{name}: {what}"),
                    &bars,
                    servers,
                )?;
            }
        }
        if !instr.is_empty() {
            let bars: Vec<(&str, f64)> = instr.iter().map(|(s, i)| (*s, i.per_msg[0])).collect();
            bar_panel(
                &grid[(rows - 1) * cols],
                "user-space instructions/msg, 64 connections",
                &bars,
                servers,
            )?;
        }
        root.present()?;
        Ok(())
    }

    fn bar_panel<DB: DrawingBackend>(
        area: &DrawingArea<DB, plotters::coord::Shift>,
        caption: &str,
        bars: &[(&str, f64)],
        servers: &[&str],
    ) -> Result<(), Box<dyn std::error::Error>>
    where
        DB::ErrorType: 'static,
    {
        let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9) * 1.15;
        let n = bars.len().max(1);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(10)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..n as f64, 0f64..max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_labels(6)
            .draw()?;
        for (i, (s, v)) in bars.iter().enumerate() {
            let x0 = i as f64 + 0.15;
            let x1 = i as f64 + 0.85;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x1, *v)],
                color(servers, s).filled(),
            )))?;
            let text = if *v >= 100.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            };
            chart.draw_series(std::iter::once(Text::new(
                text,
                (x0, *v + max * 0.08),
                ("sans-serif", 11),
            )))?;
        }
        Ok(())
    }
}
