//! `EvloopTimer`: hyper's timer on the loop's timer heap, with a `Sleep` that is `Send + Sync`
//! because it holds nothing of the loop but plain numbers and the loop's `Send + Sync` door.
//!
//! hyper requires its sleeps to be `Send + Sync`; evloop's own [`Sleep`](crate::time::Sleep)
//! holds a [`Handle`](crate::Handle) (an `Rc`) and is neither. [`EvloopSleep`] holds instead the
//! deadline, the slab key of its armed timer and the loop's [`Remote`](crate::Remote) side (an
//! `Arc`), so it is `Send + Sync` without an `unsafe impl`:
//!
//! - it is polled on its loop's thread, where it reaches the loop through the thread's current
//!   loop, checked to be its own; polled anywhere else, it panics with a message;
//! - dropped on its loop's thread, it removes its timer at once; dropped on another thread, it
//!   posts the removal to the loop (a timer's key is only ever removed by its sleep, so the key
//!   stays valid until then), and does nothing if the loop is gone.
//!
//! A sleep waits in its loop's lane (`lane.rs`: one loop timer for a FIFO of sleeps, since hyper's
//! header-read deadlines come in order) unless its deadline is earlier than the lane's last one;
//! then it takes a loop timer of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::lane::{self, Place};
use crate::runtime::core::{Action, Core};
use crate::runtime::current::with_current_core;
use crate::runtime::waker;
use crate::Remote;

/// hyper's [`Timer`](hyper::rt::Timer) on the current thread's event loop.
///
/// Give it to hyper's HTTP/1 and HTTP/2 builders (header-read and keep-alive timeouts need one);
/// [`server`](super::server) already does. Its sleeps are [`EvloopSleep`]s.
///
/// # Panics
///
/// Its methods panic when called on a thread with no event loop: hyper asks for a sleep from the
/// connection's future, which runs on the loop.
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// use evloop::interop::hyper::EvloopTimer;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     EvloopTimer.sleep(Duration::from_millis(1)).await;
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct EvloopTimer;

