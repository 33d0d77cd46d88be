use super::*;

fn once() -> Action {
    Action::Once(Some(Box::new(|_| {})))
}

fn due(t: &mut TimerQueue, now: u64) -> Vec<(u32, u64)> {
    let mut q = Queue::with_capacity(8);
    let mut w = Vec::new();
    t.fire_due(now, &mut q, &mut w);
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
    let ids: Vec<_> = (0..10).map(|_| t.insert(100, once())).collect();
    let fired = due(&mut t, 100);
    assert_eq!(fired, ids.iter().map(|i| (i.key, i.id)).collect::<Vec<_>>());
}

#[test]
fn never_early_and_never_deadline() {
    let mut t = TimerQueue::default();
    t.insert(50, once());
    t.insert(NEVER, once());
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
