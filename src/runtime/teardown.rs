//! Dropping a loop: every pending task's future (exactly once), callback, timer, watcher, post
//! and the error hook, whatever their destructors do.
//!
//! The loop is marked closing first, so work that a destructor queues is refused (and dropped)
//! instead of queued: one pass empties every container. Everything is dropped through the trash,
//! flat and under `catch_unwind` (a destructor that panics does not skip the rest), and the panics
//! are reported to the error hook, each under `catch_unwind` too. Only when the loop is fully torn
//! down (descriptors closed, no longer current on its thread) does a panic that the hook resumed
//! continue, unless the thread is already unwinding.

use std::panic::resume_unwind;

use super::core::Core;
use super::guard::catch;
use super::state::Life;
use super::trash::{self, Panic};
use super::{current, Handle};

impl Core {
    pub(crate) fn close(&self, handle: &Handle) {
        self.life.set(Life::Closing);
        let mut panics: Vec<Panic> = Vec::new();
        let dropped = trash::scope(|| {
            let late_posts = self.remote.close();
            // Wakers on other threads find nothing from here on (nothing would be taken anyway).
            self.registration.release();
            self.discard(late_posts);
            let tasks = self.with(|d| d.tasks.drain());
            for t in &tasks {
                if let Some(p) = t.shutdown() {
                    panics.push(p);
                }
            }
            self.discard(tasks);
            let callbacks = self.with(|d| d.queue.clear());
            self.discard(callbacks);
            let timers = self.with(|d| d.timers.clear());
            self.discard(timers);
            let (mut watches, states) = self.with(|d| d.reactor.clear());
            for w in &mut watches {
                // A user source's `deregister` may panic: the others are still deregistered.
                if let Some(p) = catch(|| drop(self.registry.deregister(w.source()))) {
                    panics.push(p);
                }
            }
            self.discard(watches);
            self.discard(states);
            let foreign = self.with(|d| std::mem::take(&mut d.foreign));
            self.discard(foreign);
            self.discard(self.hooks.clear());
            self.observe
                .set(self.observe.get() & !super::metrics::HOOKS);
        });
        panics.extend(dropped);
        // Reported while the hook is still there; a hook that resumes a panic ends the reports,
        // not the teardown.
        let mut resumed = None;
        for p in panics {
            let error = super::error::LoopError::DropPanic(p);
            if let Some(p) = catch(|| self.report_to(handle, error)) {
                resumed = Some(p);
                break;
            }
        }
        if let Some(pool) = self.blocking.borrow_mut().take() {
            pool.shutdown();
        }
        let hook = self.replace_hook(None);
        let hook_drop = trash::scope(move || drop(hook));
        self.with(|d| d.queue.shrink_if_idle(0));
        current::unset(handle);
        self.life.set(Life::Closed);
        let resumed = resumed.or_else(|| hook_drop.into_iter().next());
        if let Some(p) = resumed {
            if !std::thread::panicking() {
                resume_unwind(p);
            }
        }
    }
}
