//! The password guard: limits how many guesses at a session's password are *checked*, whatever
//! the number of source addresses. Node-local, bounded, sans-IO (every `now` comes from the caller).
//!
//! # The rule
//! A join (`c:`) to a session with a password, from an address that is not already a member, is
//! first admitted or refused by the guard; only an admitted one has its password checked.
//! - A **clean** network (no failed or refused guess from it within [`GuardConfig::memory`],
//!   15 min; a network is an IPv4 address or an IPv6 /64, see [`NetKey`]) is always admitted: a
//!   player with the right password from a clean address gets in, however hard the session is
//!   being attacked from elsewhere.
//! - A **suspect** network (one that failed recently, anywhere) is admitted only while both its
//!   own bucket ([`GuardConfig::per_net_per_min`], burst [`GuardConfig::per_net_burst`]) and the
//!   session's bucket for suspects ([`GuardConfig::session_per_min`], burst
//!   [`GuardConfig::session_burst`]) hold a token.
//! - A failed check takes a token from the network's bucket (and, from a suspect, the session's),
//!   and marks the network suspect for [`GuardConfig::memory`]; a refused guess refreshes that
//!   mark. A right password takes nothing.
//! - A refused guess is answered `error:too_many_requests` **without being checked**, so the
//!   answer says nothing about the password: a right guess beyond the limit gets exactly what a
//!   wrong one gets.
//!
//! So an attacker gets one check per network it owns per 15 minutes, plus the session's suspect
//! rate (the README's Hardening section has the arithmetic). The table of networks is bounded
//! ([`GuardConfig::max_tracked`]); when it is full of live entries a network not in it is treated
//! as suspect with no bucket of its own (fails closed: the session's bucket still bounds it).
//! The per-session state exists only for sessions that saw a failure, and goes with the session
//! ([`Guard::session_ended`]).
//!
//! Failures and refusals are counted ([`GuardStats`]) and logged at most once per session per
//! log interval, with the counts since the last line.

use crate::netkey::NetKey;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tracing::warn;

/// The guard's limits. [`GuardConfig::default`] is the hardened server; [`GuardConfig::off`]
/// checks every guess (the original).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardConfig {
    /// Failed guesses one network may have checked per minute once its burst is spent; 0 = the
    /// guard is off (every guess is checked, as in the original).
    pub per_net_per_min: u32,
    /// Failed guesses one network may have checked in a row (a player mistyping).
    pub per_net_burst: u32,
    /// Guesses from suspect networks one session has checked per minute, all networks together.
    pub session_per_min: u32,
    /// Guesses from suspect networks one session has checked in a row.
    pub session_burst: u32,
    /// A network stays suspect this long after its last failed or refused guess.
    pub memory: Duration,
    /// Most networks tracked at once.
    pub max_tracked: usize,
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        GuardConfig {
            per_net_per_min: 3,
            per_net_burst: 5,
            session_per_min: 6,
            session_burst: 10,
            memory: Duration::from_secs(15 * 60),
            max_tracked: 65_536,
        }
    }
}

impl GuardConfig {
    /// No guard: every guess is checked.
    pub fn off() -> GuardConfig {
        GuardConfig { per_net_per_min: 0, ..GuardConfig::default() }
    }

    fn on(&self) -> bool {
        self.per_net_per_min > 0 && self.session_per_min > 0
    }
}

/// The guard's counters (for the stats line and a later metrics endpoint).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardStats {
    /// Password checks that failed (wrong or missing password).
    pub failed_checks: u64,
    /// Guesses refused without being checked.
    pub refused_unchecked: u64,
    /// Joins refused because a kick keeps the player out (see [`crate::bans`]).
    pub refused_banned: u64,
    /// Networks tracked now (bounded by [`GuardConfig::max_tracked`]).
    pub networks_tracked: usize,
    /// Sessions with guard state now (those that saw a failure).
    pub sessions_watched: usize,
}

/// A token bucket as GCRA: the instant at which it is full again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub(crate) tat: Instant,
}

impl Bucket {
    /// Whether a token is there at `now` (one every `per`, at most `burst` saved).
    pub(crate) fn available(&self, now: Instant, per: Duration, burst: u32) -> bool {
        self.tat.max(now).saturating_duration_since(now) + per <= per * burst.max(1)
    }

    /// Takes a token (callers check [`Bucket::available`] first, or take a first one).
    pub(crate) fn take(&mut self, now: Instant, per: Duration) {
        self.tat = self.tat.max(now) + per;
    }
}

/// One network's record.
#[derive(Debug, Clone, Copy)]
struct NetEntry {
    bucket: Bucket,
    /// Its last failed or refused guess.
    last_bad: Instant,
}

/// One session's record (only for sessions that saw a failure).
#[derive(Debug, Clone, Copy)]
struct SessionEntry {
    /// Checks from suspect networks.
    bucket: Bucket,
    /// Failed checks and refusals since the last log line, and when that line was.
    failed: u64,
    refused: u64,
    last_log: Option<Instant>,
}

/// Whether a guess gets its password checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Check it.
    Check,
    /// Refuse it unchecked (`error:too_many_requests`).
    Refuse,
}

/// The guard's state (see the module doc).
#[derive(Debug)]
pub struct Guard {
    config: GuardConfig,
    log_interval: Duration,
    nets: HashMap<NetKey, NetEntry>,
    sessions: HashMap<u64, SessionEntry>,
    last_sweep: Option<Instant>,
    stats: GuardStats,
}

