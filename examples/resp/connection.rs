//! A connection: commands one at a time or pipelined, then, if wanted, pub/sub.

use std::io;
use std::time::Duration;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpStream, ToSocketAddrs};

use super::{decode, encode, Reply};

/// A connection to a Redis server.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    /// Bytes read and not yet decoded: `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    out: Vec<u8>,
}

impl Connection {
    /// Connects to `addr` (`"127.0.0.1:6379"`, or a `redis://HOST:PORT` URL's host and port).
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: Vec::new(),
            start: 0,
            out: Vec::new(),
        })
    }

    /// Sends one command and waits for its reply (an `-ERR` reply is a `Reply::Error`).
    pub async fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.out.clear();
        encode(&mut self.out, args);
        self.stream.write_all(&self.out).await?;
        self.read_reply().await
    }

    /// Sends all `commands` in one write, then reads their replies, in order.
    pub async fn pipeline<A: AsRef<[u8]>>(&mut self, commands: &[&[A]]) -> io::Result<Vec<Reply>> {
        self.out.clear();
        for c in commands {
            encode(&mut self.out, c);
        }
        self.stream.write_all(&self.out).await?;
        let mut replies = Vec::with_capacity(commands.len());
        for _ in commands {
            replies.push(self.read_reply().await?);
        }
        Ok(replies)
    }

    /// `BRPOP keys... timeout`: the list and the element popped from its tail, or `None` once
    /// `timeout` passed (`Duration::ZERO` waits for ever).
    pub async fn brpop(
        &mut self,
        keys: &[&str],
        timeout: Duration,
    ) -> io::Result<Option<(String, Vec<u8>)>> {
        let secs = format!("{}", timeout.as_secs_f64());
        let mut args: Vec<&str> = vec!["BRPOP"];
        args.extend_from_slice(keys);
        args.push(&secs);
        match self.cmd(&args).await?.into_result()? {
            Reply::Array(None) => Ok(None),
            Reply::Array(Some(kv)) if kv.len() == 2 => match (&kv[0], &kv[1]) {
                (Reply::Bulk(Some(k)), Reply::Bulk(Some(v))) => {
                    Ok(Some((String::from_utf8_lossy(k).into_owned(), v.clone())))
                }
                _ => Err(unexpected(&kv[0])),
            },
            other => Err(unexpected(&other)),
        }
    }

    /// Subscribes to `channels` and `patterns`, waiting for each confirmation; the connection is
    /// then a [`Subscriber`].
    pub async fn subscribe(
        mut self,
        channels: &[&str],
        patterns: &[&str],
    ) -> io::Result<Subscriber> {
        self.out.clear();
        if !channels.is_empty() {
            let mut args = vec!["SUBSCRIBE"];
            args.extend_from_slice(channels);
            encode(&mut self.out, &args);
        }
        if !patterns.is_empty() {
            let mut args = vec!["PSUBSCRIBE"];
            args.extend_from_slice(patterns);
            encode(&mut self.out, &args);
        }
        self.stream.write_all(&self.out).await?;
        for _ in 0..channels.len() + patterns.len() {
            match self.read_reply().await?.into_result()? {
                Reply::Array(Some(items)) if items.len() == 3 => {}
                other => return Err(unexpected(&other)),
            }
        }
        Ok(Subscriber { conn: self })
    }

    /// Reads the next reply.
    pub async fn read_reply(&mut self) -> io::Result<Reply> {
        loop {
            if let Some((reply, len)) = decode(&self.buf[self.start..])? {
                self.start += len;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                return Ok(reply);
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let len = self.buf.len();
            self.buf.resize(len + 16 * 1024, 0);
            let n = self.stream.read(&mut self.buf[len..]).await;
            self.buf.truncate(len + *n.as_ref().unwrap_or(&0));
            if n? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "redis: the server closed the connection",
                ));
            }
        }
    }

    /// Sends raw bytes (for tests of what a server does with malformed input).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }
}

/// A published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The pattern it matched, for a pattern subscription.
    pub pattern: Option<String>,
    pub channel: String,
    pub payload: Vec<u8>,
}

/// A connection in pub/sub mode.
#[derive(Debug)]
pub struct Subscriber {
    conn: Connection,
}

impl Subscriber {
    /// The next message published to one of the channels or patterns.
    pub async fn next_message(&mut self) -> io::Result<Message> {
        loop {
            let Reply::Array(Some(items)) = self.conn.read_reply().await?.into_result()? else {
                return Err(io::Error::other("redis: a subscriber got something else"));
            };
            let text = |r: &Reply| r.text().unwrap_or_default();
            match items.first().and_then(Reply::bytes) {
                Some(b"message") if items.len() == 3 => {
                    return Ok(Message {
                        pattern: None,
                        channel: text(&items[1]),
                        payload: items[2].bytes().unwrap_or_default().to_vec(),
                    })
                }
                Some(b"pmessage") if items.len() == 4 => {
                    return Ok(Message {
                        pattern: Some(text(&items[1])),
                        channel: text(&items[2]),
                        payload: items[3].bytes().unwrap_or_default().to_vec(),
                    })
                }
                // Confirmations of later (un)subscriptions, pongs.
                _ => {}
            }
        }
    }
}

fn unexpected(reply: &Reply) -> io::Error {
    io::Error::other(format!("redis: unexpected reply {reply:?}"))
}
