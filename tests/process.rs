//! Child processes: real programs (`true`, `false`, `cat`, `sh`, `sleep`), their pipes, their exit
//! statuses, killing, and that every child is reaped (no zombie is left behind).
//!
//! Tests run in parallel threads of one process, so "no zombies" is checked per pid: a pid we
//! spawned must not linger in `/proc` as our child once it should have been reaped.

mod util;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::process::{Command, Stdio};
use evloop::EventLoop;

/// Generous bound for one test's loop, so a hang fails instead of blocking the run.
const LIMIT: Duration = Duration::from_secs(60);

/// Runs `f` on a fresh loop, failing the test if it takes longer than [`LIMIT`].
fn run<F: std::future::Future>(f: F) -> F::Output {
    let lp = EventLoop::new().unwrap();
    lp.block_on(evloop::time::timeout(LIMIT, f))
        .expect("the test's loop ran past its time limit")
}

/// Whether `pid` is still a process of ours that has not been reaped (running or a zombie).
fn unreaped(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) state ppid ...": comm may contain spaces or parentheses, so split at the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id())
}

/// Whether `pid` is a zombie child of ours (exited, not reaped).
fn zombie(pid: u32) -> bool {
    unreaped(pid)
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
}

/// Waits (sleeping the loop's thread between checks, at most [`LIMIT`]) until `pid` is reaped.
async fn until_reaped(pid: u32) {
    let mut waited = Duration::ZERO;
    while unreaped(pid) {
        assert!(waited < LIMIT, "child {pid} was never reaped");
        evloop::time::sleep(Duration::from_millis(5)).await;
        waited += Duration::from_millis(5);
    }
}

/// Blocks the thread (no loop running) until `pid` is reaped.
fn until_reaped_blocking(pid: u32) {
    let mut waited = Duration::ZERO;
    while unreaped(pid) {
        assert!(waited < LIMIT, "child {pid} was never reaped");
        std::thread::sleep(Duration::from_millis(5));
        waited += Duration::from_millis(5);
    }
}

#[test]
fn true_and_false_report_their_status() {
    run(async {
        let ok = Command::new("true").status().await.unwrap();
        assert!(ok.success());
        assert_eq!(ok.code(), Some(0));
        let failed = Command::new("false").status().await.unwrap();
        assert!(!failed.success());
        assert_eq!(failed.code(), Some(1));
    });
}

#[test]
fn exit_code_of_a_shell() {
    run(async {
        let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        let pid = child.id().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), Some(3));
        // Reaped: the id is gone, and waiting again gives the same status at once.
        assert_eq!(child.id(), None);
        assert_eq!(child.wait().await.unwrap().code(), Some(3));
        assert_eq!(child.try_wait().unwrap().map(|s| s.code()), Some(Some(3)));
        assert!(!unreaped(pid));
    });
}

#[test]
fn output_collects_stdout_and_stderr() {
    run(async {
        let out = Command::new("sh")
            .args(["-c", "echo err >&2"])
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"");
        assert_eq!(out.stderr, b"err\n");

        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 7"])
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(7));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    });
}

#[test]
fn output_reads_both_pipes_at_once() {
    // 256 KiB to each stream, more than a pipe holds: reading one after the other would stall.
    run(async {
        let script = "head -c 262144 /dev/zero; head -c 262144 /dev/zero >&2; echo done >&2";
        let out = Command::new("sh")
            .args(["-c", script])
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), 262_144);
        assert_eq!(out.stderr.len(), 262_144 + 5);
        assert!(out.stderr.ends_with(b"done\n"));
    });
}

