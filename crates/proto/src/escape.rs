//! Datagram bytes made safe for a log line: printable ASCII as is, everything else escaped
//! (`\n`, `\u{..}`, `\xNN`), so no datagram can forge or break a log line. Formats without
//! allocating. It hides nothing: a datagram is logged through [`crate::redact::Redacted`], which
//! escapes with this and also hides its secrets.

use std::fmt;

/// Displays bytes escaped, like `str::escape_debug`, with invalid UTF-8 as `\xNN`.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_ascii_graphic() || c == ' ' {
                    fmt::Write::write_char(f, c)?;
                } else {
                    write!(f, "{}", c.escape_default())?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}
