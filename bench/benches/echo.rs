//! End-to-end TCP echo benchmark: evloop's two echo servers against tokio and raw mio, each a
//! separate process, loaded by `examples/echo_load.rs`.
//!
//! Run it:
//!
//! ```text
//! cargo bench -p evloop-bench --bench echo                 # full run: 3 rounds, 1 s warm-up + 3 s per run (~5 min)
//! cargo bench -p evloop-bench --bench echo -- --quick      # smoke test: 1 round of short runs
//! cargo bench -p evloop-bench --bench echo -- --rounds 5 --servers echo,echo_tokio --scenarios 1,3
//! ```
//!
//! `cargo bench` builds benches but not examples, so this program first runs the equivalent of
//! `cargo build --release --workspace --examples` for the examples it needs (with the `cargo` that
//! started it, into the same target directory, `-p` naming the package of each: evloop's servers
//! in the root package, the peers and the load generator in this one): a no-op when they are up to
//! date. An example that is missing or fails to build is skipped with a note (the rest still run);
//! only the load generator is required. `--no-build` skips the build and uses the binaries already
//! in `target/release/examples` (then build them yourself:
//! `cargo build --release --workspace --examples`).
//!
//! For each scenario, servers run in turns (A B C D A B C D ...) for `--rounds` rounds, and the
//! tables give each server's median. The server is pinned to CPU 0 and the load generator to CPU 1
//! with `taskset` when it exists (and there are two CPUs). The open-files limit is raised to the
//! hard limit for this process and its children (the 1,000-connection scenario needs it).
//!
//! When `valgrind` is installed it also counts user-space instructions per echoed message: each
//! server runs under callgrind for a fixed number of messages (64 connections, ping-pong, 64 B)
//! and once with no load; the difference divided by the message count is the echo path's cost.
//! Slowed down by callgrind, a server finds many more events per wake-up with 64 connections than
//! natively (about 60 against about 5 for the async server); a second load, one connection in
//! ping-pong (half as many messages), is the other extreme, one event per wake-up, where a loop's
//! per-turn cost shows.
//!
//! Results: Markdown tables on stdout and in `target/echo-bench.md`, and a bar chart in
//! `target/echo-bench.svg` (drawn with `plotters`' SVG backend), `target` being the target
//! directory this program was built in. Exit status 1 if any run failed (for example, the load
//! generator found a corrupt echo).
//!
//! Flags: `--quick`, `--rounds N` (or env `ECHO_BENCH_ROUNDS`), `--warmup SECS`, `--duration SECS`,
//! `--servers a,b` (example names), `--scenarios 1,2` (numbers as listed), `--no-build`,
//! `--no-pin`, `--no-callgrind`, `--callgrind-messages N`, `--callgrind-dir DIR` (keep the profiles
//! there, as `SERVER.64conn.out`, `SERVER.1conn.out` and `SERVER.0conn.out` for the idle run, to
//! read with `callgrind_annotate`).

mod common;

use common::process::{
    callgrind_total, field, have_taskset, have_valgrind, median, run_load, start_server,
};
use common::{cpu_model, dirs, example_problems, raise_nofile_limit};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// The servers, in the order they take turns: (example name, label).
const SERVERS: [(&str, &str); 4] = [
    ("echo_callbacks", "evloop callbacks"),
    ("echo", "evloop async"),
    ("echo_tokio", "tokio current_thread"),
    ("echo_mio", "raw mio"),
];
/// The reference every ratio is taken against.
const REFERENCE: &str = "echo_tokio";
const LOADGEN: &str = "echo_load";

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
    rounds: usize,
    warmup: f64,
    duration: f64,
    servers: Vec<&'static str>,
    scenarios: Vec<usize>,
    build: bool,
    pin: bool,
    callgrind: bool,
    callgrind_messages: u64,
    /// Where to keep the callgrind profiles (for `callgrind_annotate`); by default none are kept.
    callgrind_dir: Option<PathBuf>,
}

fn usage_error(msg: &str) -> ! {
    eprintln!(
        "echo bench: {msg}\nflags: --quick --rounds N --warmup SECS --duration SECS --servers a,b \
         --scenarios 1,2 --no-build --no-pin --no-callgrind --callgrind-messages N --callgrind-dir DIR"
    );
    std::process::exit(2);
}

