//! A small Celery-like task queue inside the loop: a broker queue, a pool of workers that run
//! blocking jobs, acknowledgements, retries with exponential backoff, a periodic "beat" job, and
//! idempotency keys.
//!
//! Run it:   cargo run --example task_queue
//! Or through a Redis broker (a real Redis, or `examples/redis_server.rs`):
//!           cargo run --example task_queue -- --broker redis://127.0.0.1:6379
//!
//! - Producers (think: web views) put jobs on the broker, a bounded `mpmc` channel, and go on at
//!   once; they wait only if the queue is full (backpressure).
//! - `WORKERS` worker tasks share the queue, each with its own clone of the channel's receiver
//!   (no `Rc<RefCell<Receiver>>`, no dispatcher): an idle worker takes the next job, and idle
//!   workers are served in turn. A worker runs its job on the blocking pool (`spawn_blocking`),
//!   real blocking code on other threads, while the loop thread stays free for everything else;
//!   it takes no other job meanwhile, so at most `WORKERS` jobs run at once.
//! - The outcome comes back to the loop thread: a success is acknowledged (after the job ran, like
//!   Celery's late acks: a job lost with its worker would run again, one more reason for jobs to
//!   be idempotent); a failure goes back on the queue after 100 ms, then 200 ms, ... (exponential
//!   backoff, like Celery's `retry(countdown=...)`), up to `MAX_ATTEMPTS`; the worker is free for
//!   other jobs in the meantime.
//! - Beat: a periodic timer (`call_every`) submits a maintenance job every `BEAT_PERIOD`.
//! - Idempotency: a job whose key was seen already is skipped, so an order submitted twice is
//!   charged once.
//!
//! The bookkeeping (keys seen, statistics) lives on the loop thread and only the loop thread
//! touches it: no lock, unlike worker threads sharing state.
//!
//! With `--broker redis://HOST:PORT` the same jobs go through Redis instead of the in-process
//! queue, as Celery's Redis transport does (see `redis_broker.rs`): producers `LPUSH` job ids,
//! each of the `WORKERS` workers takes the next one with `BRPOP` whenever it is idle, a job's
//! record stays in Redis until it is acknowledged, a failure goes back on the queue after its
//! backoff, and the idempotency keys are `SET NX` in Redis, so duplicates are caught across
//! processes too.
//!
//! Stop it with Ctrl-C (or SIGTERM), like a Celery worker's warm shutdown: the workers stop
//! taking jobs, the queue is closed (the producers and the beat stop submitting), what was left
//! queued is printed, the retries not yet due are dropped, and the jobs running finish (for up to
//! 5 s) before the summary. Left alone, the demo ends by itself after about a second: once the
//! producers and the beat are done and no job is queued, running or waiting to retry.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::promise::join_all;
use evloop::sync::{mpmc, CancellationToken, Notify};
use evloop::time::{sleep, timeout};
use evloop::EventLoop;

#[path = "../common/mod.rs"]
mod common;
mod redis_broker;
#[path = "../resp/mod.rs"]
mod resp;

const WORKERS: usize = 2;
const MAX_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const BEAT_PERIOD: Duration = Duration::from_millis(150);
/// The beat stops after this long, so that the demo ends (a real one runs forever).
const BEAT_FOR: Duration = Duration::from_millis(650);

#[derive(Clone, Debug)]
enum Task {
    Thumbnail(String),
    Email(String),
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

    /// The job as a broker stores it: `kind:argument`.
    fn encode(&self) -> String {
        match self {
            Task::Thumbnail(file) => format!("thumbnail:{file}"),
            Task::Email(to) => format!("email:{to}"),
            Task::Charge(order) => format!("charge:{order}"),
            Task::ExchangeRates => "exchange-rates:".to_string(),
            Task::Cleanup(n) => format!("cleanup:{n}"),
        }
    }

