//! Rabid Hole Punch client: from the rendezvous server to a confirmed UDP path to every other
//! player, compatible on the wire with the Godot plugin's peers.
//!
//! # Layout
//! - [`config`]: what to do (server, session, player, role) and every timer.
//! - [`engine`]: the sans-IO [`Engine`], a router: `handle_input(Input)` / `poll_output() ->
//!   Output` on the `rhp-io` contract ([`Input`], [`SocketId`], [`Transmit`]); app commands
//!   (`start`, `exit`, `kick`, `unban`) and app data (`send`) are queued and leave through
//!   `poll_output` like everything else. Its four components, each owning its deadlines:
//!   - `lobby`: everything said to and heard from the server (`e:`/`r:`/`y:`, the `n:` list, a
//!     deferred start), around `rendezvous`: the server phase (`h:`/`c:`, pings, start, kick,
//!     unban, exit, the watch socket, silence, `s:`);
//!   - `punch`: the peers (greetings over the ±8 window, pinning, confirmations, `s:<n>`/`y:`),
//!     and after the phase, between our clients only, keepalives (`a:`), leaves (`l:`) and the
//!     host hand-over ([`Event::PeerLeft`], [`Event::HostChanged`]); with `peer_state` (one
//!     other player; [`candidate_ports`]), [`strategy`] (the direct method per peer from both
//!     NAT kinds, [`Method`]) and [`birthday`] (the birthday path's probes and hard-side sockets);
//!   - `classification`: NAT classification, around [`classify`] (STUN to the server's two
//!     ports), reported once as [`NatReport`] (`nat_report`); [`nat_kind`]: what a mapping does
//!     and its `e:`/`n:` token;
//!   - `relay_agent`: the server's relay as a path to peers that also asked for it, around
//!     `relay` (grant, binds, hellos, data, candidates for a later direct path).
//! - `outbox`: the engine's bounded output queues; `sockets`: the client's socket ids
//!   ([`WATCH`], the probe socket, the birthday sockets); `private`: the address-privacy rule;
//!   `rng`: the seeded generator.
//! - [`events`]: what the engine reports ([`Event`], [`PeerInfo`]).
//! - [`error`]: [`ClientError`], one sentence per failure.
//! - [`driver`]: the tokio [`Client`]: binds the main socket and the watch socket, runs the
//!   `pump` (sockets, clock, the drain) until the peer phase is over; `control`: [`Control`],
//!   the application's commands.
//! - [`mesh`]: the result, [`Mesh`]: the pump after the peer phase, and `send`/`recv` of app data.
//! - `nat_probe`: [`probe_nat`], the classification alone on its own sockets.
//!
//! # A datagram's way through the client engine
//! 1. The driver reads it on a socket and feeds `Input::Datagram { now, via, from, data }`.
//! 2. `Engine::route` decides its one destination, by socket, source and first byte:
//! 3. on [`WATCH`]: the server is there (the lobby notes it); nothing else is read;
//! 4. STUN: the classification's probe answers, else (from the server) the relay agent's
//!    public-address answer, else dropped; anything from the server also tells the lobby it is there;
//! 5. from the server, `r:` or a relay frame: the relay agent; what a frame says about a peer
//!    (up, data, candidate, alive, leave) the engine hands to the peers;
//! 6. from the server, anything else: the lobby (its `s:` starts the peers, its `n:` updates them);
//! 7. from anyone else: the peers (`punch`), or kept (at most 64) until our `s:` comes;
//! 8. after every input the components do what fell due (`y:`, `r:`, the relay's timers, a
//!    deferred start, the NAT's report, `e:`), each writing to the one outbox;
//! 9. the driver drains `poll_output`: datagrams, socket opens/closes, events (app data as
//!    [`Event::Data`]), then `Timeout`: the earliest of the four components' deadlines;
//! 10. the driver sends each datagram from the socket its `via` names, and sleeps until then.
//!
//! # Use
//! A host's whole run: the lobby (start once two players are in), the peer phase, a message to
//! every peer and one back, then leave. A joiner is the same with [`Config::join`] and no
//! `start`. (Hidden here: a rendezvous server and a joiner on loopback, so the example runs as a
//! test; `crates/client/examples/two_players.rs` shows both sides.)
//! ```
//! use rhp_client::{Client, ClientError, Config, Event, Path};
//! # fn start_server_and_bob() -> std::io::Result<std::net::SocketAddr> {
//! #     let main = std::net::UdpSocket::bind("127.0.0.1:0")?;
//! #     let server = main.local_addr()?;
//! #     main.set_nonblocking(true)?;
//! #     let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! #     std::thread::spawn(move || rt.block_on(async move {
//! #         let Ok(main) = tokio::net::UdpSocket::from_std(main) else { return };
//! #         let engine = rhp_server::Engine::new(rhp_server::Config::default());
//! #         rhp_server::shell::run(main, engine, std::future::pending()).await;
//! #     }));
//! #     let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! #     std::thread::spawn(move || rt.block_on(async move {
//! #         let bob = Config::join(server, "Room1", "Bob").without_nat_classification();
//! #         let local = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
//! #         // Bob asks until Alice's session exists.
//! #         for _ in 0..50 {
//! #             let Ok((client, _, _)) = Client::bind(bob.clone(), local).await else { return };
//! #             let Ok(mut mesh) = client.run().await else {
//! #                 tokio::time::sleep(std::time::Duration::from_millis(20)).await;
//! #                 continue;
//! #             };
//! #             if let Ok((from, _)) = mesh.recv().await {
//! #                 let _ = mesh.send(&from, b"hello Alice").await;
//! #             }
//! #             let _ = mesh.linger(std::time::Duration::from_millis(100)).await;
//! #             let _ = mesh.close().await;
//! #             return;
//! #         }
//! #     }));
//! #     Ok(server)
//! # }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), ClientError> {
//!     // The rendezvous server, e.g. "203.0.113.7:57775".parse().unwrap().
//!     let server = start_server_and_bob()?;
//!     let config = Config::host(server, "Room1", "Alice", 2).without_nat_classification();
//!     let (client, control, mut events) = Client::bind(config, None).await?;
//!     let run = tokio::spawn(client.run());
//!     // The lobby and the peer phase, as events; `Done` once every peer has a path.
//!     while let Some(event) = events.recv().await {
//!         match event {
//!             Event::Players(players) if players.len() == 2 => control.start(),
//!             Event::Done { connected, total, .. } => {
//!                 println!("{connected} of {total} peers connected");
//!                 break;
//!             }
//!             _ => {}
//!         }
//!     }
//!     let mut mesh = run.await.map_err(|_| ClientError::Stopped)??;
//!     for peer in mesh.connected() {
//!         let path = match peer.path() {
//!             Some(Path::Direct(_, addr)) => format!("direct to {addr}"),
//!             Some(Path::Relay) => "through the server's relay".to_owned(),
//!             None => "none".to_owned(),
//!         };
//!         println!("{}: {path}", peer.name);
//!     }
//!     mesh.send_all(b"hello").await?;
//!     let (from, data) = mesh.recv().await?;
//!     assert_eq!((from.as_str(), &data[..]), ("Bob", &b"hello Alice"[..]));
//!     mesh.close().await?; // tells the peers we leave
//!     Ok(())
//! }
//! ```
#![deny(missing_docs)]

