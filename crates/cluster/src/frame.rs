//! The node-to-node wire format: one frame per datagram on the nodes' [`crate::CLUSTER`]
//! sockets, authenticated with HMAC-SHA-256 under the cluster secret.
//!
//! ```text
//! "RHPC" | version 1 | kind | sender node (u16 BE) | family 4|6 | ip (4|16) | port (u16 BE)
//!        | payload ... | MAC (16 bytes: HMAC-SHA-256 of everything before, truncated)
//! ```
//! - [`Kind::ToOwner`] (entry → owner): "a datagram from the player at this address reached me".
//! - [`Kind::ToPlayer`] (owner → entry): "send this payload to this address from your main socket".
//! - [`Kind::Bounce`] (former owner → entry): "this datagram of this player is for a session I do
//!   not hold (it ended, or lives elsewhere now): forget what you cached about its name"; it is
//!   not answered and not forwarded again (the player's next datagram makes the entry node ask
//!   the store afresh).
//!
//! A frame whose MAC does not verify is dropped unread (a node only accepts frames from nodes
//! that know the secret; the secret never leaves the configuration). Replay within the cluster
//! network is not guarded against yet: the frames carry what players sent in the clear anyway,
//! and a replayed frame is a replayed player datagram, which the engine handles as on one node.

use crate::NodeId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The first four bytes of every frame.
pub const MAGIC: &[u8; 4] = b"RHPC";
/// The format's version.
pub const VERSION: u8 = 1;
/// The MAC's length (HMAC-SHA-256 truncated to 128 bits).
pub const MAC_LEN: usize = 16;
/// The longest header (IPv6).
pub const HEADER_MAX: usize = 4 + 1 + 1 + 2 + 1 + 16 + 2;

/// What a frame asks of its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Entry → owner: a player's datagram, for the owner's engine.
    ToOwner,
    /// Owner → entry: a datagram for the player, to send from the entry node's main socket.
    ToPlayer,
    /// Former owner → entry: the player's datagram, bounced: its session is not held here.
    Bounce,
}

/// One decoded frame (the payload borrowed from the datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// What to do.
    pub kind: Kind,
    /// The node that sent it.
    pub sender: NodeId,
    /// The player's address.
    pub player: SocketAddr,
    /// The player's datagram, or the datagram for the player.
    pub payload: &'a [u8],
}

/// Why a datagram is not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Too short, or the wrong magic, version, kind or address family.
    #[error("not a cluster frame")]
    Malformed,
    /// The MAC does not verify under our secret.
    #[error("cluster frame with a bad MAC")]
    BadMac,
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

impl Frame<'_> {
    /// Writes the frame, MAC included, into `out` (cleared first).
    pub fn encode(&self, secret: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(match self.kind {
            Kind::ToOwner => 1,
            Kind::ToPlayer => 2,
            Kind::Bounce => 3,
        });
        out.extend_from_slice(&self.sender.0.to_be_bytes());
        match self.player.ip() {
            IpAddr::V4(ip) => {
                out.push(4);
                out.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                out.push(6);
                out.extend_from_slice(&ip.octets());
            }
        }
        out.extend_from_slice(&self.player.port().to_be_bytes());
        out.extend_from_slice(self.payload);
        let mut m = mac(secret);
        m.update(out);
        let tag = m.finalize().into_bytes();
        out.extend_from_slice(&tag[..MAC_LEN]);
    }

    /// Reads and authenticates one frame. Never panics, whatever the bytes.
    pub fn decode<'a>(secret: &[u8], data: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let (frame, body, tag) = Frame::split(data)?;
        let mut m = mac(secret);
        m.update(body);
        m.verify_truncated_left(tag).map_err(|_| FrameError::BadMac)?;
        Ok(frame)
    }

    /// The frame's fields, the authenticated part and the MAC, unverified.
    fn split(data: &[u8]) -> Result<(Frame<'_>, &[u8], &[u8]), FrameError> {
        let body_len = data.len().checked_sub(MAC_LEN).ok_or(FrameError::Malformed)?;
        let (body, tag) = data.split_at(body_len);
        if body.len() < 9 || &body[..4] != MAGIC || body[4] != VERSION {
            return Err(FrameError::Malformed);
        }
        let kind = match body[5] {
            1 => Kind::ToOwner,
            2 => Kind::ToPlayer,
            3 => Kind::Bounce,
            _ => return Err(FrameError::Malformed),
        };
        let sender = NodeId(u16::from_be_bytes([body[6], body[7]]));
        let (ip, rest) = match body[8] {
            4 => {
                let b: [u8; 4] =
                    body.get(9..13).and_then(|s| s.try_into().ok()).ok_or(FrameError::Malformed)?;
                (IpAddr::V4(Ipv4Addr::from(b)), &body[13..])
            }
            6 => {
                let b: [u8; 16] =
                    body.get(9..25).and_then(|s| s.try_into().ok()).ok_or(FrameError::Malformed)?;
                (IpAddr::V6(Ipv6Addr::from(b)), &body[25..])
            }
            _ => return Err(FrameError::Malformed),
        };
        let port = rest.get(..2).ok_or(FrameError::Malformed)?;
        let port = u16::from_be_bytes([port[0], port[1]]);
        let frame = Frame { kind, sender, player: SocketAddr::new(ip, port), payload: &rest[2..] };
        Ok((frame, body, tag))
    }
}

/// A datagram of the cluster socket as a log shows it: the frame's header, and the player's
/// datagram inside with its secrets redacted as on a player socket (passwords, relay tokens and
/// `v:` tokens travel inside frames too); the MAC is neither checked nor shown.
pub struct Shown<'a>(pub &'a [u8]);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Frame::split(self.0) {
            Ok((frame, _, _)) => write!(
                f,
                "frame {:?} from node {} for player {}: {}",
                frame.kind,
                frame.sender.0,
                frame.player,
                rhp_server::Redacted(frame.payload)
            ),
            Err(_) => write!(f, "not a cluster frame ({} bytes, not shown)", self.0.len()),
        }
    }
}
