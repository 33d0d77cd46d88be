//! The `redis_server` example driven by the example Redis client (`examples/resp/`) over real
//! sockets on 127.0.0.1: every command, 10,000 pipelined commands, pub/sub fan-out to 100
//! subscribers, `BRPOP`, expiry (lazy and active), and bad input and bad clients.
//!
//! The example binaries are built by a plain `cargo test`. With a filter such as
//! `cargo test --test examples_redis_client`, build them first with `cargo build --examples`.

mod util;

#[path = "../examples/resp/mod.rs"]
mod resp;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::time::Duration;

use evloop::EventLoop;
use resp::{Connection, Reply};
use util::example::Program;

const WATCHDOG_SECS: u64 = 120;

fn serve(extra: &[&str]) -> Program {
    Program::serve("redis_server", extra)
}

/// Runs `test` on a fresh loop against the server at `addr`.
fn on_loop<F: std::future::Future<Output = std::io::Result<()>>>(test: F) {
    EventLoop::new().unwrap().block_on(test).unwrap();
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Some(s.as_bytes().to_vec()))
}

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

fn err_starts(reply: &Reply, prefix: &str) -> bool {
    matches!(reply, Reply::Error(e) if e.starts_with(prefix))
}

#[test]
fn every_command_answers_as_redis_does() {
    let _guard = util::watchdog("every_command", WATCHDOG_SECS);
    let server = serve(&[]);
    let addr = server.addr();
    on_loop(async move {
        let mut r = Connection::connect(addr).await?;
        let c = |args: &'static [&'static str]| args;
        let cases: Vec<(&[&str], Reply)> = vec![
            (c(&["PING"]), Reply::Simple("PONG".into())),
            (c(&["ping", "hi"]), bulk("hi")),
            (c(&["ECHO", "hello world"]), bulk("hello world")),
            (c(&["GET", "k"]), Reply::Bulk(None)),
            (c(&["SET", "k", "v"]), ok()),
            (c(&["GET", "k"]), bulk("v")),
            (c(&["SET", "k", "w", "NX"]), Reply::Bulk(None)),
            (c(&["SET", "k", "w", "XX"]), ok()),
            (c(&["SET", "new", "w", "XX"]), Reply::Bulk(None)),
            (c(&["SET", "new", "n", "NX"]), ok()),
            (c(&["GET", "k"]), bulk("w")),
            (c(&["EXISTS", "k", "new", "nope", "k"]), Reply::Int(3)),
            (c(&["DEL", "new", "nope"]), Reply::Int(1)),
            (c(&["INCR", "n"]), Reply::Int(1)),
            (c(&["INCRBY", "n", "41"]), Reply::Int(42)),
            (c(&["DECRBY", "n", "2"]), Reply::Int(40)),
            (c(&["DECR", "n"]), Reply::Int(39)),
            (c(&["MSET", "a", "1", "b", "2"]), ok()),
            (
                c(&["MGET", "a", "nope", "b"]),
                Reply::Array(Some(vec![bulk("1"), Reply::Bulk(None), bulk("2")])),
            ),
            (c(&["TTL", "a"]), Reply::Int(-1)),
            (c(&["TTL", "nope"]), Reply::Int(-2)),
            (c(&["EXPIRE", "a", "100"]), Reply::Int(1)),
            (c(&["TTL", "a"]), Reply::Int(100)),
            (c(&["PEXPIRE", "b", "100000"]), Reply::Int(1)),
            (c(&["TTL", "b"]), Reply::Int(100)),
            (c(&["EXPIRE", "nope", "10"]), Reply::Int(0)),
            (c(&["SET", "a", "1"]), ok()),
            (c(&["TTL", "a"]), Reply::Int(-1)),
            (c(&["SET", "e", "1", "EX", "100"]), ok()),
            (c(&["TTL", "e"]), Reply::Int(100)),
            (c(&["SET", "e", "1", "PX", "100000"]), ok()),
            (c(&["TTL", "e"]), Reply::Int(100)),
            (c(&["EXPIRE", "e", "0"]), Reply::Int(1)),
            (c(&["EXISTS", "e"]), Reply::Int(0)),
            (c(&["LPUSH", "l", "b", "a"]), Reply::Int(2)),
            (c(&["RPUSH", "l", "c", "d"]), Reply::Int(4)),
            (c(&["LLEN", "l"]), Reply::Int(4)),
            (
                c(&["LRANGE", "l", "0", "-1"]),
                Reply::Array(Some(vec![bulk("a"), bulk("b"), bulk("c"), bulk("d")])),
            ),
            (c(&["LPOP", "l"]), bulk("a")),
            (c(&["RPOP", "l"]), bulk("d")),
            (
                c(&["RPOP", "l", "5"]),
                Reply::Array(Some(vec![bulk("c"), bulk("b")])),
            ),
            (c(&["EXISTS", "l"]), Reply::Int(0)),
            (c(&["LPOP", "l"]), Reply::Bulk(None)),
            (c(&["LLEN", "l"]), Reply::Int(0)),
            (c(&["PUBLISH", "nobody", "x"]), Reply::Int(0)),
            (c(&["SELECT", "0"]), ok()),
            (c(&["DBSIZE"]), Reply::Int(4)),
            (
                c(&["CONFIG", "GET", "save"]),
                Reply::Array(Some(vec![bulk("save"), bulk("")])),
            ),
            (
                c(&["CONFIG", "GET", "appendonly"]),
                Reply::Array(Some(vec![bulk("appendonly"), bulk("no")])),
            ),
        ];
        for (args, want) in cases {
            let got = r.cmd(args).await?;
            assert_eq!(got, want, "{args:?}");
        }
        // Errors: each names the problem, and the connection goes on.
        for (args, prefix) in [
            (c(&["INCR", "k"]), "ERR value is not an integer"),
            (c(&["INCRBY", "n", "x"]), "ERR value is not an integer"),
            (c(&["LPUSH", "k", "x"]), "WRONGTYPE"),
            (c(&["GET"]), "ERR wrong number of arguments for 'get'"),
            (c(&["SET", "k", "v", "EX", "0"]), "ERR invalid expire time"),
            (c(&["SET", "k", "v", "BOGUS"]), "ERR syntax error"),
            (c(&["NOSUCH", "x"]), "ERR unknown command 'NOSUCH'"),
            (c(&["CONFIG", "SET", "save", ""]), "ERR unknown subcommand"),
            (c(&["SELECT", "1"]), "ERR DB index is out of range"),
        ] {
            let got = r.cmd(args).await?;
            assert!(err_starts(&got, prefix), "{args:?}: {got:?}");
        }
        r.cmd(&["SET", "big", "9223372036854775807"]).await?;
        let got = r.cmd(&["INCR", "big"]).await?;
        assert!(
            err_starts(&got, "ERR increment or decrement would overflow"),
            "{got:?}"
        );
        // COMMAND and INFO describe this server.
        let count = r.cmd(&["COMMAND", "COUNT"]).await?.int().unwrap();
        let Reply::Array(Some(all)) = r.cmd(&["COMMAND"]).await? else {
            panic!("COMMAND is an array")
        };
        assert_eq!(all.len() as i64, count);
        let Reply::Array(Some(info)) = r.cmd(&["COMMAND", "INFO", "get"]).await? else {
            panic!("COMMAND INFO is an array")
        };
        assert_eq!(
            info[0],
            Reply::Array(Some(vec![
                bulk("get"),
                Reply::Int(2),
                Reply::Array(Some(vec![
                    Reply::Simple("readonly".into()),
                    Reply::Simple("fast".into())
                ])),
                Reply::Int(1),
                Reply::Int(1),
                Reply::Int(1),
            ]))
        );
        let info = r.cmd(&["INFO"]).await?.text().unwrap();
        assert!(info.contains("connected_clients:1\r\n"), "{info}");
        assert!(info.contains("db0:keys=5,expires=1"), "{info}");
        assert_eq!(r.cmd(&["FLUSHALL"]).await?, ok());
        assert_eq!(r.cmd(&["DBSIZE"]).await?, Reply::Int(0));
        assert_eq!(r.cmd(&["QUIT"]).await?, ok());
        let gone = r.read_reply().await.unwrap_err();
        assert_eq!(gone.kind(), ErrorKind::UnexpectedEof);
        Ok(())
    });
}

