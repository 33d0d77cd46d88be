//! List commands: `LPUSH`, `RPUSH`, `LPOP`, `RPOP` (with a count), `LLEN`, `LRANGE`, and the
//! blocking `BRPOP`/`BLPOP` of task queues.

use std::collections::VecDeque;
use std::time::Duration;

use super::{not_an_integer, wrong_type, After, Args, Ctx};
use crate::redis::client::Blocked;
use crate::redis::parser::parse_i64;
use crate::redis::reply;
use crate::redis::store::Value;

pub fn lpush(ctx: &mut Ctx, args: Args) -> After {
    push(ctx, args, false)
}

pub fn rpush(ctx: &mut Ctx, args: Args) -> After {
    push(ctx, args, true)
}

fn push(ctx: &mut Ctx, args: Args, tail: bool) -> After {
    let key = args.get(1);
    {
        let mut store = ctx.server.store.borrow_mut();
        let mut out = ctx.client.out.borrow_mut();
        let fill = |list: &mut VecDeque<Vec<u8>>| {
            for item in args.from(2) {
                if tail {
                    list.push_back(item.to_vec());
                } else {
                    list.push_front(item.to_vec());
                }
            }
            list.len()
        };
        let len = match store.get(key, ctx.now) {
            Some(Value::List(list)) => fill(list),
            Some(_) => {
                wrong_type(&mut out.buf);
                return After::Continue;
            }
            None => {
                let mut list = VecDeque::new();
                let len = fill(&mut list);
                store.insert_new(key, Value::List(list));
                len
            }
        };
        reply::int(&mut out.buf, len as i64);
    }
    if ctx.server.waiters.borrow().waits_on(key) {
        serve_blocked(ctx, key);
    }
    After::Continue
}

/// Hands elements of `key` to the clients blocked on it, longest waiting first.
fn serve_blocked(ctx: &mut Ctx, key: &[u8]) {
    loop {
        let Some(waiter) = ctx.server.waiters.borrow().first(key) else {
            return;
        };
        let from_tail = waiter
            .blocked
            .borrow()
            .as_ref()
            .is_some_and(|b| b.from_tail);
        let Some(item) = pop_one(ctx, key, from_tail) else {
            return;
        };
        ctx.server.waiters.borrow_mut().unblock(&waiter);
        {
            let mut out = waiter.out.borrow_mut();
            reply::array(&mut out.buf, 2);
            reply::bulk(&mut out.buf, key);
            reply::bulk(&mut out.buf, &item);
        }
        waiter.wake();
    }
}

/// Pops one element of the list at `key`, deleting the key once the list is empty.
fn pop_one(ctx: &mut Ctx, key: &[u8], from_tail: bool) -> Option<Vec<u8>> {
    let mut store = ctx.server.store.borrow_mut();
    let Some(Value::List(list)) = store.get(key, ctx.now) else {
        return None;
    };
    let item = if from_tail {
        list.pop_back()
    } else {
        list.pop_front()
    };
    if list.is_empty() {
        store.remove(key, ctx.now);
    }
    item
}

pub fn lpop(ctx: &mut Ctx, args: Args) -> After {
    pop(ctx, args, false)
}

pub fn rpop(ctx: &mut Ctx, args: Args) -> After {
    pop(ctx, args, true)
}

/// `LPOP key [count]`: one element as a bulk string, or with a count, an array of up to that many.
fn pop(ctx: &mut Ctx, args: Args, tail: bool) -> After {
    let mut out = ctx.client.out.borrow_mut();
    if args.len() > 3 {
        reply::error(&mut out.buf, "ERR syntax error");
        return After::Continue;
    }
    let count = match args.len() {
        3 => match parse_i64(args.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => {
                reply::error(&mut out.buf, "ERR value is out of range, must be positive");
                return After::Continue;
            }
        },
        _ => None,
    };
    let mut store = ctx.server.store.borrow_mut();
    let key = args.get(1);
    let list = match store.get(key, ctx.now) {
        None => {
            if count.is_some() {
                reply::nil_array(&mut out.buf);
            } else {
                reply::nil(&mut out.buf);
            }
            return After::Continue;
        }
        Some(Value::List(list)) => list,
        Some(_) => {
            wrong_type(&mut out.buf);
            return After::Continue;
        }
    };
    let take = |list: &mut VecDeque<Vec<u8>>| {
        if tail {
            list.pop_back()
        } else {
            list.pop_front()
        }
    };
    match count {
        None => match take(list) {
            Some(item) => reply::bulk(&mut out.buf, &item),
            None => reply::nil(&mut out.buf),
        },
        Some(n) => {
            let n = n.min(list.len());
            reply::array(&mut out.buf, n);
            for _ in 0..n {
                let item = take(list).expect("counted");
                reply::bulk(&mut out.buf, &item);
            }
        }
    }
    if list.is_empty() {
        store.remove(key, ctx.now);
    }
    After::Continue
}

