//! What the NAT classification found ([`NatReport`]): the mapping, our public address, the
//! samples, and one line for a person.

use crate::nat_kind::NatKind;
use rhp_io::SocketId;
use std::net::SocketAddr;

/// What the classification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatReport {
    /// The mapping behaviour.
    pub kind: NatKind,
    /// Our public address towards the server (probe 0), if the server answered.
    pub public: Option<SocketAddr>,
    /// The main socket's local port, if the driver told it.
    pub local_port: Option<u16>,
    /// The public port equals the local port (towards the server), when both are known.
    pub preserves_port: Option<bool>,
    /// Every answered probe: (socket, destination, mapped address), in probe order.
    pub samples: Vec<(SocketId, SocketAddr, SocketAddr)>,
    /// The server's second STUN port, as probed.
    pub alt: SocketAddr,
}

impl NatReport {
    /// One line for a person: what the NAT does and what it means for connecting.
    pub fn verdict(&self) -> String {
        match self.kind {
            NatKind::Independent => "easy NAT (endpoint-independent mapping): one public port for every \
                                     destination; direct paths work with most peers"
                .into(),
            NatKind::Predictable { step, .. } => format!(
                "sequential NAT: a new public port for every destination, {} apart; peers predict the \
                 next one and connect directly",
                step.unsigned_abs()
            ),
            NatKind::Random => "symmetric NAT: a new random public port for every destination; direct \
                                paths need the birthday method, else the relay carries the game"
                .into(),
            NatKind::Unknown if self.public.is_some() => format!(
                "partial: the server's second STUN port {} did not answer: open UDP port {} on the \
                 server, or NAT detection stays partial (plain punching and the relay still work)",
                self.alt,
                self.alt.port()
            ),
            NatKind::Unknown => "unknown: the server answered no STUN request (a server without STUN, \
                                 such as the original); plain punching only"
                .into(),
        }
    }
}
