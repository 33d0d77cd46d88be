//! `Handle::metrics`: a snapshot of what the loop has done, always on.

use std::fmt;
use std::time::Duration;

use crate::runtime::metrics::{Counters, BUCKETS, BUSY_STRIDE, SLOW_TURN_NS};
use crate::runtime::Handle;

/// A snapshot of a loop's metrics, from [`Handle::metrics`].
///
/// The counters are exact and count from the loop's creation (take two snapshots and subtract
/// to get a rate). The times and the two histograms come from **timed turns**: reading the clock
/// around every poll would cost more than the rest of the metrics together, so the loop reads it
/// in one turn in 256 while turns are short (under 1 ms on average), and in every turn once they
/// are longer (an idle or a slow loop, where the clock read is lost in the turn's length). Each
/// timed turn's measures count for the turns it stands for, so [`busy_time`](Metrics::busy_time),
/// [`idle_time`](Metrics::idle_time) and the histogram counts estimate the totals: exact for a
/// slow loop, statistical for a busy one. [`timed_turns`](Metrics::timed_turns) says how many
/// turns were measured.
///
/// ```
/// use evloop::EventLoop;
///
/// let lp = EventLoop::new()?;
/// for _ in 0..3 {
///     lp.call_soon(|_| {});
/// }
/// lp.block_on(async { evloop::spawn(async {}).await.unwrap() });
/// let m = lp.metrics();
/// assert_eq!(m.callbacks_run(), 3);
/// assert_eq!(m.tasks_spawned(), 1);
/// assert_eq!(m.tasks_alive(), 0);
/// println!("{m:?}");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Metrics {
    turns: u64,
    timed_turns: u64,
    busy: Duration,
    idle: Duration,
    io_polls: u64,
    io_events: u64,
    queue_depth: usize,
    queue_max: usize,
    callbacks_run: u64,
    watcher_events: u64,
    tasks_spawned: u64,
    tasks_alive: usize,
    tasks_polled: u64,
    timers_armed: u64,
    timers_fired: u64,
    timers_live: usize,
    watchers: usize,
    remote_posts: u64,
    remote_wakes: u64,
    blocking_queued: usize,
    blocking_running: usize,
    blocking_threads: usize,
    schedule_latency: Histogram,
    poll_duration: Histogram,
}