mod also;
mod bind;
pub mod birthday;
mod classification;
pub mod classify;
pub mod config;
mod control;
pub mod driver;
pub mod engine;
pub mod error;
pub mod events;
mod family;
mod lobby;
pub mod mesh;
pub mod nat_kind;
mod nat_probe;
mod nat_report;
mod outbox;
mod peer_state;
mod private;
mod pump;
mod punch;
mod relay;
mod relay_agent;
mod rendezvous;
mod rng;
mod sockets;
pub mod strategy;

#[cfg(test)]
mod tests;
// The unit tests (src/tests/) share the integration tests' helpers, which name this crate
// `rhp_client`: the name resolves inside the crate too.
extern crate self as rhp_client;

pub use config::{BirthdayConfig, Config, NatConfig, Role, Timers};
pub use driver::{Client, Control};
pub use engine::{Engine, Output};
pub use error::ClientError;
pub use events::{Event, FailReason, LeaveReason, Path, PeerInfo, PeerStatus};
pub use mesh::Mesh;
pub use nat_kind::NatKind;
pub use nat_probe::probe_nat;
pub use nat_report::NatReport;
pub use peer_state::{candidate_ports, PORT_WINDOW};
pub use rhp_io::{Input, SocketId, Transmit};
pub use sockets::WATCH;
pub use strategy::Method;
