//! `rabid-hole-punch serve` (placeholder, being written).
use std::ffi::OsString;
use std::process::ExitCode;

/// Flags of `serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {}

/// The original's `<port> [DEBUG]` form, if `argv` is that.
pub fn legacy_args(_argv: &[OsString]) -> Option<ServeArgs> {
    None
}

/// Runs the server until SIGINT/SIGTERM.
pub fn run(_args: ServeArgs) -> ExitCode {
    ExitCode::FAILURE
}
