//! Always-on loop metrics: counters that the turn bumps with one-line calls, and the clock read
//! for a sample of turns only.
//!
//! A counter is a `Cell<u64>` add (no atomics: only the loop thread touches them). The clock is
//! the expensive part: one read costs about as much as a tenth of an echoed message, so a loop
//! that read it around every poll and every task would pay tens of percent. Instead the turn
//! reads it only in **timed turns**: every [`BUSY_STRIDE`]th turn while turns are short (a busy
//! loop, where one turn in 256 is still hundreds of samples a second), and every turn once the
//! turns average [`SLOW_TURN_NS`] or more (an idle or slow loop, where a clock read is lost in
//! the turn's own length). A timed turn measures its wait in the poller, its busy time, and for
//! each task it polls the schedule latency (from the end of the turn's I/O poll, when the wakes
//! it found were queued, to the poll) and the poll's duration. Each measured value stands for
//! the `stride` turns it samples: totals and histogram counts are scaled by it.

use std::cell::Cell;

use super::core::Core;
use super::hooks::When;
use super::remote::Batch;
use super::Handle;

/// A bit of `Core::observe`: this turn is timed.
pub(crate) const TIMED: u8 = 1;
/// A bit of `Core::observe`: debug mode is on.
pub(crate) const DEBUG: u8 = 2;
/// A bit of `Core::observe`: turn hooks are registered.
pub(crate) const HOOKS: u8 = 4;

/// Turns per timed turn while the loop is busy (a power of two).
pub(crate) const BUSY_STRIDE: u32 = 256;
/// A mean turn at least this long (1 ms) makes every turn a timed one.
pub(crate) const SLOW_TURN_NS: u64 = 1_000_000;
/// Buckets of each histogram (see [`Histogram`](crate::event_loop::Histogram)).
pub(crate) const BUCKETS: usize = 24;

/// The monotonic clock in nanoseconds, for measuring only (its zero is the boot, not the
/// loop's origin). A raw `clock_gettime` (through the vDSO: no system call) is about a fifth of
/// the instructions of `Instant::now` plus the conversion to the timer clock.
#[inline]
pub(crate) fn now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux, so the
    // call cannot fail (and if it did, `ts` would stay zero: a wrong measure, nothing unsound).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The bucket of a duration: 0 below 1,024 ns, then one per power of two, the last unbounded.
#[inline]
pub(crate) fn bucket(ns: u64) -> usize {
    ((u64::BITS - (ns >> 10).leading_zeros()) as usize).min(BUCKETS - 1)
}

/// The counters of one loop (see the public `Metrics` for what each means).
#[derive(Default)]
pub(crate) struct Counters {
    /// Turns to begin until the next observed one (1: the next turn is observed; never 0
    /// between turns). The hot path of a turn is this one countdown; the turn count is kept by
    /// the observed turns.
    until_observed: Countdown,
    /// What `until_observed` was last set to.
    last_set: Cell<u32>,
    /// Turns begun up to the last observed one, included.
    turns_counted: Cell<u64>,
    /// Turns that skipped the poll (the poll count is the turn count less these).
    pub(crate) polls_skipped: Cell<u64>,
    pub(crate) queue_max: Cell<usize>,
    pub(crate) callbacks_run: Cell<u64>,
    pub(crate) watcher_events: Cell<u64>,
    pub(crate) tasks_spawned: Cell<u64>,
    pub(crate) tasks_polled: Cell<u64>,
    pub(crate) timers_armed: Cell<u64>,
    pub(crate) timers_fired: Cell<u64>,
    pub(crate) remote_posts: Cell<u64>,
    pub(crate) remote_wakes: Cell<u64>,
    pub(crate) timing: Timing,
}

/// `Counters::until_observed`: starts at 1, so that the first turn is observed (and timed).
pub(crate) struct Countdown(Cell<u32>);

impl Default for Countdown {
    fn default() -> Self {
        Countdown(Cell::new(1))
    }
}

