//! The engine's own counters (plain integers, bumped where the event happens) and [`Snapshot`],
//! everything an operator may want to read at one moment, taken by [`Engine::snapshot`] at scrape
//! time. Counters that other parts already keep (the relay's [`RelayStats`], the budget's held-back
//! count, the store's sizes) are read from there, not counted twice.

use crate::limits::Refusal;
use crate::relay::RelayStats;
use rhp_proto::{ErrorCode, Request};
use std::time::Duration;

/// Request kinds, as labels: the ten request types, then the malformed and unknown datagrams,
/// then the extensions added since (`q:` private, `v:` also).
pub const REQUEST_KINDS: [&str; 14] = [
    "host", "connect", "ping", "start", "confirm", "kick", "exit", "nat", "relay", "unban", "invalid",
    "unknown", "private", "also",
];

/// Index in [`REQUEST_KINDS`] of a datagram that did not parse.
pub(crate) const KIND_INVALID: usize = 10;
/// Index in [`REQUEST_KINDS`] of a datagram of an unknown type.
pub(crate) const KIND_UNKNOWN: usize = 11;

/// Every error code the server sends, in the order of [`Snapshot::errors`].
pub const ERROR_CODES: [ErrorCode; ErrorCode::EVERY.len()] = ErrorCode::EVERY;

/// The caps of `h:`/`c:`, as labels, in the order of [`Snapshot::refusals`].
pub const CAPS: [&str; 5] = ["create_rate", "sessions_per_ip", "sessions", "players", "players_per_ip"];

/// Upper bounds (seconds) of the start histogram's buckets; a last bucket takes the rest.
pub const START_BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The index of a request in [`REQUEST_KINDS`].
pub(crate) fn request_kind(r: &Request<'_>) -> usize {
    match r {
        Request::Host { .. } => 0,
        Request::Connect { .. } => 1,
        Request::Ping { .. } => 2,
        Request::Start { .. } => 3,
        Request::Confirm { .. } => 4,
        Request::Kick { .. } => 5,
        Request::Exit { .. } => 6,
        Request::Ext { .. } => 7,
        Request::Relay { .. } => 8,
        Request::Unban { .. } => 9,
        Request::Private { .. } => 12,
        Request::Also { .. } => 13,
    }
}

/// The index of `code` in [`ERROR_CODES`].
fn error_index(code: ErrorCode) -> usize {
    ERROR_CODES.iter().position(|c| *c == code).unwrap_or(0)
}

/// The index of a cap refusal in [`CAPS`], if it is one of `h:`/`c:`'s.
fn cap_index(why: Refusal) -> Option<usize> {
    match why {
        Refusal::RateLimited => Some(0),
        Refusal::TooManySessionsForIp => Some(1),
        Refusal::TooManySessions => Some(2),
        Refusal::TooManyPlayers => Some(3),
        Refusal::TooManyPlayersForIp => Some(4),
        Refusal::Relay(_) => None,
    }
}

/// Counters of the engine's dispatch (datagrams in, requests, refusals, STUN, starts).
#[derive(Debug, Default, Clone)]
pub(crate) struct Counters {
    /// Datagrams received (both sockets, relay frames and STUN included) and their bytes.
    pub(crate) datagrams_in: u64,
    pub(crate) bytes_in: u64,
    /// Requests by [`REQUEST_KINDS`] index.
    pub(crate) requests: [u64; REQUEST_KINDS.len()],
    /// `v:` requests dropped unanswered (unchecked steps, or answers the budget refused).
    pub(crate) also_dropped: u64,
    /// Refusals by [`CAPS`] index.
    pub(crate) refusals: [u64; 5],
    /// STUN datagrams on the main and the alternate port.
    pub(crate) stun: [u64; 2],
    /// Sessions in the starting phase now (sessions open = all - these).
    pub(crate) starting: usize,
    /// Time from a host's `s:` to the first round of start messages.
    pub(crate) start: StartHistogram,
}

impl Counters {
    /// Counts a refusal by a cap.
    pub(crate) fn refused(&mut self, why: Refusal) {
        if let Some(i) = cap_index(why) {
            self.refusals[i] += 1;
        }
    }
}

/// Counters of what leaves the outbox (kept there: the one place datagrams pass).
#[derive(Debug, Default, Clone)]
pub(crate) struct OutCounters {
    /// Datagrams handed to the shell (both sockets) and their bytes.
    pub(crate) datagrams: u64,
    pub(crate) bytes: u64,
    /// Error replies queued, by [`ERROR_CODES`] index.
    pub(crate) errors: [u64; ERROR_CODES.len()],
}

impl OutCounters {
    /// Counts an error reply that was queued.
    pub(crate) fn error(&mut self, code: ErrorCode) {
        self.errors[error_index(code)] += 1;
    }
}

/// A histogram with the fixed buckets [`START_BUCKETS`] (non-cumulative counts; the last slot is
/// beyond the last bound).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StartHistogram {
    /// Observations per bucket.
    pub buckets: [u64; 13],
    /// Sum of the observations, in seconds.
    pub sum_seconds: f64,
    /// Number of observations.
    pub count: u64,
}

impl StartHistogram {
    /// Records one duration.
    pub(crate) fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        let i = START_BUCKETS.iter().position(|b| s <= *b).unwrap_or(START_BUCKETS.len());
        self.buckets[i] += 1;
        self.sum_seconds += s;
        self.count += 1;
    }
}

/// Everything an operator may read from the engine at one moment.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Open sessions (accepting joins).
    pub sessions_open: usize,
    /// Sessions sending start messages.
    pub sessions_starting: usize,
    /// Players over all sessions.
    pub players: usize,
    /// Datagrams received and their bytes.
    pub datagrams_in: u64,
    /// Bytes of the datagrams received.
    pub bytes_in: u64,
    /// Datagrams handed to the shell to send.
    pub datagrams_out: u64,
    /// Bytes of those datagrams.
    pub bytes_out: u64,
    /// Requests by kind, in the order of [`REQUEST_KINDS`].
    pub requests: [u64; REQUEST_KINDS.len()],
    /// Error replies by code, in the order of [`ERROR_CODES`].
    pub errors: [u64; ERROR_CODES.len()],
    /// Refusals by cap, in the order of [`CAPS`].
    pub refusals: [u64; 5],
    /// STUN requests on the main port and on the alternate port.
    pub stun: [u64; 2],
    /// Datagrams the anti-reflection budget held back (not sent, or sent later).
    pub budget_held_back: u64,
    /// Bytes of those datagrams.
    pub budget_held_back_bytes: u64,
    /// Addresses the budget tracks.
    pub budget_tracked: usize,
    /// IPs the create-rate limiter tracks.
    pub rate_tracked: usize,
    /// IPs with a live session (the per-IP session count).
    pub per_ip_tracked: usize,
    /// Timer entries queued.
    pub timers: usize,
    /// The relay's counters.
    pub relay: RelayStats,
    /// Time from a host's `s:` to every player's (first) start message.
    pub start: StartHistogram,
    /// The password guard's and the bans' counters.
    pub guard: crate::guard::GuardStats,
    /// `v:` requests dropped without an answer (not checked, or the answer did not fit the
    /// budget).
    pub also_dropped: u64,
    /// Players' other-family addresses held (`v:`).
    pub also_held: usize,
}
