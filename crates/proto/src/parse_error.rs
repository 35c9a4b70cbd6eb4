//! Why a datagram is not a message: the server answers the first kind and ignores the second.

/// Why bytes could not be parsed into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not UTF-8, no `:`, too long, or a known type whose fields break its grammar.
    /// The server answers `error:invalid_request`.
    #[error("invalid request")]
    Invalid,
    /// Well-formed `type:...` text whose type is not one this side handles. The server stays silent,
    /// so two servers (or a server and a stray client) can never answer each other in a loop.
    #[error("unknown message type")]
    UnknownType,
}
