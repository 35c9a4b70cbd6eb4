//! Rabid Hole Punch client: from the rendezvous server to a confirmed UDP path to every other
//! player, compatible on the wire with the Godot plugin's peers.
//!
//! # Layout
//! - [`config`]: what to do (server, session, player, role) and every timer.
//! - [`engine`]: the sans-IO [`Engine`]: `handle_input(Input)` / `poll_output() -> Output`.
//! - `rendezvous`: the server phase (`h:`/`c:`, pings, start, kick, exit, `s:` → `y:`).
//! - `punch`: the peer phase (greetings over the ±8 window, pinning, confirmations, `s:<n>`/`y:`).
//! - `peer_state`: one other player during the peer phase; [`candidate_ports`].
//! - `outbox`: the engine's bounded output queues; [`Transmit`].
//! - [`classify`]: NAT classification by STUN to the server's two ports ([`NatReport`]);
//!   [`nat_kind`]: what a mapping does and its `e:`/`n:` token.
//! - `relay`: the server's relay as a path to peers that also asked for it (grant, binds,
//!   hellos, data, candidates for a later direct path);
//! - [`strategy`]: the direct method per peer from both NAT kinds ([`Method`]);
//!   [`birthday`]: the birthday path's probe schedule and hard-side sockets.
//! - [`events`]: what the engine reports ([`Event`], [`PeerInfo`]).
//! - [`error`]: [`ClientError`], one sentence per failure.
//! - [`driver`]: the tokio driver: one `UdpSocket` for the whole run, the clock, a command handle.
//! - [`mesh`]: the result, [`Mesh`]: the socket, the peers, and `send`/`recv` of app data.
//!
//! # Use
//! ```no_run
//! # async fn demo() -> Result<(), rhp_client::ClientError> {
//! use rhp_client::{Client, Config, Event};
//! let server = "127.0.0.1:57775".parse().unwrap();
//! let (client, control, mut events) = Client::bind(Config::host(server, "Room1", "Alice", 2), None).await?;
//! let run = tokio::spawn(client.run());
//! while let Some(event) = events.recv().await {
//!     match event {
//!         Event::Players(players) if players.len() == 2 => control.start(),
//!         Event::Done { .. } => break,
//!         _ => {}
//!     }
//! }
//! let mut mesh = run.await.map_err(|_| rhp_client::ClientError::Stopped)??;
//! mesh.send_all(b"hello").await?;
//! let (from, data) = mesh.recv().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod birthday;
pub mod classify;
pub mod config;
pub mod driver;
pub mod engine;
pub mod error;
pub mod events;
pub mod mesh;
pub mod nat_kind;
mod nat_probe;
mod outbox;
mod peer_state;
mod punch;
mod relay;
mod rendezvous;
mod rng;
pub mod strategy;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_leave;
#[cfg(test)]
mod tests_nat;
#[cfg(test)]
mod tests_relay;

pub use classify::NatReport;
pub use config::{BirthdayConfig, Config, NatConfig, Role, Timers};
pub use driver::{Client, Control};
pub use engine::{Engine, Input, Output};
pub use error::ClientError;
pub use events::{Event, FailReason, LeaveReason, Path, PeerInfo, PeerStatus};
pub use mesh::Mesh;
pub use nat_kind::NatKind;
pub use nat_probe::probe_nat;
pub use outbox::{SocketId, Transmit};
pub use peer_state::{candidate_ports, PORT_WINDOW};
pub use strategy::Method;
