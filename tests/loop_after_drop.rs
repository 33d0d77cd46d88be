//! A `Handle` that outlives its loop: new work is refused and dropped at once, never queued where
//! it would keep the loop's state alive.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use evloop::{EventLoop, Interest};
use util::DropGuard as Tracker;

#[test]
fn work_given_to_a_dropped_loop_is_dropped_at_once() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle().clone();
    drop(lp);
    let drops = Rc::new(Cell::new(0));

    let t = Tracker(drops.clone());
    let h = handle.clone();
    let id = handle.call_soon(move |_| drop((t, h)));
    assert_eq!(drops.get(), 1, "call_soon dropped its callback");
    assert!(!handle.cancel_callback(id));

    let t = Tracker(drops.clone());
    let timer = handle.call_later(Duration::from_millis(1), move |_| drop(t));
    assert_eq!(drops.get(), 2, "call_later dropped its callback");
    assert!(!handle.timer_is_live(timer));

    let t = Tracker(drops.clone());
    let task = handle.spawn(async move { drop(t) });
    assert_eq!(drops.get(), 3, "spawn dropped its future");
    assert!(task.is_finished());

    let socket = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let t = Tracker(drops.clone());
    let watched = handle.watch(socket, Interest::READABLE, move |_, _, _| {
        let _ = &t;
    });
    assert!(watched.is_err(), "watch refused");
    assert_eq!(drops.get(), 4, "watch dropped its callback");
    // Only the handles themselves keep the core now.
    assert_eq!(Rc::strong_count(&drops), 1);
}
