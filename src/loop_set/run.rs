//! Running a set: a coordinator thread, N loop threads, a start gate, and the join.
//!
//! The coordinator is a thread of its own with a small event loop: it owns the signal listeners
//! (signals are per process; one listener pair serves the whole set, however many loops there
//! are), receives each loop's result as it finishes, and starts the shutdown of the others when
//! one fails. Loops never wait for it on their hot path. Each loop thread pins itself, makes its
//! event loop, and waits at the gate until every loop has one, so that each setup closure can be
//! handed every loop's [`Remote`]; a loop that could not start stops them all at the gate.

use std::future::{poll_fn, Future};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::Poll;
use std::thread;
use std::time::Duration;

use super::affinity::{available_cpus, pin_current_thread};
use super::{LoopContext, LoopFailure, LoopSet, LoopSetError, ShutdownHandle};
use crate::runtime::payload_str;
use crate::signal::unix::{signal, SignalKind};
use crate::sync::{remote_channel, CancellationToken};
use crate::{EventLoop, Remote};

/// One loop's outcome, sent to the coordinator.
type Outcome<T> = (usize, Result<T, LoopFailure>);

impl LoopSet {
    /// Starts the loops, runs `setup` on each (in a task of that loop, given its
    /// [`LoopContext`]), and returns each one's result, by index, once all have finished.
    ///
    /// Each loop ends when its setup future returns. The set shuts down (every
    /// [`shutdown_token`](LoopContext::shutdown_token) cancelled) on `SIGINT` or `SIGTERM` (see
    /// [`handle_signals`](LoopSet::handle_signals)), on [`ShutdownHandle::shutdown`], or as soon
    /// as one loop fails.
    ///
    /// # Errors
    ///
    /// A [`LoopSetError`] naming every loop that failed: its setup future returned an error or
    /// panicked, it did not finish within the [grace period](LoopSet::grace), or it could not
    /// start (no thread, no event loop, pinning refused, no signal listener). Zero loops, or
    /// pinning when the CPUs cannot be read, fail before anything starts.
    ///
    /// ```
    /// use evloop::loop_set::LoopFailure;
    ///
    /// let squares = evloop::LoopSet::new()
    ///     .loops(3)
    ///     .handle_signals(false)
    ///     .run(|ctx| async move { Ok(ctx.index() * ctx.index()) })?;
    /// assert_eq!(squares, [0, 1, 4]);
    ///
    /// let err = evloop::LoopSet::new()
    ///     .loops(2)
    ///     .handle_signals(false)
    ///     .run(|ctx| async move {
    ///         assert!(ctx.index() != 1, "loop 1 panics");
    ///         ctx.shutdown_token().cancelled().await;
    ///         Ok(())
    ///     })
    ///     .unwrap_err();
    /// assert!(matches!(err.failures(), [(1, LoopFailure::Panic(msg))] if msg.contains("loop 1 panics")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run<F, Fut, T>(self, setup: F) -> Result<Vec<T>, LoopSetError>
    where
        F: Fn(LoopContext) -> Fut + Sync,
        Fut: Future<Output = io::Result<T>> + 'static,
        T: Send,
    {
        let cpus = available_cpus();
        let n = match (self.loops, &cpus) {
            (Some(n), _) => n,
            (None, Ok(cpus)) => cpus.len().max(1),
            (None, Err(_)) => thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if n == 0 {
            return Err(fail_all(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a loop set needs at least one loop",
            )));
        }
        let pins: Vec<Option<usize>> = if self.pin {
            let cpus = cpus.map_err(fail_all)?;
            (0..n).map(|i| Some(cpus[i % cpus.len()])).collect()
        } else {
            vec![None; n]
        };
        let gate = Gate::new(n);
        let results = thread::scope(|s| {
            let coordinator = thread::Builder::new()
                .name(format!("{}-main", self.name))
                .spawn_scoped(s, || self.coordinate(s, n, &pins, &gate, &setup))
                .map_err(fail_all)?;
            match coordinator.join() {
                Ok(r) => r,
                Err(p) => Err(fail_all(io::Error::other(format!(
                    "the loop set's coordinator panicked: {}",
                    payload_str(&*p)
                )))),
            }
        })?;
        let mut failures = Vec::new();
        let mut outputs = Vec::with_capacity(n);
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(t) => outputs.push(t),
                Err(f) => failures.push((i, f)),
            }
        }
        if failures.is_empty() {
            Ok(outputs)
        } else {
            Err(LoopSetError { failures })
        }
    }

    /// The coordinator thread: signals, the loop threads, and their outcomes.
    #[allow(clippy::type_complexity)]
    fn coordinate<'scope, 'env, F, Fut, T>(
        &'env self,
        s: &'scope thread::Scope<'scope, 'env>,
        n: usize,
        pins: &'env [Option<usize>],
        gate: &'env Gate,
        setup: &'env F,
    ) -> Result<Vec<Result<T, LoopFailure>>, LoopSetError>
    where
        F: Fn(LoopContext) -> Fut + Sync,
        Fut: Future<Output = io::Result<T>> + 'static,
        T: Send + 'scope,
    {
        let lp = EventLoop::new().map_err(fail_all)?;
        lp.block_on(async {
            // Listening before any loop starts, so that no signal falls between the two.
            let mut signals = match self.signals {
                true => Some((
                    signal(SignalKind::interrupt()).map_err(fail_all)?,
                    signal(SignalKind::terminate()).map_err(fail_all)?,
                )),
                false => None,
            };
            let (done, mut outcomes) = remote_channel::<Outcome<T>>();
            let mut results: Vec<Option<Result<T, LoopFailure>>> = (0..n).map(|_| None).collect();
            let mut remaining = n;
            for (i, &cpu) in pins.iter().enumerate() {
                let (done, shutdown) = (done.clone(), self.shutdown.clone());
                let grace = self.grace;
                let spawned = thread::Builder::new()
                    .name(format!("{}-{i}", self.name))
                    .spawn_scoped(s, move || {
                        let outcome = catch_unwind(AssertUnwindSafe(|| {
                            loop_thread(i, cpu, gate, &shutdown, grace, setup)
                        }))
                        .unwrap_or_else(|p| Err(LoopFailure::Panic(payload_str(&*p).to_owned())));
                        if outcome.is_err() {
                            shutdown.shutdown();
                        }
                        // The coordinator waits for every loop's outcome.
                        let _ = done.send((i, outcome));
                    });
                if let Err(e) = spawned {
                    gate.absent(i);
                    self.shutdown.shutdown();
                    results[i] = Some(Err(LoopFailure::Error(e)));
                    remaining -= 1;
                }
            }
            drop(done);
            while remaining > 0 {
                let next = poll_fn(|cx| {
                    if let Some((int, term)) = &mut signals {
                        if int.poll_recv(cx).is_ready() || term.poll_recv(cx).is_ready() {
                            return Poll::Ready(None);
                        }
                    }
                    outcomes.poll_recv(cx).map(Some)
                })
                .await;
                match next {
                    // A signal: shut down; a second one: force (and go on listening, so that
                    // no later one finds the default disposition, which would end the process).
                    None if self.shutdown.is_shutting_down() => self.shutdown.force(),
                    None => self.shutdown.shutdown(),
                    Some(Some((i, outcome))) => {
                        results[i] = Some(outcome);
                        remaining -= 1;
                    }
                    Some(None) => break, // every loop thread is gone (each sent its outcome)
                }
            }
            Ok(results
                .into_iter()
                .map(|r| r.unwrap_or(Err(LoopFailure::NotStarted)))
                .collect())
        })
    }
}

