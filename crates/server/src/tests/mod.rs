//! Unit tests that need private access (one module per file under test); tests of the public
//! surface are in `crates/server/tests`.

mod accounts;
mod budget;
mod guard;
mod limits;
mod relay;
mod session;
mod slots;
mod timers;
mod util;
