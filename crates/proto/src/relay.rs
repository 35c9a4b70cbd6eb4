//! The relay's data plane: binary frames between our clients and the server, on the server's
//! Rabid port, for members of a started session the server gave a relay grant.
//!
//! Every frame starts with [`MAGIC`] (0xF5: never in UTF-8 text, and its top two bits are set,
//! so no Rabid message and no STUN message starts with it).
//!
//! Client → server (authenticated by the 8-byte token of the player's grant):
//! - `F5 01 <token:8> <to:1> <payload>`: data for member `to` (its index in the grant's list);
//! - `F5 02 <token:8>`: bind: "this address is mine now" (after a NAT re-mapping) and keepalive;
//! - `F5 03 <token:8>`: leave: the player is done with the relay (its slot is freed at once;
//!   never answered).
//!
//! Server → client:
//! - `F5 81 <from:1> <payload>`: data from member `from`; always 8 bytes shorter than the frame
//!   that carried it, so the relay never sends more than it receives;
//! - `F5 82 <me:1>`: the bind was accepted;
//! - `F5 83 <code:1>`: a cap refused a frame ([`Refusal`]); at most once per interval.
//!
//! The grant itself is text, sent by the server before each start message to players that asked
//! (`r:S:P` in the lobby): `r:<token as 16 hex digits>:<name>:<name>...`, the members that asked,
//! in index order; in a cluster, to a player served through another node, followed by
//! `;<ip:port>` ([`crate::addr`]): the address of the node that runs the relay, where the player
//! sends its relay frames (one hop), instead of the node it talks to.

use crate::name::is_player_name;
use crate::ParseError;

/// First byte of every relay frame.
pub const MAGIC: u8 = 0xF5;

/// What every other player's start message lists in place of the address of a player that asked
/// for privacy (`q:`): TEST-NET-1 (RFC 5737, never routed) and the discard port. A Godot peer's
/// greetings to it go nowhere; our clients recognise it and reach that player through the relay
/// only.
pub const PRIVATE_PLACEHOLDER: std::net::SocketAddr =
    std::net::SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(192, 0, 2, 1), 9));
/// Client → server: data.
pub const TO_DATA: u8 = 0x01;
/// Client → server: bind / keepalive.
pub const TO_BIND: u8 = 0x02;
/// Client → server: leave.
pub const TO_LEAVE: u8 = 0x03;
/// Server → client: data.
pub const FROM_DATA: u8 = 0x81;
/// Server → client: bind accepted.
pub const FROM_BIND_OK: u8 = 0x82;
/// Server → client: refused by a cap.
pub const FROM_REFUSED: u8 = 0x83;
/// Bytes before the payload of a client's data frame.
pub const TO_HEADER: usize = 11;
/// Bytes before the payload of a server's data frame.
pub const FROM_HEADER: usize = 3;
/// Most members a grant lists (a session's most players).
pub const MAX_MEMBERS: usize = 12;

/// Why the relay refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The player's bytes/s (and burst) cap.
    PlayerRate,
    /// The relayed session outlived its lifetime.
    Lifetime,
    /// Too many relayed players behind the sender's IP.
    PerIp,
    /// The server's total relay bandwidth.
    ServerRate,
    /// The destination is not a member of the relayed session.
    NoSuchMember,
}

impl Refusal {
    /// Wire code.
    pub fn code(self) -> u8 {
        match self {
            Refusal::PlayerRate => 1,
            Refusal::Lifetime => 2,
            Refusal::PerIp => 3,
            Refusal::ServerRate => 4,
            Refusal::NoSuchMember => 5,
        }
    }

    /// From a wire code.
    pub fn from_code(code: u8) -> Option<Refusal> {
        Some(match code {
            1 => Refusal::PlayerRate,
            2 => Refusal::Lifetime,
            3 => Refusal::PerIp,
            4 => Refusal::ServerRate,
            5 => Refusal::NoSuchMember,
            _ => return None,
        })
    }

    /// One sentence for logs and people.
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::PlayerRate => "the player's relay bandwidth cap was exceeded",
            Refusal::Lifetime => "the relayed session outlived the relay's lifetime cap",
            Refusal::PerIp => "too many relayed players behind this IP address",
            Refusal::ServerRate => "the server's total relay bandwidth is exhausted",
            Refusal::NoSuchMember => "no such member in the relayed session",
        }
    }
}

/// A frame from a client. Its `Debug` hides the token and the payload.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ToServer<'a> {
    /// Data for member `to`.
    Data {
        /// The sender's token.
        token: u64,
        /// Destination index.
        to: u8,
        /// Payload.
        payload: &'a [u8],
    },
    /// Bind / keepalive.
    Bind {
        /// The sender's token.
        token: u64,
    },
    /// Leave the relay.
    Leave {
        /// The sender's token.
        token: u64,
    },
}

/// A frame from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromServer<'a> {
    /// Data from member `from`.
    Data {
        /// Source index.
        from: u8,
        /// Payload.
        payload: &'a [u8],
    },
    /// Our bind was accepted; our index.
    BindOk {
        /// Our index.
        me: u8,
    },
    /// A cap refused one of our frames.
    Refused(Refusal),
}

