//! `SUBSCRIBE`, `UNSUBSCRIBE`, `PSUBSCRIBE`, `PUNSUBSCRIBE`, `PUBLISH`.

use super::{After, Args, Ctx};
use crate::redis::reply;

pub fn subscribe(ctx: &mut Ctx, args: Args) -> After {
    join(ctx, args, false)
}

pub fn psubscribe(ctx: &mut Ctx, args: Args) -> After {
    join(ctx, args, true)
}

pub fn unsubscribe(ctx: &mut Ctx, args: Args) -> After {
    leave(ctx, args, false)
}

pub fn punsubscribe(ctx: &mut Ctx, args: Args) -> After {
    leave(ctx, args, true)
}

/// One confirmation per channel: `[subscribe, channel, subscriptions now]`.
fn confirm(ctx: &Ctx, kind: &[u8], name: Option<&[u8]>) {
    let count = ctx.client.subs.borrow().count();
    let mut out = ctx.client.out.borrow_mut();
    reply::array(&mut out.buf, 3);
    reply::bulk(&mut out.buf, kind);
    match name {
        Some(n) => reply::bulk(&mut out.buf, n),
        None => reply::nil(&mut out.buf),
    }
    reply::int(&mut out.buf, count as i64);
}

fn join(ctx: &mut Ctx, args: Args, pattern: bool) -> After {
    let kind: &[u8] = if pattern { b"psubscribe" } else { b"subscribe" };
    for name in args.from(1) {
        ctx.server
            .pubsub
            .borrow_mut()
            .subscribe(ctx.client, name, pattern);
        confirm(ctx, kind, Some(name));
    }
    After::Continue
}

fn leave(ctx: &mut Ctx, args: Args, pattern: bool) -> After {
    let kind: &[u8] = if pattern {
        b"punsubscribe"
    } else {
        b"unsubscribe"
    };
    let names: Vec<Box<[u8]>> = if args.len() > 1 {
        args.from(1).map(Box::from).collect()
    } else {
        let subs = ctx.client.subs.borrow();
        let all = if pattern {
            &subs.patterns
        } else {
            &subs.channels
        };
        all.iter().cloned().collect()
    };
    if names.is_empty() {
        confirm(ctx, kind, None);
    }
    for name in &names {
        ctx.server
            .pubsub
            .borrow_mut()
            .unsubscribe(ctx.client, name, pattern);
        confirm(ctx, kind, Some(name));
    }
    After::Continue
}

pub fn publish(ctx: &mut Ctx, args: Args) -> After {
    let limit = ctx.server.config.pubsub_limit;
    let n = ctx
        .server
        .pubsub
        .borrow_mut()
        .publish(args.get(1), args.get(2), limit);
    reply::int(&mut ctx.client.out.borrow_mut().buf, n as i64);
    After::Continue
}
