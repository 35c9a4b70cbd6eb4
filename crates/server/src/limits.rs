//! Caps on what one source may create, and a log limiter so that refusals cannot flood the log.
//! Node-local, keyed by IP, bounded in size.
//!
//! - [`RateLimiter`]: a token bucket per source IP (kept as GCRA: one "theoretical arrival time"
//!   per IP) on requests that create state (a session by `h:`, a player by `c:`). `rate` tokens a
//!   second, at most `burst` saved up. An IP whose bucket is full again holds nothing and its entry
//!   is dropped by a sweep. When the table is full a new IP is refused (fails closed) after a sweep.
//! - [`PerIpCount`]: live sessions per creator network, relayed members per IP; keyed by
//!   [`crate::netkey::NetKey::addr`] where a network counts as one source (an IPv4 address, an
//!   IPv6 /64).
//! - [`LogLimiter`]: at most one log line per source and kind per interval.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Most IPs a [`RateLimiter`] or [`LogLimiter`] tracks at once.
pub(crate) const MAX_TRACKED_IPS: usize = 65_536;

/// Token bucket per IP on state-creating requests.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Time per token; `None` = unlimited.
    per_token: Option<Duration>,
    /// Tokens that may be saved up (at least 1).
    burst: u32,
    /// The instant at which each IP's bucket is full again (GCRA's theoretical arrival time).
    tat: HashMap<IpAddr, Instant>,
    last_sweep: Option<Instant>,
}

impl RateLimiter {
    /// `rate` tokens a second (0 = unlimited), `burst` at most saved up.
    pub(crate) fn new(rate: u32, burst: u32) -> RateLimiter {
        let per_token = (rate > 0).then(|| Duration::from_secs(1) / rate);
        RateLimiter { per_token, burst: burst.max(1), tat: HashMap::new(), last_sweep: None }
    }

    /// New rate and burst; the saved-up state of every IP is kept.
    pub(crate) fn reconfigure(&mut self, rate: u32, burst: u32) {
        let fresh = RateLimiter::new(rate, burst);
        (self.per_token, self.burst) = (fresh.per_token, fresh.burst);
    }

    /// Takes a token for `ip` at `now`; false if it has none left.
    pub(crate) fn take(&mut self, now: Instant, ip: IpAddr) -> bool {
        let Some(t) = self.per_token else { return true };
        if !self.tat.contains_key(&ip) && self.tat.len() >= MAX_TRACKED_IPS {
            self.sweep(now, true);
            if self.tat.len() >= MAX_TRACKED_IPS {
                return false;
            }
        }
        let tat = self.tat.entry(ip).or_insert(now);
        let base = (*tat).max(now);
        // Refuse if taking one more token would need more than `burst` saved up.
        if base.saturating_duration_since(now) + t > t * self.burst {
            return false;
        }
        *tat = base + t;
        true
    }

    /// Drops IPs whose bucket is full again (at most once a second unless forced).
    pub(crate) fn sweep(&mut self, now: Instant, force: bool) {
        if !force && self.last_sweep.is_some_and(|l| now < l + Duration::from_secs(1)) {
            return;
        }
        self.last_sweep = Some(now);
        self.tat.retain(|_, tat| *tat > now);
        if self.tat.capacity() > 64 && self.tat.len() < self.tat.capacity() / 4 {
            self.tat.shrink_to(self.tat.len() * 2);
        }
    }

    /// IPs tracked.
    pub(crate) fn tracked(&self) -> usize {
        self.tat.len()
    }
}

/// A live count per IP (or per network, keyed by [`crate::netkey::NetKey::addr`]).
#[derive(Debug, Default)]
pub(crate) struct PerIpCount {
    /// IPv4 addresses as u32 keys: 8 bytes a slot instead of 24.
    v4: HashMap<u32, u32>,
    v6: HashMap<Ipv6Addr, u32>,
}

/// Decrements `key`'s count, dropping it at 0 and giving memory back after a burst.
fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, u32>, key: K) {
    if let Some(c) = counts.get_mut(&key) {
        *c = c.saturating_sub(1);
        if *c == 0 {
            counts.remove(&key);
            if counts.capacity() > 64 && counts.len() < counts.capacity() / 4 {
                counts.shrink_to(counts.len() * 2);
            }
        }
    }
}

impl PerIpCount {
    pub(crate) fn get(&self, ip: IpAddr) -> u32 {
        match ip {
            IpAddr::V4(a) => self.v4.get(&u32::from(a)),
            IpAddr::V6(a) => self.v6.get(&a),
        }
        .copied()
        .unwrap_or(0)
    }

    pub(crate) fn add(&mut self, ip: IpAddr) {
        let c = match ip {
            IpAddr::V4(a) => self.v4.entry(u32::from(a)).or_insert(0),
            IpAddr::V6(a) => self.v6.entry(a).or_insert(0),
        };
        *c += 1;
    }

    pub(crate) fn remove(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => decrement(&mut self.v4, u32::from(a)),
            IpAddr::V6(a) => decrement(&mut self.v6, a),
        }
    }

    /// The counts summed.
    pub(crate) fn total(&self) -> u32 {
        self.v4.values().chain(self.v6.values()).sum()
    }

    /// IPs counted.
    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

/// What a refusal log line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Refusal {
    RateLimited,
    TooManySessionsForIp,
    TooManyPlayersForIp,
    TooManySessions,
    TooManyPlayers,
    /// A relay cap, by its wire code.
    Relay(u8),
}

/// At most one log line per (source IP, refusal kind) per interval; beyond its table size, one
/// line per kind per interval for all sources together.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    interval: Duration,
    last: HashMap<(Option<IpAddr>, Refusal), Instant>,
    /// Refusals not logged since the last line for their key.
    suppressed: HashMap<(Option<IpAddr>, Refusal), u64>,
}

impl LogLimiter {
    pub(crate) fn new(interval: Duration) -> LogLimiter {
        LogLimiter { interval, last: HashMap::new(), suppressed: HashMap::new() }
    }

    /// A new interval; what was logged when is kept.
    pub(crate) fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// Whether to log this refusal now; if so, also how many were suppressed before it.
    pub(crate) fn should_log(&mut self, now: Instant, ip: IpAddr, what: Refusal) -> Option<u64> {
        let mut key = (Some(ip), what);
        if !self.last.contains_key(&key) && self.last.len() >= MAX_TRACKED_IPS {
            let interval = self.interval;
            self.last.retain(|_, t| now < *t + interval);
            let last = &self.last;
            self.suppressed.retain(|k, _| last.contains_key(k));
            if self.last.len() >= MAX_TRACKED_IPS {
                key = (None, what);
            }
        }
        match self.last.get(&key) {
            Some(t) if now < *t + self.interval => {
                *self.suppressed.entry(key).or_insert(0) += 1;
                None
            }
            _ => {
                self.last.insert(key, now);
                Some(self.suppressed.remove(&key).unwrap_or(0))
            }
        }
    }
}
