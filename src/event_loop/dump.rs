//! `Handle::dump`: a printable snapshot of a loop's live tasks, timers and watchers.

use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::driver::timers::NEVER;
use crate::runtime::Handle;

/// A snapshot of a loop, from [`Handle::dump`]; its `Display` is a report meant for a person
/// (what example servers print on `SIGUSR1`).
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// let _task = evloop::task::Builder::new().name("worker").spawn(std::future::pending::<()>())?;
/// let dump = lp.dump();
/// assert_eq!(dump.tasks().len(), 1);
/// assert_eq!(dump.tasks()[0].name(), Some("worker"));
/// print!("{dump}");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Dump {
    tasks: Vec<TaskDump>,
    timers: usize,
    timers_referenced: bool,
    next_timer: Option<Duration>,
    watchers: usize,
    queued: usize,
}

/// One live task in a [`Dump`].
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// let _idle = evloop::spawn(std::future::pending::<()>());
/// lp.run_nowait()?; // polled once: now it waits
/// let dump = lp.dump();
/// let task = &dump.tasks()[0];
/// assert_eq!((task.polls(), task.is_scheduled()), (1, false));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TaskDump {
    id: u64,
    name: Option<Rc<str>>,
    site: &'static Location<'static>,
    scheduled: bool,
    age: Duration,
    polls: u32,
    longest_poll: Duration,
}

impl TaskDump {
    /// The task's id, unique among the loop's live tasks: its slot in the high 32 bits (what
    /// the dump's text shows as `#slot`) and its generation in the low ones.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let _a = evloop::spawn(std::future::pending::<()>());
    /// let _b = evloop::spawn(std::future::pending::<()>());
    /// let dump = lp.dump();
    /// let (a, b) = (dump.tasks()[0].id(), dump.tasks()[1].id());
    /// assert_ne!(a, b, "unique among live tasks");
    /// assert!(a >> 32 < b >> 32, "slot order");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Its name, if it was spawned through a [`Builder`](crate::task::Builder) with one.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let _named = evloop::task::Builder::new().name("db").spawn(std::future::pending::<()>())?;
    /// let _anonymous = evloop::spawn(std::future::pending::<()>());
    /// let dump = lp.dump();
    /// let names: Vec<_> = dump.tasks().iter().map(|t| t.name()).collect();
    /// assert_eq!(names, [Some("db"), None]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where it was spawned.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let (_task, line) = (evloop::spawn(std::future::pending::<()>()), line!());
    /// let site = lp.dump().tasks()[0].spawn_site();
    /// assert_eq!((site.file(), site.line()), (file!(), line));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_site(&self) -> &'static Location<'static> {
        self.site
    }

    /// Whether it is queued to be polled (woken); otherwise it waits for a wake-up.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let _task = evloop::spawn(std::future::pending::<()>());
    /// assert!(lp.dump().tasks()[0].is_scheduled(), "spawned: queued for its first poll");
    /// lp.run_nowait()?;
    /// assert!(!lp.dump().tasks()[0].is_scheduled(), "polled, waiting for a wake-up");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_scheduled(&self) -> bool {
        self.scheduled
    }

    /// Time since it was spawned.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     evloop::time::pause(); // ages follow the loop's clock
    ///     let _task = evloop::spawn(std::future::pending::<()>());
    ///     evloop::time::advance(Duration::from_secs(10)).await;
    ///     let h = evloop::Handle::current();
    ///     assert_eq!(h.dump().tasks()[0].age(), Duration::from_secs(10));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn age(&self) -> Duration {
        self.age
    }

    /// How many times it has been polled.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let _task = evloop::spawn(async {
    ///     for _ in 0..3 {
    ///         evloop::yield_now().await;
    ///     }
    ///     std::future::pending::<()>().await
    /// });
    /// assert_eq!(lp.dump().tasks()[0].polls(), 0);
    /// for _ in 0..5 {
    ///     lp.run_nowait()?;
    /// }
    /// assert_eq!(lp.dump().tasks()[0].polls(), 4, "three yields, then the wait");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// The longest poll measured, to the microsecond: in debug mode every poll is measured,
    /// otherwise only those in timed turns (see [`Metrics`](crate::event_loop::Metrics)).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.set_debug(true); // every poll measured
    /// let _task = evloop::spawn(async {
    ///     std::thread::sleep(Duration::from_millis(2)); // a poll that blocks the loop
    ///     std::future::pending::<()>().await
    /// });
    /// lp.run_nowait()?;
    /// assert!(lp.dump().tasks()[0].longest_poll() >= Duration::from_millis(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn longest_poll(&self) -> Duration {
        self.longest_poll
    }
}