#[test]
fn cat_echoes_one_mebibyte_byte_for_byte() {
    let data = util::Rng::new(7).bytes(1 << 20);
    let expected = data.clone();
    run(async move {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // Write in one task and read in another: cat's pipes hold far less than 1 MiB.
        let writer = evloop::spawn(async move {
            stdin.write_all(&data).await.unwrap();
            stdin.shutdown().await.unwrap();
            // Shut down: later writes fail instead of reaching a closed descriptor.
            let err = stdin.write(b"late").await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
        });
        let mut got = Vec::with_capacity(1 << 20);
        stdout.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "cat's output differs from its input");
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn writing_to_a_child_that_exited_is_broken_pipe() {
    run(async {
        let mut child = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        assert!(child.wait().await.unwrap().success());
        // Rust programs ignore SIGPIPE: the write fails with EPIPE. More than a pipe holds, so
        // that the write cannot complete even while a child that another test is forking holds
        // the read end until its `exec` (64 KiB could fit in the pipe's buffer meanwhile).
        let err = stdin.write_all(&vec![0; 1 << 20]).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn wait_with_output_closes_stdin() {
    run(async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(b"line\n")
            .await
            .unwrap();
        // cat ends only when its stdin does: wait_with_output must close it.
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"line\n");
    });
}

#[test]
fn environment_and_working_directory() {
    run(async {
        // An inherited variable (the test's own environment is left alone: tests run in threads).
        let out = Command::new("sh")
            .args(["-c", "echo $A-$B-${HOME:-no}-$PWD"])
            .env("A", "1")
            .envs([("B", "2")])
            .env("HOME", "/home/someone")
            .env_remove("HOME")
            .current_dir("/")
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"1-2-no-/\n");

        let out = Command::new("/bin/sh")
            .args(["-c", "echo ${HOME:-unset}"])
            .env_clear()
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"unset\n");

        let out = Command::new("sh")
            .args(["-c", "echo ${A:-no}"])
            .env("A", "set")
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"set\n");
        if let Some(path) = std::env::var_os("PATH") {
            let out = Command::new("sh")
                .args(["-c", "printf %s \"$PATH\""])
                .output()
                .await
                .unwrap();
            assert_eq!(out.stdout, path.as_encoded_bytes(), "PATH is inherited");
        }
    });
}

#[test]
fn a_missing_program_is_not_found() {
    run(async {
        let err = Command::new("/nonexistent/evloop-no-such-program")
            .spawn()
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    });
}

#[test]
fn spawning_needs_a_loop() {
    let err = Command::new("true").spawn().unwrap_err();
    assert!(err.to_string().contains("no event loop"), "{err}");
}

#[test]
fn kill_stops_a_sleeper() {
    run(async {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id().unwrap();
        assert!(child.try_wait().unwrap().is_none());
        child.kill().await.unwrap();
        assert_eq!(child.id(), None);
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(!unreaped(pid));
        // Killing a reaped child does nothing.
        child.start_kill().unwrap();
        child.kill().await.unwrap();
    });
}

#[test]
fn start_kill_then_wait() {
    run(async {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    });
}

#[test]
fn kill_on_drop_kills_and_reaps() {
    run(async {
        let child = Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        drop(child);
        // The loop's watcher on the pidfd reaps it (it is running: this task sleeps on a timer).
        until_reaped(pid).await;
    });
}

