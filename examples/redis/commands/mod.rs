//! The commands: a table of what each one is (name, arity, flags, key positions: what `COMMAND`
//! reports), and `execute`, which checks a parsed command against it and runs it.
//!
//! A command reads its arguments from the input buffer (no copies; the store copies what it
//! keeps) and writes its reply to the client's output buffer.

mod keys;
mod lists;
mod pubsub;
mod server;
mod strings;

use std::ops::Range;
use std::rc::Rc;

use super::client::Client;
use super::reply;
use super::server::Server;
use super::store::Now;

/// A command's arguments (the name first), as spans of the input buffer.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    spans: &'a [Range<usize>],
}

impl<'a> Args<'a> {
    pub fn new(buf: &'a [u8], spans: &'a [Range<usize>]) -> Args<'a> {
        Args { buf, spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Argument `i` (0 is the command's name).
    pub fn get(&self, i: usize) -> &'a [u8] {
        &self.buf[self.spans[i].clone()]
    }

    /// The arguments from `i` on.
    pub fn from(&self, i: usize) -> impl Iterator<Item = &'a [u8]> + 'a {
        let buf = self.buf;
        self.spans[i..].iter().map(move |r| &buf[r.clone()])
    }
}

/// What a command runs with.
pub struct Ctx<'a> {
    pub server: &'a Server,
    pub client: &'a Rc<Client>,
    pub now: &'a mut Now,
}

/// What the connection does after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    Continue,
    /// `QUIT`: write the replies, then close.
    Close,
}

/// A command's description, as `COMMAND` gives it.
pub struct Spec {
    /// Lower case, as Redis reports it.
    pub name: &'static str,
    /// Redis's convention: `n` exactly n arguments (the name counted), `-n` at least n.
    pub arity: i32,
    pub flags: &'static [&'static str],
    /// First key, last key (negative: from the end), step.
    pub keys: (i32, i32, i32),
    /// The name packed into a number (see [`pack`]), to find it with integer compares.
    packed: u128,
    run: fn(&mut Ctx, Args) -> After,
}

macro_rules! spec {
    ($name:literal, $arity:expr, [$($flag:literal),*], $keys:expr, $run:path) => {
        Spec {
            name: $name,
            arity: $arity,
            flags: &[$($flag),*],
            keys: $keys,
            packed: match pack($name.as_bytes()) {
                Some(p) => p,
                None => panic!("command names fit in 16 bytes"),
            },
            run: $run,
        }
    };
}

/// A name of up to 16 bytes, lower-cased, as a big-endian number padded with zeros: numbers
/// compare as the names do, so the sorted table is sorted by them too.
const fn pack(name: &[u8]) -> Option<u128> {
    if name.len() > 16 {
        return None;
    }
    let mut bytes = [0u8; 16];
    let mut i = 0;
    while i < name.len() {
        bytes[i] = name[i].to_ascii_lowercase();
        i += 1;
    }
    Some(u128::from_be_bytes(bytes))
}

