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
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// assert_eq!(lp.metrics().turns(), 0);
    /// lp.call_soon(|_| {});
    /// lp.run()?;
    /// assert!(lp.metrics().turns() >= 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn turns(&self) -> u64 {
        self.turns
    }

    /// Turns whose times were measured (see the type's docs).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.call_soon(|_| {});
    /// lp.run()?;
    /// let m = lp.metrics();
    /// assert!(m.timed_turns() >= 1, "the first turn is always timed");
    /// assert!(m.timed_turns() <= m.turns());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timed_turns(&self) -> u64 {
        self.timed_turns
    }

    /// Time spent in turns outside the poller's wait: running callbacks and tasks, and the
    /// loop's own work (estimated, see the type's docs).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.call_soon(|_| std::thread::sleep(Duration::from_millis(2))); // holds the loop
    /// lp.run()?;
    /// assert!(lp.metrics().busy_time() >= Duration::from_millis(2), "a timed turn measured it");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn busy_time(&self) -> Duration {
        self.busy
    }

    /// Time spent waiting in the poller (estimated, see the type's docs).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.call_later(Duration::from_millis(20), |_| {});
    /// lp.run()?; // waits in the poller for the timer: a slow loop, every turn timed
    /// assert!(lp.metrics().idle_time() > Duration::ZERO);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn idle_time(&self) -> Duration {
        self.idle
    }

    /// Calls to the OS poller (`epoll_wait`).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.call_later(std::time::Duration::from_millis(1), |_| {});
    /// lp.run()?; // waits for the timer in `epoll_wait`
    /// assert!(lp.metrics().io_polls() >= 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_polls(&self) -> u64 {
        self.io_polls
    }

    /// Events those polls returned (the loop's own cross-thread wake-up included).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let remote = lp.remote();
    /// std::thread::spawn(move || remote.post(|_| {}).unwrap()).join().unwrap();
    /// lp.run_once()?; // the post's wake-up is an event
    /// assert!(lp.metrics().io_events() >= 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_events(&self) -> u64 {
        self.io_events
    }

    /// Mean events per poll (0 if the loop never polled).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// assert_eq!(lp.metrics().events_per_poll(), 0.0, "never polled");
    /// let remote = lp.remote();
    /// std::thread::spawn(move || remote.post(|_| {}).unwrap()).join().unwrap();
    /// lp.run_once()?;
    /// let m = lp.metrics();
    /// assert_eq!(m.events_per_poll(), m.io_events() as f64 / m.io_polls() as f64);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn events_per_poll(&self) -> f64 {
        if self.io_polls == 0 {
            return 0.0;
        }
        self.io_events as f64 / self.io_polls as f64
    }

    /// Entries in the message queue now.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// for _ in 0..3 {
    ///     lp.call_soon(|_| {});
    /// }
    /// assert_eq!(lp.metrics().queue_depth(), 3);
    /// lp.run()?;
    /// assert_eq!(lp.metrics().queue_depth(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn queue_depth(&self) -> usize {
        self.queue_depth
    }

    /// The most entries the queue held when a turn began to drain it.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// for _ in 0..3 {
    ///     lp.call_soon(|_| {});
    /// }
    /// lp.run()?;
    /// assert_eq!(lp.metrics().queue_depth_max(), 3, "the high-water mark stays");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn queue_depth_max(&self) -> usize {
        self.queue_max
    }

    /// Callbacks run: [`call_soon`](Handle::call_soon), timers' callbacks and posts from other
    /// threads (not watchers, not tasks).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.call_soon(|_| {});
    /// lp.call_later(std::time::Duration::from_millis(1), |_| {});
    /// lp.run()?;
    /// assert_eq!(lp.metrics().callbacks_run(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn callbacks_run(&self) -> u64 {
        self.callbacks_run
    }

    /// Watcher callbacks run (one per readiness event delivered to a [`Handle::watch`]er).
    ///
    /// ```
    /// use evloop::Interest;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let socket = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    /// // Writable at once: one event, then the watcher is removed.
    /// lp.watch(socket, Interest::WRITABLE, |h, _socket, ev| {
    ///     h.unwatch(ev.watcher());
    /// })?;
    /// lp.run()?;
    /// assert_eq!(lp.metrics().watcher_events(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn watcher_events(&self) -> u64 {
        self.watcher_events
    }

    /// Tasks spawned.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// for _ in 0..2 {
    ///     evloop::spawn(async {});
    /// }
    /// lp.run()?;
    /// assert_eq!(lp.metrics().tasks_spawned(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tasks_spawned(&self) -> u64 {
        self.tasks_spawned
    }

    /// Tasks alive now (spawned, not finished).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let done = evloop::spawn(async {});
    /// let _waiting = evloop::spawn(std::future::pending::<()>());
    /// lp.block_on(done).unwrap();
    /// assert_eq!(lp.metrics().tasks_alive(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tasks_alive(&self) -> usize {
        self.tasks_alive
    }

    /// Task polls (the `block_on` future's not counted).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     evloop::spawn(async { evloop::yield_now().await }).await.unwrap();
    /// });
    /// assert_eq!(lp.metrics().tasks_polled(), 2, "the task's two polls, not block_on's");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tasks_polled(&self) -> u64 {
        self.tasks_polled
    }

    /// Timers armed: callback timers and the timers of `sleep`, `timeout` and `interval`
    /// (a `sleep` re-armed after a `reset` counts again).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.call_later(Duration::from_millis(1), |_| {});
    /// lp.block_on(evloop::time::sleep(Duration::from_millis(1)));
    /// assert_eq!(lp.metrics().timers_armed(), 2, "a callback timer and a sleep's");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timers_armed(&self) -> u64 {
        self.timers_armed
    }

    /// Timers that came due: callback timers whose callback ran (each tick of a
    /// [`call_every`](Handle::call_every) counts) and sleeps whose task they woke.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.call_later(Duration::from_millis(1), |_| {});
    /// let never = lp.call_later(Duration::from_secs(60), |_| {});
    /// lp.cancel_timer(never);
    /// lp.run()?;
    /// assert_eq!(lp.metrics().timers_fired(), 1, "a cancelled timer does not fire");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timers_fired(&self) -> u64 {
        self.timers_fired
    }

    /// Live timers now.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let id = lp.call_later(Duration::from_secs(60), |_| {});
    /// assert_eq!(lp.metrics().timers_live(), 1);
    /// lp.cancel_timer(id);
    /// assert_eq!(lp.metrics().timers_live(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timers_live(&self) -> usize {
        self.timers_live
    }

    /// Registered watchers and sockets now.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let _a = evloop::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     let _b = evloop::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     assert_eq!(evloop::Handle::current().metrics().watchers(), 2);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// assert_eq!(lp.metrics().watchers(), 0, "dropped sockets are deregistered");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn watchers(&self) -> usize {
        self.watchers
    }

    /// Callbacks posted from other threads ([`Remote::post`](crate::Remote::post)) taken in.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let remote = lp.remote();
    /// std::thread::spawn(move || {
    ///     remote.post(|_| {}).unwrap();
    ///     remote.post(|_| {}).unwrap();
    /// })
    /// .join()
    /// .unwrap();
    /// lp.run()?;
    /// assert_eq!(lp.metrics().remote_posts(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remote_posts(&self) -> u64 {
        self.remote_posts
    }

    /// Wake-ups from other threads taken in (coalesced: a task woken twice before the loop
    /// looked counts once).
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let task = evloop::spawn(async {
    ///     let mut first = true;
    ///     poll_fn(|cx| {
    ///         if std::mem::take(&mut first) {
    ///             let waker = cx.waker().clone();
    ///             std::thread::spawn(move || waker.wake()).join().unwrap(); // from another thread
    ///             return Poll::Pending;
    ///         }
    ///         Poll::Ready(())
    ///     })
    ///     .await
    /// });
    /// lp.block_on(task).unwrap();
    /// assert_eq!(lp.metrics().remote_wakes(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remote_wakes(&self) -> u64 {
        self.remote_wakes
    }

    /// Blocking-pool jobs waiting for a thread now.
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.set_blocking_threads(1);
    /// let ((started_tx, started), (go, go_rx)) = (channel(), channel::<()>());
    /// let first = evloop::spawn_blocking(move || {
    ///     started_tx.send(()).unwrap();
    ///     go_rx.recv().ok() // holds the only thread
    /// });
    /// started.recv().unwrap();
    /// let second = evloop::spawn_blocking(|| ());
    /// assert_eq!(lp.metrics().blocking_queued(), 1, "the second waits for a thread");
    /// go.send(()).unwrap();
    /// lp.block_on(async { (first.await.unwrap(), second.await.unwrap()) });
    /// assert_eq!(lp.metrics().blocking_queued(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn blocking_queued(&self) -> usize {
        self.blocking_queued
    }

    /// Blocking-pool jobs running now.
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let ((started_tx, started), (go, go_rx)) = (channel(), channel::<()>());
    /// let job = evloop::spawn_blocking(move || {
    ///     started_tx.send(()).unwrap();
    ///     go_rx.recv().ok()
    /// });
    /// started.recv().unwrap(); // the job is on a pool thread now
    /// assert_eq!(lp.metrics().blocking_running(), 1);
    /// go.send(()).unwrap();
    /// lp.block_on(job).unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn blocking_running(&self) -> usize {
        self.blocking_running
    }

    /// Blocking-pool threads started now (busy or idle).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// assert_eq!(lp.metrics().blocking_threads(), 0, "started lazily");
    /// lp.block_on(evloop::spawn_blocking(|| ())).unwrap();
    /// assert_eq!(lp.metrics().blocking_threads(), 1, "idle now, retired after ten seconds");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn blocking_threads(&self) -> usize {
        self.blocking_threads
    }

    /// From a task's wake-up to the start of its poll, measured from the end of the I/O poll of
    /// the turn that polls it (when the wake-ups that poll found, and the due timers, were queued).
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async { evloop::spawn(async {}).await.unwrap() });
    /// let latency = lp.metrics().schedule_latency().clone();
    /// assert_eq!(latency.counts().len(), evloop::event_loop::Histogram::BUCKETS);
    /// println!("p99 under {:?}", latency.quantile_upper_bound(0.99));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn schedule_latency(&self) -> &Histogram {
        &self.schedule_latency
    }

    /// How long one poll of a task took.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async { evloop::spawn(async {}).await.unwrap() });
    /// let polls = lp.metrics().poll_duration().clone();
    /// assert!(polls.total() >= 1, "the first turn is always timed: the task's poll was measured");
    /// print!("{}", polls.bars(40));
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
///
/// ```
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     evloop::spawn(async { std::thread::sleep(Duration::from_millis(3)) }).await.unwrap()
/// });
/// let h = lp.metrics().poll_duration().clone();
/// let slowest = h.quantile_upper_bound(1.0).unwrap();
/// assert!(slowest >= Duration::from_millis(3), "the bucket's upper bound");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u64; BUCKETS],
}

