//! `rabid-hole-punch host` and `join` (placeholder, being written).
use std::process::ExitCode;

/// Flags of `host`.
#[derive(clap::Args, Debug)]
pub struct HostArgs {}

/// Flags of `join`.
#[derive(clap::Args, Debug)]
pub struct JoinArgs {}

/// Runs `host`.
pub fn run_host(_args: HostArgs) -> ExitCode {
    ExitCode::FAILURE
}

/// Runs `join`.
pub fn run_join(_args: JoinArgs) -> ExitCode {
    ExitCode::FAILURE
}
