//! Waking tasks: from another thread (many times), many times before a poll (coalescing), after the
//! task finished or the loop is gone (harmless), and fairness: a task whose socket is always ready
//! must not keep timers, I/O or other tasks from running, and `yield_now` interleaves tasks.

mod util;

use std::cell::{Cell, RefCell};
use std::future::{pending, poll_fn};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use std::time::Duration;

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpStream, UnixStream};
use evloop::time::{sleep, timeout};
use evloop::{yield_now, EventLoop};
use util::{bump, counter, watchdog, yield_until, Counter};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A task that counts its polls, keeps its latest waker in `slot`, and finishes once `done` is set.
fn parked_task(
    polls: &Counter,
    slot: &Rc<RefCell<Option<Waker>>>,
    done: &Rc<Cell<bool>>,
) -> impl std::future::Future<Output = ()> + 'static {
    let (polls, slot, done) = (polls.clone(), slot.clone(), done.clone());
    poll_fn(move |cx| {
        bump(&polls);
        if done.get() {
            return Poll::Ready(());
        }
        *slot.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
}

// ---------------------------------------------------------------------------------------------
// Cross-thread wakes
// ---------------------------------------------------------------------------------------------

const WAKES: usize = 100_000;

#[test]
fn a_waker_sent_to_another_thread_and_woken_100_000_times() {
    let _wd = watchdog(
        "a_waker_sent_to_another_thread_and_woken_100_000_times",
        120,
    );
    let lp = EventLoop::new().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<Waker>();
    let c = count.clone();
    let thread = std::thread::spawn(move || {
        let w = rx.recv().unwrap();
        for _ in 0..WAKES {
            c.fetch_add(1, Ordering::SeqCst);
            w.wake_by_ref();
        }
        w.wake();
    });
    let polls = counter();
    let p = polls.clone();
    let mut tx = Some(tx);
    let task = lp.spawn(poll_fn(move |cx| {
        bump(&p);
        if let Some(tx) = tx.take() {
            tx.send(cx.waker().clone()).unwrap();
        }
        // The thread bumps the counter before each wake, so the wake after the last bump finds it
        // complete.
        if count.load(Ordering::SeqCst) == WAKES {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }));
    lp.block_on(task).unwrap();
    thread.join().unwrap();
    let polls = polls.get();
    assert!(
        (2..=WAKES + 1).contains(&polls),
        "polled {polls} times for {WAKES} wakes"
    );
    assert_eq!(lp.task_count(), 0);
    eprintln!("{WAKES} cross-thread wakes caused {polls} polls");
}

#[test]
fn the_block_on_future_woken_from_four_threads() {
    let _wd = watchdog("the_block_on_future_woken_from_four_threads", 120);
    let lp = EventLoop::new().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<Waker>();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = count.clone();
            let (txw, rxw) = mpsc::channel::<Waker>();
            let t = std::thread::spawn(move || {
                let w = rxw.recv().unwrap();
                for _ in 0..WAKES / 4 {
                    c.fetch_add(1, Ordering::SeqCst);
                    w.wake_by_ref();
                }
            });
            (t, txw)
        })
        .collect();
    // Fan the waker out to the threads from a helper thread.
    let senders: Vec<_> = threads.iter().map(|(_, s)| s.clone()).collect();
    let fan = std::thread::spawn(move || {
        let w: Waker = rx.recv().unwrap();
        for s in senders {
            s.send(w.clone()).unwrap();
        }
    });
    let mut tx = Some(tx);
    let mut polls = 0usize;
    lp.block_on(poll_fn(|cx| {
        polls += 1;
        if let Some(tx) = tx.take() {
            tx.send(cx.waker().clone()).unwrap();
        }
        if count.load(Ordering::SeqCst) == WAKES {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }));
    fan.join().unwrap();
    for (t, _) in threads {
        t.join().unwrap();
    }
    assert!((2..=WAKES + 1).contains(&polls), "polled {polls} times");
}

// ---------------------------------------------------------------------------------------------
// Coalescing
// ---------------------------------------------------------------------------------------------

#[test]
fn waking_many_times_before_the_task_runs_polls_it_once() {
    let _wd = watchdog("waking_many_times_before_the_task_runs_polls_it_once", 60);
    let lp = EventLoop::new().unwrap();
    let (polls, slot, done) = (
        counter(),
        Rc::new(RefCell::new(None)),
        Rc::new(Cell::new(false)),
    );
    let task = lp.spawn(parked_task(&polls, &slot, &done));
    lp.block_on(async { yield_until(1000, || polls.get() == 1).await });
    let run_turns = |n: usize| {
        lp.block_on(async {
            for _ in 0..n {
                yield_now().await;
            }
        })
    };
    run_turns(50);
    assert_eq!(polls.get(), 1, "nothing woke the task");

    // 1. From the loop thread while the loop is not running.
    let w = slot.borrow_mut().take().unwrap();
    for _ in 0..1000 {
        w.wake_by_ref();
    }
    let w2 = w.clone();
    w2.wake();
    run_turns(50);
    assert_eq!(polls.get(), 2, "1001 wakes before the task ran: one poll");

    // 2. From another task while the loop runs.
    let w = slot.borrow_mut().take().unwrap();
    let waker_task = lp.spawn(async move {
        for _ in 0..1000 {
            w.wake_by_ref();
        }
        // And again after the task was queued but before it ran (it is behind us in the queue).
        yield_now().await;
    });
    lp.block_on(waker_task).unwrap();
    run_turns(50);
    assert_eq!(polls.get(), 3, "1000 wakes from another task: one poll");

    // 3. From another thread, all before the loop takes its inbox.
    let w = slot.borrow_mut().take().unwrap();
    std::thread::spawn(move || {
        for _ in 0..1000 {
            w.wake_by_ref();
        }
    })
    .join()
    .unwrap();
    run_turns(50);
    assert_eq!(polls.get(), 4, "1000 wakes from another thread: one poll");

    // Clones of one task's waker are interchangeable.
    let w = slot.borrow().clone().unwrap();
    assert!(w.will_wake(&w.clone()));

    done.set(true);
    slot.borrow_mut().take().unwrap().wake();
    lp.block_on(task).unwrap();
    assert_eq!(polls.get(), 5);
}

// ---------------------------------------------------------------------------------------------
// Stale wakers
// ---------------------------------------------------------------------------------------------

#[test]
fn waking_a_finished_task_is_harmless() {
    let _wd = watchdog("waking_a_finished_task_is_harmless", 60);
    let lp = EventLoop::new().unwrap();
    let stale: Rc<RefCell<Option<Waker>>> = Rc::new(RefCell::new(None));
    let s = stale.clone();
    let a = lp.spawn(poll_fn(move |cx| {
        *s.borrow_mut() = Some(cx.waker().clone());
        Poll::Ready(7)
    }));
    assert_eq!(lp.block_on(a).unwrap(), 7);
    let stale = stale.borrow_mut().take().unwrap();
    assert_eq!(lp.task_count(), 0);

    // A new task takes the freed slot; the old waker must not reach it.
    let (polls, slot, done) = (
        counter(),
        Rc::new(RefCell::new(None)),
        Rc::new(Cell::new(false)),
    );
    let b = lp.spawn(parked_task(&polls, &slot, &done));
    lp.block_on(async { yield_until(1000, || polls.get() == 1).await });
    assert!(!stale.will_wake(slot.borrow().as_ref().unwrap()));
    for _ in 0..100 {
        stale.wake_by_ref();
    }
    let s2 = stale.clone();
    std::thread::spawn(move || {
        for _ in 0..100 {
            s2.wake_by_ref();
        }
    })
    .join()
    .unwrap();
    lp.block_on(async {
        for _ in 0..50 {
            yield_now().await;
        }
    });
    assert_eq!(
        polls.get(),
        1,
        "a stale waker woke the task now in its slot"
    );
    done.set(true);
    slot.borrow_mut().take().unwrap().wake();
    lp.block_on(b).unwrap();
    stale.wake();
}

#[test]
fn waking_after_the_loop_is_dropped_is_harmless() {
    let _wd = watchdog("waking_after_the_loop_is_dropped_is_harmless", 60);
    let lp = EventLoop::new().unwrap();
    // Loop indices are reused process-wide, and a stale waker may give a task of a later loop at the
    // same index a spurious (allowed) wake-up. Give the stale task a slot key and generation no
    // other test in this file reaches, so it cannot disturb their exact poll counts.
    let fillers: Vec<_> = (0..64).map(|_| lp.spawn(pending::<()>())).collect();
    let (polls, slot, done) = (
        counter(),
        Rc::new(RefCell::new(None)),
        Rc::new(Cell::new(false)),
    );
    let _task = lp.spawn(parked_task(&polls, &slot, &done));
    lp.block_on(async { yield_until(1000, || polls.get() == 1).await });
    let w = slot.borrow_mut().take().unwrap();
    drop(fillers);
    drop(lp);
    drop(slot);
    // Same thread, and another thread, after the loop is gone.
    w.wake_by_ref();
    let w2 = w.clone();
    std::thread::spawn(move || {
        for _ in 0..1000 {
            w2.wake_by_ref();
        }
        w2.wake();
    })
    .join()
    .unwrap();
    w.wake();
    assert_eq!(polls.get(), 1);

    // A loop created afterwards works normally.
    let lp = EventLoop::new().unwrap();
    assert_eq!(lp.block_on(lp.spawn(async { 1 })).unwrap(), 1);
}

// ---------------------------------------------------------------------------------------------
// Fairness
// ---------------------------------------------------------------------------------------------

/// Flags set by the work that must get a chance to run beside a busy task.
#[derive(Default)]
struct Others {
    zero_timer: Cell<bool>,
    zero_sleep: Cell<bool>,
    real_timer: Cell<bool>,
    yielder: Cell<bool>,
    io_reader: Cell<bool>,
}

impl Others {
    fn all(&self) -> bool {
        self.zero_timer.get()
            && self.zero_sleep.get()
            && self.real_timer.get()
            && self.yielder.get()
            && self.io_reader.get()
    }
}

/// Starts the work that must not be starved: a zero-delay callback timer, a zero-length sleep, a
/// 2 ms callback timer, a yielding task, and a task that reads a socket only after it waited for
/// readiness (so it needs the loop to poll I/O).
fn start_others(lp: &EventLoop) -> Rc<Others> {
    let others = Rc::new(Others::default());
    let o = others.clone();
    lp.call_later(Duration::ZERO, move |_| o.zero_timer.set(true));
    let o = others.clone();
    lp.call_later(Duration::from_millis(2), move |_| o.real_timer.set(true));
    let o = others.clone();
    drop(lp.spawn(async move {
        sleep(Duration::ZERO).await;
        o.zero_sleep.set(true);
    }));
    let o = others.clone();
    drop(lp.spawn(async move {
        for _ in 0..3 {
            yield_now().await;
        }
        o.yielder.set(true);
    }));
    let (mut r, mut w) = UnixStream::pair().unwrap();
    let parked = Rc::new(Cell::new(false));
    let (o, p) = (others.clone(), parked.clone());
    drop(lp.spawn(async move {
        let mut buf = [0u8; 5];
        let mut filled = 0;
        // Nothing is there yet: the read sees `WouldBlock` and then needs an I/O event.
        poll_fn(|cx| loop {
            match r.poll_read(cx, &mut buf[filled..]) {
                Poll::Pending => {
                    p.set(true);
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => panic!("unexpected end of file"),
                Poll::Ready(Ok(n)) => {
                    filled += n;
                    if filled == buf.len() {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(Err(e)) => panic!("read failed: {e}"),
            }
        })
        .await;
        assert_eq!(&buf, b"hello");
        o.io_reader.set(true);
    }));
    drop(lp.spawn(async move {
        yield_until(1000, || parked.get()).await;
        yield_now().await;
        w.write_all(b"hello").await.unwrap();
        // Keep the writer open until the reader is done.
        pending::<()>().await;
    }));
    others
}

/// Reads one byte and writes one byte per iteration on a stream that always has data buffered,
/// so every operation is ready; checks the byte sequence; stops when `others` all ran.
async fn spin<S: AsyncRead + AsyncWrite>(mut rd: S, mut wr: S, others: Rc<Others>) -> u64 {
    // Few bytes in flight: on a Unix socket each 1-byte write is its own buffer that counts fully
    // against the send buffer, so many of them would fill it and block the writer.
    const IN_FLIGHT: u64 = 16;
    let prefill: Vec<u8> = (0..IN_FLIGHT).map(|i| i as u8).collect();
    wr.write_all(&prefill).await.unwrap();
    let mut i = 0u64;
    let mut b = [0u8; 1];
    while !others.all() {
        let n = rd.read(&mut b).await.unwrap();
        assert_eq!(n, 1);
        assert_eq!(b[0], i as u8, "byte {i} out of sequence");
        wr.write_all(&[(i + IN_FLIGHT) as u8]).await.unwrap();
        i += 1;
        assert!(
            i < 50_000_000,
            "the always-ready task ran {i} iterations without the others getting a turn"
        );
    }
    i
}

#[test]
fn an_always_ready_unix_stream_does_not_starve_timers_io_or_tasks() {
    let _wd = watchdog("an_always_ready_unix_stream_does_not_starve", 120);
    let lp = EventLoop::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let others = start_others(&lp);
    // The spinner reads from `a` what it wrote into `b`.
    let spinner = lp.spawn(spin(a, b, others.clone()));
    let iterations = lp.block_on(spinner).unwrap();
    assert!(others.all());
    assert!(iterations > 0);
    eprintln!("spinner ran {iterations} iterations before the others were done");
}

#[test]
fn an_always_ready_tcp_stream_does_not_starve_timers_io_or_tasks() {
    let _wd = watchdog("an_always_ready_tcp_stream_does_not_starve", 120);
    let lp = EventLoop::new().unwrap();
    let (a, b) = lp.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let c = evloop::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (s, _) = l.accept().await.unwrap();
        (s, c.await.unwrap())
    });
    a.set_nodelay(true).unwrap();
    b.set_nodelay(true).unwrap();
    let others = start_others(&lp);
    // Bytes go b -> a: the spinner reads `a` and writes `b`.
    let spinner = lp.spawn(spin(a, b, others.clone()));
    let iterations = lp.block_on(spinner).unwrap();
    assert!(others.all());
    eprintln!("tcp spinner ran {iterations} iterations before the others were done");
}

#[test]
fn a_busy_task_yields_to_a_task_spawned_after_it_within_one_budget() {
    // Structural bound: with the budget, the always-ready task is made to yield after a fixed
    // number of socket operations, so a task queued behind it runs before it completes many rounds.
    let _wd = watchdog("a_busy_task_yields_within_one_budget", 60);
    let lp = EventLoop::new().unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let ops = Rc::new(Cell::new(0u64));
    let other_ran_at = Rc::new(Cell::new(None::<u64>));
    let (o, r) = (ops.clone(), other_ran_at.clone());
    let spinner = lp.spawn(async move {
        b.write_all(&[7u8; 8]).await.unwrap();
        let mut buf = [0u8; 1];
        while r.get().is_none() {
            a.read_exact(&mut buf).await.unwrap();
            b.write_all(&buf).await.unwrap();
            o.set(o.get() + 2);
            assert!(o.get() < 100_000, "the other task never ran");
        }
    });
    let (o, r) = (ops.clone(), other_ran_at.clone());
    let other = lp.spawn(async move { r.set(Some(o.get())) });
    lp.block_on(other).unwrap();
    lp.block_on(spinner).unwrap();
    let at = other_ran_at.get().unwrap();
    assert!(
        at <= 1000,
        "the other task ran only after {at} socket operations"
    );
    eprintln!("the other task ran after {at} socket operations of the busy one");
}

#[test]
fn yield_now_lets_the_other_task_run_in_between() {
    let _wd = watchdog("yield_now_lets_the_other_task_run_in_between", 60);
    let lp = EventLoop::new().unwrap();
    let log: Rc<RefCell<Vec<(char, u32)>>> = Rc::new(RefCell::new(Vec::new()));
    let mk = |name: char| {
        let log = log.clone();
        async move {
            for i in 0..5 {
                log.borrow_mut().push((name, i));
                yield_now().await;
            }
        }
    };
    let a = lp.spawn(mk('a'));
    let b = lp.spawn(mk('b'));
    lp.block_on(async {
        a.await.unwrap();
        b.await.unwrap();
    });
    let expected: Vec<(char, u32)> = (0..5).flat_map(|i| [('a', i), ('b', i)]).collect();
    assert_eq!(*log.borrow(), expected);

    // Three tasks: strict round robin.
    log.borrow_mut().clear();
    let ts: Vec<_> = ['x', 'y', 'z']
        .into_iter()
        .map(|c| lp.spawn(mk(c)))
        .collect();
    lp.block_on(async {
        for t in ts {
            t.await.unwrap();
        }
    });
    let expected: Vec<(char, u32)> = (0..5)
        .flat_map(|i| [('x', i), ('y', i), ('z', i)])
        .collect();
    assert_eq!(*log.borrow(), expected);
}

/// Regression test: a stale wake-up of the `block_on` future used to leave the loop believing work
/// was queued, so `run` stopped polling I/O and spun.
#[test]
fn a_block_on_waker_woken_after_block_on_returned_does_not_break_run() {
    let _wd = watchdog("a_block_on_waker_woken_after_block_on_returned", 60);
    // The loop runs on its own thread so that a spin can be detected from here.
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        let (a_std, a_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let (c_std, c_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut a = UnixStream::from_std(a_std).unwrap();
        let mut c = UnixStream::from_std(c_std).unwrap();
        // A task that outlives a block_on that gave up waiting for it: its JoinHandle registered the
        // block_on waker, which the task wakes when it finishes, after block_on has returned.
        let first = lp.spawn(async move {
            let mut b = [0u8; 1];
            a.read_exact(&mut b).await.unwrap();
        });
        assert!(lp
            .block_on(timeout(Duration::from_millis(5), first))
            .is_err());
        // Work for `run`: a task that needs an I/O event that comes only later, from a timer.
        drop(lp.spawn(async move {
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await.unwrap();
            evloop::Handle::current().stop();
        }));
        let mut a_peer = a_peer;
        std::io::Write::write_all(&mut a_peer, b"1").unwrap();
        let mut c_peer = Some(c_peer);
        lp.call_later(Duration::from_millis(20), move |_| {
            std::io::Write::write_all(c_peer.as_mut().unwrap(), b"2").unwrap();
        });
        lp.run().unwrap();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(10)).expect(
        "run() never returned: after the stale block_on wake-up it stopped polling I/O (the loop \
         thread is spinning)",
    );
}