#[test]
fn a_dropped_child_runs_on_and_is_reaped_by_the_loop() {
    run(async {
        let mut marker = std::env::temp_dir();
        marker.push(format!("evloop-process-test-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("sleep 0.05; echo ran > '{}'", marker.display()))
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        drop(child);
        until_reaped(pid).await;
        // Not killed: it ran to its end.
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "ran\n");
        let _ = std::fs::remove_file(&marker);
    });
}

#[test]
fn a_dropped_child_does_not_keep_the_loop_alive_and_is_reaped_after_the_loop() {
    let lp = EventLoop::new().unwrap();
    let pid = lp.block_on(async {
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        child.id().unwrap()
    });
    // The orphan's watcher is unreferenced: `run` has nothing to wait for.
    lp.run().unwrap();
    assert!(unreaped(pid), "the sleeper was not left running");
    // The loop goes away before the child exits: a reaper thread takes over.
    drop(lp);
    // SAFETY: `kill` has no memory-safety preconditions; `pid` is our child, not yet reaped (so
    // not recycled).
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    until_reaped_blocking(pid);
}

#[test]
fn a_child_dropped_after_it_exited_is_reaped_at_once() {
    run(async {
        let child = Command::new("true").spawn().unwrap();
        let pid = child.id().unwrap();
        // Wait for the exit without reaping: the pid shows as a zombie of ours.
        let mut waited = Duration::ZERO;
        while !zombie(pid) {
            assert!(waited < LIMIT);
            evloop::time::sleep(Duration::from_millis(2)).await;
            waited += Duration::from_millis(2);
        }
        assert!(child.id().is_some());
        drop(child);
        assert!(!unreaped(pid), "the exited child was not reaped on drop");
    });
}

/// Raises the soft open-files limit to the hard limit (200 pidfds and pipes at once).
fn raise_nofile_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 && lim.rlim_cur < lim.rlim_max
    {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit; raising the soft limit up to the hard one is allowed.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
}

#[test]
fn two_hundred_children_at_once_are_all_reaped_with_their_statuses() {
    raise_nofile_limit();
    run(async {
        let mut children = Vec::new();
        for n in 0..200u32 {
            let mut cmd = if n % 2 == 0 {
                Command::new("true")
            } else {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("exit {}", n % 256));
                c
            };
            // Half of them with a piped stdout too, for the descriptors.
            if n % 4 == 1 {
                cmd.stdout(Stdio::piped());
            }
            children.push((n, cmd.spawn().unwrap()));
        }
        let pids: Vec<u32> = children.iter().map(|(_, c)| c.id().unwrap()).collect();
        let tasks: Vec<_> = children
            .into_iter()
            .map(|(n, mut child)| {
                evloop::spawn(async move {
                    if let Some(mut out) = child.stdout.take() {
                        let mut buf = Vec::new();
                        out.read_to_end(&mut buf).await.unwrap();
                        assert!(buf.is_empty());
                    }
                    (n, child.wait().await.unwrap())
                })
            })
            .collect();
        for task in tasks {
            let (n, status) = task.await.unwrap();
            let expected = if n % 2 == 0 { 0 } else { (n % 256) as i32 };
            assert_eq!(status.code(), Some(expected), "child {n}");
        }
        for pid in pids {
            assert!(!unreaped(pid), "child {pid} was left unreaped");
        }
    });
}

#[test]
fn two_hundred_dropped_children_are_all_reaped() {
    raise_nofile_limit();
    run(async {
        let mut pids = Vec::new();
        for n in 0..200 {
            let child = Command::new("sh")
                .arg("-c")
                .arg(format!("exit {}", n % 3))
                .spawn()
                .unwrap();
            pids.push(child.id().unwrap());
        }
        for pid in pids {
            until_reaped(pid).await;
        }
    });
}

#[test]
fn children_of_several_tasks_interleave() {
    // The loop keeps serving other tasks while children run.
    run(async {
        let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let t = ticks.clone();
        let ticker = evloop::spawn(async move {
            for _ in 0..5 {
                evloop::time::sleep(Duration::from_millis(1)).await;
                t.set(t.get() + 1);
            }
        });
        let status = Command::new("sleep").arg("0.1").status().await.unwrap();
        assert!(status.success());
        ticker.await.unwrap();
        assert_eq!(ticks.get(), 5);
    });
}

#[test]
fn children_held_by_tasks_are_reaped_when_the_loop_is_dropped() {
    let lp = EventLoop::new().unwrap();
    let (killed, running) = lp.block_on(async {
        let killed = Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let running = Command::new("sleep").arg("30").spawn().unwrap();
        let pids = (killed.id().unwrap(), running.id().unwrap());
        // Two tasks that never finish, each holding a child (their handles dropped: detached); the
        // loop drops them with itself.
        for mut child in [killed, running] {
            evloop::spawn(async move {
                let _ = child.wait().await;
                unreachable!("the sleepers are not woken before the loop goes");
            });
        }
        pids
    });
    lp.run_nowait().unwrap();
    drop(lp);
    // Killed on drop: reaped without help. The other runs on, and is reaped once it exits.
    until_reaped_blocking(killed);
    assert!(unreaped(running));
    // SAFETY: `kill` has no memory-safety preconditions; `running` is our child, not yet reaped.
    assert_eq!(
        unsafe { libc::kill(running as libc::pid_t, libc::SIGKILL) },
        0
    );
    until_reaped_blocking(running);
}