/// A failure of the set as a whole (before or around its loops), reported as loop 0's.
fn fail_all(e: io::Error) -> LoopSetError {
    LoopSetError {
        failures: vec![(0, LoopFailure::Error(e))],
    }
}

/// One loop's thread: pin, make the loop, pass the gate, run the setup future.
fn loop_thread<F, Fut, T>(
    index: usize,
    cpu: Option<usize>,
    gate: &Gate,
    shutdown: &ShutdownHandle,
    grace: Duration,
    setup: &F,
) -> Result<T, LoopFailure>
where
    F: Fn(LoopContext) -> Fut,
    Fut: Future<Output = io::Result<T>> + 'static,
{
    let lp = match cpu
        .map_or(Ok(()), pin_current_thread)
        .and_then(|()| EventLoop::new())
    {
        Ok(lp) => lp,
        Err(e) => {
            gate.arrive(index, None);
            return Err(LoopFailure::Error(e));
        }
    };
    let Some(remotes) = gate.arrive(index, Some(lp.remote())) else {
        return Err(LoopFailure::NotStarted);
    };
    lp.block_on(async {
        let (token, force) = (CancellationToken::new(), CancellationToken::new());
        let (door, mut knock) = remote_channel::<()>();
        let (cancel, cut_short) = (token.clone(), force.clone());
        let _listener = crate::spawn(async move {
            if knock.recv().await.is_some() {
                cancel.cancel();
            }
            if knock.recv().await.is_some() {
                cut_short.cancel();
            }
        });
        shutdown.register(index, door);
        let ctx = LoopContext {
            index,
            remotes,
            token: token.clone(),
            force,
            shutdown: shutdown.clone(),
        };
        let future = catch_unwind(AssertUnwindSafe(|| setup(ctx)))
            .map_err(|p| LoopFailure::Panic(payload_str(&*p).to_owned()))?;
        let mut user = pin!(crate::spawn(future));
        let mut deadline = pin!(async {
            token.cancelled().await;
            crate::time::sleep(grace).await;
        });
        poll_fn(|cx| {
            if let Poll::Ready(r) = user.as_mut().poll(cx) {
                return Poll::Ready(match r {
                    Ok(Ok(t)) => Ok(t),
                    Ok(Err(e)) => Err(LoopFailure::Error(e)),
                    Err(e) => Err(match e.try_into_panic() {
                        Ok(p) => LoopFailure::Panic(payload_str(&*p).to_owned()),
                        Err(_) => LoopFailure::Abandoned,
                    }),
                });
            }
            deadline
                .as_mut()
                .poll(cx)
                .map(|()| Err(LoopFailure::Abandoned))
        })
        .await
    })
}

