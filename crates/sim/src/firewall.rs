//! A stateful IPv6 firewall, as home routers and carriers run one: nothing is translated;
//! inbound datagrams pass only on a flow an inside host opened (it sent to that exact remote
//! address and port within the timeout), everything else is dropped. Two hosts behind such
//! firewalls open the path by greeting each other at once, which is why a dual-stack pair
//! behind symmetric IPv4 NATs still gets a direct path over IPv6.
//!
//! Data in, decision out: no clock, no queue.

use crate::nat::MAPPING_TIMEOUT;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One site's IPv6 firewall.
#[derive(Debug, Clone)]
pub struct Firewall {
    /// How long a flow stays open without traffic.
    pub timeout: Duration,
    /// (inside, remote) → last datagram either way.
    flows: BTreeMap<(SocketAddr, SocketAddr), Instant>,
}

impl Default for Firewall {
    fn default() -> Firewall {
        Firewall { timeout: MAPPING_TIMEOUT, flows: BTreeMap::new() }
    }
}

impl Firewall {
    /// A datagram from `inside` to `to` leaves: its flow opens (or stays open).
    pub fn egress(&mut self, now: Instant, inside: SocketAddr, to: SocketAddr) {
        self.expire(now);
        self.flows.insert((inside, to), now);
    }

    /// Whether a datagram from `from` to `inside` may enter (established or related only).
    pub fn ingress(&mut self, now: Instant, from: SocketAddr, inside: SocketAddr) -> bool {
        self.expire(now);
        match self.flows.get_mut(&(inside, from)) {
            Some(t) => {
                *t = now;
                true
            }
            None => false,
        }
    }

    /// Flows open now.
    pub fn flows(&mut self, now: Instant) -> usize {
        self.expire(now);
        self.flows.len()
    }

    fn expire(&mut self, now: Instant) {
        let timeout = self.timeout;
        self.flows.retain(|_, t| now.saturating_duration_since(*t) < timeout);
    }
}
