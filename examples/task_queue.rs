//! A small Celery-like task queue inside the loop: a broker queue, a bounded pool of blocking
//! workers, acknowledgements, retries with exponential backoff, a periodic "beat" job, and
//! idempotency keys.
//!
//! Run it:   cargo run --example task_queue
//!
//! - Producers (think: web views) put jobs on the broker, a bounded `mpsc` channel, and go on at
//!   once; they wait only if the queue is full (backpressure).
//! - A worker slot (a `Semaphore` permit, `WORKERS` of them) must be free before the dispatcher
//!   takes the next job; the job then runs on the blocking pool (`spawn_blocking`), real blocking
//!   code on other threads, while the loop thread stays free for everything else.
//! - The outcome comes back to the loop thread: a success is acknowledged (after the job ran, like
//!   Celery's late acks: a job lost with its worker would run again, one more reason for jobs to
//!   be idempotent); a failure is retried after 100 ms, then 200 ms, ... (exponential backoff), up
//!   to `MAX_ATTEMPTS`.
//! - Beat: a periodic timer (`call_every`) submits a maintenance job every `BEAT_PERIOD`.
//! - Idempotency: a job whose key was seen already is skipped, so an order submitted twice is
//!   charged once.
//!
//! The bookkeeping (keys seen, statistics) lives on the loop thread and only the loop thread
//! touches it: no lock, unlike worker threads sharing state.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::promise::join_all;
use evloop::sync::{mpsc, OwnedPermit, Semaphore};
use evloop::time::sleep;
use evloop::EventLoop;

const WORKERS: usize = 2;
const MAX_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const BEAT_PERIOD: Duration = Duration::from_millis(150);
/// The beat stops after this long, so that the demo ends (a real one runs forever).
const BEAT_FOR: Duration = Duration::from_millis(650);

