//! One NAT router emulated from the lab's behaviours as data (`rhp_lab::nat`): mapping
//! (endpoint-independent or per destination), filtering (anyone, the address, the exact
//! address and port), port allocation (preserve, XOR shift, random, sequential, preserve then
//! random), hairpin and the mapping timeout.
//!
//! [`Nat::egress`] maps an inside source to its public one for a destination (creating or
//! refreshing a mapping); [`Nat::ingress`] says where an inbound datagram goes or why it is
//! dropped. Data in, decision out: no clock, no queue.

use crate::rng::Rng;
use rhp_lab::nat::{Filtering, Mapping, NatType, PortAlloc, SEQUENTIAL_FIRST_PORT, SEQUENTIAL_SPAN};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How long a mapping lives without traffic (the lab's learned maps: 180 s).
pub const MAPPING_TIMEOUT: Duration = Duration::from_secs(180);

/// Why a NAT dropped an inbound datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// No mapping at that public port (never made, or timed out).
    NoMapping,
    /// A mapping exists, but its filter does not let this source in.
    Filtered,
}

/// One mapping: an inside endpoint (towards one destination, for a destination-dependent
/// mapping) and its public port.
#[derive(Debug, Clone)]
struct Entry {
    inside: SocketAddr,
    /// The destination, for address-and-port-dependent mapping; `None`: every destination.
    towards: Option<SocketAddr>,
    public_port: u16,
    /// Everyone the inside endpoint sent to through this mapping, and when that flow last
    /// carried a datagram either way (the filter's allow list: a flow idle for the timeout is
    /// forgotten, as conntrack forgets it).
    contacted: BTreeMap<SocketAddr, Instant>,
    last_used: Instant,
}

/// A NAT router.
#[derive(Debug, Clone)]
pub struct Nat {
    /// The behaviour.
    pub kind: NatType,
    /// Its public address.
    pub public_ip: IpAddr,
    /// NAT loopback: inside hosts reach each other through the public address.
    pub hairpin: bool,
    /// How long a mapping lives without traffic.
    pub timeout: Duration,
    entries: Vec<Entry>,
    /// The sequential allocator's counter (one per router).
    next_sequential: u16,
    /// Inside endpoints that already had their port preserved once (preserve-then-random).
    preserved: BTreeSet<SocketAddr>,
    rng: Rng,
}

impl Nat {
    /// A router of `kind` at `public_ip`; `rng` draws its random ports.
    pub fn new(kind: NatType, public_ip: IpAddr, rng: Rng) -> Nat {
        Nat {
            kind,
            public_ip,
            hairpin: true,
            timeout: MAPPING_TIMEOUT,
            entries: Vec::new(),
            next_sequential: 0,
            preserved: BTreeSet::new(),
            rng,
        }
    }

    /// Mappings alive now.
    pub fn mappings(&mut self, now: Instant) -> usize {
        self.expire(now);
        self.entries.len()
    }

    /// The public source of a datagram from `inside` to `to`, making (or refreshing) the mapping.
    pub fn egress(&mut self, now: Instant, inside: SocketAddr, to: SocketAddr) -> SocketAddr {
        self.expire(now);
        let towards = match self.kind.mapping() {
            Mapping::EndpointIndependent => None,
            Mapping::AddressAndPortDependent => Some(to),
        };
        let i = match self.entries.iter().position(|e| e.inside == inside && e.towards == towards) {
            Some(i) => i,
            None => {
                let public_port = self.allocate(inside);
                self.entries.push(Entry {
                    inside,
                    towards,
                    public_port,
                    contacted: BTreeMap::new(),
                    last_used: now,
                });
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[i];
        e.contacted.insert(to, now);
        e.last_used = now;
        SocketAddr::new(self.public_ip, e.public_port)
    }

    /// Where a datagram from `from` to our public port `port` goes inside, or why it is dropped.
    /// `hairpin`: it came from inside (NAT loopback), which the lab's rules let through by
    /// mapping alone.
    pub fn ingress(
        &mut self,
        now: Instant,
        from: SocketAddr,
        port: u16,
        hairpin: bool,
    ) -> Result<SocketAddr, DropReason> {
        self.expire(now);
        let filtering = self.kind.filtering();
        // A flow idle for the timeout no longer lets anything in (checked here, not swept).
        let timeout = self.timeout;
        let fresh = |t: &Instant| now.saturating_duration_since(*t) < timeout;
        let mut any = false;
        for e in self.entries.iter_mut().filter(|e| e.public_port == port) {
            any = true;
            let allowed = hairpin
                || match filtering {
                    Filtering::EndpointIndependent => true,
                    Filtering::AddressDependent => {
                        e.contacted.iter().any(|(c, t)| c.ip() == from.ip() && fresh(t))
                    }
                    Filtering::AddressAndPortDependent => e.contacted.get(&from).is_some_and(fresh),
                };
            if allowed {
                e.last_used = now;
                if let Some(t) = e.contacted.get_mut(&from) {
                    *t = now;
                }
                return Ok(e.inside);
            }
        }
        Err(if any { DropReason::Filtered } else { DropReason::NoMapping })
    }

    fn expire(&mut self, now: Instant) {
        let timeout = self.timeout;
        self.entries.retain(|e| now.saturating_duration_since(e.last_used) < timeout);
    }

    fn taken(&self, port: u16) -> bool {
        port == 0 || self.entries.iter().any(|e| e.public_port == port)
    }

    /// The first free port from `port` upwards (wrapping within the unprivileged range).
    fn free_from(&self, port: u16) -> u16 {
        let mut p = port.max(1024);
        for _ in 0..u16::MAX {
            if !self.taken(p) {
                return p;
            }
            p = if p == u16::MAX { 1024 } else { p + 1 };
        }
        p
    }

    fn random_port(&mut self) -> u16 {
        for _ in 0..1000 {
            let p = 1024 + u16::try_from(self.rng.below(u64::from(u16::MAX - 1024))).unwrap_or(0);
            if !self.taken(p) {
                return p;
            }
        }
        self.free_from(1024)
    }

    fn allocate(&mut self, inside: SocketAddr) -> u16 {
        match self.kind.port_alloc() {
            PortAlloc::Preserve => self.free_from(inside.port()),
            PortAlloc::Xor(x) => self.free_from(inside.port() ^ x),
            PortAlloc::Random => self.random_port(),
            PortAlloc::Sequential => {
                let p = SEQUENTIAL_FIRST_PORT + self.next_sequential;
                self.next_sequential = (self.next_sequential + 1) % SEQUENTIAL_SPAN;
                p
            }
            PortAlloc::PreserveThenRandom => {
                if self.preserved.insert(inside) && !self.taken(inside.port()) {
                    inside.port()
                } else {
                    self.random_port()
                }
            }
        }
    }
}
