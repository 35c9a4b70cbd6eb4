//! A datagram as it may appear in a log: escaped like [`Escaped`], with every secret it carries
//! replaced by `<redacted>`:
//! - the password of `h:S:P:MAX:PASS` and `c:S:P:PASS` (every field from the password's position
//!   on, so a malformed request with a password in it is hidden too);
//! - the token of a relay grant `r:<16 hex digits>:<names>` (the request `r:S:P` has none);
//! - the token of `v:` (a proof of reading the player's session address): the server's answer
//!   `v:<12 hex digits>`, and every field from the token's position on in the request
//!   `v:S:P:<token>` (`v:S:P` and `v:ok` carry none);
//! - relay frames (first byte 0xF5): only their kind and length are shown, never the token a
//!   client's frame carries nor the payload players send each other.
//!
//! The relay's parsed frames and grants (`ToServer`, `Grant`) hide their tokens in `Debug` here too.
//!
//! Everything that logs a datagram (the server's DEBUG lines for every datagram in and out) goes
//! through [`Redacted`], at every level. Formats without allocating.

use crate::escape::Escaped;
use crate::relay::{Grant, ToServer, MAGIC};
use std::fmt;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Displays a datagram escaped, with its secrets replaced by [`REDACTED`].
#[derive(Debug, Clone, Copy)]
pub struct Redacted<'a>(pub &'a [u8]);

/// The fields (0 = the type) that are secret in a text message of type `kind` whose field 1 is
/// `first`, as an inclusive range; empty when none is.
fn secret_fields(kind: &[u8], first: Option<&[u8]>) -> std::ops::RangeInclusive<usize> {
    match kind {
        b"h" => 4..=usize::MAX,
        b"c" => 3..=usize::MAX,
        b"r" if first.is_some_and(|f| f.len() == 16 && f.iter().all(u8::is_ascii_hexdigit)) => 1..=1,
        b"v" if first.is_some_and(|f| f.len() == 12 && f.iter().all(u8::is_ascii_hexdigit)) => 1..=1,
        b"v" => 3..=usize::MAX,
        #[allow(clippy::reversed_empty_ranges)]
        _ => 1..=0,
    }
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.0;
        if data.first() == Some(&MAGIC) {
            let kind = data.get(1).copied().unwrap_or(0);
            return write!(
                f,
                "\\xf5 relay frame {kind:#04x}, {} bytes (token and payload {REDACTED})",
                data.len()
            );
        }
        let mut fields = data.split(|&b| b == b':');
        let kind = fields.next().unwrap_or_default();
        let secret = secret_fields(kind, data.split(|&b| b == b':').nth(1));
        write!(f, "{}", Escaped(kind))?;
        for (i, field) in fields.enumerate().map(|(i, field)| (i + 1, field)) {
            f.write_str(":")?;
            if secret.contains(&i) {
                f.write_str(REDACTED)?;
            } else {
                write!(f, "{}", Escaped(field))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ToServer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToServer::Data { to, payload, .. } => f
                .debug_struct("Data")
                .field("token", &REDACTED)
                .field("to", to)
                .field("payload_len", &payload.len())
                .finish(),
            ToServer::Bind { .. } => f.debug_struct("Bind").field("token", &REDACTED).finish(),
            ToServer::Leave { .. } => f.debug_struct("Leave").field("token", &REDACTED).finish(),
        }
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("token", &REDACTED)
            .field("members", &self.members)
            .field("relay_at", &self.relay_at)
            .finish()
    }
}