impl Metrics {
    /// Adds `other`'s figures to these, for a total over several loops (a
    /// [`LoopSet`](crate::loop_set::LoopSet)'s, say): counts, times and gauges are summed, the
    /// queue's high-water mark is the larger one, and the histograms add bucket by bucket.
    /// `iter.sum()` does the same over many.
    ///
    /// ```
    /// let a = evloop::EventLoop::new()?;
    /// let b = evloop::EventLoop::new()?;
    /// a.call_soon(|_| {});
    /// for _ in 0..2 {
    ///     b.call_soon(|_| {});
    /// }
    /// a.run()?;
    /// b.run()?;
    /// let all: evloop::event_loop::Metrics = [a.handle().metrics(), b.handle().metrics()].into_iter().sum();
    /// assert_eq!(all.callbacks_run(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn merge(&mut self, other: &Metrics) {
        self.turns += other.turns;
        self.timed_turns += other.timed_turns;
        self.busy += other.busy;
        self.idle += other.idle;
        self.io_polls += other.io_polls;
        self.io_events += other.io_events;
        self.queue_depth += other.queue_depth;
        self.queue_max = self.queue_max.max(other.queue_max);
        self.callbacks_run += other.callbacks_run;
        self.watcher_events += other.watcher_events;
        self.tasks_spawned += other.tasks_spawned;
        self.tasks_alive += other.tasks_alive;
        self.tasks_polled += other.tasks_polled;
        self.timers_armed += other.timers_armed;
        self.timers_fired += other.timers_fired;
        self.timers_live += other.timers_live;
        self.watchers += other.watchers;
        self.remote_posts += other.remote_posts;
        self.remote_wakes += other.remote_wakes;
        self.blocking_queued += other.blocking_queued;
        self.blocking_running += other.blocking_running;
        self.blocking_threads += other.blocking_threads;
        for (a, b) in self
            .schedule_latency
            .counts
            .iter_mut()
            .zip(other.schedule_latency.counts.iter())
        {
            *a += b;
        }
        for (a, b) in self
            .poll_duration
            .counts
            .iter_mut()
            .zip(other.poll_duration.counts.iter())
        {
            *a += b;
        }
    }

    /// Turns of the loop run.
    pub fn turns(&self) -> u64 {
        self.turns
    }

    /// Turns whose times were measured (see the type's docs).
    pub fn timed_turns(&self) -> u64 {
        self.timed_turns
    }

    /// Time spent in turns outside the poller's wait: running callbacks and tasks, and the
    /// loop's own work (estimated, see the type's docs).
    pub fn busy_time(&self) -> Duration {
        self.busy
    }

    /// Time spent waiting in the poller (estimated, see the type's docs).
    pub fn idle_time(&self) -> Duration {
        self.idle
    }

    /// Calls to the OS poller (`epoll_wait`).
    pub fn io_polls(&self) -> u64 {
        self.io_polls
    }

    /// Events those polls returned (the loop's own cross-thread wake-up included).
    pub fn io_events(&self) -> u64 {
        self.io_events
    }

    /// Mean events per poll (0 if the loop never polled).
    pub fn events_per_poll(&self) -> f64 {
        if self.io_polls == 0 {
            return 0.0;
        }
        self.io_events as f64 / self.io_polls as f64
    }

    /// Entries in the message queue now.
    pub fn queue_depth(&self) -> usize {
        self.queue_depth
    }

    /// The most entries the queue held when a turn began to drain it.
    pub fn queue_depth_max(&self) -> usize {
        self.queue_max
    }

    /// Callbacks run: [`call_soon`](Handle::call_soon), timers' callbacks and posts from other
    /// threads (not watchers, not tasks).
    pub fn callbacks_run(&self) -> u64 {
        self.callbacks_run
    }

    /// Watcher callbacks run (one per readiness event delivered to a [`Handle::watch`]er).
    pub fn watcher_events(&self) -> u64 {
        self.watcher_events
    }

    /// Tasks spawned.
    pub fn tasks_spawned(&self) -> u64 {
        self.tasks_spawned
    }

    /// Tasks alive now (spawned, not finished).
    pub fn tasks_alive(&self) -> usize {
        self.tasks_alive
    }

    /// Task polls (the `block_on` future's not counted).
    pub fn tasks_polled(&self) -> u64 {
        self.tasks_polled
    }

    /// Timers armed: callback timers and the timers of `sleep`, `timeout` and `interval`
    /// (a `sleep` re-armed after a `reset` counts again).
    pub fn timers_armed(&self) -> u64 {
        self.timers_armed
    }

    /// Timers that came due: callback timers whose callback ran (each tick of a
    /// [`call_every`](Handle::call_every) counts) and sleeps whose task they woke.
    pub fn timers_fired(&self) -> u64 {
        self.timers_fired
    }

    /// Live timers now.
    pub fn timers_live(&self) -> usize {
        self.timers_live
    }

    /// Registered watchers and sockets now.
    pub fn watchers(&self) -> usize {
        self.watchers
    }

    /// Callbacks posted from other threads ([`Remote::post`](crate::Remote::post)) taken in.
    pub fn remote_posts(&self) -> u64 {
        self.remote_posts
    }

    /// Wake-ups from other threads taken in (coalesced: a task woken twice before the loop
    /// looked counts once).
    pub fn remote_wakes(&self) -> u64 {
        self.remote_wakes
    }

    /// Blocking-pool jobs waiting for a thread now.
    pub fn blocking_queued(&self) -> usize {
        self.blocking_queued
    }

    /// Blocking-pool jobs running now.
    pub fn blocking_running(&self) -> usize {
        self.blocking_running
    }

    /// Blocking-pool threads started now (busy or idle).
    pub fn blocking_threads(&self) -> usize {
        self.blocking_threads
    }

    /// From a task's wake-up to the start of its poll, measured from the end of the I/O poll of
    /// the turn that polls it (when the wake-ups that poll found, and the due timers, were queued).
    pub fn schedule_latency(&self) -> &Histogram {
        &self.schedule_latency
    }

    /// How long one poll of a task took.
    pub fn poll_duration(&self) -> &Histogram {
        &self.poll_duration
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("turns", &self.turns)
            .field("timed_turns", &self.timed_turns)
            .field("busy_time", &self.busy)
            .field("idle_time", &self.idle)
            .field("io_polls", &self.io_polls)
            .field("io_events", &self.io_events)
            .field("queue_depth", &self.queue_depth)
            .field("queue_depth_max", &self.queue_max)
            .field("callbacks_run", &self.callbacks_run)
            .field("watcher_events", &self.watcher_events)
            .field("tasks_spawned", &self.tasks_spawned)
            .field("tasks_alive", &self.tasks_alive)
            .field("tasks_polled", &self.tasks_polled)
            .field("timers_armed", &self.timers_armed)
            .field("timers_fired", &self.timers_fired)
            .field("timers_live", &self.timers_live)
            .field("watchers", &self.watchers)
            .field("remote_posts", &self.remote_posts)
            .field("remote_wakes", &self.remote_wakes)
            .field("blocking_queued", &self.blocking_queued)
            .field("blocking_running", &self.blocking_running)
            .field("blocking_threads", &self.blocking_threads)
            .field("schedule_latency", &self.schedule_latency)
            .field("poll_duration", &self.poll_duration)
            .finish()
    }
}

