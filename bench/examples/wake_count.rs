//! N wakes of an idle loop's task from another thread, for counting the cross-thread wake path's
//! instructions under callgrind (run it with N and with 0, and subtract).
//!
//! Run it:   cargo build --release -p evloop-bench --example wake_count
//!           valgrind --tool=callgrind target/release/examples/wake_count 100000   (then with 0)

use std::future::poll_fn;
use std::sync::mpsc;
use std::task::Poll;

fn main() {
    let n: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: wake_count N");
            std::process::exit(2);
        }
    };
    let lp = evloop::EventLoop::new().expect("event loop");
    let (tx, rx) = mpsc::channel();
    let task = lp.spawn(poll_fn(move |cx| {
        let _ = tx.send(cx.waker().clone());
        Poll::<()>::Pending
    }));
    lp.run_once().expect("one turn");
    drop(task); // detached: it stays pending in the loop
    let waker = rx.recv().expect("the task's waker");
    std::thread::spawn(move || {
        for _ in 0..n {
            waker.wake_by_ref();
        }
    })
    .join()
    .expect("the waking thread");
}
