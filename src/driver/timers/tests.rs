use super::*;

// The queue is generic over what it stores; these tests store callbacks that take nothing.
type TimerQueue = super::TimerQueue<Box<dyn FnOnce()>, dyn FnMut()>;
type Action = super::Action<Box<dyn FnOnce()>, dyn FnMut()>;
type Queue = super::Queue<()>;

fn arm_timer(t: &mut TimerQueue, deadline: u64, action: Action) -> TimerId {
    t.insert(deadline, action)
}

/// A queue that runs out of sequence numbers after `limit` arms.
fn wrapping_every(limit: u32) -> TimerQueue {
    TimerQueue {
        seq_limit: limit,
        ..TimerQueue::default()
    }
}

fn once() -> Action {
    Action::once(Box::new(|| {}))
}

fn due(t: &mut TimerQueue, now: u64) -> Vec<(u32, u64)> {
    let mut q = Queue::with_capacity(8);
    let mut w = Vec::new();
    t.fire_due(now, &mut q, |_, waker| w.push(waker));
    std::iter::from_fn(|| q.pop())
        .map(|e| match e {
            Entry::Timer { key, id } => (key, id),
            other => panic!("unexpected entry {other:?}"),
        })
        .collect()
}

#[test]
fn equal_deadlines_fire_in_arming_order() {
    let mut t = TimerQueue::default();
    let ids: Vec<_> = (0..10).map(|_| arm_timer(&mut t, 100, once())).collect();
    let fired = due(&mut t, 100);
    assert_eq!(fired, ids.iter().map(|i| (i.key, i.id)).collect::<Vec<_>>());
}

/// Run out of sequence numbers every few arms: the heap is renumbered, and a dead entry left before
/// that never shares a sequence with its slot's later arming.
#[test]
fn a_stale_entry_never_fires_a_timer_rearmed_after_the_sequence_wraps() {
    let mut t = wrapping_every(8);
    let a = arm_timer(&mut t, 100, once());
    // Each reset leaves a dead entry behind (the first one due at 100), and the sequence wraps
    // several times; nothing fires in between, so no dead entry is popped on the way.
    for _ in 0..20 {
        assert!(t.reset(a.key, 1_000));
    }
    assert!(t.reset(a.key, 2_000));
    assert!(
        due(&mut t, 1_999).is_empty(),
        "fired at a dead entry's deadline"
    );
    assert_eq!(due(&mut t, 2_000), vec![(a.key, a.id)]);
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn equal_deadlines_keep_arming_order_across_sequence_wraps() {
    let mut t = wrapping_every(64);
    let mut expected = Vec::new();
    let mut churn = None;
    for i in 0..300 {
        // Timers armed and cancelled between the kept ones make the sequence wrap often.
        if let Some(c) = churn.take() {
            assert!(t.cancel(c).is_some());
        }
        churn = Some(arm_timer(&mut t, 50 + i % 7, once()));
        if i % 7 == 0 {
            let id = arm_timer(&mut t, 100, once());
            expected.push((id.key, id.id));
        }
    }
    assert!(t.cancel(churn.unwrap()).is_some());
    assert!(t.next_seq < t.seq_limit);
    assert_eq!(due(&mut t, 100), expected);
}

#[test]
fn never_early_and_never_deadline() {
    let mut t = TimerQueue::default();
    arm_timer(&mut t, 50, once());
    arm_timer(&mut t, NEVER, once());
    assert!(due(&mut t, 49).is_empty());
    assert_eq!(due(&mut t, 50).len(), 1);
    assert!(due(&mut t, u64::MAX - 1).is_empty());
    assert_eq!(t.next_deadline(), Some(NEVER));
}

#[test]
fn next_tick_skips_missed_ticks() {
    assert_eq!(next_tick(100, 10, 105), 110);
    assert_eq!(next_tick(100, 10, 110), 120);
    assert_eq!(next_tick(100, 10, 155), 160);
    assert_eq!(next_tick(u64::MAX - 5, 10, 0), u64::MAX);
    assert_eq!(next_tick(0, 0, 0), 1);
}

/// A tiny deterministic PRNG (xorshift64*), so the model test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn every(period: u64) -> Action {
    Action::every(Box::new(Periodic {
        period,
        deadline: 0,
        callback: || {},
    }))
}

