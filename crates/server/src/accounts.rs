//! The anti-reflection budget's table: one fixed-size [`Account`] per IP address (16 bytes, plus
//! its key: 4 bytes for IPv4), kept in a dense `Vec` and found through an index of 4-byte slots
//! sized to what it holds ([`crate::slots`]), so that a million addresses cost about 26 bytes each.
//!
//! An account holds, per time slot of the window, the slot's net credit: `factor × received −
//! sent` in bytes. The bytes still allowed are the sum over the window's slots, which is exactly
//! `factor × Σ received − Σ sent`: one signed counter per slot instead of two. Old slots roll off,
//! credit and spending alike. Counters are 24-bit (±8 MiB a slot: the credit of some 20,000
//! pinging players behind one IP); credit beyond is cut and spending beyond refused, so the
//! limits send less, never more. The slot number is kept as its low 16 bits; the budget rolls
//! every account at least every [`ROLL_EVERY`] slots, so the difference is never ambiguous.
//! Rules (who gets an account, when it goes) are the budget's ([`crate::budget`]).

use crate::slots::{SlotIndex, MAX_LEN};
use std::hash::{BuildHasher, Hash, RandomState};

/// Slots per window.
pub(crate) const SLOTS: usize = 4;

/// The range of a slot's 24-bit counter.
pub(crate) const NET_MAX: i32 = (1 << 23) - 1;
pub(crate) const NET_MIN: i32 = -(1 << 23);

/// The budget rolls every account to the current slot at least this often (in slots), so that an
/// account's 16-bit slot is never 2¹⁵ behind.
pub(crate) const ROLL_EVERY: u32 = 1 << 12;

/// What the budget knows about one IP address: 16 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Account {
    /// Players, over all sessions, whose address has this IP, up to `u16::MAX` (the budget counts
    /// the rest aside); 0: it lingers (see the budget).
    pub(crate) members: u16,
    /// The low 16 bits of the slot number `net[slot % SLOTS]` belongs to.
    slot: u16,
    /// `factor × received − sent` per slot, in bytes: 24-bit signed, little-endian.
    net: [[u8; 3]; SLOTS],
}

pub(crate) fn get24(b: [u8; 3]) -> i32 {
    // Sign-extend from bit 23.
    (i32::from_le_bytes([b[0], b[1], b[2], 0]) << 8) >> 8
}

pub(crate) fn set24(v: i32) -> [u8; 3] {
    let [a, b, c, _] = v.clamp(NET_MIN, NET_MAX).to_le_bytes();
    [a, b, c]
}

impl Account {
    /// An empty account at slot `slot`.
    pub(crate) fn new(slot: u32) -> Account {
        Account { members: 0, slot: slot as u16, net: [[0; 3]; SLOTS] }
    }

    /// Brings the account to slot `now` (less than 2¹⁵ slots after its own), clearing the slots
    /// that rolled off.
    pub(crate) fn roll(&mut self, now: u32) {
        let now = now as u16;
        let gap = now.wrapping_sub(self.slot);
        if gap == 0 || gap >= 1 << 15 {
            // Now, or "before now" (a late event): nothing rolls.
            return;
        }
        for s in 0..gap.min(SLOTS as u16) {
            self.net[usize::from(self.slot.wrapping_add(1 + s)) % SLOTS] = [0; 3];
        }
        self.slot = now;
    }

    /// Adds `n` bytes of credit (`factor ×` the bytes received) to the current slot; beyond the
    /// counter's range the credit is cut (less is sent, never more).
    pub(crate) fn credit(&mut self, n: u64) {
        let i = self.index();
        let n = i32::try_from(n).unwrap_or(NET_MAX);
        self.net[i] = set24(get24(self.net[i]).saturating_add(n));
    }

    /// Bytes still allowed over the window (negative: more was sent than the window still credits).
    fn left(&self) -> i64 {
        self.net.iter().map(|&n| i64::from(get24(n))).sum()
    }

    /// Whether `n` more bytes are allowed over the window.
    pub(crate) fn allows(&self, n: u64) -> bool {
        self.left() >= i64::try_from(n).unwrap_or(i64::MAX)
    }

