//! A count of everything a loop still holds, for the leak-checking test loop (`evloop::test`).

use super::core::Core;
use crate::driver::timers::TimerKinds;

/// What a loop holds, counted at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Census {
    pub(crate) tasks: usize,
    pub(crate) timers: TimerKinds,
    pub(crate) watchers: usize,
    pub(crate) resources: usize,
    pub(crate) queued: usize,
    pub(crate) blocking: usize,
    pub(crate) keep_alive: usize,
    /// The loop clock when counted, to tell how far away the earliest timer is.
    pub(crate) now: u64,
}

impl Core {
    pub(crate) fn census(&self) -> Census {
        let (tasks, timers, (watchers, resources), queued) = self.with(|d| {
            (
                d.tasks.len(),
                d.timers.kinds(),
                d.reactor.kinds(),
                d.queue.callbacks(),
            )
        });
        let blocking = self.blocking.borrow().as_ref().map_or(0, |p| p.in_flight());
        Census {
            tasks,
            timers,
            watchers,
            resources,
            queued,
            blocking,
            keep_alive: self.keep_alive_count(),
            now: self.clock_ns(),
        }
    }
}
