//! Unit tests of the binary's private functions (one file per module under test); the black-box
//! tests of the `rhp` binary are in `crates/cli/tests`.

mod ops_args;
mod ops_process;
mod resolve;
mod serve;
mod serve_args;
mod stream;
