//! One file per request (and one for timers), each an `impl Engine` block with that request's
//! order of checks, mini-redis style. The shared steps (removing a player, deleting a session,
//! repeated errors) are in [`crate::engine`].
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

mod confirm;
mod connect;
mod exit;
mod ext;
mod host;
mod kick;
mod ping;
mod private;
mod relay;
mod start;
mod stun;
mod timeout;
mod unban;
