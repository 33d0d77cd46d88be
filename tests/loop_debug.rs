//! Debug mode, seen from outside: this test binary runs itself as a child process (one workload
//! per run) and checks the child's stderr. Under `EVLOOP_DEBUG=1` an entry that blocks the loop
//! for 150 ms (the threshold is 100 ms) gives exactly one warning that names it and where it came
//! from; without the variable, the child prints nothing.
//!
//! `harness = false` (see Cargo.toml): `main` is the parent unless the environment variable
//! `EVLOOP_DEBUG_TEST_CHILD` names a child workload. The child prints the site it expects on stdout, so the parent checks it
//! against the warning without knowing line numbers.

use std::process::{Command, Stdio};
use std::time::Duration;

const BLOCK: Duration = Duration::from_millis(150);

/// Blocks the loop thread; what debug mode must notice.
fn block() {
    std::thread::sleep(BLOCK);
}

/// A child workload: the site it expects in the warning, printed on stdout.
fn child(which: &str) {
    let lp = evloop::EventLoop::new().unwrap();
    match which {
        "task" => {
            let task = evloop::spawn(async { block() });
            let site = format!("task spawned at {}:{}:", file!(), line!() - 1);
            println!("{site}");
            lp.block_on(task).unwrap();
        }
        "named" => {
            let task = evloop::task::Builder::new().name("blocker");
            let task = task.spawn(async { block() }).unwrap();
            let site = format!("task \"blocker\" spawned at {}:{}:", file!(), line!() - 1);
            println!("{site}");
            lp.block_on(task).unwrap();
        }
        "callback" => {
            lp.call_soon(|_| block());
            let site = format!("callback scheduled at {}:{}:", file!(), line!() - 1);
            println!("{site}");
            lp.run().unwrap();
        }
        "timer" => {
            lp.call_later(Duration::from_millis(1), |_| block());
            let site = format!("timer callback armed at {}:{}:", file!(), line!() - 1);
            println!("{site}");
            lp.run().unwrap();
        }
        "fast" => {
            // Many short entries and a sleep in the poller: nothing to warn about.
            for _ in 0..100 {
                lp.call_soon(|_| {});
            }
            lp.block_on(async {
                evloop::time::sleep(BLOCK).await;
                evloop::spawn(async {}).await.unwrap();
            });
            println!("-");
        }
        other => panic!("unknown child workload {other:?}"),
    }
}

struct Output {
    expected_site: String,
    stderr: String,
}

fn run_child(which: &str, debug: bool) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("EVLOOP_DEBUG_TEST_CHILD", which)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if debug {
        cmd.env("EVLOOP_DEBUG", "1");
    } else {
        cmd.env_remove("EVLOOP_DEBUG");
    }
    let out = cmd.output().expect("run the child");
    assert!(out.status.success(), "child {which} failed: {out:?}");
    Output {
        expected_site: String::from_utf8(out.stdout).unwrap().trim().to_string(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn check_warns(which: &str) {
    let out = run_child(which, true);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{which}: one warning, got: {:?}",
        out.stderr
    );
    let line = lines[0];
    assert!(line.starts_with("evloop: slow: "), "{which}: {line}");
    assert!(
        line.contains(&out.expected_site),
        "{which}: {line:?} does not name {:?}",
        out.expected_site
    );
    assert!(line.contains("held the loop for"), "{which}: {line}");
    assert!(
        line.contains("(debug mode warns at 100 ms)"),
        "{which}: {line}"
    );
    // The reported time is at least the time the entry blocked.
    let ms: f64 = line
        .split("held the loop for ")
        .nth(1)
        .and_then(|s| s.split(" ms").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{which}: no duration in {line:?}"));
    assert!(ms >= BLOCK.as_millis() as f64, "{which}: {line}");

    let quiet = run_child(which, false);
    assert_eq!(quiet.stderr, "", "{which} without EVLOOP_DEBUG");
}

fn main() {
    if let Ok(which) = std::env::var("EVLOOP_DEBUG_TEST_CHILD") {
        child(&which);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    for which in ["task", "named", "callback", "timer"] {
        check_warns(which);
        println!("test debug_mode_warns_once_about_a_slow_{which} ... ok");
    }
    for debug in [true, false] {
        let out = run_child("fast", debug);
        assert_eq!(out.stderr, "", "fast entries under debug={debug}");
    }
    println!("test debug_mode_is_quiet_about_fast_entries ... ok");
}
