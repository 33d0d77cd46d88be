//! Watchers: readiness of UDP sockets, TCP listeners and raw descriptors, interest changes,
//! removal from inside a callback, and stale events after a slot is reused.

mod util;

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use evloop::{EventLoop, Interest, RawFdSource, Ready, WatcherId};
use util::{bump, counter, drain_udp, log, udp_bound, udp_sender, watchdog};

#[test]
fn udp_socket_readiness() {
    let _wd = watchdog("udp_socket_readiness", 60);
    let lp = EventLoop::new().unwrap();
    let (sock, addr) = udp_bound();
    let got = counter();
    let events = log();
    let (g, e) = (got.clone(), events.clone());
    let id = lp
        .watch(sock, Interest::READABLE, move |h, sock, ev| {
            e.borrow_mut().push(ev);
            g.set(g.get() + drain_udp(sock));
            if g.get() == 3 {
                assert!(h.unwatch(ev.watcher()));
            }
        })
        .unwrap();
    assert_eq!(lp.pending_counts(), (0, 1));
    let sender = udp_sender();
    for _ in 0..3 {
        sender.send_to(b"datagram", addr).unwrap();
    }
    lp.run().unwrap(); // returns once the watcher removed itself
    assert_eq!(got.get(), 3);
    let events = events.borrow();
    assert!(!events.is_empty());
    for ev in events.iter() {
        assert_eq!(ev.watcher(), id);
        assert!(
            ev.is_readable() && ev.ready().contains(Ready::READABLE),
            "{ev:?}"
        );
        assert!(!ev.is_writable(), "only READABLE was asked for: {ev:?}");
    }
    assert_eq!(lp.pending_counts(), (0, 0));
    assert!(!lp.unwatch(id), "already gone");
}

#[test]
fn tcp_listener_readiness() {
    let _wd = watchdog("tcp_listener_readiness", 60);
    let lp = EventLoop::new().unwrap();
    let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = log();
    let a = accepted.clone();
    lp.watch(listener, Interest::READABLE, move |h, l, ev| {
        assert!(ev.is_readable());
        loop {
            match l.accept() {
                Ok((stream, peer)) => a.borrow_mut().push((stream, peer)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("accept: {e}"),
            }
        }
        if a.borrow().len() == 2 {
            h.unwatch(ev.watcher());
        }
    })
    .unwrap();
    let c1 = std::net::TcpStream::connect(addr).unwrap();
    let c2 = std::net::TcpStream::connect(addr).unwrap();
    lp.run().unwrap();
    let mut peers: Vec<_> = accepted.borrow().iter().map(|(_, p)| *p).collect();
    peers.sort();
    let mut expected = vec![c1.local_addr().unwrap(), c2.local_addr().unwrap()];
    expected.sort();
    assert_eq!(peers, expected);
}

/// A non-blocking pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: pipe2 succeeded, so both are open descriptors that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

#[test]
fn raw_fd_source_on_a_pipe() {
    let _wd = watchdog("raw_fd_source_on_a_pipe", 60);
    let lp = EventLoop::new().unwrap();
    let (reader, writer) = pipe();
    let mut reader = std::fs::File::from(reader);
    let mut writer = std::fs::File::from(writer);
    let data = log();
    let d = data.clone();
    let fd = reader.as_raw_fd();
    lp.watch(RawFdSource(fd), Interest::READABLE, move |h, src, ev| {
        assert_eq!(src.0, reader.as_raw_fd());
        let mut buf = [0u8; 64];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => {
                    // End of file: the writer is gone. Unwatch; the reader (owned by this closure)
                    // is closed only after the descriptor was deregistered.
                    assert!(ev.ready().is_readable());
                    h.unwatch(ev.watcher());
                    return;
                }
                Ok(n) => d.borrow_mut().extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => panic!("read: {e}"),
            }
        }
    })
    .unwrap();
    writer.write_all(b"hello ").unwrap();
    lp.run_once().unwrap();
    assert_eq!(&*data.borrow(), b"hello ");
    writer.write_all(b"world").unwrap();
    drop(writer);
    lp.run().unwrap();
    assert_eq!(&*data.borrow(), b"hello world");
    assert_eq!(lp.pending_counts(), (0, 0));
}

