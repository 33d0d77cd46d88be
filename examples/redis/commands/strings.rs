//! String commands: `GET`, `STRLEN`, `SET` (with `EX`/`PX`/`NX`/`XX`), `MGET`, `MSET`, `INCR` and friends.

use std::time::Duration;

use super::{not_an_integer, wrong_type, After, Args, Ctx};
use crate::redis::parser::parse_i64;
use crate::redis::reply;
use crate::redis::store::Value;

pub fn get(ctx: &mut Ctx, args: Args) -> After {
    let mut store = ctx.server.store.borrow_mut();
    let mut out = ctx.client.out.borrow_mut();
    match store.get(args.get(1), ctx.now) {
        None => reply::nil(&mut out.buf),
        Some(Value::Str(s)) => reply::bulk(&mut out.buf, s),
        Some(_) => wrong_type(&mut out.buf),
    }
    After::Continue
}

pub fn strlen(ctx: &mut Ctx, args: Args) -> After {
    let mut store = ctx.server.store.borrow_mut();
    let mut out = ctx.client.out.borrow_mut();
    match store.get(args.get(1), ctx.now) {
        None => reply::int(&mut out.buf, 0),
        Some(Value::Str(s)) => reply::int(&mut out.buf, s.len() as i64),
        Some(_) => wrong_type(&mut out.buf),
    }
    After::Continue
}

pub fn set(ctx: &mut Ctx, args: Args) -> After {
    let mut out = ctx.client.out.borrow_mut();
    let (mut nx, mut xx, mut ttl) = (false, false, None);
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"NX") && !xx {
            nx = true;
        } else if opt.eq_ignore_ascii_case(b"XX") && !nx {
            xx = true;
        } else if (opt.eq_ignore_ascii_case(b"EX") || opt.eq_ignore_ascii_case(b"PX"))
            && ttl.is_none()
            && i + 1 < args.len()
        {
            i += 1;
            let n = match parse_i64(args.get(i)) {
                Some(n) if n > 0 => n as u64,
                Some(_) => {
                    reply::error(&mut out.buf, "ERR invalid expire time in 'set' command");
                    return After::Continue;
                }
                None => {
                    not_an_integer(&mut out.buf);
                    return After::Continue;
                }
            };
            let ms = if opt.eq_ignore_ascii_case(b"EX") {
                n.checked_mul(1000)
            } else {
                Some(n)
            };
            match ms.and_then(|ms| ctx.now.get().checked_add(Duration::from_millis(ms))) {
                Some(when) => ttl = Some(when),
                None => {
                    reply::error(&mut out.buf, "ERR invalid expire time in 'set' command");
                    return After::Continue;
                }
            }
        } else {
            reply::error(&mut out.buf, "ERR syntax error");
            return After::Continue;
        }
        i += 1;
    }
    let mut store = ctx.server.store.borrow_mut();
    let key = args.get(1);
    if nx || xx {
        let exists = store.contains(key, ctx.now);
        if (nx && exists) || (xx && !exists) {
            reply::nil(&mut out.buf);
            return After::Continue;
        }
    }
    store.set_str(key, args.get(2), ttl);
    reply::ok(&mut out.buf);
    After::Continue
}

pub fn mget(ctx: &mut Ctx, args: Args) -> After {
    let mut store = ctx.server.store.borrow_mut();
    let mut out = ctx.client.out.borrow_mut();
    reply::array(&mut out.buf, args.len() - 1);
    for key in args.from(1) {
        match store.get(key, ctx.now) {
            Some(Value::Str(s)) => reply::bulk(&mut out.buf, s),
            _ => reply::nil(&mut out.buf),
        }
    }
    After::Continue
}

pub fn mset(ctx: &mut Ctx, args: Args) -> After {
    let mut out = ctx.client.out.borrow_mut();
    if args.len() % 2 == 0 {
        reply::error(
            &mut out.buf,
            "ERR wrong number of arguments for 'mset' command",
        );
        return After::Continue;
    }
    let mut store = ctx.server.store.borrow_mut();
    for i in (1..args.len()).step_by(2) {
        store.set_str(args.get(i), args.get(i + 1), None);
    }
    reply::ok(&mut out.buf);
    After::Continue
}

pub fn incr(ctx: &mut Ctx, args: Args) -> After {
    add(ctx, args.get(1), Some(1))
}

pub fn decr(ctx: &mut Ctx, args: Args) -> After {
    add(ctx, args.get(1), Some(-1))
}

pub fn incrby(ctx: &mut Ctx, args: Args) -> After {
    add(ctx, args.get(1), parse_i64(args.get(2)))
}

pub fn decrby(ctx: &mut Ctx, args: Args) -> After {
    add(
        ctx,
        args.get(1),
        parse_i64(args.get(2)).and_then(i64::checked_neg),
    )
}

/// Adds `by` to the integer at `key` (0 if there is none), keeping its expiry as Redis does.
fn add(ctx: &mut Ctx, key: &[u8], by: Option<i64>) -> After {
    let mut out = ctx.client.out.borrow_mut();
    let Some(by) = by else {
        not_an_integer(&mut out.buf);
        return After::Continue;
    };
    let mut store = ctx.server.store.borrow_mut();
    let n = match store.get(key, ctx.now) {
        None => {
            let mut s = Vec::new();
            reply::push_int(&mut s, by);
            store.insert_new(key, Value::Str(s));
            by
        }
        Some(Value::Str(s)) => {
            let Some(n) = parse_i64(s) else {
                not_an_integer(&mut out.buf);
                return After::Continue;
            };
            let Some(n) = n.checked_add(by) else {
                reply::error(&mut out.buf, "ERR increment or decrement would overflow");
                return After::Continue;
            };
            s.clear();
            reply::push_int(s, n);
            n
        }
        Some(_) => {
            wrong_type(&mut out.buf);
            return After::Continue;
        }
    };
    reply::int(&mut out.buf, n);
    After::Continue
}