fn parse_opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var("ECHO_BENCH_QUICK").is_ok_and(|v| v == "1");
    let mut o = Opts {
        quick,
        rounds: if quick { 1 } else { 3 },
        warmup: if quick { 0.3 } else { 1.0 },
        duration: if quick { 1.0 } else { 3.0 },
        servers: SERVERS.iter().map(|s| s.0).collect(),
        scenarios: (1..=SCENARIOS.len()).collect(),
        build: true,
        pin: true,
        callgrind: true,
        callgrind_messages: if quick { 20_000 } else { 100_000 },
        callgrind_dir: None,
    };
    if let Ok(r) = std::env::var("ECHO_BENCH_ROUNDS") {
        o.rounds = r
            .parse()
            .unwrap_or_else(|_| usage_error("bad ECHO_BENCH_ROUNDS"));
    }
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| usage_error(&format!("{name} needs a value")))
        };
        fn num<T: std::str::FromStr>(name: &str, v: &str) -> T {
            v.parse()
                .unwrap_or_else(|_| usage_error(&format!("bad value `{v}` for {name}")))
        }
        match a.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" | "--quick" => {}
            "--no-build" => o.build = false,
            "--no-pin" => o.pin = false,
            "--no-callgrind" => o.callgrind = false,
            "--rounds" => o.rounds = num(&a, &value(&a)),
            "--warmup" => o.warmup = num(&a, &value(&a)),
            "--duration" => o.duration = num(&a, &value(&a)),
            "--callgrind-messages" => o.callgrind_messages = num(&a, &value(&a)),
            "--callgrind-dir" => o.callgrind_dir = Some(PathBuf::from(value(&a))),
            "--servers" => {
                let v = value(&a);
                o.servers = v
                    .split(',')
                    .map(|s| {
                        SERVERS
                            .iter()
                            .find(|k| k.0 == s)
                            .map(|k| k.0)
                            .unwrap_or_else(|| usage_error(&format!("unknown server `{s}`")))
                    })
                    .collect();
            }
            "--scenarios" => {
                let v = value(&a);
                o.scenarios = v.split(',').map(|s| num(&a, s)).collect();
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
    o
}

fn label(server: &str) -> &'static str {
    SERVERS.iter().find(|s| s.0 == server).map_or("?", |s| s.1)
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

fn with_ratio(text: String, x: f64, reference: Option<f64>) -> String {
    match reference {
        Some(r) if r.is_finite() && r != 0.0 && x.is_finite() => {
            format!("{text} ({:.2}×)", x / r)
        }
        _ => text,
    }
}

/// Per-message instruction counts under callgrind.
struct Instr {
    /// 64 connections in ping-pong (the main figure).
    per_msg: f64,
    /// One connection in ping-pong: one event per wake-up.
    per_msg_one: Option<f64>,
    loaded: u64,
    idle: u64,
}

/// Which callgrind load: 64 connections, or one.
#[derive(Clone, Copy)]
enum Load {
    Many,
    One,
}

/// `server`'s instructions per message under `load`, if it was measured.
fn per_msg(instr: &[(&str, Instr)], server: &str, load: Load) -> Option<f64> {
    let i = &instr.iter().find(|(s, _)| *s == server)?.1;
    match load {
        Load::Many => Some(i.per_msg),
        Load::One => i.per_msg_one,
    }
}

/// One callgrind run of the server at `path`: its total instruction count, after `messages`
/// ping-pong messages over `conns` connections (or none, with `conns == 0`). The profile goes to
/// `profiles/SERVER.CONNSconn.out` when a directory is given, else nowhere.
fn callgrind_run(
    path: &Path,
    loadgen: &Path,
    pin: bool,
    profiles: Option<&Path>,
    conns: usize,
    messages: u64,
) -> Result<u64, String> {
    let out = match profiles {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let server = path
                .file_name()
                .map_or("server".into(), |n| n.to_string_lossy());
            dir.join(format!("{server}.{conns}conn.out"))
        }
        None => PathBuf::from("/dev/null"),
    };
    // Pause before the signal, so that the loaded run has finished closing connections.
    let settle = Duration::from_millis(300);
    let s = start_server(path, &[], pin, Some(&out))?;
    let res = if conns == 0 {
        thread::sleep(settle);
        Ok(())
    } else {
        let args: Vec<String> = [
            "--addr",
            &s.addr,
            "--conns",
            &conns.to_string(),
            "--inflight",
            "1",
            "--size",
            "64",
            "--messages",
            &messages.to_string(),
            "--connect-timeout",
            "60",
        ]
        .map(String::from)
        .to_vec();
        let r = run_load(loadgen, pin, &args, Duration::from_secs(600));
        thread::sleep(settle);
        r.map(|_| ())
    };
    let err = s.stop();
    res?;
    callgrind_total(&err).ok_or_else(|| format!("no callgrind total in: {}", err.trim()))
}

