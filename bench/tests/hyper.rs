//! hyper on evloop (feature `hyper`): a server built with `evloop::interop::hyper::server()` on a
//! loop thread, driven by hyper's own clients on tokio (an independent implementation of the other
//! side): HTTP/1.1 keep-alive over TCP and Unix sockets, HTTP/2 with concurrent streams (spawned by
//! the executor), bodies checked byte for byte, and the header-read timeout (the timer) closing a
//! stalled connection. Then `EvloopSleep` itself: `Send + Sync`, a clear panic when polled off its
//! loop's thread, its timer removed when dropped on another thread, and `reset`.
//!
//! Loopback and a socket file in a fresh temp dir only; every wait is bounded by a watchdog, and
//! nothing asserts on timing.

// Some tests carry a sleep out of `block_on` on purpose, to poll or drop it elsewhere.
#![allow(clippy::async_yields_async)]

#[path = "../../tests/util/mod.rs"]
mod util;

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::rt::Timer;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use evloop::interop::hyper::{server, EvloopSleep, EvloopTimer};
use evloop::net::{TcpListener, UnixListener};
use evloop::EventLoop;
use util::net::TempDir;
use util::{watchdog, Rng};

/// `len` bytes of a pattern that shows any shifted or dropped byte.
fn body_of(len: usize) -> String {
    (0..len)
        .map(|i| char::from(b'a' + (i % 23) as u8))
        .collect()
}

/// `/len/N` answers N bytes; anything else, `hello`.
async fn respond(req: Request<Incoming>) -> Result<Response<String>, Infallible> {
    let path = req.uri().path();
    let body = match path.strip_prefix("/len/") {
        Some(n) => body_of(n.parse().unwrap()),
        None => "hello".to_string(),
    };
    Ok(Response::new(body))
}

/// A stream hyper can serve (TCP or Unix), boxed so one server serves both.
trait ServeIo: hyper::rt::Read + hyper::rt::Write + Unpin {}
impl<T: hyper::rt::Read + hyper::rt::Write + Unpin> ServeIo for T {}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    async fn accept(&self) -> Box<dyn ServeIo> {
        match self {
            Listener::Tcp(l) => Box::new(l.accept().await.unwrap().0),
            Listener::Unix(l) => Box::new(l.accept().await.unwrap().0),
        }
    }
}

/// Serves `conns` connections on a loop of its own thread, the listener made there by `bind`;
/// returns how many it served, once they all closed.
fn serve_on_thread(
    bind: impl FnOnce() -> Listener + Send + 'static,
    conns: usize,
) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        lp.block_on(async move {
            let listener = bind();
            let tracker = evloop::task::TaskTracker::new();
            let http = Rc::new({
                let mut b = server();
                b.http1().header_read_timeout(Duration::from_millis(200));
                b
            });
            for _ in 0..conns {
                let io = listener.accept().await;
                let http = http.clone();
                tracker.spawn(async move {
                    let _ = http.serve_connection(io, service_fn(respond)).await;
                });
            }
            tracker.close();
            tracker.wait().await;
            conns
        })
    })
}

fn tcp_server(conns: usize) -> (SocketAddr, thread::JoinHandle<usize>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = serve_on_thread(
        move || {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            Listener::Tcp(l)
        },
        conns,
    );
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the server's address");
    (addr, server)
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::builder()
        .uri(path)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap()
}

/// Sends the requests one after another on one HTTP/1.1 connection over `io`, checking each body.
async fn keep_alive_requests<I>(io: I, lens: &[usize])
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    for &len in lens {
        let response = sender
            .send_request(get(&format!("/len/{len}")))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), len);
        assert!(body == body_of(len).as_bytes(), "a {len}-byte body differs");
    }
    drop(sender);
    conn.await.unwrap().unwrap();
}

fn random_lens(seed: u64, n: usize) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| match i % 4 {
            0 => 16 * 1024,
            1 => 0,
            _ => rng.range(1, 300_000),
        })
        .collect()
}

#[test]
fn http1_keep_alive_serves_many_requests_on_one_tcp_connection() {
    let _wd = watchdog("hyper_http1_tcp", 120);
    let (addr, server) = tcp_server(1);
    tokio_rt().block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        keep_alive_requests(stream, &random_lens(1, 60)).await;
    });
    // One connection carried every request (the server accepted exactly one, and finished).
    assert_eq!(server.join().unwrap(), 1);
}

