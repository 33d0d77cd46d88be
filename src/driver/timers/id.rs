//! The public name of a timer.

/// Identifies a timer armed with `call_later`, `call_at` or `call_every`.
///
/// It is a plain copyable value: cancelling through a stale id (the timer already fired or was
/// cancelled, even if its slot was reused since) does nothing.
///
/// ```
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// let id = lp.call_later(Duration::from_millis(1), |_| {});
/// let copy = id; // `Copy`: keep one wherever it may be cancelled from
/// assert!(lp.timer_is_live(copy));
/// lp.run()?; // it fires
/// assert!(!lp.timer_is_live(id));
/// assert!(!lp.cancel_timer(id), "a stale id does nothing");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    pub(crate) key: u32,
    pub(crate) id: u64,
}
