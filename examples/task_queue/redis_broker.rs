//! The task queue through a Redis broker, in the shape of Celery's Redis transport:
//!
//! - a job is a record `PREFIX:job:ID` holding `attempt|task` and an id on the list
//!   `PREFIX:queue`; producers write both in one pipeline (`SET` + `LPUSH`);
//! - each of the `WORKERS` workers takes the next id with `BRPOP` (on a connection of its own,
//!   since it blocks) whenever it is idle, and runs that job before it takes another;
//! - acknowledgement is late, as in Celery with `acks_late`: the record is deleted (`DEL`) only
//!   after the job succeeded, so a job whose worker died is still in Redis;
//! - a failure is retried by writing the next attempt into the record and putting the id back on
//!   the queue after the backoff (the worker takes other jobs meanwhile); a job that failed for good goes to `PREFIX:dead`;
//! - duplicates are caught in Redis with `SET PREFIX:seen:KEY ID NX EX 3600`, across processes;
//! - on a shutdown signal, jobs still queued stay in Redis for the next worker, and a retry not
//!   yet due is put back at once rather than dropped.
//!
//! `PREFIX` is `tq:PID`, so runs sharing a Redis do not see each other's jobs; the run deletes its
//! bookkeeping keys when it ends.

use std::cell::{Cell, RefCell};
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use evloop::promise::join_all;
use evloop::sync::CancellationToken;
use evloop::task::TaskTracker;
use evloop::time::{sleep, timeout};

use super::resp::Connection;
use super::{Broker, Task, BEAT_FOR, BEAT_PERIOD, FIRST_BACKOFF, MAX_ATTEMPTS, WORKERS};

/// How long one `BRPOP` waits before a worker looks again whether the work is over.
const POLL: Duration = Duration::from_millis(100);

/// What the producers, the workers and the jobs share.
struct Queue {
    addr: String,
    prefix: String,
    /// Producers (and the beat) still submitting.
    producers: Cell<usize>,
    /// Jobs taken off the queue and not yet acknowledged, failed or put back.
    in_flight: Cell<usize>,
    /// The retries waiting for their backoff.
    retries: TaskTracker,
    /// The idempotency keys this run set.
    seen: RefCell<Vec<String>>,
}

impl Queue {
    fn key(&self, what: &str) -> String {
        format!("{}:{what}", self.prefix)
    }

    async fn connect(&self) -> io::Result<Connection> {
        Connection::connect(self.addr.as_str()).await
    }

    /// Puts a job (its attempt number and payload) in the broker.
    async fn submit(
        &self,
        redis: &mut Connection,
        id: &str,
        attempt: u32,
        task: &Task,
    ) -> io::Result<()> {
        let record = format!("{attempt}|{}", task.encode());
        let job = self.key(&format!("job:{id}"));
        let queue = self.key("queue");
        for reply in redis
            .pipeline(&[&["SET", &job, &record], &["LPUSH", &queue, id]])
            .await?
        {
            reply.into_result()?;
        }
        Ok(())
    }
}

