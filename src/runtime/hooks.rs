//! Turn hooks: user callbacks run just before the loop may sleep in the poller and just after
//! it wakes (Redis ae.c's beforesleep/aftersleep, libuv's prepare/check handles).
//!
//! They are kept in a slab of shared closures. Running them clones one closure out at a time,
//! with the slab's borrow released, so a hook may add or remove hooks (itself included); a
//! removed hook's closure is dropped through the trash. With no hook registered, a turn pays
//! nothing for them: the flag test that sends a timed turn's poll down its observed path
//! (`Core::poll_io_observed`) covers hooks too.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use slab::Slab;

use super::core::Core;
use super::error::LoopError;
use super::guard::catch;
use super::metrics::HOOKS;
use super::Handle;

/// When a turn hook runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum When {
    BeforeSleep,
    AfterWake,
}

pub(crate) type HookFn = Rc<dyn Fn(&Handle)>;

struct Hook {
    id: u64,
    when: When,
    f: HookFn,
}

/// The hooks of one loop.
#[derive(Default)]
pub(crate) struct TurnHooks {
    slots: RefCell<Slab<Hook>>,
    /// Whether any hook is registered: the only thing a turn looks at when there is none.
    any: Cell<bool>,
    next_id: Cell<u64>,
}

impl TurnHooks {
    /// Registers a hook; returns its key and id.
    pub(crate) fn add(&self, when: When, f: HookFn) -> (u32, u64) {
        let id = self.next_id.get().wrapping_add(1);
        self.next_id.set(id);
        let key = self.slots.borrow_mut().insert(Hook { id, when, f });
        self.any.set(true);
        (key as u32, id)
    }

    /// Removes a hook; hands back its closure, to be dropped with nothing borrowed.
    pub(crate) fn remove(&self, key: u32, id: u64) -> Option<HookFn> {
        let mut slots = self.slots.borrow_mut();
        let hook = match slots.get(key as usize) {
            Some(h) if h.id == id => slots.remove(key as usize),
            _ => return None,
        };
        self.any.set(!slots.is_empty());
        Some(hook.f)
    }

    /// Every closure, for the loop's drop.
    pub(crate) fn clear(&self) -> Vec<HookFn> {
        self.any.set(false);
        self.slots.borrow_mut().drain().map(|h| h.f).collect()
    }

    fn at(&self, key: usize, when: When) -> Option<HookFn> {
        self.slots
            .borrow()
            .get(key)
            .filter(|h| h.when == when)
            .map(|h| h.f.clone())
    }
}

impl Core {
    /// Registers a hook (the turn then takes its observed path around the poll).
    pub(crate) fn add_turn_hook(&self, when: When, f: HookFn) -> (u32, u64) {
        let added = self.hooks.add(when, f);
        self.observe.set(self.observe.get() | HOOKS);
        self.observe_next_turn();
        added
    }

    /// Removes a hook; hands back its closure, to be dropped with nothing borrowed.
    pub(crate) fn remove_turn_hook(&self, key: u32, id: u64) -> Option<HookFn> {
        let removed = self.hooks.remove(key, id);
        if !self.hooks.any.get() {
            self.observe.set(self.observe.get() & !HOOKS);
        }
        removed
    }

    /// Runs the hooks of `when`, if there are any.
    #[inline]
    pub(crate) fn run_hooks(&self, handle: &Handle, when: When) {
        if self.hooks.any.get() {
            self.run_hooks_now(handle, when);
        }
    }

    /// Runs the before-sleep hooks; returns whether work is queued now (`queued` before them: a
    /// hook may queue work, and the poll must not sleep then).
    #[inline]
    pub(crate) fn before_sleep(&self, handle: &Handle, queued: bool) -> bool {
        if !self.hooks.any.get() {
            return queued;
        }
        self.run_hooks_now(handle, When::BeforeSleep);
        queued || !self.with(|d| d.queue.is_empty())
    }

    #[cold]
    fn run_hooks_now(&self, handle: &Handle, when: When) {
        // Hooks added by a hook in this pass run from the next pass on, if they land past the end.
        let end = self.hooks.slots.borrow().capacity();
        for key in 0..end {
            let Some(f) = self.hooks.at(key, when) else {
                continue;
            };
            let panic = catch(|| f(handle));
            self.discard(f);
            self.report_panic(panic, LoopError::CallbackPanic);
        }
    }
}
