//! The graceful drain of the peers whose runtimes have no task tracker of their own (`echo_smol`,
//! `echo_monoio`): each connection task holds a [`Guard`], and [`Tracker::idle`] resolves once
//! every guard is gone. Single-threaded, so a `Cell` and an `Rc` do (no atomics, no channel); it
//! costs each connection one `Rc` clone and nothing per message.

use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

#[derive(Default)]
struct Shared {
    live: Cell<usize>,
    waiter: Cell<Option<Waker>>,
}

/// Counts the connections alive.
#[derive(Default)]
pub struct Tracker(Rc<Shared>);

/// One live connection: dropped when its task ends (or is cancelled).
pub struct Guard(Rc<Shared>);

impl Tracker {
    /// Counts one more connection, until the guard is dropped.
    pub fn guard(&self) -> Guard {
        self.0.live.set(self.0.live.get() + 1);
        Guard(self.0.clone())
    }

    /// How many connections are alive.
    pub fn live(&self) -> usize {
        self.0.live.get()
    }

    /// Resolves when no connection is alive.
    pub async fn idle(&self) {
        poll_fn(|cx| {
            if self.0.live.get() == 0 {
                return Poll::Ready(());
            }
            self.0.waiter.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let live = self.0.live.get() - 1;
        self.0.live.set(live);
        if live == 0 {
            if let Some(w) = self.0.waiter.take() {
                w.wake();
            }
        }
    }
}