/// Runs the demo's producers, beat and workers through the Redis at `url` (`redis://HOST:PORT`).
pub async fn run(
    url: &str,
    jobs: [(&'static str, Vec<Task>); 2],
    broker: Rc<Broker>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let addr = url.trim_start_matches("redis://").trim_end_matches('/');
    let q = Rc::new(Queue {
        addr: addr.to_string(),
        prefix: format!("tq:{}", std::process::id()),
        producers: Cell::new(jobs.len() + 1),
        in_flight: Cell::new(0),
        retries: TaskTracker::new(),
        seen: RefCell::default(),
    });
    let mut control = q.connect().await?;
    broker.log(format_args!("broker: redis at {addr}, keys {}:*", q.prefix));
    for (name, tasks) in jobs {
        evloop::spawn(produce(
            name,
            tasks,
            q.clone(),
            broker.clone(),
            shutdown.clone(),
        ));
    }
    evloop::spawn(beat(q.clone(), broker.clone(), shutdown.clone()));
    let result = workers(&q, &broker, &shutdown).await;
    // The bookkeeping of this run; job records and the queue are left alone (see the docs).
    let mut keys = vec!["DEL".to_string(), q.key("next-id"), q.key("dead")];
    keys.extend(q.seen.borrow_mut().drain(..));
    control.cmd(&keys).await?.into_result()?;
    result
}

async fn produce(
    name: &str,
    tasks: Vec<Task>,
    q: Rc<Queue>,
    broker: Rc<Broker>,
    shutdown: CancellationToken,
) {
    let result = async {
        let mut redis = q.connect().await?;
        for task in tasks {
            if shutdown.is_cancelled() {
                broker.log(format_args!("{name}: shutting down, submitting no more"));
                break;
            }
            let id = redis
                .cmd(&["INCR", &q.key("next-id")])
                .await?
                .into_result()?;
            let id = id.int().unwrap_or_default().to_string();
            q.submit(&mut redis, &id, 1, &task).await?;
            broker.log(format_args!("{name}: submitted {task} as job {id}"));
            sleep(Duration::from_millis(30)).await;
        }
        Ok::<(), io::Error>(())
    }
    .await;
    if let Err(e) = result {
        broker.log(format_args!("{name}: broker error: {e}"));
    }
    q.producers.set(q.producers.get() - 1);
}

/// The periodic maintenance job, every `BEAT_PERIOD` for `BEAT_FOR`.
async fn beat(q: Rc<Queue>, broker: Rc<Broker>, shutdown: CancellationToken) {
    let result = async {
        let mut redis = q.connect().await?;
        let mut beats = 0;
        let mut tick = evloop::time::interval(BEAT_PERIOD);
        tick.tick().await; // the first tick is at once: the beat starts one period in
        let start = std::time::Instant::now();
        while start.elapsed() + BEAT_PERIOD <= BEAT_FOR && !shutdown.is_cancelled() {
            tick.tick().await;
            beats += 1;
            let id = redis
                .cmd(&["INCR", &q.key("next-id")])
                .await?
                .into_result()?;
            let id = id.int().unwrap_or_default().to_string();
            q.submit(&mut redis, &id, 1, &Task::Cleanup(beats)).await?;
            broker.log(format_args!("beat: submitted cleanup#{beats} as job {id}"));
        }
        Ok::<(), io::Error>(())
    }
    .await;
    if let Err(e) = result {
        broker.log(format_args!("beat: broker error: {e}"));
    }
    q.producers.set(q.producers.get() - 1);
}

/// `WORKERS` workers, each taking the next job off the queue whenever it is idle, until the
/// producers are done and nothing is queued or in flight, or a shutdown; then the retries waiting
/// for their backoff are put back. A shutdown lets the jobs running finish, for up to the grace.
async fn workers(
    q: &Rc<Queue>,
    broker: &Rc<Broker>,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let mut all = Vec::new();
    for _ in 0..WORKERS {
        all.push(evloop::spawn(worker(
            q.clone(),
            broker.clone(),
            shutdown.clone(),
        )));
    }
    let mut all = pin!(join_all(all));
    let results = match shutdown.run_until_cancelled(all.as_mut()).await {
        Some(results) => results,
        None => {
            let mut control = q.connect().await?;
            let left = control
                .cmd(&["LLEN", &q.key("queue")])
                .await?
                .into_result()?;
            broker.log(format_args!(
                "left queued: {} job(s), kept in the broker for the next worker",
                left.int().unwrap_or_default()
            ));
            match timeout(super::common::DEFAULT_GRACE, all).await {
                Ok(results) => results,
                Err(_) => {
                    broker.log(format_args!(
                        "grace period over: abandoning the jobs still running"
                    ));
                    Vec::new()
                }
            }
        }
    };
    // The retries still waiting go back to the broker (at once, when shutting down).
    q.retries.close();
    q.retries.wait().await;
    for result in results {
        result.unwrap_or_else(|e| Err(io::Error::other(e.to_string())))?;
    }
    Ok(())
}

/// One worker: its own connection to block in `BRPOP` on, another for everything else; it runs
/// the job it took before it takes another.
async fn worker(q: Rc<Queue>, broker: Rc<Broker>, shutdown: CancellationToken) -> io::Result<()> {
    let mut blocking = q.connect().await?;
    let mut control = q.connect().await?;
    let queue = q.key("queue");
    while let Some(next) = shutdown
        .run_until_cancelled(blocking.brpop(&[&queue], POLL))
        .await
    {
        let Some((_, id)) = next? else {
            // Nothing came: done if no one can submit any more (in flight counts the jobs that
            // may still put themselves back for a retry).
            if q.producers.get() == 0 && q.in_flight.get() == 0 {
                let left = control.cmd(&["LLEN", &queue]).await?.into_result()?;
                if left.int() == Some(0) {
                    break;
                }
            }
            continue;
        };
        let id = String::from_utf8_lossy(&id).into_owned();
        // Counted from the moment it is off the queue, so that no other worker sees the work over
        // while this one still reads the job.
        q.in_flight.set(q.in_flight.get() + 1);
        let taken = take(&id, &mut control, &q, &broker).await;
        match taken {
            Ok(Some((attempt, task))) => work(id, task, attempt, &q, &broker, &shutdown).await,
            Ok(None) => q.in_flight.set(q.in_flight.get() - 1),
            Err(e) => {
                q.in_flight.set(q.in_flight.get() - 1);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Reads job `id`'s record; `None` for a record gone or unreadable, or a duplicate (deleted).
async fn take(
    id: &str,
    control: &mut Connection,
    q: &Queue,
    broker: &Broker,
) -> io::Result<Option<(u32, Task)>> {
    let record = control
        .cmd(&["GET", &q.key(&format!("job:{id}"))])
        .await?
        .into_result()?;
    let parsed = record.text().and_then(|r| {
        let (attempt, task) = r.split_once('|')?;
        Some((attempt.parse::<u32>().ok()?, Task::decode(task)?))
    });
    let Some((attempt, task)) = parsed else {
        broker.log(format_args!("job {id}: no readable record, dropped"));
        return Ok(None);
    };
    if attempt == 1 {
        broker.stats.borrow_mut().submitted += 1;
        if let Some(key) = task.idempotency_key() {
            let seen = q.key(&format!("seen:{key}"));
            let fresh = control
                .cmd(&["SET", &seen, id, "NX", "EX", "3600"])
                .await?
                .into_result()?;
            if fresh.is_nil() {
                broker.stats.borrow_mut().duplicates += 1;
                broker.log(format_args!("skipped {task}: key {key} was seen already"));
                control.cmd(&["DEL", &q.key(&format!("job:{id}"))]).await?;
                return Ok(None);
            }
            q.seen.borrow_mut().push(seen);
        }
    }
    Ok(Some((attempt, task)))
}

/// Runs one attempt of a job, then acknowledges it, schedules its retry (from a task of its own,
/// so the worker is free meanwhile) or buries it.
async fn work(
    id: String,
    task: Task,
    attempt: u32,
    q: &Rc<Queue>,
    broker: &Rc<Broker>,
    shutdown: &CancellationToken,
) {
    broker.started();
    let job = task.clone();
    let outcome = evloop::spawn_blocking(move || job.run(attempt)).await;
    broker.stats.borrow_mut().running -= 1;
    let result = async {
        let mut redis = q.connect().await?;
        match outcome.unwrap_or_else(|e| Err(format!("worker panicked: {e}"))) {
            Ok(result) => {
                redis
                    .cmd(&["DEL", &q.key(&format!("job:{id}"))])
                    .await?
                    .into_result()?;
                broker.stats.borrow_mut().acked += 1;
                broker.log(format_args!("ack {task} (attempt {attempt}): {result}"));
            }
            Err(e) if attempt < MAX_ATTEMPTS => {
                let backoff = FIRST_BACKOFF * 2u32.pow(attempt - 1);
                broker.stats.borrow_mut().retries += 1;
                broker.log(format_args!("{task} failed ({e}), retry in {backoff:?}"));
                let (q, broker, shutdown) = (q.clone(), broker.clone(), shutdown.clone());
                let id = id.clone();
                q.clone().retries.spawn(async move {
                    // Shutting down, the retry goes back to the broker at once instead of being
                    // lost.
                    if shutdown.run_until_cancelled(sleep(backoff)).await.is_none() {
                        broker.log(format_args!(
                            "{task}: retry put back in the broker, shutting down"
                        ));
                    }
                    if let Err(e) = q.submit(&mut redis, &id, attempt + 1, &task).await {
                        broker.log(format_args!("job {id}: broker error: {e}"));
                    }
                    q.in_flight.set(q.in_flight.get() - 1);
                });
                // The retry's task settles the job, once it is back on the queue.
                return Ok(true);
            }
            Err(e) => {
                broker.stats.borrow_mut().failed += 1;
                broker.log(format_args!(
                    "{task} failed for good after {attempt} attempts: {e}"
                ));
                redis
                    .cmd(&["RPUSH", &q.key("dead"), &id])
                    .await?
                    .into_result()?;
                redis.cmd(&["DEL", &q.key(&format!("job:{id}"))]).await?;
            }
        }
        Ok::<bool, io::Error>(false)
    }
    .await;
    match result {
        Ok(true) => {}
        Ok(false) => q.in_flight.set(q.in_flight.get() - 1),
        Err(e) => {
            broker.log(format_args!("job {id}: broker error: {e}"));
            q.in_flight.set(q.in_flight.get() - 1);
        }
    }
}
