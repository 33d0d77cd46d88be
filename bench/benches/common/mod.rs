//! Helpers shared by the bench targets: reading their flags, finding the target directory,
//! building the example servers, raising the open-files limit, starting and stopping server
//! processes, and the runtime setup and batch runners of the micro-benchmarks.
//!
//! Each bench includes this file with `mod common;` and uses only part of it, so what one bench
//! leaves unused is not dead code.
#![allow(dead_code)]

pub mod flags;
pub mod process;

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use evloop::EventLoop;
use tokio::runtime::{Builder, Runtime};

// ---- runtimes for the evloop-vs-tokio comparisons ----

pub fn evloop() -> EventLoop {
    EventLoop::new().expect("event loop")
}

/// The tokio side of every comparison: a current_thread runtime with I/O and time enabled (so that
/// it parks in epoll like evloop does). It includes the blocking pool that `spawn_blocking` uses.
pub fn tokio_rt() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Lets tokio's driver park once with a timer due in `soon` armed, as a running server's driver has
/// (it parks between bursts and knows its next wake-up): after that, arming a timer due later than
/// `soon` does not wake the driver. A driver that never parked treats every new timer as possibly
/// the earliest and wakes itself (an eventfd write) on each, which a real program seldom pays.
pub async fn tokio_park_with_timer(soon: Duration) {
    let mut anchor = std::pin::pin!(tokio::time::sleep(soon));
    std::future::poll_fn(|cx| Poll::Ready(anchor.as_mut().poll(cx).is_pending())).await;
    // tokio's `yield_now` defers the task until the driver has been polled: one park.
    tokio::task::yield_now().await;
}

/// Pending once, waking its own task immediately: a yield that behaves the same on both runtimes
/// (tokio's `yield_now` instead defers the wake-up until its driver has been polled). The task goes
/// to the back of the run queue, behind the tasks woken before it.
pub struct WakeSelfOnce(pub bool);

impl Future for WakeSelfOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

// ---- server processes for the end-to-end benches ----

/// Where the build output lives, found from the bench binary's own path:
/// `<target>/<profile>/deps/BENCH-HASH`.
pub struct Dirs {
    pub target: PathBuf,
    pub examples: PathBuf,
}

impl Dirs {
    /// Where `cargo build --profile PROFILE` puts the examples: `dev` and `test` build into
    /// `debug`, `bench` into `release`, any other profile into the folder of its own name.
    pub fn examples_of(&self, profile: &str) -> PathBuf {
        let folder = match profile {
            "dev" | "test" => "debug",
            "bench" => "release",
            other => other,
        };
        self.target.join(folder).join("examples")
    }
}

pub fn dirs() -> Dirs {
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("bench binary in <target>/<profile>/deps");
    Dirs {
        target: profile.parent().expect("target dir").to_path_buf(),
        examples: profile.join("examples"),
    }
}

/// The workspace's packages that hold examples, with the folder of each (relative to the
/// workspace root): evloop's own servers live in the root package, the benchmark peers and the load
/// generator in this one.
const PACKAGES: [(&str, &str); 2] = [("evloop", "."), ("evloop-bench", "bench")];

/// The package that holds the example `name`, if any.
fn package_of(root: &Path, name: &str) -> Option<&'static str> {
    PACKAGES.iter().find_map(|&(package, dir)| {
        let examples = root.join(dir).join("examples");
        (examples.join(format!("{name}.rs")).exists()
            || examples.join(name).join("main.rs").exists())
        .then_some(package)
    })
}

/// Builds the examples with the `cargo` that runs us, into the same target directory, each with
/// `-p` naming its package (one `cargo build`, or one per example if that fails, so one broken
/// example does not stop the others). Returns, for each example, why it cannot be used (if it
/// cannot). `bench` names the bench in progress messages.
pub fn build_examples(
    bench: &str,
    d: &Dirs,
    names: &[&'static str],
) -> HashMap<&'static str, String> {
    build_examples_with(bench, d, names, &[])
}

/// [`build_examples`] with cargo `features` (such as `evloop/hyper`) enabled.
pub fn build_examples_with(
    bench: &str,
    d: &Dirs,
    names: &[&'static str],
    features: &[&str],
) -> HashMap<&'static str, String> {
    build_examples_profile(bench, d, names, features, "release")
}

