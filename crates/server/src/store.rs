//! The seam between the engine and session state. The engine touches sessions and players only
//! through [`SessionStore`], so a later store can keep them elsewhere (Valkey/Redis, shared by
//! several nodes) while timers and pending datagrams stay node-local in the engine.
//!
//! [`MemoryStore`] is the in-process store: sessions in a dense `Vec`, found by name through a hash
//! table of indices, looked up by `&str` without allocating.

use crate::session::Session;
use hashbrown::HashTable;
use std::hash::{BuildHasher, RandomState};

/// Where sessions live. Every method is a plain lookup or update; no method sends or schedules.
pub trait SessionStore {
    /// The session called `name`.
    fn get(&self, name: &str) -> Option<&Session>;
    /// The session called `name`, to update.
    fn get_mut(&mut self, name: &str) -> Option<&mut Session>;
    /// Stores a new session; the caller has checked its name is free.
    fn insert(&mut self, session: Session);
    /// Deletes the session called `name` and returns it.
    fn remove(&mut self, name: &str) -> Option<Session>;
    /// How many sessions are stored.
    fn session_count(&self) -> usize;
    /// How many players are in all sessions together.
    fn player_count(&self) -> usize;
}

/// A store whose sessions can be listed (for invariant checks in tests and fuzzing).
pub trait IterSessions {
    /// Every stored session, in no particular order.
    fn sessions(&self) -> impl Iterator<Item = &Session>;
}

impl IterSessions for MemoryStore {
    fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.slab.iter()
    }
}

/// Sessions in this process: in a dense `Vec` (each session stored once, its name its key), found
/// through a hash table of indices into it (4 bytes a slot instead of a key and a session).
#[derive(Debug, Default)]
pub struct MemoryStore {
    slab: Vec<Session>,
    index: HashTable<u32>,
    hasher: RandomState,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn find(&self, name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        let slab = &self.slab;
        self.index.find(hash, |&i| slab.get(i as usize).is_some_and(|s| s.name == name)).map(|&i| i as usize)
    }
}

impl SessionStore for MemoryStore {
    fn get(&self, name: &str) -> Option<&Session> {
        self.find(name).and_then(|i| self.slab.get(i))
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut Session> {
        self.find(name).and_then(|i| self.slab.get_mut(i))
    }

    fn insert(&mut self, session: Session) {
        let Ok(i) = u32::try_from(self.slab.len()) else { return };
        let hash = self.hasher.hash_one(session.name.as_str());
        self.slab.push(session);
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.index.insert_unique(hash, i, |&j| {
            slab.get(j as usize).map_or(0, |s| hasher.hash_one(s.name.as_str()))
        });
    }

    fn remove(&mut self, name: &str) -> Option<Session> {
        let hash = self.hasher.hash_one(name);
        let slab = &self.slab;
        let entry =
            self.index.find_entry(hash, |&i| slab.get(i as usize).is_some_and(|s| s.name == name)).ok()?;
        let (i, _) = entry.remove();
        let i = i as usize;
        let last = self.slab.len().checked_sub(1)?;
        let removed = self.slab.swap_remove(i);
        if i != last {
            // The last session moved to `i`: point its index slot there.
            if let Some(moved) = self.slab.get(i) {
                let hash = self.hasher.hash_one(moved.name.as_str());
                if let Some(slot) = self.index.find_mut(hash, |&j| j as usize == last) {
                    *slot = i as u32;
                }
            }
        }
        // Give memory back after a burst, but not on every removal.
        if self.slab.capacity() > 64 && self.slab.len() < self.slab.capacity() / 4 {
            self.slab.shrink_to(self.slab.len() * 2);
            let (slab, hasher) = (&self.slab, &self.hasher);
            self.index.shrink_to(self.slab.len() * 2, |&j| {
                slab.get(j as usize).map_or(0, |s| hasher.hash_one(s.name.as_str()))
            });
        }
        Some(removed)
    }

    fn session_count(&self) -> usize {
        self.slab.len()
    }

    fn player_count(&self) -> usize {
        self.slab.iter().map(|s| s.players.len()).sum()
    }
}
