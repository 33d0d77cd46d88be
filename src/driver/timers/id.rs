//! The public name of a timer.

/// Identifies a timer armed with `call_later`, `call_at` or `call_every`.
///
/// It is a plain copyable value: cancelling through a stale id (the timer already fired or was
/// cancelled, even if its slot was reused since) does nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    pub(crate) key: u32,
    pub(crate) id: u64,
}