impl Dump {
    /// The live tasks, in slot order.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// assert!(lp.dump().tasks().is_empty());
    /// let task = evloop::spawn(async {});
    /// assert_eq!(lp.dump().tasks().len(), 1);
    /// lp.block_on(task).unwrap();
    /// assert!(lp.dump().tasks().is_empty(), "finished tasks are gone");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tasks(&self) -> &[TaskDump] {
        &self.tasks
    }

    /// Live timers (callback timers and those of sleeps, timeouts and intervals).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let id = lp.call_later(Duration::from_secs(60), |_| {});
    /// assert_eq!(lp.dump().timers(), 1);
    /// lp.cancel_timer(id);
    /// assert_eq!(lp.dump().timers(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timers(&self) -> usize {
        self.timers
    }

    /// Time until the next timer is due (`ZERO` if one is overdue), if any.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// assert_eq!(lp.dump().next_timer(), None);
    /// lp.call_later(Duration::from_secs(60), |_| {});
    /// let next = lp.dump().next_timer().unwrap();
    /// assert!(next <= Duration::from_secs(60));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn next_timer(&self) -> Option<Duration> {
        self.next_timer
    }

    /// Registered watchers and sockets.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     let h = evloop::Handle::current();
    ///     assert_eq!(h.dump().watchers(), 0);
    ///     let _socket = evloop::net::UdpSocket::bind("127.0.0.1:0")?; // registered with the poller
    ///     assert_eq!(h.dump().watchers(), 1);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn watchers(&self) -> usize {
        self.watchers
    }

    /// Entries waiting in the message queue.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// lp.call_soon(|_| {});
    /// lp.call_soon(|_| {});
    /// assert_eq!(lp.dump().queued(), 2);
    /// lp.run()?;
    /// assert_eq!(lp.dump().queued(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn queued(&self) -> usize {
        self.queued
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "evloop dump: {} tasks, {} timers{}, {} watchers, {} queued",
            self.tasks.len(),
            self.timers,
            match self.next_timer {
                Some(d) => format!(" (next in {d:.1?})"),
                None if self.timers > 0 => " (none due)".to_string(),
                None => String::new(),
            },
            self.watchers,
            self.queued
        )?;
        if !self.timers_referenced && self.timers > 0 {
            writeln!(f, "  (no timer keeps the loop alive)")?;
        }
        for t in &self.tasks {
            writeln!(
                f,
                "  task #{:<5} {:<16} {:<9} age {:>9.1?} polls {:>7} longest {:>9.1?}  spawned at {}",
                t.id >> 32,
                t.name.as_deref().map_or("-".into(), |n| format!("{n:?}")),
                if t.scheduled { "scheduled" } else { "idle" },
                t.age,
                t.polls,
                t.longest_poll,
                t.site
            )?;
        }
        Ok(())
    }
}

impl Handle {
    /// A snapshot of the loop's live tasks (id, name, spawn site, scheduled or idle, age, polls,
    /// longest measured poll), timers and watchers. Costs one pass over the tasks.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let _worker = evloop::task::Builder::new().name("worker").spawn(std::future::pending::<()>())?;
    /// let text = lp.dump().to_string(); // what the example servers print on SIGUSR1
    /// assert!(text.starts_with("evloop dump: 1 tasks"));
    /// assert!(text.contains("\"worker\""));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dump(&self) -> Dump {
        let core = &self.core;
        let now = core.clock_ns();
        let (tasks, timers, timers_referenced, next, watchers, queued) = core.with(|d| {
            (
                d.tasks.snapshot(),
                d.timers.len(),
                d.timers.is_referenced(),
                d.timers.next_deadline(),
                d.reactor.len(),
                d.queue.len(),
            )
        });
        let next_timer = next
            .filter(|n| *n != NEVER)
            .map(|n| Duration::from_nanos(n.saturating_sub(now)));
        let tasks = tasks
            .into_iter()
            .map(|s| TaskDump {
                id: (u64::from(s.key) << 32) | u64::from(s.gen),
                name: s.name,
                site: s.info.site,
                scheduled: s.scheduled,
                age: Duration::from_nanos(now.saturating_sub(s.info.born)),
                polls: s.polls,
                longest_poll: Duration::from_micros(u64::from(s.longest_us)),
            })
            .collect();
        Dump {
            tasks,
            timers,
            timers_referenced,
            next_timer,
            watchers,
            queued,
        }
    }
}
