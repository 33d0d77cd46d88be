//! The keyspace: keys to strings or lists, each with an optional expiry time.
//!
//! Expiry works as in Redis: a key past its time is deleted when it is next touched (lazily, on
//! access), and an active cycle, run by a periodic timer on the loop, deletes the ones nobody
//! touches. The active cycle takes due keys from a heap of `(deadline, key)`; an entry whose key
//! was deleted, rewritten or given another time since is stale and skipped, and the heap is
//! rebuilt when stale entries outnumber live ones, so its size stays proportional to the number of
//! keys with an expiry.

use std::cmp::Reverse;
use std::collections::hash_map::Entry as Slot;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

/// A stored value.
#[derive(Debug)]
pub enum Value {
    /// A string (numbers are strings too, as in Redis).
    Str(Vec<u8>),
    /// A list: pushed and popped at both ends.
    List(VecDeque<Vec<u8>>),
}

#[derive(Debug)]
struct Entry {
    value: Value,
    expires: Option<Instant>,
}

/// The keyspace (Redis's database 0; there is only one).
#[derive(Debug, Default)]
pub struct Store {
    map: HashMap<Box<[u8]>, Entry>,
    /// Every expiry set, oldest deadline first; some are stale (see the module docs).
    expiring: BinaryHeap<Reverse<(Instant, Box<[u8]>)>>,
    /// How many keys have an expiry now.
    with_expiry: usize,
}

impl Store {
    /// The number of keys (some may be past their time and not yet deleted).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// How many keys have an expiry.
    pub fn with_expiry(&self) -> usize {
        self.with_expiry
    }

    /// The value of `key`, if it exists and has not expired by `now`.
    pub fn get(&mut self, key: &[u8], now: &mut Now) -> Option<&mut Value> {
        if self.expire_if_due(key, now) {
            return None;
        }
        self.map.get_mut(key).map(|e| &mut e.value)
    }

    /// Whether `key` exists (and has not expired).
    pub fn contains(&mut self, key: &[u8], now: &mut Now) -> bool {
        self.get(key, now).is_some()
    }

    /// Sets `key` to `value`, dropping any expiry unless `expires` gives one. A string value
    /// already there keeps its allocation when the new one fits: a `SET` of the same key over and
    /// over allocates nothing.
    pub fn set_str(&mut self, key: &[u8], value: &[u8], expires: Option<Instant>) {
        if let Some(e) = self.map.get_mut(key) {
            match &mut e.value {
                Value::Str(s) => {
                    s.clear();
                    s.extend_from_slice(value);
                }
                other => *other = Value::Str(value.to_vec()),
            }
            let had = e.expires.is_some();
            e.expires = expires;
            self.count_expiry(had, expires.is_some());
        } else {
            self.map.insert(
                key.into(),
                Entry {
                    value: Value::Str(value.to_vec()),
                    expires,
                },
            );
            self.count_expiry(false, expires.is_some());
        }
        if let Some(when) = expires {
            self.remember(when, key);
        }
    }

    /// Stores `value` at `key`, which must not exist (the caller just looked: a command that
    /// updates a value in place looks it up once with [`Store::get`], and only a missing key
    /// costs a second lookup, here).
    pub fn insert_new(&mut self, key: &[u8], value: Value) {
        let old = self.map.insert(
            key.into(),
            Entry {
                value,
                expires: None,
            },
        );
        debug_assert!(old.is_none(), "insert_new over an existing key");
    }

    /// Deletes `key`; whether it existed (and had not expired).
    pub fn remove(&mut self, key: &[u8], now: &mut Now) -> bool {
        if self.expire_if_due(key, now) {
            return false;
        }
        match self.map.remove(key) {
            Some(e) => {
                self.count_expiry(e.expires.is_some(), false);
                true
            }
            None => false,
        }
    }

    /// Sets when `key` expires; `false` if there is no such key. A time already past deletes it.
    pub fn set_expiry(&mut self, key: &[u8], when: Instant, now: &mut Now) -> bool {
        if self.expire_if_due(key, now) {
            return false;
        }
        if when <= now.get() {
            return self.remove(key, now);
        }
        let Some(e) = self.map.get_mut(key) else {
            return false;
        };
        let had = e.expires.is_some();
        e.expires = Some(when);
        self.count_expiry(had, true);
        self.remember(when, key);
        true
    }

    /// When `key` expires: `None` if there is no such key, `Some(None)` if it never does.
    pub fn expiry(&mut self, key: &[u8], now: &mut Now) -> Option<Option<Instant>> {
        if self.expire_if_due(key, now) {
            return None;
        }
        self.map.get(key).map(|e| e.expires)
    }

    /// Deletes every key.
    pub fn clear(&mut self) {
        self.map.clear();
        self.expiring.clear();
        self.with_expiry = 0;
    }

    /// The active expiry cycle: deletes up to `budget` keys whose time is past, oldest first;
    /// returns how many it deleted.
    pub fn expire_due(&mut self, now: Instant, budget: usize) -> usize {
        let mut deleted = 0;
        while deleted < budget {
            match self.expiring.peek() {
                Some(Reverse((when, _))) if *when <= now => {}
                _ => break,
            }
            let Reverse((when, key)) = self.expiring.pop().expect("peeked");
            if let Slot::Occupied(e) = self.map.entry(key) {
                if e.get().expires == Some(when) {
                    e.remove();
                    self.with_expiry -= 1;
                    deleted += 1;
                }
            }
        }
        deleted
    }

    /// Deletes `key` if its time is past; whether it did.
    fn expire_if_due(&mut self, key: &[u8], now: &mut Now) -> bool {
        // With no key that expires, nothing to look up (Redis checks its `expires` dict the
        // same way); and the clock is read only for keys with an expiry.
        if self.with_expiry == 0 {
            return false;
        }
        let due = match self.map.get(key) {
            Some(Entry {
                expires: Some(when),
                ..
            }) => *when <= now.get(),
            _ => false,
        };
        if due {
            self.map.remove(key);
            self.with_expiry -= 1;
        }
        due
    }

    fn count_expiry(&mut self, had: bool, has: bool) {
        match (had, has) {
            (false, true) => self.with_expiry += 1,
            (true, false) => self.with_expiry -= 1,
            _ => {}
        }
    }

    /// Adds `(when, key)` to the heap, first rebuilding it if most of it is stale.
    fn remember(&mut self, when: Instant, key: &[u8]) {
        if self.expiring.len() >= 1024 && self.expiring.len() > 2 * self.with_expiry {
            let live = self
                .map
                .iter()
                .filter_map(|(k, e)| e.expires.map(|w| Reverse((w, k.clone()))));
            self.expiring = live.collect();
            // The key just given its time is in the rebuilt heap already.
            return;
        }
        self.expiring.push(Reverse((when, key.into())));
    }
}

/// Where the server reads the time: the runtime's clock, not `Instant::now`, so that expiry follows
/// it (evloop's `Handle::now`, which paused time moves; tokio's `Instant::now` for the twin).
pub type Clock = fn() -> Instant;

/// The time, read from the clock at most once per batch of commands (Redis caches it per
/// command), and only when a key with an expiry is touched or an expiry is set.
#[derive(Debug)]
pub struct Now {
    clock: Clock,
    at: Option<Instant>,
}

impl Now {
    pub fn new(clock: Clock) -> Now {
        Now { clock, at: None }
    }

    /// The time, read on first use.
    pub fn get(&mut self) -> Instant {
        *self.at.get_or_insert_with(self.clock)
    }
}