#[test]
fn ten_thousand_pipelined_commands_are_answered_in_order() {
    let _guard = util::watchdog("pipelining", WATCHDOG_SECS);
    let server = serve(&[]);
    let addr = server.addr();
    on_loop(async move {
        let mut r = Connection::connect(addr).await?;
        let keys: Vec<String> = (0..2500).map(|i| format!("key:{i}")).collect();
        let values: Vec<String> = (0..2500)
            .map(|i| format!("value-{i}-{}", "x".repeat(i % 97)))
            .collect();
        let mut commands: Vec<Vec<&str>> = Vec::new();
        for i in 0..2500 {
            commands.push(vec!["SET", &keys[i], &values[i]]);
            commands.push(vec!["GET", &keys[i]]);
            commands.push(vec!["INCR", "counter"]);
            commands.push(vec!["RPUSH", "list", &values[i]]);
        }
        let refs: Vec<&[&str]> = commands.iter().map(Vec::as_slice).collect();
        assert_eq!(refs.len(), 10_000);
        let replies = r.pipeline(&refs).await?;
        for i in 0..2500 {
            assert_eq!(replies[4 * i], ok());
            assert_eq!(replies[4 * i + 1], bulk(&values[i]));
            assert_eq!(replies[4 * i + 2], Reply::Int(i as i64 + 1));
            assert_eq!(replies[4 * i + 3], Reply::Int(i as i64 + 1));
        }
        let Reply::Array(Some(list)) = r.cmd(&["LRANGE", "list", "0", "-1"]).await? else {
            panic!("LRANGE is an array")
        };
        let want: Vec<Reply> = values.iter().map(|v| bulk(v)).collect();
        assert_eq!(list, want);
        Ok(())
    });
}