/// Every command, sorted by name (a test checks), so that lookup is a binary search.
pub static COMMANDS: &[Spec] = &[
    spec!("blpop", -3, ["write", "blocking"], (1, -2, 1), lists::blpop),
    spec!("brpop", -3, ["write", "blocking"], (1, -2, 1), lists::brpop),
    spec!(
        "command",
        -1,
        ["loading", "stale"],
        (0, 0, 0),
        server::command
    ),
    spec!(
        "config",
        -2,
        ["admin", "loading", "stale"],
        (0, 0, 0),
        server::config
    ),
    spec!("dbsize", 1, ["readonly", "fast"], (0, 0, 0), server::dbsize),
    spec!(
        "decr",
        2,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        strings::decr
    ),
    spec!(
        "decrby",
        3,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        strings::decrby
    ),
    spec!("del", -2, ["write"], (1, -1, 1), keys::del),
    spec!("echo", 2, ["fast"], (0, 0, 0), server::echo),
    spec!("exists", -2, ["readonly", "fast"], (1, -1, 1), keys::exists),
    spec!("expire", 3, ["write", "fast"], (1, 1, 1), keys::expire),
    spec!("flushall", -1, ["write"], (0, 0, 0), server::flushall),
    spec!("flushdb", -1, ["write"], (0, 0, 0), server::flushall),
    spec!("get", 2, ["readonly", "fast"], (1, 1, 1), strings::get),
    spec!(
        "incr",
        2,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        strings::incr
    ),
    spec!(
        "incrby",
        3,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        strings::incrby
    ),
    spec!("info", -1, ["loading", "stale"], (0, 0, 0), server::info),
    spec!("llen", 2, ["readonly", "fast"], (1, 1, 1), lists::llen),
    spec!("lpop", -2, ["write", "fast"], (1, 1, 1), lists::lpop),
    spec!(
        "lpush",
        -3,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        lists::lpush
    ),
    spec!("lrange", 4, ["readonly"], (1, 1, 1), lists::lrange),
    spec!("mget", -2, ["readonly", "fast"], (1, -1, 1), strings::mget),
    spec!("mset", -3, ["write", "denyoom"], (1, -1, 2), strings::mset),
    spec!("pexpire", 3, ["write", "fast"], (1, 1, 1), keys::pexpire),
    spec!("ping", -1, ["fast", "stale"], (0, 0, 0), server::ping),
    spec!(
        "psubscribe",
        -2,
        ["pubsub", "noscript", "loading", "stale"],
        (0, 0, 0),
        pubsub::psubscribe
    ),
    spec!("pttl", 2, ["readonly", "fast"], (1, 1, 1), keys::pttl),
    spec!(
        "publish",
        3,
        ["pubsub", "loading", "stale", "fast"],
        (0, 0, 0),
        pubsub::publish
    ),
    spec!(
        "punsubscribe",
        -1,
        ["pubsub", "noscript", "loading", "stale"],
        (0, 0, 0),
        pubsub::punsubscribe
    ),
    spec!("quit", -1, ["fast"], (0, 0, 0), server::quit),
    spec!("rpop", -2, ["write", "fast"], (1, 1, 1), lists::rpop),
    spec!(
        "rpush",
        -3,
        ["write", "denyoom", "fast"],
        (1, 1, 1),
        lists::rpush
    ),
    spec!(
        "select",
        2,
        ["loading", "stale", "fast"],
        (0, 0, 0),
        server::select
    ),
    spec!("set", -3, ["write", "denyoom"], (1, 1, 1), strings::set),
    spec!(
        "strlen",
        2,
        ["readonly", "fast"],
        (1, 1, 1),
        strings::strlen
    ),
    spec!(
        "subscribe",
        -2,
        ["pubsub", "noscript", "loading", "stale"],
        (0, 0, 0),
        pubsub::subscribe
    ),
    spec!("ttl", 2, ["readonly", "fast"], (1, 1, 1), keys::ttl),
    spec!(
        "unsubscribe",
        -1,
        ["pubsub", "noscript", "loading", "stale"],
        (0, 0, 0),
        pubsub::unsubscribe
    ),
];

/// The command named `name`, in any case.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    let key = pack(name)?;
    COMMANDS
        .binary_search_by(|s| s.packed.cmp(&key))
        .ok()
        .map(|i| &COMMANDS[i])
}

/// Runs one command and writes its reply.
pub fn execute(ctx: &mut Ctx, args: Args) -> After {
    ctx.server.commands.set(ctx.server.commands.get() + 1);
    let Some(spec) = lookup(args.get(0)) else {
        let mut out = ctx.client.out.borrow_mut();
        let mut msg = format!(
            "ERR unknown command '{}', with args beginning with: ",
            reply::quote(args.get(0))
        );
        for a in args.from(1).take(8) {
            msg.push_str(&format!("'{}' ", reply::quote(a)));
        }
        reply::error(&mut out.buf, &msg);
        return After::Continue;
    };
    let n = args.len() as i32;
    if (spec.arity > 0 && n != spec.arity) || n < -spec.arity {
        let msg = format!("ERR wrong number of arguments for '{}' command", spec.name);
        reply::error(&mut ctx.client.out.borrow_mut().buf, &msg);
        return After::Continue;
    }
    if ctx.client.subs.borrow().count() > 0
        && !matches!(
            spec.name,
            "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ping" | "quit"
        )
    {
        let msg = format!(
            "ERR Can't execute '{}': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / QUIT are \
             allowed in this context",
            spec.name
        );
        reply::error(&mut ctx.client.out.borrow_mut().buf, &msg);
        return After::Continue;
    }
    (spec.run)(ctx, args)
}

/// `WRONGTYPE`, the reply to a string command on a list and the other way round.
pub fn wrong_type(out: &mut Vec<u8>) {
    reply::error(
        out,
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );
}

/// The reply to an argument that must be an integer and is not.
pub fn not_an_integer(out: &mut Vec<u8>) {
    reply::error(out, "ERR value is not an integer or out of range");
}

#[cfg(test)]
mod tests {
    use super::{lookup, COMMANDS};

    #[test]
    fn the_table_is_sorted_and_lookup_ignores_case() {
        assert!(COMMANDS.windows(2).all(|w| w[0].name < w[1].name));
        assert!(COMMANDS.windows(2).all(|w| w[0].packed < w[1].packed));
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert!(lookup(b"nope").is_none());
        assert!(lookup(b"averyveryverylongname").is_none());
    }
}
