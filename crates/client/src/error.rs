//! Every way a client run can fail, each with a sentence a person understands.

use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Duration;

/// Why the client stopped, or why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The configuration is wrong (a name, the password, max players, a timer).
    #[error("invalid settings: {0}")]
    InvalidConfig(String),
    /// The server answered with one of its `error:` codes.
    #[error("{}", server_sentence(*.0))]
    Server(ErrorCode),
    /// The server answered with an `error:` code this version does not know.
    #[error("the server sent an error this client does not know: error:{0}")]
    UnknownServerError(String),
    /// Nothing ever came from the server.
    #[error(
        "the server at {server} never answered in {} s: is it running, is the address right, and does \
         every firewall on the way let UDP through to that port?",
        .waited.as_secs()
    )]
    ServerTimeout {
        /// The server's address.
        server: SocketAddr,
        /// How long we waited.
        waited: Duration,
    },
    /// The server had answered, then nothing came from it for too long.
    #[error("the server at {server} stopped answering (nothing from it for {} s)", .silent.as_secs())]
    ServerStopped {
        /// The server's address.
        server: SocketAddr,
        /// How long it was silent.
        silent: Duration,
    },
    /// The kernel reported that nothing listens at the server's address (ICMP port unreachable)
    /// before the server ever answered.
    #[error("nothing is listening at {0} (port unreachable): is the server running, and is the port right?")]
    ServerUnreachable(SocketAddr),
    /// The server had answered, then the kernel reported that nothing listens there any more.
    #[error("the server at {0} is gone: nothing is listening at its port any more (port unreachable)")]
    ServerGone(SocketAddr),
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

/// A server `error:` as a sentence: a refusal of what we asked, or the end of our place in the
/// session (a kick, a timeout, our own exit).
fn server_sentence(code: ErrorCode) -> String {
    let (what, text) = (code.as_str(), code.describe());
    match code {
        ErrorCode::KickedByHost
        | ErrorCode::SessionTimeout
        | ErrorCode::PlayerTimeout
        | ErrorCode::PlayerExitedSession => {
            format!("the server ended our place in the session: {text} (error:{what})")
        }
        _ => format!("the server refused: {text} (error:{what})"),
    }
}

impl ClientError {
    /// A short machine-readable reason (`unreachable_self`, `session_full`, ...), for logs and
    /// scripts.
    pub fn code(&self) -> &str {
        match self {
            ClientError::InvalidConfig(_) => "invalid_config",
            ClientError::Server(code) => code.as_str(),
            ClientError::UnknownServerError(text) => text,
            ClientError::ServerTimeout { .. } => "server_timeout",
            ClientError::ServerStopped { .. } => "server_stopped",
            ClientError::ServerUnreachable(_) => "server_unreachable",
            ClientError::ServerGone(_) => "server_gone",
            ClientError::UnreachableSelf => "unreachable_self",
            ClientError::HostNotConfirmed(_) => "host_not_confirmed",
            ClientError::PeersNotConfirmed(_) => "peers_not_confirmed",
            ClientError::UnknownPeer(_) => "unknown_peer",
            ClientError::Stopped => "stopped",
            ClientError::Io(_) => "io",
        }
    }
}