#[test]
fn http1_over_a_unix_socket() {
    let _wd = watchdog("hyper_http1_unix", 120);
    let dir = TempDir::new("hyper");
    let path = dir.path("http.sock");
    let bind_path = path.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = serve_on_thread(
        move || {
            let l = UnixListener::bind(&bind_path).unwrap();
            tx.send(()).unwrap();
            Listener::Unix(l)
        },
        1,
    );
    rx.recv_timeout(Duration::from_secs(20)).expect("bound");
    tokio_rt().block_on(async {
        let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
        keep_alive_requests(stream, &random_lens(2, 30)).await;
    });
    assert_eq!(server.join().unwrap(), 1);
}

#[test]
fn http2_serves_concurrent_streams_on_one_connection() {
    let _wd = watchdog("hyper_http2", 120);
    let (addr, server) = tcp_server(1);
    tokio_rt().block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        let conn = tokio::spawn(conn);
        let lens = random_lens(3, 40);
        let requests: Vec<_> = lens
            .iter()
            .map(|&len| {
                let mut sender = sender.clone();
                tokio::spawn(async move {
                    let response = sender
                        .send_request(get(&format!("http://localhost/len/{len}")))
                        .await
                        .unwrap();
                    assert_eq!(response.version(), hyper::Version::HTTP_2);
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    (len, body)
                })
            })
            .collect();
        for request in requests {
            let (len, body) = request.await.unwrap();
            assert_eq!(body.len(), len);
            assert!(body == body_of(len).as_bytes(), "a {len}-byte body differs");
        }
        drop(sender);
        conn.await.unwrap().unwrap();
    });
    assert_eq!(server.join().unwrap(), 1);
}

#[test]
fn the_header_read_timeout_closes_a_stalled_connection() {
    let _wd = watchdog("hyper_header_timeout", 60);
    let (addr, server) = tcp_server(1);
    tokio_rt().block_on(async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Half a request, and then nothing: the server's timer must end it.
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: lo")
            .await
            .unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        let rest = String::from_utf8_lossy(&rest);
        assert!(
            rest.is_empty() || rest.starts_with("HTTP/1.1 408"),
            "unexpected answer to a stalled request: {rest}"
        );
    });
    assert_eq!(server.join().unwrap(), 1);
}

// ---------------------------------------------------------------------------------------------
// EvloopSleep

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn evloop_sleep_is_send_and_sync() {
    assert_send_sync::<EvloopSleep>();
    assert_send_sync::<EvloopTimer>();
    assert_send_sync::<std::pin::Pin<Box<dyn hyper::rt::Sleep>>>();
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let waker = util::noop_waker();
    f.poll(&mut std::task::Context::from_waker(&waker))
}

#[test]
fn a_sleep_polled_off_its_loops_thread_panics_with_a_message() {
    let lp = EventLoop::new().unwrap();
    let sleep = lp.block_on(async { EvloopTimer.sleep(Duration::from_secs(3600)) });
    let panic = thread::spawn(move || {
        let mut sleep = sleep;
        let _ = poll_once(sleep.as_mut());
    })
    .join()
    .expect_err("polled off its thread");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("on a thread other than its event loop's"),
        "{message}"
    );
}

#[test]
fn a_sleep_dropped_on_another_thread_removes_its_timer() {
    let _wd = watchdog("sleep_drop_elsewhere", 60);
    let lp = EventLoop::new().unwrap();
    let sleep = lp.block_on(async {
        let mut sleep = EvloopTimer.sleep(Duration::from_secs(3600));
        // Polled once on the loop: its timer is armed.
        assert!(poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx)))
            .await
            .is_pending());
        sleep
    });
    assert_eq!(lp.pending_counts().0, 1, "the armed timer");
    thread::spawn(move || drop(sleep)).join().unwrap();
    // The removal was posted to the loop: a turn runs it.
    lp.run_nowait().unwrap();
    assert_eq!(lp.pending_counts().0, 0, "the timer outlived its sleep");
}

#[test]
fn a_sleep_dropped_on_its_loop_removes_its_timer_at_once_and_one_left_after_the_loop_is_harmless() {
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let mut sleep = EvloopTimer.sleep(Duration::from_secs(3600));
        assert!(poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx)))
            .await
            .is_pending());
    });
    assert_eq!(lp.pending_counts().0, 0);
    let sleep = lp.block_on(async {
        let mut sleep = EvloopTimer.sleep(Duration::from_secs(3600));
        assert!(poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx)))
            .await
            .is_pending());
        sleep
    });
    drop(lp);
    // Its loop is gone: dropping it, here or elsewhere, does nothing.
    thread::spawn(move || drop(sleep)).join().unwrap();
}

