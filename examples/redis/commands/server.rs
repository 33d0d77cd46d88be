//! Connection and server commands: `PING`, `ECHO`, `QUIT`, `SELECT`, `DBSIZE`, `FLUSHALL`, and
//! `CONFIG GET`, `COMMAND`, `INFO`, which describe this server as it is (not a full Redis).

use std::fmt::Write as _;

use super::{After, Args, Ctx, Spec, COMMANDS};
use crate::redis::pubsub::glob_match;
use crate::redis::reply;

pub fn ping(ctx: &mut Ctx, args: Args) -> After {
    let subscribed = ctx.client.subs.borrow().count() > 0;
    let mut out = ctx.client.out.borrow_mut();
    match (args.len(), subscribed) {
        (1, false) => reply::simple(&mut out.buf, "PONG"),
        (2, false) => reply::bulk(&mut out.buf, args.get(1)),
        // A subscriber's PING is answered in the shape of a message, as in Redis.
        (n @ 1..=2, true) => {
            reply::array(&mut out.buf, 2);
            reply::bulk(&mut out.buf, b"pong");
            reply::bulk(&mut out.buf, if n == 2 { args.get(1) } else { b"" });
        }
        _ => reply::error(
            &mut out.buf,
            "ERR wrong number of arguments for 'ping' command",
        ),
    }
    After::Continue
}

pub fn echo(ctx: &mut Ctx, args: Args) -> After {
    reply::bulk(&mut ctx.client.out.borrow_mut().buf, args.get(1));
    After::Continue
}

pub fn quit(ctx: &mut Ctx, _args: Args) -> After {
    reply::ok(&mut ctx.client.out.borrow_mut().buf);
    After::Close
}

pub fn select(ctx: &mut Ctx, args: Args) -> After {
    let mut out = ctx.client.out.borrow_mut();
    if args.get(1) == b"0" {
        reply::ok(&mut out.buf);
    } else {
        reply::error(
            &mut out.buf,
            "ERR DB index is out of range (this server has db 0 only)",
        );
    }
    After::Continue
}

pub fn dbsize(ctx: &mut Ctx, _args: Args) -> After {
    let n = ctx.server.store.borrow().len();
    reply::int(&mut ctx.client.out.borrow_mut().buf, n as i64);
    After::Continue
}

pub fn flushall(ctx: &mut Ctx, _args: Args) -> After {
    ctx.server.store.borrow_mut().clear();
    reply::ok(&mut ctx.client.out.borrow_mut().buf);
    After::Continue
}

/// `CONFIG GET pattern...`: the settings this server has (enough for `redis-benchmark`, which
/// asks for `save` and `appendonly`), as name/value pairs. `CONFIG SET` is refused.
pub fn config(ctx: &mut Ctx, args: Args) -> After {
    let mut out = ctx.client.out.borrow_mut();
    if !args.get(1).eq_ignore_ascii_case(b"GET") || args.len() < 3 {
        let msg = format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'; this server has \
             CONFIG GET only",
            reply::quote(args.get(1))
        );
        reply::error(&mut out.buf, &msg);
        return After::Continue;
    }
    let c = &ctx.server.config;
    let settings = [
        ("save", String::new()),
        ("appendonly", "no".to_string()),
        ("port", c.port.to_string()),
        ("databases", "1".to_string()),
        ("maxmemory", "0".to_string()),
        ("proto-max-bulk-len", c.max_bulk.to_string()),
        ("client-query-buffer-limit", c.max_command.to_string()),
        (
            "client-output-buffer-limit",
            format!(
                "normal {0} {0} 0 pubsub {1} {1} 0",
                c.output_limit, c.pubsub_limit
            ),
        ),
    ];
    let wanted: Vec<String> = args
        .from(2)
        .map(|p| String::from_utf8_lossy(p).to_ascii_lowercase())
        .collect();
    let found: Vec<_> = settings
        .iter()
        .filter(|(name, _)| {
            wanted
                .iter()
                .any(|p| glob_match(p.as_bytes(), name.as_bytes()))
        })
        .collect();
    reply::array(&mut out.buf, 2 * found.len());
    for (name, value) in found {
        reply::bulk(&mut out.buf, name.as_bytes());
        reply::bulk(&mut out.buf, value.as_bytes());
    }
    After::Continue
}

/// `COMMAND`, `COMMAND COUNT`, `COMMAND INFO name...` from the command table; `COMMAND DOCS`
/// answers with no docs (an empty map).
pub fn command(ctx: &mut Ctx, args: Args) -> After {
    let mut out = ctx.client.out.borrow_mut();
    let sub = if args.len() > 1 { args.get(1) } else { b"" };
    if sub.is_empty() {
        reply::array(&mut out.buf, COMMANDS.len());
        for spec in COMMANDS {
            describe(&mut out.buf, spec);
        }
    } else if sub.eq_ignore_ascii_case(b"COUNT") {
        reply::int(&mut out.buf, COMMANDS.len() as i64);
    } else if sub.eq_ignore_ascii_case(b"INFO") {
        reply::array(&mut out.buf, args.len() - 2);
        for name in args.from(2) {
            match super::lookup(name) {
                Some(spec) => describe(&mut out.buf, spec),
                None => reply::nil_array(&mut out.buf),
            }
        }
    } else if sub.eq_ignore_ascii_case(b"DOCS") {
        reply::array(&mut out.buf, 0);
    } else {
        let msg = format!(
            "ERR unknown subcommand '{}'. This server has COMMAND, COMMAND COUNT, COMMAND INFO \
             and COMMAND DOCS (empty)",
            reply::quote(sub)
        );
        reply::error(&mut out.buf, &msg);
    }
    After::Continue
}

/// One command's entry: name, arity, flags, first key, last key, step.
fn describe(out: &mut Vec<u8>, spec: &Spec) {
    reply::array(out, 6);
    reply::bulk(out, spec.name.as_bytes());
    reply::int(out, i64::from(spec.arity));
    reply::array(out, spec.flags.len());
    for flag in spec.flags {
        reply::simple(out, flag);
    }
    reply::int(out, i64::from(spec.keys.0));
    reply::int(out, i64::from(spec.keys.1));
    reply::int(out, i64::from(spec.keys.2));
}

/// `INFO`: a few true facts, in Redis's format. It says what this server is: a Redis-compatible
/// example on evloop, speaking the protocol of Redis 7 for the commands it has.
pub fn info(ctx: &mut Ctx, _args: Args) -> After {
    let s = ctx.server;
    let store = s.store.borrow();
    let mut text = String::new();
    let _ = write!(
        text,
        "# Server\r\nredis_version:7.0.0\r\nserver_name:evloop-redis-example\r\n\
         redis_mode:standalone\r\nmultiplexing_api:epoll (evloop, single-threaded)\r\n\
         process_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\n\r\n\
         # Clients\r\nconnected_clients:{}\r\nblocked_clients:{}\r\n\r\n\
         # Persistence\r\nloading:0\r\naof_enabled:0\r\nrdb_changes_since_last_save:0\r\n\r\n\
         # Stats\r\ntotal_commands_processed:{}\r\n\r\n\
         # Keyspace\r\n",
        std::process::id(),
        s.config.port,
        (s.clock)().saturating_duration_since(s.started).as_secs(),
        s.clients(),
        s.waiters.borrow().count,
        s.commands.get(),
    );
    if store.len() > 0 {
        let _ = write!(
            text,
            "db0:keys={},expires={},avg_ttl=0\r\n",
            store.len(),
            store.with_expiry()
        );
    }
    reply::bulk(&mut ctx.client.out.borrow_mut().buf, text.as_bytes());
    After::Continue
}
