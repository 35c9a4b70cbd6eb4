//! Rabid Hole Punch wire format: every message of the protocol, parsed and rendered, with no I/O and
//! no clock.
//!
//! # Layout
//! - [`name`]: the grammar of session names, player names, passwords and the max-players field.
//! - [`addr`]: an `ip:port` inside a message (IPv6 in brackets).
//! - [`error_code`]: the `error:` codes the server sends (the original fourteen and three for caps).
//! - [`request`]: what a client sends the server (`h c p s y k x`, and our clients' `e r q u v`), borrowed
//!   from the datagram.
//! - [`reply`]: what the server sends a client (`i:`, `s:`, `error:`, and our clients' `n:` and `v:`),
//!   rendered and parsed.
//! - [`stun`]: STUN Binding requests and responses (RFC 8489 and classic RFC 3489), told apart from
//!   Rabid text by their header.
//! - [`relay`]: the relay's binary frames and its `r:` grant.
//! - [`peer`]: what peers send each other after the server phase (`g: c: s: y:` and app data `d:`).
//! - [`escape`] and [`redact`]: a datagram made safe for a log line, its secrets hidden.
//! - [`ParseError`]: why bytes are not a message.
//!
//! Every message is one UDP datagram of UTF-8 text, fields separated by `:`, no terminator.
#![deny(missing_docs)]

pub mod addr;
pub mod error_code;
pub mod escape;
pub mod name;
pub mod parse_error;
pub mod peer;
pub mod redact;
pub mod relay;
pub mod reply;
pub mod request;
pub mod stun;

pub use error_code::ErrorCode;
pub use parse_error::ParseError;
pub use peer::PeerMessage;
pub use reply::{NatEntry, PeerAddr, Reply};
pub use request::Request;

/// The longest request the grammar allows: `h:` + 10 + `:` + 12 + `:` + 2 + `:` + 12 bytes (our
/// extensions are shorter). Anything longer is `error:invalid_request` without being read further.
pub const MAX_REQUEST_LEN: usize = 2 + 10 + 1 + 12 + 1 + 2 + 1 + 12;

/// The UDP port the Godot plugin talks to by default, and the server's default port.
pub const DEFAULT_PORT: u16 = 57775;
