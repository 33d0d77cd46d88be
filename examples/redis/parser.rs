//! The request parser: RESP2 arrays of bulk strings (what every client sends) and inline commands
//! (`PING\r\n`, what `redis-benchmark`'s PING_INLINE and a person at `nc` send).
//!
//! Incremental: a command that arrives in pieces is parsed once, not rescanned from its start at
//! every read; the parser remembers how far it got. It never copies: a parsed command is a list of
//! spans into the connection's input buffer, and the command code reads its arguments from there.
//! A bulk string's declared length is checked against the limit before anything is reserved for
//! it, and the parser says how many bytes the command needs, so that the input buffer grows once
//! to hold a big value instead of doubling its way there.

use std::ops::Range;

/// The most arguments one command may have (Redis's limit too).
const MAX_ARGS: usize = 1024 * 1024;
/// The longest inline command or `*N`/`$N` header line.
pub const MAX_INLINE: usize = 64 * 1024;

/// Why a connection is closed: the text after `-ERR Protocol error: `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError(pub &'static str);

/// What the parser made of the bytes it was given.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole command of this many bytes; its arguments are in [`Parser::args`].
    Command(usize),
    /// This many bytes held nothing to run (an empty line, `*0`): skip them.
    Empty(usize),
    /// More bytes are needed; at least this many in all, when the parser knows.
    Incomplete(Option<usize>),
}

/// Where the parser is inside the command it is reading.
#[derive(Debug, Clone, Copy)]
enum State {
    /// At the start of a command.
    Start,
    /// Inside an array: this many bulk strings still to read.
    Array { left: usize },
    /// Inside an array, after a `$len` header: the string starts at `at`.
    Bulk { left: usize, at: usize, len: usize },
}

/// The parser of one connection. Positions are relative to the start of the command being
/// parsed, so they stay right when the input buffer moves its bytes to the front.
#[derive(Debug)]
pub struct Parser {
    state: State,
    /// How far the command has been parsed.
    pos: usize,
    /// The arguments parsed so far.
    args: Vec<Range<usize>>,
    max_bulk: usize,
    max_command: usize,
}

impl Parser {
    /// A parser refusing bulk strings over `max_bulk` bytes and commands over `max_command`.
    pub fn new(max_bulk: usize, max_command: usize) -> Parser {
        Parser {
            state: State::Start,
            pos: 0,
            args: Vec::new(),
            max_bulk,
            max_command,
        }
    }

    /// The arguments of the command [`Parser::parse`] just returned, as spans of its bytes.
    pub fn args(&self) -> &[Range<usize>] {
        &self.args
    }

    /// Parses the command at the start of `buf` (the bytes from the first one not yet consumed).
    /// After `Command` or `Empty`, the caller consumes that many bytes and calls again with what
    /// follows; after `Incomplete`, it calls again with the same start and more bytes.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Parsed, ProtocolError> {
        // The state in locals while parsing (registers, not memory), stored back only when the
        // bytes run out: most commands arrive whole and never store it.
        let (mut left, mut pos) = match self.state {
            State::Start => {
                self.args.clear();
                match buf.first() {
                    None => return Ok(Parsed::Incomplete(None)),
                    Some(b'*') => {}
                    Some(_) => return self.inline(buf),
                }
                let Some((n, next)) = header(buf, 0)? else {
                    return Ok(Parsed::Incomplete(None));
                };
                if n <= 0 {
                    return Ok(Parsed::Empty(next));
                }
                if n as u64 > MAX_ARGS as u64 {
                    return Err(ProtocolError("invalid multibulk length"));
                }
                // Room for what a normal command has; a huge count grows it as strings come.
                self.args.reserve((n as usize).min(64));
                (n as usize, next)
            }
            State::Array { left } => (left, self.pos),
            State::Bulk { left, at, len } => match self.bulk(buf, at, len)? {
                Some(next) => (left - 1, next),
                None => return Ok(Parsed::Incomplete(Some(at + len + 2))),
            },
        };
        while left > 0 {
            let Some(&first) = buf.get(pos) else {
                return Ok(self.suspend(State::Array { left }, pos, None));
            };
            if first != b'$' {
                return Err(expected_dollar(first));
            }
            let Some((len, at)) = header(buf, pos)? else {
                return Ok(self.suspend(State::Array { left }, pos, None));
            };
            if len < 0 || len as u64 > self.max_bulk as u64 {
                return Err(ProtocolError("invalid bulk length"));
            }
            let len = len as usize;
            if at + len + 2 > self.max_command {
                return Err(ProtocolError("query buffer limit exceeded"));
            }
            match self.bulk(buf, at, len)? {
                Some(next) => pos = next,
                None => {
                    let state = State::Bulk { left, at, len };
                    return Ok(self.suspend(state, pos, Some(at + len + 2)));
                }
            }
            left -= 1;
        }
        self.state = State::Start;
        Ok(Parsed::Command(pos))
    }

    /// The bulk string of `len` bytes at `at`, if it is all there: pushed to the arguments, and
    /// where the next one starts.
    #[inline(always)]
    fn bulk(&mut self, buf: &[u8], at: usize, len: usize) -> Result<Option<usize>, ProtocolError> {
        let end = at + len;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtocolError("invalid bulk string ending"));
        }
        self.args.push(at..end);
        Ok(Some(end + 2))
    }

    /// Remembers where parsing stopped, for the next call with more bytes.
    fn suspend(&mut self, state: State, pos: usize, need: Option<usize>) -> Parsed {
        self.state = state;
        self.pos = pos;
        Parsed::Incomplete(need)
    }

    /// An inline command: one line, arguments separated by spaces or tabs.
    fn inline(&mut self, buf: &[u8]) -> Result<Parsed, ProtocolError> {
        let Some(nl) = memchr(b'\n', &buf[..buf.len().min(MAX_INLINE)]) else {
            if buf.len() >= MAX_INLINE {
                return Err(ProtocolError("too big inline request"));
            }
            return Ok(Parsed::Incomplete(None));
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let mut i = 0;
        while i < line_end {
            if buf[i] == b' ' || buf[i] == b'\t' {
                i += 1;
                continue;
            }
            let start = i;
            while i < line_end && buf[i] != b' ' && buf[i] != b'\t' {
                i += 1;
            }
            self.args.push(start..i);
        }
        if self.args.is_empty() {
            Ok(Parsed::Empty(nl + 1))
        } else {
            Ok(Parsed::Command(nl + 1))
        }
    }
}

