//! Debug mode (asyncio's `PYTHONASYNCIODEBUG`), and the measured dispatch that both it and the
//! sampled metrics use.
//!
//! On (`EVLOOP_DEBUG=1` in the environment when the loop is created, or
//! [`Handle::set_debug`](crate::Handle::set_debug)), every queue entry is timed, and one that holds
//! the loop longer than the threshold is reported to the error hook as [`LoopError::Slow`], naming
//! what ran: a task by its name and spawn site, a callback, timer or watcher by the place it was
//! scheduled, armed or registered. Those places are recorded only while debug mode is on (a
//! callback's closure is wrapped to note its site when it runs), so off, debug mode costs one
//! flag test per scheduled callback and nothing per entry beyond the check of the turn's
//! `observe` flag, which the sampled metrics need anyway.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use super::core::Core;
use super::error::LoopError;
use super::metrics::{now, DEBUG, TIMED};
use super::{waker, Handle};
use crate::driver::queue::Entry;
use crate::driver::tasks::Info;

/// The threshold of a slow entry unless set otherwise: asyncio's `slow_callback_duration`.
pub(crate) const DEFAULT_SLOW: Duration = Duration::from_millis(100);

/// A place in the user's code, recorded by `#[track_caller]`.
pub(crate) type Site = &'static Location<'static>;

/// Debug mode's state.
pub(crate) struct DebugMode {
    pub(crate) on: Cell<bool>,
    slow_ns: Cell<u64>,
    /// The site of the callback running now, noted by its wrapper (or, for a watcher, before
    /// it runs).
    site: Cell<Option<Site>>,
    /// The task about to be polled: its spawn site and name.
    task: RefCell<Option<(Info, Option<Rc<str>>)>>,
}

impl DebugMode {
    /// Off, unless `EVLOOP_DEBUG` is set to anything but empty or `0`.
    pub(crate) fn from_env() -> DebugMode {
        let on = std::env::var_os("EVLOOP_DEBUG").is_some_and(|v| !v.is_empty() && v != "0");
        DebugMode {
            on: Cell::new(on),
            slow_ns: Cell::new(DEFAULT_SLOW.as_nanos() as u64),
            site: Cell::new(None),
            task: RefCell::new(None),
        }
    }

    pub(crate) fn set_threshold(&self, d: Duration) {
        self.slow_ns
            .set(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub(crate) fn threshold(&self) -> Duration {
        Duration::from_nanos(self.slow_ns.get())
    }

    /// Notes that the callback scheduled at `site` is running now.
    #[inline]
    pub(crate) fn enter(&self, site: Site) {
        self.site.set(Some(site));
    }
}

impl Core {
    /// Sets debug mode on or off, from now on.
    pub(crate) fn set_debug(&self, on: bool) {
        self.debug.on.set(on);
        let flags = self.observe.get() & !DEBUG;
        self.observe.set(if on { flags | DEBUG } else { flags });
        if on {
            self.observe_next_turn();
        }
    }

    /// Wraps a one-shot callback so that, in debug mode, it notes where it was scheduled.
    #[track_caller]
    pub(crate) fn traced_once<F>(&self, f: F) -> Box<dyn FnOnce(&Handle)>
    where
        F: FnOnce(&Handle) + 'static,
    {
        if !self.debug.on.get() {
            return Box::new(f);
        }
        let site = Location::caller();
        Box::new(move |h: &Handle| {
            h.core.debug.enter(site);
            f(h)
        })
    }

    /// Where the caller was called from, in debug mode: for a periodic timer's or a watcher's
    /// callback to note when it runs.
    #[track_caller]
    pub(crate) fn traced_site(&self) -> Option<Site> {
        self.debug.on.get().then(Location::caller)
    }

    /// Before an entry of a measured turn: notes who it is (in debug mode) and returns the
    /// time it starts.
    #[cold]
    #[inline(never)]
    pub(crate) fn observe_before(&self, entry: Entry, site: Option<Site>) -> u64 {
        if self.debug.on.get() {
            // A task may finish in its poll and leave its slot: learn who it is first.
            let task = self.with(|d| match entry {
                Entry::Task { key, gen } => d.tasks.info(key, gen),
                _ => None,
            });
            *self.debug.task.borrow_mut() = task;
            self.debug.site.set(site);
        }
        if self.observe.get() & TIMED != 0 {
            self.metrics.timing.mark.get()
        } else {
            now()
        }
    }

    /// After an entry of a measured turn that started at `start`: feeds the sampled metrics and
    /// the task's longest poll, and reports a slow entry in debug mode.
    #[cold]
    #[inline(never)]
    pub(crate) fn observe_after(&self, entry: Entry, start: u64) {
        let timing = &self.metrics.timing;
        let timed = self.observe.get() & TIMED != 0;
        let task = match entry {
            Entry::Task { key, gen } if key != waker::MAIN_KEY => Some((key, gen)),
            _ => None,
        };
        let now = now();
        let took = match (timed, task) {
            (true, Some(_)) => timing.polled_task(now),
            (true, None) => {
                timing.ran(now);
                now.saturating_sub(start)
            }
            (false, _) => now.saturating_sub(start),
        };
        if let Some((key, gen)) = task {
            self.with(|d| d.tasks.note_poll(key, gen, took));
        }
        if !self.debug.on.get() {
            return;
        }
        let info = self.debug.task.borrow_mut().take();
        let site = self.debug.site.take();
        if took < self.debug.slow_ns.get() {
            return;
        }
        let what = match (entry, info) {
            (Entry::Task { .. }, Some((info, name))) => match name {
                Some(name) => format!("task {name:?} spawned at {}", info.site),
                None => format!("task spawned at {}", info.site),
            },
            (Entry::Task { .. }, None) => "a task".to_string(),
            (other, _) => describe(other, site),
        };
        self.report(LoopError::Slow {
            what,
            took: Duration::from_nanos(took),
            threshold: self.debug.threshold(),
        });
    }

    /// The block_on future is about to be polled: the clock, if debug mode wants it.
    #[inline]
    pub(crate) fn main_poll_start(&self) -> Option<u64> {
        self.debug.on.get().then(now)
    }

    /// The block_on future's poll that began at `start` ended.
    #[cold]
    pub(crate) fn main_poll_end(&self, start: u64, site: Site) {
        let took = now().saturating_sub(start);
        if took >= self.debug.slow_ns.get() {
            self.report(LoopError::Slow {
                what: format!("the block_on future (block_on called at {site})"),
                took: Duration::from_nanos(took),
                threshold: self.debug.threshold(),
            });
        }
    }
}

fn describe(entry: Entry, site: Option<Site>) -> String {
    let (kind, verb) = match entry {
        Entry::Callback { .. } => ("callback", "scheduled"),
        Entry::Timer { .. } => ("timer callback", "armed"),
        Entry::Io { .. } => ("watcher callback", "registered"),
        Entry::Task { .. } => ("task", "spawned"),
    };
    match site {
        Some(site) => format!("{kind} {verb} at {site}"),
        None => format!("{kind} (posted from another thread, or {verb} before debug mode was on)"),
    }
}