/// [`build_examples_with`] with the cargo `profile` (`release`, `release-lto`, ...): the
/// binaries land in [`Dirs::examples_of`] that profile.
pub fn build_examples_profile(
    bench: &str,
    d: &Dirs,
    names: &[&'static str],
    features: &[&str],
    profile: &str,
) -> HashMap<&'static str, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ lives in the workspace root");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut problems = HashMap::new();
    let present: Vec<(&'static str, &'static str)> = names
        .iter()
        .copied()
        .filter_map(|n| {
            let package = package_of(root, n);
            if package.is_none() {
                problems.insert(
                    n,
                    format!("no examples/{n}.rs in any package of the workspace"),
                );
            }
            Some((n, package?))
        })
        .collect();
    let build = |which: &[(&str, &str)]| -> bool {
        let mut cmd = Command::new(&cargo);
        cmd.args(["build", "--profile", profile, "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&d.target);
        for (package, _) in PACKAGES {
            if which.iter().any(|w| w.1 == package) {
                cmd.args(["-p", package]);
            }
        }
        if !features.is_empty() {
            cmd.arg("--features").arg(features.join(","));
        }
        for (n, _) in which {
            cmd.arg("--example").arg(n);
        }
        let list: Vec<_> = which.iter().map(|w| w.0).collect();
        eprintln!(
            "{bench} bench: building {} (profile {profile})",
            list.join(", ")
        );
        matches!(cmd.status(), Ok(s) if s.success())
    };
    if !present.is_empty() && !build(&present) {
        for p in &present {
            if !build(std::slice::from_ref(p)) {
                problems.insert(p.0, format!("examples/{}.rs does not build", p.0));
            }
        }
    }
    problems
}

/// Which of the example binaries `names` cannot be used, and why: built first (see
/// [`build_examples`]) when `build` is set, then each checked for in `d.examples`.
pub fn example_problems(
    bench: &str,
    d: &Dirs,
    names: &[&'static str],
    build: bool,
) -> HashMap<&'static str, String> {
    example_problems_with(bench, d, names, build, &[])
}

/// [`example_problems`] with cargo `features` enabled for the build.
pub fn example_problems_with(
    bench: &str,
    d: &Dirs,
    names: &[&'static str],
    build: bool,
    features: &[&str],
) -> HashMap<&'static str, String> {
    example_problems_profile(bench, d, names, build, features, "release")
}

/// [`example_problems_with`] for the cargo `profile`: built with it, looked for in
/// [`Dirs::examples_of`] it.
pub fn example_problems_profile(
    bench: &str,
    d: &Dirs,
    names: &[&'static str],
    build: bool,
    features: &[&str],
    profile: &str,
) -> HashMap<&'static str, String> {
    let mut problems = if build {
        build_examples_profile(bench, d, names, features, profile)
    } else {
        HashMap::new()
    };
    let dir = d.examples_of(profile);
    for n in names {
        if !problems.contains_key(n) && !dir.join(n).exists() {
            problems.insert(
                n,
                format!(
                    "{} not found: run `cargo build --profile {profile} --workspace --examples` first",
                    dir.join(n).display()
                ),
            );
        }
    }
    problems
}

/// Raises the soft open-files limit to the hard limit, for us and the children we start. Returns
/// the soft limit now in force (0 if it cannot be read).
pub fn raise_nofile_limit() -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; raising the soft limit up to the hard one is allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return raised.rlim_cur;
        }
    }
    lim.rlim_cur
}

pub fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions; the pid is our own unreaped child.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) };
}

/// Waits for `child` up to `limit`; kills it after that.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Takes `child`'s piped stdout and waits up to `limit` for its first line; the rest is drained
/// on a thread so that the server never blocks on a full pipe. `None` if no line came in time.
pub fn first_line(child: &mut Child, limit: Duration) -> Option<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(out).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        // Keep draining so the server never blocks on a full pipe.
        for _ in lines {}
    });
    rx.recv_timeout(limit).ok()
}

/// The address in a server's `listening on ADDR` line.
pub fn listening_addr(line: &str) -> Option<String> {
    line.strip_prefix("listening on ")
        .map(|a| a.trim().to_string())
}

/// Formats with thousands separators (no decimals).
/// The CPU's model name from `/proc/cpuinfo`, for the header of a bench's results.
pub fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines().find_map(|l| {
        l.strip_prefix("model name")?
            .split_once(':')
            .map(|(_, v)| v.trim().to_string())
    })
}

pub fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if x < 0.0 {
        out.insert(0, '-');
    }
    out
}