/// The bound on memory that compaction promises: dead heap entries never outnumber live timers by
/// more than the compaction threshold.
fn assert_heap_bounded(t: &TimerQueue, when: &str) {
    assert!(
        t.heap.len() <= 2 * t.len() + 65,
        "{when}: heap holds {} entries for {} live timers ({} dead)",
        t.heap.len(),
        t.len(),
        t.dead
    );
}

#[test]
fn fired_timers_removed_after_cancellations_do_not_leave_the_heap_bloated() {
    let mut t = TimerQueue::default();
    let near: Vec<_> = (0..200).map(|_| arm_timer(&mut t, 10, once())).collect();
    let far: Vec<_> = (0..200)
        .map(|_| arm_timer(&mut t, 1_000_000, once()))
        .collect();
    // 199 cancelled: not more than the live ones, so no compaction yet.
    for id in &far[1..] {
        assert!(t.cancel(*id).is_some());
        assert_heap_bounded(&t, "cancelling");
    }
    // The near ones fire and are dispatched (taken, then removed, as the loop does).
    let fired = due(&mut t, 10);
    assert_eq!(fired.len(), near.len());
    for (key, id) in fired {
        assert!(matches!(t.take_due(key, id), Some(Due::Once(_))));
        assert!(t.cancel(TimerId { key, id }).is_some());
        assert_heap_bounded(&t, "dispatching");
    }
    assert_eq!(t.len(), 1);
    assert_eq!(t.next_deadline(), Some(1_000_000));
}

/// What the reference model knows about one live timer.
#[derive(Clone, Copy, Debug)]
struct Model {
    /// `(deadline, arming order)` while armed in the heap, `None` while fired and not dispatched.
    armed: Option<(u64, u64)>,
    deadline: u64,
    period: Option<u64>,
    keep_alive: bool,
}