/// Where the loop threads wait until every loop exists, and collect each other's [`Remote`]s.
struct Gate {
    state: Mutex<GateState>,
    all_here: Condvar,
}

struct GateState {
    arrived: usize,
    failed: bool,
    remotes: Vec<Option<Remote>>,
    done: Option<Arc<[Remote]>>,
}

impl Gate {
    fn new(n: usize) -> Gate {
        Gate {
            state: Mutex::new(GateState {
                arrived: 0,
                failed: false,
                remotes: vec![None; n],
                done: None,
            }),
            all_here: Condvar::new(),
        }
    }

    /// Marks loop `index` as one that will never arrive (its thread could not start), without
    /// waiting.
    fn absent(&self, index: usize) {
        drop(self.mark(index, None));
    }

    /// Arrives with this loop's remote (`None`: it could not start); waits for the others. Every
    /// loop's remote, or `None` if any loop could not start.
    fn arrive(&self, index: usize, remote: Option<Remote>) -> Option<Arc<[Remote]>> {
        let mut state = self.mark(index, remote);
        while state.arrived < state.remotes.len() {
            state = self
                .all_here
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.done.clone()
    }

    fn mark(&self, index: usize, remote: Option<Remote>) -> std::sync::MutexGuard<'_, GateState> {
        // Nothing user-provided runs under this lock, so a poisoned one holds consistent data.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.failed |= remote.is_none();
        state.remotes[index] = remote;
        state.arrived += 1;
        if state.arrived == state.remotes.len() {
            if !state.failed {
                let all: Vec<Remote> = state.remotes.iter_mut().flat_map(Option::take).collect();
                state.done = Some(all.into());
            }
            self.all_here.notify_all();
        }
        state
    }
}