fn measure_instructions(
    path: &Path,
    loadgen: &Path,
    pin: bool,
    profiles: Option<&Path>,
    messages: u64,
) -> Result<Instr, String> {
    let idle = callgrind_run(path, loadgen, pin, profiles, 0, 0)?;
    let loaded = callgrind_run(path, loadgen, pin, profiles, 64, messages)?;
    let one_msgs = (messages / 2).max(1);
    let one = callgrind_run(path, loadgen, pin, profiles, 1, one_msgs)?;
    Ok(Instr {
        per_msg: (loaded as f64 - idle as f64) / messages as f64,
        per_msg_one: Some((one as f64 - idle as f64) / one_msgs as f64),
        loaded,
        idle,
    })
}

fn main() {
    let opts = parse_opts();
    let d = dirs();
    let nofile = raise_nofile_limit();
    let wanted: Vec<&'static str> = std::iter::once(LOADGEN)
        .chain(opts.servers.iter().copied())
        .collect();
    let problems = example_problems("echo", &d, &wanted, opts.build);
    if let Some(p) = problems.get(LOADGEN) {
        eprintln!("echo bench: the load generator is required: {p}");
        std::process::exit(1);
    }
    let servers: Vec<&'static str> = opts
        .servers
        .iter()
        .copied()
        .filter(|s| !problems.contains_key(s))
        .collect();
    let mut notes: Vec<String> = opts
        .servers
        .iter()
        .filter_map(|s| {
            problems
                .get(s)
                .map(|p| format!("{} skipped: {p}", label(s)))
        })
        .collect();
    for n in &notes {
        eprintln!("echo bench: {n}");
    }
    let pin = opts.pin && have_taskset();
    let loadgen = d.examples.join(LOADGEN);

    let mut md = String::new();
    let _ = writeln!(md, "# Echo benchmark\n");
    let cpu_model = cpu_model().unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(
        md,
        "{} mode: {} round(s) per server and scenario, {} s warm-up + {} s measured per run, \
         servers taking turns; median of the rounds. Server pinned to CPU 0 and load generator to \
         CPU 1: {}. {}, Linux {}, {} CPUs, open-files limit {nofile}. Ratios in parentheses are to \
         tokio current_thread (for msgs/s higher is better, for the rest lower is better). \
         Latency is from queueing a message to its complete, verified echo. Server CPU is its run \
         time over the measured window (from /proc/PID/schedstat, or /proc/PID/stat without it) \
         per message; user CPU is the user time from /proc/PID/stat, which the kernel samples at \
         each clock tick, so it is coarse when small (the callgrind counts below are exact). Load \
         average at the start: {}.\n",
        if opts.quick { "Quick" } else { "Full" },
        opts.rounds,
        opts.warmup,
        opts.duration,
        if pin {
            "yes"
        } else {
            "no (taskset missing or one CPU)"
        },
        cpu_model,
        kernel.trim(),
        thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg(),
    );

    // results[scenario][server] = runs
    let mut results: Vec<HashMap<&str, Vec<Metrics>>> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let started = Instant::now();
    for &si in &opts.scenarios {
        let sc = &SCENARIOS[si - 1];
        let mut per: HashMap<&str, Vec<Metrics>> = HashMap::new();
        for round in 1..=opts.rounds {
            for &srv in &servers {
                eprint!(
                    "echo bench: [{:>4.0} s] {} | round {round}/{} | {:<20} ",
                    started.elapsed().as_secs_f64(),
                    sc.short,
                    opts.rounds,
                    label(srv)
                );
                let outcome = start_server(&d.examples.join(srv), &[], pin, None).and_then(|s| {
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
                    let limit = Duration::from_secs_f64(opts.warmup + opts.duration + 60.0);
                    let r = run_load(&loadgen, pin, &args, limit);
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
                        per.entry(srv).or_default().push(m);
                    }
                    Err(e) => {
                        eprintln!("FAILED: {e}");
                        failures.push(format!("{} / {}: {e}", sc.title, label(srv)));
                    }
                }
                // Let the closed connections settle between runs.
                thread::sleep(Duration::from_millis(200));
            }
        }
        results.push(per);
    }

    // Medians and tables.
    let mut medians: Vec<Vec<(&str, Metrics)>> = Vec::new();
    for (k, &si) in opts.scenarios.iter().enumerate() {
        let sc = &SCENARIOS[si - 1];
        let per = &results[k];
        let med: Vec<(&str, Metrics)> = servers
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
            .collect();
        let reference = med.iter().find(|(s, _)| *s == REFERENCE).map(|(_, m)| *m);
        let _ = writeln!(
            md,
            "## {si}. {} ({} connections × {} in flight × {} B)\n",
            sc.title, sc.conns, sc.inflight, sc.size
        );
        let _ = writeln!(
            md,
            "| server | msgs/s | p50 µs | p99 µs | server CPU µs/msg | server user µs/msg |\n\
             |---|---:|---:|---:|---:|---:|"
        );
        for (s, m) in &med {
            let r = |f: fn(&Metrics) -> f64| reference.map(|x| f(&x));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                label(s),
                with_ratio(thousands(m.rate), m.rate, r(|x| x.rate)),
                with_ratio(format!("{:.1}", m.p50), m.p50, r(|x| x.p50)),
                with_ratio(format!("{:.1}", m.p99), m.p99, r(|x| x.p99)),
                with_ratio(format!("{:.3}", m.cpu), m.cpu, r(|x| x.cpu)),
                with_ratio(format!("{:.3}", m.user), m.user, r(|x| x.user)),
            );
        }
        let _ = writeln!(md);
        medians.push(med);
    }

    // Instructions per message.
    let mut instr: Vec<(&str, Instr)> = Vec::new();
    if opts.callgrind && have_valgrind() {
        for &srv in &servers {
            eprint!(
                "echo bench: [{:>4.0} s] callgrind, {} messages | {:<20} ",
                started.elapsed().as_secs_f64(),
                opts.callgrind_messages,
                label(srv)
            );
            match measure_instructions(
                &d.examples.join(srv),
                &loadgen,
                pin,
                opts.callgrind_dir.as_deref(),
                opts.callgrind_messages,
            ) {
                Ok(i) => {
                    eprintln!(
                        "{:.0} instructions/msg ({} with one connection)",
                        i.per_msg,
                        i.per_msg_one.map_or("n/a".into(), |v| format!("{v:.0}"))
                    );
                    instr.push((srv, i));
                }
                Err(e) => {
                    eprintln!("FAILED: {e}");
                    failures.push(format!("callgrind / {}: {e}", label(srv)));
                }
            }
        }
        let (tokio, mio) = (
            per_msg(&instr, REFERENCE, Load::Many),
            per_msg(&instr, "echo_mio", Load::Many),
        );
        let (tokio_one, mio_one) = (
            per_msg(&instr, REFERENCE, Load::One),
            per_msg(&instr, "echo_mio", Load::One),
        );
        let _ = writeln!(
            md,
            "## User-space instructions per echoed message (callgrind)\n\n\
             (Instructions with a load − instructions of a run with no load) ÷ messages, 64 B \
             ping-pong. Counts only the server's user-space instructions (libc included, kernel \
             excluded). Main load: {} messages over 64 connections; slowed down by callgrind, \
             a server finds many events per wake-up there. Second load: {} messages over one connection, one event \
             per wake-up, so each message also pays a whole turn of the loop.\n\n\
             | server | 64 conns: instructions/msg | vs tokio | vs raw mio | 1 conn: instructions/msg | vs tokio | vs raw mio | loaded total (64) | idle total |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|",
            thousands(opts.callgrind_messages as f64),
            thousands((opts.callgrind_messages / 2).max(1) as f64)
        );
        for (s, i) in &instr {
            let ratio = |v: Option<f64>, r: Option<f64>| match (v, r) {
                (Some(v), Some(r)) => format!("{:.2}×", v / r),
                _ => "n/a".into(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                label(s),
                thousands(i.per_msg),
                ratio(Some(i.per_msg), tokio),
                ratio(Some(i.per_msg), mio),
                i.per_msg_one.map_or("n/a".into(), thousands),
                ratio(i.per_msg_one, tokio_one),
                ratio(i.per_msg_one, mio_one),
                thousands(i.loaded as f64),
                thousands(i.idle as f64)
            );
        }
        let _ = writeln!(md);
    } else if opts.callgrind {
        notes.push("valgrind is not installed: no instruction counts.".into());
    }

    // The project's targets, checked against these numbers.
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
    for (load, what) in [(Load::Many, "64 connections"), (Load::One, "1 connection")] {
        let get = |server: &str| per_msg(&instr, server, load);
        check(
            format!("callbacks instructions/msg ÷ raw mio ({what})"),
            ratio(get("echo_callbacks"), get("echo_mio")),
            1.5,
            true,
        );
        check(
            format!("async instructions/msg ÷ tokio ({what})"),
            ratio(get("echo"), get(REFERENCE)),
            0.35,
            true,
        );
    }
    for (k, &si) in opts.scenarios.iter().enumerate() {
        let get = |s: &str| medians[k].iter().find(|(n, _)| *n == s).map(|(_, m)| *m);
        let Some(t) = get(REFERENCE) else { continue };
        for srv in ["echo_callbacks", "echo"] {
            let Some(m) = get(srv) else { continue };
            let name = label(srv);
            check(
                format!("scenario {si}: {name} user CPU/msg ÷ tokio (tick-sampled)"),
                Some(m.user / t.user),
                0.5,
                true,
            );
            check(
                format!("scenario {si}: {name} msgs/s ÷ tokio"),
                Some(m.rate / t.rate),
                1.0,
                false,
            );
            check(
                format!("scenario {si}: {name} p99 ÷ tokio"),
                Some(m.p99 / t.p99),
                1.0,
                true,
            );
        }
    }
    if !checks.is_empty() {
        let _ = writeln!(
            md,
            "## Targets\n\n| target | measured | wanted | |\n|---|---:|---:|---|\n{}\n",
            checks.join("\n")
        );
    }
    notes.push(format!(
        "Load average at the end: {} (other processes on the machine add noise).",
        loadavg()
    ));
    if !failures.is_empty() {
        notes.extend(failures.iter().map(|f| format!("FAILED: {f}")));
    }
    if !notes.is_empty() {
        let _ = writeln!(md, "## Notes\n");
        for n in &notes {
            let _ = writeln!(md, "- {n}");
        }
        let _ = writeln!(md);
    }

    print!("{md}");
    let md_path = d.target.join("echo-bench.md");
    let svg_path = d.target.join("echo-bench.svg");
    match std::fs::write(&md_path, &md) {
        Ok(()) => eprintln!("echo bench: wrote {}", md_path.display()),
        Err(e) => eprintln!("echo bench: cannot write {}: {e}", md_path.display()),
    }
    let panels: Vec<(&str, &[(&str, Metrics)])> = opts
        .scenarios
        .iter()
        .zip(&medians)
        .map(|(&si, m)| (SCENARIOS[si - 1].short, m.as_slice()))
        .collect();
    match chart::draw(&svg_path, &panels, &servers, &instr) {
        Ok(()) => eprintln!("echo bench: wrote {}", svg_path.display()),
        Err(e) => eprintln!("echo bench: cannot draw {}: {e}", svg_path.display()),
    }
    if !failures.is_empty() {
        eprintln!("echo bench: {} run(s) failed", failures.len());
        std::process::exit(1);
    }
}

