//! One file per request (and one for timers), each with that request's order of checks,
//! mini-redis style: a handler gets a [`Cx`], the narrow handle on the parts of the engine a
//! request may change (the session store with its counts, the outbox with its budget, the
//! timers, the relay's table, the caps), never the engine itself (its datagram counters, its
//! housekeeping, its stats timer). The steps several handlers share (a player's own address
//! checked, a player removed, a session deleted, a refusal, repeated errors) are in [`shared`].
//!
//! Order of checks, and the four fixes of the original's bugs, follow `PROTOCOL-NOTES.md`:
//! - [`host`] `h`: starting name → `session_exists`; open name: host's own address → `i:` again,
//!   else `session_exists`; otherwise create.
//! - [`connect`] `c`: not open → `session_non_existent`; a kicked player (by name or network,
//!   unless it is the member's own retransmit) → `kicked_by_host`; the password guard refuses an
//!   unchecked guess → `too_many_requests`; password → `password_mismatch`; the
//!   member's own address → `i:` again (fix 1: before `session_full`); full → `session_full`; name
//!   taken → `player_name_in_use`; otherwise join and send `i:` to all.
//! - [`ping`] `p`, [`confirm`] `y`, [`exit`] `x`: only the player's own address counts (fix 2).
//! - [`confirm`] `y` stops the start messages to that player only (fix 3).
//! - [`exit`] `x` sends the remaining players the new `i:` list (fix 4).
//! - [`start`] `s`, [`kick`] `k`: the host is decided by address; a kicked player is kept out of
//!   the session for its life ([`crate::bans`]).
//! - [`unban`] `u` (extension): the host lets a kicked player back.
//! - [`timeout`]: player silence, session lifetime, start rounds, error copies.
//! - [`ext`] `e` (extension): a NAT descriptor, checked like a ping, answered `n:`.
//! - [`stun`]: STUN Binding requests on the main and the alternate port.
//! - [`relay`] `r` (extension): asks for the relay, checked like a ping, no answer in the lobby;
//!   also the relay's frames and its timer.
//! - [`private`] `q` (extension): keep my address private (implies the relay), checked like a ping.
//! - [`also`] `v` (extension): a player's address in the other family, in two steps (a token sent
//!   to the new address, the proof from the session address); anything unchecked is dropped.

use crate::config::Config;
use crate::guard::Guard;
use crate::limits::{LogLimiter, RateLimiter};
use crate::lobby::Lobby;
use crate::outbox::Outbox;
use crate::proof::ProofKey;
use crate::relay::RelayTable;
use crate::stats::Counters;
use crate::timers::Timers;

mod also;
mod confirm;
mod connect;
mod exit;
mod ext;
mod host;
mod kick;
mod ping;
mod private;
mod relay;
pub(crate) mod shared;
mod start;
mod stun;
mod timeout;
mod unban;

/// What a handler may touch: each part through its own methods (the lobby keeps its counts, the
/// outbox its budget). Built by [`crate::Engine`] for one request or one fired timer.
pub(crate) struct Cx<'a, S> {
    pub(crate) config: &'a Config,
    /// The sessions and their counts.
    pub(crate) lobby: &'a mut Lobby<S>,
    /// Datagrams to send, through the anti-reflection budget.
    pub(crate) out: &'a mut Outbox,
    pub(crate) timers: &'a mut Timers,
    /// The relay's sessions and tokens.
    pub(crate) relay: &'a mut RelayTable,
    /// Creations per IP (the caps).
    pub(crate) rate: &'a mut RateLimiter,
    /// How often a refusal is logged.
    pub(crate) log_limit: &'a mut LogLimiter,
    /// Password guesses.
    pub(crate) guard: &'a mut Guard,
    /// The counters handlers keep: sessions starting, start times, refusals.
    pub(crate) counters: &'a mut Counters,
    /// The key of the `v:` tokens.
    pub(crate) proof: &'a ProofKey,
}
