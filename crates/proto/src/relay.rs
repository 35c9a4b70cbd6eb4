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
//! in index order.

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
}

impl Grant {
    /// Parses a grant. Never panics.
    pub fn parse(data: &[u8]) -> Result<Grant, ParseError> {
        let text = std::str::from_utf8(data).map_err(|_| ParseError::Invalid)?;
        let body = text.strip_prefix("r:").ok_or(ParseError::UnknownType)?;
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
        Ok(Grant { token, members })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_never_grow_through_the_relay() {
        let payload = b"state 42";
        let mut to = Vec::new();
        ToServer::Data { token: 0x0123_4567_89ab_cdef, to: 3, payload }.write_to(&mut to);
        assert_eq!(to.len(), TO_HEADER + payload.len());
        assert_eq!(ToServer::parse(&to), Ok(ToServer::Data { token: 0x0123_4567_89ab_cdef, to: 3, payload }));
        let mut from = Vec::new();
        FromServer::Data { from: 1, payload }.write_to(&mut from);
        assert_eq!(from.len() + 8, to.len(), "the forwarded frame is 8 bytes shorter");
        assert_eq!(FromServer::parse(&from), Ok(FromServer::Data { from: 1, payload }));
        let mut bind = Vec::new();
        ToServer::Bind { token: 7 }.write_to(&mut bind);
        assert_eq!(ToServer::parse(&bind), Ok(ToServer::Bind { token: 7 }));
        let mut leave = Vec::new();
        ToServer::Leave { token: 9 }.write_to(&mut leave);
        assert_eq!(leave.len(), 10);
        assert_eq!(ToServer::parse(&leave), Ok(ToServer::Leave { token: 9 }));
        for f in [FromServer::BindOk { me: 2 }, FromServer::Refused(Refusal::Lifetime)] {
            let mut b = Vec::new();
            f.write_to(&mut b);
            assert_eq!(FromServer::parse(&b), Ok(f));
        }
    }

    #[test]
    fn frames_are_told_apart_from_text_and_stun() {
        assert!(!is_frame(b"p:S:P"));
        assert!(!is_frame(&[0x00, 0x01, 0x00, 0x00]));
        assert!(is_frame(&[MAGIC]));
        for bad in [
            &[MAGIC][..],
            &[MAGIC, TO_DATA, 1, 2],
            &[MAGIC, TO_BIND, 1],
            &[MAGIC, 9, 0, 0],
            &[MAGIC, FROM_REFUSED, 99],
        ] {
            assert!(ToServer::parse(bad).is_err() || FromServer::parse(bad).is_err());
        }
        assert!(ToServer::parse(&[MAGIC, TO_BIND, 1, 2, 3, 4, 5, 6, 7, 8, 9]).is_err());
    }

    #[test]
    fn grants_round_trip_and_bad_ones_are_refused() {
        let mut out = Vec::new();
        Grant::write(0xdead_beef, ["Alice", "Bob"], &mut out);
        assert_eq!(out, b"r:00000000deadbeef:Alice:Bob");
        assert_eq!(
            Grant::parse(&out),
            Ok(Grant { token: 0xdead_beef, members: vec!["Alice".into(), "Bob".into()] })
        );
        for bad in
            [&b"r:xyz:Alice"[..], b"r:00000000deadbeef", b"r:00000000deadbeef:Al ice", b"r:00000000deadbee:A"]
        {
            assert!(Grant::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = ToServer::parse(&data);
            let _ = FromServer::parse(&data);
            let _ = Grant::parse(&data);
        }
    }
}
