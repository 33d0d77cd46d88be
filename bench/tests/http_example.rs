//! `examples/http.rs` (evloop's hyper server) run as a child process and driven by hyper's own
//! clients on tokio: hello world, the 16 KiB body byte for byte and a 404, all on one keep-alive
//! HTTP/1.1 connection; concurrent HTTP/2 streams; and the graceful shutdown on SIGTERM (`shutting
//! down`, an idle keep-alive connection and an HTTP/2 connection both closed by the server, new
//! connects refused, exit status 0).
//!
//! Loopback only; every wait is bounded (a watchdog aborts a hang), nothing asserts on timing. The
//! example is built by `cargo test --workspace` (the bench crate turns evloop's `hyper` feature
//! on); with a filter, build it first with `cargo build --workspace --examples`.

#[path = "../../tests/util/mod.rs"]
mod util;

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};

use util::example::{assert_refused, Program};
use util::watchdog;

/// What the example serves at `/16k`: 64 lines of 255 characters and a newline.
fn body_16k() -> Vec<u8> {
    let line = format!("{}\n", "0123456789abcdef".repeat(16).split_at(255).0);
    line.repeat(64).into_bytes()
}

fn get(uri: String) -> Request<Empty<Bytes>> {
    Request::builder()
        .uri(uri)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

type H1 = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;
type H2 = hyper::client::conn::http2::SendRequest<Empty<Bytes>>;

async fn h1_connect(addr: SocketAddr) -> (H1, tokio::task::JoinHandle<hyper::Result<()>>) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    (sender, tokio::spawn(conn))
}

async fn h2_connect(addr: SocketAddr) -> (H2, tokio::task::JoinHandle<hyper::Result<()>>) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    (sender, tokio::spawn(conn))
}

async fn body_of(response: hyper::Response<hyper::body::Incoming>) -> Vec<u8> {
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

#[test]
fn the_http_example_serves_http1_keep_alive_and_http2() {
    let _wd = watchdog("http_example", 120);
    let program = Program::serve("http", &[]);
    let addr = program.addr();
    tokio_rt().block_on(async {
        let (mut h1, conn) = h1_connect(addr).await;
        for round in 0..20 {
            let hello = h1.send_request(get("/".into())).await.unwrap();
            assert_eq!(hello.status(), StatusCode::OK);
            assert_eq!(hello.headers()["content-type"], "text/plain");
            assert_eq!(body_of(hello).await, b"Hello, world!\n", "round {round}");
            let big = h1.send_request(get("/16k".into())).await.unwrap();
            assert_eq!(big.headers()["content-length"], "16384");
            assert!(
                body_of(big).await == body_16k(),
                "round {round}: the 16 KiB body differs"
            );
        }
        let missing = h1.send_request(get("/nope".into())).await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        body_of(missing).await;
        // Every request went over this one connection: it is still open until we let go.
        assert!(!conn.is_finished());
        drop(h1);
        conn.await.unwrap().unwrap();

        let (h2, conn) = h2_connect(addr).await;
        let streams: Vec<_> = (0..32)
            .map(|i| {
                let mut h2 = h2.clone();
                tokio::spawn(async move {
                    let path = if i % 2 == 0 { "/16k" } else { "/" };
                    let r = h2
                        .send_request(get(format!("http://localhost{path}")))
                        .await
                        .unwrap();
                    assert_eq!(r.version(), Version::HTTP_2);
                    (path, body_of(r).await)
                })
            })
            .collect();
        for s in streams {
            let (path, body) = s.await.unwrap();
            if path == "/" {
                assert_eq!(body, b"Hello, world!\n");
            } else {
                assert!(body == body_16k(), "an HTTP/2 16 KiB body differs");
            }
        }
        drop(h2);
        conn.await.unwrap().unwrap();
    });
    drop(program);
}

#[test]
fn the_http_example_closes_its_connections_gracefully_on_sigterm() {
    let _wd = watchdog("http_example_shutdown", 120);
    let mut program = Program::serve("http", &["--grace", "60"]);
    let addr = program.addr();
    let rt = tokio_rt();
    let (h1_conn, h2_conn) = rt.block_on(async {
        let (mut h1, h1_conn) = h1_connect(addr).await;
        let r = h1.send_request(get("/".into())).await.unwrap();
        assert_eq!(body_of(r).await, b"Hello, world!\n");
        let (mut h2, h2_conn) = h2_connect(addr).await;
        let r = h2
            .send_request(get("http://localhost/".into()))
            .await
            .unwrap();
        assert_eq!(body_of(r).await, b"Hello, world!\n");
        // Both stay open and idle, their senders kept alive in the tasks.
        let h1_conn = tokio::spawn(async move {
            let r = h1_conn.await;
            drop(h1);
            r
        });
        let h2_conn = tokio::spawn(async move {
            let r = h2_conn.await;
            drop(h2);
            r
        });
        (h1_conn, h2_conn)
    });
    program.sigterm();
    program.wait_for("`shutting down`", |l| l == "shutting down");
    rt.block_on(async {
        // The server ends both: the idle keep-alive connection is closed, HTTP/2 gets a GOAWAY.
        h1_conn.await.unwrap().unwrap().unwrap();
        h2_conn.await.unwrap().unwrap().unwrap();
    });
    assert_refused(addr);
    program.assert_exits_0();
}
