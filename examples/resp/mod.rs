//! A small Redis client on evloop: RESP2 replies, pipelined commands, pub/sub and `BRPOP`. The
//! task queue's Redis broker uses it, and so do the tests of `redis_server`; it talks to a real
//! Redis just as well.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let mut redis = resp::Connection::connect("127.0.0.1:6379").await?;
//! redis.cmd(&["SET", "greeting", "hello"]).await?;
//! let replies = redis.pipeline(&[&["INCR", "n"], &["GET", "greeting"]]).await?;
//! # Ok(()) }
//! ```

// Each program uses part of the client.
#![allow(dead_code)]

mod connection;
mod decode;

#[allow(unused_imports)]
pub use connection::{Connection, Message, Subscriber};
#[allow(unused_imports)]
pub use decode::decode;

/// A reply, as RESP2 has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR ...`: the server's answer, not a failure of the connection.
    Error(String),
    /// `:42`.
    Int(i64),
    /// `$3 foo`, or `$-1` (nil).
    Bulk(Option<Vec<u8>>),
    /// `*2 ...`, or `*-1` (nil, what a `BRPOP` that timed out answers).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The bytes of a bulk or simple string.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(Some(b)) => Some(b),
            Reply::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// A bulk or simple string as text (lossy).
    pub fn text(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// An integer reply.
    pub fn int(&self) -> Option<i64> {
        match self {
            Reply::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// Whether this is nil (`$-1` or `*-1`).
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Bulk(None) | Reply::Array(None))
    }

    /// The server's error, as an `io::Error` for `?`.
    pub fn into_result(self) -> std::io::Result<Reply> {
        match self {
            Reply::Error(e) => Err(std::io::Error::other(format!("redis: {e}"))),
            r => Ok(r),
        }
    }
}

/// Appends a command as a RESP array of bulk strings.
pub fn encode<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
