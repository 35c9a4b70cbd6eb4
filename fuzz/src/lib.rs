//! The fuzz harnesses, shared by the libFuzzer targets (`fuzz_targets/`, nightly) and by the
//! stable corpus replay test (`crates/server/tests/fuzz_corpus.rs` includes `harness.rs`).
pub mod harness;
