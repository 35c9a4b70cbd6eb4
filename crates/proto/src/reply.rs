//! Replies the server sends a client: `i:<names>`, `s:<own port>:<Name:IP:Port;...>`, `error:<code>`,
//! and the extensions only our clients ever receive: `n:<name>:<desc>...` (to `e:` senders) and
//! `v:<token>` / `v:ok` (the two steps of announcing an address in the other family, see
//! [`crate::request::Request::Also`]).
//!
//! The server renders them straight into a reusable buffer ([`write_info`], [`write_start`],
//! [`write_nat`]); clients parse them into the owned [`Reply`].

use crate::addr::{parse_addr, parse_port, write_addr};
use crate::name::{is_nat_desc, is_player_name};
use crate::{ErrorCode, ParseError};
use std::io::Write;
use std::net::SocketAddr;

/// Another player's name and the address the server saw it at, as listed in a start message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddr {
    /// The player's name.
    pub name: String,
    /// Its ip:port as observed by the server.
    pub addr: SocketAddr,
}

/// One player's NAT descriptor, as listed in an `n:` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatEntry {
    /// The player's name.
    pub player: String,
    /// The descriptor it sent in `e:` (`[a-z0-9+-]{1,14}`).
    pub desc: String,
}

/// One reply from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `i:A:B:C`: the session's players in join order; the first is the host.
    Info(Vec<String>),
    /// `s:<own port>:<Name:IP:Port;...>`: the session started; the port the server saw this player
    /// at, and every other player in join order (for a non-host, the host comes first).
    ///
    /// To our clients only, a player that announced its address in the other family (`v:`) is
    /// listed twice, its session address first and that one right after, under the same name:
    /// `s:5000:Alice:203.0.113.7:4000;Alice:[2001:db8::7]:4000;Bob:...`.
    Start {
        /// This player's port as observed by the server.
        own_port: u16,
        /// The other players.
        peers: Vec<PeerAddr>,
    },
    /// `n:<name>:<desc>:<name>:<desc>...` (extension; `n:` alone is the empty list): the NAT
    /// descriptors of the session's players that sent `e:`.
    Nat(Vec<NatEntry>),
    /// `v:<token>` (extension), the answer to `v:S:P` from the player's session address: the
    /// token its other-family address sends back (`v:S:P:<token>`).
    AlsoToken(String),
    /// `v:ok` (extension), sent to the other-family address: the server took it; other players
    /// of ours will find it in their start message.
    AlsoOk,
    /// `error:<code>` with a code this version knows.
    Error(ErrorCode),
    /// `error:<text>` with a code this version does not know (a newer server's).
    OtherError(String),
}

impl Reply {
    /// Parses a datagram from the server. Never panics.
    pub fn parse(data: &[u8]) -> Result<Reply, ParseError> {
        let text = std::str::from_utf8(data).map_err(|_| ParseError::Invalid)?;
        let (kind, body) = text.split_once(':').ok_or(ParseError::Invalid)?;
        match kind {
            "i" => {
                let names: Vec<String> = body.split(':').map(str::to_owned).collect();
                if names.iter().all(|n| is_player_name(n)) {
                    Ok(Reply::Info(names))
                } else {
                    Err(ParseError::Invalid)
                }
            }
            "s" => {
                let (port, list) = body.split_once(':').ok_or(ParseError::Invalid)?;
                let own_port = parse_port(port)?;
                let peers = list.split(';').map(parse_peer).collect::<Result<Vec<_>, _>>()?;
                Ok(Reply::Start { own_port, peers })
            }
            "n" => parse_nat(body).map(Reply::Nat),
            "v" if body == "ok" => Ok(Reply::AlsoOk),
            "v" if crate::request::is_also_token(body) => Ok(Reply::AlsoToken(body.to_owned())),
            "v" => Err(ParseError::Invalid),
            "error" => Ok(match ErrorCode::from_code(body) {
                Some(code) => Reply::Error(code),
                None => Reply::OtherError(body.to_owned()),
            }),
            _ => Err(ParseError::UnknownType),
        }
    }

    /// The reply's wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Reply::Info(names) => write_info(&mut out, names.iter().map(String::as_str)),
            Reply::Start { own_port, peers } => {
                write_start(&mut out, *own_port, peers.iter().map(|p| (p.name.as_str(), p.addr)))
            }
            Reply::Nat(entries) => {
                write_nat(entries.iter().map(|e| (e.player.as_str(), e.desc.as_str())), &mut out)
            }
            Reply::AlsoToken(token) => write_also_token(&mut out, token),
            Reply::AlsoOk => out.extend_from_slice(ALSO_OK),
            Reply::Error(code) => out.extend_from_slice(code.wire().as_bytes()),
            Reply::OtherError(text) => {
                out.extend_from_slice(b"error:");
                out.extend_from_slice(text.as_bytes());
            }
        }
        out
    }
}

/// One `Name:IP:Port` entry (see [`crate::addr`]).
fn parse_peer(entry: &str) -> Result<PeerAddr, ParseError> {
    let (name, rest) = entry.split_once(':').ok_or(ParseError::Invalid)?;
    if !is_player_name(name) {
        return Err(ParseError::Invalid);
    }
    Ok(PeerAddr { name: name.to_owned(), addr: parse_addr(rest)? })
}

fn parse_nat(body: &str) -> Result<Vec<NatEntry>, ParseError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let mut fields = body.split(':');
    let mut entries = Vec::new();
    while let Some(player) = fields.next() {
        let desc = fields.next().ok_or(ParseError::Invalid)?;
        if !is_player_name(player) || !is_nat_desc(desc) {
            return Err(ParseError::Invalid);
        }
        entries.push(NatEntry { player: player.to_owned(), desc: desc.to_owned() });
    }
    Ok(entries)
}

/// Appends `n:<name>:<desc>:<name>:<desc>...` to `out` (`n:` alone for no entries).
pub fn write_nat<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"n:");
    for (i, (player, desc)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        out.extend_from_slice(player.as_bytes());
        out.push(b':');
        out.extend_from_slice(desc.as_bytes());
    }
}

/// The answer to a valid proof: `v:ok`.
pub const ALSO_OK: &[u8] = b"v:ok";

/// Appends `v:<token>` to `out`.
pub fn write_also_token(out: &mut Vec<u8>, token: &str) {
    out.extend_from_slice(b"v:");
    out.extend_from_slice(token.as_bytes());
}

/// Appends `i:<name>:<name>...` to `out`.
pub fn write_info<'n>(out: &mut Vec<u8>, names: impl IntoIterator<Item = &'n str>) {
    out.extend_from_slice(b"i");
    for name in names {
        out.push(b':');
        out.extend_from_slice(name.as_bytes());
    }
}

/// Appends `s:<own_port>:<Name:IP:Port;...>` to `out`. IPv4 addresses (and IPv4-mapped IPv6 ones)
/// are written as dotted IPv4 text, which is what the Godot plugin can split; other IPv6 addresses
/// in brackets (`Name:[2001:db8::1]:port`), which only our clients parse: the caller lists an IPv6
/// peer only to a player that sent `e:` (the server's `visibility` rule). A scope id is not written.
pub fn write_start<'n>(
    out: &mut Vec<u8>,
    own_port: u16,
    peers: impl IntoIterator<Item = (&'n str, SocketAddr)>,
) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "s:{own_port}:");
    for (i, (name, addr)) in peers.into_iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        write_addr(out, addr);
    }
}