/// The sampled clock: which turn is timed, and what timed turns measured.
#[derive(Default)]
pub(crate) struct Timing {
    /// Turns between timed turns now: 1 for a slow loop, [`BUSY_STRIDE`] for a busy one.
    stride: Cell<u32>,
    /// The number of the last timed turn.
    last_turn: Cell<u64>,
    /// What the current timed turn stands for (0 while the turn is not timed).
    pub(crate) weight: Cell<u32>,
    /// Start of the previous timed turn, and of this one.
    last_start: Cell<u64>,
    /// End of this timed turn's I/O poll: what schedule latency is measured from.
    pub(crate) poll_end: Cell<u64>,
    /// The clock at the end of the last thing measured in this timed turn.
    pub(crate) mark: Cell<u64>,
    pub(crate) timed_turns: Cell<u64>,
    pub(crate) idle_ns: Cell<u64>,
    pub(crate) busy_ns: Cell<u64>,
    pub(crate) latency: [Cell<u64>; BUCKETS],
    pub(crate) poll: [Cell<u64>; BUCKETS],
}

#[inline]
fn add(c: &Cell<u64>, n: u64) {
    c.set(c.get().wrapping_add(n));
}

impl Counters {
    /// A counter plus one.
    #[inline]
    pub(crate) fn bump(c: &Cell<u64>) {
        c.set(c.get().wrapping_add(1));
    }

    /// Turns begun.
    pub(crate) fn turns(&self) -> u64 {
        let pending = self
            .last_set
            .get()
            .saturating_sub(self.until_observed.0.get().max(1));
        self.turns_counted.get() + u64::from(pending)
    }

    /// Polls of the OS.
    pub(crate) fn io_polls(&self) -> u64 {
        self.turns() - self.polls_skipped.get()
    }

    /// The queue held `len` entries when a drain began.
    #[inline]
    pub(crate) fn queue_len(&self, len: usize) {
        if len > self.queue_max.get() {
            self.queue_max.set(len);
        }
    }
}

impl Timing {
    /// Timed turn number `turn` starts at `now`. It stands for the turns since the last timed
    /// one (the very first turn stands for itself); the mean turn since then sets the stride.
    #[cold]
    fn start(&self, turn: u64, now: u64) {
        let weight = turn.wrapping_sub(self.last_turn.replace(turn)).max(1);
        let last = self.last_start.replace(now);
        let slow = last == 0 || now.saturating_sub(last) / weight >= SLOW_TURN_NS;
        self.stride.set(if slow { 1 } else { BUSY_STRIDE });
        self.weight.set(u32::try_from(weight).unwrap_or(u32::MAX));
        self.mark.set(now);
        self.poll_end.set(now);
        add(&self.timed_turns, 1);
    }

    /// The timed turn's poll returned at `now`, after starting at the mark.
    #[cold]
    pub(crate) fn polled(&self, now: u64) {
        let w = u64::from(self.weight.get());
        add(&self.idle_ns, now.saturating_sub(self.mark.get()) * w);
        self.poll_end.set(now);
        self.mark.set(now);
    }

    /// Something that is not a task ran in the timed turn and ended at `now`.
    #[cold]
    pub(crate) fn ran(&self, now: u64) {
        let w = u64::from(self.weight.get());
        add(&self.busy_ns, now.saturating_sub(self.mark.get()) * w);
        self.mark.set(now);
    }

    /// A task was polled from the mark to `now` in the timed turn: returns the poll's duration.
    #[cold]
    pub(crate) fn polled_task(&self, now: u64) -> u64 {
        let w = u64::from(self.weight.get());
        let start = self.mark.get();
        let took = now.saturating_sub(start);
        let waited = start.saturating_sub(self.poll_end.get());
        add(&self.latency[bucket(waited)], w);
        add(&self.poll[bucket(took)], w);
        add(&self.busy_ns, took * w);
        self.mark.set(now);
        took
    }

    /// The timed turn ended (its last entry's time is counted already).
    #[inline]
    pub(crate) fn end(&self) {
        self.weight.set(0);
    }
}

