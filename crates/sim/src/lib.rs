//! `rhp-sim`: one virtual network in which the **real** rendezvous server engine and N **real**
//! client engines run together, through NAT models and impaired links, on one virtual clock.
//!
//! Nothing sleeps and nothing reads the clock but once (the base instant): time jumps from one
//! delivery or deadline to the next, so a 15-minute session timeout runs in milliseconds. One
//! seed decides everything random (loss, jitter, random NAT ports, the clients' seeds): the
//! same seed gives the same run, bit for bit ([`Sim::digest_value`], over every byte of every
//! datagram: the server's relay tokens come from the same seed). It is the place where rules
//! that involve both engines (and, next, several server nodes) are tested.
//!
//! # Layout
//! - [`net`]: the [`Sim`]: clock, sites (NAT chains) and clients, the in-flight queue, `step`,
//!   the bounded runs, the filter hook (drop, duplicate or hold a chosen datagram), a stopped or
//!   muted server. A datagram's way through it is described there, in order.
//! - [`nat`]: one NAT router from the lab's behaviours as data (`rhp_lab::nat`): mapping,
//!   filtering, port allocation, hairpin, mapping timeout; unit-tested alone.
//! - [`firewall`]: a dual-stack site's stateful IPv6 firewall (no translation; established
//!   flows only), unit-tested alone.
//! - [`link`]: a link's delay, jitter, loss, reordering and duplication.
//! - [`endpoint`]: the only file that knows the engines' APIs: the server and a client behind
//!   the `rhp-io` contract.
//! - [`session`]: a session as tests run it (players, lobby, start, what each pair ended on).
//! - [`rng`]: the seeded generator; [`trace`]: the run's digest.
//! - [`cluster`]: several server nodes (`rhp-cluster`) with a store model, scripted players and
//!   real clients on public addresses: a network of its own beside [`Sim`].
//!
//! # Tests (`tests/`)
//! - `matrix.rs`: every lab NAT pair clean, lossy (10% + 50 ms) and rough (jitter, reordering,
//!   duplication), groups of 3 and 12, the same-NAT hairpin cell, each against
//!   `rhp_lab::theory`; a seeded run reproducible bit for bit.
//! - `client_sessions.rs`, `client_leave.rs`: whole sessions, leaves, silences and the host
//!   hand-over (the client's former FakeServer tests), and a NAT that forgets its mappings.
//! - `client_lobby.rs`: refusals, kick and unban, exit, the session lifetime, data direct and
//!   relayed, a private player.
//! - `server_gone.rs`: a stopped or muted server, the filter hook, bounded idle runs.
//! - `dual_stack.rs`: dual-stack pairs (symmetric IPv4 NATs crossed over IPv6, clean and lossy),
//!   IPv6-only pairs, IPv4-only against dual-stack, the IPv6/IPv4 share where both work;
//!   `firewall.rs`: the IPv6 firewall alone.
//! - `cluster_*.rs`: several nodes: the same datagrams as on one node, name races, a dead node,
//!   an unreachable store.
#![deny(missing_docs)]

pub mod cluster;
pub mod endpoint;
pub mod firewall;
pub mod link;
pub mod nat;
pub mod net;
pub mod rng;
pub mod session;
pub mod trace;

#[cfg(test)]
mod tests;

pub use link::Link;
pub use net::{Node, Packet, Sim, Verdict, SERVER, SERVER6, SERVER6_ALT, SERVER_ALT};
