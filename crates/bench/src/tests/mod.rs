//! Unit tests of the binary's private functions (one file per module under test); the smoke test of
//! the `rhp-bench` binary is in `crates/bench/tests`.

mod hist;
mod procfs;
mod relay_worker;
