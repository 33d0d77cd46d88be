//! Waits shorter than the poller's millisecond timeout: a `timerfd` registered with the poller.
//!
//! `epoll_wait` takes its timeout in whole milliseconds, and `mio` rounds up so that a wait is never
//! short: a 200 µs sleep would return after about 1.1 ms. So when the next deadline is less than
//! two milliseconds away the turn arms this timer instead (relative, in nanoseconds; the kernel's
//! `hrtimer` behind a timerfd has no slack) and waits with no timeout: the timerfd's readiness ends
//! the wait. It is armed again only when the deadline changes, so a loop that is busy while a short
//! timer is pending makes one `timerfd_settime`, not one per turn; deadlines a millisecond or more
//! away never touch it. Its expiry is never read: re-arming resets the count, and with
//! edge-triggered polling each expiry is one event whether or not the count was read.
//!
//! The timerfd is made with the loop, not on first use: made later, it could take the one
//! descriptor a server near its limit had just freed for `accept`. If it cannot be made (or
//! elsewhere than Linux and Android, where there is none) `arm` says so and the turn rounds up.

use std::io;
use std::time::Duration;

use mio::{Registry, Token};

/// The token of the precise timer's events (never a slot's: keys stay far below `u32::MAX`).
pub(crate) const PRECISE_TOKEN: Token = Token(usize::MAX - 1);

/// The timerfd (if it could be made).
pub(crate) struct PreciseTimer {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fd: Option<std::os::fd::OwnedFd>,
    /// The deadline it is armed for (the timer queue's clock), so that an unchanged deadline
    /// costs no syscall.
    armed_for: Option<u64>,
}

impl PreciseTimer {
    /// Makes the timerfd and registers it with the poller, or an unusable timer if it cannot.
    pub(crate) fn new(registry: &Registry) -> PreciseTimer {
        PreciseTimer {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            fd: make_timerfd(registry).ok(),
            armed_for: None,
        }
    }

    /// Arms the timer to expire `remaining` from now, for the deadline `deadline` (used only to
    /// skip re-arming for the same one). False if this platform or this process cannot (out of
    /// descriptors): the caller waits with a rounded timeout instead.
    pub(crate) fn arm(&mut self, deadline: u64, remaining: Duration) -> bool {
        if self.armed_for == Some(deadline) {
            return true;
        }
        match self.set(remaining) {
            Ok(()) => {
                self.armed_for = Some(deadline);
                true
            }
            Err(_) => false,
        }
    }

    /// The timer expired (its event was seen): a later `arm` for the same deadline arms it again.
    pub(crate) fn expired(&mut self) {
        self.armed_for = None;
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn set(&mut self, remaining: Duration) -> io::Result<()> {
        use std::os::fd::AsRawFd;

        let Some(fd) = self.fd.as_ref().map(|f| f.as_raw_fd()) else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        // A zero `it_value` would disarm it: a deadline already reached still expires, at once.
        // Under the window of a few milliseconds: well within one second.
        let nanos = remaining.as_nanos().clamp(1, 999_999_999) as libc::c_long;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: 0,
                tv_nsec: nanos,
            },
        };
        // SAFETY: `fd` is our open timerfd; `spec` is a valid itimerspec on our stack, and the
        // old-value pointer may be null.
        let rc = unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn set(&mut self, _remaining: Duration) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn make_timerfd(registry: &Registry) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    // SAFETY: a plain syscall with constant arguments; no pointers.
    let raw = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a descriptor just created, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    registry.register(
        &mut mio::unix::SourceFd(&fd.as_raw_fd()),
        PRECISE_TOKEN,
        mio::Interest::READABLE,
    )?;
    Ok(fd)
}
