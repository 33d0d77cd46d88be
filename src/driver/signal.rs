//! The process-wide side of signals: one counter per signal, the OS handler, the table of wake
//! descriptors it writes to, and the disposition bookkeeping.
//!
//! Signals belong to the process, not to a loop, so this is the one part of the crate that every
//! loop shares. It knows nothing of loops and starts no thread: a loop that listens for signals
//! takes a [`WakeSlot`] (a non-blocking socket pair whose write end is published in a static
//! table), watches the read end with its own reactor, and wakes its own listeners when it
//! becomes readable. That part lives in `crate::signal`.
//!
//! # The path of a signal
//!
//! 1. **The OS handler** ([`handler`]) is async-signal-safe: it adds one to the signal's counter in
//!    [`COUNTERS`] (an atomic on static data), then writes one byte to the write end of every
//!    slot in use in [`WAKE_FDS`] (non-blocking: a full buffer, `EAGAIN`, is ignored, since the
//!    bytes already there make the read end readable anyway), and restores `errno`. It
//!    allocates nothing and locks nothing.
//! 2. **Each loop** with listeners sees its slot's read end become readable, drains it
//!    ([`WakeSlot::drain`]), and only then compares its listeners' counts with [`deliveries`]. A
//!    counter is always bumped before the bytes are written, so a drain that consumed a byte is
//!    followed by a look that sees the bump, and a byte written after the drain makes the read
//!    end readable again.
//! 3. **A listener** remembers the counter's value when it was registered and each time it
//!    reported a delivery; it has a delivery to report whenever the counter is past that value, so
//!    a signal that arrives between registering and the first wait is not lost, and a burst of
//!    signals is reported at least once (deliveries coalesce).
//!
//! # Slots are never closed
//!
//! The handler may have loaded a write end from the table just before its slot is given back,
//! and write to it afterwards; if the descriptor were closed, its number could by then name an
//! unrelated file. So a slot's descriptors stay open for the life of the process: a slot given
//! back goes to a free list, and the next loop that needs one takes it (and drains it first). At
//! most [`WAKE_SLOTS`] loops can listen for signals at the same time.
//!
//! # Dispositions
//!
//! The first listener for a signal (of any loop) installs [`handler`] with `sigaction`
//! (`SA_RESTART`, an empty mask) and keeps the disposition it replaced; when the last listener for
//! that signal is dropped the saved disposition is put back. Both happen under one lock, so
//! listeners created and dropped on several threads at once see one consistent history. A
//! previous handler is not called while evloop's is installed.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use libc::c_int;

/// One more than the largest signal number (`_NSIG` on Linux: 64 signals, numbered from 1).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const NSIG: c_int = 65;
/// One more than the largest signal number.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const NSIG: c_int = 33;

/// How many loops can listen for signals at the same time (one slot each).
pub(crate) const WAKE_SLOTS: usize = 64;

/// How many times each signal was caught since the process started; index = signal number.
static COUNTERS: [AtomicU64; NSIG as usize] = [const { AtomicU64::new(0) }; NSIG as usize];

/// The write ends the handler writes to: one per slot in use, -1 for a free slot.
static WAKE_FDS: [AtomicI32; WAKE_SLOTS] = [const { AtomicI32::new(-1) }; WAKE_SLOTS];

/// The slots made so far that no loop uses.
static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    made: 0,
});

/// Per signal, how many listeners exist and the disposition evloop's handler replaced.
static DISPOSITIONS: Mutex<[PerSignal; NSIG as usize]> = Mutex::new(
    [const {
        PerSignal {
            listeners: 0,
            previous: None,
        }
    }; NSIG as usize],
);

struct Pool {
    free: Vec<Pair>,
    /// How many slots exist (used or free); a new one takes index `made`.
    made: usize,
}

/// A slot's descriptors, both open for the life of the process.
#[derive(Clone, Copy)]
struct Pair {
    index: usize,
    read: &'static UnixStream,
    write: c_int,
}

