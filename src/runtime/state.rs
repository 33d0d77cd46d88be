//! The two facts about a loop that change as it runs: whether (and how) it is running, and
//! whether it is still open. Each is one enum in one `Cell`, changed in one place per transition.

/// How the loop is being run. The order of the variants matters: the drain goes on while the
/// state is below `Stopping` (one comparison per entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum RunState {
    /// `run`, `run_once` or `run_nowait`.
    Running = 0,
    /// `block_on`; its future is neither queued nor due.
    BlockOn = 1,
    /// `block_on`; its future was woken and its entry is in the queue.
    BlockOnWoken = 2,
    /// `run` was asked to stop: the drain ends after the entry being dispatched.
    Stopping = 3,
    /// `block_on`; its future's entry came up: the drain ends and `block_on` polls it.
    BlockOnDue = 4,
    /// Not running.
    Idle = 5,
}

impl RunState {
    /// Whether the drain may dispatch another entry.
    #[inline]
    pub(crate) fn drain_goes_on(self) -> bool {
        (self as u8) < RunState::Stopping as u8
    }

    /// The state after the `block_on` future is woken, if its entry is to be queued now (a wake of
    /// a future already queued, or outside `block_on`, queues nothing).
    #[inline]
    pub(crate) fn main_woken(self) -> Option<RunState> {
        (self == RunState::BlockOn).then_some(RunState::BlockOnWoken)
    }

    /// The state after `stop`: only a run stops; `block_on` runs until its future completes.
    pub(crate) fn stop(self) -> RunState {
        match self {
            RunState::Running => RunState::Stopping,
            other => other,
        }
    }

    /// Whether a stop was asked for in this run.
    pub(crate) fn is_stopping(self) -> bool {
        self == RunState::Stopping
    }

    pub(crate) fn is_running(self) -> bool {
        self != RunState::Idle
    }
}

/// Whether a loop takes new work. Kept once, in the core: the containers know nothing of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Life {
    Open,
    /// `EventLoop::drop` is tearing it down: work that destructors queue is dropped unrun.
    Closing,
    /// Dropped: new work is a programming error (see `Handle`'s docs).
    Closed,
}
