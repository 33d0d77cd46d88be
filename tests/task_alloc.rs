//! Allocation behaviour of the executor and sockets, measured with a counting global allocator.
//!
//! Counts are per thread (the loop runs on the test's thread), so tests running in parallel and
//! the harness's own threads do not disturb them. Each test warms up first, so that the loop's
//! buffers (slab, queue, wake lists) have reached their steady-state capacity.

mod util;

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};

use evloop::io::{AsyncRead, AsyncWrite};
use evloop::net::{TcpListener, TcpStream, UnixStream};
use evloop::{yield_now, EventLoop, JoinHandle};
use util::alloc::allocs;
use util::{watchdog, Rng};

// ---------------------------------------------------------------------------------------------
// Counting allocator (shared in `util::alloc`, registered here for this test binary)
// ---------------------------------------------------------------------------------------------

#[global_allocator]
static GLOBAL: util::alloc::Counting = util::alloc::Counting;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Allocations between the iterations `WARM` and `WARM + N` of a loop, recorded from inside it.
#[derive(Default)]
struct Window {
    start: Cell<Option<u64>>,
    end: Cell<Option<u64>>,
}

impl Window {
    fn mark(&self, i: usize, warm: usize, n: usize) {
        if i == warm {
            self.start.set(Some(allocs()));
        } else if i == warm + n {
            self.end.set(Some(allocs()));
        }
    }

    fn allocations(&self) -> u64 {
        self.end.get().expect("window end") - self.start.get().expect("window start")
    }
}

const WARM: usize = 1_000;
const N: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// Waking and polling
// ---------------------------------------------------------------------------------------------

#[test]
fn two_tasks_ping_ponging_through_yield_now_allocate_nothing() {
    let _wd = watchdog("yield_now_ping_pong_allocates_nothing", 60);
    let lp = EventLoop::new().unwrap();
    let window = Rc::new(Window::default());
    let progress = Rc::new(Cell::new(0usize));
    let (w, p) = (window.clone(), progress.clone());
    let a = lp.spawn(async move {
        for i in 0..=WARM + N {
            w.mark(i, WARM, N);
            p.set(i);
            yield_now().await;
        }
    });
    let p = progress.clone();
    let b = lp.spawn(async move {
        let mut seen = 0;
        for _ in 0..=WARM + N {
            // The two tasks alternate: b always sees a's latest step.
            assert!(p.get() >= seen);
            seen = p.get();
            yield_now().await;
        }
    });
    lp.block_on(async {
        a.await.unwrap();
        b.await.unwrap();
    });
    assert_eq!(
        window.allocations(),
        0,
        "{N} rounds of two yielding tasks allocated"
    );
}

