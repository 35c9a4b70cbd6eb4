//! Messages between peers after the server phase, as the Godot plugin speaks them, plus app data.
//!
//! - `g:<sender>:<sender_port>:<dest_port>`: greeting; `dest_port` is the port it was sent to, which
//!   tells the receiver its own public port.
//! - `c:<sender>:<port>`: confirmation of the sender's own port.
//! - `s:<n>`: from the host: the game starts in `n` seconds.
//! - `y:<sender>:<port>`: answer to `s:<n>`.
//! - `d:<bytes>`: application data carried by this project's client (Godot peers ignore it).
//! - `l:<sender>`: the sender leaves the session (between this project's clients only: never sent
//!   to a peer that did not announce itself as one, so a Godot peer never sees it).
//! - `a:<sender>`: the sender is still there (keepalive; between this project's clients only).

use crate::name::is_player_name;
use crate::ParseError;
use std::io::Write;

/// One peer-phase datagram, borrowed from the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerMessage<'a> {
    /// `g:<sender>:<sender_port>:<dest_port>`.
    Greeting {
        /// Who sends it.
        sender: &'a str,
        /// The sender's idea of its own port.
        sender_port: u16,
        /// The port the datagram was sent to.
        dest_port: u16,
    },
    /// `c:<sender>:<port>`.
    Confirm {
        /// Who sends it.
        sender: &'a str,
        /// The sender's confirmed port.
        port: u16,
    },
    /// `s:<n>`: the game starts in `n` seconds.
    StartIn {
        /// Seconds until the host serves the game.
        secs: u32,
    },
    /// `y:<sender>:<port>`: the sender saw the host's `s:<n>`.
    StartAck {
        /// Who sends it.
        sender: &'a str,
        /// The sender's confirmed port.
        port: u16,
    },
    /// `d:<bytes>`: application data.
    Data(&'a [u8]),
    /// `l:<sender>`: the sender leaves (our clients only).
    Leave {
        /// Who leaves.
        sender: &'a str,
    },
    /// `a:<sender>`: the sender is still there (our clients only).
    Alive {
        /// Who sends it.
        sender: &'a str,
    },
}

impl<'a> PeerMessage<'a> {
    /// Parses one datagram from a peer. Never panics.
    pub fn parse(data: &'a [u8]) -> Result<PeerMessage<'a>, ParseError> {
        if let Some(payload) = data.strip_prefix(b"d:") {
            return Ok(PeerMessage::Data(payload));
        }
        let text = std::str::from_utf8(data).map_err(|_| ParseError::Invalid)?;
        let (kind, body) = text.split_once(':').ok_or(ParseError::Invalid)?;
        let fields: Vec<&str> = body.splitn(4, ':').collect();
        match (kind, fields.as_slice()) {
            ("g", [sender, sender_port, dest_port]) => Ok(PeerMessage::Greeting {
                sender: name(sender)?,
                sender_port: port(sender_port)?,
                dest_port: port(dest_port)?,
            }),
            ("c", [sender, p]) => Ok(PeerMessage::Confirm { sender: name(sender)?, port: port(p)? }),
            ("y", [sender, p]) => Ok(PeerMessage::StartAck { sender: name(sender)?, port: port(p)? }),
            ("s", [secs]) => Ok(PeerMessage::StartIn { secs: seconds(secs)? }),
            ("l", [sender]) => Ok(PeerMessage::Leave { sender: name(sender)? }),
            ("a", [sender]) => Ok(PeerMessage::Alive { sender: name(sender)? }),
            ("g" | "c" | "y" | "s" | "l" | "a", _) => Err(ParseError::Invalid),
            _ => Err(ParseError::UnknownType),
        }
    }

    /// Appends the message's wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail.
        let _ = match *self {
            PeerMessage::Greeting { sender, sender_port, dest_port } => {
                write!(out, "g:{sender}:{sender_port}:{dest_port}")
            }
            PeerMessage::Confirm { sender, port } => write!(out, "c:{sender}:{port}"),
            PeerMessage::StartIn { secs } => write!(out, "s:{secs}"),
            PeerMessage::StartAck { sender, port } => write!(out, "y:{sender}:{port}"),
            PeerMessage::Leave { sender } => write!(out, "l:{sender}"),
            PeerMessage::Alive { sender } => write!(out, "a:{sender}"),
            PeerMessage::Data(bytes) => {
                out.extend_from_slice(b"d:");
                out.extend_from_slice(bytes);
                Ok(())
            }
        };
    }

    /// The message's wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

fn name(s: &str) -> Result<&str, ParseError> {
    if is_player_name(s) {
        Ok(s)
    } else {
        Err(ParseError::Invalid)
    }
}

fn port(s: &str) -> Result<u16, ParseError> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Invalid);
    }
    s.parse().map_err(|_| ParseError::Invalid)
}

/// Godot writes `s:3` (and would read `int("3.0")` as 3): accept an integer with an optional
/// fractional part, and keep the whole seconds.
fn seconds(s: &str) -> Result<u32, ParseError> {
    let whole = s.split_once('.').map_or(s, |(w, _)| w);
    if whole.is_empty() || whole.len() > 6 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Invalid);
    }
    whole.parse().map_err(|_| ParseError::Invalid)
}
