//! A link's impairments (str0m's netem as data): delay, jitter, loss, reordering and
//! duplication, each decided by the simulation's seeded generator.
//!
//! In the simulation every client has one access link (between it and its NAT router, both
//! directions, as the lab impairs each client's LAN link); the server's link is clean.

use crate::rng::Rng;
use std::time::Duration;

/// One link's behaviour, the same in both directions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// One-way delay.
    pub delay: Duration,
    /// Up to this much extra delay, uniform, per datagram.
    pub jitter: Duration,
    /// Share of datagrams lost (0.0 ..= 1.0).
    pub loss: f64,
    /// Share of datagrams held back by an extra [`Link::delay`] (so later ones overtake them).
    pub reorder: f64,
    /// Share of datagrams delivered twice (the copy one jitter later).
    pub duplicate: f64,
}

impl Link {
    /// A clean link: 1 ms one way, nothing lost.
    pub const CLEAN: Link = Link {
        delay: Duration::from_millis(1),
        jitter: Duration::ZERO,
        loss: 0.0,
        reorder: 0.0,
        duplicate: 0.0,
    };

    /// The lab's lossy setting: 10% loss and 50 ms one way.
    pub const LOSSY: Link = Link {
        delay: Duration::from_millis(50),
        jitter: Duration::ZERO,
        loss: 0.10,
        reorder: 0.0,
        duplicate: 0.0,
    };

    /// The delays after which the copies of one datagram come out of the link: none (lost), one,
    /// or two (duplicated).
    pub fn carry(&self, rng: &mut Rng) -> Vec<Duration> {
        if rng.chance(self.loss) {
            return Vec::new();
        }
        let mut one = self.delay + self.jittered(rng);
        if rng.chance(self.reorder) {
            one += self.delay.max(Duration::from_millis(1));
        }
        let mut out = vec![one];
        if rng.chance(self.duplicate) {
            out.push(one + self.jittered(rng));
        }
        out
    }

    fn jittered(&self, rng: &mut Rng) -> Duration {
        let max = u64::try_from(self.jitter.as_micros()).unwrap_or(u64::MAX);
        if max == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(rng.below(max + 1))
    }
}

impl Default for Link {
    fn default() -> Self {
        Link::CLEAN
    }
}
