//! The process-wide side of signals: one counter per signal, the OS handler, a self-pipe, the
//! registry of listeners and the thread that wakes them.
//!
//! Signals belong to the process, not to a loop, so this is the one part of the crate that every
//! loop shares. It knows nothing of loops: a listener is a [`Registration`], a slot holding at most
//! one `Waker`, and waking that waker is how a delivery reaches whichever loop polls the listener.
//!
//! # The path of a signal
//!
//! 1. **The OS handler** ([`handler`]) is async-signal-safe: it adds one to the signal's counter in
//!    [`COUNTERS`] (an atomic on static data), writes the signal's number to the write end of a
//!    non-blocking, close-on-exec socket pair (a full buffer, `EAGAIN`, is ignored: the bytes
//!    already there will wake the reader anyway), and restores `errno`. It allocates nothing,
//!    locks nothing, and never touches the registry.
//! 2. **The dispatcher thread** `evloop-signal`, started with the first listener, blocks reading the
//!    other end. After each read it compares every counter with the value it saw last; for each
//!    signal whose counter moved it takes, under the registry's lock, the waker of every listener
//!    of that signal, and wakes them once the lock is released. (So a waker is never woken, cloned
//!    or dropped under the lock.) A counter is always bumped before its byte is written, so a read
//!    that returns the byte is followed by a scan that sees the bump.
//! 3. **A listener** remembers the counter's value when it was registered and each time it
//!    reported a delivery; it has a delivery to report whenever the counter is past that value, so
//!    a signal that arrives between registering and the first wait is not lost, and a burst of
//!    signals is reported at least once (deliveries coalesce: many signals may be reported once).
//!
//! # Dispositions
//!
//! The first listener for a signal installs [`handler`] with `sigaction` (`SA_RESTART`, an empty
//! mask) and keeps the disposition it replaced; when the last listener for that signal is dropped
//! the saved disposition is put back. Both happen under the registry's lock, so listeners created
//! and dropped on several threads at once see one consistent history. A previous handler is not
//! called while evloop's is installed.

use std::io::{self, Read};
use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use libc::c_int;
use slab::Slab;

/// One more than the largest signal number (`_NSIG` on Linux: 64 signals, numbered from 1).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const NSIG: c_int = 65;
/// One more than the largest signal number.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const NSIG: c_int = 33;

/// How many times each signal was caught since the process started; index = signal number.
static COUNTERS: [AtomicU64; NSIG as usize] = [const { AtomicU64::new(0) }; NSIG as usize];

/// The write end of the self-pipe, or -1 before the dispatcher was started. Written once, before
/// any handler is installed, and never closed.
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

/// Listeners per signal, and the dispositions they replaced.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    started: false,
    signals: Vec::new(),
});

struct Registry {
    /// The self-pipe exists and the dispatcher thread runs.
    started: bool,
    /// Index = signal number; filled when the dispatcher starts.
    signals: Vec<PerSignal>,
}

#[derive(Default)]
struct PerSignal {
    listeners: Slab<Arc<Slot>>,
    /// The disposition evloop's handler replaced, while listeners exist.
    previous: Option<Disposition>,
}

/// A saved `sigaction`.
struct Disposition(libc::sigaction);

// SAFETY: a `sigaction` is plain data (a handler address, flags, a mask); nothing in it refers to
// memory owned by a thread.
unsafe impl Send for Disposition {}