    /// Takes `n` bytes from the current slot if the window allows them and the counter can record
    /// them; false (and nothing taken) otherwise.
    pub(crate) fn debit(&mut self, n: u64) -> bool {
        let i = self.index();
        let Ok(n) = i32::try_from(n) else { return false };
        let v = get24(self.net[i]) - n;
        if !self.allows(n as u64) || v < NET_MIN {
            return false;
        }
        self.net[i] = set24(v);
        true
    }

    /// Empties the account at slot `now` (its memberships stay): every slot rolled off.
    pub(crate) fn reset(&mut self, now: u32) {
        *self = Account { members: self.members, ..Account::new(now) };
    }

    fn index(&self) -> usize {
        usize::from(self.slot) % SLOTS
    }
}

#[derive(Debug)]
pub(crate) struct Keyed<K> {
    key: K,
    account: Account,
}

/// Accounts by key (an IPv4 address as `u32`, an IPv6 one as `u128`): dense, exactly one entry per
/// key, found through a [`SlotIndex`] (about 5 bytes an entry), memory given back after a burst.
/// At most [`MAX_LEN`] (16.7 million) accounts.
#[derive(Debug)]
pub(crate) struct Table<K> {
    dense: Vec<Keyed<K>>,
    index: SlotIndex,
    hasher: RandomState,
}

impl<K> Default for Table<K> {
    fn default() -> Table<K> {
        Table { dense: Vec::new(), index: SlotIndex::default(), hasher: RandomState::new() }
    }
}

impl<K: Copy + Eq + Hash> Table<K> {
    fn find(&self, key: K) -> Option<(usize, u32)> {
        let dense = &self.dense;
        self.index.find(self.hasher.hash_one(key), |p| dense.get(p as usize).is_some_and(|e| e.key == key))
    }

    pub(crate) fn get(&self, key: K) -> Option<&Account> {
        self.find(key).and_then(|(_, p)| self.dense.get(p as usize)).map(|e| &e.account)
    }

    pub(crate) fn get_mut(&mut self, key: K) -> Option<&mut Account> {
        self.find(key).and_then(|(_, p)| self.dense.get_mut(p as usize)).map(|e| &mut e.account)
    }

    /// `key`'s account, made from `make` if it has none (`None` if the table is full).
    pub(crate) fn get_or_insert(&mut self, key: K, make: impl FnOnce() -> Account) -> Option<&mut Account> {
        let pos = match self.find(key) {
            Some((_, p)) => p as usize,
            None => {
                let pos = self.dense.len();
                if pos >= MAX_LEN {
                    return None;
                }
                self.dense.push(Keyed { key, account: make() });
                let (dense, hasher) = (&self.dense, &self.hasher);
                let hash_of = |p: u32| dense.get(p as usize).map_or(0, |e| hasher.hash_one(e.key));
                self.index.insert(hasher.hash_one(key), pos as u32, hash_of);
                pos
            }
        };
        self.dense.get_mut(pos).map(|e| &mut e.account)
    }

    /// Deletes `key`'s account and returns it.
    pub(crate) fn remove(&mut self, key: K) -> Option<Account> {
        let (slot, pos) = self.find(key)?;
        {
            let (dense, hasher) = (&self.dense, &self.hasher);
            self.index.remove_at(slot, |p| dense.get(p as usize).map_or(0, |e| hasher.hash_one(e.key)));
        }
        let last = self.dense.len().checked_sub(1)?;
        let removed = self.dense.swap_remove(pos as usize);
        if pos as usize != last {
            // The last entry moved to `pos`: point its slot there.
            if let Some(moved) = self.dense.get(pos as usize) {
                let found = self.index.find(self.hasher.hash_one(moved.key), |p| p as usize == last);
                if let Some((s, _)) = found {
                    self.index.set_at(s, pos);
                }
            }
        }
        if self.dense.capacity() > 64 && self.dense.len() < self.dense.capacity() / 4 {
            self.dense.shrink_to(self.dense.len() * 2);
        }
        Some(removed.account)
    }

    pub(crate) fn len(&self) -> usize {
        self.dense.len()
    }

    /// Every (key, account).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (K, &Account)> {
        self.dense.iter().map(|e| (e.key, &e.account))
    }

    /// Every account, to update.
    pub(crate) fn accounts_mut(&mut self) -> impl Iterator<Item = &mut Account> {
        self.dense.iter_mut().map(|e| &mut e.account)
    }
}