/// The timer queue against a reference model (a `BTreeMap` ordered by `(deadline, arming order)`),
/// over a million random operations: arm (one-shot and periodic, with many equal deadlines, past
/// deadlines and `NEVER`), cancel live and stale ids, reset, toggle keep-alive, and advance time,
/// fire and dispatch as the loop does (with cancellations between firing and dispatch).
#[test]
fn model_a_million_random_operations() {
    use std::collections::{BTreeMap, HashMap};

    const OPS: usize = 1_000_000;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Renumber the heap every few thousand arms, under every mix of dead and live entries.
    let mut t = wrapping_every(1 << 13);
    let mut queue = Queue::with_capacity(64);
    let mut wake = Vec::new();

    let mut order: BTreeMap<(u64, u64), TimerId> = BTreeMap::new();
    let mut live: HashMap<TimerId, Model> = HashMap::new();
    let mut ids: Vec<TimerId> = Vec::new(); // the live ids, for random picks
    let mut stale: Vec<TimerId> = Vec::new();
    let mut seq = 0u64;
    let mut now = 0u64;
    let mut fired_total = 0usize;
    let mut max_live = 0usize;

    fn new_deadline(rng: &mut Rng, now: u64) -> u64 {
        match rng.below(100) {
            0..=1 => NEVER,
            2..=4 => now.saturating_sub(rng.below(50)),
            5..=44 => now + rng.below(16) * 8, // few distinct values: many equal deadlines
            _ => now + rng.below(20_000),
        }
    }

    fn forget(ids: &mut Vec<TimerId>, stale: &mut Vec<TimerId>, id: TimerId) {
        let i = ids.iter().rposition(|x| *x == id).expect("tracked");
        ids.swap_remove(i);
        if stale.len() < 4096 {
            stale.push(id);
        } else {
            let n = stale.len();
            stale[(id.id as usize) % n] = id;
        }
    }

    for op in 0..OPS {
        // Phases of growth and of shrinking, so that the live set varies from a handful to
        // thousands of timers and compaction runs under both.
        let (arm, cancel) = match (op / 50_000) % 4 {
            0 => (45, 50),
            2 => (20, 50),
            _ => (30, 40),
        };
        let r = rng.below(100);
        let r = if r < arm {
            0
        } else if r < cancel {
            35
        } else {
            r.max(55)
        };
        match r {
            // Arm a one-shot or a periodic timer.
            0..=34 => {
                let deadline = new_deadline(&mut rng, now);
                let periodic = rng.below(7) == 0;
                let period = 1 + rng.below(300);
                let id = if periodic {
                    arm_timer(&mut t, deadline, every(period))
                } else {
                    arm_timer(&mut t, deadline, once())
                };
                assert!(!live.contains_key(&id), "an id was reused: {id:?}");
                seq += 1;
                order.insert((deadline, seq), id);
                live.insert(
                    id,
                    Model {
                        armed: Some((deadline, seq)),
                        deadline,
                        period: periodic.then_some(period),
                        keep_alive: true,
                    },
                );
                ids.push(id);
            }
            // Cancel a live timer: a random one, or the one due last (timeouts that are cancelled
            // before they expire, while earlier ones fire: dead entries pile up at the far end).
            35..=54 if !ids.is_empty() => {
                let id = match order.last_key_value() {
                    Some((_, &id)) if rng.below(2) == 0 => id,
                    _ => ids[rng.below(ids.len() as u64) as usize],
                };
                let m = live.remove(&id).unwrap();
                if let Some(k) = m.armed {
                    order.remove(&k);
                }
                assert!(t.cancel(id).is_some(), "live timer {id:?} not cancelled");
                forget(&mut ids, &mut stale, id);
            }
            // Stale ids do nothing, whatever reuses their slots.
            55..=59 if !stale.is_empty() => {
                let id = stale[rng.below(stale.len() as u64) as usize];
                assert!(!t.contains(id));
                assert!(
                    t.cancel(id).is_none(),
                    "stale id {id:?} cancelled something"
                );
                assert!(!t.set_keep_alive(id, false));
                assert!(t.take_due(id.key, id.id).is_none());
            }
            // Reset a live timer to a new deadline.
            60..=67 if !ids.is_empty() => {
                let id = ids[rng.below(ids.len() as u64) as usize];
                let deadline = new_deadline(&mut rng, now);
                let m = live.get_mut(&id).unwrap();
                if let Some(k) = m.armed {
                    order.remove(&k);
                }
                seq += 1;
                m.armed = Some((deadline, seq));
                m.deadline = deadline;
                order.insert((deadline, seq), id);
                assert!(t.reset(id.key, deadline));
            }
            // Toggle whether a timer keeps the loop alive.
            68..=72 if !ids.is_empty() => {
                let id = ids[rng.below(ids.len() as u64) as usize];
                let m = live.get_mut(&id).unwrap();
                m.keep_alive = !m.keep_alive;
                assert!(t.set_keep_alive(id, m.keep_alive));
            }
            // Advance time, fire and dispatch, as one turn of the loop does.
            _ => {
                assert_eq!(
                    t.next_deadline(),
                    order.keys().next().map(|k| k.0),
                    "next deadline at op {op}"
                );
                now += if rng.below(200) == 0 {
                    rng.below(20_000)
                } else {
                    rng.below(16)
                };
                t.fire_due(now, &mut queue, |_, w| wake.push(w));
                assert!(wake.is_empty());
                let mut expected = Vec::new();
                while let Some(entry) = order.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let id = entry.remove();
                    live.get_mut(&id).unwrap().armed = None;
                    expected.push(id);
                }
                let fired: Vec<TimerId> = std::iter::from_fn(|| queue.pop())
                    .map(|e| match e {
                        Entry::Timer { key, id } => TimerId { key, id },
                        other => panic!("unexpected entry {other:?}"),
                    })
                    .collect();
                assert_eq!(fired, expected, "fired order at op {op}, now {now}");
                fired_total += fired.len();

                // Sometimes a callback of this turn cancels a timer that is due later in the turn.
                if !fired.is_empty() && rng.below(4) == 0 {
                    let id = fired[rng.below(fired.len() as u64) as usize];
                    if live.remove(&id).is_some() {
                        assert!(t.cancel(id).is_some());
                        forget(&mut ids, &mut stale, id);
                    }
                }

                for id in fired {
                    let Some(m) = live.get(&id).copied() else {
                        assert!(t.take_due(id.key, id.id).is_none(), "cancelled {id:?} ran");
                        continue;
                    };
                    assert!(m.deadline <= now, "{id:?} fired early");
                    match t.take_due(id.key, id.id) {
                        Some(Due::Once(cb)) => {
                            assert_eq!(m.period, None);
                            drop(cb);
                            assert!(t.cancel(id).is_some());
                            live.remove(&id);
                            forget(&mut ids, &mut stale, id);
                        }
                        Some(Due::Every(cb)) => {
                            let (previous, period) = (cb.deadline, cb.period);
                            assert_eq!(Some(period), m.period);
                            assert_eq!(previous, m.deadline);
                            if rng.below(8) == 0 {
                                // Cancelled from inside its own callback.
                                assert!(t.cancel(id).is_some());
                                assert!(t.rearm_every(id.key, id.id, cb, now).is_some());
                                live.remove(&id);
                                forget(&mut ids, &mut stale, id);
                                continue;
                            }
                            // The first tick of the schedule after `now`.
                            let mut next = previous.saturating_add(period);
                            if next <= now {
                                next = previous
                                    .saturating_add(((now - previous) / period + 1) * period);
                            }
                            assert!(next > now && (next - previous) % period == 0);
                            assert!(t.rearm_every(id.key, id.id, cb, now).is_none());
                            seq += 1;
                            order.insert((next, seq), id);
                            let m = live.get_mut(&id).unwrap();
                            m.armed = Some((next, seq));
                            m.deadline = next;
                        }
                        None => panic!("live timer {id:?} was due but had no callback"),
                    }
                }
            }
        }

        assert_eq!(t.len(), live.len(), "live count at op {op}");
        let referenced = live.values().any(|m| m.keep_alive);
        if op % 64 == 0 || !referenced {
            assert_eq!(t.is_referenced(), referenced, "referenced at op {op}");
        }
        assert_heap_bounded(&t, "after an operation");
        max_live = max_live.max(live.len());
    }

    assert!(
        fired_total > OPS / 10,
        "the model fired too little to mean much: {fired_total}"
    );
    assert!(
        max_live > 100,
        "the model kept too few timers to mean much: {max_live}"
    );
    for id in ids.clone() {
        assert!(t.cancel(id).is_some());
        assert_heap_bounded(&t, "cancelling everything");
    }
    assert_eq!(t.len(), 0);
    assert!(!t.is_referenced());
    assert_eq!(t.next_deadline(), None);
    assert!(t.heap.is_empty());
}

