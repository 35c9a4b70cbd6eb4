//! The simulation's own unit tests that need private access, one file per module; whole sessions
//! through the simulated network are in `crates/sim/tests`.

mod link;
mod nat;
mod rng;
mod trace;
