//! A connected client's state as the commands see it, apart from its socket: the replies not yet
//! written, its subscriptions, whether it is blocked in `BRPOP`, and whether it must be
//! disconnected. Other clients reach it here: a `PUBLISH` appends to a subscriber's output, a
//! `LPUSH` answers a blocked `BRPOP`, and each wakes the connection's task to write.
//!
//! Nothing here knows the runtime: the task is woken through a `std::task::Waker`, so the same
//! state serves the evloop server and its tokio twin.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::task::Waker;
use std::time::Instant;

/// The replies waiting to be written: `buf[sent..]`.
#[derive(Debug, Default)]
pub struct Output {
    pub buf: Vec<u8>,
    pub sent: usize,
}

impl Output {
    /// The bytes still to write.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    /// Notes that `n` more bytes were written; the buffer is emptied (keeping its capacity) once
    /// all were, and its written front is dropped when it is most of the buffer.
    pub fn advance(&mut self, n: usize) {
        self.sent += n;
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
        } else if self.sent > 64 * 1024 && self.sent * 2 > self.buf.len() {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
    }
}

/// A `BRPOP` (or `BLPOP`) waiting for an element.
#[derive(Debug)]
pub struct Blocked {
    /// The lists waited on, in the order given.
    pub keys: Vec<Box<[u8]>>,
    /// When to give up and answer nil; `None` waits for ever (a timeout of 0).
    pub deadline: Option<Instant>,
    /// `BRPOP` pops from the tail, `BLPOP` from the head.
    pub from_tail: bool,
}

/// The channels and patterns a client is subscribed to.
#[derive(Debug, Default)]
pub struct Subscriptions {
    pub channels: HashSet<Box<[u8]>>,
    pub patterns: HashSet<Box<[u8]>>,
}

impl Subscriptions {
    /// How many in all (the number `SUBSCRIBE` and friends report).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// One connection's state.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    pub out: RefCell<Output>,
    pub subs: RefCell<Subscriptions>,
    pub blocked: RefCell<Option<Blocked>>,
    /// Why the client must be disconnected, once it must.
    kill: Cell<Option<&'static str>>,
    /// The server is shutting down: write what is pending and close.
    close: Cell<bool>,
    /// The waker of the connection task, stored whenever it waits: other clients wake it (a
    /// message, an element for its `BRPOP`), and so does a shutdown.
    waker: RefCell<Option<Waker>>,
}

impl Client {
    pub fn new(id: u64) -> Client {
        Client {
            id,
            out: RefCell::default(),
            subs: RefCell::default(),
            blocked: RefCell::new(None),
            kill: Cell::new(None),
            close: Cell::new(false),
            waker: RefCell::new(None),
        }
    }

    pub fn is_blocked(&self) -> bool {
        self.blocked.borrow().is_some()
    }

    /// Stores the waker of the task that serves this client (unless it is the one stored).
    pub fn set_waker(&self, waker: &Waker) {
        let mut slot = self.waker.borrow_mut();
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    /// Wakes the client's task, if it left a waker.
    pub fn wake(&self) {
        let waker = self.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Marks the client for disconnection and wakes its task to do it.
    pub fn kill(&self, why: &'static str) {
        if self.kill.get().is_none() {
            self.kill.set(Some(why));
        }
        self.wake();
    }

    /// Asks the client's task to write what is pending and close (a shutdown).
    pub fn close_soon(&self) {
        self.close.set(true);
        self.wake();
    }

    /// Whether [`Client::close_soon`] was called.
    pub fn closing(&self) -> bool {
        self.close.get()
    }

    /// Why the client must be disconnected, if it must.
    pub fn killed(&self) -> Option<&'static str> {
        self.kill.get()
    }

    /// How many reply bytes wait to be written.
    pub fn pending(&self) -> usize {
        let out = self.out.borrow();
        out.buf.len() - out.sent
    }
}
