//! The client's unit tests: single engines fed by hand on an injected clock, for what needs the
//! crate's private parts or wire-exact timing. Whole sessions with the real server run in
//! `rhp-sim` (`crates/sim/tests`).
//!
//! - `util`: the server's address and the helpers every file shares.
//! - `engine`: the lobby's and the peer phase's timing rules.
//! - `leave`: a peer's silence after the application stopped driving the engine.
//! - `nat`: NAT classification, `e:`/`n:`, prediction and the birthday path.
//! - `relay`: the server's relay as a path. `private`: a private client.
//! - `watch`: the lobby's view of the server (watch socket, unreachable, silence).

mod engine;
mod leave;
mod nat;
mod private;
mod relay;
mod util;
mod watch;
