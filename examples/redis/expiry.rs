//! The active expiry cycle on evloop's timers: what deletes the keys past their time that nobody
//! touches (those touched go at once, see `store.rs`).

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::server::Server;

/// How often the cycle runs (Redis's `hz 10`).
pub const PERIOD: Duration = Duration::from_millis(100);

/// How many keys one run may delete, so that a million keys expiring at once do not stall the
/// loop.
pub const BUDGET: usize = 20_000;

/// The loop's clock, for [`Server::new`]: the time the turn began, which `evloop::time::pause`
/// and `advance` move, so expiry follows paused time as the loop's timers do.
pub fn loop_clock() -> Instant {
    evloop::Handle::current().now()
}

/// Runs the cycle every [`PERIOD`], forever (abort it to stop).
pub async fn active_expiry(server: Rc<Server>) {
    let mut tick = evloop::time::interval(PERIOD);
    loop {
        tick.tick().await;
        let now = (server.clock)();
        server.store.borrow_mut().expire_due(now, BUDGET);
    }
}
