//! The client's unit tests that need the crate's insides (the relay's and the punch's private
//! constants): single engines fed by hand on an injected clock. The engine tests on the public
//! API are in `crates/client/tests/`; whole sessions with the real server run in `rhp-sim`
//! (`crates/sim/tests`).
//!
//! - `util`: the server's address and the helpers both files share.
//! - `relay`: the server's relay as a path. `private`: a private client.

mod private;
mod relay;
mod util;
