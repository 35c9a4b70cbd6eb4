//! Datagram bytes made safe for a log line: [`Escaped`] (printable ASCII as is, the rest escaped),
//! and [`Redacted`], which also hides every secret a datagram carries (passwords, relay tokens,
//! relay payloads). Both live in [`rhp_proto`] (the client logs with them too); the shell logs
//! datagrams only through [`Redacted`].

pub use rhp_proto::escape::Escaped;
pub use rhp_proto::redact::Redacted;
