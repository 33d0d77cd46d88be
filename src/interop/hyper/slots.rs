//! `Slots`: the lane's store of sleeps, a slab whose keys carry a generation.
//!
//! The lane's `order` keeps places after their sleep is gone, so a place must tell a reused slot
//! from its own: it names a slot and the generation the slot had when filled, and a stale place
//! (its sleep gone, the slot reused) finds nothing.
//!
//! Why not `slab::Slab` with an identity in each value (as the timer queue does): a request's
//! header-read timeout does one insert and one removal, and `Slab::insert` is not inlined (it
//! moves the whole `Entry` enum through its out-of-line `insert_at`). This store keeps the free
//! list in a separate field of each slot and the value in an `Option`, inlined. Measured under
//! callgrind (`examples/http`, `h2load --h1 -n 20000 -c 16`, an idle run subtracted, three
//! alternated runs each): about 8,630 instructions per request with this store, about 8,720 with
//! a `Slab<(u64, Entry)>` wrapper of the same interface.

/// A value's place: its slot and that slot's generation when it was filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Place {
    key: u32,
    gen: u32,
}

const NONE: u32 = u32::MAX;

struct Slot<T> {
    gen: u32,
    /// The next free slot while this one is free.
    next_free: u32,
    value: Option<T>,
}

pub(super) struct Slots<T> {
    slots: Vec<Slot<T>>,
    /// The first free slot, or `NONE`.
    free: u32,
    len: usize,
}

impl<T> Slots<T> {
    pub(super) const fn new() -> Self {
        Slots {
            slots: Vec::new(),
            free: NONE,
            len: 0,
        }
    }

    /// How many values it holds.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn insert(&mut self, value: T) -> Place {
        self.len += 1;
        if let Some(slot) = self.slots.get_mut(self.free as usize) {
            let key = self.free;
            self.free = slot.next_free;
            slot.gen = slot.gen.wrapping_add(1);
            slot.value = Some(value);
            return Place { key, gen: slot.gen };
        }
        let key = u32::try_from(self.slots.len())
            .ok()
            .filter(|&k| k != NONE)
            .expect("more than 4 billion hyper sleeps at once");
        self.slots.push(Slot {
            gen: 0,
            next_free: NONE,
            value: Some(value),
        });
        Place { key, gen: 0 }
    }

    #[inline]
    pub(super) fn get(&self, place: Place) -> Option<&T> {
        let slot = self.slots.get(place.key as usize)?;
        (slot.gen == place.gen)
            .then_some(slot.value.as_ref())
            .flatten()
    }

    #[inline]
    pub(super) fn get_mut(&mut self, place: Place) -> Option<&mut T> {
        let slot = self.slots.get_mut(place.key as usize)?;
        (slot.gen == place.gen)
            .then_some(slot.value.as_mut())
            .flatten()
    }

    /// Whether `place` still holds its value.
    #[inline]
    pub(super) fn contains(&self, place: Place) -> bool {
        self.get(place).is_some()
    }

    #[inline]
    pub(super) fn remove(&mut self, place: Place) -> Option<T> {
        let slot = self.slots.get_mut(place.key as usize)?;
        if slot.gen != place.gen {
            return None;
        }
        let value = slot.value.take()?;
        slot.next_free = self.free;
        self.free = place.key;
        self.len -= 1;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_reused_with_a_new_generation_and_stale_ones_find_nothing() {
        let mut s = Slots::new();
        let a = s.insert("a");
        let b = s.insert("b");
        assert_eq!((s.get(a), s.get(b), s.len()), (Some(&"a"), Some(&"b"), 2));
        assert_eq!(s.remove(a), Some("a"));
        assert_eq!(s.remove(a), None, "removed twice");
        let c = s.insert("c");
        assert_ne!(c, a, "the slot is reused under a new generation");
        assert_eq!(s.get(a), None, "a stale place");
        assert!(!s.contains(a));
        assert_eq!(s.get(c), Some(&"c"));
        *s.get_mut(c).unwrap() = "c2";
        assert_eq!(s.remove(c), Some("c2"));
        assert_eq!(s.remove(b), Some("b"));
        assert_eq!(s.len(), 0);
        // Both freed slots come back before the store grows.
        let d = s.insert("d");
        let e = s.insert("e");
        assert_eq!(s.slots.len(), 2);
        assert_eq!((s.get(d), s.get(e)), (Some(&"d"), Some(&"e")));
    }
}
