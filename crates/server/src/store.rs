//! The seam between the engine and session state. The engine touches sessions and players only
//! through [`SessionStore`], so a later store can keep them elsewhere (Valkey/Redis, shared by
//! several nodes) while timers and pending datagrams stay node-local in the engine.
//!
//! [`MemoryStore`] is the in-process store: a hash map keyed by session name, looked up by `&str`
//! without allocating.

use crate::compact::SessionName;
use crate::session::Session;
use std::collections::HashMap;

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
        self.sessions.values()
    }
}

/// Sessions in a hash map in this process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    sessions: HashMap<SessionName, Session>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl SessionStore for MemoryStore {
    fn get(&self, name: &str) -> Option<&Session> {
        self.sessions.get(name)
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut Session> {
        self.sessions.get_mut(name)
    }

    fn insert(&mut self, session: Session) {
        self.sessions.insert(session.name, session);
    }

    fn remove(&mut self, name: &str) -> Option<Session> {
        let removed = self.sessions.remove(name);
        // Give memory back after a burst, but not on every removal.
        if self.sessions.capacity() > 64 && self.sessions.len() < self.sessions.capacity() / 4 {
            self.sessions.shrink_to(self.sessions.len() * 2);
        }
        removed
    }

    fn session_count(&self) -> usize {
        self.sessions.len()
    }

    fn player_count(&self) -> usize {
        self.sessions.values().map(|s| s.players.len()).sum()
    }
}
