//! The set's shutdown: one flag for the whole set, and one door into each loop through which it
//! learns of it.
//!
//! Signals are per process, so one loop owns them: loop 0 listens for `SIGINT` and `SIGTERM`
//! (one slot of the signal table, however many loops there are) and, on delivery, calls
//! [`ShutdownHandle::shutdown`] like any other trigger (a loop that failed or panicked, or user
//! code holding a handle). That sends a message down each loop's `remote_channel`; a small task
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
#[derive(Clone, Default)]
pub struct ShutdownHandle {
    shared: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    started: bool,
    /// Each running loop's door, by index.
    doors: Vec<Option<RemoteSender<()>>>,
}

impl ShutdownHandle {
    /// Starts a graceful shutdown of every loop: each one's
    /// [`shutdown_token`](crate::loop_set::LoopContext::shutdown_token) is cancelled, and a loop
    /// whose setup future has not finished within the set's grace period after that is abandoned.
    /// Calling it again does nothing.
    pub fn shutdown(&self) {
        let doors = {
            let mut state = self.lock();
            if std::mem::replace(&mut state.started, true) {
                return;
            }
            std::mem::take(&mut state.doors)
        };
        for door in doors.into_iter().flatten() {
            // A loop that already finished has dropped its receiver: nothing to tell it.
            let _ = door.send(());
        }
    }

    /// Whether [`shutdown`](ShutdownHandle::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.lock().started
    }

    /// Registers loop `index`'s door; told at once if the shutdown already began.
    pub(crate) fn register(&self, index: usize, door: RemoteSender<()>) {
        let mut state = self.lock();
        if state.started {
            drop(state);
            let _ = door.send(());
            return;
        }
        if state.doors.len() <= index {
            state.doors.resize_with(index + 1, || None);
        }
        state.doors[index] = Some(door);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing user-provided runs under this lock (sending to a channel runs no user code).
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
