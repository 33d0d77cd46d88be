//! The fallback path (no pidfds), forced on this thread.

use super::reap::FORCE_FALLBACK;
use super::{Command, Stdio};
use crate::io::AsyncRead;
use crate::EventLoop;

/// Whether `pid` is no longer an unreaped child of ours (gone, or recycled by someone else's).
fn reaped(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // "pid (comm) state ppid ...": split after the command name, which may contain anything.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ppid = rest
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u32>().ok());
    ppid != Some(std::process::id())
}

#[test]
fn fallback_waits_on_the_blocking_pool() {
    FORCE_FALLBACK.with(|f| f.set(true));
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
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

        let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
        sleeper.kill().await.unwrap();

        // Dropped while running: a reaper thread waits for it.
        let dropped = Command::new("sh")
            .args(["-c", "sleep 0.05"])
            .spawn()
            .unwrap();
        let pid = dropped.id().unwrap();
        assert!(!reaped(pid));
        drop(dropped);
        let mut tries = 0;
        while !reaped(pid) {
            tries += 1;
            assert!(tries < 3000, "child {pid} was not reaped");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    });
    FORCE_FALLBACK.with(|f| f.set(false));
}
