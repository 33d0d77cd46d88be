//! The recipe for tokio-bound libraries (feature `tokio-rt`): `TokioThread` runs a tokio runtime
//! beside the loop. A tokio-bound client (tokio's own sockets and timers, which panic outside a
//! tokio runtime) runs there and talks over loopback to a server on the evloop loop, while the
//! loop awaits its result; dropping the thread cancels what still runs on it.
//!
//! Loopback only; every wait is bounded by a watchdog.

#[path = "../../tests/util/mod.rs"]
mod util;

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use evloop::interop::TokioThread;
use evloop::net::TcpListener;
use evloop::EventLoop;
use util::{watchdog, Rng};

/// What a tokio-bound library does: tokio's sockets and timers, which need tokio's reactor.
async fn tokio_bound_echo_client(addr: SocketAddr, payload: Vec<u8>) -> std::io::Result<Vec<u8>> {
    // (In a function of its own: with the `tokio-io` feature, evloop's streams have both the
    // tokio and the evloop methods, so only one set of traits may be in scope.)
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    tokio::time::sleep(Duration::from_millis(1)).await;
    stream.write_all(&payload).await?;
    stream.shutdown().await?;
    let mut back = Vec::new();
    stream.read_to_end(&mut back).await?;
    Ok(back)
}

/// An echo server on the current evloop loop for `conns` connections.
async fn evloop_echo_server(listener: TcpListener, conns: usize) {
    use evloop::io::{AsyncRead, AsyncWrite};
    for _ in 0..conns {
        let (mut stream, _) = listener.accept().await.unwrap();
        evloop::spawn(async move {
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => stream.write_all(&buf[..n]).await.unwrap(),
                }
            }
            stream.shutdown().await.unwrap();
        });
    }
}

#[test]
fn a_tokio_bound_client_runs_beside_the_loop_and_talks_to_its_server() {
    let _wd = watchdog("tokio_thread_client", 60);
    let tokio = TokioThread::start().unwrap();
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The loop must keep serving while this task waits for the tokio side: both run at once.
        evloop::spawn(evloop_echo_server(listener, 3));
        let jobs: Vec<_> = (0..3)
            .map(|i| {
                let payload = Rng::new(i + 1).bytes(100_000 * (i as usize + 1));
                let handle = tokio.spawn(tokio_bound_echo_client(addr, payload.clone()));
                (payload, handle)
            })
            .collect();
        for (payload, handle) in jobs {
            let back = handle.await.expect("the tokio task").expect("the echo");
            assert!(back == payload, "the echo differs");
        }
    });
}

#[test]
fn the_same_client_panics_on_the_loop_without_the_tokio_thread() {
    let _wd = watchdog("tokio_thread_needed", 60);
    let lp = EventLoop::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        lp.block_on(tokio_bound_echo_client(addr, vec![1]))
    }));
    let panic = result.expect_err("tokio's socket outside a tokio runtime");
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("");
    assert!(message.contains("no reactor running"), "{message}");
}

#[test]
fn dropping_the_thread_cancels_what_still_runs_there() {
    let _wd = watchdog("tokio_thread_drop", 60);
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let tokio = TokioThread::start().unwrap();
    assert!(format!("{tokio:?}").contains("CurrentThread"));
    let flag = Flag(dropped.clone());
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let handle = tokio.spawn(async move {
        let _flag = flag;
        let _ = started_tx.send(());
        std::future::pending::<()>().await;
    });
    started_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the task started");
    drop(tokio);
    assert!(dropped.load(Ordering::SeqCst), "the task was not dropped");
    let lp = EventLoop::new().unwrap();
    let joined = lp.block_on(handle);
    assert!(joined.expect_err("cancelled").is_cancelled());
}

#[test]
fn a_runtime_built_by_the_caller_runs_there_too() {
    let _wd = watchdog("tokio_thread_with_runtime", 60);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let tokio = TokioThread::with_runtime(rt).unwrap();
    let lp = EventLoop::new().unwrap();
    let name = lp.block_on(tokio.spawn(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        std::thread::current().name().map(String::from)
    }));
    assert_eq!(name.unwrap().as_deref(), Some("evloop-tokio"));
    // The handle works from plain threads as well.
    assert_eq!(tokio.handle().block_on(async { 7 }), 7);
}
