//! Players served through another node, keyed by the player's address, bounded and expiring.
//!
//! Each node keeps two tables of [`Routes`]:
//! - as an **entry node**: player address → the owner it forwards that player's datagrams to (so
//!   that the player's relay frames, which name no session, go to the same owner);
//! - as an **owner**: player address → the entry node the player's datagrams came through (so
//!   that what the engine sends to that address goes back through it).
//!
//! A route lives [`crate::ClusterConfig::route_idle`] after the player's last datagram. Nothing is
//! kept for a dead node beyond that: its players fall silent, the owner's engine times them out
//! as any silent player, and their routes expire.

use crate::NodeId;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One table of routes.
#[derive(Debug)]
pub struct Routes {
    /// Address → (node, last seen, the instant its one queue entry carries).
    by_addr: HashMap<SocketAddr, (NodeId, Instant, Instant)>,
    /// One entry per address, in the order queued. A route used since it was queued is queued
    /// again when its entry reaches the front, so a busy route costs a map update per datagram
    /// and nothing more; the queue is ordered within one idle period, which is all expiry needs
    /// (a route may outlive its idle time by at most that much, and the map's bound holds).
    order: VecDeque<(SocketAddr, Instant)>,
    idle: Duration,
    max: usize,
}

impl Routes {
    /// An empty table whose routes live `idle` after their last use, at most `max` of them.
    pub fn new(idle: Duration, max: usize) -> Routes {
        Routes { by_addr: HashMap::new(), order: VecDeque::new(), idle, max: max.max(1) }
    }

    /// The node a datagram for or from `addr` goes through, if routed and not expired.
    pub fn get(&self, now: Instant, addr: SocketAddr) -> Option<NodeId> {
        self.by_addr.get(&addr).filter(|(_, seen, _)| *seen + self.idle > now).map(|(n, _, _)| *n)
    }

    /// Whether `addr` has a route, expired or not (not yet dropped).
    pub fn get_any(&self, addr: SocketAddr) -> bool {
        self.by_addr.contains_key(&addr)
    }

    /// A datagram of `addr` went through `node` at `now`.
    pub fn touch(&mut self, now: Instant, addr: SocketAddr, node: NodeId) {
        if let Some(r) = self.by_addr.get_mut(&addr) {
            r.0 = node;
            r.1 = now;
            return;
        }
        while self.by_addr.len() >= self.max {
            if !self.pop_front(None) {
                break;
            }
        }
        self.by_addr.insert(addr, (node, now, now));
        self.order.push_back((addr, now));
        // Routes removed and added again leave stale entries behind: keep the queue bounded.
        if self.order.len() > 2 * self.max {
            let by_addr = &self.by_addr;
            self.order.retain(|(a, t)| by_addr.get(a).is_some_and(|r| r.2 == *t));
        }
    }

    /// `addr` is not routed through another node any more.
    pub fn remove(&mut self, addr: SocketAddr) {
        self.by_addr.remove(&addr);
    }

    /// Drops the routes idle for longer than their lifetime.
    pub fn expire(&mut self, now: Instant) {
        // Each route is re-queued at most once per call (its new time is later than `now - idle`).
        for _ in 0..self.order.len() {
            if self.order.front().is_none_or(|(_, t)| *t + self.idle > now) {
                break;
            }
            self.pop_front(Some(now));
        }
    }

    /// Takes the front entry: drops its route if idle (or, with no `now`, to make room), queues
    /// it again if used since; false if the queue is empty.
    fn pop_front(&mut self, now: Option<Instant>) -> bool {
        let Some((addr, t)) = self.order.pop_front() else { return false };
        let Some(r) = self.by_addr.get_mut(&addr) else { return true };
        if r.2 != t {
            return true; // removed and added again since: its entry is further back
        }
        match now {
            Some(now) if r.1 + self.idle > now => {
                r.2 = r.1;
                let seen = r.1;
                self.order.push_back((addr, seen));
            }
            _ => {
                self.by_addr.remove(&addr);
            }
        }
        true
    }

    /// Routes held.
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    /// Whether no route is held.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }
}
