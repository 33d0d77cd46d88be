//! Readiness as the loop reports it.

use std::fmt;

/// A set of readiness flags delivered to an I/O watcher.
///
/// Readiness is *edge-triggered*, as in `mio`: a watcher is told when a source becomes ready and
/// must then perform its operation until it returns [`std::io::ErrorKind::WouldBlock`] before it is
/// told again.
///
/// ```
/// use evloop::reactor::Ready;
/// use mio::{net::UnixStream, Interest};
/// use std::io::Write;
///
/// let lp = evloop::EventLoop::new()?;
/// let (a, mut b) = UnixStream::pair()?;
/// lp.watch(a, Interest::READABLE, |h, _a, ev| {
///     let ready: Ready = ev.ready();
///     assert!(ready.is_readable());
///     h.unwatch(ev.watcher());
/// })?;
/// b.write_all(b"x")?;
/// lp.run()?; // returns once the watcher is gone
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ready(u8);

impl Ready {
    /// Nothing is ready.
    pub const EMPTY: Ready = Ready(0);
    /// The source can be read (or accepted from).
    pub const READABLE: Ready = Ready(1);
    /// The source can be written.
    pub const WRITABLE: Ready = Ready(1 << 1);
    /// The peer closed its writing half: reads will return end of file.
    pub const READ_CLOSED: Ready = Ready(1 << 2);
    /// The writing half is closed: writes will fail.
    pub const WRITE_CLOSED: Ready = Ready(1 << 3);
    /// The source has a pending error; the next operation reports it.
    pub const ERROR: Ready = Ready(1 << 4);
    /// Out-of-band or priority data is available.
    pub const PRIORITY: Ready = Ready(1 << 5);

    /// Whether every flag of `other` is set.
    ///
    /// ```
    /// use evloop::reactor::Ready;
    ///
    /// let r = Ready::READABLE | Ready::WRITABLE;
    /// assert!(r.contains(Ready::READABLE));
    /// assert!(!r.contains(Ready::READABLE | Ready::ERROR));
    /// ```
    #[inline]
    pub const fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    ///
    /// ```
    /// use evloop::reactor::Ready;
    ///
    /// let r = Ready::READABLE | Ready::WRITABLE;
    /// assert!(r.intersects(Ready::READABLE | Ready::ERROR));
    /// assert!(!r.intersects(Ready::ERROR));
    /// ```
    #[inline]
    pub const fn intersects(self, other: Ready) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no flag is set.
    ///
    /// ```
    /// use evloop::reactor::Ready;
    ///
    /// assert!(Ready::EMPTY.is_empty());
    /// assert!(Ready::default().is_empty());
    /// assert!((Ready::READABLE - Ready::READABLE).is_empty());
    /// ```
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// A read may make progress (data, end of file, or an error to report).
    ///
    /// ```
    /// use evloop::reactor::Ready;
    ///
    /// assert!(Ready::READABLE.is_readable());
    /// // End of file and errors are worth a read too: the read reports them.
    /// assert!(Ready::READ_CLOSED.is_readable());
    /// assert!(Ready::ERROR.is_readable());
    /// assert!(!Ready::WRITABLE.is_readable());
    /// ```
    #[inline]
    pub const fn is_readable(self) -> bool {
        self.intersects(Ready(
            Self::READABLE.0 | Self::READ_CLOSED.0 | Self::ERROR.0,
        ))
    }

    /// A write may make progress (buffer space, or an error to report).
    ///
    /// ```
    /// use evloop::reactor::Ready;
    ///
    /// assert!(Ready::WRITABLE.is_writable());
    /// // The write reports a closed half or an error.
    /// assert!(Ready::WRITE_CLOSED.is_writable());
    /// assert!(!Ready::READABLE.is_writable());
    /// ```
    #[inline]
    pub const fn is_writable(self) -> bool {
        self.intersects(Ready(
            Self::WRITABLE.0 | Self::WRITE_CLOSED.0 | Self::ERROR.0,
        ))
    }

    /// The peer closed its writing half.
    ///
    /// ```
    /// use evloop::reactor::Ready;
    ///
    /// let r = Ready::READABLE | Ready::READ_CLOSED;
    /// assert!(r.is_read_closed()); // read what is left, then end of file
    /// assert!(!Ready::READABLE.is_read_closed());
    /// ```
    pub const fn is_read_closed(self) -> bool {
        self.contains(Self::READ_CLOSED)
    }

    /// The writing half is closed.
    ///
    /// ```
    /// use evloop::reactor::Ready;
    ///
    /// assert!(Ready::WRITE_CLOSED.is_write_closed());
    /// assert!(!Ready::WRITABLE.is_write_closed());
    /// ```
    pub const fn is_write_closed(self) -> bool {
        self.contains(Self::WRITE_CLOSED)
    }