impl Core {
    /// A turn begins: whether it is observed (timed, or with debug mode or hooks on).
    #[inline]
    pub(crate) fn begin_turn_metrics(&self) -> bool {
        // One decrement and a test of its result (the count is at least 1 between turns, see
        // `Counters::default`).
        let c = &self.metrics.until_observed.0;
        let left = c.get().wrapping_sub(1);
        c.set(left);
        if left == 0 {
            return self.begin_observed_turn();
        }
        false
    }

    /// An observed turn begins: count the turns up to it, time it if its turn has come, and
    /// choose when the next observed turn is.
    #[cold]
    #[inline(never)]
    fn begin_observed_turn(&self) -> bool {
        let m = &self.metrics;
        let t = &m.timing;
        let turn = m.turns_counted.get() + u64::from(m.last_set.get().max(1));
        m.turns_counted.set(turn);
        let stride = u64::from(t.stride.get().max(1));
        let timed = turn.wrapping_sub(t.last_turn.get()) >= stride || t.last_turn.get() == 0;
        if timed {
            t.start(turn, now());
            self.observe.set(self.observe.get() | TIMED);
        }
        // Debug mode and hooks observe every turn; otherwise the next observed is the next timed.
        let next = if self.observe.get() & (DEBUG | HOOKS) != 0 {
            1
        } else {
            let since = turn.wrapping_sub(t.last_turn.get());
            u64::from(t.stride.get()).saturating_sub(since).max(1) as u32
        };
        m.until_observed.0.set(next);
        m.last_set.set(next);
        true
    }

    /// Observe the next turn (debug mode or hooks were turned on).
    pub(crate) fn observe_next_turn(&self) {
        let m = &self.metrics;
        // The turns begun since the last observed one stay counted.
        let begun = m
            .last_set
            .get()
            .saturating_sub(m.until_observed.0.get().max(1));
        m.turns_counted
            .set(m.turns_counted.get() + u64::from(begun));
        m.until_observed.0.set(1);
        m.last_set.set(1);
    }

    /// Before the poll of an observed turn: the before-sleep hooks. Returns whether work is
    /// queued now (`queued` before them).
    #[cold]
    #[inline(never)]
    pub(crate) fn before_poll(&self, handle: &Handle, queued: bool) -> bool {
        let queued = self.before_sleep(handle, queued);
        // The hooks' time is the turn's, not the wait's.
        if self.observe.get() & TIMED != 0 {
            self.metrics.timing.ran(now());
        }
        queued
    }

    /// After the poll of an observed turn: its end time, the after-wake hooks.
    #[cold]
    #[inline(never)]
    pub(crate) fn after_poll(&self, handle: &Handle) {
        if self.observe.get() & TIMED != 0 {
            self.metrics.timing.polled(now());
        }
        self.run_hooks(handle, When::AfterWake);
    }

    /// Whether the entries of an observed turn's drain are to be measured: a timed turn, or
    /// debug mode (not hooks alone).
    #[inline]
    pub(crate) fn measuring(&self) -> bool {
        self.observe.get() & (TIMED | DEBUG) != 0
    }

    /// The drain of an observed turn ended.
    #[cold]
    pub(crate) fn end_observed_drain(&self) {
        let flags = self.observe.get();
        if flags & TIMED != 0 {
            self.metrics.timing.end();
            self.observe.set(flags & !TIMED);
        }
    }

    /// Posts and wakes arrived from other threads.
    pub(crate) fn count_remote(&self, batch: &Batch) {
        add(&self.metrics.remote_posts, batch.posts.len() as u64);
        add(
            &self.metrics.remote_wakes,
            batch.wakes.len() as u64 + u64::from(batch.main),
        );
    }

    /// A timer's entry came up; `live` if its callback runs.
    #[inline]
    pub(crate) fn count_timer_callback(&self, live: bool) {
        if live {
            Counters::bump(&self.metrics.timers_fired);
            Counters::bump(&self.metrics.callbacks_run);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_from_a_microsecond() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1023), 0);
        assert_eq!(bucket(1024), 1);
        assert_eq!(bucket(2047), 1);
        assert_eq!(bucket(2048), 2);
        assert_eq!(bucket(150_000_000), 18); // 150 ms: 2^27 <= 150e6 < 2^28
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }
}
