//! The Rabid Hole Punch rendezvous server: a sans-IO session engine on the [`rhp_io`] contract,
//! and the tokio shell that drives it from one UDP socket (and an optional alternate STUN one).
//!
//! # A datagram's way through the server
//! 1. [`shell`] (`shell/driver.rs`): the loop wakes for a datagram on the main socket (read by
//!    `shell/single.rs` one per `recv_from`, or `shell/batched.rs` a batch per `recvmmsg`) or on the
//!    alternate socket ([`ALT`]) (or those of another bound address), stamps it with `Instant::now()` and calls
//!    [`Engine::handle_input`] with `Input::Datagram { now, via, from, data }`.
//! 2. [`engine`]: [`Engine::handle_datagram`] counts it and classifies it: on [`ALT`] only STUN;
//!    on the main socket a relay frame (first byte 0xF5), a STUN Binding request, or a Rabid
//!    request (parsed by `rhp_proto`; malformed → `error:invalid_request`, unknown → dropped).
//! 3. `handlers`: the request's handler (one file per request; the relay's frames in
//!    `handlers/relay.rs`, STUN in `handlers/stun.rs`) runs with a narrow handle, `handlers::Cx`:
//!    the lobby (sessions and their counts), the outbox, the timers, the relay's table, the caps.
//!    Steps several handlers share are in `handlers/shared.rs`.
//! 4. `outbox`: every reply is queued as (socket, destination, bytes) into a pooled buffer, past
//!    the anti-reflection [`budget`] of its receiver (relay frames excepted); the sender's account
//!    was credited when the request arrived.
//! 5. The shell drains the engine (the drain rule): [`Engine::poll_transmit`] swaps each datagram
//!    into its one reused [`Transmit`] until it returns `false`, and sends it from the socket the
//!    transmit names (`sendmmsg` batches on the main socket when batched).
//! 6. Timers: the shell sleeps until [`Engine::poll_timeout`] and feeds `Input::Timeout(now)`;
//!    [`Engine::handle_timeout`] pops the due entries of `timers` and hands each to
//!    `handlers/timeout.rs` (idle players, session lifetimes, start rounds, repeated errors) or the
//!    relay's check; their datagrams leave through the same outbox and drain.
//!
//! # Layout
//! - [`engine`]: the engine: the [`rhp_io`] entry points, the dispatch, housekeeping, the
//!   read-only views ([`Snapshot`], counts, [`Engine::check_invariants`]).
//! - `handlers/`: one file per request (`h c p s y k x`, the extensions `e`, `r`, `q`, `u` and `v`),
//!   `stun` for STUN Binding requests, `relay` for the relay's `r:` and frames, `timeout` for fired
//!   timers; `mod.rs` the narrow handle `Cx`, `shared.rs` the steps requests share.
//! - `lobby`: the session store with the counts kept beside it (players, and sessions and
//!   players per source IP) and `also`, the players' proven other-family addresses (`v:`);
//!   `proof`: the `v:` tokens (HMAC under the engine's key).
//! - [`store`]: the only way the engine touches sessions ([`SessionStore`]), and [`MemoryStore`].
//! - [`session`]: a session and its players (the protocol state).
//! - [`bans`]: who a session keeps out (kicked players, by name and network), [`netkey`]: an
//!   IPv4 address or an IPv6 /64 as a key.
//! - [`compact`]: compact names, instants and addresses the tables hold.
//! - `timers`: node-local min-heap of deadlines, one entry per deadline, lazily invalidated.
//! - `outbox`: node-local queue of datagrams to send, each tagged with its socket, with pooled
//!   buffers; every datagram and every budget account change passes there.
//! - [`budget`]: the anti-reflection budget (node-local, per IP, every member's IP, bounded);
//!   `accounts`: its compact table; `slots`: the hash index sized to what it holds.
//! - [`relay`]: the relay's table (node-local): relayed sessions, tokens, caps, counters.
//! - `limits`: per-IP token bucket and session counts, and the refusal log limiter.
//! - [`guard`]: how many password guesses are checked, per network and per session (bounded).
//! - [`secret`]: a session password, compared in constant time, never printed.
//! - [`escape`]: datagram bytes made safe for a log line, secrets redacted.
//! - [`config`]: every timer and limit; the original's timers, with the hardening on by default.
//! - `reconfigure`: new limits for a running engine ([`Engine::reconfigure`], SIGHUP), sessions kept.
//! - [`stats`]: the engine's counters for the metrics, and [`Snapshot`] of everything countable.
//! - [`shell`]: the tokio driver: `shell.rs` the entry points and socket setup, `driver.rs` the one
//!   loop, `single.rs`/`batched.rs` the main socket's two I/O modes, [`shell::batch`] the
//!   `recvmmsg`/`sendmmsg` batches, [`shell::monitor`] the heartbeat, watchdog and snapshots.
//! - `tests/` (unit tests needing private access, with `util.rs`); the engine's and the shell's
//!   tests of the public surface are in `crates/server/tests`.
#![deny(missing_docs)]

mod accounts;
mod also;
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
mod proof;
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
mod visibility;

pub use config::Config;
pub use engine::{Engine, ALT};
pub use escape::{Escaped, Redacted};
pub use guard::{GuardConfig, GuardStats};
pub use relay::{RelayConfig, RelayStats};
pub use rhp_io::{Input, SocketId, Transmit};
pub use session::{Phase, Player, Session};
pub use stats::Snapshot;
pub use store::{IterSessions, MemoryStore, SessionStore};