impl std::iter::Sum for Metrics {
    fn sum<I: Iterator<Item = Metrics>>(mut iter: I) -> Metrics {
        let Some(mut total) = iter.next() else {
            return Metrics::zero();
        };
        for m in iter {
            total.merge(&m);
        }
        total
    }
}

impl Metrics {
    /// All figures zero (the sum of no loops).
    fn zero() -> Metrics {
        Metrics {
            turns: 0,
            timed_turns: 0,
            busy: Duration::ZERO,
            idle: Duration::ZERO,
            io_polls: 0,
            io_events: 0,
            queue_depth: 0,
            queue_max: 0,
            callbacks_run: 0,
            watcher_events: 0,
            tasks_spawned: 0,
            tasks_alive: 0,
            tasks_polled: 0,
            timers_armed: 0,
            timers_fired: 0,
            timers_live: 0,
            watchers: 0,
            remote_posts: 0,
            remote_wakes: 0,
            blocking_queued: 0,
            blocking_running: 0,
            blocking_threads: 0,
            schedule_latency: Histogram {
                counts: [0; BUCKETS],
            },
            poll_duration: Histogram {
                counts: [0; BUCKETS],
            },
        }
    }
}

/// A histogram of durations with log-scale buckets: bucket 0 holds durations under 1,024 ns,
/// bucket `i` those in `[2^(i+9), 2^(i+10))` ns (about 1 µs, 2 µs, 4 µs, ... 4.3 s), and the last
/// one everything from 2^32 ns (about 4.3 s) up.
///
/// Counts are estimates scaled from timed turns (see [`Metrics`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u64; BUCKETS],
}

impl Histogram {
    /// The number of buckets (24).
    pub const BUCKETS: usize = BUCKETS;

    /// The count of each bucket, fastest first.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The durations bucket `i` holds: `start..end` (`end` is `None` for the last bucket).
    ///
    /// # Panics
    ///
    /// If `i` is not below [`Histogram::BUCKETS`].
    pub fn bucket_range(i: usize) -> (Duration, Option<Duration>) {
        assert!(i < BUCKETS, "evloop: histogram bucket {i} out of range");
        let start = if i == 0 { 0 } else { 1u64 << (i + 9) };
        let end = (i + 1 < BUCKETS).then(|| Duration::from_nanos(1u64 << (i + 10)));
        (Duration::from_nanos(start), end)
    }

