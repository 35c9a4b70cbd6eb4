//! The birthday path's two schedulers, sans-IO, for a pair where one side's NAT maps each
//! destination to a random port (hard) and the other's does not (easy).
//!
//! - The **hard side** opens K sockets; each greets the easy side's public address, which gives
//!   K random mappings on the hard NAT that all lead to the easy side ([`HardSockets`]).
//! - The **easy side** greets random ports of the hard side's public IP (only the IP the server
//!   reported), at most `rate` per second and `max_probes` in all, never the same port twice
//!   ([`Prober`]). Each probe opens the easy NAT's filter for that port; a probe that hits one of
//!   the K mappings reaches a hard-side socket, which answers: the first two-way exchange wins.
//!
//! With K = 256 of the 64,512 ports above 1023, each probe hits with p ≈ 1/252: 50% after 174
//! probes, 98% after 1,024, 99.9% after 1,740.

use crate::rng::Rng;
use rhp_io::SocketId;
use std::time::{Duration, Instant};

/// Lowest port probed (ports below are rarely NAT mappings).
pub const FIRST_PORT: u16 = 1024;
/// Ports probed at most: 1024..=65535.
pub const PORT_SPAN: u32 = 65536 - FIRST_PORT as u32;

/// How often the easy side sends a batch of probes.
pub const PROBE_TICK: Duration = Duration::from_millis(10);

/// The easy side's probe schedule towards one peer.
#[derive(Debug, Clone)]
pub(crate) struct Prober {
    /// A random permutation of the span: `(start + i × stride) mod PORT_SPAN`, stride coprime.
    start: u32,
    stride: u32,
    next_index: u32,
    max_probes: u32,
    rate: u32,
    began: Instant,
    next_at: Instant,
    /// Bit per port: probed.
    probed: Vec<u64>,
}

impl Prober {
    pub(crate) fn new(rng: &mut Rng, rate: u32, max_probes: u32, now: Instant) -> Prober {
        let start = u32::try_from(rng.below(u64::from(PORT_SPAN))).unwrap_or(0);
        // An odd stride not divisible by 3 or 7 is coprime with 64,512 = 2^10·3^2·7.
        let mut stride = u32::try_from(rng.below(u64::from(PORT_SPAN))).unwrap_or(1) | 1;
        while stride % 3 == 0 || stride % 7 == 0 {
            stride += 2;
        }
        Prober {
            start,
            stride: stride % PORT_SPAN,
            next_index: 0,
            max_probes: max_probes.min(PORT_SPAN),
            rate: rate.max(1),
            began: now,
            next_at: now,
            probed: vec![0; 1024],
        }
    }

    /// Probes sent so far.
    pub(crate) fn sent(&self) -> u32 {
        self.next_index
    }

    /// True once every probe allowed was sent.
    pub(crate) fn exhausted(&self) -> bool {
        self.next_index >= self.max_probes
    }

    /// When the next batch is due, if any is left.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        (!self.exhausted()).then_some(self.next_at)
    }

    /// Whether `port` was probed.
    pub(crate) fn was_probed(&self, port: u16) -> bool {
        let i = usize::from(port);
        self.probed.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The ports to probe now (none before the next batch is due): as many as the rate allows
    /// since the start, so a late driver sends a bigger batch rather than falling behind, capped
    /// at one 100 ms worth.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<u16> {
        if self.exhausted() || now < self.next_at {
            return Vec::new();
        }
        let elapsed = now.saturating_duration_since(self.began);
        let allowed = (elapsed.as_micros() * u128::from(self.rate) / 1_000_000) as u64 + 1;
        let allowed = u32::try_from(allowed).unwrap_or(u32::MAX).min(self.max_probes);
        let cap = (self.rate / 10).max(1);
        let n = allowed.saturating_sub(self.next_index).min(cap);
        let mut ports = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let offset = (u64::from(self.start) + u64::from(self.next_index) * u64::from(self.stride))
                % u64::from(PORT_SPAN);
            let port = u16::try_from(offset + u64::from(FIRST_PORT)).unwrap_or(FIRST_PORT);
            let i = usize::from(port);
            if let Some(w) = self.probed.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
            ports.push(port);
            self.next_index += 1;
        }
        self.next_at = now + PROBE_TICK;
        ports
    }
}