#[test]
fn raw_fd_source_on_a_unix_stream_pair() {
    let _wd = watchdog("raw_fd_source_on_a_unix_stream_pair", 60);
    let lp = EventLoop::new().unwrap();
    let (reader, mut writer) = UnixStream::pair().unwrap();
    reader.set_nonblocking(true).unwrap();
    let got = log();
    let g = got.clone();
    let id = lp
        .watch(
            RawFdSource(reader.as_raw_fd()),
            Interest::READABLE,
            move |_, _, _| {
                let mut buf = [0u8; 16];
                while let Ok(n) = (&reader).read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    g.borrow_mut().extend_from_slice(&buf[..n]);
                }
            },
        )
        .unwrap();
    for chunk in [&b"ab"[..], b"cd", b"ef"] {
        writer.write_all(chunk).unwrap();
        lp.run_once().unwrap();
    }
    assert_eq!(&*got.borrow(), b"abcdef");
    assert!(lp.unwatch(id));
}

#[test]
fn set_interest_switches_from_writable_to_readable() {
    let _wd = watchdog("set_interest_switches_from_writable_to_readable", 60);
    let lp = EventLoop::new().unwrap();
    let (ours, theirs) = mio::net::UnixStream::pair().unwrap();
    let theirs = Rc::new(RefCell::new(theirs));
    let events: Rc<RefCell<Vec<Ready>>> = Rc::new(RefCell::new(Vec::new()));
    let read = log();
    let (e, r, t) = (events.clone(), read.clone(), theirs.clone());
    let id = lp
        .watch(ours, Interest::WRITABLE, move |h, sock, ev| {
            e.borrow_mut().push(ev.ready());
            if e.borrow().len() == 1 {
                // Inside the own callback: applied when it returns.
                h.set_interest(ev.watcher(), Interest::READABLE).unwrap();
                let t = t.clone();
                h.call_soon(move |_| t.borrow_mut().write_all(b"x").unwrap());
                return;
            }
            let mut buf = [0u8; 8];
            while let Ok(n) = sock.read(&mut buf) {
                r.borrow_mut().extend_from_slice(&buf[..n]);
                if n == 0 {
                    break;
                }
            }
            h.unwatch(ev.watcher());
        })
        .unwrap();
    lp.run().unwrap();
    let events = events.borrow();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events[0].is_writable() && !events[0].contains(Ready::READABLE),
        "{:?}",
        events[0]
    );
    assert!(
        events[1].contains(Ready::READABLE) && !events[1].is_writable(),
        "{:?}",
        events[1]
    );
    assert_eq!(&*read.borrow(), b"x");
    assert!(lp.set_interest(id, Interest::READABLE).is_err(), "gone");
    assert_eq!(
        lp.set_interest(id, Interest::READABLE).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
}

#[test]
fn set_interest_from_outside_a_callback_applies_at_once() {
    let _wd = watchdog("set_interest_from_outside_a_callback_applies_at_once", 60);
    let lp = EventLoop::new().unwrap();
    let (ours, _theirs) = mio::net::UnixStream::pair().unwrap();
    let events: Rc<RefCell<Vec<Ready>>> = Rc::new(RefCell::new(Vec::new()));
    let e = events.clone();
    // Readable only, nothing to read: no event.
    let id = lp
        .watch(ours, Interest::READABLE, move |_, _, ev| {
            e.borrow_mut().push(ev.ready())
        })
        .unwrap();
    lp.run_nowait().unwrap();
    assert!(events.borrow().is_empty());
    lp.set_interest(id, Interest::WRITABLE).unwrap();
    lp.run_once().unwrap(); // the socket is writable: returns with the event
    assert_eq!(events.borrow().len(), 1);
    assert!(events.borrow()[0].is_writable());
    assert!(lp.unwatch(id));
}