#[test]
fn sleeps_complete_and_reset_moves_the_deadline() {
    let _wd = watchdog("sleep_reset", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        EvloopTimer.sleep(Duration::from_millis(1)).await;
        EvloopTimer
            .sleep_until(Instant::now() + Duration::from_millis(1))
            .await;
        // Armed an hour away, then moved to now: it completes.
        let mut sleep = EvloopTimer.sleep(Duration::from_secs(3600));
        assert!(poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx)))
            .await
            .is_pending());
        EvloopTimer.reset(&mut sleep, Instant::now());
        sleep.as_mut().await;
        // Moved again after it completed: it waits again, then completes.
        EvloopTimer.reset(&mut sleep, Instant::now() + Duration::from_millis(1));
        sleep.await;
    });
    assert_eq!(lp.pending_counts().0, 0);
}

#[test]
fn the_executor_runs_non_send_futures_on_the_loop() {
    use hyper::rt::Executor;
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(std::cell::Cell::new(0));
    lp.block_on(async {
        for _ in 0..10 {
            let seen = seen.clone();
            evloop::interop::hyper::EvloopExecutor.execute(async move {
                evloop::yield_now().await;
                seen.set(seen.get() + 1);
            });
        }
        let mut waited = pin!(async {
            while seen.get() < 10 {
                evloop::yield_now().await;
            }
        });
        waited.as_mut().await;
    });
    assert_eq!(seen.get(), 10);
}

/// Polls `sleep` once inside the loop (it arms), expecting it pending.
async fn arm(sleep: &mut std::pin::Pin<Box<dyn hyper::rt::Sleep>>) {
    assert!(poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx)))
        .await
        .is_pending());
}

#[test]
fn sleeps_in_and_out_of_deadline_order_all_complete_and_never_early() {
    let _wd = watchdog("sleep_lane_order", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let base = Instant::now() + Duration::from_millis(20);
        let ms = Duration::from_millis;
        // In order (the lane), equal deadlines, then earlier ones (timers of their own).
        let deadlines = [
            base + ms(5),
            base + ms(10),
            base + ms(10),
            base + ms(1),
            base + ms(30),
            base + ms(20),
            base,
        ];
        // One more in the lane, dropped before its deadline: it must not disturb the others.
        let mut dropped = EvloopTimer.sleep_until(base + ms(15));
        arm(&mut dropped).await;
        let tasks: Vec<_> = deadlines
            .iter()
            .map(|&d| {
                let mut sleep = EvloopTimer.sleep_until(d);
                evloop::spawn(async move {
                    arm(&mut sleep).await;
                    sleep.await;
                    assert!(Instant::now() >= d, "a sleep completed before its deadline");
                })
            })
            .collect();
        evloop::yield_now().await;
        drop(dropped);
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(lp.pending_counts().0, 0, "a timer outlived the sleeps");
}

#[test]
fn dead_places_behind_a_long_sleep_are_compacted_and_nothing_is_left() {
    let _wd = watchdog("sleep_lane_compaction", 60);
    let lp = EventLoop::new().unwrap();
    lp.block_on(async {
        let mut long = EvloopTimer.sleep(Duration::from_secs(3600));
        arm(&mut long).await;
        // Hundreds of later sleeps come and go behind it, as hyper's header-read timeouts do.
        for _ in 0..1000 {
            let mut s = EvloopTimer.sleep(Duration::from_secs(7200));
            arm(&mut s).await;
        }
        let mut short = EvloopTimer.sleep(Duration::from_millis(1));
        // Earlier than the lane's last deadline: a timer of its own, and it fires.
        arm(&mut short).await;
        short.await;
        drop(long);
    });
    assert_eq!(lp.pending_counts().0, 0);
}

#[test]
fn sleeps_work_on_every_loop_of_a_thread_while_another_lives_and_after_it_is_gone() {
    let _wd = watchdog("sleep_lane_loops", 60);
    let ms = Duration::from_millis;
    let first = EventLoop::new().unwrap();
    first.block_on(async { EvloopTimer.sleep(ms(1)).await });
    // The thread's lane is the first loop's: the second loop's sleeps take timers of their own.
    let second = EventLoop::new().unwrap();
    second.block_on(async {
        EvloopTimer.sleep(ms(1)).await;
        EvloopTimer.sleep(ms(2)).await;
    });
    assert_eq!(second.pending_counts().0, 0);
    drop(second);
    drop(first);
    // The first loop is gone: its lane makes way for the next loop's.
    let third = EventLoop::new().unwrap();
    third.block_on(async {
        let mut a = EvloopTimer.sleep(ms(1));
        let mut b = EvloopTimer.sleep(ms(2));
        arm(&mut a).await;
        arm(&mut b).await;
        b.await;
        a.await;
    });
    assert_eq!(third.pending_counts().0, 0);
}
