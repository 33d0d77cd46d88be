//! Turn hooks: code an embedder runs just before the loop may sleep and just after it wakes.

use std::rc::Rc;

use crate::runtime::hooks::When;
use crate::runtime::Handle;

/// Identifies a turn hook, to remove it with [`Handle::remove_turn_hook`].
///
/// ```
/// let lp = evloop::EventLoop::new()?;
/// let id = lp.on_before_sleep(|_| {});
/// assert!(lp.remove_turn_hook(id));
/// assert!(!lp.remove_turn_hook(id), "removed already");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TurnHookId {
    key: u32,
    id: u64,
}

impl Handle {
    /// Runs `f` in every turn just before the loop polls the OS for I/O, where it may sleep
    /// (Redis's `beforeSleep`, libuv's prepare handles): the place to flush buffered output or
    /// publish state before going idle. Work `f` queues makes that poll not sleep.
    ///
    /// A poll is skipped while work is queued and fewer than 256 entries ran since the last
    /// one; hooks run only around polls that happen. Hooks run in the order they were added,
    /// with no loop state borrowed; one may add or remove hooks. A panic is reported to the
    /// error hook, and the hook stays registered. Hooks do not keep the loop alive.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let sleeps = Rc::new(Cell::new(0));
    /// let s = sleeps.clone();
    /// let hook = lp.on_before_sleep(move |_| s.set(s.get() + 1));
    /// lp.call_later(std::time::Duration::from_millis(1), |_| {});
    /// lp.run()?;
    /// assert!(sleeps.get() >= 1);
    /// assert!(lp.remove_turn_hook(hook));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_before_sleep<F>(&self, f: F) -> TurnHookId
    where
        F: Fn(&Handle) + 'static,
    {
        self.add_turn_hook(When::BeforeSleep, Rc::new(f))
    }

    /// Runs `f` in every turn just after the poll for I/O returns, before due timers fire and
    /// the queue is drained (Redis's `afterSleep`, libuv's check handles). As for
    /// [`Handle::on_before_sleep`].
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let order = Rc::new(std::cell::RefCell::new(Vec::new()));
    /// let o = order.clone();
    /// let wakes = Rc::new(Cell::new(0));
    /// let w = wakes.clone();
    /// lp.on_after_wake(move |_| w.set(w.get() + 1));
    /// lp.call_later(Duration::from_millis(1), move |_| o.borrow_mut().push("timer"));
    /// lp.run()?;
    /// assert!(wakes.get() >= 1, "ran after the poll that waited for the timer");
    /// assert_eq!(*order.borrow(), ["timer"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_after_wake<F>(&self, f: F) -> TurnHookId
    where
        F: Fn(&Handle) + 'static,
    {
        self.add_turn_hook(When::AfterWake, Rc::new(f))
    }

    fn add_turn_hook(&self, when: When, f: Rc<dyn Fn(&Handle)>) -> TurnHookId {
        if !self.core.is_open() {
            self.core.discard(f);
            return TurnHookId {
                key: u32::MAX,
                id: 0,
            };
        }
        let (key, id) = self.core.add_turn_hook(when, f);
        TurnHookId { key, id }
    }

    /// Removes a turn hook; its closure is dropped (from inside the hook itself, once it has
    /// returned). Returns whether it was registered.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let calls = Rc::new(Cell::new(0));
    /// let c = calls.clone();
    /// let hook = lp.on_before_sleep(move |_| c.set(c.get() + 1));
    /// assert!(lp.remove_turn_hook(hook));
    /// lp.call_later(Duration::from_millis(1), |_| {});
    /// lp.run()?;
    /// assert_eq!(calls.get(), 0, "removed before any turn");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remove_turn_hook(&self, id: TurnHookId) -> bool {
        match self.core.remove_turn_hook(id.key, id.id) {
            Some(f) => {
                self.core.discard(f);
                true
            }
            None => false,
        }
    }
}