/// A sleeping task pays for one slot and one heap entry: keep them from growing unnoticed.
#[test]
fn slot_and_heap_entry_stay_small() {
    assert_eq!(std::mem::size_of::<HeapEntry>(), 16);
    // With the loop's own callback types, boxed closures, see `runtime::tests`.
    assert_eq!(slot_size::<Box<dyn FnOnce()>, dyn FnMut()>(), 48);
}

/// The idle-timeout pattern: a timer pushed back a million times keeps its one heap entry, and
/// fires at its last deadline, never at an earlier one.
#[test]
fn pushing_a_deadline_back_keeps_one_heap_entry_and_fires_at_the_last_one() {
    let mut t = TimerQueue::default();
    let a = arm_timer(&mut t, 1_000, once());
    for d in 1_000..1_001_000 {
        assert!(t.reset(a.key, d));
    }
    assert_eq!(t.heap.len(), 1);
    assert_eq!(t.dead, 0);
    assert!(due(&mut t, 1_000).is_empty(), "fired at the first deadline");
    // The early entry was moved once, to the real deadline.
    assert_eq!(t.heap.len(), 1);
    assert_eq!(t.next_deadline(), Some(1_000_999));
    assert!(due(&mut t, 1_000_998).is_empty(), "fired early");
    assert_eq!(due(&mut t, 1_000_999), vec![(a.key, a.id)]);
}

/// An extended timer takes its place among equal deadlines by the time of its last arming, as if
/// it had been moved at once.
#[test]
fn an_extended_timer_fires_after_timers_armed_before_its_extension() {
    let mut t = TimerQueue::default();
    let a = arm_timer(&mut t, 10, once());
    let b = arm_timer(&mut t, 100, once());
    assert!(t.reset(a.key, 100)); // lazily: a's entry stays at 10
    let c = arm_timer(&mut t, 100, once());
    assert_eq!(
        due(&mut t, 100),
        vec![(b.key, b.id), (a.key, a.id), (c.key, c.id)]
    );
}

/// Moving a deadline earlier cannot keep the entry: it pushes a new one, and the old one is dead.
#[test]
fn pulling_a_deadline_in_fires_at_the_new_one() {
    let mut t = TimerQueue::default();
    let a = arm_timer(&mut t, 1_000, once());
    assert!(t.reset(a.key, 2_000));
    assert!(t.reset(a.key, 500));
    assert_eq!(t.next_deadline(), Some(500));
    assert_eq!(due(&mut t, 500), vec![(a.key, a.id)]);
    assert!(due(&mut t, 3_000).is_empty(), "fired twice");
}
