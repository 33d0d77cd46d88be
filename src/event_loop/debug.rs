//! Debug mode's switches on the handle (the mode itself is in the runtime's `debug`).

use std::time::Duration;

use crate::runtime::Handle;

impl Handle {
    /// Turns debug mode on or off, from now on. It is on from the start when the environment
    /// variable `EVLOOP_DEBUG` is set (to anything but empty or `0`) when the loop is created,
    /// as asyncio's `PYTHONASYNCIODEBUG`.
    ///
    /// In debug mode every callback, watcher dispatch, task poll and poll of the `block_on`
    /// future is timed, and one that holds the loop for at least the threshold
    /// ([`Handle::set_slow_threshold`], 100 ms unless set) is reported to the error hook as
    /// [`LoopError::Slow`](crate::LoopError::Slow), which the default hook prints. The report
    /// names a task by its name (see [`Builder`](crate::task::Builder)) and spawn site, a
    /// callback by where it was scheduled, a timer by where it was armed and a watcher by where
    /// it was registered: sites recorded only for work scheduled while debug mode is on.
    ///
    /// Always on, debug mode or not: a `block_on` whose future nothing can wake is reported
    /// ([`LoopError::Stalled`](crate::LoopError::Stalled)), so is a detached task's panic
    /// ([`LoopError::TaskPanic`](crate::LoopError::TaskPanic)) and a promise rejection nobody
    /// observed ([`LoopError::UnobservedRejection`](crate::LoopError::UnobservedRejection)).
    ///
    /// Off, it costs one flag test per callback scheduled and nothing per entry run.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.set_debug(true);
    /// lp.set_slow_threshold(Duration::from_millis(5));
    /// lp.set_error_hook(|_, e| eprintln!("{e}")); // "slow: callback scheduled at src/main.rs:9:4 ..."
    /// lp.call_soon(|_| std::thread::sleep(Duration::from_millis(10)));
    /// lp.run()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_debug(&self, on: bool) {
        self.core.set_debug(on);
    }

    /// Whether debug mode is on.
    ///
    /// ```
    /// let lp = evloop::EventLoop::new()?;
    /// let from_env = std::env::var("EVLOOP_DEBUG").is_ok_and(|v| !v.is_empty() && v != "0");
    /// assert_eq!(lp.is_debug(), from_env);
    /// lp.set_debug(true);
    /// assert!(lp.is_debug());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_debug(&self) -> bool {
        self.core.debug.on.get()
    }

    /// How long one entry may hold the loop before debug mode reports it (100 ms unless set).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.set_debug(true);
    /// lp.set_slow_threshold(Duration::from_millis(1));
    /// let reports = Rc::new(Cell::new(0));
    /// let r = reports.clone();
    /// lp.set_error_hook(move |_, e| {
    ///     if matches!(e, evloop::LoopError::Slow { .. }) {
    ///         r.set(r.get() + 1);
    ///     }
    /// });
    /// lp.call_soon(|_| std::thread::sleep(Duration::from_millis(3)));
    /// lp.run()?;
    /// assert_eq!(reports.get(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_slow_threshold(&self, threshold: Duration) {
        self.core.debug.set_threshold(threshold);
    }

    /// The threshold of [`Handle::set_slow_threshold`].
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// assert_eq!(lp.slow_threshold(), Duration::from_millis(100), "unless set");
    /// lp.set_slow_threshold(Duration::from_millis(20));
    /// assert_eq!(lp.slow_threshold(), Duration::from_millis(20));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn slow_threshold(&self) -> Duration {
        self.core.debug.threshold()
    }
}