/// Where the dispatcher finds a listener's waker.
struct Slot {
    waker: Mutex<Option<Waker>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under these locks (wakers are moved in and out, never woken, cloned or
    // dropped there), so a poisoned lock still holds consistent data.
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

/// The OS handler: async-signal-safe (an atomic add on static data and one `write(2)`), and
/// leaves `errno` as it found it.
extern "C" fn handler(signum: c_int) {
    let _errno = Errno::save();
    if let Some(counter) = usize::try_from(signum).ok().and_then(|i| COUNTERS.get(i)) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    let fd = PIPE_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = signum as u8;
        // SAFETY: `fd` is the pipe's write end, which is never closed once published; the buffer
        // is one byte on this stack frame. The result is ignored: a full pipe (`EAGAIN`) already
        // holds bytes that will wake the dispatcher, and there is nothing else to do about an error.
        let _ = unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
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

/// Creates the self-pipe and starts the dispatcher, once.
fn start(registry: &mut Registry) -> io::Result<()> {
    if registry.started {
        return Ok(());
    }
    // std makes both ends close-on-exec.
    let (read, write) = UnixStream::pair()?;
    write.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("evloop-signal".into())
        .spawn(move || dispatch(read))?;
    // Published only now: the thread is running, and no handler is installed yet.
    let fd: RawFd = write.into_raw_fd();
    PIPE_WRITE.store(fd, Ordering::SeqCst);
    registry.signals = (0..NSIG).map(|_| PerSignal::default()).collect();
    registry.started = true;
    Ok(())
}

/// The dispatcher thread: wakes the listeners of every signal whose counter moved.
fn dispatch(mut pipe: UnixStream) {
    let mut seen = [0u64; NSIG as usize];
    let mut buf = [0u8; 128];
    let mut wake: Vec<Waker> = Vec::new();
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return, // cannot happen: the write end is never closed
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        let mut moved = [false; NSIG as usize];
        let mut any = false;
        for (i, counter) in COUNTERS.iter().enumerate() {
            let now = counter.load(Ordering::SeqCst);
            if now != seen[i] {
                seen[i] = now;
                moved[i] = true;
                any = true;
            }
        }
        if !any {
            continue;
        }
        {
            let registry = lock(&REGISTRY);
            for (signal, _) in registry.signals.iter().zip(moved).filter(|(_, m)| *m) {
                for (_, slot) in &signal.listeners {
                    if let Some(w) = lock(&slot.waker).take() {
                        wake.push(w);
                    }
                }
            }
        }
        // Woken with no lock held: a waker may run any code, register a listener included.
        for w in wake.drain(..) {
            w.wake();
        }
    }
}

/// One listener for one signal. Dropping it unregisters it, and puts the previous disposition
/// back if it was the last listener for its signal.
pub(crate) struct Registration {
    signum: c_int,
    key: usize,
    slot: Arc<Slot>,
}

/// Registers a listener for `signum`, installing the handler if it is the first. Returns it with
/// the signal's counter as read once the handler was installed: the deliveries to report are the
/// ones after that.
pub(crate) fn register(signum: c_int) -> io::Result<(Registration, u64)> {
    if let Some(e) = refuse(signum) {
        return Err(e);
    }
    let mut registry = lock(&REGISTRY);
    start(&mut registry)?;
    let signal = &mut registry.signals[signum as usize];
    if signal.listeners.is_empty() {
        signal.previous = Some(install(signum)?);
    }
    let slot = Arc::new(Slot {
        waker: Mutex::new(None),
    });
    let key = signal.listeners.insert(slot.clone());
    let seen = deliveries(signum);
    Ok((Registration { signum, key, slot }, seen))
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

impl Registration {
    /// Whether the stored waker would wake the same task as `waker`.
    pub(crate) fn will_wake(&self, waker: &Waker) -> bool {
        lock(&self.slot.waker)
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
    }

    /// Stores `waker`, handing back the one it replaced (to be dropped with no lock held).
    pub(crate) fn set_waker(&self, waker: Waker) -> Option<Waker> {
        lock(&self.slot.waker).replace(waker)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let removed = {
            let mut registry = lock(&REGISTRY);
            let signal = &mut registry.signals[self.signum as usize];
            let removed = signal.listeners.try_remove(self.key);
            if signal.listeners.is_empty() {
                if let Some(Disposition(previous)) = signal.previous.take() {
                    // SAFETY: `previous` is the disposition `sigaction` handed back when evloop's
                    // handler was installed, so it is valid to install again. A failure cannot
                    // be reported from a drop; it leaves evloop's handler, which is harmless.
                    unsafe { libc::sigaction(self.signum, &previous, std::ptr::null_mut()) };
                }
            }
            removed
        };
        // The waker (and the slot, if the dispatcher does not hold it) go with no lock held.
        let waker = lock(&self.slot.waker).take();
        drop(waker);
        drop(removed);
    }
}
