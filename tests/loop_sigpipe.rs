//! Writing to a socket whose peer closed is an error, not a fatal `SIGPIPE`, even with the signal's
//! default disposition restored. Alone in its file: it changes a process-wide setting.

mod util;

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::Duration;

use evloop::{EventLoop, Interest};
use util::watchdog;

#[test]
fn writing_to_a_closed_peer_from_a_watcher_is_an_error_not_a_signal() {
    let _wd = watchdog("writing_to_a_closed_peer", 60);
    // Rust programs start with SIGPIPE ignored; restore the default (terminate the process), as a
    // program embedding the loop in a C host might have it.
    // SAFETY: installing SIG_DFL for SIGPIPE has no memory-safety preconditions; this test is the
    // only one in its process, so nothing else depends on the previous disposition.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stream = mio::net::TcpStream::connect(addr).unwrap();
    let (peer, _) = listener.accept().unwrap();
    drop(peer); // the peer is gone: our first write provokes a reset, later ones fail

    let lp = EventLoop::new().unwrap();
    let errors: Rc<RefCell<Vec<io::Error>>> = Rc::new(RefCell::new(Vec::new()));
    let written = Rc::new(RefCell::new(0usize));
    let (e, w) = (errors.clone(), written.clone());
    lp.watch(stream, Interest::WRITABLE, move |h, s, ev| {
        // Bounded: write until two errors were seen (a reset, then a broken pipe), giving the reset
        // a moment to arrive between attempts.
        for _ in 0..200 {
            match s.write(b"data") {
                Ok(n) => *w.borrow_mut() += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) => {
                    let broken = err.kind() == io::ErrorKind::BrokenPipe;
                    e.borrow_mut().push(err);
                    if broken || e.borrow().len() >= 2 {
                        break;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        h.unwatch(ev.watcher());
    })
    .unwrap();
    lp.run().unwrap();

    // Still alive to check.
    let errors = errors.borrow();
    assert!(
        !errors.is_empty(),
        "no error after writing {} bytes",
        written.borrow()
    );
    for err in errors.iter() {
        assert!(
            matches!(
                err.raw_os_error(),
                Some(libc::EPIPE) | Some(libc::ECONNRESET)
            ),
            "unexpected error: {err}"
        );
    }
    assert!(
        errors.iter().any(|e| e.raw_os_error() == Some(libc::EPIPE)),
        "EPIPE (the error that comes with SIGPIPE) was not reached: {errors:?}"
    );
}