    /// The source reported an error.
    ///
    /// ```
    /// use evloop::reactor::Ready;
    ///
    /// assert!((Ready::READABLE | Ready::ERROR).is_error());
    /// assert!(!Ready::READABLE.is_error());
    /// ```
    pub const fn is_error(self) -> bool {
        self.contains(Self::ERROR)
    }

    #[inline]
    pub(crate) fn from_event(event: &mio::event::Event) -> Ready {
        let mut r = 0;
        // The common event, nothing closed, failed or urgent: two flags to test. (The compiler
        // folds the four tests into two mask tests of epoll's bits.)
        if !(event.is_error()
            || event.is_read_closed()
            || event.is_write_closed()
            || event.is_priority())
        {
            if event.is_readable() {
                r |= Self::READABLE.0;
            }
            if event.is_writable() {
                r |= Self::WRITABLE.0;
            }
            return Ready(r);
        }
        if event.is_readable() {
            r |= Self::READABLE.0;
        }
        if event.is_writable() {
            r |= Self::WRITABLE.0;
        }
        if event.is_read_closed() {
            r |= Self::READ_CLOSED.0;
        }
        if event.is_write_closed() {
            r |= Self::WRITE_CLOSED.0;
        }
        if event.is_error() {
            r |= Self::ERROR.0;
        }
        if event.is_priority() {
            r |= Self::PRIORITY.0;
        }
        Ready(r)
    }

    #[inline]
    pub(crate) const fn bits(self) -> u8 {
        self.0
    }

    #[inline]
    pub(crate) const fn from_bits(bits: u8) -> Ready {
        Ready(bits)
    }
}

impl std::ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, rhs: Ready) -> Ready {
        Ready(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, rhs: Ready) {
        self.0 |= rhs.0;
    }
}

impl std::ops::Sub for Ready {
    type Output = Ready;
    /// The flags of `self` that are not in `rhs`.
    fn sub(self, rhs: Ready) -> Ready {
        Ready(self.0 & !rhs.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::READABLE, "READABLE"),
            (Self::WRITABLE, "WRITABLE"),
            (Self::READ_CLOSED, "READ_CLOSED"),
            (Self::WRITE_CLOSED, "WRITE_CLOSED"),
            (Self::ERROR, "ERROR"),
            (Self::PRIORITY, "PRIORITY"),
        ];
        let mut list = f.debug_set();
        for (flag, name) in names {
            if self.contains(flag) {
                list.entry(&format_args!("{name}"));
            }
        }
        list.finish()
    }
}

/// What a watcher's callback receives: which watcher, and what is ready.
///
/// ```
/// use mio::{net::UnixStream, Interest};
/// use std::io::Write;
///
/// let lp = evloop::EventLoop::new()?;
/// let (a, mut b) = UnixStream::pair()?;
/// lp.watch(a, Interest::READABLE, |h, _a, ev| {
///     // Which watcher, and what it may do now.
///     assert!(ev.is_readable());
///     h.unwatch(ev.watcher());
/// })?;
/// b.write_all(b"x")?;
/// lp.run()?; // until the watcher is gone
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoEvent {
    pub(crate) watcher: WatcherId,
    pub(crate) ready: Ready,
}

impl IoEvent {
    /// The watcher this event is for (to change its interest or remove it from its own callback).
    ///
    /// ```
    /// use mio::{net::UnixStream, Interest};
    /// use std::io::Write;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (a, mut b) = UnixStream::pair()?;
    /// lp.watch(a, Interest::READABLE, |h, _a, ev| {
    ///     // One shot: the watcher removes itself (and drops its source).
    ///     assert!(h.unwatch(ev.watcher()));
    /// })?;
    /// b.write_all(b"x")?;
    /// lp.run()?; // until the watcher is gone
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn watcher(&self) -> WatcherId {
        self.watcher
    }

    /// The readiness flags.
    ///
    /// ```
    /// use mio::{net::UnixStream, Interest};
    /// use std::io::Write;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (a, mut b) = UnixStream::pair()?;
    /// lp.watch(a, Interest::READABLE, |h, _a, ev| {
    ///     let ready = ev.ready();
    ///     assert!(ready.contains(evloop::reactor::Ready::READABLE));
    ///     h.unwatch(ev.watcher());
    /// })?;
    /// b.write_all(b"x")?;
    /// lp.run()?; // until the watcher is gone
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ready(&self) -> Ready {
        self.ready
    }