/// The hard side's K sockets: which are open, which peer each one reached.
#[derive(Debug, Clone, Default)]
pub(crate) struct HardSockets {
    /// Sockets asked for, with whether the driver opened them.
    pub(crate) sockets: Vec<(SocketId, bool)>,
    pub(crate) next_greet: Option<Instant>,
    /// Sockets that carry a connected peer: kept when the rest close.
    pub(crate) winners: Vec<SocketId>,
    pub(crate) closed: bool,
}

impl HardSockets {
    pub(crate) fn open_ids(&self) -> impl Iterator<Item = SocketId> + '_ {
        self.sockets.iter().filter(|(_, open)| *open).map(|(s, _)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn probes_follow_the_rate_never_repeat_and_stop_at_the_cap() {
        let t0 = Instant::now();
        let mut rng = Rng::new(42);
        let mut p = Prober::new(&mut rng, 1000, 3000, t0);
        let mut seen = std::collections::HashSet::new();
        let mut now = t0;
        let mut by_1s = 0;
        for step in 0..1000 {
            let ports = p.due(now);
            for port in &ports {
                assert!(*port >= FIRST_PORT);
                assert!(seen.insert(*port), "port {port} probed twice");
                assert!(p.was_probed(*port));
            }
            if now <= t0 + Duration::from_secs(1) {
                by_1s += ports.len();
            }
            assert!(p.due(now).is_empty(), "a second call at the same instant sends nothing");
            now = p.poll_timeout().unwrap_or(now + 10 * MS);
            let _ = step;
        }
        // 1,000/s: about 1,001 by one second (the first one goes at once).
        assert!((990..=1011).contains(&by_1s), "{by_1s}");
        assert_eq!(seen.len(), 3000);
        assert!(p.exhausted());
        assert_eq!(p.poll_timeout(), None);
        assert!(!p.was_probed(80));
    }

    #[test]
    fn a_late_driver_gets_a_bounded_batch() {
        let t0 = Instant::now();
        let mut p = Prober::new(&mut Rng::new(1), 1000, 65535, t0);
        assert_eq!(p.due(t0).len(), 1);
        // 5 s late: at most 100 ms worth at once.
        assert_eq!(p.due(t0 + Duration::from_secs(5)).len(), 100);
    }

    #[test]
    fn the_permutation_covers_the_whole_span() {
        let t0 = Instant::now();
        let mut p = Prober::new(&mut Rng::new(9), 100_000, 65535, t0);
        let mut now = t0 + Duration::from_secs(100);
        let mut all = std::collections::HashSet::new();
        while !p.exhausted() {
            all.extend(p.due(now));
            now += Duration::from_secs(1);
        }
        assert_eq!(all.len() as u32, PORT_SPAN);
    }

    /// Injected outcome: the hard side's 256 mappings are random; the easy side's probes hit one
    /// with the odds the module doc gives (median over seeds within the 50%-at-174 figure).
    #[test]
    fn hits_match_the_birthday_arithmetic() {
        let mut needed = Vec::new();
        for seed in 0..200u64 {
            let mut rng = Rng::new(seed);
            let mut hard = std::collections::HashSet::new();
            while hard.len() < 256 {
                hard.insert(FIRST_PORT + u16::try_from(rng.below(u64::from(PORT_SPAN))).unwrap());
            }
            let t0 = Instant::now();
            let mut p = Prober::new(&mut rng, 1000, 8192, t0);
            let mut now = t0;
            let hit = loop {
                if let Some(_port) = p.due(now).into_iter().find(|port| hard.contains(port)) {
                    break p.sent();
                }
                match p.poll_timeout() {
                    Some(t) => now = t,
                    None => break u32::MAX,
                }
            };
            needed.push(hit);
        }
        needed.sort_unstable();
        let median = needed[needed.len() / 2];
        let p98 = needed[needed.len() * 98 / 100];
        assert!((100..=260).contains(&median), "median probes {median}");
        assert!(p98 <= 1400, "98th percentile {p98}");
    }
}
