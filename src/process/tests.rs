//! The fallback path (no pidfds: `SIGCHLD`), forced on this thread.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::reap::FORCE_FALLBACK;
use super::sigchld::has_hub;
use super::{Command, Stdio};
use crate::io::AsyncRead;
use crate::{EventLoop, Handle};

/// How long a test waits for a child to be reaped before it fails.
const LIMIT: Duration = Duration::from_secs(30);

/// Forces the fallback on this thread while it lives (also when the test panics).
struct Fallback;

impl Fallback {
    fn force() -> Fallback {
        FORCE_FALLBACK.with(|f| f.set(true));
        Fallback
    }
}

impl Drop for Fallback {
    fn drop(&mut self) {
        FORCE_FALLBACK.with(|f| f.set(false));
    }
}

/// The fields of `/proc/PID/stat` after the command name ("state ppid ..."), if `pid` exists.
fn stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": split after the command name, which may contain anything.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Whether `pid` is no longer an unreaped child of ours (gone, or recycled by someone else's).
fn reaped(pid: u32) -> bool {
    stat(pid)
        .is_none_or(|f| f.get(1).and_then(|p| p.parse::<u32>().ok()) != Some(std::process::id()))
}

/// Whether `pid` is a zombie child of ours (exited, not reaped).
fn zombie(pid: u32) -> bool {
    !reaped(pid) && stat(pid).is_some_and(|f| f.first().is_some_and(|s| s == "Z"))
}

/// Waits, letting the loop run, until `pid` is reaped.
async fn until_reaped(pid: u32) {
    let start = Instant::now();
    while !reaped(pid) {
        assert!(start.elapsed() < LIMIT, "child {pid} was not reaped");
        crate::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits, letting the loop run, until the loop's `SIGCHLD` hub has ended (it does once idle).
async fn until_no_hub() {
    let start = Instant::now();
    while has_hub(&Handle::current()) {
        assert!(
            start.elapsed() < LIMIT,
            "the SIGCHLD hub did not end once idle"
        );
        crate::time::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn fallback_reaps_on_sigchld() {
    let _fallback = Fallback::force();
    let lp = EventLoop::new().unwrap();
    lp.block_on(crate::time::timeout(LIMIT, async {
        let status = Command::new("sh")
            .args(["-c", "exit 5"])
            .status()
            .await
            .unwrap();
        assert_eq!(status.code(), Some(5));

        let mut child = Command::new("sh")
            .args(["-c", "read x; echo got $x"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(child.try_wait().unwrap().is_none());
        let mut stdin = child.stdin.take().unwrap();
        crate::io::AsyncWrite::write_all(&mut stdin, b"it\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out, b"got it\n");
        assert!(child.wait().await.unwrap().success());
        assert_eq!(child.id(), None);

        // Waiting goes through the loop's SIGCHLD hub, not the blocking pool.
        let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = sleeper.id().unwrap();
        let waiting = std::future::poll_fn(|cx| {
            assert!(sleeper.poll_wait(cx).is_pending());
            std::task::Poll::Ready(())
        });
        waiting.await;
        assert!(has_hub(&Handle::current()));
        sleeper.kill().await.unwrap();
        assert!(reaped(pid));
        drop(sleeper);
        until_no_hub().await;

        // Dropped while running: an orphan of the hub, reaped on its SIGCHLD while the loop runs.
        let dropped = Command::new("sh")
            .args(["-c", "sleep 0.05"])
            .spawn()
            .unwrap();
        let pid = dropped.id().unwrap();
        assert!(!reaped(pid));
        drop(dropped);
        assert!(has_hub(&Handle::current()));
        until_reaped(pid).await;
        until_no_hub().await;
    }))
    .expect("the test's loop ran past its time limit");
    // The blocking pool was never needed.
    assert!(lp.handle().core.blocking.borrow().is_none());
}

#[test]
fn fallback_reaps_fifty_concurrent_children() {
    let _fallback = Fallback::force();
    let lp = EventLoop::new().unwrap();
    let pids = lp.block_on(async {
        let mut tasks = Vec::new();
        let mut pids = Vec::new();
        for i in 0..50u32 {
            // Staggered exits: some SIGCHLDs coalesce, some come alone.
            let script = format!("sleep 0.0{}; exit {}", i % 10, i + 1);
            let mut child = Command::new("sh").args(["-c", &script]).spawn().unwrap();
            pids.push(child.id().unwrap());
            tasks.push(crate::spawn(async move {
                let status = child.wait().await.unwrap();
                assert_eq!(child.id(), None);
                status
            }));
        }
        for (i, (task, &pid)) in tasks.into_iter().zip(&pids).enumerate() {
            let status = crate::time::timeout(LIMIT, task)
                .await
                .expect("a child was never reaped")
                .unwrap();
            assert_eq!(status.code(), Some(i as i32 + 1), "child {pid}");
        }
        until_no_hub().await;
        pids
    });
    for pid in pids {
        assert!(!zombie(pid), "child {pid} is a zombie");
        assert!(reaped(pid), "child {pid} was not reaped");
    }
}

#[test]
fn fallback_orphans_are_reaped_without_keeping_the_loop_alive() {
    let _fallback = Fallback::force();
    let lp = EventLoop::new().unwrap();
    let pids: Vec<u32> = lp.block_on(async {
        (0..10)
            .map(|i| {
                let script = format!("sleep 0.{}", i % 3 + 2);
                let child = Command::new("sh").args(["-c", &script]).spawn().unwrap();
                child.id().unwrap()
                // dropped here, running
            })
            .collect()
    });
    // The orphans and the SIGCHLD listener do not keep `run` going.
    lp.run().unwrap();
    assert!(pids.iter().any(|&pid| !reaped(pid)));
    lp.block_on(async {
        for &pid in &pids {
            until_reaped(pid).await;
        }
        until_no_hub().await;
    });
    for pid in pids {
        assert!(!zombie(pid), "child {pid} is a zombie");
    }

    // A waiting child keeps `run` going until it is reaped.
    let status = Rc::new(Cell::new(None));
    let seen = status.clone();
    // Spawned outside `block_on`: the loop is this thread's current one.
    let mut child = Command::new("sh")
        .args(["-c", "sleep 0.1; exit 9"])
        .spawn()
        .unwrap();
    lp.spawn(async move { seen.set(child.wait().await.unwrap().code()) });
    // A time limit that does not itself keep the loop alive.
    let limit = lp.handle().call_later(LIMIT, |h| h.stop());
    lp.handle().set_timer_keep_alive(limit, false);
    lp.run().unwrap();
    assert_eq!(status.get(), Some(9));
}

#[test]
fn fallback_orphans_outliving_their_loop_are_reaped_by_threads() {
    let _fallback = Fallback::force();
    let lp = EventLoop::new().unwrap();
    let pid = lp.block_on(async {
        let child = Command::new("sleep").arg("0.2").spawn().unwrap();
        let pid = child.id().unwrap();
        drop(child);
        pid
    });
    assert!(!reaped(pid));
    drop(lp);
    let start = Instant::now();
    while !reaped(pid) {
        assert!(start.elapsed() < LIMIT, "child {pid} was not reaped");
        std::thread::sleep(Duration::from_millis(5));
    }
}