impl Histogram {
    /// The number of buckets (24).
    ///
    /// ```
    /// use evloop::event_loop::Histogram;
    ///
    /// let (_, last_end) = Histogram::bucket_range(Histogram::BUCKETS - 1);
    /// assert_eq!(last_end, None, "the last bucket is open-ended");
    /// ```
    pub const BUCKETS: usize = BUCKETS;

    /// The count of each bucket, fastest first.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async { evloop::spawn(async {}).await.unwrap() });
    /// let h = lp.metrics().poll_duration().clone();
    /// assert_eq!(h.counts().iter().sum::<u64>(), h.total());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The durations bucket `i` holds: `start..end` (`end` is `None` for the last bucket).
    ///
    /// # Panics
    ///
    /// If `i` is not below [`Histogram::BUCKETS`].
    ///
    /// ```
    /// use evloop::event_loop::Histogram;
    /// use std::time::Duration;
    ///
    /// assert_eq!(Histogram::bucket_range(0), (Duration::ZERO, Some(Duration::from_nanos(1024))));
    /// assert_eq!(
    ///     Histogram::bucket_range(1),
    ///     (Duration::from_nanos(1024), Some(Duration::from_nanos(2048)))
    /// );
    /// ```
    pub fn bucket_range(i: usize) -> (Duration, Option<Duration>) {
        assert!(i < BUCKETS, "evloop: histogram bucket {i} out of range");
        let start = if i == 0 { 0 } else { 1u64 << (i + 9) };
        let end = (i + 1 < BUCKETS).then(|| Duration::from_nanos(1u64 << (i + 10)));
        (Duration::from_nanos(start), end)
    }

