//! `evloop::test`: a clean run returns its output; each kind of leftover fails it, by name.

use std::panic;
use std::time::Duration;

use evloop::net::TcpListener;
use evloop::test::{try_run, Builder, Leftovers};
use evloop::Handle;

fn dirty<T>(r: Result<T, Leftovers>) -> Leftovers {
    match r {
        Ok(_) => panic!("the run was clean"),
        Err(l) => l,
    }
}

#[test]
fn a_clean_run_returns_its_output() {
    let out = evloop::test::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = evloop::spawn(async move { listener.accept().await.map(|_| ()) });
        let _c = evloop::net::TcpStream::connect(addr).await.unwrap();
        accept.await.unwrap().unwrap();
        evloop::time::sleep(Duration::from_secs(5)).await;
        42
    });
    assert_eq!(out, 42);
}

#[test]
fn a_task_left_running_is_reported() {
    let l = dirty(try_run(async {
        evloop::spawn(std::future::pending::<()>());
    }));
    assert_eq!(l.tasks(), 1);
    assert_eq!(l.to_string(), "the test left 1 task behind");
}

#[test]
fn timers_of_every_kind_are_reported_with_the_earliest_deadline() {
    let l = dirty(try_run(async {
        let h = Handle::current();
        h.call_later(Duration::from_secs(90), |_| {});
        h.call_every(Duration::from_secs(10), |_| {});
        // A sleep is armed once polled: poll it in a task that is then left waiting.
        evloop::spawn(evloop::time::sleep(Duration::from_secs(1)));
        evloop::task::yield_now().await;
    }));
    assert_eq!((l.timers(), l.tasks()), (3, 1));
    let text = l.to_string();
    assert!(
        text.contains("1 sleep")
            && text.contains("1 callback timer")
            && text.contains("1 periodic timer"),
        "{text}"
    );
    assert!(
        text.ends_with("(the earliest timer is due in 1s)"),
        "{text}"
    );
}

#[test]
fn a_socket_returned_from_the_test_is_reported() {
    let l = dirty(try_run(async { TcpListener::bind("127.0.0.1:0").unwrap() }));
    assert_eq!(l.resources(), 1);
    assert!(l.to_string().contains("1 I/O resource"));
}

#[test]
fn watchers_queued_callbacks_guards_and_blocking_jobs_are_reported() {
    let l = dirty(try_run(async {
        let h = Handle::current();
        let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(w);
        h.watch(
            evloop::RawFdSource(std::os::fd::AsRawFd::as_raw_fd(&r)),
            evloop::Interest::READABLE,
            |_, _, _| {},
        )
        .unwrap();
        h.call_soon(|_| {});
        let guard = h.keep_alive();
        let job = evloop::spawn_blocking(|| std::thread::sleep(Duration::from_millis(200)));
        (guard, job, r)
    }));
    assert_eq!(
        (
            l.watchers(),
            l.queued(),
            l.keep_alive_guards(),
            l.blocking_jobs()
        ),
        (1, 1, 1, 1)
    );
}

#[test]
fn run_panics_with_the_list() {
    let err = panic::catch_unwind(|| {
        evloop::test::run(async {
            evloop::spawn(std::future::pending::<()>());
        })
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert_eq!(msg, "evloop::test::run: the test left 1 task behind");
}

#[test]
fn a_builder_can_run_in_real_time() {
    Builder::new().start_paused(false).run(async {
        assert!(!evloop::time::is_paused());
        let t = std::time::Instant::now();
        evloop::time::sleep(Duration::from_millis(2)).await;
        assert!(t.elapsed() >= Duration::from_millis(2));
    });
}
