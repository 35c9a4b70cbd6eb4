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
    by_addr: HashMap<SocketAddr, (NodeId, Instant)>,
    /// Addresses in the order they were last seen, with that instant (older duplicates are
    /// skipped when they reach the front).
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
        self.by_addr.get(&addr).filter(|(_, seen)| *seen + self.idle > now).map(|(n, _)| *n)
    }

    /// Whether `addr` has a route, expired or not (not yet dropped).
    pub fn get_any(&self, addr: SocketAddr) -> bool {
        self.by_addr.contains_key(&addr)
    }

    /// A datagram of `addr` went through `node` at `now`. Refreshing an existing route to the
    /// same node at the same instant adds nothing to the queue.
    pub fn touch(&mut self, now: Instant, addr: SocketAddr, node: NodeId) {
        if self.by_addr.get(&addr).is_some_and(|(n, seen)| *n == node && *seen == now) {
            return;
        }
        while self.by_addr.len() >= self.max && !self.by_addr.contains_key(&addr) {
            if !self.pop_front() {
                break;
            }
        }
        self.by_addr.insert(addr, (node, now));
        self.order.push_back((addr, now));
        if self.order.len() > 2 * self.max {
            self.order.retain(|(a, t)| self.by_addr.get(a).is_some_and(|(_, seen)| seen == t));
        }
    }

    /// `addr` is not routed through another node any more.
    pub fn remove(&mut self, addr: SocketAddr) {
        self.by_addr.remove(&addr);
    }

    /// Drops the routes idle for longer than their lifetime.
    pub fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(_, t)| *t + self.idle <= now) {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) -> bool {
        let Some((addr, t)) = self.order.pop_front() else { return false };
        if self.by_addr.get(&addr).is_some_and(|(_, seen)| *seen == t) {
            self.by_addr.remove(&addr);
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
