//! One connection's protocol state apart from its socket: the input buffer, the parser, and
//! running the commands it holds. The connection task (`conn.rs` on evloop, the twin's on tokio)
//! moves bytes between the socket and this.
//!
//! Pipelining: every complete command in the input is run before anything is written, so the
//! replies to one read go out in one write. Running pauses while the client is blocked in
//! `BRPOP`, and while its pending output is over the soft limit (it is not reading: backpressure,
//! so one client's output stays bounded by the soft limit plus one command's replies, and a
//! command whose replies pass the hard limit gets the client disconnected).

use std::rc::Rc;

use super::client::Client;
use super::commands::{execute, After, Args, Ctx};
use super::parser::{Parsed, Parser};
use super::reply;
use super::server::Server;
use super::store::Now;

/// How much is read at a time (Redis's `PROTO_IOBUF_LEN`).
const READ_SIZE: usize = 16 * 1024;

/// The bytes read and not yet run: `buf[start..end]`.
#[derive(Debug, Default)]
pub struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Input {
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            // A big command is over: give its memory back rather than keep it per connection.
            if self.buf.len() > 4 * READ_SIZE {
                self.buf = Vec::new();
            }
        }
    }

    /// Room to read into: at least `READ_SIZE`. For a command known to need `need` bytes in all
    /// (a big value), the buffer is allocated once for all of it, so the value is never copied
    /// as it grows; but it is only filled (and its memory touched) a megabyte ahead of what
    /// arrived, so that a client announcing a big value and sending nothing costs nothing.
    pub fn spare(&mut self, need: Option<usize>) -> &mut [u8] {
        let len = self.len();
        let total = need.unwrap_or(0).max(len + READ_SIZE);
        let target = total.min(len + (1 << 20)).max(len + READ_SIZE);
        if self.buf.len() - self.start < target {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.start = 0;
                self.end = len;
            }
            if self.buf.capacity() < total {
                self.buf.reserve_exact(total - self.buf.len());
            }
            if self.buf.len() < target {
                self.buf.resize(target, 0);
            }
        }
        &mut self.buf[self.end..]
    }

    /// Notes that `n` bytes were read into [`Input::spare`].
    pub fn filled(&mut self, n: usize) {
        self.end += n;
    }
}

/// A connection's protocol state.
#[derive(Debug)]
pub struct Session {
    pub input: Input,
    parser: Parser,
    /// What the command being parsed needs in all, if known.
    pub need: Option<usize>,
    /// No more commands run: after `QUIT`, a protocol error, end of input or shutdown. The
    /// connection writes what is pending and closes.
    pub closing: bool,
}

impl Session {
    pub fn new(server: &Server) -> Session {
        Session {
            input: Input::default(),
            parser: Parser::new(server.config.max_bulk, server.config.max_command),
            need: None,
            closing: false,
        }
    }

    /// Whether the task should read more now: not while output waits for the client to read it,
    /// nor while closing; while blocked, only to notice the client leaving, so not much.
    pub fn wants_input(&self, server: &Server, client: &Client) -> bool {
        !self.closing
            && client.pending() < server.config.soft_output
            && (!client.is_blocked() || self.input.len() < READ_SIZE)
    }

    /// Runs the complete commands in the input (see the module docs for when it pauses);
    /// whether it ran or skipped any.
    pub fn run(&mut self, server: &Server, client: &Rc<Client>) -> bool {
        let mut now = Now::new(server.clock);
        let mut progress = false;
        while !self.closing
            && !client.is_blocked()
            && client.killed().is_none()
            && client.pending() < server.config.soft_output
        {
            let parsed = self.parser.parse(self.input.data());
            match parsed {
                Ok(Parsed::Command(n)) => {
                    let args = Args::new(self.input.data(), self.parser.args());
                    let mut ctx = Ctx {
                        server,
                        client,
                        now: &mut now,
                    };
                    if execute(&mut ctx, args) == After::Close {
                        self.closing = true;
                    }
                    self.input.consume(n);
                    self.need = None;
                    if client.pending() > server.output_limit(client) {
                        client.kill("output limit reached");
                    }
                }
                Ok(Parsed::Empty(n)) => {
                    self.input.consume(n);
                    self.need = None;
                }
                Ok(Parsed::Incomplete(need)) => {
                    self.need = need;
                    return progress;
                }
                Err(e) => {
                    let msg = format!("ERR Protocol error: {}", e.0);
                    reply::error(&mut client.out.borrow_mut().buf, &msg);
                    self.closing = true;
                }
            }
            progress = true;
        }
        progress
    }

    /// A blocked client's time is up: answer nil and unblock it.
    pub fn time_out(&mut self, server: &Server, client: &Rc<Client>) {
        if server.waiters.borrow_mut().unblock(client) {
            reply::nil_array(&mut client.out.borrow_mut().buf);
        }
    }
}
