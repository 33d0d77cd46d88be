//! The routes of the HTTP server, runtime-agnostic: `examples/http.rs` serves them on evloop and
//! the benchmark's `http_tokio` on tokio, so the two compare runtimes rather than programs.
//!
//! - `/`: `Hello, world!`;
//! - `/16k`: 16 KiB of text, 64 lines of 256 bytes;
//! - anything else: 404.

use std::convert::Infallible;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};

/// The body of `/16k`: 16 KiB of text, 64 lines of 256 bytes.
fn body_16k() -> String {
    let line = format!("{}\n", "0123456789abcdef".repeat(16).split_at(255).0);
    line.repeat(64)
}

thread_local! {
    static BODY_16K: String = body_16k();
}

/// The response to `req`, by its path.
pub async fn respond(req: Request<Incoming>) -> Result<Response<String>, Infallible> {
    let (status, body) = match req.uri().path() {
        "/" => (StatusCode::OK, "Hello, world!\n".to_string()),
        "/16k" => (StatusCode::OK, BODY_16K.with(Clone::clone)),
        _ => (StatusCode::NOT_FOUND, "not found\n".to_string()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}
