//! The `redis_server` example's expiry under paused time, in process: its modules
//! (`examples/redis/`) run commands through a `Session` as the connection task would, on a loop
//! whose clock only `evloop::time::advance` moves. The store reads the loop's clock, so a key
//! set to live 1.5 s is there 1 ms before its time and gone at it, exactly, on every run; the
//! active cycle deletes keys nobody touches when the clock is advanced past them; and an hour
//! of expiry takes no time.

#[path = "../examples/redis/mod.rs"]
mod redis;

use std::rc::Rc;
use std::time::Duration;

use evloop::time::advance;
use redis::client::Client;
use redis::expiry::{active_expiry, loop_clock};
use redis::server::{Config, Server};
use redis::session::Session;

/// One client of an in-process server: what it sends is run at once, what it gets back is
/// returned.
struct Peer {
    server: Rc<Server>,
    client: Rc<Client>,
    session: Session,
}

impl Peer {
    fn new(server: &Rc<Server>) -> Peer {
        Peer {
            server: server.clone(),
            client: server.connect(),
            session: Session::new(server),
        }
    }

    /// Runs one inline command (`SET k v PX 1500`) and returns the reply's bytes.
    fn cmd(&mut self, line: &str) -> String {
        let bytes = format!("{line}\r\n");
        let spare = self.session.input.spare(None);
        spare[..bytes.len()].copy_from_slice(bytes.as_bytes());
        self.session.input.filled(bytes.len());
        assert!(
            self.session.run(&self.server, &self.client),
            "{line}: nothing ran"
        );
        assert_eq!(self.session.input.len(), 0, "{line}: not all of it ran");
        let mut out = self.client.out.borrow_mut();
        let reply = String::from_utf8(out.pending().to_vec()).unwrap();
        let n = out.pending().len();
        out.advance(n);
        reply
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.server.disconnect(&self.client);
    }
}

fn server() -> Rc<Server> {
    Rc::new(Server::new(Config::default(), loop_clock))
}

#[test]
fn a_key_lives_exactly_its_time_on_the_paused_clock() {
    evloop::test::run(async {
        assert!(evloop::time::is_paused());
        let server = server();
        let mut c = Peer::new(&server);
        assert_eq!(c.cmd("SET k v PX 1500"), "+OK\r\n");
        assert_eq!(c.cmd("PTTL k"), ":1500\r\n", "no time passed");
        advance(Duration::from_millis(1499)).await;
        assert_eq!(c.cmd("PTTL k"), ":1\r\n");
        assert_eq!(c.cmd("GET k"), "$1\r\nv\r\n", "1 ms before its time");
        advance(Duration::from_millis(1)).await;
        // Touched at its time, the key goes (lazily).
        assert_eq!(c.cmd("GET k"), "$-1\r\n", "at its time");
        assert_eq!(c.cmd("EXISTS k"), ":0\r\n");
        assert_eq!(c.cmd("PTTL k"), ":-2\r\n");
        assert_eq!(server.store.borrow().len(), 0);

        // EXPIRE on a key that exists, then a plain SET, which drops the expiry: the clock moving
        // on no longer matters.
        assert_eq!(c.cmd("SET p 1"), "+OK\r\n");
        assert_eq!(c.cmd("EXPIRE p 10"), ":1\r\n");
        advance(Duration::from_secs(9)).await;
        assert_eq!(c.cmd("TTL p"), ":1\r\n");
        assert_eq!(c.cmd("SET p 2"), "+OK\r\n");
        advance(Duration::from_secs(3600)).await;
        assert_eq!(c.cmd("GET p"), "$1\r\n2\r\n");
        assert_eq!(c.cmd("TTL p"), ":-1\r\n");
    });
}

#[test]
fn the_active_cycle_deletes_untouched_keys_when_the_clock_is_advanced() {
    evloop::test::run(async {
        let server = server();
        let cycle = evloop::spawn(active_expiry(server.clone()));
        let mut c = Peer::new(&server);
        assert_eq!(c.cmd("SET short 1 EX 1"), "+OK\r\n");
        assert_eq!(c.cmd("SET long 2 EX 3600"), "+OK\r\n");
        assert_eq!(c.cmd("SET forever 3"), "+OK\r\n");
        let store = |s: &Server| (s.store.borrow().len(), s.store.borrow().with_expiry());
        assert_eq!(store(&server), (3, 2));

        // Nobody touches the keys: only the cycle (a timer on the loop's clock) can delete them.
        advance(Duration::from_millis(999)).await;
        assert_eq!(store(&server), (3, 2), "nothing is due before 1 s");
        advance(Duration::from_millis(101)).await;
        assert_eq!(
            store(&server),
            (2, 1),
            "`short` went with the first cycle after 1 s"
        );
        advance(Duration::from_secs(3600)).await;
        assert_eq!(store(&server), (1, 0), "an hour later, `long` too");
        assert_eq!(c.cmd("GET forever"), "$1\r\n3\r\n");
        assert_eq!(c.cmd("DBSIZE"), ":1\r\n");

        // The uptime is on the same clock: 1 h 1.1 s since the server started.
        let info = c.cmd("INFO");
        assert!(info.contains("\r\nuptime_in_seconds:3601\r\n"), "{info}");

        cycle.abort();
        assert!(cycle.await.is_err(), "aborted, not finished");
    });
}

#[test]
fn a_brpop_deadline_is_on_the_loop_clock() {
    evloop::test::run(async {
        let server = server();
        let mut c = Peer::new(&server);
        // An hour ahead of the real clock: a deadline from `Instant::now` would be an hour off.
        advance(Duration::from_secs(3600)).await;
        assert_eq!(c.cmd("BRPOP q 2.5"), "", "blocked: no reply yet");
        let deadline = c.client.blocked.borrow().as_ref().and_then(|b| b.deadline);
        let now = evloop::Handle::current().now();
        assert_eq!(deadline, Some(now + Duration::from_millis(2500)));
    });
}