struct PerSignal {
    listeners: usize,
    /// The disposition evloop's handler replaced, while listeners exist.
    previous: Option<Disposition>,
}

/// A saved `sigaction`.
struct Disposition(libc::sigaction);

// SAFETY: a `sigaction` is plain data (a handler address, flags, a mask); nothing in it refers to
// memory owned by a thread.
unsafe impl Send for Disposition {}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under these locks, so a poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads and restores `errno`, which the handler must leave as it found it.
struct Errno(c_int);

impl Errno {
    fn location() -> *mut c_int {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        // SAFETY: `__errno_location` has no preconditions and returns this thread's errno.
        let p = unsafe { libc::__errno_location() };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        // SAFETY: `__error` has no preconditions and returns this thread's errno.
        let p = unsafe { libc::__error() };
        p
    }

    fn save() -> Errno {
        // SAFETY: the location is this thread's errno, valid for the thread's life.
        Errno(unsafe { *Errno::location() })
    }
}

impl Drop for Errno {
    fn drop(&mut self) {
        // SAFETY: as in `save`.
        unsafe { *Errno::location() = self.0 };
    }
}

/// The OS handler: async-signal-safe (an atomic add on static data, atomic loads and one
/// `write(2)` per slot in use), and leaves `errno` as it found it.
extern "C" fn handler(signum: c_int) {
    let _errno = Errno::save();
    if let Some(counter) = usize::try_from(signum).ok().and_then(|i| COUNTERS.get(i)) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    let byte = signum as u8;
    for slot in &WAKE_FDS {
        let fd = slot.load(Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: `fd` is the write end of a slot, and slots are never closed (see the module
            // docs), so it names that socket even if the slot was given back meanwhile; the
            // buffer is one byte on this stack frame. The result is ignored: a full buffer
            // (`EAGAIN`) already makes the reader readable, and nothing else can be done here.
            let _ = unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        }
    }
}

/// Why `signum` cannot have a listener, if it cannot.
fn refuse(signum: c_int) -> Option<io::Error> {
    let why = match signum {
        s if s <= 0 || s >= NSIG => "is not a valid signal number",
        libc::SIGKILL | libc::SIGSTOP => "cannot be caught",
        libc::SIGILL | libc::SIGFPE | libc::SIGSEGV | libc::SIGBUS => {
            "reports a fault in the running code and cannot be handled by an event loop"
        }
        _ => return None,
    };
    Some(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("evloop: signal {signum} {why}"),
    ))
}

/// How many times `signum` was caught since the process started (0 for an invalid number).
pub(crate) fn deliveries(signum: c_int) -> u64 {
    usize::try_from(signum)
        .ok()
        .and_then(|i| COUNTERS.get(i))
        .map_or(0, |c| c.load(Ordering::SeqCst))
}

/// One loop's way of hearing of signals: a slot of [`WAKE_FDS`], whose read end becomes readable
/// after each signal caught while the slot is held. Dropping it gives the slot back (its
/// descriptors stay open, for the next loop).
pub(crate) struct WakeSlot {
    pair: Pair,
}

impl WakeSlot {
    /// Takes a free slot (drained), or makes a new one.
    ///
    /// # Errors
    ///
    /// If [`WAKE_SLOTS`] loops already hold one, or a socket pair cannot be made.
    pub(crate) fn acquire() -> io::Result<WakeSlot> {
        let mut pool = lock(&POOL);
        let pair = match pool.free.pop() {
            Some(pair) => pair,
            None if pool.made < WAKE_SLOTS => {
                // std makes both ends close-on-exec.
                let (read, write) = UnixStream::pair()?;
                read.set_nonblocking(true)?;
                write.set_nonblocking(true)?;
                let pair = Pair {
                    index: pool.made,
                    // Never closed: see the module docs.
                    read: Box::leak(Box::new(read)),
                    write: write.into_raw_fd(),
                };
                pool.made += 1;
                pair
            }
            None => {
                return Err(io::Error::other(format!(
                    "evloop: too many event loops listen for signals at once (at most \
                     {WAKE_SLOTS})"
                )))
            }
        };
        drop(pool);
        let slot = WakeSlot { pair };
        // Bytes left by the loop that held it before.
        slot.drain();
        WAKE_FDS[pair.index].store(pair.write, Ordering::SeqCst);
        Ok(slot)
    }

