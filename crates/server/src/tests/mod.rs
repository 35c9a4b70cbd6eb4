//! Unit tests that need private access (one module per file under test); tests of the public
//! surface are in `crates/server/tests`.

mod guard;
mod relay;
mod timers;
mod util;