    /// The sum of all counts.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async { evloop::spawn(async {}).await.unwrap() });
    /// let h = lp.metrics().poll_duration().clone();
    /// assert!(h.total() >= 1, "the first turn is always timed");
    /// assert_eq!(h.total(), h.counts().iter().sum::<u64>());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The upper bound of the bucket that holds quantile `q` (0.0 to 1.0) of the counts: the
    /// value that `q` of the samples are below, to within a factor of two. `None` if empty.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// assert_eq!(lp.metrics().poll_duration().quantile_upper_bound(0.5), None, "empty");
    /// lp.block_on(async { evloop::spawn(async {}).await.unwrap() });
    /// let h = lp.metrics().poll_duration().clone();
    /// assert!(h.quantile_upper_bound(0.5) <= h.quantile_upper_bound(1.0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// assert_eq!(lp.metrics().poll_duration().bars(40), "  (no samples)\n");
    /// lp.block_on(async { evloop::spawn(async {}).await.unwrap() });
    /// let text = lp.metrics().poll_duration().bars(40);
    /// assert!(text.lines().count() >= 1);
    /// print!("{text}");
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let before = lp.metrics();
    /// lp.call_soon(|_| {});
    /// lp.run()?;
    /// let after = lp.metrics();
    /// assert_eq!(after.callbacks_run() - before.callbacks_run(), 1, "subtract snapshots for a rate");
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
