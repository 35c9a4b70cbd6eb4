//! The open-addressing slot index ([`crate::slots`]).

use crate::slots::*;
use std::hash::{BuildHasher, RandomState};

impl SlotIndex {
    /// Slots held.
    fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[test]
fn finds_every_entry_through_inserts_and_removals() {
    let h = RandomState::new();
    // keys[pos] is the key at position pos, as in a dense array with swap_remove.
    let mut keys: Vec<u64> = Vec::new();
    let mut idx = SlotIndex::default();
    for k in 0..20_000u64 {
        let pos = keys.len() as u32;
        keys.push(k);
        let ks = &keys;
        idx.insert(h.hash_one(k), pos, |p| h.hash_one(ks[p as usize]));
    }
    assert!(idx.capacity() * 7 >= 20_000 * 8 && idx.capacity() <= 20_000 * 10 / 7 + 16, "{}", idx.capacity());
    for k in (0..20_000u64).filter(|k| k % 3 != 1) {
        let (slot, pos) = idx.find(h.hash_one(k), |p| keys[p as usize] == k).expect("present");
        let ks = &keys;
        idx.remove_at(slot, |p| h.hash_one(ks[p as usize]));
        let last = keys.len() as u32 - 1;
        keys.swap_remove(pos as usize);
        if pos != last {
            let moved = keys[pos as usize];
            let (s, _) = idx.find(h.hash_one(moved), |p| p == last).expect("moved");
            idx.set_at(s, pos);
        }
    }
    for k in 0..20_000u64 {
        let found = idx.find(h.hash_one(k), |p| keys[p as usize] == k).map(|(_, p)| keys[p as usize]);
        assert_eq!(found, (k % 3 == 1).then_some(k), "key {k}");
    }
    assert!(idx.capacity() <= 4 * keys.len() + 16, "{} slots for {}", idx.capacity(), keys.len());
}