#[test]
fn pubsub_fans_out_to_a_hundred_subscribers() {
    let _guard = util::watchdog("pubsub", WATCHDOG_SECS);
    let server = serve(&[]);
    let addr = server.addr();
    on_loop(async move {
        let mut subscribers = Vec::new();
        for i in 0..100 {
            let conn = Connection::connect(addr).await?;
            // Every tenth listens through a pattern instead.
            let sub = if i % 10 == 0 {
                conn.subscribe(&[], &["news.*"]).await?
            } else {
                conn.subscribe(&["news.tech"], &[]).await?
            };
            subscribers.push(sub);
        }
        let mut publisher = Connection::connect(addr).await?;
        for n in 0..50 {
            let payload = format!("story {n}");
            let got = publisher.cmd(&["PUBLISH", "news.tech", &payload]).await?;
            assert_eq!(got, Reply::Int(100));
        }
        assert_eq!(
            publisher.cmd(&["PUBLISH", "news.other", "x"]).await?,
            Reply::Int(10)
        );
        assert_eq!(
            publisher.cmd(&["PUBLISH", "sports", "x"]).await?,
            Reply::Int(0)
        );
        for (i, sub) in subscribers.iter_mut().enumerate() {
            for n in 0..50 {
                let m = sub.next_message().await?;
                assert_eq!(m.channel, "news.tech");
                assert_eq!(m.payload, format!("story {n}").into_bytes());
                assert_eq!(m.pattern.is_some(), i % 10 == 0);
            }
            if i % 10 == 0 {
                let m = sub.next_message().await?;
                assert_eq!(
                    (m.channel.as_str(), &m.payload[..]),
                    ("news.other", &b"x"[..])
                );
            }
        }
        // A subscriber may only (un)subscribe and ping; unsubscribing leaves pub/sub mode.
        let mut raw = Connection::connect(addr).await?;
        let sub = raw.cmd(&["SUBSCRIBE", "a", "b"]).await?;
        assert_eq!(
            sub,
            Reply::Array(Some(vec![bulk("subscribe"), bulk("a"), Reply::Int(1)]))
        );
        let second = raw.read_reply().await?;
        assert_eq!(
            second,
            Reply::Array(Some(vec![bulk("subscribe"), bulk("b"), Reply::Int(2)]))
        );
        let refused = raw.cmd(&["GET", "x"]).await?;
        assert!(
            err_starts(&refused, "ERR Can't execute 'get'"),
            "{refused:?}"
        );
        let pong = raw.cmd(&["PING"]).await?;
        assert_eq!(pong, Reply::Array(Some(vec![bulk("pong"), bulk("")])));
        raw.cmd(&["UNSUBSCRIBE", "a"]).await?;
        let last = raw.cmd(&["UNSUBSCRIBE"]).await?;
        assert_eq!(
            last,
            Reply::Array(Some(vec![bulk("unsubscribe"), bulk("b"), Reply::Int(0)]))
        );
        assert_eq!(raw.cmd(&["GET", "x"]).await?, Reply::Bulk(None));
        // 100 subscribers gone: publishing reaches no one.
        drop(subscribers);
        let mut left = 100;
        for _ in 0..1000 {
            left = publisher
                .cmd(&["PUBLISH", "news.tech", "late"])
                .await?
                .int()
                .unwrap();
            if left == 0 {
                break;
            }
            evloop::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(left, 0, "closed subscribers are forgotten");
        Ok(())
    });
}

#[test]
fn brpop_blocks_until_a_push_or_its_timeout() {
    let _guard = util::watchdog("brpop", WATCHDOG_SECS);
    let server = serve(&[]);
    let addr = server.addr();
    on_loop(async move {
        let mut pusher = Connection::connect(addr).await?;
        // Already there: answered at once, from the first non-empty list.
        pusher.cmd(&["RPUSH", "q2", "first", "second"]).await?;
        let mut worker = Connection::connect(addr).await?;
        let got = worker.brpop(&["q1", "q2"], Duration::ZERO).await?;
        assert_eq!(got, Some(("q2".to_string(), b"second".to_vec())));
        // Nothing there: a timeout gives nil.
        let got = worker.brpop(&["empty"], Duration::from_millis(50)).await?;
        assert_eq!(got, None);
        // Three workers wait; pushes serve them in the order they came.
        let mut waiting = Vec::new();
        for i in 0..3 {
            let mut w = Connection::connect(addr).await?;
            waiting.push(evloop::spawn(async move {
                let got = w.brpop(&["jobs"], Duration::ZERO).await;
                (i, got)
            }));
            // Each is blocked before the next connects (INFO counts them).
            loop {
                let info = pusher.cmd(&["INFO"]).await?.text().unwrap();
                if info.contains(&format!("blocked_clients:{}\r\n", i + 1)) {
                    break;
                }
                evloop::time::sleep(Duration::from_millis(2)).await;
            }
        }
        assert_eq!(
            pusher.cmd(&["LPUSH", "jobs", "a", "b", "c"]).await?,
            Reply::Int(3)
        );
        for (i, task) in waiting.into_iter().enumerate() {
            let (who, got) = task.await.unwrap();
            assert_eq!(who, i);
            let item = ["a", "b", "c"][i];
            assert_eq!(got?, Some(("jobs".to_string(), item.as_bytes().to_vec())));
        }
        assert_eq!(pusher.cmd(&["EXISTS", "jobs"]).await?, Reply::Int(0));
        // A blocked client that leaves is forgotten: the next element is not lost to it.
        let mut quitter = Connection::connect(addr).await?;
        quitter
            .send_raw(b"*3\r\n$5\r\nBRPOP\r\n$4\r\ngone\r\n$1\r\n0\r\n")
            .await?;
        loop {
            let info = pusher.cmd(&["INFO"]).await?.text().unwrap();
            if info.contains("blocked_clients:1\r\n") {
                break;
            }
            evloop::time::sleep(Duration::from_millis(2)).await;
        }
        drop(quitter);
        loop {
            let info = pusher.cmd(&["INFO"]).await?.text().unwrap();
            if info.contains("blocked_clients:0\r\n") {
                break;
            }
            evloop::time::sleep(Duration::from_millis(2)).await;
        }
        pusher.cmd(&["LPUSH", "gone", "kept"]).await?;
        assert_eq!(pusher.cmd(&["RPOP", "gone"]).await?, bulk("kept"));
        // Bad timeouts.
        let bad = pusher.cmd(&["BRPOP", "x", "soon"]).await?;
        assert!(err_starts(&bad, "ERR timeout is not a float"), "{bad:?}");
        let bad = pusher.cmd(&["BRPOP", "x", "-1"]).await?;
        assert!(err_starts(&bad, "ERR timeout is negative"), "{bad:?}");
        Ok(())
    });
}

#[test]
fn keys_expire_on_access_and_by_the_active_cycle() {
    let _guard = util::watchdog("expiry", WATCHDOG_SECS);
    let server = serve(&[]);
    let addr = server.addr();
    on_loop(async move {
        let mut r = Connection::connect(addr).await?;
        // Lazily: the key is gone once its time is past, whatever the active cycle did.
        r.cmd(&["SET", "soon", "v", "PX", "30"]).await?;
        assert_eq!(r.cmd(&["GET", "soon"]).await?, bulk("v"));
        evloop::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(r.cmd(&["GET", "soon"]).await?, Reply::Bulk(None));
        assert_eq!(r.cmd(&["TTL", "soon"]).await?, Reply::Int(-2));
        // Actively: keys nobody touches are deleted too (DBSIZE counts keys without touching
        // them). 1,000 of them, so the cycle's budget and the heap are exercised.
        let names: Vec<String> = (0..1000).map(|i| format!("t:{i}")).collect();
        let cmds: Vec<[&str; 5]> = names.iter().map(|k| ["SET", k, "v", "PX", "20"]).collect();
        let refs: Vec<&[&str]> = cmds.iter().map(|c| &c[..]).collect();
        r.pipeline(&refs).await?;
        r.cmd(&["SET", "forever", "v"]).await?;
        let mut size = -1;
        for _ in 0..400 {
            size = r.cmd(&["DBSIZE"]).await?.int().unwrap();
            if size == 1 {
                break;
            }
            evloop::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(size, 1, "the expired keys were deleted by the active cycle");
        let info = r.cmd(&["INFO"]).await?.text().unwrap();
        assert!(info.contains("db0:keys=1,expires=0"), "{info}");
        Ok(())
    });
}

/// A raw connection, for bytes no client library would send.
fn raw(addr: SocketAddr) -> StdStream {
    let s = StdStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Everything the server sends until it closes the connection.
fn read_to_close(s: &mut StdStream) -> Vec<u8> {
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("reading until the server closes: {e}; got {got:?}"),
    }
    got
}

/// A resident set size in bytes, from /proc.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn a_malformed_frame_closes_that_connection_only() {
    let _guard = util::watchdog("malformed", WATCHDOG_SECS);
    let server = serve(&["--proto-max-bulk-len", "1024"]);
    let addr = server.addr();
    let mut bystander = raw(addr);
    bystander
        .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
        .unwrap();
    let mut ok = [0u8; 5];
    bystander.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    for (bad, error) in [
        (&b"*2\r\n$3\r\nGET\r\nxyz\r\n"[..], "expected '$'"),
        (b"*x\r\n", "invalid multibulk length"),
        (b"*1\r\n$-5\r\n", "invalid bulk length"),
        (b"*2\r\n$3\r\nGET\r\n$1025\r\n", "invalid bulk length"),
        (b"*1\r\n$4\r\nPINGxx", "invalid bulk string ending"),
        (b"*99999999999\r\n", "invalid multibulk length"),
    ] {
        let mut s = raw(addr);
        // A good command first: its reply comes before the error.
        s.write_all(b"PING\r\n").unwrap();
        s.write_all(bad).unwrap();
        let got = read_to_close(&mut s);
        let want = format!("+PONG\r\n-ERR Protocol error: {error}\r\n");
        assert_eq!(String::from_utf8_lossy(&got), want, "{bad:?}");
    }
    // An inline line that never ends is refused at 64 KiB (exactly that much is sent, so that
    // nothing is left unread when the server closes: that would reset the connection).
    let mut s = raw(addr);
    s.write_all(&vec![b'a'; 64 * 1024]).unwrap();
    let got = read_to_close(&mut s);
    assert_eq!(got, b"-ERR Protocol error: too big inline request\r\n");
    bystander.write_all(b"GET k\r\n").unwrap();
    let mut v = [0u8; 7];
    bystander.read_exact(&mut v).unwrap();
    assert_eq!(&v, b"$1\r\nv\r\n");
}

#[test]
fn oversized_bulk_strings_are_refused_before_allocating() {
    let _guard = util::watchdog("oversized", WATCHDOG_SECS);
    let server = serve(&[]);
    let addr = server.addr();
    let pid = server.server.child.id();
    // Over the default 512 MiB: refused from the header alone.
    let mut s = raw(addr);
    s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n")
        .unwrap();
    let got = read_to_close(&mut s);
    assert_eq!(got, b"-ERR Protocol error: invalid bulk length\r\n");
    // Just under it, announced by 50 clients that then send only a little: the server does
    // not set aside what they announced (50 × 512 MiB), only room for what came.
    let before = rss(pid);
    let mut announcers = Vec::new();
    for _ in 0..50 {
        let mut s = raw(addr);
        s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n")
            .unwrap();
        s.write_all(&[b'x'; 4096]).unwrap();
        announcers.push(s);
    }
    // The server has read them all once this client is answered after them.
    let mut probe = raw(addr);
    probe.write_all(b"PING\r\n").unwrap();
    let mut pong = [0u8; 7];
    probe.read_exact(&mut pong).unwrap();
    let grown = rss(pid).saturating_sub(before);
    assert!(
        grown < 200 << 20,
        "50 announced 512 MiB values cost {grown} bytes of RSS"
    );
    // A big value that does arrive is stored whole.
    let value = vec![b'v'; 3 << 20];
    let mut s = raw(addr);
    s.write_all(format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n", value.len()).as_bytes())
        .unwrap();
    s.write_all(&value).unwrap();
    s.write_all(b"\r\nGET big\r\n").unwrap();
    let mut got = vec![0u8; 5 + format!("${}\r\n", value.len()).len() + value.len() + 2];
    s.read_exact(&mut got).unwrap();
    let head = format!("+OK\r\n${}\r\n", value.len());
    assert_eq!(&got[..head.len()], head.as_bytes());
    assert!(got[head.len()..got.len() - 2].iter().all(|&b| b == b'v'));
}

#[test]
fn a_subscriber_that_stops_reading_is_disconnected_at_its_limit() {
    let _guard = util::watchdog("slow subscriber", WATCHDOG_SECS);
    let server = serve(&["--pubsub-output-limit", "1048576"]);
    let addr = server.addr();
    let mut sleeper = raw(addr);
    sleeper.write_all(b"SUBSCRIBE firehose\r\n").unwrap();
    let want = b"*3\r\n$9\r\nsubscribe\r\n$8\r\nfirehose\r\n:1\r\n";
    let mut confirm = vec![0u8; want.len()];
    sleeper.read_exact(&mut confirm).unwrap();
    assert_eq!(&confirm[..], &want[..]);
    on_loop(async move {
        let mut publisher = Connection::connect(addr).await?;
        let payload = "m".repeat(64 * 1024);
        // The socket buffers take a few MiB, then the 1 MiB limit is passed: it must come well
        // before 100 MiB were published.
        let mut published = 0;
        for _ in 0..1600 {
            let n = publisher.cmd(&["PUBLISH", "firehose", &payload]).await?;
            published += 1;
            if n == Reply::Int(0) {
                break;
            }
        }
        assert!(published < 1600, "the subscriber was never disconnected");
        assert_eq!(
            publisher.cmd(&["PING"]).await?,
            Reply::Simple("PONG".into())
        );
        Ok(())
    });
    // What it had been sent comes, then the end.
    let got = read_to_close(&mut sleeper);
    assert!(got.len() < 64 << 20);
}

#[test]
fn a_client_that_does_not_read_is_paused_then_served_in_full() {
    let _guard = util::watchdog("slow reader", WATCHDOG_SECS);
    let server = serve(&["--output-limit", "4194304"]);
    let addr = server.addr();
    let pid = server.server.child.id();
    let value = vec![b'z'; 1 << 20];
    let mut s = raw(addr);
    s.write_all(format!("*3\r\n$3\r\nSET\r\n$1\r\nv\r\n${}\r\n", value.len()).as_bytes())
        .unwrap();
    s.write_all(&value).unwrap();
    s.write_all(b"\r\n").unwrap();
    let mut ok = [0u8; 5];
    s.read_exact(&mut ok).unwrap();
    // 200 MiB of replies asked for at once, and not read: the server stops running the client's
    // commands at its soft limit instead of buffering them, so it stays small.
    let before = rss(pid);
    let writer = {
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let gets = b"GET v\r\n".repeat(200);
            w.write_all(&gets).unwrap();
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let grown = rss(pid).saturating_sub(before);
    assert!(
        grown < 32 << 20,
        "a client not reading cost {grown} bytes of RSS"
    );
    // Then every reply arrives, whole.
    let head = format!("${}\r\n", value.len());
    let mut reply = vec![0u8; head.len() + value.len() + 2];
    for i in 0..200 {
        s.read_exact(&mut reply).unwrap();
        assert_eq!(&reply[..head.len()], head.as_bytes(), "reply {i}");
        assert!(reply[head.len()..reply.len() - 2]
            .iter()
            .all(|&b| b == b'z'));
    }
    writer.join().unwrap();
    // One command whose replies pass the hard limit (4 MiB) gets the client disconnected.
    s.write_all(b"MGET v v v v v v v v\r\n").unwrap();
    let got = read_to_close(&mut s);
    assert!(got.len() < 8 << 20, "{} bytes", got.len());
}

#[test]
fn random_bytes_from_a_hundred_connections_neither_crash_nor_stall_it() {
    let _guard = util::watchdog("random bytes", WATCHDOG_SECS);
    let server = serve(&[]);
    let addr = server.addr();
    let floods: Vec<_> = (0..100u64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut rng = util::Rng::new(i * 7919 + 1);
                let mut s = raw(addr);
                s.set_nonblocking(true).unwrap();
                let mut sink = [0u8; 16 * 1024];
                for _ in 0..64 {
                    let chunk: Vec<u8> = (0..1024).map(|_| rng.next_u64() as u8).collect();
                    // Half the connections read what comes back, half never do.
                    if i % 2 == 0 {
                        while let Ok(1..) = s.read(&mut sink) {}
                    }
                    match s.write(&chunk) {
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(1))
                        }
                        Err(_) => return, // closed for a protocol error: fine
                    }
                }
            })
        })
        .collect();
    // Meanwhile and afterwards, a well-behaved client is served.
    on_loop(async move {
        let mut r = Connection::connect(addr).await?;
        for i in 0..200 {
            let v = i.to_string();
            assert_eq!(r.cmd(&["ECHO", &v]).await?, bulk(&v));
        }
        Ok(())
    });
    for f in floods {
        f.join().unwrap();
    }
    let mut server = server;
    assert!(
        server.server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    on_loop(async move {
        let mut r = Connection::connect(addr).await?;
        assert_eq!(r.cmd(&["PING"]).await?, Reply::Simple("PONG".into()));
        Ok(())
    });
}

#[test]
fn sigterm_answers_what_was_sent_and_exits_0() {
    let _guard = util::watchdog("sigterm", WATCHDOG_SECS);
    let mut server = serve(&["--grace", "10"]);
    let addr = server.addr();
    let mut idle = raw(addr);
    idle.write_all(b"PING\r\n").unwrap();
    let mut pong = [0u8; 7];
    idle.read_exact(&mut pong).unwrap();
    server.sigterm();
    server.expect_line("shutting down");
    // The idle client is closed (not left to the end of the grace period).
    assert_eq!(read_to_close(&mut idle), b"");
    server.assert_exits_0();
}