    /// The read end, to watch for readability.
    pub(crate) fn read_fd(&self) -> c_int {
        self.pair.read.as_raw_fd()
    }

    /// Reads everything written so far, so that the read end is readable again only after the
    /// next signal.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        let mut read = self.pair.read;
        loop {
            match read.read(&mut buf) {
                Ok(0) => return, // cannot happen: the write end is never closed
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return, // `WouldBlock`: drained
            }
        }
    }
}

impl Drop for WakeSlot {
    fn drop(&mut self) {
        WAKE_FDS[self.pair.index].store(-1, Ordering::SeqCst);
        lock(&POOL).free.push(self.pair);
    }
}

/// One listener for one signal, as far as the disposition is concerned. Dropping it puts the
/// previous disposition back if it was the last listener for its signal.
pub(crate) struct Registration {
    signum: c_int,
}

/// Registers a listener for `signum`, installing the handler if it is the first. Returns it with
/// the signal's counter as read once the handler was installed: the deliveries to report are the
/// ones after that.
pub(crate) fn register(signum: c_int) -> io::Result<(Registration, u64)> {
    if let Some(e) = refuse(signum) {
        return Err(e);
    }
    let mut table = lock(&DISPOSITIONS);
    let signal = &mut table[signum as usize];
    if signal.listeners == 0 {
        signal.previous = Some(install(signum)?);
    }
    signal.listeners += 1;
    let seen = deliveries(signum);
    Ok((Registration { signum }, seen))
}

/// Whether [`handler`] is the disposition of `signum` now.
fn is_installed(signum: c_int) -> bool {
    // SAFETY: an all-zero `sigaction` is a valid value, only written by the call below.
    let mut now: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries; `now` is a live, writable `sigaction`.
    let rc = unsafe { libc::sigaction(signum, std::ptr::null(), &mut now) };
    rc == 0 && now.sa_sigaction == handler as extern "C" fn(c_int) as libc::sighandler_t
}

/// Installs [`handler`] for `signum`; returns the disposition it replaced.
fn install(signum: c_int) -> io::Result<Disposition> {
    // SAFETY: an all-zero `sigaction` is a valid value (no handler, no flags, an empty mask).
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = handler as extern "C" fn(c_int) as libc::sighandler_t;
    new.sa_flags = libc::SA_RESTART;
    // SAFETY: as above; `old` is only written by the call.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live, initialised `sigaction`s; `sigemptyset` initialises the
    // mask in place. The handler is async-signal-safe (see `handler`).
    let rc = unsafe {
        libc::sigemptyset(&mut new.sa_mask);
        libc::sigaction(signum, &new, &mut old)
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EINVAL) {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("evloop: the OS refuses a handler for signal {signum}"),
            )
        } else {
            e
        });
    }
    Ok(Disposition(old))
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut table = lock(&DISPOSITIONS);
        let signal = &mut table[self.signum as usize];
        signal.listeners -= 1;
        if signal.listeners == 0 {
            if let Some(Disposition(previous)) = signal.previous.take() {
                // Only if evloop's handler is still the one installed: code that installed its own
                // since keeps it (checked, then replaced: not atomic, but nothing better exists).
                if is_installed(self.signum) {
                    // SAFETY: `previous` is the disposition `sigaction` handed back when evloop's
                    // handler was installed, so it is valid to install again. A failure cannot be
                    // reported from a drop; it leaves evloop's handler, which is harmless.
                    unsafe { libc::sigaction(self.signum, &previous, std::ptr::null_mut()) };
                }
            }
        }
    }
}
