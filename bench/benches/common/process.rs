//! Running the example servers and the load generator as processes, for the end-to-end benches:
//! start a server (pinned, optionally under callgrind), run `echo_load`, read its `RESULT` line,
//! read callgrind's total.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::{first_line, listening_addr, signal, wait_timeout};

pub fn have_taskset() -> bool {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    cpus >= 2
        && Command::new("taskset")
            .args(["-c", "1", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

pub fn have_valgrind() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running server process.
pub struct Server {
    pub child: Child,
    pub addr: String,
    /// Its stderr, collected until it exits (under callgrind only; otherwise inherited).
    pub stderr: Option<mpsc::Receiver<String>>,
}

/// Starts the example server at `path` with `args` after `--addr 127.0.0.1:0`, pinned to CPU 0 if
/// `pin`; under callgrind when `callgrind` names its output file.
pub fn start_server(
    path: &Path,
    args: &[&str],
    pin: bool,
    callgrind: Option<&Path>,
) -> Result<Server, String> {
    let program = path.display().to_string();
    let mut all = vec!["--addr", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let (mut child, stderr) = spawn(&program, &all, pin, callgrind)?;
    let Some(line) = first_line(&mut child, startup_limit(callgrind)) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("{} did not print `listening on`", path.display()));
    };
    let addr = listening_addr(&line)
        .ok_or_else(|| format!("unexpected first line from server: {line:?}"))?;
    Ok(Server {
        child,
        addr,
        stderr,
    })
}

/// How long a server may take to start: callgrind is slow to load a program.
pub fn startup_limit(callgrind: Option<&Path>) -> Duration {
    Duration::from_secs(if callgrind.is_some() { 60 } else { 10 })
}

/// Starts `program` with `args`, pinned to CPU 0 if `pin`, under callgrind when `callgrind` names
/// its output file; stdin closed, stdout piped, stderr collected on a thread under callgrind (for
/// its total) and inherited otherwise. For servers that do not follow the examples' contract
/// (`redis-server`); the examples go through [`start_server`].
pub fn spawn(
    program: &str,
    args: &[&str],
    pin: bool,
    callgrind: Option<&Path>,
) -> Result<(Child, Option<mpsc::Receiver<String>>), String> {
    let mut words: Vec<String> = Vec::new();
    if pin {
        words.extend(["taskset", "-c", "0"].map(String::from));
    }
    if let Some(out) = callgrind {
        words.extend(["valgrind".into(), "--tool=callgrind".into()]);
        words.push(format!("--callgrind-out-file={}", out.display()));
    }
    words.push(program.to_string());
    let mut child = Command::new(&words[0])
        .args(&words[1..])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if callgrind.is_some() {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", words.join(" ")))?;
    let stderr = child.stderr.take().map(|mut err| {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        rx
    });
    Ok((child, stderr))
}

impl Server {
    /// Stops the server with SIGTERM and returns its stderr (if captured).
    pub fn stop(self) -> String {
        self.stop_as("echo", Duration::from_secs(60))
    }

    /// [`Server::stop`], waiting up to `limit` for the exit before killing it, and naming `bench`
    /// if it must.
    pub fn stop_as(mut self, bench: &str, limit: Duration) -> String {
        signal(&self.child, libc::SIGTERM);
        if wait_timeout(&mut self.child, limit).is_none() {
            eprintln!("{bench} bench: server did not exit on SIGTERM; killed");
        }
        self.stderr
            .and_then(|rx| rx.recv_timeout(Duration::from_secs(10)).ok())
            .unwrap_or_default()
    }
}

/// Runs the load generator; returns its RESULT fields, or what went wrong.
pub fn run_load(
    loadgen: &Path,
    pin: bool,
    args: &[String],
    limit: Duration,
) -> Result<HashMap<String, String>, String> {
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]).arg(loadgen);
        c
    } else {
        Command::new(loadgen)
    };
    let mut child = cmd
        .args(args)
        .arg("--quiet")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the load generator: {e}"))?;
    // Read both pipes on threads so that a timeout can still kill the child.
    let take = |r: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            let _ = tx.send(s);
        });
        rx
    };
    let out = take(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = take(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let status = wait_timeout(&mut child, limit);
    let out = out.recv().unwrap_or_default();
    let err = err.recv().unwrap_or_default();
    match status {
        None => return Err(format!("load generator timed out after {limit:?}")),
        Some(s) if !s.success() => {
            return Err(format!("load generator failed ({s}): {}", err.trim()));
        }
        Some(_) => {}
    }
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("no RESULT line from the load generator: {out}"))?;
    Ok(line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

pub fn field(r: &HashMap<String, String>, k: &str) -> f64 {
    r.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn callgrind_total(stderr: &str) -> Option<u64> {
    let num = |s: &str| s.trim().replace(',', "").parse::<u64>().ok();
    stderr
        .lines()
        .find_map(|l| l.split_once("Collected :").and_then(|(_, v)| num(v)))
        .or_else(|| {
            stderr
                .lines()
                .find_map(|l| l.split_once("I   refs:").and_then(|(_, v)| num(v)))
        })
}