/// Reads the `*N\r\n` or `$N\r\n` line at `at`: the number and where the next line starts, or
/// `None` if the line is not complete yet. One pass finds the end and reads the digits (this runs
/// for every argument of every command).
fn header(buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, ProtocolError> {
    // Most counts and lengths have one or two digits: read those without the general loop.
    match buf.get(at + 1..at + 5) {
        Some(&[d, b'\r', b'\n', _]) if d.is_ascii_digit() => {
            return Ok(Some((i64::from(d - b'0'), at + 4)))
        }
        Some(&[d1 @ b'1'..=b'9', d2 @ b'0'..=b'9', b'\r', b'\n']) => {
            return Ok(Some((
                i64::from(d1 - b'0') * 10 + i64::from(d2 - b'0'),
                at + 5,
            )))
        }
        _ => {}
    }
    let array = buf[at] == b'*';
    let bad = || {
        ProtocolError(if array {
            "invalid multibulk length"
        } else {
            "invalid bulk length"
        })
    };
    let mut i = at + 1;
    let neg = buf.get(i) == Some(&b'-');
    if neg {
        i += 1;
    }
    let digits_start = i;
    let mut n: i64 = 0;
    loop {
        let Some(&b) = buf.get(i) else {
            if i - at >= MAX_INLINE {
                return Err(ProtocolError(if array {
                    "too big mbulk count string"
                } else {
                    "too big bulk count string"
                }));
            }
            return Ok(None);
        };
        match b {
            b'0'..=b'9' if i - digits_start < 18 => n = n * 10 + i64::from(b - b'0'),
            b'\r' => break,
            _ => return Err(bad()),
        }
        i += 1;
    }
    match buf.get(i + 1) {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(_) => return Err(bad()),
    }
    let digits = i - digits_start;
    // As `string2ll`: digits, no leading zero, no sign on zero.
    if digits == 0 || (digits > 1 && buf[digits_start] == b'0') || (neg && n == 0) {
        return Err(bad());
    }
    Ok(Some((if neg { -n } else { n }, i + 2)))
}

fn expected_dollar(got: u8) -> ProtocolError {
    // Redis says which byte it got; a static message keeps the error allocation-free.
    let _ = got;
    ProtocolError("expected '$'")
}

/// A decimal integer as Redis reads one (`string2ll`): an optional `-`, digits, no leading zero,
/// no sign on zero, no spaces, in range.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        n = if neg {
            n.checked_mul(10)?.checked_sub(d)?
        } else {
            n.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(n)
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args<'a>(p: &Parser, buf: &'a [u8]) -> Vec<&'a [u8]> {
        p.args().iter().map(|r| &buf[r.clone()]).collect()
    }

    #[test]
    fn a_command_in_pieces_is_parsed_once() {
        let cmd = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut p = Parser::new(512 << 20, 1 << 30);
        for cut in 1..cmd.len() {
            let r = p.parse(&cmd[..cut]).unwrap();
            assert!(matches!(r, Parsed::Incomplete(_)), "{cut}: {r:?}");
        }
        assert_eq!(p.parse(cmd).unwrap(), Parsed::Command(cmd.len()));
        assert_eq!(args(&p, cmd), [&b"SET"[..], b"k", b"hello"]);
    }

    #[test]
    fn inline_and_errors() {
        let mut p = Parser::new(10, 1 << 30);
        assert_eq!(p.parse(b"PING  x\r\n").unwrap(), Parsed::Command(9));
        assert_eq!(args(&p, b"PING  x\r\n"), [&b"PING"[..], b"x"]);
        assert_eq!(p.parse(b"\r\n").unwrap(), Parsed::Empty(2));
        assert_eq!(
            p.parse(b"*1\r\n$11\r\n"),
            Err(ProtocolError("invalid bulk length"))
        );
        let mut p = Parser::new(10, 1 << 30);
        assert_eq!(p.parse(b"*1\r\nx"), Err(ProtocolError("expected '$'")));
        let mut p = Parser::new(10, 1 << 30);
        assert_eq!(
            p.parse(b"*x\r\n"),
            Err(ProtocolError("invalid multibulk length"))
        );
    }

    #[test]
    fn integers_as_redis_reads_them() {
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }
}
