//! The set's shutdown: one flag for the whole set, and one door into each loop through which it
//! learns of it.
//!
//! Signals are per process, so one thread owns them: the set's coordinator (`run.rs`) listens for
//! `SIGINT` and `SIGTERM` (one slot of the signal table, however many loops there are) and, on
//! delivery, calls [`ShutdownHandle::shutdown`] (a second signal: [`ShutdownHandle::force`]) like
//! any other trigger (a loop that failed or panicked, or user code holding a handle). That sends a message down each loop's `remote_channel`; a small task
//! on each loop receives it and cancels that loop's [`CancellationToken`](crate::sync::CancellationToken).
//! A loop that registers after the shutdown began (it was still starting) is told at once.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::sync::RemoteSender;

/// Stops every loop of a [`LoopSet`](crate::LoopSet): `Send + Sync`, cheap to clone.
///
/// Get one from [`LoopSet::shutdown_handle`](crate::LoopSet::shutdown_handle) before the set
/// runs, or from [`LoopContext::shutdown_handle`](crate::loop_set::LoopContext::shutdown_handle)
/// inside a loop.
///
/// ```
/// let set = evloop::LoopSet::new().loops(2).handle_signals(false);
/// let stop = set.shutdown_handle(); // `Send + Sync`: hand it to any thread
/// let admin = std::thread::spawn({
///     let stop = stop.clone();
///     move || stop.shutdown()
/// });
/// let done = set.run(|ctx| async move {
///     ctx.shutdown_token().cancelled().await;
///     Ok(())
/// })?;
/// admin.join().unwrap();
/// assert_eq!(done.len(), 2);
/// assert!(stop.is_shutting_down());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct ShutdownHandle {
    shared: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// 0: running, 1: shutting down, 2: forced. Each step is one message through every door.
    stage: u8,
    /// Each running loop's door, by index.
    doors: Vec<Option<RemoteSender<()>>>,
}

impl ShutdownHandle {
    /// Starts a graceful shutdown of every loop: each one's
    /// [`shutdown_token`](crate::loop_set::LoopContext::shutdown_token) is cancelled, and a loop
    /// whose setup future has not finished within the set's grace period after that is abandoned.
    /// Calling it again does nothing.
    ///
    /// ```
    /// let set = evloop::LoopSet::new().loops(2).handle_signals(false);
    /// let stop = set.shutdown_handle();
    /// stop.shutdown(); // before the set runs: each loop is told as it starts
    /// stop.shutdown(); // again: nothing more
    /// let done = set.run(|ctx| async move {
    ///     ctx.shutdown_token().cancelled().await;
    ///     Ok(ctx.force_token().is_cancelled())
    /// })?;
    /// assert_eq!(done, [false, false], "graceful, not forced");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self) {
        self.advance(1);
    }

    /// Asks every loop to cut its graceful shutdown short (a second `SIGINT`/`SIGTERM` does this):
    /// each one's [`force_token`](crate::loop_set::LoopContext::force_token) is cancelled, after
    /// its shutdown token. What a loop does with it is up to its code (the example servers stop
    /// waiting for their connections); the grace period still applies.
    ///
    /// ```
    /// let set = evloop::LoopSet::new().loops(1).handle_signals(false);
    /// let stop = set.shutdown_handle();
    /// stop.force(); // implies the shutdown
    /// let done = set.run(|ctx| async move {
    ///     ctx.force_token().cancelled().await;
    ///     Ok(ctx.shutdown_token().is_cancelled())
    /// })?;
    /// assert_eq!(done, [true], "the shutdown token is cancelled first");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn force(&self) {
        self.advance(2);
    }

    /// Whether [`shutdown`](ShutdownHandle::shutdown) (or [`force`](ShutdownHandle::force)) was
    /// called.
    ///
    /// ```
    /// let stop = evloop::LoopSet::new().shutdown_handle();
    /// assert!(!stop.is_shutting_down());
    /// stop.clone().shutdown(); // clones share the flag
    /// assert!(stop.is_shutting_down());
    /// ```
    pub fn is_shutting_down(&self) -> bool {
        self.lock().stage >= 1
    }

    fn advance(&self, to: u8) {
        let (steps, doors) = {
            let mut state = self.lock();
            if state.stage >= to {
                return;
            }
            let steps = to - state.stage;
            state.stage = to;
            (
                steps,
                state.doors.iter().flatten().cloned().collect::<Vec<_>>(),
            )
        };
        for door in doors {
            for _ in 0..steps {
                // A loop that already finished has dropped its receiver: nothing to tell it.
                let _ = door.send(());
            }
        }
    }

    /// Registers loop `index`'s door; told at once of the steps already taken.
    pub(crate) fn register(&self, index: usize, door: RemoteSender<()>) {
        let mut state = self.lock();
        if state.doors.len() <= index {
            state.doors.resize_with(index + 1, || None);
        }
        state.doors[index] = Some(door.clone());
        let steps = state.stage;
        drop(state);
        for _ in 0..steps {
            let _ = door.send(());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing user-provided runs under this lock (and the doors are sent to outside it).
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}
