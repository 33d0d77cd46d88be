//! What all connections share: the configuration, the keyspace, the pub/sub registry and the
//! blocked clients. Single-threaded, so plain `RefCell`s; each command borrows what it needs for
//! its own duration only, and no borrow is held across an `.await`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use super::blocking::Waiters;
use super::client::Client;
use super::pubsub::PubSub;
use super::store::{Clock, Store};

/// The limits, set from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest bulk string a client may send (`proto-max-bulk-len`, 512 MiB by default).
    pub max_bulk: usize,
    /// The largest command, all arguments together (`client-query-buffer-limit`, 1 GiB).
    pub max_command: usize,
    /// Pending output past which a normal client is disconnected (256 MiB by default; a client
    /// that does not read is first paused at [`Config::soft_output`], so only one command's
    /// replies can take it past this).
    pub output_limit: usize,
    /// Pending output past which a subscriber is disconnected (32 MiB, Redis's hard limit).
    pub pubsub_limit: usize,
    /// Pending output at which a client's commands stop being run until it reads.
    pub soft_output: usize,
    /// The port, for `CONFIG GET port` and `INFO`.
    pub port: u16,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_bulk: 512 << 20,
            max_command: 1 << 30,
            output_limit: 256 << 20,
            pubsub_limit: 32 << 20,
            soft_output: 64 << 10,
            port: 6380,
        }
    }
}

/// The server's state.
#[derive(Debug)]
pub struct Server {
    pub config: Config,
    pub store: RefCell<Store>,
    pub pubsub: RefCell<PubSub>,
    pub waiters: RefCell<Waiters>,
    pub started: Instant,
    /// The time for expiry, `BRPOP` timeouts and the uptime.
    pub clock: Clock,
    next_id: Cell<u64>,
    /// Connected clients, by id.
    live: RefCell<HashMap<u64, Rc<Client>>>,
    /// Commands run since start.
    pub commands: Cell<u64>,
}

impl Server {
    pub fn new(config: Config, clock: Clock) -> Server {
        Server {
            config,
            store: RefCell::default(),
            pubsub: RefCell::default(),
            waiters: RefCell::default(),
            started: clock(),
            clock,
            next_id: Cell::new(1),
            live: RefCell::default(),
            commands: Cell::new(0),
        }
    }

    /// A new client's state; give it back with [`Server::disconnect`].
    pub fn connect(&self) -> Rc<Client> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let client = Rc::new(Client::new(id));
        self.live.borrow_mut().insert(id, client.clone());
        client
    }

    /// Forgets a client that is gone: its subscriptions, its place among the blocked.
    pub fn disconnect(&self, client: &Rc<Client>) {
        self.live.borrow_mut().remove(&client.id);
        self.waiters.borrow_mut().unblock(client);
        let (channels, patterns): (Vec<_>, Vec<_>) = {
            let subs = client.subs.borrow();
            (
                subs.channels.iter().cloned().collect(),
                subs.patterns.iter().cloned().collect(),
            )
        };
        let mut pubsub = self.pubsub.borrow_mut();
        for c in channels {
            pubsub.unsubscribe(client, &c, false);
        }
        for p in patterns {
            pubsub.unsubscribe(client, &p, true);
        }
    }

    /// How many clients are connected.
    pub fn clients(&self) -> usize {
        self.live.borrow().len()
    }

    /// Asks every client to finish what it has and close (a graceful shutdown).
    pub fn shutdown(&self) {
        let live: Vec<_> = self.live.borrow().values().cloned().collect();
        for client in live {
            client.close_soon();
        }
    }

    /// The output limit that applies to `client` now.
    pub fn output_limit(&self, client: &Client) -> usize {
        if client.subs.borrow().count() > 0 {
            self.config.pubsub_limit
        } else {
            self.config.output_limit
        }
    }
}
