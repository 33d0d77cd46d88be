//! A `LoopSet` shuts every loop down on SIGTERM, which only the set's coordinator listens for.
//! Alone in its test binary: the signal goes to the whole process.

mod util;

use std::sync::mpsc;

use evloop::LoopSet;
use util::watchdog;

#[test]
fn sigterm_shuts_every_loop_down_gracefully() {
    let _dog = watchdog("sigterm loop set", 60);
    let n = 3;
    let (ready_tx, ready_rx) = mpsc::channel::<usize>();
    let killer = std::thread::spawn(move || {
        // Every loop is in its setup future, so the listeners (installed before any loop
        // started) are in place.
        for _ in 0..n {
            ready_rx.recv().unwrap();
        }
        // SAFETY: `kill` takes no pointers; our own pid and a valid signal number.
        assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGTERM) }, 0);
    });
    let stopped = LoopSet::new()
        .loops(n)
        .run(|ctx| {
            let ready = ready_tx.clone();
            async move {
                ready.send(ctx.index()).unwrap();
                ctx.shutdown_token().cancelled().await;
                // Still a working loop during the graceful part of the shutdown.
                evloop::time::sleep(std::time::Duration::from_millis(1)).await;
                Ok(ctx.index() * 10)
            }
        })
        .unwrap();
    killer.join().unwrap();
    assert_eq!(stopped, [0, 10, 20]);
}
