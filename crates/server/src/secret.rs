//! A session's password as the server holds it: inline (no heap), compared in constant time (the
//! time a comparison takes says nothing about how many characters of a guess were right, nor
//! about the password's length), and never printed (`Debug` shows `<redacted>`).
//!
//! The comparison is [`subtle`]'s: both sides padded to [`PASSWORD_MAX`] bytes and compared whole,
//! lengths compared too, the results combined without a branch.

use rhp_proto::name::PASSWORD_MAX;
use std::fmt;
use subtle::ConstantTimeEq;

/// A session password (`[A-Za-z0-9]{1,12}`, validated by the protocol; longer input is cut).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Password {
    bytes: [u8; PASSWORD_MAX],
    len: u8,
}

/// `s` padded with zeros to `PASSWORD_MAX` bytes (cut if longer), and its length (saturated,
/// so an over-long input never equals a stored password).
fn padded(s: &str) -> ([u8; PASSWORD_MAX], u8) {
    let mut bytes = [0u8; PASSWORD_MAX];
    let n = s.len().min(PASSWORD_MAX);
    bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
    let len = if s.len() > PASSWORD_MAX { u8::MAX } else { s.len() as u8 };
    (bytes, len)
}

impl Password {
    /// The password `s`.
    pub fn new(s: &str) -> Password {
        let (bytes, len) = padded(s);
        Password { bytes, len: len.min(PASSWORD_MAX as u8) }
    }

    /// Whether `given` is this password, in time independent of both.
    pub fn matches(&self, given: &str) -> bool {
        let (bytes, len) = padded(given);
        (self.bytes.ct_eq(&bytes) & self.len.ct_eq(&len)).into()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(rhp_proto::redact::REDACTED)
    }
}
