//! Where the product binary is: `$RHP_BIN`, next to the running executable, or in the target
//! directory.

use crate::sh::{LabError, Result};
use std::path::{Path, PathBuf};

/// Finds the product binary: `$RHP_BIN`, else `rabid-hole-punch` next to the running executable
/// (or one directory up, for test executables in `deps/`), else `$CARGO_TARGET_DIR/debug`, else the
/// workspace's `target/debug`.
pub fn find_product_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("RHP_BIN") {
        return Ok(PathBuf::from(p));
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            candidates.push(dir.join("rabid-hole-punch"));
            if let Some(up) = dir.parent() {
                candidates.push(up.join("rabid-hole-punch"));
            }
        }
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(Path::new(&t).join("debug/rabid-hole-punch"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/rabid-hole-punch"));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        LabError::Check(
            "rabid-hole-punch binary not found: run `cargo build -p rabid-hole-punch` (or set RHP_BIN)"
                .into(),
        )
    })
}
