//! The task queue through a Redis broker, in the shape of Celery's Redis transport:
//!
//! - a job is a record `PREFIX:job:ID` holding `attempt|task` and an id on the list
//!   `PREFIX:queue`; producers write both in one pipeline (`SET` + `LPUSH`);
//! - the dispatcher takes ids with `BRPOP` (on its own connection, since it blocks) whenever a
//!   worker slot is free;
//! - acknowledgement is late, as in Celery with `acks_late`: the record is deleted (`DEL`) only
//!   after the job succeeded, so a job whose worker died is still in Redis;
//! - a failure is retried by writing the next attempt into the record and putting the id back on
//!   the queue after the backoff; a job that failed for good goes to `PREFIX:dead`;
//! - duplicates are caught in Redis with `SET PREFIX:seen:KEY ID NX EX 3600`, across processes;
//! - on a shutdown signal, jobs still queued stay in Redis for the next worker, and a retry not
//!   yet due is put back at once rather than dropped.
//!
//! `PREFIX` is `tq:PID`, so runs sharing a Redis do not see each other's jobs; the run deletes its
//! bookkeeping keys when it ends.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use evloop::promise::join_all;
use evloop::sync::{CancellationToken, OwnedPermit};
use evloop::time::{sleep, timeout};

use super::resp::Connection;
use super::{Broker, Task, BEAT_FOR, BEAT_PERIOD, FIRST_BACKOFF, MAX_ATTEMPTS};

/// How long one `BRPOP` waits before the dispatcher looks again whether the work is over.
const POLL: Duration = Duration::from_millis(100);

/// What the producers, the dispatcher and the jobs share.
struct Queue {
    addr: String,
    prefix: String,
    /// Producers (and the beat) still submitting.
    producers: Cell<usize>,
    /// Jobs taken off the queue and not yet acknowledged, failed or put back.
    in_flight: Cell<usize>,
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
    let result = dispatch(&q, &broker, &shutdown).await;
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

/// Takes jobs off the queue while a worker is free, until the producers are done and nothing is
/// queued or in flight, or a shutdown.
async fn dispatch(
    q: &Rc<Queue>,
    broker: &Rc<Broker>,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let mut blocking = q.connect().await?;
    let mut control = q.connect().await?;
    let queue = q.key("queue");
    let mut jobs = Vec::new();
    loop {
        let next = async {
            let slot = broker
                .workers
                .clone()
                .acquire_owned()
                .await
                .expect("never closed");
            Ok::<_, io::Error>((slot, blocking.brpop(&[&queue], POLL).await?))
        };
        let Some(next) = shutdown.run_until_cancelled(next).await else {
            break;
        };
        let (slot, id) = match next? {
            (_, None) => {
                // Nothing came: done if no one can submit any more (in flight counts the jobs
                // that may still put themselves back for a retry).
                if q.producers.get() == 0 && q.in_flight.get() == 0 {
                    let left = control.cmd(&["LLEN", &queue]).await?.into_result()?;
                    if left.int() == Some(0) {
                        break;
                    }
                }
                continue;
            }
            (slot, Some((_, id))) => (slot, String::from_utf8_lossy(&id).into_owned()),
        };
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
            continue;
        };
        if attempt == 1 {
            broker.stats.borrow_mut().submitted += 1;
            if let Some(key) = task.idempotency_key() {
                let seen = q.key(&format!("seen:{key}"));
                let fresh = control
                    .cmd(&["SET", &seen, &id, "NX", "EX", "3600"])
                    .await?
                    .into_result()?;
                if fresh.is_nil() {
                    broker.stats.borrow_mut().duplicates += 1;
                    broker.log(format_args!("skipped {task}: key {key} was seen already"));
                    control.cmd(&["DEL", &q.key(&format!("job:{id}"))]).await?;
                    continue;
                }
                q.seen.borrow_mut().push(seen);
            }
        }
        q.in_flight.set(q.in_flight.get() + 1);
        jobs.push(evloop::spawn(work(
            id,
            task,
            attempt,
            slot,
            q.clone(),
            broker.clone(),
            shutdown.clone(),
        )));
    }
    if shutdown.is_cancelled() {
        let left = control.cmd(&["LLEN", &queue]).await?.into_result()?;
        broker.log(format_args!(
            "left queued: {} job(s), kept in the broker for the next worker",
            left.int().unwrap_or_default()
        ));
    }
    if timeout(super::common::DEFAULT_GRACE, join_all(jobs))
        .await
        .is_err()
    {
        broker.log(format_args!(
            "grace period over: abandoning the jobs still running"
        ));
    }
    Ok(())
}

/// Runs one attempt of a job, then acknowledges it, schedules its retry or buries it.
async fn work(
    id: String,
    task: Task,
    attempt: u32,
    slot: OwnedPermit,
    q: Rc<Queue>,
    broker: Rc<Broker>,
    shutdown: CancellationToken,
) {
    broker.started();
    let job = task.clone();
    let outcome = evloop::spawn_blocking(move || job.run(attempt)).await;
    broker.stats.borrow_mut().running -= 1;
    drop(slot); // the worker is free again, also while this job waits for its retry
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
                // Shutting down, the retry goes back to the broker at once instead of being lost.
                if shutdown.run_until_cancelled(sleep(backoff)).await.is_none() {
                    broker.log(format_args!(
                        "{task}: retry put back in the broker, shutting down"
                    ));
                }
                q.submit(&mut redis, &id, attempt + 1, &task).await?;
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
        Ok::<(), io::Error>(())
    }
    .await;
    if let Err(e) = result {
        broker.log(format_args!("job {id}: broker error: {e}"));
    }
    q.in_flight.set(q.in_flight.get() - 1);
}
