//! `EvloopTimer`: hyper's timer on the loop, with a `Sleep` that is `Send + Sync` because it holds
//! nothing of the loop but plain numbers.
//!
//! hyper requires its sleeps to be `Send + Sync`; evloop's own [`Sleep`](crate::time::Sleep)
//! holds a [`Handle`](crate::Handle) (an `Rc`) and is neither. [`EvloopSleep`] holds instead its
//! deadline, where it waits (a place in its loop's lane, or the slab key of a loop timer) and its
//! loop's name: the epoch of the loop's lane (`lane.rs`), a number. So it is `Send + Sync` without
//! an `unsafe impl`, and making or dropping one touches no reference count:
//!
//! - it belongs to the loop that first polls it, which it reaches through the thread's current
//!   loop, checked to be its own on every later poll; polled anywhere else, it panics with a
//!   message;
//! - dropped on its loop's thread, it leaves the lane (or removes its timer) at once; dropped on
//!   another thread, it posts the removal to the loop, found by epoch (a place or timer key is
//!   only ever removed by its sleep, so it is still the sleep's then), and does nothing if the
//!   loop is gone.
//!
//! A sleep waits in its loop's lane (one loop timer for a FIFO of sleeps, since hyper's
//! header-read deadlines come in order) unless its deadline is earlier than the lane's last one;
//! then it takes a loop timer of its own. So hyper's per-request header-read timeout, made, polled
//! once and dropped before it fires, costs its box, a slab insert and a queue push, then a slab
//! removal and a queue pop. A second loop alive on a thread whose lane is another loop's is named
//! by its [`Remote`](crate::Remote) (an `Arc`) instead, and its sleeps always take timers.

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
        // On the loop's clock (paused time included), read now: never early.
        let deadline = with_current_core(|core| core.ns_to_instant(core.deadline_after(duration)))
            .unwrap_or_else(|| no_loop());
        Box::pin(EvloopSleep::new(deadline.unwrap_or_else(far_future)))
    }

    #[track_caller]
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(EvloopSleep::new(deadline))
    }

    /// The loop's time at the start of this turn (no clock read; never later than the real time,
    /// so a deadline hyper derives from it is at most one turn early); the clock off a loop.
    fn now(&self) -> Instant {
        with_current_core(lane::now).unwrap_or_else(Instant::now)
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

/// A deadline standing for "never" when the loop's clock cannot express one (it saturates there).
#[cold]
fn far_future() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(1 << 32)).unwrap_or(now)
}

/// The `Send + Sync` sleep of [`EvloopTimer`]; dropping it cancels its timer.
///
/// # Panics
///
/// It belongs to the loop that first polls it. Polled or reset on a thread other than that loop's
/// (or after the loop was dropped), it panics with a message. It may be dropped on any thread.
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
    deadline: Instant,
    /// Its loop, from the first poll on.
    home: Option<Home>,
    /// Where it waits, while it does.
    armed: Armed,
    done: bool,
}

/// A sleep's loop: by its lane's epoch (the common case, no reference count), or by its remote
/// side when this thread's lane is another live loop's.
#[derive(Debug)]
enum Home {
    Lane(u64),
    Loop(Remote),
}

/// Where a polled sleep waits: its loop's lane (see `lane.rs`), or a timer of its own (the slab
/// key of the timer, which only this sleep removes) when its deadline would break the lane's order.
#[derive(Clone, Copy, Debug)]
enum Armed {
    No,
    Lane(Place),
    Timer(u32),
}

impl Home {
    /// Runs `f` with the loop this is, if it is the current loop of this thread.
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&Core) -> R) -> Option<R> {
        with_current_core(|core| {
            let mine = match self {
                Home::Lane(epoch) => lane::owns(core, *epoch),
                Home::Loop(remote) => Arc::ptr_eq(&core.remote, &remote.shared),
            };
            mine.then(|| f(core))
        })
        .flatten()
    }
}

impl EvloopSleep {
    #[track_caller]
    #[inline]
    fn new(deadline: Instant) -> EvloopSleep {
        // The contract of `EvloopTimer`: made on a loop's thread (its loop is bound when polled).
        if with_current_core(|_| ()).is_none() {
            no_loop();
        }
        EvloopSleep {
            deadline,
            home: None,
            armed: Armed::No,
            done: false,
        }
    }

