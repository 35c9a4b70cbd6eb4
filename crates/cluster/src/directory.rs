//! Session name → owner node: a bounded, expiring cache of what the store said about names
//! owned by *other* nodes (the names this node owns are the node's own claims, not a cache).
//!
//! An entry lives [`crate::ClusterConfig::cache_ttl`] from when the store said it; when the cache
//! is full the oldest entry goes first. A stale entry (its owner died or its session ended) costs
//! at most that long of forwarding to the wrong place; the owner answers as one node would, and
//! after that the store is asked again.

use crate::NodeId;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The cache.
#[derive(Debug)]
pub struct Directory {
    owners: HashMap<String, (NodeId, Instant)>,
    /// Names in insertion order, with the expiry they were inserted with (older duplicates of a
    /// re-inserted name are skipped when they reach the front).
    order: VecDeque<(String, Instant)>,
    ttl: Duration,
    max: usize,
}

impl Directory {
    /// An empty cache whose entries live `ttl`, at most `max` of them.
    pub fn new(ttl: Duration, max: usize) -> Directory {
        Directory { owners: HashMap::new(), order: VecDeque::new(), ttl, max: max.max(1) }
    }

    /// The owner of `name`, if known and not expired.
    pub fn get(&self, now: Instant, name: &str) -> Option<NodeId> {
        self.owners.get(name).filter(|(_, exp)| *exp > now).map(|(n, _)| *n)
    }

    /// The owner of `name` as last heard, expired or not (while the store cannot be asked, what
    /// the node knew is better than nothing).
    pub fn get_stale(&self, name: &str) -> Option<NodeId> {
        self.owners.get(name).map(|(n, _)| *n)
    }

    /// The store said `owner` owns `name`.
    pub fn insert(&mut self, now: Instant, name: &str, owner: NodeId) {
        let exp = now + self.ttl;
        while self.owners.len() >= self.max && !self.owners.contains_key(name) {
            if !self.pop_front() {
                break;
            }
        }
        self.owners.insert(name.to_owned(), (owner, exp));
        self.order.push_back((name.to_owned(), exp));
        // Re-insertions leave stale duplicates behind: keep the queue within twice the map.
        if self.order.len() > 2 * self.max {
            self.order.retain(|(n, e)| self.owners.get(n).is_some_and(|(_, exp)| exp == e));
        }
    }

    /// Forgets `name` (its owner turned out to be wrong).
    pub fn remove(&mut self, name: &str) {
        self.owners.remove(name);
    }

    /// Forgets every name owned by `node`.
    pub fn forget_node(&mut self, node: NodeId) {
        self.owners.retain(|_, (n, _)| *n != node);
    }

    /// Drops the expired entries.
    pub fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(_, e)| *e <= now) {
            self.pop_front();
        }
    }

    /// Drops the oldest queue entry (and its map entry if it is the current one); false if empty.
    fn pop_front(&mut self) -> bool {
        let Some((name, exp)) = self.order.pop_front() else { return false };
        if self.owners.get(&name).is_some_and(|(_, e)| *e == exp) {
            self.owners.remove(&name);
        }
        true
    }

    /// Names cached.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }
}
