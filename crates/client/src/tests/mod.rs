//! The client's unit tests that need the crate's insides (the relay's and the punch's private
//! constants): single engines fed by hand on an injected clock. The engine tests on the public
//! API are in `crates/client/tests/`; whole sessions with the real server run in `rhp-sim`
//! (`crates/sim/tests`).
//!
//! - `util`: the server's address and the helpers the engine-level files share.
//! - `relay`: the server's relay as a path. `private`: a private client.
//! - One file per module whose private parts are tested alone: `birthday`, `family`,
//!   `private_rule` (the send rule of `private.rs`), `relay_session` (the relay's member table),
//!   `rng`, `strategy`.

mod birthday;
mod family;
mod private;
mod private_rule;
mod relay;
mod relay_session;
mod rng;
mod strategy;
// The engine-test helpers are the integration tests' own (one copy): they name the crate
// `rhp_client`, which `lib.rs` makes resolve here too.
#[path = "../../tests/common/mod.rs"]
mod util;
