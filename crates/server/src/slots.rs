//! A hash index of positions into a dense array, sized to what it holds: linear probing over
//! 4-byte slots (a 24-bit position and an 8-bit fingerprint of the key's hash), any number of
//! slots (the home slot is `hash × slots >> 64`, not a power of two), at most 7/8 full, grown by
//! a quarter. A general hash table rounds up to a power of two and stays at most 7/8 full, so just
//! past 2²⁰ × 7/8 entries it holds twice the slots; this one holds between 8/7 and 10/7 slots per
//! entry. Removal shifts the following entries back (no tombstones). The index does not hold the
//! keys: the caller gives, per position, the key's equality and hash.

/// A slot holding nothing.
const EMPTY: u32 = u32::MAX;

/// Most entries (positions `0..MAX_LEN`; `EMPTY`'s position bits are never a position).
pub(crate) const MAX_LEN: usize = (1 << 24) - 1;

const POS: u32 = (1 << 24) - 1;

fn fingerprint(hash: u64) -> u32 {
    // The low bits: the home slot comes from the high ones.
    ((hash & 0xff) as u32) << 24
}

fn home(hash: u64, slots: usize) -> usize {
    ((u128::from(hash) * slots as u128) >> 64) as usize
}

/// The index.
#[derive(Debug, Default)]
pub(crate) struct SlotIndex {
    pub(crate) slots: Vec<u32>,
    len: usize,
}

impl SlotIndex {
    /// The slot and position of the entry whose hash is `hash` and for which `is(position)`.
    pub(crate) fn find(&self, hash: u64, is: impl Fn(u32) -> bool) -> Option<(usize, u32)> {
        let n = self.slots.len();
        if n == 0 {
            return None;
        }
        let fp = fingerprint(hash);
        let mut i = home(hash, n);
        for _ in 0..n {
            let s = *self.slots.get(i)?;
            if s == EMPTY {
                return None;
            }
            if s & !POS == fp && is(s & POS) {
                return Some((i, s & POS));
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        None
    }

    /// Adds position `pos` (less than [`MAX_LEN`]) under `hash`; `hash_of(position)` gives any held
    /// entry's hash (to grow).
    pub(crate) fn insert(&mut self, hash: u64, pos: u32, hash_of: impl Fn(u32) -> u64) {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            let grown = (self.slots.len() + self.slots.len() / 4).max(16).max((self.len + 1) * 8 / 7 + 1);
            self.rebuild(grown, &hash_of);
        }
        self.place(hash, pos);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, pos: u32) {
        let n = self.slots.len();
        let mut i = home(hash, n);
        for _ in 0..n {
            if let Some(s) = self.slots.get_mut(i) {
                if *s == EMPTY {
                    *s = fingerprint(hash) | (pos & POS);
                    return;
                }
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }

    /// Re-lays every entry out over `slots` slots.
    fn rebuild(&mut self, slots: usize, hash_of: &impl Fn(u32) -> u64) {
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; slots]);
        for s in old.into_iter().filter(|&s| s != EMPTY) {
            self.place(hash_of(s & POS), s & POS);
        }
    }

    /// Empties slot `slot` (from [`SlotIndex::find`]), shifting the entries after it back so that
    /// every entry stays reachable from its home slot.
    pub(crate) fn remove_at(&mut self, slot: usize, hash_of: impl Fn(u32) -> u64) {
        let n = self.slots.len();
        if slot >= n || self.slots[slot] == EMPTY {
            return;
        }
        self.slots[slot] = EMPTY;
        self.len -= 1;
        let mut hole = slot;
        let mut j = slot;
        for _ in 0..n {
            j = if j + 1 == n { 0 } else { j + 1 };
            let s = self.slots[j];
            if s == EMPTY {
                break;
            }
            let h = home(hash_of(s & POS), n);
            // `s` may move back into the hole if the hole lies between its home and `j`.
            if (j + n - hole) % n <= (j + n - h) % n {
                self.slots[hole] = s;
                self.slots[j] = EMPTY;
                hole = j;
            }
        }
        if n > 64 && self.len < n / 4 {
            self.rebuild((self.len * 2).max(16), &hash_of);
        }
    }

    /// Points the entry in slot `slot` at position `pos` (the dense array moved it there).
    pub(crate) fn set_at(&mut self, slot: usize, pos: u32) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = (*s & !POS) | (pos & POS);
        }
    }
}
