//! The Rabid Hole Punch rendezvous server: a sans-IO session engine and the tokio shell that
//! drives it from one UDP socket.
//!
//! # Layout
//! - [`config`]: every timer and limit; the original's timers, with the hardening on by default.
//! - [`engine`]: the sans-IO engine — `(now, from, bytes)` and timeouts in, datagrams and the next
//!   deadline out; request dispatch and the steps requests share.
//! - `handlers`: one file per request (`h c p s y k x`, the extensions `e`, `r` and `u`), `stun` for
//!   STUN Binding requests, `relay` for the relay's `r:` and frames, and `timeout` for fired timers.
//! - [`session`]: a session and its players (the protocol state).
//! - [`bans`]: who a session keeps out (kicked players, by name and network), [`netkey`]: an
//!   IPv4 address or an IPv6 /64 as a key.
//! - [`store`]: the only way the engine touches sessions ([`SessionStore`]), and [`MemoryStore`].
//! - `timers`: node-local min-heap of deadlines, one entry per deadline, lazily invalidated.
//! - `outbox`: node-local queue of datagrams to send, with pooled buffers; every datagram passes the
//!   budget there.
//! - [`budget`]: the anti-reflection budget (node-local, per IP, every member's IP, bounded);
//!   `accounts`: its compact table; `slots`: the hash index sized to what it holds.
//! - [`relay`]: the relay's table (node-local): relayed sessions, tokens, caps, counters.
//! - `limits`: per-IP token bucket and session counts, and the refusal log limiter.
//! - `reconfigure`: new limits for a running engine ([`Engine::reconfigure`], SIGHUP), sessions kept.
//! - [`guard`]: how many password guesses are checked, per network and per session (bounded).
//! - [`secret`]: a session password, compared in constant time, never printed.
//! - [`escape`]: datagram bytes made safe for a log line, secrets redacted.
//! - [`stats`]: the engine's counters for the metrics, and [`Snapshot`] of everything countable.
//! - [`shell`]: the tokio driver: the socket (and the optional alternate STUN socket), the clock,
//!   the engine.
#![deny(missing_docs)]

mod accounts;
pub mod bans;
pub mod budget;
pub mod compact;
pub mod config;
pub mod engine;
pub mod escape;
pub mod guard;
mod handlers;
mod limits;
mod lobby;
pub mod netkey;
mod outbox;
mod reconfigure;
pub mod relay;
pub mod secret;
pub mod session;
pub mod shell;
mod slots;
pub mod stats;
pub mod store;
#[cfg(test)]
mod tests;
mod timers;

pub use config::Config;
pub use engine::{Engine, ALT};
pub use escape::{Escaped, Redacted};
pub use guard::{GuardConfig, GuardStats};
pub use relay::{RelayConfig, RelayStats};
pub use rhp_io::{Input, SocketId, Transmit};
pub use session::{Phase, Player, Session};
pub use stats::Snapshot;
pub use store::{IterSessions, MemoryStore, SessionStore};