/// True when `data` is a relay frame (either direction).
pub fn is_frame(data: &[u8]) -> bool {
    data.first() == Some(&MAGIC)
}

impl<'a> ToServer<'a> {
    /// Parses a client's frame. Never panics.
    pub fn parse(data: &'a [u8]) -> Result<ToServer<'a>, ParseError> {
        match data {
            [MAGIC, TO_DATA, t @ ..] if t.len() >= 9 => {
                let token = token_of(t)?;
                let to = *t.get(8).ok_or(ParseError::Invalid)?;
                Ok(ToServer::Data { token, to, payload: t.get(9..).unwrap_or(&[]) })
            }
            [MAGIC, TO_BIND, t @ ..] if t.len() == 8 => Ok(ToServer::Bind { token: token_of(t)? }),
            [MAGIC, TO_LEAVE, t @ ..] if t.len() == 8 => Ok(ToServer::Leave { token: token_of(t)? }),
            _ => Err(ParseError::Invalid),
        }
    }

    /// Appends the frame to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match *self {
            ToServer::Data { token, to, payload } => {
                out.extend_from_slice(&[MAGIC, TO_DATA]);
                out.extend_from_slice(&token.to_be_bytes());
                out.push(to);
                out.extend_from_slice(payload);
            }
            ToServer::Bind { token } => {
                out.extend_from_slice(&[MAGIC, TO_BIND]);
                out.extend_from_slice(&token.to_be_bytes());
            }
            ToServer::Leave { token } => {
                out.extend_from_slice(&[MAGIC, TO_LEAVE]);
                out.extend_from_slice(&token.to_be_bytes());
            }
        }
    }
}

impl<'a> FromServer<'a> {
    /// Parses a server's frame. Never panics.
    pub fn parse(data: &'a [u8]) -> Result<FromServer<'a>, ParseError> {
        match data {
            [MAGIC, FROM_DATA, from, payload @ ..] => Ok(FromServer::Data { from: *from, payload }),
            [MAGIC, FROM_BIND_OK, me] => Ok(FromServer::BindOk { me: *me }),
            [MAGIC, FROM_REFUSED, code] => {
                Refusal::from_code(*code).map(FromServer::Refused).ok_or(ParseError::Invalid)
            }
            _ => Err(ParseError::Invalid),
        }
    }

    /// Appends the frame to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match *self {
            FromServer::Data { from, payload } => {
                out.extend_from_slice(&[MAGIC, FROM_DATA, from]);
                out.extend_from_slice(payload);
            }
            FromServer::BindOk { me } => out.extend_from_slice(&[MAGIC, FROM_BIND_OK, me]),
            FromServer::Refused(r) => out.extend_from_slice(&[MAGIC, FROM_REFUSED, r.code()]),
        }
    }
}

fn token_of(t: &[u8]) -> Result<u64, ParseError> {
    let bytes: [u8; 8] = t.get(..8).and_then(|b| b.try_into().ok()).ok_or(ParseError::Invalid)?;
    Ok(u64::from_be_bytes(bytes))
}

/// A relay grant: `r:<token hex>:<name>...`. Its `Debug` hides the token (see [`crate::redact`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    /// The recipient's token.
    pub token: u64,
    /// The members, in index order (the recipient among them).
    pub members: Vec<String>,
    /// Where relay frames go, when not to the address the grant came from (a cluster's owner).
    pub relay_at: Option<std::net::SocketAddr>,
}

impl Grant {
    /// Parses a grant. Never panics.
    pub fn parse(data: &[u8]) -> Result<Grant, ParseError> {
        let text = std::str::from_utf8(data).map_err(|_| ParseError::Invalid)?;
        let body = text.strip_prefix("r:").ok_or(ParseError::UnknownType)?;
        let (body, relay_at) = match body.split_once(';') {
            Some((body, at)) => (body, Some(crate::addr::parse_addr(at)?)),
            None => (body, None),
        };
        let mut fields = body.split(':');
        let hex = fields.next().ok_or(ParseError::Invalid)?;
        if hex.len() != 16 {
            return Err(ParseError::Invalid);
        }
        let token = u64::from_str_radix(hex, 16).map_err(|_| ParseError::Invalid)?;
        let members: Vec<String> = fields.map(str::to_owned).collect();
        if members.is_empty() || members.len() > MAX_MEMBERS || !members.iter().all(|m| is_player_name(m)) {
            return Err(ParseError::Invalid);
        }
        Ok(Grant { token, members, relay_at })
    }

    /// Appends `;<ip:port>` to a grant rendered into `out`: relay frames go there.
    pub fn append_relay_at(out: &mut Vec<u8>, at: std::net::SocketAddr) {
        out.push(b';');
        crate::addr::write_addr(out, at);
    }

    /// Renders a grant into `out`.
    pub fn write<'a>(token: u64, members: impl IntoIterator<Item = &'a str>, out: &mut Vec<u8>) {
        use std::io::Write;
        let _ = write!(out, "r:{token:016x}");
        for m in members {
            out.push(b':');
            out.extend_from_slice(m.as_bytes());
        }
    }
}
