//! Clients blocked in `BRPOP`/`BLPOP`, by list, first come first served (as in Redis).
//!
//! A push to a list someone waits on serves the waiters right after the pushing command: each
//! gets its element as its reply, is unblocked from its other lists, and its task is woken to
//! write the reply and go on with the commands it has buffered. A timeout is the waiting task's
//! own timer (see the connection code): it answers nil and unblocks.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use super::client::{Blocked, Client};

/// Lists to the clients waiting on them.
#[derive(Debug, Default)]
pub struct Waiters {
    by_key: HashMap<Box<[u8]>, VecDeque<Rc<Client>>>,
    /// How many clients are blocked.
    pub count: usize,
}

impl Waiters {
    /// Blocks `client` on the lists in `blocked`.
    pub fn block(&mut self, client: &Rc<Client>, blocked: Blocked) {
        for key in &blocked.keys {
            let queue = self.by_key.entry(key.clone()).or_default();
            // A key given twice (`BRPOP a a 0`) waits once.
            if !queue.iter().any(|c| Rc::ptr_eq(c, client)) {
                queue.push_back(client.clone());
            }
        }
        *client.blocked.borrow_mut() = Some(blocked);
        self.count += 1;
    }

    /// Unblocks `client` (served, timed out or gone); whether it was blocked.
    pub fn unblock(&mut self, client: &Rc<Client>) -> bool {
        let Some(blocked) = client.blocked.borrow_mut().take() else {
            return false;
        };
        for key in &blocked.keys {
            if let Some(queue) = self.by_key.get_mut(key) {
                queue.retain(|c| !Rc::ptr_eq(c, client));
                if queue.is_empty() {
                    self.by_key.remove(key);
                }
            }
        }
        self.count -= 1;
        true
    }

    /// The client that has waited longest on `key`.
    pub fn first(&self, key: &[u8]) -> Option<Rc<Client>> {
        self.by_key.get(key)?.front().cloned()
    }

    /// Whether anyone waits on `key` (a cheap test after each push).
    pub fn waits_on(&self, key: &[u8]) -> bool {
        !self.by_key.is_empty() && self.by_key.contains_key(key)
    }
}
