//! Commands on keys of any type: `DEL`, `EXISTS`, `EXPIRE`, `PEXPIRE`, `TTL`, `PTTL`.

use std::time::Duration;

use super::{not_an_integer, After, Args, Ctx};
use crate::redis::parser::parse_i64;
use crate::redis::reply;

pub fn del(ctx: &mut Ctx, args: Args) -> After {
    let mut store = ctx.server.store.borrow_mut();
    let n = args.from(1).filter(|k| store.remove(k, ctx.now)).count();
    reply::int(&mut ctx.client.out.borrow_mut().buf, n as i64);
    After::Continue
}

pub fn exists(ctx: &mut Ctx, args: Args) -> After {
    let mut store = ctx.server.store.borrow_mut();
    let n = args.from(1).filter(|k| store.contains(k, ctx.now)).count();
    reply::int(&mut ctx.client.out.borrow_mut().buf, n as i64);
    After::Continue
}

pub fn expire(ctx: &mut Ctx, args: Args) -> After {
    set_expiry(ctx, args, 1000)
}

pub fn pexpire(ctx: &mut Ctx, args: Args) -> After {
    set_expiry(ctx, args, 1)
}

/// `EXPIRE key n` with `n` in units of `unit_ms`; a time not in the future deletes the key.
fn set_expiry(ctx: &mut Ctx, args: Args, unit_ms: i64) -> After {
    let mut out = ctx.client.out.borrow_mut();
    let Some(n) = parse_i64(args.get(2)) else {
        not_an_integer(&mut out.buf);
        return After::Continue;
    };
    let mut store = ctx.server.store.borrow_mut();
    let key = args.get(1);
    let now = ctx.now.get();
    let done = match n.checked_mul(unit_ms) {
        Some(ms) if ms <= 0 => store.remove(key, ctx.now),
        Some(ms) => match now.checked_add(Duration::from_millis(ms as u64)) {
            Some(when) => store.set_expiry(key, when, ctx.now),
            None => {
                reply::error(&mut out.buf, "ERR invalid expire time in 'expire' command");
                return After::Continue;
            }
        },
        None => {
            reply::error(&mut out.buf, "ERR invalid expire time in 'expire' command");
            return After::Continue;
        }
    };
    reply::int(&mut out.buf, i64::from(done));
    After::Continue
}

pub fn ttl(ctx: &mut Ctx, args: Args) -> After {
    time_to_live(ctx, args, 1000)
}

pub fn pttl(ctx: &mut Ctx, args: Args) -> After {
    time_to_live(ctx, args, 1)
}

/// -2 if there is no key, -1 if it never expires, else the time left, rounded as Redis does.
fn time_to_live(ctx: &mut Ctx, args: Args, unit_ms: u128) -> After {
    let mut store = ctx.server.store.borrow_mut();
    let left = match store.expiry(args.get(1), ctx.now) {
        None => -2,
        Some(None) => -1,
        Some(Some(when)) => {
            let ms = when.saturating_duration_since(ctx.now.get()).as_millis();
            ((ms + unit_ms / 2) / unit_ms) as i64
        }
    };
    reply::int(&mut ctx.client.out.borrow_mut().buf, left);
    After::Continue
}