#[derive(Clone, Debug)]
enum Task {
    Thumbnail(&'static str),
    Email(&'static str),
    /// Charges an order: must not happen twice.
    Charge(u32),
    /// Flaky: the rates service fails the first two calls.
    ExchangeRates,
    Cleanup(u32),
}

impl Task {
    /// The work itself. It runs on a pool thread, where blocking is fine.
    fn run(&self, attempt: u32) -> Result<String, String> {
        let (ms, result) = match self {
            Task::Thumbnail(file) => (80, Ok(format!("{file} resized to 128x128"))),
            Task::Email(to) => (50, Ok(format!("mail sent to {to}"))),
            Task::Charge(order) => (100, Ok(format!("order {order} charged"))),
            Task::ExchangeRates if attempt < 3 => (40, Err("rates service said 503".to_string())),
            Task::ExchangeRates => (40, Ok("EUR/USD 1.08".to_string())),
            Task::Cleanup(_) => (20, Ok("expired sessions purged".to_string())),
        };
        thread::sleep(Duration::from_millis(ms));
        result
    }

    /// Jobs with a side effect that must not happen twice carry a key naming that effect.
    fn idempotency_key(&self) -> Option<String> {
        match self {
            Task::Charge(order) => Some(format!("charge-order-{order}")),
            _ => None,
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Task::Thumbnail(file) => write!(f, "thumbnail({file})"),
            Task::Email(to) => write!(f, "email({to})"),
            Task::Charge(order) => write!(f, "charge(order {order})"),
            Task::ExchangeRates => write!(f, "exchange-rates"),
            Task::Cleanup(n) => write!(f, "cleanup#{n}"),
        }
    }
}

#[derive(Default)]
struct Stats {
    submitted: u32,
    duplicates: u32,
    acked: u32,
    retries: u32,
    failed: u32,
    running: usize,
    max_running: usize,
}

/// What the dispatcher and the jobs share, on the loop thread.
struct Broker {
    start: Instant,
    workers: Rc<Semaphore>,
    stats: RefCell<Stats>,
}

impl Broker {
    fn log(&self, what: fmt::Arguments<'_>) {
        println!("[{:>4} ms] {what}", self.start.elapsed().as_millis());
    }

    fn started(&self) {
        let mut s = self.stats.borrow_mut();
        s.running += 1;
        s.max_running = s.max_running.max(s.running);
    }
}

fn main() -> io::Result<()> {
    let lp = EventLoop::new()?;
    lp.set_blocking_threads(WORKERS);
    let broker = Rc::new(Broker {
        start: Instant::now(),
        workers: Rc::new(Semaphore::new(WORKERS)),
        stats: RefCell::default(),
    });
    let (queue, inbox) = mpsc::channel::<Task>(8);

    // Beat: a timer callback, not a task; `try_send` never waits, and a full queue skips a beat.
    let (beat_queue, b) = (queue.clone(), broker.clone());
    let mut beats = 0;
    let beat = lp.call_every(BEAT_PERIOD, move |_| {
        beats += 1;
        match beat_queue.try_send(Task::Cleanup(beats)) {
            Ok(()) => b.log(format_args!("beat: submitted cleanup#{beats}")),
            Err(_) => b.log(format_args!("beat: queue full, skipping cleanup#{beats}")),
        }
    });
    // Cancelling the timer drops its callback, and with it the beat's end of the queue.
    lp.call_later(BEAT_FOR, move |h| {
        h.cancel_timer(beat);
    });

    // Order 42 comes in twice (the user clicked "pay", then the app retried through the API),
    // but must be charged once.
    let web = vec![
        Task::Thumbnail("cat.png"),
        Task::Charge(42),
        Task::Email("ada@example.com"),
    ];
    let api = vec![
        Task::ExchangeRates,
        Task::Charge(42),
        Task::Thumbnail("dog.png"),
    ];
    lp.spawn(produce("web", web, queue.clone(), broker.clone()));
    lp.spawn(produce("api", api, queue, broker.clone()));
    // The queue closes once both producers and the beat have dropped their senders; the
    // dispatcher then waits for the jobs still running, and returns.
    lp.block_on(dispatch(inbox, broker.clone()));

    let s = broker.stats.borrow();
    println!(
        "summary: {} submitted, {} duplicate skipped, {} acknowledged, {} retries, {} failed, \
         at most {} running at once",
        s.submitted, s.duplicates, s.acked, s.retries, s.failed, s.max_running
    );
    Ok(())
}

async fn produce(name: &str, tasks: Vec<Task>, queue: mpsc::Sender<Task>, broker: Rc<Broker>) {
    for task in tasks {
        broker.log(format_args!("{name}: submitted {task}"));
        let _ = queue.send(task).await; // waits only while the queue is full
        sleep(Duration::from_millis(30)).await;
    }
}

/// The worker's main loop: whenever a worker slot is free, take the next job off the queue.
async fn dispatch(mut inbox: mpsc::Receiver<Task>, broker: Rc<Broker>) {
    let mut seen = HashSet::new();
    let mut jobs = Vec::new();
    loop {
        // Jobs beyond the free workers wait in the queue, where producers can see it is full.
        let slot = broker
            .workers
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let Some(task) = inbox.recv().await else {
            break;
        };
        broker.stats.borrow_mut().submitted += 1;
        if let Some(key) = task.idempotency_key() {
            if !seen.insert(key.clone()) {
                broker.stats.borrow_mut().duplicates += 1;
                broker.log(format_args!("skipped {task}: key {key} was seen already"));
                continue;
            }
        }
        jobs.push(evloop::spawn(run(task, slot, broker.clone())));
    }
    // The queue is closed and empty: wait for the jobs still running or waiting to retry.
    join_all(jobs).await;
}

/// Runs one job to completion: attempts, backoff between them, then the acknowledgement.
async fn run(task: Task, first_slot: OwnedPermit, broker: Rc<Broker>) {
    let mut first_slot = Some(first_slot);
    for attempt in 1..=MAX_ATTEMPTS {
        // A retry waits for a free worker like any job; the first attempt got one already.
        let slot = match first_slot.take() {
            Some(slot) => slot,
            None => broker
                .workers
                .clone()
                .acquire_owned()
                .await
                .expect("never closed"),
        };
        broker.started();
        let work = task.clone();
        let outcome = evloop::spawn_blocking(move || work.run(attempt)).await;
        broker.stats.borrow_mut().running -= 1;
        drop(slot); // the worker is free again, also while this job sleeps before a retry
        match outcome.unwrap_or_else(|e| Err(format!("worker panicked: {e}"))) {
            Ok(result) => {
                broker.stats.borrow_mut().acked += 1;
                broker.log(format_args!("ack {task} (attempt {attempt}): {result}"));
                return;
            }
            Err(e) if attempt < MAX_ATTEMPTS => {
                let backoff = FIRST_BACKOFF * 2u32.pow(attempt - 1);
                broker.stats.borrow_mut().retries += 1;
                broker.log(format_args!("{task} failed ({e}), retry in {backoff:?}"));
                sleep(backoff).await;
            }
            Err(e) => {
                broker.stats.borrow_mut().failed += 1;
                broker.log(format_args!(
                    "{task} failed for good after {attempt} attempts: {e}"
                ));
            }
        }
    }
}
