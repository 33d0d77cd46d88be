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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct EvloopSleep {
    /// The loop this sleep belongs to: its identity, and its door for a removal from elsewhere.
    home: Remote,
    /// On the loop's clock (nanoseconds since its origin).
    deadline: u64,
    /// The slab key of the armed timer, if any.
    timer: Option<u32>,
    done: bool,
}

impl EvloopSleep {
    #[track_caller]
    fn new(deadline: impl FnOnce(&Core) -> u64) -> EvloopSleep {
        with_current_core(|core| EvloopSleep {
            home: Remote {
                shared: core.remote.clone(),
            },
            deadline: deadline(core),
            timer: None,
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
    #[track_caller]
    pub fn reset(&mut self, deadline: Instant) {
        let (deadline, kept) = match with_home(&self.home, |core| {
            let ns = core.instant_to_ns(deadline);
            (ns, self.timer.is_some_and(|t| core.reset_timer(t, ns)))
        }) {
            Some(r) => r,
            None => self.off_thread("reset"),
        };
        self.deadline = deadline;
        self.done = false;
        if !kept {
            self.timer = None;
        }
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
        let polled = with_home(&this.home, |core| match this.timer {
            // The cached turn time is never later than the real time, so this is never early.
            None if this.deadline <= core.now_ns() => true,
            None => {
                let action = Action::wake(waker::clone_waker(cx.waker()));
                // A closed loop arms nothing: stay unarmed (pending for ever, like its other work).
                this.timer = core.add_timer(this.deadline, action).ok().map(|t| t.key);
                false
            }
            Some(t) => {
                let fired = core.poll_timer(t, cx.waker());
                if fired {
                    this.timer = None;
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
        let Some(key) = self.timer.take() else {
            return;
        };
        if with_home(&self.home, |core| core.remove_timer(key)).is_none() {
            // Another thread: the loop removes it. Only this sleep removes its key, so the slot
            // is still this timer's when the post runs; a loop that is gone took its timers along.
            let _ = self.home.post(move |h| h.core.remove_timer(key));
        }
    }
}
