//! Races of the runtime that need a pause injected to show up.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::EventLoop;

thread_local! {
    static ALIVE_PAUSE: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// Widens the window between `is_alive`'s reads of the pool and of the inbox.
pub(super) fn pause_between_alive_reads() {
    if let Some(d) = ALIVE_PAUSE.with(Cell::get) {
        std::thread::sleep(d);
    }
}

/// A job that finishes between `is_alive`'s two reads must not let `run` return while its wake-up
/// sits in the inbox. The reads were once the other way round (inbox first): with this pause, about
/// half of these runs then returned early.
#[test]
fn run_does_not_return_while_a_finished_jobs_wake_is_in_the_inbox() {
    ALIVE_PAUSE.with(|p| p.set(Some(Duration::from_micros(200))));
    for i in 0..200 {
        let lp = EventLoop::new().unwrap();
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        lp.spawn(async move {
            crate::spawn_blocking(|| ()).await.unwrap();
            d.set(true);
        });
        lp.run().unwrap();
        assert!(done.get(), "run {i} returned before the job's task ran");
    }
    ALIVE_PAUSE.with(|p| p.set(None));
}

/// Through the public API: the handle yields `ThreadSpawn` with the OS error, not a panic.
#[test]
fn a_failed_thread_start_is_not_reported_as_a_panic() {
    let lp = crate::EventLoop::new().unwrap();
    crate::driver::pool::tests::FAIL_SPAWN.with(|f| f.set(true));
    let job = lp.spawn_blocking(|| 1);
    crate::driver::pool::tests::FAIL_SPAWN.with(|f| f.set(false));
    let err = lp.block_on(job).expect_err("no thread could run it");
    assert!(!err.is_panic(), "{err:?}");
    assert!(
        matches!(&err, crate::JoinError::ThreadSpawn(e) if e.to_string().contains("injected")),
        "{err:?}"
    );
    assert!(!lp.is_alive(), "nothing is left in flight");
}

/// A sleeping task pays for one timer slot and one heap entry: keep the slot of the loop's own
/// callback types from growing unnoticed.
#[test]
fn a_timer_slot_of_the_loops_callbacks_stays_48_bytes() {
    assert_eq!(
        crate::driver::timers::slot_size::<super::core::Callback, super::core::EveryFn>(),
        48
    );
}