    /// The sum of all counts.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The upper bound of the bucket that holds quantile `q` (0.0 to 1.0) of the counts: the
    /// value that `q` of the samples are below, to within a factor of two. `None` if empty.
    pub fn quantile_upper_bound(&self, q: f64) -> Option<Duration> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let want = ((total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Some(Self::bucket_range(i).1.unwrap_or(Duration::MAX));
            }
        }
        None
    }

    /// The histogram as text bars, one line per bucket from the first to the last non-empty one.
    pub fn bars(&self, width: usize) -> String {
        let mut out = String::new();
        let max = self.counts.iter().copied().max().unwrap_or(0).max(1);
        let first = self.counts.iter().position(|c| *c > 0);
        let last = self.counts.iter().rposition(|c| *c > 0);
        let (Some(first), Some(last)) = (first, last) else {
            out.push_str("  (no samples)\n");
            return out;
        };
        for i in first..=last {
            let c = self.counts[i];
            let (_, end) = Self::bucket_range(i);
            let label = match end {
                Some(end) => format!("< {}", short(end)),
                None => format!(">= {}", short(Self::bucket_range(i).0)),
            };
            let n = (c as u128 * width as u128).div_ceil(max as u128) as usize;
            out.push_str(&format!("  {label:>9} | {:<width$} {c}\n", "#".repeat(n)));
        }
        out
    }
}

/// A duration in the unit that suits it (`512ns`, `4us`, `16ms`, `2s`).
fn short(d: Duration) -> String {
    let ns = d.as_nanos();
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{}us", ns / 1_000),
        1_000_000..1_000_000_000 => format!("{}ms", ns / 1_000_000),
        _ => format!("{:.1}s", d.as_secs_f64()),
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self
            .counts
            .iter()
            .rposition(|c| *c > 0)
            .map_or(0, |i| i + 1);
        f.debug_struct("Histogram")
            .field("total", &self.total())
            .field("counts", &&self.counts[..last])
            .finish()
    }
}

fn read(cells: &[std::cell::Cell<u64>; BUCKETS]) -> Histogram {
    Histogram {
        counts: std::array::from_fn(|i| cells[i].get()),
    }
}

impl Handle {
    /// A snapshot of the loop's metrics (see [`Metrics`] for what each figure means and how the
    /// times are sampled). Cheap: a few dozen loads, plus a lock of the blocking pool if it was
    /// started.
    pub fn metrics(&self) -> Metrics {
        let core = &self.core;
        let m: &Counters = &core.metrics;
        let t = &m.timing;
        let (tasks_alive, timers_live, watchers, queue_depth, io_events) = core.with(|d| {
            (
                d.tasks.len(),
                d.timers.len(),
                d.reactor.len(),
                d.queue.len(),
                d.reactor.events_seen,
            )
        });
        let (blocking_queued, blocking_running, blocking_threads) = core
            .blocking
            .borrow()
            .as_ref()
            .map_or((0, 0, 0), |p| p.stats());
        Metrics {
            turns: m.turns(),
            timed_turns: t.timed_turns.get(),
            busy: Duration::from_nanos(t.busy_ns.get()),
            idle: Duration::from_nanos(t.idle_ns.get()),
            io_polls: m.io_polls(),
            io_events,
            queue_depth,
            queue_max: m.queue_max.get(),
            callbacks_run: m.callbacks_run.get(),
            watcher_events: m.watcher_events.get(),
            tasks_spawned: m.tasks_spawned.get(),
            tasks_alive,
            tasks_polled: m.tasks_polled.get(),
            timers_armed: m.timers_armed.get(),
            timers_fired: m.timers_fired.get(),
            timers_live,
            watchers,
            remote_posts: m.remote_posts.get(),
            remote_wakes: m.remote_wakes.get(),
            blocking_queued,
            blocking_running,
            blocking_threads,
            schedule_latency: read(&t.latency),
            poll_duration: read(&t.poll),
        }
    }
}

// The documented sampling constants, checked here so the docs above stay true.
const _: () = assert!(BUSY_STRIDE == 256 && SLOW_TURN_NS == 1_000_000);
