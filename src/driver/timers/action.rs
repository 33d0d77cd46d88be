//! What a timer does when it comes due, together with its arming state.

use std::task::Waker;

/// A periodic timer's callback `P`, boxed with its schedule: in the slot there is no room for two
/// more words, and a box it needs anyway.
pub(crate) type EveryCallback<P> = Box<Periodic<P>>;

/// A periodic callback and its schedule.
pub(crate) struct Periodic<F: ?Sized> {
    /// Nanoseconds between ticks, at least 1.
    pub(crate) period: u64,
    /// The deadline of the tick that came due last (set when it fires): the next one is a whole
    /// number of periods after it.
    pub(crate) deadline: u64,
    pub(crate) callback: F,
}

/// A timer's state in its slot. Each variant repeats the arming fields so that they share the
/// enum tag's word: the whole is 24 bytes, where a struct holding them beside a tagged enum
/// would take 32.
///
/// `O` is a one-shot callback and `P` a periodic one: the timer queue stores them and hands them
/// back, it never calls or drops one.
pub(crate) enum Action<O, P: ?Sized> {
    /// Run once, then the timer is gone.
    Once {
        armed: u32,
        keep_alive: bool,
        /// `None` while it runs.
        callback: Option<O>,
    },
    /// Run every `period` until cancelled.
    Every {
        armed: u32,
        keep_alive: bool,
        /// `None` while it runs.
        callback: Option<EveryCallback<P>>,
    },
    /// Wake a task (a `Sleep` future); `fired` tells the future it is done.
    Wake {
        armed: u32,
        keep_alive: bool,
        fired: bool,
        waker: Option<Waker>,
    },
}

impl<O, P: ?Sized> Action<O, P> {
    /// Nothing to run and nothing to drop: what a slot holds while it is filled or emptied.
    pub(crate) const EMPTY: Self = Action::Once {
        armed: 0,
        keep_alive: false,
        callback: None,
    };

    /// A one-shot timer, not yet armed.
    pub(crate) fn once(callback: O) -> Self {
        Action::Once {
            armed: 0,
            keep_alive: true,
            callback: Some(callback),
        }
    }

    /// A periodic timer, not yet armed.
    pub(crate) fn every(callback: EveryCallback<P>) -> Self {
        Action::Every {
            armed: 0,
            keep_alive: true,
            callback: Some(callback),
        }
    }

    /// A `Sleep` timer, not yet armed.
    pub(crate) fn wake(waker: Waker) -> Self {
        Action::Wake {
            armed: 0,
            keep_alive: true,
            fired: false,
            waker: Some(waker),
        }
    }

    /// Sequence of the heap entry that currently arms this timer; 0 when not in the heap.
    #[inline]
    pub(crate) fn armed(&self) -> u32 {
        match self {
            Action::Once { armed, .. }
            | Action::Every { armed, .. }
            | Action::Wake { armed, .. } => *armed,
        }
    }

    #[inline]
    pub(crate) fn set_armed(&mut self, seq: u32) {
        match self {
            Action::Once { armed, .. }
            | Action::Every { armed, .. }
            | Action::Wake { armed, .. } => *armed = seq,
        }
    }

    /// Whether the timer keeps the loop alive.
    pub(crate) fn keep_alive(&self) -> bool {
        match self {
            Action::Once { keep_alive, .. }
            | Action::Every { keep_alive, .. }
            | Action::Wake { keep_alive, .. } => *keep_alive,
        }
    }

    /// Sets whether the timer keeps the loop alive; returns the old value.
    pub(crate) fn replace_keep_alive(&mut self, keep: bool) -> bool {
        match self {
            Action::Once { keep_alive, .. }
            | Action::Every { keep_alive, .. }
            | Action::Wake { keep_alive, .. } => std::mem::replace(keep_alive, keep),
        }
    }
}