    #[track_caller]
    #[cold]
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
        // The next poll arms it again, on the lane if the new deadline keeps its order.
        let home_here = match &self.home {
            None => with_current_core(|_| ()).is_some(),
            Some(home) => home.with(|_| ()).is_some(),
        };
        if !home_here || !self.disarm_here() {
            self.off_thread("reset");
        }
        self.deadline = deadline;
        self.done = false;
    }

    /// Takes it off wherever it waits, on its loop's thread; false elsewhere (nothing changed).
    #[inline]
    fn disarm_here(&mut self) -> bool {
        let done = match (&self.home, self.armed) {
            (_, Armed::No) => true,
            (Some(Home::Lane(epoch)), Armed::Lane(place)) => {
                with_current_core(|core| lane::remove(core, *epoch, place)) == Some(true)
            }
            (Some(home), Armed::Timer(key)) => home.with(|core| core.remove_timer(key)).is_some(),
            _ => unreachable!("an armed sleep has a home, and only a lane's sleeps wait in it"),
        };
        if done {
            self.armed = Armed::No;
        }
        done
    }

    /// The first poll (or the first after a reset): binds the sleep to the current loop if it has
    /// no home yet, then completes it or arms it. `None` off its loop.
    #[inline]
    fn poll_unarmed(&mut self, cx: &Context<'_>) -> Option<bool> {
        with_current_core(|core| match &self.home {
            None | Some(Home::Lane(_)) => {
                let epoch = match &self.home {
                    Some(Home::Lane(epoch)) => Some(*epoch),
                    _ => None,
                };
                let deadline = self.deadline;
                match lane::arm(core, epoch, deadline, cx.waker())? {
                    lane::Armed::Due(epoch) => {
                        self.home = Some(Home::Lane(epoch));
                        return Some(true);
                    }
                    lane::Armed::Queued(epoch, place) => {
                        self.home = Some(Home::Lane(epoch));
                        self.armed = Armed::Lane(place);
                    }
                    lane::Armed::OutOfOrder(epoch) => {
                        self.home = Some(Home::Lane(epoch));
                        self.armed = arm_timer(core, core.instant_to_ns(deadline), cx);
                    }
                    lane::Armed::NotMine => {
                        self.home = Some(Home::Loop(Remote {
                            shared: core.remote.clone(),
                        }));
                        return Some(self.arm_own_timer(core, cx));
                    }
                }
                Some(false)
            }
            Some(Home::Loop(remote)) => {
                if !Arc::ptr_eq(&core.remote, &remote.shared) {
                    return None;
                }
                Some(self.arm_own_timer(core, cx))
            }
        })
        .flatten()
    }
}

impl EvloopSleep {
    /// Completes (true) or arms a timer of its own, on the loop's clock.
    fn arm_own_timer(&mut self, core: &Core, cx: &Context<'_>) -> bool {
        let deadline = core.instant_to_ns(self.deadline);
        // The cached turn time is never later than the real time, so this is never early.
        if deadline <= core.now_ns() {
            return true;
        }
        self.armed = arm_timer(core, deadline, cx);
        false
    }
}

#[track_caller]
#[cold]
fn no_loop() -> ! {
    panic!(
        "evloop::interop::hyper::EvloopTimer: no event loop on this thread; hyper's timer must be \
         used from tasks of an evloop EventLoop"
    )
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
        let polled = match (&this.home, this.armed) {
            (_, Armed::No) => this.poll_unarmed(cx),
            (Some(Home::Lane(epoch)), Armed::Lane(place)) => {
                let epoch = *epoch;
                with_current_core(|core| {
                    let fired = lane::poll(core, epoch, place, cx.waker())?;
                    if fired {
                        this.armed = Armed::No;
                        lane::remove(core, epoch, place);
                    }
                    Some(fired)
                })
                .flatten()
            }
            (Some(home), Armed::Timer(t)) => home.with(|core| {
                let fired = core.poll_timer(t, cx.waker());
                if fired {
                    this.armed = Armed::No;
                    core.remove_timer(t);
                }
                fired
            }),
            _ => unreachable!("an armed sleep has a home, and only a lane's sleeps wait in it"),
        };
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

/// A loop timer of the sleep's own, waking the task polling it.
fn arm_timer(core: &Core, deadline: u64, cx: &Context<'_>) -> Armed {
    let action = Action::wake(waker::clone_waker(cx.waker()));
    // A closed loop arms nothing: stay unarmed (pending for ever, like its other work).
    match core.add_timer(deadline, action) {
        Ok(t) => Armed::Timer(t.key),
        Err(_) => Armed::No,
    }
}

impl hyper::rt::Sleep for EvloopSleep {}

impl Drop for EvloopSleep {
    #[inline]
    fn drop(&mut self) {
        if matches!(self.armed, Armed::No) || self.disarm_here() {
            return;
        }
        self.drop_elsewhere();
    }
}

impl EvloopSleep {
    /// Dropped on another thread: the loop takes it off. Only this sleep removes its place or
    /// timer key, so they are still its own when the post runs; a loop that is gone took them
    /// along.
    #[cold]
    fn drop_elsewhere(&mut self) {
        let armed = std::mem::replace(&mut self.armed, Armed::No);
        let (door, home) = match &self.home {
            Some(Home::Lane(epoch)) => (lane::door(*epoch), Home::Lane(*epoch)),
            Some(Home::Loop(remote)) => (Some(remote.clone()), Home::Loop(remote.clone())),
            None => return,
        };
        if let Some(door) = door {
            let deadline = self.deadline;
            let _ = door.post(move |_| {
                let mut orphan = EvloopSleep {
                    deadline,
                    home: Some(home),
                    armed,
                    done: false,
                };
                // On the loop's thread now: this takes it off.
                orphan.disarm_here();
                orphan.armed = Armed::No;
            });
        }
    }
}