#[test]
fn unwatch_from_inside_its_own_callback() {
    let _wd = watchdog("unwatch_from_inside_its_own_callback", 60);
    struct DropFlag(Rc<Cell<bool>>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let lp = EventLoop::new().unwrap();
    let (sock, addr) = udp_bound();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let calls = counter();
    let results = log();
    let (c, r, d) = (calls.clone(), results.clone(), dropped.clone());
    lp.watch(sock, Interest::READABLE, move |h, sock, ev| {
        let _keep = &flag;
        bump(&c);
        drain_udp(sock);
        r.borrow_mut().push(h.unwatch(ev.watcher()));
        r.borrow_mut().push(h.unwatch(ev.watcher()));
        // Removal is deferred until the callback returns: its state is still here.
        r.borrow_mut().push(!d.get());
        assert!(h.set_interest(ev.watcher(), Interest::WRITABLE).is_err());
    })
    .unwrap();
    let sender = udp_sender();
    sender.send_to(b"1", addr).unwrap();
    lp.run().unwrap(); // returns: the only watcher removed itself
    assert_eq!(calls.get(), 1);
    assert_eq!(*results.borrow(), vec![true, false, true]);
    assert!(dropped.get(), "the watcher's callback was dropped");
    assert_eq!(lp.pending_counts(), (0, 0));
    // The socket is closed; sending more reaches no one.
    let _ = sender.send_to(b"2", addr);
    lp.run_nowait().unwrap();
    assert_eq!(calls.get(), 1);
}

#[derive(Default)]
struct Stale {
    originals: [Option<WatcherId>; 2],
    original_calls: [usize; 2],
    replacement: Option<WatcherId>,
    replacement_socket: Option<mio::net::UdpSocket>,
    removed: Option<WatcherId>,
    replacement_calls: usize,
}

fn key_of(id: WatcherId) -> String {
    // `WatcherId`'s fields are private; its derived Debug shows them.
    let s = format!("{id:?}");
    let start = s.find("key: ").expect("Debug shows the key") + 5;
    s[start..]
        .split([',', ' ', '}'])
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_stale_event_never_reaches_a_removed_watcher_or_the_one_reusing_its_slot() {
    let _wd = watchdog("stale_event", 60);
    let lp = EventLoop::new().unwrap();
    let st = Rc::new(RefCell::new(Stale::default()));
    let (third, third_addr) = udp_bound();
    st.borrow_mut().replacement_socket = Some(third);

    let mut addrs = Vec::new();
    for i in 0..2 {
        let (sock, addr) = udp_bound();
        addrs.push(addr);
        let st2 = st.clone();
        let id = lp
            .watch(sock, Interest::READABLE, move |h, sock, _| {
                drain_udp(sock);
                let mut s = st2.borrow_mut();
                s.original_calls[i] += 1;
                if s.replacement.is_some() {
                    return;
                }
                // Whichever runs first removes the other, whose event is already queued...
                let other = s.originals[1 - i].unwrap();
                assert!(h.unwatch(other));
                s.removed = Some(other);
                // ...and at once registers a new watcher, which takes the freed slot.
                let sock3 = s.replacement_socket.take().unwrap();
                let st3 = st2.clone();
                drop(s);
                let new = h
                    .watch(sock3, Interest::READABLE, move |_, sock, _| {
                        drain_udp(sock);
                        st3.borrow_mut().replacement_calls += 1;
                    })
                    .unwrap();
                st2.borrow_mut().replacement = Some(new);
            })
            .unwrap();
        st.borrow_mut().originals[i] = Some(id);
    }
    // Both sockets readable before the loop polls: both events come in one batch.
    let sender = udp_sender();
    for addr in &addrs {
        sender.send_to(b"both", *addr).unwrap();
    }
    lp.run_once().unwrap();
    // Drain anything left, without blocking.
    for _ in 0..4 {
        lp.run_nowait().unwrap();
    }
    {
        let s = st.borrow();
        assert_eq!(
            s.original_calls.iter().sum::<usize>(),
            1,
            "{:?}",
            s.original_calls
        );
        let removed = s.removed.unwrap();
        let replacement = s.replacement.unwrap();
        let removed_index = s
            .originals
            .iter()
            .position(|o| *o == Some(removed))
            .unwrap();
        assert_eq!(
            s.original_calls[removed_index], 0,
            "the removed watcher ran"
        );
        assert_eq!(
            s.replacement_calls, 0,
            "the new watcher got the stale event"
        );
        assert_ne!(replacement, removed);
        assert_eq!(
            key_of(replacement),
            key_of(removed),
            "premise: the new watcher reuses the slot"
        );
        assert!(!lp.unwatch(removed), "the removed id stays stale");
    }
    // The new watcher works.
    sender.send_to(b"new", third_addr).unwrap();
    lp.run_once().unwrap();
    assert_eq!(st.borrow().replacement_calls, 1);
    assert_eq!(lp.pending_counts(), (0, 2));
}