pub fn llen(ctx: &mut Ctx, args: Args) -> After {
    let mut store = ctx.server.store.borrow_mut();
    let mut out = ctx.client.out.borrow_mut();
    match store.get(args.get(1), ctx.now) {
        None => reply::int(&mut out.buf, 0),
        Some(Value::List(list)) => reply::int(&mut out.buf, list.len() as i64),
        Some(_) => wrong_type(&mut out.buf),
    }
    After::Continue
}

pub fn lrange(ctx: &mut Ctx, args: Args) -> After {
    let mut out = ctx.client.out.borrow_mut();
    let (Some(start), Some(stop)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        not_an_integer(&mut out.buf);
        return After::Continue;
    };
    let mut store = ctx.server.store.borrow_mut();
    let list = match store.get(args.get(1), ctx.now) {
        None => {
            reply::array(&mut out.buf, 0);
            return After::Continue;
        }
        Some(Value::List(list)) => list,
        Some(_) => {
            wrong_type(&mut out.buf);
            return After::Continue;
        }
    };
    let len = list.len() as i64;
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, stop) = (from_end(start), from_end(stop).min(len - 1));
    if start > stop {
        reply::array(&mut out.buf, 0);
        return After::Continue;
    }
    reply::array(&mut out.buf, (stop - start + 1) as usize);
    for item in list.range(start as usize..=stop as usize) {
        reply::bulk(&mut out.buf, item);
    }
    After::Continue
}

pub fn brpop(ctx: &mut Ctx, args: Args) -> After {
    block_pop(ctx, args, true)
}

pub fn blpop(ctx: &mut Ctx, args: Args) -> After {
    block_pop(ctx, args, false)
}

/// `BRPOP key [key ...] timeout`: pops from the first non-empty list, or blocks the client until
/// a push or the timeout (seconds, fractions allowed, 0 for ever).
fn block_pop(ctx: &mut Ctx, args: Args, from_tail: bool) -> After {
    let last = args.len() - 1;
    let timeout = std::str::from_utf8(args.get(last))
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|t| t.is_finite());
    let timeout = match timeout {
        Some(t) if t >= 0.0 => t,
        Some(_) => {
            reply::error(
                &mut ctx.client.out.borrow_mut().buf,
                "ERR timeout is negative",
            );
            return After::Continue;
        }
        None => {
            let msg = "ERR timeout is not a float or out of range";
            reply::error(&mut ctx.client.out.borrow_mut().buf, msg);
            return After::Continue;
        }
    };
    for key in args.from(1).take(last - 1) {
        let is_list = match ctx.server.store.borrow_mut().get(key, ctx.now) {
            None => false,
            Some(Value::List(_)) => true,
            Some(_) => {
                wrong_type(&mut ctx.client.out.borrow_mut().buf);
                return After::Continue;
            }
        };
        if is_list {
            let item = pop_one(ctx, key, from_tail).expect("a stored list is never empty");
            let mut out = ctx.client.out.borrow_mut();
            reply::array(&mut out.buf, 2);
            reply::bulk(&mut out.buf, key);
            reply::bulk(&mut out.buf, &item);
            return After::Continue;
        }
    }
    let deadline = if timeout == 0.0 {
        None
    } else {
        Duration::try_from_secs_f64(timeout)
            .ok()
            .and_then(|d| ctx.now.get().checked_add(d))
    };
    let blocked = Blocked {
        keys: args.from(1).take(last - 1).map(Box::from).collect(),
        deadline,
        from_tail,
    };
    ctx.server.waiters.borrow_mut().block(ctx.client, blocked);
    After::Continue
}
