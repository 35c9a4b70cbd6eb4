//! The client's unit tests that need private access, one file per module under test; the tests
//! of the public surface are in `crates/client/tests`.
//!
//! Declared from `lib.rs` by path for now: `src/tests.rs` (the engine's simulated tests, which the
//! rhp-sim work moves out) still holds the `tests` name. Once it is gone, these `mod` lines join
//! `src/tests/mod.rs` and this file goes.

mod birthday;
mod family;
mod private_rule;
mod relay_session;
mod rng;
mod strategy;