impl hyper::rt::Timer for EvloopTimer {
    #[track_caller]
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(EvloopSleep::new(|core| core.deadline_after(duration)))
    }

    #[track_caller]
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(EvloopSleep::new(|core| core.instant_to_ns(deadline)))
    }

    /// The loop's time at the start of this turn (no clock read; never later than the real time,
    /// so a deadline hyper derives from it is at most one turn early); the clock off a loop.
    fn now(&self) -> Instant {
        with_current_core(|core| core.ns_to_instant(core.now_ns()))
            .flatten()
            .unwrap_or_else(Instant::now)
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        // hyper resets its header-read timer on every request: move the armed timer rather than
        // dropping it and allocating a new sleep.
        match sleep.as_mut().downcast_mut_pin::<EvloopSleep>() {
            Some(ours) => ours.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// The `Send + Sync` sleep of [`EvloopTimer`]; dropping it cancels its timer.
///
/// # Panics
///
/// Polled or reset on a thread other than its loop's (or after its loop was dropped), it panics
/// with a message. It may be dropped on any thread.
///
/// ```
/// use evloop::interop::hyper::{EvloopSleep, EvloopTimer};
/// use hyper::rt::Timer;
/// use std::time::Duration;
///
/// let lp = evloop::EventLoop::new()?;
/// lp.block_on(async {
///     let sleep = EvloopTimer.sleep(Duration::from_millis(1)); // a `Pin<Box<dyn hyper::rt::Sleep>>`
///     assert!(sleep.is::<EvloopSleep>());
///     let sleep_send: &(dyn Send + Sync) = &sleep; // what hyper requires
///     let _ = sleep_send;
///     sleep.await;
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct EvloopSleep {
    /// The loop this sleep belongs to: its identity, and its door for a removal from elsewhere.
    home: Remote,
    /// On the loop's clock (nanoseconds since its origin).
    deadline: u64,
    /// Where it waits, once polled.
    armed: Armed,
    done: bool,
}

/// Where a polled sleep waits: its loop's lane (see `lane.rs`), or a timer of its own (the slab
/// key of the timer, which only this sleep removes) when its deadline would break the lane's order.
#[derive(Clone, Copy, Debug)]
enum Armed {
    No,
    Lane(Place),
    Timer(u32),
}

impl Armed {
    /// Takes it off wherever it waits (on its loop's thread).
    fn disarm(self, core: &Core) {
        match self {
            Armed::No => {}
            Armed::Lane(place) => lane::remove(core, place),
            Armed::Timer(key) => core.remove_timer(key),
        }
    }
}

impl EvloopSleep {
    #[track_caller]
    fn new(deadline: impl FnOnce(&Core) -> u64) -> EvloopSleep {
        with_current_core(|core| EvloopSleep {
            home: Remote {
                shared: core.remote.clone(),
            },
            deadline: deadline(core),
            armed: Armed::No,
            done: false,
        })
        .expect(
            "evloop::interop::hyper::EvloopTimer: no event loop on this thread; hyper's timer \
             must be used from tasks of an evloop EventLoop",
        )
    }

    #[track_caller]
    fn off_thread(&self, what: &str) -> ! {
        panic!(
            "evloop::interop::hyper::EvloopSleep {what} on a thread other than its event loop's \
             (or after the loop was dropped): hyper's connection futures must run on the loop \
             that created them"
        )
    }

    /// Moves the deadline (also after the sleep completed: it then waits again).
    ///
    /// # Panics
    ///
    /// Off its loop's thread.
    ///
    /// ```
    /// use evloop::interop::hyper::{EvloopSleep, EvloopTimer};
    /// use hyper::rt::Timer;
    /// use std::time::Duration;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// lp.block_on(async {
    ///     evloop::time::pause();
    ///     let h = evloop::Handle::current();
    ///     let start = h.now();
    ///     let mut sleep = EvloopTimer.sleep(Duration::from_secs(1));
    ///     let ours = sleep.as_mut().downcast_mut_pin::<EvloopSleep>().unwrap();
    ///     ours.get_mut().reset(start + Duration::from_secs(5)); // later: the timer is kept
    ///     sleep.await;
    ///     assert_eq!(h.now() - start, Duration::from_secs(5));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn reset(&mut self, deadline: Instant) {
        let armed = self.armed;
        let deadline = match with_home(&self.home, |core| {
            // The next poll arms it again, on the lane if the new deadline keeps its order.
            armed.disarm(core);
            core.instant_to_ns(deadline)
        }) {
            Some(ns) => ns,
            None => self.off_thread("reset"),
        };
        self.armed = Armed::No;
        self.deadline = deadline;
        self.done = false;
    }
}

impl Future for EvloopSleep {
    type Output = ();

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(());
        }
        // As `time::Sleep::poll`, on the loop found through the thread.
        let polled = with_home(&this.home, |core| match this.armed {
            // The cached turn time is never later than the real time, so this is never early.
            Armed::No if this.deadline <= core.now_ns() => true,
            Armed::No => {
                this.armed = match lane::arm(core, this.deadline, cx.waker()) {
                    Some(place) => Armed::Lane(place),
                    None => {
                        let action = Action::wake(waker::clone_waker(cx.waker()));
                        // A closed loop arms nothing: stay unarmed (pending for ever, like its
                        // other work).
                        match core.add_timer(this.deadline, action) {
                            Ok(t) => Armed::Timer(t.key),
                            Err(_) => Armed::No,
                        }
                    }
                };
                false
            }
            Armed::Lane(place) => {
                let fired = lane::poll(core, place, cx.waker());
                if fired {
                    this.armed = Armed::No;
                    lane::remove(core, place);
                }
                fired
            }
            Armed::Timer(t) => {
                let fired = core.poll_timer(t, cx.waker());
                if fired {
                    this.armed = Armed::No;
                    core.remove_timer(t);
                }
                fired
            }
        });
        match polled {
            Some(true) => {
                this.done = true;
                Poll::Ready(())
            }
            Some(false) => Poll::Pending,
            None => this.off_thread("polled"),
        }
    }
}

impl hyper::rt::Sleep for EvloopSleep {}

/// Runs `f` with the loop `home` belongs to, if it is the current loop of this thread.
fn with_home<R>(home: &Remote, f: impl FnOnce(&Core) -> R) -> Option<R> {
    with_current_core(|core| Arc::ptr_eq(&core.remote, &home.shared).then(|| f(core))).flatten()
}

impl Drop for EvloopSleep {
    fn drop(&mut self) {
        let armed = std::mem::replace(&mut self.armed, Armed::No);
        if matches!(armed, Armed::No) {
            return;
        }
        if with_home(&self.home, |core| armed.disarm(core)).is_none() {
            // Another thread: the loop takes it off. Only this sleep removes its place or timer
            // key, so they are still its own when the post runs; a loop that is gone took its
            // timers along.
            let _ = self.home.post(move |h| armed.disarm(&h.core));
        }
    }
}
