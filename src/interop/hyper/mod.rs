//! hyper 1.x on evloop (feature `hyper`): [`hyper::rt::Read`]/[`Write`](hyper::rt::Write) for
//! [`TcpStream`] and [`UnixStream`], an [`EvloopExecutor`] that spawns on the loop, an
//! [`EvloopTimer`] whose sleeps are `Send + Sync`, and [`server`], a hyper-util `auto` builder
//! (HTTP/1.1, and HTTP/2 with prior knowledge, on the same port) wired to both.
//!
//! A server in ten lines (here with a client on loopback to show it answering):
//!
//! ```
//! use std::convert::Infallible;
//! use hyper::{body::Incoming, service::service_fn, Request, Response};
//! use evloop::io::{AsyncRead, AsyncWrite};
//! use evloop::net::{TcpListener, TcpStream};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
//!     Ok(Response::new("hello, world\n".to_string()))
//! }
//!
//! async fn serve(listener: TcpListener) -> std::io::Result<()> {
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         evloop::spawn(async move {
//!             let http = evloop::interop::hyper::server();
//!             let _ = http.serve_connection(stream, service_fn(hello)).await;
//!         });
//!     }
//! }
//!
//! let lp = evloop::EventLoop::new()?;
//! lp.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     evloop::spawn(serve(listener));
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await?;
//!     let mut response = Vec::new();
//!     client.read_to_end(&mut response).await?;
//!     let response = String::from_utf8_lossy(&response);
//!     assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
//!     assert!(response.ends_with("\r\n\r\nhello, world\n"), "{response}");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! `examples/http.rs` is the full server: a 16 KiB body, keep-alive, HTTP/2, graceful shutdown.
//!
//! Reads go into hyper's buffer as it is, through [`AsyncRead::poll_read_buf`](crate::io::AsyncRead::poll_read_buf): nothing is
//! zeroed first. Connection futures must run on the loop that accepted their stream (as every
//! evloop socket's), and so must the timer's sleeps: polled elsewhere they panic with a message.
//!
//! [`TcpStream`]: crate::net::TcpStream
//! [`UnixStream`]: crate::net::UnixStream

mod executor;
mod io;
mod lane;
mod slots;
#[cfg(test)]
mod tests;
mod timer;

pub use executor::EvloopExecutor;
pub use timer::{EvloopSleep, EvloopTimer};

use hyper_util::server::conn::auto::Builder;

/// A hyper-util `auto` connection builder on the loop: HTTP/1.1, or HTTP/2 when the client opens
/// with its preface, tasks spawned by [`EvloopExecutor`], timeouts on [`EvloopTimer`]. Tune it as
/// any hyper-util builder (`.http1()`, `.http2()`); serve a connection with
/// `serve_connection(stream, service)`.
///
/// ```
/// let mut http = evloop::interop::hyper::server();
/// http.http1().keep_alive(true);
/// http.http2().max_concurrent_streams(100);
/// ```
pub fn server() -> Builder<EvloopExecutor> {
    let mut builder = Builder::new(EvloopExecutor);
    builder.http1().timer(EvloopTimer);
    builder.http2().timer(EvloopTimer);
    builder
}