    /// The job [`Task::encode`] stored, or `None` for something this worker does not know.
    fn decode(s: &str) -> Option<Task> {
        let (kind, arg) = s.split_once(':')?;
        Some(match kind {
            "thumbnail" => Task::Thumbnail(arg.to_string()),
            "email" => Task::Email(arg.to_string()),
            "charge" => Task::Charge(arg.parse().ok()?),
            "exchange-rates" => Task::ExchangeRates,
            "cleanup" => Task::Cleanup(arg.parse().ok()?),
            _ => return None,
        })
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

/// A job on the queue: the task and which attempt this is.
struct Job {
    task: Task,
    attempt: u32,
}

impl Job {
    fn new(task: Task) -> Job {
        Job { task, attempt: 1 }
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

/// What the workers and the jobs share, on the loop thread.
struct Broker {
    start: Instant,
    stats: RefCell<Stats>,
    seen: RefCell<HashSet<String>>,
    /// Jobs a worker took that are not settled yet (running, or waiting to go back on the queue).
    in_flight: Cell<usize>,
    /// Told whenever a job settles.
    settled: Notify,
    /// The broker's own sender, for retries; dropped once nothing is left to do, which (with the
    /// producers' and the beat's gone) ends the queue and so the workers.
    requeue: RefCell<Option<mpmc::Sender<Job>>>,
}

impl Broker {
    /// `requeue`: the in-process queue's sender, for retries (`None` with a Redis broker, whose
    /// retries go back through Redis).
    fn new(requeue: Option<mpmc::Sender<Job>>) -> Broker {
        Broker {
            start: Instant::now(),
            stats: RefCell::default(),
            seen: RefCell::default(),
            in_flight: Cell::new(0),
            settled: Notify::new(),
            requeue: RefCell::new(requeue),
        }
    }

    fn log(&self, what: fmt::Arguments<'_>) {
        println!("[{:>4} ms] {what}", self.start.elapsed().as_millis());
    }

    /// An attempt starts running on a worker.
    fn started(&self) {
        let mut s = self.stats.borrow_mut();
        s.running += 1;
        s.max_running = s.max_running.max(s.running);
    }

    fn settle(&self) {
        self.in_flight.set(self.in_flight.get() - 1);
        self.settled.notify_waiters();
    }
}

fn main() -> io::Result<()> {
    let broker_url = parse_broker();
    let lp = EventLoop::new()?;
    lp.set_blocking_threads(WORKERS);
    // First of all, so that no signal finds the default action (death) once anything is printed.
    // (The task it spawns waits in the loop until `block_on` below runs it.)
    let shutdown = lp.block_on(async { common::shutdown_signal() })?;
    if let Some(url) = broker_url {
        let broker = Rc::new(Broker::new(None));
        lp.block_on(redis_broker::run(
            &url,
            demo_jobs(),
            broker.clone(),
            shutdown,
        ))?;
        print_summary(&broker);
        return Ok(());
    }
    let (queue, jobs) = mpmc::channel::<Job>(8);
    let broker = Rc::new(Broker::new(Some(queue.clone())));

    // Beat: a timer callback, not a task; `try_send` never waits, and a full queue skips a beat.
    let (beat_queue, b) = (queue.clone(), broker.clone());
    let mut beats = 0;
    let beat = lp.call_every(BEAT_PERIOD, move |_| {
        beats += 1;
        match beat_queue.try_send(Job::new(Task::Cleanup(beats))) {
            Ok(()) => b.log(format_args!("beat: submitted cleanup#{beats}")),
            Err(e) if e.is_full() => {
                b.log(format_args!("beat: queue full, skipping cleanup#{beats}"))
            }
            Err(_) => {} // the queue is closed: shutting down
        }
    });
    // Cancelling the timer drops its callback, and with it the beat's end of the queue.
    let (beat_over, beat_ended) = evloop::sync::oneshot::channel::<()>();
    lp.call_later(BEAT_FOR, move |h| {
        h.cancel_timer(beat);
        let _ = beat_over.send(());
    });

    let [(_, web), (_, api)] = demo_jobs();
    let producers = vec![
        lp.spawn(produce("web", web, queue.clone(), broker.clone())),
        lp.spawn(produce("api", api, queue, broker.clone())),
    ];
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| lp.spawn(worker(jobs.clone(), broker.clone(), shutdown.clone())))
        .collect();

    lp.block_on(async {
        let all_done = async {
            join_all(producers).await;
            let _ = beat_ended.await;
            // Nothing queued, running or waiting to retry: the broker lets go of its sender, the
            // queue ends, and the workers return.
            while !(jobs.is_empty() && broker.in_flight.get() == 0) {
                broker.settled.notified().await;
            }
            broker.requeue.borrow_mut().take();
        };
        if shutdown.run_until_cancelled(all_done).await.is_some() {
            join_all(workers).await;
            return;
        }
        // Take no more: close the queue (the producers' sends fail from now on) and say what it
        // still held. A real broker would keep those jobs for the next worker.
        jobs.close();
        let mut left = Vec::new();
        while let Ok(job) = jobs.try_recv() {
            left.push(job.task.to_string());
        }
        let list = if left.is_empty() {
            String::new()
        } else {
            format!(": {}", left.join(", "))
        };
        broker.log(format_args!("left queued: {} job(s){list}", left.len()));
        // The jobs running finish (their retries not yet due are dropped), for up to the grace.
        if timeout(common::DEFAULT_GRACE, join_all(workers))
            .await
            .is_err()
        {
            broker.log(format_args!(
                "grace period over: abandoning the jobs still running"
            ));
        }
    });

    print_summary(&broker);
    Ok(())
}

/// What the two producers submit. Order 42 comes in twice (the user clicked "pay", then the app
/// retried through the API), but must be charged once.
fn demo_jobs() -> [(&'static str, Vec<Task>); 2] {
    let web = vec![
        Task::Thumbnail("cat.png".into()),
        Task::Charge(42),
        Task::Email("ada@example.com".into()),
    ];
    let api = vec![
        Task::ExchangeRates,
        Task::Charge(42),
        Task::Thumbnail("dog.png".into()),
    ];
    [("web", web), ("api", api)]
}

/// `--broker redis://HOST:PORT` (or `--broker=...`), if given; any other argument is an error.
fn parse_broker() -> Option<String> {
    let usage = "usage: task_queue [--broker redis://HOST:PORT]";
    let mut args = std::env::args().skip(1);
    let mut url = None;
    while let Some(arg) = args.next() {
        let (flag, value) = common::split_flag(&arg);
        match flag.as_str() {
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            "--broker" => match value.or_else(|| args.next()) {
                Some(u) if u.starts_with("redis://") => url = Some(u),
                _ => common::fail("`--broker` needs a redis://HOST:PORT URL", usage),
            },
            _ => common::fail(&format!("unexpected argument `{arg}`"), usage),
        }
    }
    url
}

fn print_summary(broker: &Broker) {
    let s = broker.stats.borrow();
    println!(
        "summary: {} submitted, {} duplicate skipped, {} acknowledged, {} retries, {} failed, \
         at most {} running at once",
        s.submitted, s.duplicates, s.acked, s.retries, s.failed, s.max_running
    );
}

async fn produce(name: &str, tasks: Vec<Task>, queue: mpmc::Sender<Job>, broker: Rc<Broker>) {
    for task in tasks {
        broker.log(format_args!("{name}: submitted {task}"));
        // Waits only while the queue is full; fails once it is closed (shutting down).
        if queue.send(Job::new(task)).await.is_err() {
            broker.log(format_args!(
                "{name}: the queue is closed, submitting no more"
            ));
            return;
        }
        sleep(Duration::from_millis(30)).await;
    }
}

/// One worker: takes the next job off the shared queue whenever it is idle, until the queue has
/// ended, or `shutdown` (a job it is running is finished first).
async fn worker(jobs: mpmc::Receiver<Job>, broker: Rc<Broker>, shutdown: CancellationToken) {
    while let Some(Some(job)) = shutdown.run_until_cancelled(jobs.recv()).await {
        broker.in_flight.set(broker.in_flight.get() + 1);
        if job.attempt == 1 {
            broker.stats.borrow_mut().submitted += 1;
            if let Some(key) = job.task.idempotency_key() {
                if !broker.seen.borrow_mut().insert(key.clone()) {
                    broker.stats.borrow_mut().duplicates += 1;
                    broker.log(format_args!(
                        "skipped {}: key {key} was seen already",
                        job.task
                    ));
                    broker.settle();
                    continue;
                }
            }
        }
        run(job, &broker, &shutdown).await;
    }
}

/// Runs one attempt of a job: acknowledges it, or sends it back to the queue after a backoff
/// (from a task of its own, so the worker is free meanwhile), or gives up on it.
async fn run(job: Job, broker: &Rc<Broker>, shutdown: &CancellationToken) {
    let (task, attempt) = (job.task, job.attempt);
    broker.started();
    let work = task.clone();
    let outcome = evloop::spawn_blocking(move || work.run(attempt)).await;
    broker.stats.borrow_mut().running -= 1;
    match outcome.unwrap_or_else(|e| Err(format!("worker panicked: {e}"))) {
        Ok(result) => {
            broker.stats.borrow_mut().acked += 1;
            broker.log(format_args!("ack {task} (attempt {attempt}): {result}"));
            broker.settle();
        }
        Err(e) if attempt < MAX_ATTEMPTS => {
            let backoff = FIRST_BACKOFF * 2u32.pow(attempt - 1);
            broker.stats.borrow_mut().retries += 1;
            broker.log(format_args!("{task} failed ({e}), retry in {backoff:?}"));
            let queue = broker.requeue.borrow().clone();
            let (broker, shutdown) = (broker.clone(), shutdown.clone());
            evloop::spawn(async move {
                let retry = Job {
                    task,
                    attempt: attempt + 1,
                };
                let sent = match (shutdown.run_until_cancelled(sleep(backoff)).await, queue) {
                    (Some(()), Some(queue)) => queue.send(retry).await.map_err(|e| e.0),
                    (_, _) => Err(retry),
                };
                if let Err(retry) = sent {
                    broker.log(format_args!("{}: retry dropped, shutting down", retry.task));
                }
                broker.settle();
            });
        }
        Err(e) => {
            broker.stats.borrow_mut().failed += 1;
            broker.log(format_args!(
                "{task} failed for good after {attempt} attempts: {e}"
            ));
            broker.settle();
        }
    }
}