/// Two tasks that take turns: each wakes the other through its stored waker and parks.
#[test]
fn two_tasks_ping_ponging_through_wakers_allocate_nothing() {
    let _wd = watchdog("waker_ping_pong_allocates_nothing", 60);
    let lp = EventLoop::new().unwrap();
    struct Shared {
        turn: Cell<usize>,
        steps: Cell<usize>,
        wakers: [RefCell<Option<Waker>>; 2],
    }
    let shared = Rc::new(Shared {
        turn: Cell::new(0),
        steps: Cell::new(0),
        wakers: [RefCell::new(None), RefCell::new(None)],
    });
    let window = Rc::new(Window::default());
    let total = 2 * (WARM + N) + 2;
    let player = |me: usize| {
        let (s, w) = (shared.clone(), window.clone());
        poll_fn(move |cx| {
            if s.steps.get() >= total {
                // Let the other one see the end too.
                if let Some(other) = s.wakers[1 - me].borrow_mut().take() {
                    other.wake();
                }
                return Poll::Ready(());
            }
            if s.turn.get() == me {
                let step = s.steps.get();
                if me == 0 && step % 2 == 0 {
                    w.mark(step / 2, WARM, N);
                }
                s.steps.set(step + 1);
                s.turn.set(1 - me);
                if let Some(other) = s.wakers[1 - me].borrow_mut().take() {
                    other.wake();
                }
            }
            let mut mine = s.wakers[me].borrow_mut();
            match &*mine {
                Some(old) if old.will_wake(cx.waker()) => {}
                _ => *mine = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
    };
    let a = lp.spawn(player(0));
    let b = lp.spawn(player(1));
    lp.block_on(async {
        a.await.unwrap();
        b.await.unwrap();
    });
    assert!(shared.steps.get() >= total);
    assert_eq!(window.allocations(), 0, "{N} waker ping-pongs allocated");
}

#[test]
fn cross_thread_wakes_allocate_nothing_on_the_loop_thread() {
    let _wd = watchdog("cross_thread_wakes_allocate_nothing", 120);
    let lp = EventLoop::new().unwrap();
    // Lock step: the thread bumps `sent` and wakes; the task acknowledges with `seen`.
    let sent = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<Waker>();
    let (s, a) = (sent.clone(), seen.clone());
    let thread = std::thread::spawn(move || {
        let w = rx.recv().unwrap();
        for i in 1..=WARM + N {
            while a.load(Ordering::Acquire) != i - 1 {
                std::thread::yield_now();
            }
            s.store(i, Ordering::Release);
            w.wake_by_ref();
        }
    });
    let window = Rc::new(Window::default());
    let w = window.clone();
    let mut tx = Some(tx);
    let task = lp.spawn(poll_fn(move |cx| {
        if let Some(tx) = tx.take() {
            tx.send(cx.waker().clone()).unwrap();
        }
        let now = sent.load(Ordering::Acquire);
        if now > seen.load(Ordering::Relaxed) {
            w.mark(now, WARM, N);
            seen.store(now, Ordering::Release);
        }
        if now == WARM + N {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }));
    lp.block_on(task).unwrap();
    thread.join().unwrap();
    assert_eq!(
        window.allocations(),
        0,
        "{N} cross-thread wake-ups allocated on the loop thread"
    );
}

// ---------------------------------------------------------------------------------------------
// Spawning
// ---------------------------------------------------------------------------------------------

#[test]
fn spawn_allocates_exactly_once_per_task() {
    let _wd = watchdog("spawn_allocates_exactly_once_per_task", 60);
    const TASKS: usize = 1_000;
    let lp = EventLoop::new().unwrap();
    let mut handles: Vec<JoinHandle<u64>> = Vec::with_capacity(TASKS);
    let mut results: Vec<u64> = Vec::with_capacity(TASKS);
    let run_all = |handles: &mut Vec<JoinHandle<u64>>, results: &mut Vec<u64>| {
        lp.block_on(async {
            for h in handles.drain(..) {
                results.push(h.await.unwrap());
            }
        });
    };

    // Warm-up: the task slab and the queue grow to hold TASKS tasks at once.
    for round in 0..3u64 {
        for i in 0..TASKS as u64 {
            handles.push(lp.spawn(async move { i * 2 + round }));
        }
        run_all(&mut handles, &mut results);
        assert_eq!(results.len(), TASKS);
        results.clear();
    }

    let before = allocs();
    for i in 0..TASKS as u64 {
        handles.push(lp.spawn(async move { i * 3 }));
    }
    let spawned = allocs() - before;
    assert_eq!(spawned, TASKS as u64, "allocations for {TASKS} spawns");

    let before = allocs();
    run_all(&mut handles, &mut results);
    let ran = allocs() - before;
    assert_eq!(
        ran, 0,
        "running and joining {TASKS} spawned tasks allocated"
    );
    assert_eq!(
        results,
        (0..TASKS as u64).map(|i| i * 3).collect::<Vec<_>>()
    );
    assert_eq!(lp.task_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Sockets
// ---------------------------------------------------------------------------------------------

const MSG: usize = 256;

/// Echoes until end of file, through a fixed buffer.
async fn echo<S: AsyncRead + AsyncWrite>(mut s: S) {
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            return;
        }
        s.write_all(&buf[..n]).await.unwrap();
    }
}

/// Sends `WARM + N` messages of `MSG` pseudo-random bytes and checks each echo; records the
/// allocations of the measured window.
async fn ping<S: AsyncRead + AsyncWrite>(mut s: S, window: Rc<Window>) {
    let mut rng = Rng::from_state(0x9E37_79B9_7F4A_7C15);
    let mut out = [0u8; MSG];
    let mut back = [0u8; MSG];
    for i in 0..=WARM + N {
        window.mark(i, WARM, N);
        if i == WARM + N {
            break;
        }
        rng.fill(&mut out);
        s.write_all(&out).await.unwrap();
        s.read_exact(&mut back).await.unwrap();
        assert!(out == back, "message {i} came back different");
    }
    s.shutdown().await.unwrap();
    let mut rest = [0u8; 16];
    assert_eq!(s.read(&mut rest).await.unwrap(), 0, "echo sent extra bytes");
}

#[test]
fn a_tcp_echo_loop_allocates_nothing_per_message() {
    let _wd = watchdog("a_tcp_echo_loop_allocates_nothing_per_message", 120);
    let lp = EventLoop::new().unwrap();
    let window = Rc::new(Window::default());
    let w = window.clone();
    lp.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = evloop::spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            ping(s, w).await;
        });
        let (server, _) = listener.accept().await.unwrap();
        server.set_nodelay(true).unwrap();
        let server = evloop::spawn(echo(server));
        client.await.unwrap();
        server.await.unwrap();
    });
    assert_eq!(
        window.allocations(),
        0,
        "{N} TCP echo round trips allocated"
    );
}

#[test]
fn a_unix_stream_echo_loop_allocates_nothing_per_message() {
    let _wd = watchdog("a_unix_stream_echo_loop_allocates_nothing_per_message", 120);
    let lp = EventLoop::new().unwrap();
    let window = Rc::new(Window::default());
    let w = window.clone();
    lp.block_on(async move {
        let (a, b) = UnixStream::pair().unwrap();
        let server = evloop::spawn(echo(b));
        ping(a, w).await;
        server.await.unwrap();
    });
    assert_eq!(
        window.allocations(),
        0,
        "{N} Unix stream echo round trips allocated"
    );
}