/// How often the table of networks is swept of entries that are clean again.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

impl Guard {
    /// A guard with `config`, logging each session's failures at most once per `log_interval`.
    pub fn new(config: GuardConfig, log_interval: Duration) -> Guard {
        Guard {
            config,
            log_interval,
            nets: HashMap::new(),
            sessions: HashMap::new(),
            last_sweep: None,
            stats: GuardStats::default(),
        }
    }

    fn per_net(&self) -> Duration {
        Duration::from_secs(60) / self.config.per_net_per_min.max(1)
    }

    fn per_session(&self) -> Duration {
        Duration::from_secs(60) / self.config.session_per_min.max(1)
    }

    /// The live record of `net` at `now` (one that is clean again counts as none).
    fn suspect(&self, now: Instant, net: NetKey) -> Option<&NetEntry> {
        self.nets.get(&net).filter(|e| now < e.last_bad + self.config.memory)
    }

    /// Whether a guess at session `session`'s password from `ip` is checked at `now`. Decided
    /// before the password is looked at, so the answer never depends on it.
    pub fn admit(&mut self, now: Instant, session: u64, ip: IpAddr) -> Admit {
        if !self.config.on() {
            return Admit::Check;
        }
        let net = NetKey::of(ip);
        let (per_net, burst) = (self.per_net(), self.config.per_net_burst);
        let own_ok = match self.suspect(now, net).map(|e| e.bucket.available(now, per_net, burst)) {
            Some(ok) => ok,
            None if self.nets.contains_key(&net) || self.has_room(now) => return Admit::Check,
            // The table is full of live entries: a new network is a suspect without a bucket.
            None => true,
        };
        let per = self.per_session();
        let session_ok = self
            .sessions
            .get(&session)
            .is_none_or(|s| s.bucket.available(now, per, self.config.session_burst));
        if own_ok && session_ok {
            return Admit::Check;
        }
        self.stats.refused_unchecked += 1;
        if let Some(e) = self.nets.get_mut(&net) {
            e.last_bad = now;
        }
        let entry = self.session_entry(now, session);
        entry.refused += 1;
        Admit::Refuse
    }

    /// A check admitted at `now` failed: charges the network (and, from a suspect, the session).
    pub fn failed(&mut self, now: Instant, session: u64, ip: IpAddr) {
        self.stats.failed_checks += 1;
        if !self.config.on() {
            return;
        }
        let net = NetKey::of(ip);
        let was_suspect = self.suspect(now, net).is_some() || !self.has_room(now);
        let per_net = self.per_net();
        let memory = self.config.memory;
        if let Some(e) = self.nets.get_mut(&net) {
            if now >= e.last_bad + memory {
                // Clean again: a fresh bucket.
                e.bucket = Bucket { tat: now };
            }
            e.bucket.take(now, per_net);
            e.last_bad = now;
        } else if self.nets.len() < self.config.max_tracked {
            let mut bucket = Bucket { tat: now };
            bucket.take(now, per_net);
            self.nets.insert(net, NetEntry { bucket, last_bad: now });
        }
        let per = self.per_session();
        let entry = self.session_entry(now, session);
        entry.failed += 1;
        if was_suspect {
            entry.bucket.take(now, per);
        }
    }

    /// Logs session `name`'s failures and refusals if its interval has passed since its last line.
    pub fn maybe_log(&mut self, now: Instant, session: u64, name: &str, from: std::net::SocketAddr) {
        let interval = self.log_interval;
        let Some(e) = self.sessions.get_mut(&session) else { return };
        if e.last_log.is_some_and(|t| now < t + interval) {
            return;
        }
        warn!(
            "session {name}: {} wrong passwords checked, {} guesses refused unchecked (the last from {from})",
            e.failed, e.refused
        );
        e.failed = 0;
        e.refused = 0;
        e.last_log = Some(now);
    }

    /// A join refused by a ban (counted here with the other refusals of a join).
    pub fn banned(&mut self) {
        self.stats.refused_banned += 1;
    }

    /// Session `session` is gone: its record goes too.
    pub fn session_ended(&mut self, session: u64) {
        self.sessions.remove(&session);
    }

    /// The counters.
    pub fn stats(&self) -> GuardStats {
        GuardStats { networks_tracked: self.nets.len(), sessions_watched: self.sessions.len(), ..self.stats }
    }

    fn session_entry(&mut self, now: Instant, session: u64) -> &mut SessionEntry {
        self.sessions.entry(session).or_insert(SessionEntry {
            bucket: Bucket { tat: now },
            failed: 0,
            refused: 0,
            last_log: None,
        })
    }

    /// Whether a new network can be tracked (sweeping clean ones first when needed).
    fn has_room(&mut self, now: Instant) -> bool {
        if self.last_sweep.is_none_or(|t| now >= t + SWEEP_EVERY)
            || self.nets.len() >= self.config.max_tracked
        {
            self.sweep(now);
        }
        self.nets.len() < self.config.max_tracked
    }

    /// Drops networks that are clean again and whose bucket is full.
    fn sweep(&mut self, now: Instant) {
        if self.last_sweep.is_some_and(|t| now < t + Duration::from_secs(1)) {
            return;
        }
        self.last_sweep = Some(now);
        let memory = self.config.memory;
        self.nets.retain(|_, e| now < e.last_bad + memory || e.bucket.tat > now);
        if self.nets.capacity() > 64 && self.nets.len() < self.nets.capacity() / 4 {
            self.nets.shrink_to(self.nets.len() * 2);
        }
    }
}
