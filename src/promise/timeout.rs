//! `Promise::timeout`: fail with `TimedOut` unless settled in time.

use std::fmt::Debug;
use std::rc::Rc;
use std::time::Duration;

use super::{Promise, PromiseError};

impl<T: 'static, E: Debug + 'static> Promise<T, E> {
    /// A promise of this one's outcome if it settles within `duration`; otherwise it fails with
    /// [`PromiseError::TimedOut`] and this one is cancelled (its canceller runs), as with Twisted's
    /// `addTimeout`.
    ///
    /// The deadline is a loop timer, armed now; it keeps [`EventLoop::run`](crate::EventLoop::run)
    /// alive until it fires or the promise settles. A promise that is already settled wins even
    /// with a zero `duration`. Cancelling the returned promise disarms the timer and cancels this
    /// one.
    ///
    /// ```
    /// use evloop::promise::{Promise, PromiseError};
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (slow, _resolver) = Promise::<(), ()>::new();
    /// let p = slow.timeout(Duration::from_millis(5));
    /// assert_eq!(lp.block_on(p), Err(PromiseError::TimedOut));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timeout(self, duration: Duration) -> Promise<T, E> {
        let handle = self.state.handle();
        let (derived, resolver) = Promise::new_in(&handle);
        let target = Rc::downgrade(resolver.state());
        let timer = handle.call_later(duration, move |_| {
            if let Some(target) = target.upgrade() {
                // Like `cancel`, but failing with `TimedOut`: the source is cancelled after the
                // derived promise failed, so its `Cancelled` finds the derived promise settled.
                target.cancel_with(PromiseError::TimedOut);
            }
        });
        let h = handle.clone();
        let state = resolver.state();
        state.set_upstream(self.state.cancel_link());
        state.set_canceller(Box::new(move || {
            h.cancel_timer(timer);
        }));
        self.state.subscribe(Box::new(move |outcome| {
            handle.cancel_timer(timer);
            let _ = resolver.settle(outcome);
        }));
        derived
    }
}