/// The bar chart: per scenario, msgs/s and server CPU per message for each server; plus the
/// instruction counts when there are any. (Not the user CPU: sampled at the tick, it is too coarse
/// to draw.)
mod chart {
    use super::{label, Instr, Metrics};
    use plotters::prelude::*;
    use std::path::Path;

    const COLORS: [RGBColor; 4] = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0x7f, 0x7f, 0x7f),
    ];

    fn color(servers: &[&str], s: &str) -> RGBColor {
        let i = super::SERVERS
            .iter()
            .position(|k| k.0 == s)
            .unwrap_or(servers.len());
        COLORS[i % COLORS.len()]
    }

    type Panel<'a> = (&'a str, &'a [(&'a str, Metrics)]);

    pub fn draw(
        path: &Path,
        panels: &[Panel<'_>],
        servers: &[&str],
        instr: &[(&str, Instr)],
    ) -> Result<(), Box<dyn std::error::Error>> {
        let cols = panels.len().max(1);
        let rows = if instr.is_empty() { 2 } else { 3 };
        let root =
            SVGBackend::new(path, (300 * cols as u32, 60 + 260 * rows as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let (title, body) = root.split_vertically(60);
        title.titled(
            "evloop echo benchmark (median of rounds)",
            ("sans-serif", 22),
        )?;
        // Legend in the title strip.
        let mut x = 10;
        for s in servers {
            title.draw(&Rectangle::new(
                [(x, 40), (x + 14, 54)],
                color(servers, s).filled(),
            ))?;
            title.draw(&Text::new(label(s), (x + 18, 41), ("sans-serif", 13)))?;
            x += 30 + 8 * label(s).len() as i32;
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
            let bars: Vec<(&str, f64)> = instr.iter().map(|(s, i)| (*s, i.per_msg)).collect();
            bar_panel(
                &grid[2 * cols],
                "user-space instructions/msg",
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
