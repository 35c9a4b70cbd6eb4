//! Every way a client run can fail, each with a sentence a person understands.

use rhp_proto::ErrorCode;
use std::time::Duration;

/// Why the client stopped, or why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The configuration is wrong (a name, the password, max players, a timer).
    #[error("invalid settings: {0}")]
    InvalidConfig(String),
    /// The server answered with one of its `error:` codes.
    #[error("the server refused: {} (error:{})", .0.describe(), .0.as_str())]
    Server(ErrorCode),
    /// The server answered with an `error:` code this version does not know.
    #[error("the server sent an error this client does not know: error:{0}")]
    UnknownServerError(String),
    /// Nothing came from the server for too long.
    #[error("the server did not answer for {} s; is it running, and is the address right?", .0.as_secs())]
    ServerTimeout(Duration),
    /// In the peer phase no other player's datagram ever arrived: this player cannot be reached.
    #[error(
        "no other player could reach this one (error:unreachable_self): \
         a NAT or firewall drops their datagrams"
    )]
    UnreachableSelf,
    /// A non-host never completed the exchange with the host, so there is no game to join.
    #[error("the host {0} never confirmed its address (error:host_not_confirmed)")]
    HostNotConfirmed(String),
    /// Some peers never confirmed; raised by callers that need every peer (see `Mesh::require_all`).
    #[error("these players never confirmed a path: {}", .0.join(", "))]
    PeersNotConfirmed(Vec<String>),
    /// The named peer is not in the session (or has no path).
    #[error("no connected player named {0:?} in this session")]
    UnknownPeer(String),
    /// The engine stopped before the run finished (the task was dropped or panicked).
    #[error("the client stopped before finishing")]
    Stopped,
    /// A socket operation failed.
    #[error("network I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// A short machine-readable reason (`unreachable_self`, `session_full`, ...), for logs and
    /// scripts.
    pub fn code(&self) -> &str {
        match self {
            ClientError::InvalidConfig(_) => "invalid_config",
            ClientError::Server(code) => code.as_str(),
            ClientError::UnknownServerError(text) => text,
            ClientError::ServerTimeout(_) => "server_timeout",
            ClientError::UnreachableSelf => "unreachable_self",
            ClientError::HostNotConfirmed(_) => "host_not_confirmed",
            ClientError::PeersNotConfirmed(_) => "peers_not_confirmed",
            ClientError::UnknownPeer(_) => "unknown_peer",
            ClientError::Stopped => "stopped",
            ClientError::Io(_) => "io",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sentences() {
        let e = ClientError::Server(ErrorCode::PasswordMismatch);
        assert_eq!(e.to_string(), "the server refused: wrong session password (error:password_mismatch)");
        assert_eq!(e.code(), "password_mismatch");
        assert!(ClientError::ServerTimeout(Duration::from_secs(15)).to_string().contains("15 s"));
        assert!(ClientError::HostNotConfirmed("Alice".into()).to_string().contains("Alice"));
    }
}