    /// Shorthand for `self.ready().is_readable()`.
    ///
    /// ```
    /// use mio::{net::UnixStream, Interest};
    /// use std::io::Write;
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (a, mut b) = UnixStream::pair()?;
    /// lp.watch(a, Interest::READABLE, |h, _a, ev| {
    ///     assert!(ev.is_readable()); // read until `WouldBlock` now
    ///     h.unwatch(ev.watcher());
    /// })?;
    /// b.write_all(b"x")?;
    /// lp.run()?; // until the watcher is gone
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_readable(&self) -> bool {
        self.ready.is_readable()
    }

    /// Shorthand for `self.ready().is_writable()`.
    ///
    /// ```
    /// use mio::{net::UnixStream, Interest};
    ///
    /// let lp = evloop::EventLoop::new()?;
    /// let (a, _b) = UnixStream::pair()?;
    /// lp.watch(a, Interest::WRITABLE, |h, _a, ev| {
    ///     assert!(ev.is_writable()); // a fresh socket has buffer space
    ///     h.unwatch(ev.watcher());
    /// })?;
    /// lp.run()?; // until the watcher is gone
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_writable(&self) -> bool {
        self.ready.is_writable()
    }
}

/// Identifies a watcher registered with [`Handle::watch`](crate::Handle::watch).
///
/// A stale id (the watcher was removed, even if its slot has been reused since) is recognised and
/// ignored by every method that takes one.
///
/// ```
/// use mio::{net::UnixStream, Interest};
///
/// let lp = evloop::EventLoop::new()?;
/// let (a, _b) = UnixStream::pair()?;
/// let id = lp.watch(a, Interest::READABLE, |_, _, _| {})?;
/// assert!(lp.unwatch(id));
/// assert!(!lp.unwatch(id)); // stale: ignored
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WatcherId {
    pub(crate) key: u32,
    pub(crate) gen: u32,
}

#[cfg(test)]
mod tests {
    use super::Ready;
    use mio::net::{TcpListener, TcpStream};
    use mio::{Events, Interest, Poll, Token};
    use std::io::Write;
    use std::time::Duration;

    /// Every flag from its own test: what `from_event`'s fast path must agree with.
    fn each_flag(event: &mio::event::Event) -> Ready {
        let flags = [
            (event.is_readable(), Ready::READABLE),
            (event.is_writable(), Ready::WRITABLE),
            (event.is_read_closed(), Ready::READ_CLOSED),
            (event.is_write_closed(), Ready::WRITE_CLOSED),
            (event.is_error(), Ready::ERROR),
            (event.is_priority(), Ready::PRIORITY),
        ];
        flags
            .into_iter()
            .filter(|(set, _)| *set)
            .fold(Ready::from_bits(0), |r, (_, f)| r | f)
    }

    /// Polls until an event for the server's socket arrives, and checks its decoding.
    fn next_event_decodes_as_each_flag(poll: &mut Poll, events: &mut Events) -> Ready {
        for _ in 0..100 {
            poll.poll(events, Some(Duration::from_millis(50))).unwrap();
            if let Some(e) = events.iter().find(|e| e.token() == Token(1)) {
                let decoded = Ready::from_event(e);
                assert_eq!(decoded, each_flag(e), "decoded {decoded:?} from {e:?}");
                return decoded;
            }
        }
        panic!("no event for the socket in 5 s");
    }

    #[test]
    fn events_decode_as_their_flags_plain_closed_and_reset() {
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(16);
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let mut server = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        let both = Interest::READABLE | Interest::WRITABLE;
        poll.registry()
            .register(&mut server, Token(1), both)
            .unwrap();
        // Writable at once: the fast path, with no read flag.
        let first = next_event_decodes_as_each_flag(&mut poll, &mut events);
        assert!(first.is_writable());
        // Data: readable and writable, still the fast path.
        client.write_all(b"ping").unwrap();
        let data = next_event_decodes_as_each_flag(&mut poll, &mut events);
        assert!(data.is_readable() && !data.is_read_closed());
        // The peer half-closes: the slow path, read-closed.
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let closed = next_event_decodes_as_each_flag(&mut poll, &mut events);
        assert!(closed.is_read_closed());
        // The peer resets: error or hang-up flags, the slow path.
        let std_client = std::net::TcpStream::from(client);
        socket_linger_zero(&std_client);
        drop(std_client);
        let reset = next_event_decodes_as_each_flag(&mut poll, &mut events);
        assert!(reset.is_read_closed() || reset.is_error(), "{reset:?}");
        poll.registry().deregister(&mut server).unwrap();
    }

    /// `SO_LINGER` with a zero timeout: closing the socket sends a reset.
    fn socket_linger_zero(s: &std::net::TcpStream) {
        use std::os::fd::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: `linger` is a valid `struct linger` for the duration of the call, and its size
        // is passed; an invalid descriptor is reported as an error, not undefined behaviour.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
    }
}
